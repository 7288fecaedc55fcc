"""Writes for evaluations: start a draft, save its sections, sign it, add addenda, and the
medical director's reclassification of contraindications.

Every save recomputes the proposal (``rules.propose``) so the page always shows the live
pathway and what still blocks signing. Signing recomputes it once more from the measures
in force, refuses while anything blocks, and freezes the proposal, the facts behind it and
the chosen pathway; afterwards only addenda are written (DESIGN §6).
"""

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import Action, audit, co_signer_verify
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.clinics.services import clinic_policy_update
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    validation_error_to_fields,
)
from ketapath.core.timeutils import local_today
from ketapath.evaluations import selectors
from ketapath.evaluations.catalogue import (
    CONTRAINDICATIONS,
    contraindication_classes_validate,
    icd10_lookup,
    mental_health_category_ok,
    pain_condition,
)
from ketapath.evaluations.models import Addendum, ConditionEntry, Evaluation
from ketapath.evaluations.rules import Proposal, needs_director_cosign, propose
from ketapath.patients.models import Pathway, Patient
from ketapath.patients.services import patient_pathway_set

MESSAGE_INVALID = "The evaluation is not valid; see the errors for each field."
MESSAGE_DRAFT_FORBIDDEN = "Only a director, prescriber or nurse at this site drafts evaluations."
MESSAGE_SIGN_FORBIDDEN = "Only a prescriber or the medical director at this site signs evaluations."
MESSAGE_DRAFT_EXISTS = "This patient already has a draft evaluation; continue that one."
MESSAGE_SIGNED = "This evaluation is signed and cannot change; add an addendum instead."
MESSAGE_NOT_SIGNED = "Addenda are for signed evaluations; edit the draft instead."
MESSAGE_BLOCKED = "The evaluation cannot be signed yet: {count} item(s) still block signing."
MESSAGE_CHOICE_REQUIRED = (
    "The software does not propose a pathway here; choose one and give the reason."
)
MESSAGE_PATHWAY_REQUIRED = "Choose the pathway you are signing."
MESSAGE_PATHWAY_INVALID = (
    "Choose one of PAIN_SERIES, MENTAL_HEALTH_PRIMARY, BEHAVIORAL_HEALTH, NOT_ELIGIBLE."
)
MESSAGE_OVERRIDE_REASON = "Give the reason for choosing a pathway other than the one proposed."
MESSAGE_DIRECTOR_COSIGN = (
    "Choosing a ketamine pathway against {why} needs the medical director's co-signature."
)
MESSAGE_ADDENDUM_TEXT = "Write the addendum."
MESSAGE_UNKNOWN_FIELD = "Not a field of an evaluation."
MESSAGE_FUTURE_DATE = "The date cannot be in the future."
MESSAGE_DATE_FORMAT = "Give the date as YYYY-MM-DD."
MESSAGE_CATEGORY = "Choose pain or mental_health."
MESSAGE_CODE_OR_KEY = "Choose a condition from the list or give an ICD-10-CM code."
MESSAGE_CODE_NOT_FOR_CONDITION = "{code} is not one of the codes listed for {label}."
MESSAGE_MH_CODE = "A mental-health diagnosis is an ICD-10-CM code of chapter F."
MESSAGE_PAIN_CODE = "A chapter F code is a mental-health diagnosis; add it in that section."
MESSAGE_DUPLICATE_CODE = "{code} is listed twice."
MESSAGE_ONE_PRIMARY = "Mark one {category} condition as primary, not several."
MESSAGE_UNKNOWN_CONTRAINDICATION = "Not a contraindication in the list."
MESSAGE_PRESENT_CHOICE = "Answer yes or no."
MESSAGE_TOO_LONG = "At most {limit} characters."
MESSAGE_SCREEN_KEY = "Not a screen: use phq9, gad7, pcl5 or phq9_item9."
MESSAGE_RESOLUTION = "Choose confirmed or ruled_out."
MESSAGE_PRIOR_TREATMENT = "Name the treatment."
MESSAGE_PRIOR_OUTCOME = "Choose one of: {choices}."
MESSAGE_LIST = "Give a list."
MESSAGE_OBJECT = "Give an object."
MESSAGE_TOO_MANY = "At most {limit} entries."
MESSAGE_CLASSES_FORBIDDEN = "Only the medical director reclassifies contraindications."
MESSAGE_CLASSES_REASON = "Give the reason for the reclassification."

PRIOR_OUTCOMES = {
    "helped": "Helped and still helps",
    "helped_then_faded": "Helped, then the benefit faded",
    "partial": "Partial relief",
    "no_benefit": "No benefit",
    "not_tolerated": "Stopped: side effects",
    "unknown": "Outcome unknown",
}
SCREEN_KEYS = ("phq9", "gad7", "pcl5", "phq9_item9")
RESOLUTIONS = ("confirmed", "ruled_out")

# Plain fields a draft takes as they are (validated by the model's choices and lengths).
PLAIN_FIELDS = (
    "coexisting_mh_treated",
    "ready_for_ketamine",
    "readiness_note",
    "pain_duration_months",
    "pain_history",
    "alcohol_use",
    "nonmedical_drug_use",
    "ketamine_use",
    "pcp_use",
    "substance_use_note",
    "misuse_suspected",
    "substance_use_disorder_active",
    "urine_tox_result",
    "urine_tox_date",
    "urine_tox_note",
    "could_be_pregnant",
    "pregnancy_status",
    "pregnancy_method",
    "pregnancy_checked_on",
    "breastfeeding",
    "cardiovascular_risk",
    "ecg_result",
    "ecg_date",
    "ecg_note",
    "liver_risk",
    "lft_result",
    "lft_date",
    "lft_note",
)
DATE_FIELDS = ("urine_tox_date", "pregnancy_checked_on", "ecg_date", "lft_date")
STRUCTURED_FIELDS = ("conditions", "contraindications", "screen_resolutions", "prior_treatments")
TEXT_LIMIT = 2000
MAX_PRIOR_TREATMENTS = 30
MAX_CONDITIONS = 20


def catalogue_keys() -> tuple[str, ...]:
    """The contraindication keys every evaluation answers."""
    return tuple(c.key for c in CONTRAINDICATIONS)


def _require(user: User, capability: Capability, clinic: Clinic, message: str) -> None:
    if not user.can(capability, clinic.id):
        raise Forbidden(message)


def _invalid(errors: list[FieldError]) -> InvalidInput:
    return InvalidInput(MESSAGE_INVALID, errors=errors)


def proposal_as_dict(proposal: Proposal) -> dict[str, Any]:
    data = dataclasses.asdict(proposal)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}


def _refresh_proposal(evaluation: Evaluation) -> tuple[Proposal, selectors.Measures, ClinicPolicy]:
    policy = clinic_policy_current(clinic=evaluation.clinic)
    measures = selectors.evaluation_measures(evaluation=evaluation)
    facts = selectors.evaluation_facts(evaluation=evaluation, measures=measures, policy=policy)
    proposal = propose(facts)
    evaluation.proposal = proposal_as_dict(proposal)
    evaluation.policy_version = policy.version
    return proposal, measures, policy


def evaluation_start(*, user: User, patient: Patient, clinic: Clinic) -> Evaluation:
    """Open a draft evaluation for the patient at ``clinic``; one draft at a time."""
    _require(user, Capability.EVALUATION_DRAFT, clinic, MESSAGE_DRAFT_FORBIDDEN)
    existing = Evaluation.objects.filter(patient=patient, status=Evaluation.Status.DRAFT).first()
    if existing is not None:
        raise Conflict(MESSAGE_DRAFT_EXISTS, code="draft_exists")
    evaluation = Evaluation(patient=patient, clinic=clinic, author=user)
    try:
        with transaction.atomic():
            evaluation.save(force_insert=True)
            _refresh_proposal(evaluation)
            evaluation.save(update_fields=["proposal", "policy_version", "updated_at"])
    except IntegrityError as exc:
        raise Conflict(MESSAGE_DRAFT_EXISTS, code="draft_exists") from exc
    audit(
        user=user,
        action=Action.CREATE,
        patient_id=patient.id,
        clinic_id=clinic.id,
        object_type="evaluation",
        object_id=evaluation.id,
    )
    return evaluation


def _check_text(value: Any, field: str, errors: list[FieldError], limit: int = TEXT_LIMIT) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        errors.append(FieldError(field, MESSAGE_TOO_LONG.format(limit=limit)))
    return text


def _clean_conditions(
    value: Any, errors: list[FieldError], today: date
) -> list[ConditionEntry] | None:
    if not isinstance(value, list):
        errors.append(FieldError("conditions", MESSAGE_LIST))
        return None
    if len(value) > MAX_CONDITIONS:
        errors.append(FieldError("conditions", MESSAGE_TOO_MANY.format(limit=MAX_CONDITIONS)))
        return None
    entries: list[ConditionEntry] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(value):
        field = f"conditions.{index}"
        if not isinstance(raw, dict):
            errors.append(FieldError(field, MESSAGE_OBJECT))
            continue
        category = raw.get("category")
        if category not in ConditionEntry.Category.values:
            errors.append(FieldError(f"{field}.category", MESSAGE_CATEGORY))
            continue
        key = str(raw.get("catalogue_key") or "").strip()
        code = str(raw.get("code") or "").strip()
        try:
            if category == ConditionEntry.Category.PAIN and key:
                condition = pain_condition(key)
                option = icd10_lookup(code or condition.default_code, field=f"{field}.code")
                if option.code not in {o.code for o in condition.codes}:
                    errors.append(
                        FieldError(
                            f"{field}.code",
                            MESSAGE_CODE_NOT_FOR_CONDITION.format(
                                code=option.code, label=condition.label
                            ),
                        )
                    )
                    continue
            elif code:
                option = icd10_lookup(code, field=f"{field}.code")
                key = ""
            else:
                errors.append(FieldError(f"{field}.code", MESSAGE_CODE_OR_KEY))
                continue
        except InvalidInput as exc:
            errors.extend(
                FieldError(f"{field}.catalogue_key", e.rule) if e.field == "catalogue_key" else e
                for e in exc.errors
            )
            continue
        is_mh = mental_health_category_ok(option.code)
        if category == ConditionEntry.Category.MENTAL_HEALTH and not is_mh:
            errors.append(FieldError(f"{field}.code", MESSAGE_MH_CODE))
            continue
        if category == ConditionEntry.Category.PAIN and is_mh:
            errors.append(FieldError(f"{field}.code", MESSAGE_PAIN_CODE))
            continue
        if (category, option.code) in seen:
            errors.append(
                FieldError(f"{field}.code", MESSAGE_DUPLICATE_CODE.format(code=option.code))
            )
            continue
        seen.add((category, option.code))
        onset = raw.get("onset") or None
        if isinstance(onset, str):
            try:
                onset = date.fromisoformat(onset)
            except ValueError:
                errors.append(FieldError(f"{field}.onset", MESSAGE_DATE_FORMAT))
                continue
        if onset is not None and (not isinstance(onset, date) or isinstance(onset, datetime)):
            errors.append(FieldError(f"{field}.onset", MESSAGE_DATE_FORMAT))
            continue
        # The clinic's calendar day, as for the other dates of the evaluation.
        if onset is not None and onset > today:
            errors.append(FieldError(f"{field}.onset", MESSAGE_FUTURE_DATE))
            continue
        entries.append(
            ConditionEntry(
                category=category,
                system=option.system if hasattr(option, "system") else "",
                code=option.code,
                display=option.display[:300],
                catalogue_key=key,
                is_primary=bool(raw.get("is_primary")),
                onset=onset,
                note=_check_text(raw.get("note"), f"{field}.note", errors, 300),
            )
        )
    for category in ConditionEntry.Category:
        in_category = [e for e in entries if e.category == category]
        primaries = [e for e in in_category if e.is_primary]
        if len(primaries) > 1:
            errors.append(
                FieldError(
                    "conditions",
                    MESSAGE_ONE_PRIMARY.format(category=category.label.lower()),
                )
            )
        if len(in_category) == 1:
            # One condition in a category is its primary; nothing to choose.
            in_category[0].is_primary = True
    return entries


def _clean_contraindications(
    value: Any, current: dict[str, Any], errors: list[FieldError]
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.append(FieldError("contraindications", MESSAGE_OBJECT))
        return None
    known = {c.key for c in CONTRAINDICATIONS}
    merged = {k: dict(v) for k, v in current.items() if k in known}
    for key, raw in value.items():
        field = f"contraindications.{key}"
        if key not in known:
            errors.append(FieldError(field, MESSAGE_UNKNOWN_CONTRAINDICATION))
            continue
        if not isinstance(raw, dict):
            errors.append(FieldError(field, MESSAGE_OBJECT))
            continue
        entry = merged.setdefault(key, {"present": "", "mitigation": ""})
        if "present" in raw:
            present = raw.get("present") or ""
            if present not in ("yes", "no", ""):
                errors.append(FieldError(f"{field}.present", MESSAGE_PRESENT_CHOICE))
                continue
            entry["present"] = present
        if "mitigation" in raw:
            entry["mitigation"] = _check_text(raw.get("mitigation"), f"{field}.mitigation", errors)
    return merged


def _clean_resolutions(
    value: Any, current: dict[str, Any], errors: list[FieldError]
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.append(FieldError("screen_resolutions", MESSAGE_OBJECT))
        return None
    merged = {k: dict(v) for k, v in current.items() if k in SCREEN_KEYS}
    for key, raw in value.items():
        field = f"screen_resolutions.{key}"
        if key not in SCREEN_KEYS:
            errors.append(FieldError(field, MESSAGE_SCREEN_KEY))
            continue
        if not isinstance(raw, dict):
            errors.append(FieldError(field, MESSAGE_OBJECT))
            continue
        resolution = raw.get("resolution") or ""
        if resolution not in (*RESOLUTIONS, ""):
            errors.append(FieldError(f"{field}.resolution", MESSAGE_RESOLUTION))
            continue
        note = _check_text(raw.get("note"), f"{field}.note", errors)
        if resolution or note:
            merged[key] = {"resolution": resolution, "note": note}
        else:
            merged.pop(key, None)
    return merged


def _clean_prior_treatments(value: Any, errors: list[FieldError]) -> list[dict[str, str]] | None:
    if not isinstance(value, list):
        errors.append(FieldError("prior_treatments", MESSAGE_LIST))
        return None
    if len(value) > MAX_PRIOR_TREATMENTS:
        errors.append(
            FieldError("prior_treatments", MESSAGE_TOO_MANY.format(limit=MAX_PRIOR_TREATMENTS))
        )
        return None
    cleaned = []
    for index, raw in enumerate(value):
        field = f"prior_treatments.{index}"
        if not isinstance(raw, dict):
            errors.append(FieldError(field, MESSAGE_OBJECT))
            continue
        treatment = _check_text(raw.get("treatment"), f"{field}.treatment", errors, 200)
        if not treatment:
            errors.append(FieldError(f"{field}.treatment", MESSAGE_PRIOR_TREATMENT))
        outcome = raw.get("outcome") or ""
        if outcome not in PRIOR_OUTCOMES:
            errors.append(
                FieldError(
                    f"{field}.outcome",
                    MESSAGE_PRIOR_OUTCOME.format(choices=", ".join(PRIOR_OUTCOMES)),
                )
            )
        note = _check_text(raw.get("note"), f"{field}.note", errors, 500)
        cleaned.append({"treatment": treatment, "outcome": outcome, "note": note})
    return cleaned


def evaluation_update(*, user: User, evaluation: Evaluation, data: dict[str, Any]) -> Evaluation:
    """Save part or all of a draft: plain fields as given, ``conditions`` and
    ``prior_treatments`` replace their lists, ``contraindications`` and
    ``screen_resolutions`` merge by key. All or nothing: any invalid field saves nothing."""
    _require(user, Capability.EVALUATION_DRAFT, evaluation.clinic, MESSAGE_DRAFT_FORBIDDEN)
    if evaluation.is_signed:
        raise Conflict(MESSAGE_SIGNED, code="signed")
    errors = [
        FieldError(name, MESSAGE_UNKNOWN_FIELD)
        for name in sorted(data)
        if name not in PLAIN_FIELDS and name not in STRUCTURED_FIELDS
    ]
    today = local_today(evaluation.clinic.time_zone)
    changed: list[str] = []
    for name in PLAIN_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if value is None and name not in ("pain_duration_months", *DATE_FIELDS):
            value = ""
        if isinstance(value, str):
            value = value.strip()
        if name in DATE_FIELDS and isinstance(value, str):
            if value == "":
                value = None
            else:
                try:
                    value = date.fromisoformat(value)
                except ValueError:
                    errors.append(FieldError(name, MESSAGE_DATE_FORMAT))
                    continue
        if (
            name in DATE_FIELDS
            and value is not None
            and (not isinstance(value, date) or isinstance(value, datetime))
        ):
            # A datetime or a number cannot be compared with a day; refuse it as a format.
            errors.append(FieldError(name, MESSAGE_DATE_FORMAT))
            continue
        if name in DATE_FIELDS and value is not None and value > today:
            errors.append(FieldError(name, MESSAGE_FUTURE_DATE))
            continue
        if getattr(evaluation, name) != value:
            setattr(evaluation, name, value)
            changed.append(name)
    conditions = None
    if "conditions" in data:
        conditions = _clean_conditions(data["conditions"], errors, today)
        changed.append("conditions")
    if "contraindications" in data:
        merged = _clean_contraindications(
            data["contraindications"], evaluation.contraindications or {}, errors
        )
        if merged is not None:
            evaluation.contraindications = merged
        changed.append("contraindications")
    if "screen_resolutions" in data:
        resolutions = _clean_resolutions(
            data["screen_resolutions"], evaluation.screen_resolutions or {}, errors
        )
        if resolutions is not None:
            evaluation.screen_resolutions = resolutions
        changed.append("screen_resolutions")
    if "prior_treatments" in data:
        prior = _clean_prior_treatments(data["prior_treatments"], errors)
        if prior is not None:
            evaluation.prior_treatments = prior
        changed.append("prior_treatments")
    try:
        evaluation.full_clean(exclude=["patient", "clinic", "author"])
    except ValidationError as exc:
        errors.extend(validation_error_to_fields(exc))
    if errors:
        evaluation.refresh_from_db()
        raise _invalid(errors)
    with transaction.atomic():
        locked = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if locked.is_signed:
            raise Conflict(MESSAGE_SIGNED, code="signed")
        if conditions is not None:
            evaluation.conditions.all().delete()
            for entry in conditions:
                entry.evaluation = evaluation
                entry.system = entry.system or _icd_system()
            ConditionEntry.objects.bulk_create(conditions)
        _refresh_proposal(evaluation)
        evaluation.save()
    audit(
        user=user,
        action=Action.UPDATE,
        patient_id=evaluation.patient_id,
        clinic_id=evaluation.clinic_id,
        object_type="evaluation",
        object_id=evaluation.id,
        detail={"fields": changed},
    )
    return evaluation


def _icd_system() -> str:
    from ketapath.evaluations import catalogue

    return str(catalogue.ICD10CM_SYSTEM)


def evaluation_sign(
    *,
    user: User,
    evaluation: Evaluation,
    accept: bool,
    pathway: str | None = None,
    override_reason: str = "",
    co_sign: dict[str, str] | None = None,
    request: Any = None,
) -> Evaluation:
    """Sign the evaluation: accept the live proposal, or choose another pathway with a
    reason. Refused (409) while anything blocks signing or once signed. Choosing a ketamine
    pathway against an absolute contraindication or an active substance-use disorder needs
    the medical director's co-signature in the same request. The signed pathway becomes
    the patient's current pathway."""
    _require(user, Capability.EVALUATION_SIGN, evaluation.clinic, MESSAGE_SIGN_FORBIDDEN)
    if evaluation.is_signed:
        raise Conflict(MESSAGE_SIGNED, code="already_signed")
    proposal, measures, policy = _refresh_proposal(evaluation)
    if proposal.blocking:
        raise Conflict(
            MESSAGE_BLOCKED.format(count=len(proposal.blocking)),
            code="blocked",
            errors=[FieldError("blocking", item) for item in proposal.blocking],
        )
    override_reason = (override_reason or "").strip()
    if accept:
        if proposal.pathway is None:
            raise Conflict(
                MESSAGE_CHOICE_REQUIRED,
                code="choice_required",
                errors=[FieldError("pathway", MESSAGE_CHOICE_REQUIRED)],
            )
        chosen = proposal.pathway
    else:
        errors = []
        if not pathway:
            errors.append(FieldError("pathway", MESSAGE_PATHWAY_REQUIRED))
        elif pathway not in Pathway.values:
            errors.append(FieldError("pathway", MESSAGE_PATHWAY_INVALID))
        if not override_reason:
            errors.append(FieldError("override_reason", MESSAGE_OVERRIDE_REASON))
        if errors:
            raise _invalid(errors)
        chosen = str(pathway)
    co_signer = None
    if needs_director_cosign(proposal, chosen):
        why = (
            "an absolute contraindication"
            if proposal.absolute
            else "an active substance-use disorder"
        )
        message = MESSAGE_DIRECTOR_COSIGN.format(why=why)
        if not co_sign:
            raise InvalidInput(
                message, code="co_sign_required", errors=[FieldError("co_sign", message)]
            )
        co_signer = co_signer_verify(
            request=request,
            username=co_sign.get("username", ""),
            password=co_sign.get("password", ""),
            acting_user=user,
            clinic=evaluation.clinic,
            allowed_roles=frozenset({Role.MEDICAL_DIRECTOR}),
            who="a medical director",
            purpose="evaluation_override",
            patient_id=evaluation.patient_id,
        )
    now = timezone.now()
    today = local_today(evaluation.clinic.time_zone)
    with transaction.atomic():
        locked = Evaluation.objects.select_for_update().get(pk=evaluation.pk)
        if locked.is_signed:
            raise Conflict(MESSAGE_SIGNED, code="already_signed")
        evaluation.status = Evaluation.Status.SIGNED
        evaluation.pathway = chosen
        evaluation.accepted_proposal = chosen == proposal.pathway
        evaluation.override_reason = override_reason
        evaluation.co_signed_by = co_signer
        evaluation.signed_by = user
        evaluation.signed_at = now
        evaluation.valid_until = today + timedelta(days=policy.evaluation_valid_days)
        evaluation.facts = {
            "measures": selectors.measures_snapshot(measures),
            "contraindication_classes": selectors.contraindication_classes(policy),
        }
        evaluation.save()
        patient_pathway_set(
            user=user,
            patient=evaluation.patient,
            pathway=chosen,
            source=f"Evaluation signed {today.isoformat()} by {user.display_name}",
        )
    audit(
        user=user,
        action=Action.UPDATE,
        patient_id=evaluation.patient_id,
        clinic_id=evaluation.clinic_id,
        object_type="evaluation",
        object_id=evaluation.id,
        detail={
            "signed": chosen,
            "proposed": proposal.pathway,
            "accepted": evaluation.accepted_proposal,
            "co_signed_by": co_signer.username if co_signer else None,
        },
    )
    return evaluation


def addendum_add(*, user: User, evaluation: Evaluation, text: str) -> Addendum:
    """Add a correction or addition to a signed evaluation; the original is untouched."""
    _require(user, Capability.EVALUATION_DRAFT, evaluation.clinic, MESSAGE_DRAFT_FORBIDDEN)
    if not evaluation.is_signed:
        raise Conflict(MESSAGE_NOT_SIGNED, code="not_signed")
    errors: list[FieldError] = []
    text = _check_text(text, "text", errors, 4000)
    if not text:
        errors.append(FieldError("text", MESSAGE_ADDENDUM_TEXT))
    if errors:
        raise _invalid(errors)
    addendum = Addendum.objects.create(evaluation=evaluation, author=user, text=text)
    audit(
        user=user,
        action=Action.CREATE,
        patient_id=evaluation.patient_id,
        clinic_id=evaluation.clinic_id,
        object_type="evaluation_addendum",
        object_id=addendum.id,
        detail={"evaluation": str(evaluation.id)},
    )
    return addendum


def contraindication_classes_set(
    *, user: User, clinic: Clinic, classes: dict[str, Any], reason: str
) -> ClinicPolicy:
    """The medical director reclassifies contraindications (absolute or relative): a new
    clinic-policy version, audited with each change. Evaluations already signed keep the
    classes they were signed under. Keys not given keep the class in force, so a change
    of one class never silently undoes an earlier change of another."""
    if not user.can(Capability.POLICY_WRITE, clinic.id):
        raise Forbidden(MESSAGE_CLASSES_FORBIDDEN)
    in_force = selectors.contraindication_classes(clinic_policy_current(clinic=clinic))
    if isinstance(classes, dict):
        classes = {**in_force, **classes}
    validated = contraindication_classes_validate(classes)
    if not (reason or "").strip():
        raise InvalidInput(
            MESSAGE_CLASSES_REASON, errors=[FieldError("reason", MESSAGE_CLASSES_REASON)]
        )
    return clinic_policy_update(
        user=user, clinic=clinic, changes={"contraindication_classes": validated}, reason=reason
    )
