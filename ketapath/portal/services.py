"""Writes of the patient portal: make links, check the date of birth, save answers.

Every step is audited under the username ``patient-link`` with the patient and the link.
Nothing about health is shown or saved before the date of birth matched; a link that is
expired, used, locked, revoked or unknown saves nothing.
"""

import hashlib
import hmac
import secrets
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, Outcome, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.validators import format_phone
from ketapath.notifications.links import MintedLink
from ketapath.notifications.models import Message
from ketapath.notifications.privacy import plain
from ketapath.notifications.services import message_queue, public_url
from ketapath.observations.models import DiaryEntry
from ketapath.patients.models import Enrolment, Patient
from ketapath.portal.models import PatientLink
from ketapath.questionnaires.instruments import get_instrument
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.rules import validate_answers
from ketapath.questionnaires.services import response_record

USERNAME = "patient-link"

MESSAGE_FORBIDDEN = "Your role at this site does not include sending patient links."
MESSAGE_NOT_ENROLLED = "This patient is not enrolled at this site."
MESSAGE_PURPOSE = "Purpose must be one of: questionnaires, diary."
MESSAGE_INSTRUMENTS = 'List one or more questionnaires, e.g. ["phq-9"].'
MESSAGE_UNKNOWN_INSTRUMENT = "Unknown questionnaire {code!r}."
MESSAGE_DIARY_NO_INSTRUMENTS = (
    "A daily check-in link asks no questionnaires; leave instruments out."
)
MESSAGE_NOT_VERIFIED = "Confirm your date of birth first."
MESSAGE_ANSWER_ALL = "Please answer this question."
MESSAGE_ANSWERS_OBJECT = "Give the answers as an object of question number to answer."
MESSAGE_PAIN = "Choose a number from 0 to 10."
MESSAGE_RESCUE = "Say whether you needed extra medicine for pain today."
MESSAGE_TOO_LONG = "Please keep this under {n} characters."
MESSAGE_DIARY_DONE = "A check-in for this day was already saved."

# What a link's page says when it cannot be used (the state is never about health).
STATE_OK = "ok"
STATE_EXPIRED = "expired"
STATE_USED = "used"
STATE_LOCKED = "locked"
STATE_REVOKED = "revoked"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def link_state(link: PatientLink, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if link.revoked_at is not None:
        return STATE_REVOKED
    if link.used_at is not None:
        return STATE_USED
    if link.locked_at is not None:
        return STATE_LOCKED
    if link.expires_at <= now:
        return STATE_EXPIRED
    return STATE_OK


def _audit(link: PatientLink, change: str, outcome: str = Outcome.SUCCESS, **detail: Any) -> None:
    audit(
        user=None,
        username=USERNAME,
        action=Action.READ if change in ("open", "verify") else Action.UPDATE,
        outcome=outcome,
        clinic_id=link.clinic_id,
        patient_id=link.patient_id,
        object_type="patient_link",
        object_id=link.id,
        detail={"change": change, **detail},
    )


def _revoke_same_key(patient_id: UUID, key: str, now: datetime, keep: UUID | None = None) -> None:
    if not key:
        return
    (
        PatientLink.objects.filter(
            patient_id=patient_id, dedupe_key=key, used_at__isnull=True, revoked_at__isnull=True
        )
        .exclude(id__in=[keep] if keep is not None else [])
        .update(revoked_at=now, revoked_reason="Replaced by a newer link.", updated_at=now)
    )


def link_create(
    *,
    patient: Patient,
    clinic: Clinic,
    purpose: str,
    instruments: list[str] | None = None,
    context: str = "",
    context_id: UUID | None = None,
    course_id: UUID | None = None,
    day: date | None = None,
    dedupe_key: str = "",
    message_id: UUID | None = None,
    created_by: User | None = None,
    now: datetime | None = None,
) -> tuple[PatientLink, str]:
    """A new link and its raw token (returned once, never stored). An unused link with the
    same ``dedupe_key`` stops working."""
    now = now or timezone.now()
    lifetime = clinic_policy_current(clinic=clinic).link_lifetime_hours
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = PatientLink.objects.create(
            patient=patient,
            clinic=clinic,
            purpose=purpose,
            instruments=list(instruments or []),
            context=context,
            context_id=context_id,
            course_id=course_id,
            day=day,
            dedupe_key=dedupe_key,
            token_hash=hash_token(raw),
            expires_at=now + timedelta(hours=lifetime),
            message_id=message_id,
            created_by=created_by,
        )
        _revoke_same_key(patient.id, dedupe_key, now, keep=link.id)
        _audit(link, "create", purpose=purpose, instruments=link.instruments)
    return link, raw


def link_url(raw: str) -> str:
    return public_url(reverse("portal:open", kwargs={"token": raw}))


def link_mint_for_message(message: Message) -> MintedLink:
    """Called by the outbox at sending time: the link for this message, with a token only
    the sent text carries. A link made ahead (by staff through the API) gets its token
    now; any other link is made now and replaces an unused one with the same key."""
    request = message.link_request
    assert message.patient is not None
    now = timezone.now()
    if request.get("link_id"):
        with transaction.atomic():
            link = PatientLink.objects.select_for_update().get(id=request["link_id"])
            if link_state(link, now) != STATE_OK:
                raise Conflict(f"The link can no longer be sent: it is {link_state(link, now)}.")
            raw = secrets.token_urlsafe(32)
            link.token_hash = hash_token(raw)
            link.message_id = message.id
            link.save(update_fields=["token_hash", "message_id", "updated_at"])
            _revoke_same_key(link.patient_id, link.dedupe_key, now, keep=link.id)
            _audit(link, "send", message=str(message.id))
        return MintedLink(id=link.id, url=link_url(raw), expires_at=link.expires_at)
    link, raw = link_create(
        patient=message.patient,
        clinic=message.clinic,
        purpose=request.get("purpose", PatientLink.Purpose.QUESTIONNAIRES),
        instruments=request.get("instruments") or [],
        context=request.get("context", ""),
        context_id=UUID(request["context_id"]) if request.get("context_id") else None,
        course_id=UUID(request["course_id"]) if request.get("course_id") else None,
        day=date.fromisoformat(request["day"]) if request.get("day") else None,
        dedupe_key=message.dedupe_key,
        message_id=message.id,
        now=now,
    )
    return MintedLink(id=link.id, url=link_url(raw), expires_at=link.expires_at)


def _patient_context(patient: Patient, clinic: Clinic) -> dict[str, Any]:
    return {
        "first_name": patient.preferred_name or patient.given_name,
        "clinic_name": plain(clinic.name, "your clinic"),
        "clinic_phone": format_phone(clinic.phone),
        "time_zone": clinic.time_zone,
    }


def link_send(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    purpose: str,
    instruments: list[str] | None,
) -> PatientLink:
    """Staff send a link now (POST /patients/{id}/links): the link is made at once, its
    token only when the outbox sends it, so staff never see the address."""
    if not user.can(Capability.LINK_SEND, clinic.id):
        raise Forbidden(MESSAGE_FORBIDDEN)
    if not Enrolment.objects.filter(patient=patient, clinic=clinic).exists():
        raise NotFound(MESSAGE_NOT_ENROLLED)
    errors = []
    codes = [str(c) for c in (instruments or [])]
    if purpose not in PatientLink.Purpose.values:
        errors.append(FieldError("purpose", MESSAGE_PURPOSE))
    elif purpose == PatientLink.Purpose.QUESTIONNAIRES:
        if not codes:
            errors.append(FieldError("instruments", MESSAGE_INSTRUMENTS))
        for code in codes:
            if get_instrument(code) is None:
                errors.append(
                    FieldError("instruments", MESSAGE_UNKNOWN_INSTRUMENT.format(code=code))
                )
        if len(set(codes)) != len(codes):
            errors.append(FieldError("instruments", "List each questionnaire once."))
    elif codes:
        errors.append(FieldError("instruments", MESSAGE_DIARY_NO_INSTRUMENTS))
    if errors:
        raise InvalidInput("The link could not be sent.", errors=errors)
    now = timezone.now()
    day = timezone.localtime(now, _zone(clinic)).date() if purpose == "diary" else None
    key = f"manual:{purpose}:{','.join(codes)}:{patient.id}"
    with transaction.atomic():
        link, _ = link_create(
            patient=patient,
            clinic=clinic,
            purpose=purpose,
            instruments=codes,
            context=Response.Context.FOLLOW_UP if purpose == "questionnaires" else "",
            day=day,
            dedupe_key=key,
            created_by=user,
            now=now,
        )
        context = _patient_context(patient, clinic)
        context["minutes"] = max(2, 2 * len(codes))
        message = message_queue(
            clinic=clinic,
            kind="check_in_link" if purpose == "questionnaires" else "diary_link",
            context=context,
            due_at=now,
            patient=patient,
            dedupe_key=key,
            link_request={"link_id": str(link.id), "purpose": purpose, "instruments": codes},
            about_kind="patient_link",
            about_id=link.id,
            created_by=user,
        )
        link.message_id = message.id
        link.save(update_fields=["message_id", "updated_at"])
    return link


def _zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.time_zone)


def link_by_token(raw: str) -> PatientLink | None:
    """The link for a raw token, or None (unknown or altered). The token is looked up by
    its hash, then compared in constant time."""
    if not raw or len(raw) > 100:
        return None
    digest = hash_token(raw)
    link = PatientLink.objects.select_related("patient", "clinic").filter(token_hash=digest).first()
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        return None
    return link


def link_open(link: PatientLink) -> str:
    state = link_state(link)
    _audit(
        link, "open", outcome=Outcome.SUCCESS if state == STATE_OK else Outcome.DENIED, state=state
    )
    return state


def link_check_birth_date(*, link: PatientLink, given: date) -> str:
    """Compare the date of birth; a wrong one counts, and the policy's number of wrong
    ones locks the link. Answers the link's state afterwards ("ok" when it matched)."""
    tries = clinic_policy_current(clinic=link.clinic).link_birth_date_tries
    now = timezone.now()
    with transaction.atomic():
        locked = PatientLink.objects.select_for_update().get(id=link.id)
        state = link_state(locked, now)
        if state != STATE_OK:
            _audit(locked, "verify", outcome=Outcome.DENIED, state=state)
            return state
        if given == link.patient.birth_date:
            locked.verified_at = now
            locked.save(update_fields=["verified_at", "updated_at"])
            _audit(locked, "verify")
            link.verified_at = now
            return STATE_OK
        locked.birth_date_failures += 1
        if locked.birth_date_failures >= tries:
            locked.locked_at = now
        locked.save(update_fields=["birth_date_failures", "locked_at", "updated_at"])
        _audit(
            locked,
            "verify",
            outcome=Outcome.DENIED,
            failures=locked.birth_date_failures,
            locked=locked.locked_at is not None,
        )
        link.birth_date_failures = locked.birth_date_failures
        link.locked_at = locked.locked_at
        return STATE_LOCKED if locked.locked_at else "wrong"


def tries_left(link: PatientLink) -> int:
    tries = clinic_policy_current(clinic=link.clinic).link_birth_date_tries
    return max(0, tries - link.birth_date_failures)


def _lock_usable(link: PatientLink, now: datetime) -> PatientLink:
    locked = PatientLink.objects.select_for_update().get(id=link.id)
    state = link_state(locked, now)
    if state != STATE_OK:
        raise Conflict(f"This link is {state}.", code=state)
    if locked.verified_at is None:
        raise Forbidden(MESSAGE_NOT_VERIFIED)
    return locked


def link_submit_questionnaires(
    *, link: PatientLink, answers: dict[str, dict[str, Any]]
) -> list[Response]:
    """Save every questionnaire of the link at once, or nothing. Every scored item must be
    answered (a patient cannot be asked later about a blank item 9). Answers land as
    responses with source "patient link"; a PHQ-9 item 9 above 0 opens the safety alert
    in the same transaction (and routes it out of hours)."""
    errors: list[FieldError] = []
    for code in link.instruments:
        instrument = get_instrument(code)
        assert instrument is not None
        given = answers.get(code) or {}
        if not isinstance(given, dict):
            errors.append(FieldError(code, MESSAGE_ANSWERS_OBJECT))
            continue
        for item in instrument.items:
            if item.scored and given.get(item.link_id) in (None, ""):
                errors.append(FieldError(f"{code}.{item.link_id}", MESSAGE_ANSWER_ALL))
        # Out-of-range or unknown answers are named by questionnaire and item
        # ("phq-9.9"), like the missing ones, and reported with them at once.
        try:
            validate_answers(instrument, {str(k): v for k, v in given.items() if v != ""})
        except InvalidInput as exc:
            errors.extend(
                FieldError(f"{code}.{e.field.removeprefix('answers.')}", e.rule) for e in exc.errors
            )
    if errors:
        raise InvalidInput("Some questions have no answer yet.", errors=errors)
    now = timezone.now()
    responses = []
    with transaction.atomic():
        locked = _lock_usable(link, now)
        for code in locked.instruments:
            responses.append(
                response_record(
                    user=None,
                    patient=locked.patient,
                    clinic=locked.clinic,
                    instrument_code=code,
                    answers=answers.get(code) or {},
                    context=locked.context or Response.Context.FOLLOW_UP,
                    context_id=locked.context_id,
                    collected_at=now,
                    source=Response.Source.PATIENT_LINK,
                )
            )
        locked.used_at = now
        locked.save(update_fields=["used_at", "updated_at"])
        _audit(locked, "submit", responses=[str(r.id) for r in responses])
    link.used_at = now
    return responses


def link_submit_diary(
    *,
    link: PatientLink,
    pain: Any,
    rescue_medication: Any,
    rescue_detail: str = "",
    note: str = "",
) -> DiaryEntry:
    """Save one day of the diary from a diary link, or nothing."""
    errors: list[FieldError] = []
    try:
        pain_value = int(pain)
        if not 0 <= pain_value <= 10:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(FieldError("pain", MESSAGE_PAIN))
        pain_value = 0
    if rescue_medication not in (True, False, "yes", "no"):
        errors.append(FieldError("rescue_medication", MESSAGE_RESCUE))
    rescue = rescue_medication in (True, "yes")
    rescue_detail = " ".join((rescue_detail or "").split())
    note = (note or "").strip()
    if len(rescue_detail) > 200:
        errors.append(FieldError("rescue_detail", MESSAGE_TOO_LONG.format(n=200)))
    if len(note) > 500:
        errors.append(FieldError("note", MESSAGE_TOO_LONG.format(n=500)))
    if errors:
        raise InvalidInput("Some answers need a look.", errors=errors)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_usable(link, now)
        assert locked.day is not None
        if DiaryEntry.objects.filter(
            patient_id=locked.patient_id, course_id=locked.course_id, day=locked.day
        ).exists():
            raise Conflict(MESSAGE_DIARY_DONE, code="diary_done")
        entry = DiaryEntry.objects.create(
            patient=locked.patient,
            clinic=locked.clinic,
            course_id=locked.course_id,
            day=locked.day,
            pain=pain_value,
            rescue_medication=rescue,
            rescue_detail=rescue_detail if rescue else "",
            note=note,
            recorded_at=now,
        )
        locked.used_at = now
        locked.save(update_fields=["used_at", "updated_at"])
        _audit(locked, "submit", diary=str(entry.id))
    link.used_at = now
    return entry
