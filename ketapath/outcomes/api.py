"""The outcomes API (issue 9): a course's reassessment and the prescriber's decision, and
the clinic outcomes summary (JSON and CSV).

Reading a reassessment needs OUTCOMES_READ at the course's site (medical director,
prescriber, nurse, therapist); recording the decision COURSE_ORDER (prescriber, medical
director). The summary covers the sites the user may see: their own, and for a medical
director every site of the organisation, as aggregates only. Another site's course → 404.
"""

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.api import ErrorOut
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.timeutils import local_today, rfc3339
from ketapath.outcomes import dashboard, selectors, services
from ketapath.outcomes.export import summary_csv
from ketapath.outcomes.models import CourseDecision
from ketapath.outcomes.rules import display_percent
from ketapath.scheduling.models import Course

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_COURSE_NOT_FOUND = "No such course among your sites."
MESSAGE_READ_FORBIDDEN = "Your role does not allow reading outcomes."
MESSAGE_SITE_NOT_FOUND = "No such site among the sites whose outcomes you may see."
MESSAGE_GROUP_BY = "Must be one of: pathway, condition."
MESSAGE_PERIOD = "date_from must be on or before date_to."
# Without dates the summary covers the last twelve months.
DEFAULT_PERIOD_DAYS = 365


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _course(request: HttpRequest, course_id: UUID) -> Course:
    course = selectors.course_for_user(user=_user(request), course_id=course_id)
    if course is None:
        raise NotFound(MESSAGE_COURSE_NOT_FOUND)
    return course


def _number(value: Any) -> Any:
    return None if value is None else value


def _decision_out(record: CourseDecision | None, tz: str) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "id": record.id,
        "decision": record.decision,
        "rationale": record.rationale,
        "benefit": record.benefit,
        "recommendation": record.recommendation,
        "series_completed": record.series_completed,
        "continuation": record.continuation_id,
        "decided_by": record.decided_by_id,
        "decided_at": rfc3339(record.decided_at, tz),
        "exposure": {"sessions": record.exposure_sessions, "mg": record.exposure_mg},
    }


def reassessment_out(r: selectors.Reassessment) -> dict[str, Any]:
    tz = r.course.clinic.time_zone

    def side(which: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for code, pair in r.measures.items():
            out[code] = getattr(pair, which)
            out[f"{code}_at"] = rfc3339(getattr(pair, f"{which}_at"), tz)
        out["mme"] = r.mme_baseline if which == "baseline" else r.mme_current
        return out

    def change(code: str) -> dict[str, Any] | None:
        c = r.measures[code].change
        if c is None:
            return None
        return {"points": c.points, "percent": display_percent(c.percent)}

    return {
        "course": r.course.id,
        "patient": r.course.patient_id,
        "status": r.course.status,
        "phase": r.course.phase,
        "pathway": r.course.pathway,
        "series_completed": r.series_completed,
        "first_dose_at": rfc3339(r.first_given, tz),
        "last_dose_at": rfc3339(r.last_given, tz),
        "due_on": r.due_on,
        "window": [rfc3339(r.window[0], tz), rfc3339(r.window[1], tz)] if r.window else None,
        "baseline": side("baseline"),
        "current": side("current"),
        "pain_change_points": r.pain.change.points if r.pain else None,
        "pain_change_percent": display_percent(r.pain.change.percent) if r.pain else None,
        "pain_category": r.pain.category.value if r.pain else None,
        "low_baseline": r.pain.low_baseline if r.pain else None,
        "peg_change": change("peg"),
        "phq9_change": change("phq-9"),
        "phq9_response": r.phq9.response if r.phq9 else None,
        "phq9_remission": r.phq9.remission if r.phq9 else None,
        "pcl5_change": change("pcl-5"),
        "pcl5_meaningful": r.pcl5_meaningful,
        "gad7_change": change("gad-7"),
        "mme_change": r.mme_change,
        "recommendation": r.recommendation.code.value,
        "recommendation_reason": r.recommendation.reason,
        "exposure": {
            "courses": len(r.chain),
            "sessions": r.exposure.sessions,
            "mg": r.exposure.mg,
        },
        "decision": _decision_out(r.decision, tz),
    }


@router.get("/courses/{course_id}/reassessment", response={200: dict, **ERRORS})
def course_reassessment(request: HttpRequest, course_id: UUID) -> dict[str, Any]:
    course = _course(request, course_id)
    if not _user(request).can(Capability.OUTCOMES_READ, course.clinic_id):
        raise Forbidden(MESSAGE_READ_FORBIDDEN)
    result = selectors.course_reassessment(course=course)
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        object_type="course_reassessment",
        object_id=course.id,
    )
    return reassessment_out(result)


class DecisionIn(Schema):
    decision: str
    rationale: str = ""
    benefit: str = ""


@router.post("/courses/{course_id}/decision", response={201: dict, **ERRORS})
def course_decision(
    request: HttpRequest, course_id: UUID, payload: DecisionIn
) -> Status[dict[str, Any]]:
    course = _course(request, course_id)
    record = services.course_decide(
        user=_user(request),
        course=course,
        decision=payload.decision,
        rationale=payload.rationale,
        benefit=payload.benefit,
    )
    course.refresh_from_db()
    return Status(
        201,
        {
            **(_decision_out(record, course.clinic.time_zone) or {}),
            "course": course.id,
            "status": course.status,
        },
    )


class SummaryFilters(Schema):
    clinic: list[UUID] = Field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    group_by: str = "pathway"


def summary_for(user: User, filters: SummaryFilters) -> dashboard.Summary:
    """Validate the filters against the user's sites and compute the summary."""
    sites, _own = dashboard.outcome_sites(user)
    if not sites:
        raise Forbidden(MESSAGE_READ_FORBIDDEN)
    errors = []
    if filters.group_by not in dashboard.GROUP_BY:
        errors.append(FieldError("group_by", MESSAGE_GROUP_BY))
    today = local_today(sites[0].time_zone)
    date_to = filters.date_to or today
    date_from = filters.date_from or date_to - timedelta(days=DEFAULT_PERIOD_DAYS)
    if date_from > date_to:
        errors.append(FieldError("date_from", MESSAGE_PERIOD))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    by_id = {c.id: c for c in sites}
    if filters.clinic:
        unknown = [c for c in filters.clinic if c not in by_id]
        if unknown:
            raise NotFound(MESSAGE_SITE_NOT_FOUND)
        chosen = [by_id[c] for c in filters.clinic]
    else:
        chosen = sites
    summary = dashboard.outcomes_summary(
        clinics=chosen, date_from=date_from, date_to=date_to, group_by=filters.group_by
    )
    return summary


def _pair(value: tuple[float, float] | None) -> list[float] | None:
    return None if value is None else [round(value[0], 4), round(value[1], 4)]


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def group_out(g: dashboard.GroupSummary) -> dict[str, Any]:
    median = g.median_pain_change_percent
    mme = g.mean_mme_change
    return {
        "key": g.key,
        "label": g.label,
        "started": g.started,
        "series_completed": g.series_completed,
        "reassessed": g.reassessed,
        "responders_30": g.responders_30,
        "responders_50": g.responders_50,
        "rate_30": _share(g.rate_30),
        "ci_30": _pair(g.ci_30),
        "rate_50": _share(g.rate_50),
        "ci_50": _pair(g.ci_50),
        "rate_30_reassessed": _share(g.rate_30_reassessed),
        "rate_50_reassessed": _share(g.rate_50_reassessed),
        "low_baseline": g.low_baseline,
        "median_pain_change_percent": None if median is None else round(median, 1),
        "phq9_eligible": g.phq9_eligible,
        "phq9_response_rate": _share(g.phq9_response_rate),
        "phq9_remission_rate": _share(g.phq9_remission_rate),
        "opioid_users": g.opioid_users,
        "mean_mme_change": None if mme is None else round(mme, 1),
        "opioid_reduced_rate": _share(g.opioid_reduced_rate),
        "dropouts": g.dropouts,
        "dropout_rate": _share(g.dropout_rate),
        "adverse_event_rate": _share(g.adverse_event_rate),
    }


def _audit_summary(user: User, summary: dashboard.Summary, action: str) -> None:
    audit(
        user=user,
        action=action,
        object_type="outcomes_summary",
        detail={
            "clinics": [str(c.id) for c in summary.clinics],
            "date_from": summary.date_from.isoformat(),
            "date_to": summary.date_to.isoformat(),
            "group_by": summary.group_by,
        },
    )


@router.get("/outcomes/summary", response={200: dict, **ERRORS})
def outcomes_summary(request: HttpRequest, filters: Query[SummaryFilters]) -> dict[str, Any]:
    summary = summary_for(_user(request), filters)
    _audit_summary(_user(request), summary, Action.READ)
    return {
        "clinics": [c.id for c in summary.clinics],
        "date_from": summary.date_from,
        "date_to": summary.date_to,
        "group_by": summary.group_by,
        "note": summary.note,
        "groups": [group_out(g) for g in summary.groups],
        "total": group_out(summary.total),
    }


@router.get("/outcomes/summary.csv", response={200: None, **ERRORS})
def outcomes_summary_csv(request: HttpRequest, filters: Query[SummaryFilters]) -> HttpResponse:
    summary = summary_for(_user(request), filters)
    _audit_summary(_user(request), summary, Action.EXPORT)
    return summary_csv(summary)
