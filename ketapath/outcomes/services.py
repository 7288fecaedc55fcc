"""Writes of outcomes: the prescriber's decision after a reassessment (issue 9, item 2).

The software proposes (``rules.recommend``); a named prescriber decides, with a rationale
(DESIGN §6). Continuing creates the continuation course, ordered by the same prescriber
under the template the site approves now, and needs the benefit that justifies more
ketamine. Stopping or switching to behavioral health closes the course; before the series
is complete that is recorded as a course stopped early (a drop-out in the dashboard).
"""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.outcomes import selectors
from ketapath.outcomes.models import CourseDecision
from ketapath.outcomes.rules import display_percent
from ketapath.patients.models import Pathway
from ketapath.patients.services import patient_pathway_set
from ketapath.scheduling.booking import course_bookings_cancel
from ketapath.scheduling.models import Course
from ketapath.scheduling.services import course_create

RATIONALE_MAX = 2000

MESSAGE_DECIDE_FORBIDDEN = "Only a prescriber or medical director at the site records the decision."
MESSAGE_DECISION_INVALID = "Choose continue, stop or behavioral_health."
MESSAGE_RATIONALE_REQUIRED = "Give the rationale for the decision."
MESSAGE_RATIONALE_LONG = f"Keep the rationale to {RATIONALE_MAX} characters."
MESSAGE_BENEFIT_REQUIRED = "A continuation needs the benefit that justifies further ketamine."
MESSAGE_ALREADY_DECIDED = "The decision on this course was already recorded."
MESSAGE_CONTINUE_NOT_DUE = (
    "Further sessions follow a completed series and its reassessment; this course is {status}."
)
MESSAGE_CLOSED = "This course is already {status}."
MESSAGE_CANCELLED_BY_DECISION = "Course closed by the prescriber's decision: {decision}."

OPEN_FOR_STOP = (
    Course.Status.PLANNED,
    Course.Status.SCHEDULED,
    Course.Status.IN_PROGRESS,
    Course.Status.AWAITING_REASSESSMENT,
)


def _number(value: Any) -> Any:
    return None if value is None else float(value)


def reassessment_snapshot(r: selectors.Reassessment) -> dict[str, Any]:
    """The figures a decision was made on, kept with it as JSON."""
    return {
        "measures": {
            code: {
                "baseline": _number(pair.baseline),
                "baseline_at": pair.baseline_at.isoformat() if pair.baseline_at else None,
                "current": _number(pair.current),
                "current_at": pair.current_at.isoformat() if pair.current_at else None,
            }
            for code, pair in r.measures.items()
        },
        "pain_change_percent": _number(display_percent(r.pain.change.percent)) if r.pain else None,
        "pain_category": r.pain.category.value if r.pain else None,
        "phq9_response": r.phq9.response if r.phq9 else None,
        "phq9_remission": r.phq9.remission if r.phq9 else None,
        "mme_baseline": _number(r.mme_baseline),
        "mme_current": _number(r.mme_current),
        "recommendation": r.recommendation.code.value,
        "recommendation_reason": r.recommendation.reason,
    }


def _validate(decision: str, rationale: str, benefit: str) -> None:
    errors = []
    if decision not in CourseDecision.Decision.values:
        errors.append(FieldError("decision", MESSAGE_DECISION_INVALID))
    if not rationale:
        errors.append(FieldError("rationale", MESSAGE_RATIONALE_REQUIRED))
    elif len(rationale) > RATIONALE_MAX:
        errors.append(FieldError("rationale", MESSAGE_RATIONALE_LONG))
    if decision == CourseDecision.Decision.CONTINUE:
        if not benefit:
            errors.append(FieldError("benefit", MESSAGE_BENEFIT_REQUIRED))
        elif len(benefit) > RATIONALE_MAX:
            errors.append(FieldError("benefit", MESSAGE_RATIONALE_LONG))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)


def course_decide(
    *,
    user: User,
    course: Course,
    decision: str,
    rationale: str,
    benefit: str = "",
    now: datetime | None = None,
) -> CourseDecision:
    """Record the prescriber's decision on ``course``: continue (creates the continuation
    course), stop, or switch to behavioral health, with a rationale."""
    if not user.can(Capability.COURSE_ORDER, course.clinic_id):
        raise Forbidden(MESSAGE_DECIDE_FORBIDDEN)
    rationale = (rationale or "").strip()
    benefit = (benefit or "").strip()
    _validate(decision, rationale, benefit)
    now = now or timezone.now()
    with transaction.atomic():
        course = (
            Course.objects.select_for_update()
            .select_related("patient", "clinic", "protocol", "evaluation")
            .get(id=course.id)
        )
        if CourseDecision.objects.filter(course=course).exists():
            raise Conflict(MESSAGE_ALREADY_DECIDED, code="already_decided")
        status_word = course.get_status_display().lower()
        if decision == CourseDecision.Decision.CONTINUE:
            if course.status != Course.Status.AWAITING_REASSESSMENT:
                message = MESSAGE_CONTINUE_NOT_DUE.format(status=status_word)
                raise Conflict(
                    message, code="not_reassessable", errors=[FieldError("decision", message)]
                )
        elif course.status not in OPEN_FOR_STOP:
            message = MESSAGE_CLOSED.format(status=status_word)
            raise Conflict(message, code="course_closed", errors=[FieldError("decision", message)])
        reassessment = selectors.course_reassessment(course=course)
        previous = course.status
        series_completed = course.status == Course.Status.AWAITING_REASSESSMENT
        if decision == CourseDecision.Decision.CONTINUE:
            course.status = Course.Status.CONTINUED
        elif series_completed:
            course.status = Course.Status.COMPLETED
        else:
            course.status = Course.Status.STOPPED
        course.decision = decision
        course.rationale = rationale
        # A closed course needs no more attention for its booking.
        course.flag = ""
        course.save(update_fields=["status", "decision", "rationale", "flag", "updated_at"])
        cancelled = []
        if decision != CourseDecision.Decision.CONTINUE:
            cancelled = course_bookings_cancel(
                user=user,
                course=course,
                reason=MESSAGE_CANCELLED_BY_DECISION.format(
                    decision=CourseDecision.Decision(decision).label.lower()
                ),
            )
        continuation = None
        if decision == CourseDecision.Decision.CONTINUE:
            continuation = course_create(
                user=user,
                patient=course.patient,
                clinic=course.clinic,
                evaluation=course.evaluation,
                ordered_mg_per_kg=course.ordered_mg_per_kg,
                parent=course,
            )
        record = CourseDecision.objects.create(
            course=course,
            decision=decision,
            rationale=rationale,
            benefit=benefit,
            recommendation=reassessment.recommendation.code.value,
            reassessment=reassessment_snapshot(reassessment),
            exposure_sessions=reassessment.exposure.sessions,
            exposure_mg=reassessment.exposure.mg,
            series_completed=series_completed,
            continuation=continuation,
            decided_by=user,
            decided_at=now,
        )
        if (
            decision == CourseDecision.Decision.BEHAVIORAL_HEALTH
            and course.patient.pathway != Pathway.BEHAVIORAL_HEALTH
        ):
            local = timezone.localtime(now, timezone=ZoneInfo(course.clinic.time_zone))
            patient_pathway_set(
                user=user,
                patient=course.patient,
                pathway=Pathway.BEHAVIORAL_HEALTH,
                source=(
                    f"Course decision {date_format(local.date(), 'j M Y')} by "
                    f"{user.get_full_name() or user.username}"
                ),
            )
        audit(
            user=user,
            action=Action.CREATE,
            patient_id=course.patient_id,
            clinic_id=course.clinic_id,
            object_type="course_decision",
            object_id=record.id,
            detail={
                "course": str(course.id),
                "decision": decision,
                "recommendation": record.recommendation,
                "status": {"from": previous, "to": course.status},
                "continuation": str(continuation.id) if continuation else None,
                "cancelled_appointments": [str(a.id) for a in cancelled],
            },
        )
    return record
