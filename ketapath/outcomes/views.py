"""Outcome pages: a course's reassessment with the decision form, the courses awaiting it,
and the clinic outcomes dashboard with its CSV export."""

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ketapath.accounts.models import User
from ketapath.accounts.permissions import user_can_anywhere
from ketapath.accounts.services import Action, audit
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError
from ketapath.core.pagination import clamp_page, paginate
from ketapath.outcomes import charts, dashboard, selectors, services
from ketapath.outcomes.api import MESSAGE_READ_FORBIDDEN
from ketapath.outcomes.export import summary_csv
from ketapath.outcomes.forms import DashboardForm, DecisionForm
from ketapath.outcomes.rules import PainCategory, display_percent

CATEGORY_TONES = {
    PainCategory.SUBSTANTIAL: "badge-ok",
    PainCategory.MODERATE: "badge-ok",
    PainCategory.MINIMAL: "badge-warn",
    PainCategory.NONE: "badge-warn",
    PainCategory.WORSE: "badge-danger",
    PainCategory.NOT_COMPUTABLE: "badge-neutral",
}
MEASURE_LABELS = {
    "pain-nrs": ("Average pain, past week", "0–10"),
    "peg": ("PEG (pain, enjoyment, general activity)", "0–10"),
    "phq-9": ("PHQ-9 depression", "0–27"),
    "pcl-5": ("PCL-5 PTSD symptoms", "0–80"),
    "gad-7": ("GAD-7 anxiety", "0–21"),
}
SERIES_PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _course(request: HttpRequest, course_id: UUID) -> Any:
    course = selectors.course_for_user(user=_user(request), course_id=course_id)
    if course is None:
        raise Http404
    if not _user(request).can(Capability.OUTCOMES_READ, course.clinic_id):
        raise PermissionDenied(MESSAGE_READ_FORBIDDEN)
    return course


def _rows(r: selectors.Reassessment) -> list[dict[str, Any]]:
    rows = []
    for code, pair in r.measures.items():
        if pair.baseline is None and pair.current is None:
            continue
        change = pair.change
        label, scale = MEASURE_LABELS[code]
        rows.append(
            {
                "code": code,
                "label": label,
                "scale": scale,
                "pair": pair,
                "points": change.points if change else None,
                "percent": display_percent(change.percent) if change else None,
            }
        )
    return rows


def _reassessment_page(
    request: HttpRequest, course: Any, form: DecisionForm | None = None, status: int = 200
) -> HttpResponse:
    r = selectors.course_reassessment(course=course)
    can_decide = _user(request).can(Capability.COURSE_ORDER, course.clinic_id)
    if form is None:
        form = DecisionForm(
            initial={"decision": "continue" if r.recommendation.code == "continue" else "stop"}
        )
    return render(
        request,
        "outcomes/reassessment.html",
        {
            "patient": course.patient,
            "course": course,
            "r": r,
            "rows": _rows(r),
            "pain_percent": display_percent(r.pain.change.percent) if r.pain else None,
            "category_tone": CATEGORY_TONES.get(r.pain.category, "badge-neutral") if r.pain else "",
            "can_decide": can_decide and r.decision is None,
            "form": form,
        },
        status=status,
    )


@login_required
@require_GET
def reassessment(request: HttpRequest, course_id: UUID) -> HttpResponse:
    course = _course(request, course_id)
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        object_type="course_reassessment",
        object_id=course.id,
        detail={"page": "reassessment"},
    )
    return _reassessment_page(request, course)


@login_required
@require_POST
def decide(request: HttpRequest, course_id: UUID) -> HttpResponse:
    course = _course(request, course_id)
    if not _user(request).can(Capability.COURSE_ORDER, course.clinic_id):
        raise PermissionDenied(services.MESSAGE_DECIDE_FORBIDDEN)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            record = services.course_decide(
                user=_user(request),
                course=course,
                decision=form.cleaned_data["decision"],
                rationale=form.cleaned_data["rationale"],
                benefit=form.cleaned_data.get("benefit") or "",
            )
        except ApplicationError as exc:
            for error in exc.errors or []:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.rule)
            if not exc.errors:
                form.add_error(None, exc.message)
        else:
            if record.continuation_id:
                return redirect(reverse("scheduling:course", args=[record.continuation_id]))
            return redirect(reverse("outcomes:reassessment", args=[course.id]))
    return _reassessment_page(request, course, form, status=422)


def _dashboard_summary(
    request: HttpRequest,
) -> tuple[DashboardForm, dashboard.Summary | None, set[Any]]:
    sites, own = dashboard.outcome_sites(_user(request))
    if not sites:
        raise PermissionDenied(MESSAGE_READ_FORBIDDEN)
    form = DashboardForm(request.GET or None, sites=sites, own=own)
    if request.GET:
        if not form.is_valid():
            return form, None, own
        data = form.cleaned_data
    else:
        # No filter yet: the defaults (every site, the last twelve months, by pathway).
        defaults = DashboardForm({}, sites=sites, own=own)
        defaults.is_valid()
        data = defaults.cleaned_data
        form = DashboardForm(
            sites=sites,
            own=own,
            initial={k: data[k] for k in ("date_from", "date_to", "group_by")},
        )
    summary = dashboard.outcomes_summary(
        clinics=data["clinics"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        group_by=data["group_by"],
    )
    return form, summary, own


def _without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _audit_summary(request: HttpRequest, summary: dashboard.Summary, action: str) -> None:
    audit(
        user=_user(request),
        action=action,
        object_type="outcomes_summary",
        detail={
            "clinics": [str(c.id) for c in summary.clinics],
            "date_from": summary.date_from.isoformat(),
            "date_to": summary.date_to.isoformat(),
            "group_by": summary.group_by,
            "page": "dashboard",
        },
    )


@login_required
@require_GET
def outcomes_dashboard(request: HttpRequest) -> HttpResponse:
    form, summary, own = _dashboard_summary(request)
    context: dict[str, Any] = {"form": form, "summary": summary}
    if summary is not None:
        _audit_summary(request, summary, Action.READ)
        mine = [c for c in summary.clinics if c.id in own]
        series = dashboard.series_list(
            clinics=mine, date_from=summary.date_from, date_to=summary.date_to
        )
        context.update(
            {
                "chart": charts.rates_svg(summary),
                "page": paginate(series, clamp_page(request.GET.get("page"))[0], SERIES_PAGE_SIZE),
                "querystring": _without_page(request),
                "detail_sites": mine,
                "aggregate_only_sites": [c for c in summary.clinics if c.id not in own],
                "csv_query": _without_page(request),
            }
        )
    return render(request, "outcomes/dashboard.html", context, status=200 if summary else 422)


@login_required
@require_GET
def outcomes_csv(request: HttpRequest) -> HttpResponse:
    _form, summary, _own = _dashboard_summary(request)
    if summary is None:
        return redirect(reverse("outcomes:dashboard") + "?" + request.GET.urlencode())
    _audit_summary(request, summary, Action.EXPORT)
    return summary_csv(summary)


DUE_PAGE_SIZE = 25
DUE_STATES = {
    selectors.DueState.DECIDE: ("Measures in: decide", "badge-warn"),
    selectors.DueState.OVERDUE: ("Overdue: window closed", "badge-danger"),
    selectors.DueState.OPEN: ("Window open", "badge-info"),
    selectors.DueState.NOT_YET: ("Not due yet", "badge-neutral"),
}


@login_required
@require_GET
def reassessments_due(request: HttpRequest) -> HttpResponse:
    """Courses at the user's sites awaiting the reassessment and the prescriber's decision."""
    if not user_can_anywhere(_user(request), Capability.OUTCOMES_READ):
        raise PermissionDenied(MESSAGE_READ_FORBIDDEN)
    page = paginate(
        selectors.reassessments_due(user=_user(request)),
        clamp_page(request.GET.get("page"))[0],
        DUE_PAGE_SIZE,
    )
    now = timezone.now()
    rows = [selectors.due_state(course, now=now) for course in page.items]
    audit(
        user=_user(request),
        action=Action.READ,
        object_type="reassessments_due",
        detail={"page": page.number, "courses": [str(r.course.id) for r in rows]},
    )
    return render(
        request,
        "outcomes/due.html",
        {
            "page": page,
            "rows": [(row, *DUE_STATES[row.state]) for row in rows],
            "querystring": "",
            "early_days": selectors.REASSESSMENT_EARLY_DAYS,
        },
    )
