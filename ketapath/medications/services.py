"""Writes to the medication list and PDMP checks.

Every change to the list (add, edit, stop) writes an MME snapshot in the same
transaction, so the history can be charted (issue 3, item 7). Writes need a clinical role
that drafts evaluations (director, prescriber, nurse); each is audited.
"""

import re
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    invalid_from_validation_error,
)
from ketapath.core.timeutils import local_today
from ketapath.medications.catalogue import BY_KEY, OPIOIDS
from ketapath.medications.models import Medication, MmeSnapshot, PdmpCheck
from ketapath.medications.rules import RULE_POSITIVE, daily_mme
from ketapath.medications.selectors import active_medications, medication_mme
from ketapath.patients.models import Patient

MESSAGE_INVALID_MEDICATION = "The medication is not valid; see the errors for each field."
MESSAGE_INVALID_PDMP = "The PDMP check is not valid; see the errors for each field."
MESSAGE_FORBIDDEN = "Only a director, prescriber or nurse at this site changes medications."
MESSAGE_PDMP_FORBIDDEN = "Only a director, prescriber or nurse at this site records PDMP checks."
MESSAGE_STOP_BEFORE_START = "The stop date cannot be before the start date."
MESSAGE_START_FUTURE = "The start date cannot be in the future."
MESSAGE_ALREADY_STOPPED = "This medication is already stopped."
MESSAGE_STOP_DATE_REQUIRED = "Give the date the medication stops."
MESSAGE_OPIOID_NOT_CHOSEN = (
    "This ingredient is an opioid: choose it in the opioid list so its MME is counted."
)
MESSAGE_INGREDIENT_MISMATCH = "The ingredient of {key} is {ingredient}."
MESSAGE_RXNORM_MISMATCH = "The RxNorm ingredient of {key} is {code}."
MESSAGE_RXNORM_FORMAT = "An RxNorm ingredient code is digits only."
MESSAGE_ONE_DOSE_UNIT = "Give exactly one of dose in mg, dose in mcg, or mcg/hr."
MESSAGE_REQUIRED = "This field is required."
MESSAGE_STATE_FORMAT = "Give the state as its two-letter code, e.g. CO."
MESSAGE_CHECKED_FUTURE = "The check time cannot be in the future."
MESSAGE_UNKNOWN_FIELD = "Not a field of a medication."

# Fields a clinician may set on a medication (patient, clinic and author are the system's).
MEDICATION_FIELDS = (
    "drug_name",
    "ingredient",
    "rxnorm_ingredient",
    "dose_form",
    "strength",
    "dose_mg",
    "dose_mcg",
    "dose_mcg_per_hr",
    "doses_per_day",
    "prn",
    "route",
    "start_date",
    "stop_date",
    "stop_reason",
    "prescriber",
    "opioid_key",
)
_DOSE_FIELDS = ("dose_mg", "dose_mcg", "dose_mcg_per_hr")
_OPIOID_INGREDIENTS = frozenset(
    name for entry in OPIOIDS for name in (entry.ingredient, entry.ingredient.split(" ")[0])
)
_RXCUI = re.compile(r"^\d{1,10}$")
_STATE = re.compile(r"^[A-Z]{2}$")


def _require(user: User, clinic: Clinic, message: str) -> None:
    # The same three clinical roles that draft evaluations (DESIGN §10) keep the list.
    if not user.can(Capability.EVALUATION_DRAFT, clinic.id):
        raise Forbidden(message)


def _opioid_errors(med: Medication) -> list[FieldError]:
    entry = BY_KEY.get(med.opioid_key or "")
    if entry is None:
        return []  # an unknown key is reported by full_clean's choices check
    errors: list[FieldError] = []
    if not med.ingredient:
        med.ingredient = entry.ingredient
    elif med.ingredient != entry.ingredient:
        rule = MESSAGE_INGREDIENT_MISMATCH.format(key=entry.key, ingredient=entry.ingredient)
        errors.append(FieldError("ingredient", rule))
    if not med.rxnorm_ingredient:
        med.rxnorm_ingredient = entry.rxnorm_ingredient
    elif med.rxnorm_ingredient != entry.rxnorm_ingredient:
        rule = MESSAGE_RXNORM_MISMATCH.format(key=entry.key, code=entry.rxnorm_ingredient or "—")
        errors.append(FieldError("rxnorm_ingredient", rule))
    if entry.excluded:
        given = [name for name in _DOSE_FIELDS if getattr(med, name) is not None]
        if len(given) != 1:
            errors.append(FieldError("dose_mg", MESSAGE_ONE_DOSE_UNIT))
        return errors
    try:
        daily_mme(
            entry,
            dose_mg=med.dose_mg,
            dose_mcg=med.dose_mcg,
            dose_mcg_per_hr=med.dose_mcg_per_hr,
            doses_per_day=med.doses_per_day,
        )
    except InvalidInput as exc:
        errors.extend(exc.errors)
    return errors


def _clean_medication(med: Medication, today: date) -> None:
    """Normalise names, check the opioid's dose against its catalogue unit, the dates and
    every model rule; raise InvalidInput naming each field."""
    med.drug_name = (med.drug_name or "").strip()
    med.ingredient = " ".join((med.ingredient or "").lower().split())
    med.prescriber = (med.prescriber or "").strip()
    med.rxnorm_ingredient = (med.rxnorm_ingredient or "").strip() or None
    med.opioid_key = (med.opioid_key or "").strip().lower() or None
    errors: list[FieldError] = []
    if med.opioid_key:
        errors.extend(_opioid_errors(med))
    elif (
        med.ingredient in _OPIOID_INGREDIENTS or med.ingredient.split(" ")[0] in _OPIOID_INGREDIENTS
    ):
        errors.append(FieldError("opioid_key", MESSAGE_OPIOID_NOT_CHOSEN))
    for name in (*_DOSE_FIELDS, "doses_per_day"):
        value = getattr(med, name)
        if value is not None and not value > 0:
            errors.append(FieldError(name, RULE_POSITIVE))
    if med.rxnorm_ingredient and not _RXCUI.match(med.rxnorm_ingredient):
        errors.append(FieldError("rxnorm_ingredient", MESSAGE_RXNORM_FORMAT))
    if med.start_date and med.start_date > today:
        errors.append(FieldError("start_date", MESSAGE_START_FUTURE))
    if med.start_date and med.stop_date and med.stop_date < med.start_date:
        errors.append(FieldError("stop_date", MESSAGE_STOP_BEFORE_START))
    try:
        med.full_clean(exclude=["patient", "clinic", "recorded_by"], validate_constraints=False)
    except ValidationError as exc:
        errors.extend(invalid_from_validation_error(exc).errors)
    if errors:
        unique = list(dict.fromkeys(errors))
        raise InvalidInput(MESSAGE_INVALID_MEDICATION, errors=unique)


def _snapshot(
    *,
    patient: Patient,
    clinic: Clinic,
    user: User,
    trigger: str,
    medication: Medication,
) -> MmeSnapshot:
    """The daily MME over the opioids active today, with the clinic policy's flags.

    MME informs (closer follow-up, naloxone at the caution threshold, clinical.md §3.1);
    it never decides eligibility.
    """
    today = local_today(clinic.time_zone)
    policy = clinic_policy_current(clinic=clinic)
    opioids = [m for m in active_medications(patient=patient, on=today) if m.is_opioid]
    mme = medication_mme(opioids, caution_at=policy.mme_caution_at, high_at=policy.mme_high_at)
    return MmeSnapshot.objects.create(
        patient=patient,
        clinic=clinic,
        computed_at=timezone.now(),
        computed_for=today,
        total_mme=mme.result.total_mme,
        factor_set=mme.result.factor_set,
        caution_at=policy.mme_caution_at,
        high_at=policy.mme_high_at,
        policy_version=policy.version,
        items=mme.items_json(),
        flags=list(mme.result.flags),
        excluded=mme.excluded_json(),
        trigger=trigger,
        medication=medication,
        by=user,
    )


def _lock_patient(patient: Patient) -> None:
    # Serialise changes to one patient's list, so each snapshot sees every committed row.
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True).get()


def _audit_change(user: User, med: Medication, action: str, snapshot: MmeSnapshot) -> None:
    audit(
        user=user,
        action=action,
        clinic_id=med.clinic_id,
        patient_id=med.patient_id,
        object_type="medication",
        object_id=med.id,
        detail={
            "trigger": snapshot.trigger,
            "opioid_key": med.opioid_key,
            "total_mme": str(snapshot.total_mme),
            "snapshot": str(snapshot.id),
        },
    )


def medication_add(
    *, user: User, patient: Patient, clinic: Clinic, data: dict[str, Any]
) -> Medication:
    """Add a medication to the patient's list and write the MME snapshot, atomically."""
    _require(user, clinic, MESSAGE_FORBIDDEN)
    unknown = [FieldError(k, MESSAGE_UNKNOWN_FIELD) for k in data if k not in MEDICATION_FIELDS]
    if unknown:
        raise InvalidInput(MESSAGE_INVALID_MEDICATION, errors=unknown)
    med = Medication(patient=patient, clinic=clinic, recorded_by=user, **data)
    _clean_medication(med, local_today(clinic.time_zone))
    with transaction.atomic():
        _lock_patient(patient)
        med.save()
        snapshot = _snapshot(
            patient=patient,
            clinic=clinic,
            user=user,
            trigger=MmeSnapshot.Trigger.MEDICATION_ADDED,
            medication=med,
        )
        _audit_change(user, med, Action.CREATE, snapshot)
    return med


def medication_update(
    *, user: User, medication: Medication, clinic: Clinic, data: dict[str, Any]
) -> Medication:
    """Change fields of a medication (a stop date among them) and write the MME snapshot.

    Setting a stop date on a running medication records a stop; anything else an edit.
    """
    _require(user, clinic, MESSAGE_FORBIDDEN)
    unknown = [FieldError(k, MESSAGE_UNKNOWN_FIELD) for k in data if k not in MEDICATION_FIELDS]
    if unknown:
        raise InvalidInput(MESSAGE_INVALID_MEDICATION, errors=unknown)
    was_running = medication.stop_date is None
    for name, value in data.items():
        setattr(medication, name, value)
    _clean_medication(medication, local_today(clinic.time_zone))
    stopping = was_running and medication.stop_date is not None
    trigger = (
        MmeSnapshot.Trigger.MEDICATION_STOPPED
        if stopping
        else MmeSnapshot.Trigger.MEDICATION_EDITED
    )
    with transaction.atomic():
        _lock_patient(medication.patient)
        medication.save()
        snapshot = _snapshot(
            patient=medication.patient,
            clinic=clinic,
            user=user,
            trigger=trigger,
            medication=medication,
        )
        _audit_change(user, medication, Action.UPDATE, snapshot)
    return medication


def medication_stop(
    *,
    user: User,
    medication: Medication,
    clinic: Clinic,
    stop_date: date | None,
    reason: str = "",
) -> Medication:
    """Stop a running medication from ``stop_date`` (the first day it is not taken)."""
    _require(user, clinic, MESSAGE_FORBIDDEN)
    if medication.stop_date is not None:
        raise Conflict(MESSAGE_ALREADY_STOPPED, code="already_stopped")
    if stop_date is None:
        raise InvalidInput(
            MESSAGE_INVALID_MEDICATION, errors=[FieldError("stop_date", MESSAGE_STOP_DATE_REQUIRED)]
        )
    return medication_update(
        user=user,
        medication=medication,
        clinic=clinic,
        data={"stop_date": stop_date, "stop_reason": reason.strip()},
    )


def pdmp_check_record(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    state: str,
    result: str,
    note: str = "",
    checked_at: datetime | None = None,
) -> PdmpCheck:
    """Record one look-up in a state's prescription drug monitoring program, audited."""
    _require(user, clinic, MESSAGE_PDMP_FORBIDDEN)
    now = timezone.now()
    check = PdmpCheck(
        patient=patient,
        clinic=clinic,
        checked_by=user,
        checked_at=checked_at or now,
        state=(state or "").strip().upper(),
        result=result,
        note=(note or "").strip(),
    )
    errors: list[FieldError] = []
    if not _STATE.match(check.state):
        errors.append(FieldError("state", MESSAGE_STATE_FORMAT))
    if check.checked_at > now:
        errors.append(FieldError("checked_at", MESSAGE_CHECKED_FUTURE))
    try:
        # The state's own rule above is clearer than the length check; report it once.
        exclude = ["patient", "clinic", "checked_by", *(e.field for e in errors)]
        check.full_clean(exclude=exclude)
    except ValidationError as exc:
        errors.extend(invalid_from_validation_error(exc).errors)
    if errors:
        raise InvalidInput(MESSAGE_INVALID_PDMP, errors=list(dict.fromkeys(errors)))
    with transaction.atomic():
        check.save()
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="pdmp_check",
            object_id=check.id,
            detail={"state": check.state, "result": check.result},
        )
    return check
