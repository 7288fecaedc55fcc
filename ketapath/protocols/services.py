"""Writes for protocol templates: the shipped set, drafts, edits (a new version once
approved) and the medical director's approval.

No guideline sets intramuscular dosing for chronic pain (clinical.md §1.3), so shipped
templates carry no dose: a course cannot start until the medical director sets one within
the site's dose ceiling (ClinicPolicy) and approves it.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
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
    validation_error_to_fields,
)
from ketapath.protocols.models import Indication, ProtocolTemplate, Route
from ketapath.questionnaires.instruments import INSTRUMENTS

MESSAGE_INVALID = "The protocol template is not valid; see the errors for each field."
MESSAGE_FORBIDDEN = "Only the medical director writes and approves protocol templates."
MESSAGE_UNKNOWN_FIELD = "Not a field of a protocol template."
MESSAGE_NOT_CURRENT = "Only the latest version of a template can be changed or approved."
MESSAGE_ALREADY_APPROVED = "This version is already approved."
MESSAGE_DOSE_REQUIRED = "Set the dose range and the cap before approving."
MESSAGE_ABOVE_CEILING = "Above the site's dose ceiling of {ceiling} mg/kg (clinic policy)."
MESSAGE_RANGE_ORDER = "The lower dose cannot be above the upper dose."
MESSAGE_OFFSETS = "Give whole minutes from 0 to the end of observation, in increasing order."
MESSAGE_INSTRUMENT = "Unknown questionnaire: {code}."
MESSAGE_SPACING_WINDOW = (
    "{sessions} sessions at least {hours} hours apart do not fit in a window of {days} days."
)
MESSAGE_POSITIVE = "Must be above 0."

EDITABLE_FIELDS = (
    "name",
    "indication",
    "route",
    "sessions",
    "min_interval_hours",
    "window_days",
    "mg_per_kg_min",
    "mg_per_kg_max",
    "cap_mg",
    "dose_minutes",
    "observation_minutes",
    "vitals_offsets",
    "pre_questionnaires",
    "post_questionnaires",
    "reassessment_days",
    "notes",
)


@dataclass(frozen=True)
class ShippedTemplate:
    """A template every site starts with. Shapes from the issue the clinic wrote; vitals
    and observation from clinical.md §5 ("Frequency, IM: baseline, then every 10–15 min
    for the first 40–60 min"; "Minimum observation 60 min after IM/IV ketamine", marked
    unverified local practice); the dosing time (15 min for an IM injection with its
    preparation) and the reassessment day are the clinic's workflow defaults, not
    clinical facts — the medical director reviews each before approving."""

    name: str
    indication: str
    sessions: int
    min_interval_hours: int
    window_days: int
    pre_questionnaires: tuple[str, ...]
    reassessment_days: int = 7


IM_VITALS_OFFSETS = [0, 10, 20, 30, 40, 50, 60]
IM_DOSE_MINUTES = 15
IM_OBSERVATION_MINUTES = 60

SHIPPED = (
    ShippedTemplate(
        "Chronic pain — initial IM series", Indication.CHRONIC_PAIN, 3, 24, 7, ("pain-nrs", "peg")
    ),
    ShippedTemplate("Depression — induction", Indication.DEPRESSION, 6, 48, 21, ("phq-9",)),
    ShippedTemplate("PTSD — induction", Indication.PTSD, 6, 48, 21, ("pcl-5",)),
    ShippedTemplate(
        "Continuation — single session", Indication.CONTINUATION, 1, 0, 1, ("pain-nrs", "peg")
    ),
)


def _require(user: User, clinic: Clinic) -> None:
    if not user.can(Capability.PROTOCOL_WRITE, clinic.id):
        raise Forbidden(MESSAGE_FORBIDDEN)


def protocols_ship(*, clinic: Clinic) -> list[ProtocolTemplate]:
    """Create the shipped templates at a site that has none (as drafts, without a dose)."""
    if ProtocolTemplate.objects.filter(clinic=clinic).exists():
        return []
    created = [
        ProtocolTemplate(
            clinic=clinic,
            name=t.name,
            indication=t.indication,
            route=Route.IM,
            sessions=t.sessions,
            min_interval_hours=t.min_interval_hours,
            window_days=t.window_days,
            dose_minutes=IM_DOSE_MINUTES,
            observation_minutes=IM_OBSERVATION_MINUTES,
            vitals_offsets=list(IM_VITALS_OFFSETS),
            pre_questionnaires=list(t.pre_questionnaires),
            post_questionnaires=[],
            reassessment_days=t.reassessment_days,
            notes="Shipped without a dose: no guideline sets IM dosing for this indication "
            "(clinical.md §1.3). The medical director sets the dose range and cap, then approves.",
        )
        for t in SHIPPED
    ]
    return ProtocolTemplate.objects.bulk_create(created)


def _check(template: ProtocolTemplate, ceiling: Decimal, errors: list[FieldError]) -> None:
    low, high = template.mg_per_kg_min, template.mg_per_kg_max
    for name in ("mg_per_kg_min", "mg_per_kg_max", "cap_mg"):
        value = getattr(template, name)
        if value is not None and value <= 0:
            errors.append(FieldError(name, MESSAGE_POSITIVE))
    if low is not None and high is not None and low > high:
        errors.append(FieldError("mg_per_kg_min", MESSAGE_RANGE_ORDER))
    for name, value in (("mg_per_kg_min", low), ("mg_per_kg_max", high)):
        if value is not None and value > ceiling:
            errors.append(FieldError(name, MESSAGE_ABOVE_CEILING.format(ceiling=ceiling)))
    offsets = template.vitals_offsets
    if not (
        isinstance(offsets, list)
        and all(isinstance(x, int) and not isinstance(x, bool) for x in offsets)
        and offsets == sorted(set(offsets))
        and all(0 <= x <= template.observation_minutes + template.dose_minutes for x in offsets)
    ):
        errors.append(FieldError("vitals_offsets", MESSAGE_OFFSETS))
    for name in ("pre_questionnaires", "post_questionnaires"):
        codes = getattr(template, name)
        if not isinstance(codes, list):
            errors.append(FieldError(name, MESSAGE_INSTRUMENT.format(code=codes)))
            continue
        for code in codes:
            if code not in INSTRUMENTS:
                errors.append(FieldError(name, MESSAGE_INSTRUMENT.format(code=code)))
    if (template.sessions or 0) > 1 and template.window_days:
        needed_hours = (template.sessions - 1) * (template.min_interval_hours or 0)
        if needed_hours > template.window_days * 24:
            errors.append(
                FieldError(
                    "window_days",
                    MESSAGE_SPACING_WINDOW.format(
                        sessions=template.sessions,
                        hours=template.min_interval_hours,
                        days=template.window_days,
                    ),
                )
            )


def _validate(template: ProtocolTemplate) -> None:
    errors: list[FieldError] = []
    try:
        template.full_clean(exclude=["clinic", "lineage", "created_by", "approved_by"])
    except ValidationError as exc:
        errors.extend(validation_error_to_fields(exc))
    ceiling = clinic_policy_current(clinic=template.clinic).dose_ceiling_mg_per_kg
    _check(template, ceiling, errors)
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)


def protocol_create(*, user: User, clinic: Clinic, data: dict[str, Any]) -> ProtocolTemplate:
    """A new template (version 1, draft) at the site."""
    _require(user, clinic)
    unknown = [
        FieldError(k, MESSAGE_UNKNOWN_FIELD) for k in sorted(data) if k not in EDITABLE_FIELDS
    ]
    if unknown:
        raise InvalidInput(MESSAGE_INVALID, errors=unknown)
    template = ProtocolTemplate(clinic=clinic, created_by=user, **data)
    _validate(template)
    template.save()
    audit(
        user=user,
        action=Action.CREATE,
        clinic_id=clinic.id,
        object_type="protocol_template",
        object_id=template.id,
        detail={"name": template.name, "version": template.version},
    )
    return template


def _latest(template: ProtocolTemplate) -> ProtocolTemplate:
    return (
        ProtocolTemplate.objects.filter(lineage=template.lineage).order_by("-version").first()
        or template
    )


def protocol_update(
    *, user: User, template: ProtocolTemplate, data: dict[str, Any]
) -> ProtocolTemplate:
    """Change a template: a draft in place; an approved version by writing the next version
    as a draft (courses keep the version they were ordered under)."""
    _require(user, template.clinic)
    if _latest(template).pk != template.pk:
        raise Conflict(MESSAGE_NOT_CURRENT, code="not_current")
    unknown = [
        FieldError(k, MESSAGE_UNKNOWN_FIELD) for k in sorted(data) if k not in EDITABLE_FIELDS
    ]
    if unknown:
        raise InvalidInput(MESSAGE_INVALID, errors=unknown)
    if template.status == ProtocolTemplate.Status.DRAFT:
        target = template
    else:
        target = ProtocolTemplate(
            clinic=template.clinic,
            lineage=template.lineage,
            version=template.version + 1,
            created_by=user,
            **{name: getattr(template, name) for name in EDITABLE_FIELDS},
        )
    before = {name: getattr(target, name) for name in EDITABLE_FIELDS}
    for name, value in data.items():
        setattr(target, name, value)
    _validate(target)
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:
        raise Conflict(MESSAGE_NOT_CURRENT, code="not_current") from exc
    audit(
        user=user,
        action=Action.UPDATE if target.pk == template.pk else Action.CREATE,
        clinic_id=template.clinic_id,
        object_type="protocol_template",
        object_id=target.id,
        detail={
            "version": target.version,
            "changed": sorted(n for n in EDITABLE_FIELDS if before[n] != getattr(target, n)),
        },
    )
    return target


def protocol_approve(*, user: User, template: ProtocolTemplate) -> ProtocolTemplate:
    """The medical director approves the latest draft: it needs a dose range and cap within
    the site's ceiling. The version approved before it is superseded."""
    _require(user, template.clinic)
    if template.status == ProtocolTemplate.Status.APPROVED:
        raise Conflict(MESSAGE_ALREADY_APPROVED, code="already_approved")
    if _latest(template).pk != template.pk:
        raise Conflict(MESSAGE_NOT_CURRENT, code="not_current")
    if not template.has_dose:
        raise InvalidInput(
            MESSAGE_DOSE_REQUIRED,
            errors=[
                FieldError(name, MESSAGE_DOSE_REQUIRED)
                for name in ("mg_per_kg_min", "mg_per_kg_max", "cap_mg")
                if getattr(template, name) is None
            ],
        )
    _validate(template)
    with transaction.atomic():
        ProtocolTemplate.objects.filter(
            lineage=template.lineage, status=ProtocolTemplate.Status.APPROVED
        ).update(status=ProtocolTemplate.Status.SUPERSEDED)
        template.status = ProtocolTemplate.Status.APPROVED
        template.approved_by = user
        template.approved_at = timezone.now()
        template.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    audit(
        user=user,
        action=Action.UPDATE,
        clinic_id=template.clinic_id,
        object_type="protocol_template",
        object_id=template.id,
        detail={
            "approved": template.version,
            "mg_per_kg": [str(template.mg_per_kg_min), str(template.mg_per_kg_max)],
            "cap_mg": str(template.cap_mg),
        },
    )
    return template
