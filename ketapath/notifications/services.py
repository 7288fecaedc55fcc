"""Writes of the outbox: queue, replace, cancel, send what is due, resend; prescribers'
pre-session instructions.

Sending follows DESIGN §5b. ``send_due`` claims each due row with a conditional update
(queued → sending) that only one caller can win, so two overlapping runs of the periodic
task, or a task retried after a crash, never send a row twice; on PostgreSQL the rows are
first read with ``select_for_update(skip_locked=True)`` so workers do not queue behind one
another. A failed send is retried with back-off (``RETRY_MINUTES``) and then marked failed
for staff to see. A row left "sending" by a crash is never sent again automatically: it
turns "failed — outcome unknown" for a person to check.

The channel is chosen when the row is sent, not when it is queued, so a patient who opts
out or withdraws contact consent in between is respected.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.notifications import channels, rendering
from ketapath.notifications.links import mint_link
from ketapath.notifications.models import Message, PatientInstruction
from ketapath.notifications.privacy import privacy_problems
from ketapath.patients.models import Consent, ConsentKind, Patient

# Minutes to wait after the 1st, 2nd, 3rd and 4th failed attempt; the 5th failure is final.
RETRY_MINUTES = (5, 15, 60, 240)
MAX_ATTEMPTS = len(RETRY_MINUTES) + 1
# A row still "sending" this long after it was claimed was interrupted mid-send.
STALE_SENDING = timedelta(minutes=15)
SYSTEM = "outbox"
SENDING_TIME_STAND_INS = {"expires": "[its expiry, set when sent]"}

MESSAGE_NO_CHANNEL = "No contact channel the patient allows: {why}."
MESSAGE_STALE = (
    "Sending was interrupted and the provider's answer is unknown; not resent automatically. "
    "Check with the patient before resending."
)
MESSAGE_RESEND_FORBIDDEN = "Your role at this site does not include sending patient links."
MESSAGE_RESEND_KIND = "Only questionnaire and check-in links can be resent."
MESSAGE_RESEND_SENDING = "This message is being sent right now; look again in a minute."
MESSAGE_INSTRUCTION_FORBIDDEN = (
    "Only a prescriber or the medical director of this site may write instructions."
)
MESSAGE_INSTRUCTION_EMPTY = "Write the instruction (up to 300 characters)."
MESSAGE_INSTRUCTION_PRIVATE = (
    "Reminders are read on lock screens: leave out {words}. Name the medicine only if you "
    "must, and never the treatment or a diagnosis."
)


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    not_sent: int = 0
    stale: int = 0


def _audit_message(message: Message, *, user: User | None, change: str) -> None:
    audit(
        user=user,
        username="" if user else SYSTEM,
        action=Action.CREATE if change == "queue" else Action.UPDATE,
        clinic_id=message.clinic_id,
        patient_id=message.patient_id,
        object_type="message",
        object_id=message.id,
        detail={"change": change, "kind": message.kind, "status": message.status},
    )


def message_queue(
    *,
    clinic: Clinic,
    kind: str,
    context: dict[str, Any],
    due_at: datetime,
    patient: Patient | None = None,
    recipient_user: User | None = None,
    dedupe_key: str = "",
    link_request: dict[str, Any] | None = None,
    about_kind: str = "",
    about_id: UUID | None = None,
    created_by: User | None = None,
) -> Message:
    """Queue one message. A queued message with the same ``dedupe_key`` is cancelled and
    replaced (a moved appointment moves its reminder); one already sent stays as it was."""
    # The stored text is what staff see; values that exist only at sending time (the
    # link's expiry; the link itself has its own placeholder) get a stand-in.
    stand_ins = SENDING_TIME_STAND_INS if link_request else {}
    subject, body = rendering.render(kind, {**stand_ins, **context})
    with transaction.atomic():
        if dedupe_key:
            messages_cancel(keys=[dedupe_key], reason="Replaced by a newer message.")
        message = Message.objects.create(
            clinic=clinic,
            patient=patient,
            recipient_user=recipient_user,
            kind=kind,
            dedupe_key=dedupe_key,
            subject=subject,
            body=body,
            context=context,
            link_request=link_request or {},
            due_at=due_at,
            about_kind=about_kind,
            about_id=about_id,
            created_by=created_by,
        )
        _audit_message(message, user=created_by, change="queue")
    return message


def messages_cancel(*, keys: list[str], reason: str) -> int:
    """Cancel the queued messages with these dedupe keys; sent ones are history. An empty
    key names no message."""
    keys = [key for key in keys if key]
    if not keys:
        return 0
    return Message.objects.filter(dedupe_key__in=keys, status=Message.Status.QUEUED).update(
        status=Message.Status.CANCELLED, status_reason=reason[:300], updated_at=timezone.now()
    )


def _consented(patient: Patient, kind: str, now: datetime) -> bool:
    consent = Consent.objects.filter(patient=patient, kind=kind).order_by("-signed_at").first()
    return (
        consent is not None
        and consent.withdrawn_at is None
        and (consent.expires_at is None or consent.expires_at > now)
    )


def patient_channel(patient: Patient, now: datetime) -> tuple[str, str] | tuple[None, str]:
    """The channel and address to reach a patient, or None and why none is allowed.

    The preferred method comes first; a patient who prefers phone calls gets a text if
    texts are allowed, else e-mail. A channel needs the address, the patient's yes on the
    record (``contact_by_sms`` / ``contact_by_email``: unticking it is an opt-out) and a
    signed, unwithdrawn, unexpired contact consent of that kind.
    """
    order = [Message.Channel.SMS, Message.Channel.EMAIL]
    if patient.preferred_contact == Patient.ContactMethod.EMAIL:
        order.reverse()
    reasons = []
    for channel in order:
        if channel == Message.Channel.SMS:
            address, allowed, consent = (
                patient.phone,
                patient.contact_by_sms,
                ConsentKind.SMS_CONTACT,
            )
            label = "text messages"
        else:
            address, allowed, consent = (
                patient.email,
                patient.contact_by_email,
                ConsentKind.EMAIL_CONTACT,
            )
            label = "e-mail"
        if not address:
            reasons.append(f"no {'mobile number' if channel == 'sms' else 'e-mail address'}")
        elif not allowed:
            reasons.append(f"{label} not allowed on the patient's record")
        elif not _consented(patient, consent, now):
            reasons.append(f"no current consent to {label}")
        else:
            return str(channel), address
    return None, "; ".join(reasons)


def _staff_channel(user: User) -> tuple[str, str] | tuple[None, str]:
    if user.email:
        return str(Message.Channel.EMAIL), user.email
    return None, "the staff member has no e-mail address"


def _claim(now: datetime, limit: int) -> list[UUID]:
    ready = (
        Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=now)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("due_at")
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ready = ready.select_for_update(skip_locked=True)
        ids = list(ready.values_list("id", flat=True)[:limit])
        claimed = []
        for message_id in ids:
            # Only one caller can move a row from queued to sending.
            won = Message.objects.filter(id=message_id, status=Message.Status.QUEUED).update(
                status=Message.Status.SENDING, claimed_at=now, updated_at=now
            )
            if won:
                claimed.append(message_id)
    return claimed


def _fail_stale(now: datetime) -> int:
    stale = Message.objects.filter(
        status=Message.Status.SENDING, claimed_at__lt=now - STALE_SENDING
    )
    count = 0
    for message in stale:
        updated = Message.objects.filter(id=message.id, status=Message.Status.SENDING).update(
            status=Message.Status.FAILED, last_error=MESSAGE_STALE, updated_at=now
        )
        if updated:
            count += 1
            message.status = Message.Status.FAILED
            _audit_message(message, user=None, change="interrupted")
    return count


def _deliver(message: Message, now: datetime) -> str:
    """Send one claimed row; answers its new status."""
    if message.patient is not None:
        channel, address = patient_channel(message.patient, now)
    else:
        assert message.recipient_user is not None
        channel, address = _staff_channel(message.recipient_user)
    if channel is None:
        message.status = Message.Status.NOT_SENT
        message.status_reason = MESSAGE_NO_CHANNEL.format(why=address)[:300]
        message.save(update_fields=["status", "status_reason", "updated_at"])
        _audit_message(message, user=None, change="not_sent")
        return message.status

    context = dict(message.context)
    link_id = None
    try:
        if message.link_request:
            minted = mint_link(message)
            link_id = minted.id
            context["link"] = minted.url
            zone = ZoneInfo(message.context.get("time_zone") or "UTC")
            context["expires"] = minted.expires_at.astimezone(zone).strftime("%a %d %b, %H:%M %Z")
        subject, body = rendering.render(message.kind, context)
        if channel == Message.Channel.EMAIL:
            provider_id = channels.send_email(
                to=address, subject=subject, body=body, message_key=str(message.id)
            )
        else:
            provider_id = channels.send_sms(to=address, body=body)
    except Exception as exc:
        message.attempts += 1
        message.last_error = f"{type(exc).__name__}: {exc}"[:500]
        message.channel = channel
        if message.attempts >= MAX_ATTEMPTS:
            message.status = Message.Status.FAILED
            message.next_attempt_at = None
        else:
            message.status = Message.Status.QUEUED
            message.next_attempt_at = now + timedelta(minutes=RETRY_MINUTES[message.attempts - 1])
        message.save(
            update_fields=[
                "attempts",
                "last_error",
                "status",
                "next_attempt_at",
                "channel",
                "updated_at",
            ]
        )
        _audit_message(message, user=None, change="send_failed")
        return message.status
    message.status = Message.Status.SENT
    message.channel = channel
    message.sent_at = timezone.now()
    message.provider_id = provider_id[:200]
    message.attempts += 1
    message.link_id = link_id
    message.save(
        update_fields=[
            "status",
            "channel",
            "sent_at",
            "provider_id",
            "attempts",
            "link_id",
            "updated_at",
        ]
    )
    _audit_message(message, user=None, change="sent")
    return message.status


def send_due(*, now: datetime | None = None, limit: int = 200) -> SendReport:
    """Send every message due by ``now`` (the periodic task; see the module docstring)."""
    now = now or timezone.now()
    stale = _fail_stale(now)
    claimed = _claim(now, limit)
    counts = {"sent": 0, "retried": 0, "failed": 0, "not_sent": 0}
    messages = Message.objects.filter(id__in=claimed).select_related(
        "patient", "recipient_user", "clinic"
    )
    for message in messages:
        status = _deliver(message, now)
        if status == Message.Status.SENT:
            counts["sent"] += 1
        elif status == Message.Status.QUEUED:
            counts["retried"] += 1
        elif status == Message.Status.FAILED:
            counts["failed"] += 1
        else:
            counts["not_sent"] += 1
    return SendReport(stale=stale, **counts)


LINK_KINDS = ("check_in_link", "diary_link")


def message_resend(*, user: User, message: Message) -> Message:
    """Send a link message again now, with a fresh link; the earlier link stops working
    when the new one is made (the portal revokes unused links with the same key)."""
    if not user.can(Capability.LINK_SEND, message.clinic_id):
        raise Forbidden(MESSAGE_RESEND_FORBIDDEN)
    if message.kind not in LINK_KINDS or message.patient is None:
        raise InvalidInput(MESSAGE_RESEND_KIND, errors=[FieldError("message", MESSAGE_RESEND_KIND)])
    if message.status == Message.Status.SENDING:
        raise Conflict(MESSAGE_RESEND_SENDING)
    now = timezone.now()
    # A link made ahead by staff ("link_id") is the earlier link itself: the new message asks
    # for a fresh one under the same key, so an expired or used link does not block it.
    request = {k: v for k, v in message.link_request.items() if k != "link_id"}
    if request.get("purpose") == "diary" and not request.get("day"):
        zone = ZoneInfo(message.clinic.time_zone)
        request["day"] = timezone.localtime(now, zone).date().isoformat()
    return message_queue(
        clinic=message.clinic,
        kind=message.kind,
        context=message.context,
        due_at=now,
        patient=message.patient,
        dedupe_key=message.dedupe_key,
        link_request=request,
        about_kind=message.about_kind,
        about_id=message.about_id,
        created_by=user,
    )


def instruction_add(
    *, user: User, patient: Patient, clinic: Clinic, text: str
) -> PatientInstruction:
    """A prescriber's pre-session instruction for one patient, carried by every reminder."""
    if not user.can(Capability.EVALUATION_SIGN, clinic.id):
        raise Forbidden(MESSAGE_INSTRUCTION_FORBIDDEN)
    text = " ".join((text or "").split())
    if not text or len(text) > 300:
        raise InvalidInput(
            MESSAGE_INSTRUCTION_EMPTY, errors=[FieldError("text", MESSAGE_INSTRUCTION_EMPTY)]
        )
    problems = privacy_problems(text)
    if problems:
        message = MESSAGE_INSTRUCTION_PRIVATE.format(words=", ".join(sorted(set(problems))))
        raise InvalidInput(message, errors=[FieldError("text", message)])
    with transaction.atomic():
        instruction = PatientInstruction.objects.create(
            patient=patient, clinic=clinic, text=text, written_by=user, written_at=timezone.now()
        )
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="patient_instruction",
            object_id=instruction.id,
        )
        _reminders_refresh(patient_id=patient.id, user=user)
    return instruction


def instruction_withdraw(*, user: User, instruction: PatientInstruction) -> PatientInstruction:
    if not user.can(Capability.EVALUATION_SIGN, instruction.clinic_id):
        raise Forbidden(MESSAGE_INSTRUCTION_FORBIDDEN)
    if instruction.withdrawn_at is not None:
        raise Conflict("This instruction was already withdrawn.")
    with transaction.atomic():
        instruction.withdrawn_at = timezone.now()
        instruction.withdrawn_by = user
        instruction.save(update_fields=["withdrawn_at", "withdrawn_by", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=instruction.clinic_id,
            patient_id=instruction.patient_id,
            object_type="patient_instruction",
            object_id=instruction.id,
            detail={"change": "withdraw"},
        )
        _reminders_refresh(patient_id=instruction.patient_id, user=user)
    return instruction


REMINDER_KINDS = ("session_reminder",)


def _reminders_refresh(*, patient_id: UUID, user: User) -> int:
    """Put the patient's current instructions into their queued session reminders, which
    were written when the session was booked: a new instruction goes out with them, and a
    withdrawn one never does. Sent reminders are history; a row already claimed for
    sending is left to go as it is."""
    texts = list(
        PatientInstruction.objects.filter(patient_id=patient_id, withdrawn_at__isnull=True)
        .order_by("written_at")
        .values_list("text", flat=True)
    )
    changed = 0
    queued = Message.objects.filter(
        patient_id=patient_id, kind__in=REMINDER_KINDS, status=Message.Status.QUEUED
    )
    for message in queued:
        context = {**message.context, "prescriber_instructions": texts}
        subject, body = rendering.render(message.kind, context)
        if Message.objects.filter(id=message.id, status=Message.Status.QUEUED).update(
            context=context, subject=subject, body=body, updated_at=timezone.now()
        ):
            changed += 1
            _audit_message(message, user=user, change="instructions")
    return changed


def public_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path
