"""The patient chart and the site's Today page."""

from datetime import date
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.permissions import user_can
from ketapath.accounts.services import Action, audit
from ketapath.chart import selectors
from ketapath.core.capabilities import Capability
from ketapath.core.pagination import clamp_page, paginate
from ketapath.evaluations.selectors import evaluations_for_patient
from ketapath.outcomes.timeline import timeline_card_context
from ketapath.patients.models import Pathway
from ketapath.patients.selectors import STATE_LABELS, treatment_consent_state_of
from ketapath.patients.views import patient_for_request
from ketapath.scheduling.messaging import overdue_at
from ketapath.scheduling.models import Appointment
from ketapath.scheduling.selectors import appointments_for_user, courses_for_user
from ketapath.scheduling.views import STATUS_BADGES
from ketapath.treatments import selectors as session_selectors
from ketapath.treatments.selectors import ReassessmentDue

# The chart lists the latest evaluations; the evaluations page has them all.
CHART_EVALUATIONS_SHOWN = 5
CHART_COURSES_SHOWN = 5
CHART_SESSIONS_SHOWN = 5


@login_required
def patient_chart(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id, audit_read=True)
    chart = selectors.patient_chart(user=request.user, patient=patient)  # type: ignore[arg-type]
    sites: set[UUID] = getattr(patient, "access_clinic_ids", set())
    user: User = request.user  # type: ignore[assignment]

    def can(capability: Capability) -> bool:
        return any(user_can(request.user, capability, site) for site in sites)

    return render(
        request,
        "chart/patient.html",
        {
            "chart": chart,
            "patient": patient,
            **(timeline_card_context(patient=patient) if can(Capability.OUTCOMES_READ) else {}),
            "banner": chart.banner,
            # Links only; each page checks its own rule (e.g. a therapist clears alerts of
            # behavioral-health patients).
            "can_clear_alerts": can(Capability.ALERT_ACK)
            or (
                can(Capability.QUESTIONNAIRE_ENTER) and patient.pathway == Pathway.BEHAVIORAL_HEALTH
            ),
            "can_enter_measures": can(Capability.QUESTIONNAIRE_ENTER),
            "can_read_evaluations": can(Capability.EVALUATION_READ),
            "evaluations": list(evaluations_for_patient(patient=patient)[:CHART_EVALUATIONS_SHOWN])
            if can(Capability.EVALUATION_READ)
            else [],
            "can_record_vitals": can(Capability.QUESTIONNAIRE_ENTER)
            and can(Capability.PATIENT_WRITE),
            "courses": list(
                courses_for_user(user=user, patient_id=patient.id)[:CHART_COURSES_SHOWN]
            ),
            "next_appointment": appointments_for_user(user=user, patient_id=patient.id)
            .filter(ends_at__gt=timezone.now())
            .exclude(status="cancelled")
            .select_related("course__protocol")
            .first(),
            "can_order_course": can(Capability.COURSE_ORDER),
            "can_read_sessions": can(Capability.SESSION_DOCUMENT),
            "sessions": list(
                session_selectors.sessions_for_patient(user=user, patient_id=patient.id)[
                    :CHART_SESSIONS_SHOWN
                ]
            )
            if can(Capability.SESSION_DOCUMENT)
            else [],
        },
    )


TODAY_APPOINTMENTS = 100

# A session's state by word and shape as well as colour (DESIGN §11): the shape comes from
# the class (○ not opened, ● in progress, ✓ done, ! to sign, ⊘ aborted).
SESSION_STATE_BADGES: dict[str, str] = {
    selectors.STATE_NOT_OPENED: "badge-neutral st-booked",
    "pre_check": "badge-info",
    "dosed": "badge-info",
    "monitoring": "badge-info",
    "ready": "badge-ok",
    "discharged": "badge-warn",
    "signed": "badge-ok",
    "aborted": "badge-neutral st-cancelled",
}


def _url(name: str, fallback: str, *args: object) -> str:
    """A page of the session workflow by its name, or its plain path while that page's
    URL is not yet mounted."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def _due_words(due_on: date, today: date) -> str:
    days = (due_on - today).days
    if days < 0:
        return f"Overdue by {-days} day{'s' if days != -1 else ''}"
    if days == 0:
        return "Due today"
    return f"Due in {days} day{'s' if days != 1 else ''}"


def _reassessment_rows(
    board: selectors.SessionBoard, today: date, user: object
) -> list[tuple[ReassessmentDue, str, bool]]:
    """Each course due for reassessment, its due date in words, and whether the current
    user ordered it ("yours")."""
    user_id = getattr(user, "pk", None)
    return [
        (r, _due_words(r.due_on, today), r.course.ordered_by_id == user_id)
        for r in board.reassessments
    ]


def _board_links(board: selectors.SessionBoard) -> dict[str, dict[UUID, str]]:
    links: dict[str, dict[UUID, str]] = {"session": {}, "note": {}, "open": {}}
    for room in board.rooms:
        for row in room.rows:
            a = row.appointment
            if row.session is not None:
                sid = row.session.id
                links["session"][a.id] = _url("treatments:session", f"/sessions/{sid}/", sid)
                links["note"][a.id] = _url("treatments:note", f"/sessions/{sid}/note/", sid)
            elif row.can_open:
                links["open"][a.id] = _url(
                    "treatments:session_open", f"/appointments/{a.id}/session/open/", a.id
                )
    return links


@login_required
def today(request: HttpRequest) -> HttpResponse:
    clinic = getattr(request, "clinic", None)
    if clinic is None:
        return render(request, "chart/no_site.html", status=200)
    page = selectors.today_page(clinic=clinic)
    number, size = clamp_page(request.GET.get("page"))
    due = paginate(page.reconsent_due, number, size)
    states = [(p, treatment_consent_state_of(p)) for p in due.items]
    reconsent = [(p, state, STATE_LABELS[state]) for p, state in states]
    can_read = user_can(request.user, Capability.PATIENT_READ, clinic.id)
    appointments: list[Appointment] = []
    overdue = 0
    board: selectors.SessionBoard | None = None
    if can_read:
        assert isinstance(request.user, User)
        # A day's appointments at one site are few; the first 100 are shown.
        appointments = list(
            appointments_for_user(
                user=request.user, clinic_id=clinic.id, date_from=page.day, date_to=page.day
            )[:TODAY_APPOINTMENTS]
        )
        overdue = len(overdue_at(clinic=clinic))
        # The session board is for those who document sessions here (DESIGN §10).
        if user_can(request.user, Capability.SESSION_DOCUMENT, clinic.id):
            board = selectors.session_board(
                user=request.user, clinic=clinic, day=page.day, now=timezone.now()
            )
        audit(
            user=request.user,
            action=Action.READ,
            clinic_id=clinic.id,
            object_type="today_page",
            detail={
                "appointments": len(appointments),
                **({"sessions": board.sessions} if board is not None else {}),
            },
        )
    return render(
        request,
        "chart/today.html",
        {
            "page": page,
            "reconsent": reconsent,
            "due": due,
            "querystring": "",
            "appointments": appointments,
            "overdue_count": overdue,
            "can_read_patients": can_read,
            "can_register": user_can(request.user, Capability.PATIENT_WRITE, clinic.id),
            "can_book": user_can(request.user, Capability.SCHEDULE_WRITE, clinic.id),
            "status_badges": STATUS_BADGES,
            "board": board,
            "state_badges": SESSION_STATE_BADGES,
            "board_links": _board_links(board) if board is not None else {},
            "reassessments": _reassessment_rows(board, page.day, request.user)
            if board is not None
            else [],
            "readiness_url": _url("treatments:readiness", "/sessions/readiness/"),
        },
    )
