"""Writes for courses and appointments.

A course is ordered by a prescriber from a signed evaluation still within its validity:
PAIN_SERIES → the site's approved chronic-pain series; MENTAL_HEALTH_PRIMARY → the
approved template of the primary mental-health diagnosis, with pain measured at every
session; BEHAVIORAL_HEALTH and NOT_ELIGIBLE → no ketamine course. The dose (mg/kg) must lie
within the template's range and under the site's ceiling (DESIGN §6: the prescriber
decides the dose; the software checks it).
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.evaluations.models import ConditionEntry, Evaluation
from ketapath.evaluations.rules import mh_family
from ketapath.patients.models import Pathway, Patient
from ketapath.protocols.models import Indication, ProtocolTemplate
from ketapath.protocols.selectors import approved_protocol
from ketapath.scheduling.models import Course

MESSAGE_ORDER_FORBIDDEN = (
    "Only a prescriber or the medical director with a current licence and DEA registration "
    "orders a course."
)
MESSAGE_EVALUATION_OTHER_PATIENT = "This evaluation is not this patient's."
MESSAGE_EVALUATION_NOT_SIGNED = "The evaluation is not signed yet."
MESSAGE_EVALUATION_EXPIRED = (
    "The evaluation was valid for starting a course until {until}; a new evaluation is needed."
)
MESSAGE_NO_KETAMINE = {
    Pathway.BEHAVIORAL_HEALTH: "The signed pathway is behavioral health: no ketamine course. "
    "Book behavioral-health visits instead.",
    Pathway.NOT_ELIGIBLE: "The signed pathway is not eligible: no ketamine course.",
}
MESSAGE_NO_TEMPLATE = (
    "No approved protocol template for {indication} at this site; the medical director "
    "approves one under Protocols."
)
MESSAGE_NO_MH_TEMPLATE = (
    "The primary mental-health diagnosis ({code}) has no protocol template; the prescriber "
    "chooses the course with the medical director."
)
MESSAGE_DOSE_RANGE = "Order between {low} and {high} mg/kg (the template's range)."
MESSAGE_DOSE_CEILING = "Above the site's dose ceiling of {ceiling} mg/kg."
MESSAGE_OPEN_COURSE = "This patient already has an open course ({status}); finish or stop it first."

# A mental-health family of rules.mh_family → the template indication.
FAMILY_INDICATION = {"depression": Indication.DEPRESSION, "ptsd": Indication.PTSD}
OPEN_STATUSES = (
    Course.Status.PLANNED,
    Course.Status.SCHEDULED,
    Course.Status.IN_PROGRESS,
    Course.Status.AWAITING_REASSESSMENT,
)


def _indication_for(evaluation: Evaluation) -> str:
    if evaluation.pathway == Pathway.PAIN_SERIES:
        return Indication.CHRONIC_PAIN
    primary = next(
        (
            c
            for c in evaluation.conditions.all()
            if c.category == ConditionEntry.Category.MENTAL_HEALTH and c.is_primary
        ),
        None,
    )
    family = mh_family(primary.code) if primary else "other"
    if family not in FAMILY_INDICATION:
        code = primary.code if primary else "none recorded"
        raise Conflict(
            MESSAGE_NO_MH_TEMPLATE.format(code=code),
            code="no_template",
            errors=[FieldError("evaluation", MESSAGE_NO_MH_TEMPLATE.format(code=code))],
        )
    return FAMILY_INDICATION[family]


def course_protocol_for(*, evaluation: Evaluation, clinic: Clinic) -> ProtocolTemplate:
    """The approved template a course from this evaluation follows at ``clinic``, or a
    Conflict that says why there is none."""
    if evaluation.pathway in MESSAGE_NO_KETAMINE:
        message = MESSAGE_NO_KETAMINE[Pathway(evaluation.pathway)]
        raise Conflict(message, code="no_ketamine", errors=[FieldError("evaluation", message)])
    indication = _indication_for(evaluation)
    template = approved_protocol(clinic=clinic, indication=indication)
    if template is None:
        message = MESSAGE_NO_TEMPLATE.format(indication=Indication(indication).label.lower())
        raise Conflict(message, code="no_template", errors=[FieldError("evaluation", message)])
    return template


def course_create(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    evaluation: Evaluation,
    ordered_mg_per_kg: Decimal,
    parent: Course | None = None,
) -> Course:
    """Order a course from a signed, still-valid evaluation (status planned); with
    ``parent``, a continuation of that course (its decision closes the parent first)."""
    if not user.can(Capability.COURSE_ORDER, clinic.id):
        raise Forbidden(MESSAGE_ORDER_FORBIDDEN)
    if evaluation.patient_id != patient.id:
        raise InvalidInput(
            MESSAGE_EVALUATION_OTHER_PATIENT,
            errors=[FieldError("evaluation", MESSAGE_EVALUATION_OTHER_PATIENT)],
        )
    if not evaluation.is_signed:
        raise Conflict(
            MESSAGE_EVALUATION_NOT_SIGNED,
            code="evaluation_not_signed",
            errors=[FieldError("evaluation", MESSAGE_EVALUATION_NOT_SIGNED)],
        )
    today = local_today(clinic.time_zone)
    if evaluation.valid_until is None or evaluation.valid_until < today:
        message = MESSAGE_EVALUATION_EXPIRED.format(until=evaluation.valid_until)
        raise Conflict(
            message, code="evaluation_expired", errors=[FieldError("evaluation", message)]
        )
    template = course_protocol_for(evaluation=evaluation, clinic=clinic)
    dose = Decimal(ordered_mg_per_kg)
    ceiling = clinic_policy_current(clinic=clinic).dose_ceiling_mg_per_kg
    errors = []
    assert template.mg_per_kg_min is not None and template.mg_per_kg_max is not None
    if not template.mg_per_kg_min <= dose <= template.mg_per_kg_max:
        errors.append(
            FieldError(
                "ordered_mg_per_kg",
                MESSAGE_DOSE_RANGE.format(
                    low=template.mg_per_kg_min.normalize(), high=template.mg_per_kg_max.normalize()
                ),
            )
        )
    if dose > ceiling:
        errors.append(FieldError("ordered_mg_per_kg", MESSAGE_DOSE_CEILING.format(ceiling=ceiling)))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    with transaction.atomic():
        # One open course per patient: serialise orders for the patient.
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        open_course = Course.objects.filter(patient=patient, status__in=OPEN_STATUSES).first()
        if open_course is not None:
            message = MESSAGE_OPEN_COURSE.format(status=open_course.get_status_display().lower())
            raise Conflict(message, code="open_course", errors=[FieldError("patient", message)])
        course = Course.objects.create(
            patient=patient,
            clinic=clinic,
            evaluation=evaluation,
            protocol=template,
            pathway=evaluation.pathway,
            pain_measures_added=evaluation.pathway == Pathway.MENTAL_HEALTH_PRIMARY,
            phase=Course.Phase.CONTINUATION if parent is not None else Course.Phase.INDUCTION,
            parent=parent,
            ordered_mg_per_kg=dose,
            ordered_by=user,
            ordered_at=timezone.now(),
        )
    audit(
        user=user,
        action=Action.CREATE,
        patient_id=patient.id,
        clinic_id=clinic.id,
        object_type="course",
        object_id=course.id,
        detail={
            "protocol": f"{template.name} v{template.version}",
            "ordered_mg_per_kg": str(dose),
            "evaluation": str(evaluation.id),
            "continues": str(parent.id) if parent is not None else None,
        },
    )
    return course
