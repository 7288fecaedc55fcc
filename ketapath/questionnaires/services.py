"""Writes of questionnaire responses (DESIGN §5 item 2, §6).

A response is validated and scored by the pure rules (``rules.score``), stored item by
item, and a PHQ-9 item 9 answer above 0 opens a safety alert in the same transaction
(clinical.md §2.2 "Item 9 safety rule"), so a response is never stored without its alert.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.permissions import user_can
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    invalid_from_validation_error,
)
from ketapath.observations.models import SafetyAlert
from ketapath.observations.services import safety_alert_raise
from ketapath.patients.models import Enrolment, Patient
from ketapath.questionnaires.instruments import PCL5_DEFAULT_CUTOFF, get_instrument
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.rules import ALERT_PHQ9_ITEM9, score

MESSAGE_RESPONSE_INVALID = "The questionnaire response is not valid."
MESSAGE_FORBIDDEN = "Your role at {clinic} does not allow entering questionnaires."
MESSAGE_NOT_ENROLLED = "The patient is not enrolled at this site."
RULE_UNKNOWN_INSTRUMENT = "There is no questionnaire instrument {code!r}."
RULE_CONTEXT = "Choose one of: {choices}."
RULE_SOURCE = "Choose one of: {choices}."
RULE_COLLECTED_IN_FUTURE = "The time collected cannot be in the future."
RULE_ANSWERS_NOT_OBJECT = "Send the answers as an object of link id → value."
# Summary of the alert: names the finding only (the care team opens the response for more).
ITEM9_ALERT_SUMMARY = "PHQ-9 item 9 answered above 0"
SOURCE_KIND = "questionnaire_response"
# Clocks of tablets and the server differ by a little; more than this is a wrong time.
FUTURE_TOLERANCE = timedelta(minutes=5)

PATIENT_LINK_USERNAME = "patient-link"


def _aware(moment: datetime, clinic: Clinic) -> datetime:
    """A time without an offset is read in the clinic's time zone."""
    if timezone.is_naive(moment):
        return moment.replace(tzinfo=ZoneInfo(clinic.time_zone))
    return moment


def response_record(
    *,
    user: User | None,
    patient: Patient,
    clinic: Clinic,
    instrument_code: str,
    answers: dict[str, Any],
    context: str,
    collected_at: datetime | None = None,
    source: str = Response.Source.CLINIC,
    context_id: UUID | None = None,
) -> Response:
    """Score and store one response; open the PHQ-9 item 9 alert with it.

    An incomplete response is stored with its missing items and no total. Every problem
    with the input is reported at once and nothing is stored.
    """
    if user is None:
        # Only the portal records without a staff user, after the patient link's
        # date-of-birth check; it always says so in ``source``.
        if source != Response.Source.PATIENT_LINK:
            raise Forbidden(MESSAGE_FORBIDDEN.format(clinic=clinic.name))
    elif not user_can(user, Capability.QUESTIONNAIRE_ENTER, clinic.id):
        raise Forbidden(MESSAGE_FORBIDDEN.format(clinic=clinic.name))
    if not Enrolment.objects.filter(patient=patient, clinic=clinic).exists():
        raise NotFound(MESSAGE_NOT_ENROLLED)

    errors: list[FieldError] = []
    instrument = get_instrument(instrument_code)
    if instrument is None:
        errors.append(
            FieldError("instrument", RULE_UNKNOWN_INSTRUMENT.format(code=instrument_code))
        )
    if context not in Response.Context.values:
        errors.append(
            FieldError("context", RULE_CONTEXT.format(choices=", ".join(Response.Context.values)))
        )
    if source not in Response.Source.values:
        errors.append(
            FieldError("source", RULE_SOURCE.format(choices=", ".join(Response.Source.values)))
        )
    now = timezone.now()
    moment = _aware(collected_at, clinic) if collected_at is not None else now
    if moment > now + FUTURE_TOLERANCE:
        errors.append(FieldError("collected_at", RULE_COLLECTED_IN_FUTURE))
    if not isinstance(answers, dict):
        errors.append(FieldError("answers", RULE_ANSWERS_NOT_OBJECT))
        answers = {}

    result = None
    cutoff = PCL5_DEFAULT_CUTOFF
    if instrument is not None:
        if instrument.code == "pcl-5":
            cutoff = clinic_policy_current(clinic=clinic).pcl5_provisional_cutoff
        try:
            result = score(instrument, {str(k): v for k, v in answers.items()}, pcl5_cutoff=cutoff)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors or result is None or instrument is None:
        raise InvalidInput(MESSAGE_RESPONSE_INVALID, errors=errors)

    # Stored in the instrument's item order; unanswered items are left out (and listed in
    # ``missing`` when they are scored).
    given = {str(k): v for k, v in answers.items() if v is not None}
    stored = {
        item.link_id: given[item.link_id] for item in instrument.items if item.link_id in given
    }
    scoring: dict[str, Any] = {}
    if result.clusters is not None:
        scoring = {
            "clusters": result.clusters,
            "provisional_ptsd": result.provisional_ptsd,
            "pcl5_cutoff": cutoff,
        }
    response = Response(
        patient=patient,
        clinic=clinic,
        instrument=instrument.code,
        answers=stored,
        total=Decimal(result.total) if result.total is not None else None,
        severity=result.severity or "",
        complete=result.complete,
        missing=result.missing,
        alert_codes=result.alerts,
        scoring=scoring,
        source=source,
        context=context,
        context_id=context_id,
        collected_at=moment,
        entered_by=user,
    )
    try:
        response.full_clean()
    except ValidationError as exc:
        raise invalid_from_validation_error(exc) from exc

    with transaction.atomic():
        response.save()
        alerts: list[SafetyAlert] = []
        if ALERT_PHQ9_ITEM9 in result.alerts:
            alerts.append(
                safety_alert_raise(
                    patient=patient,
                    clinic=clinic,
                    kind=SafetyAlert.Kind.PHQ9_ITEM9,
                    source_kind=SOURCE_KIND,
                    source_id=response.id,
                    summary=ITEM9_ALERT_SUMMARY,
                    user=user,
                )
            )
        if alerts:
            response.alert_ids = [str(alert.id) for alert in alerts]
            response.save(update_fields=["alert_ids", "updated_at"])
        audit(
            user=user,
            username="" if user else PATIENT_LINK_USERNAME,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type=SOURCE_KIND,
            object_id=response.id,
            detail={
                "instrument": instrument.code,
                "context": context,
                "source": source,
                "complete": result.complete,
                "alerts": response.alert_ids,
            },
        )
    return response
