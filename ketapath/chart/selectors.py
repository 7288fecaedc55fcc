"""Compositions for the staff pages that show many apps at once (reads only)."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where, user_can_anywhere
from ketapath.clinics.models import Clinic, Closure, OpeningHours
from ketapath.core.capabilities import Capability
from ketapath.core.timeutils import age_on, local_day_bounds, local_today
from ketapath.medications.selectors import MedicationSummary, current_medications_summary
from ketapath.observations import selectors as observation_selectors
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.rules import VITAL_KINDS
from ketapath.patients import selectors as patient_selectors
from ketapath.patients.models import ConsentKind, Enrolment, Escort, Patient
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.selectors import latest_scores
from ketapath.scheduling.models import Appointment
from ketapath.treatments import selectors as session_selectors
from ketapath.treatments.models import DailyReadiness, TreatmentSession
from ketapath.treatments.selectors import ReassessmentDue
from ketapath.treatments.services import readiness_today


@dataclass(frozen=True)
class BannerItem:
    label: str
    value: str
    tone: str = "neutral"  # ok | warn | danger | neutral: shown as a word-bearing badge


@dataclass
class Banner:
    patient: Patient
    age: int
    items: list[BannerItem] = field(default_factory=list)


def allergy_banner_item(summary: patient_selectors.AllergySummary) -> BannerItem:
    """Allergies by name (a stop sign), "No known allergies", or "Not yet asked" (a warning:
    never shown as if there were none)."""
    if summary.status == "has_allergies":
        names = ", ".join(
            f"{a.substance} ({a.get_severity_display().lower()})" for a in summary.allergies
        )
        return BannerItem("Allergies", names, "danger")
    if summary.status == "none_known":
        return BannerItem("Allergies", "No known allergies", "ok")
    return BannerItem("Allergies", "Not yet asked", "warn")


def alert_banner_item(alerts: list[SafetyAlert]) -> BannerItem | None:
    """Open safety alerts stay on the banner until a clinician clears them."""
    if not alerts:
        return None
    escalated = sum(1 for a in alerts if a.status == SafetyAlert.Status.ESCALATED)
    text = f"{len(alerts)} open" + (f", {escalated} escalated" if escalated else "")
    return BannerItem("Safety alerts", text, "danger")


def patient_banner(
    *,
    patient: Patient,
    consent_statuses: list | None = None,
    allergies: patient_selectors.AllergySummary | None = None,
    alerts: list[SafetyAlert] | None = None,
) -> Banner:
    """Name, age, MRN, site, pathway, open safety alerts, allergies and treatment consent."""
    statuses = consent_statuses or patient_selectors.patient_consent_statuses(patient=patient)
    allergy_summary = allergies or patient_selectors.patient_allergies(patient=patient)
    open_alerts = (
        alerts if alerts is not None else observation_selectors.open_alerts_for_patient(patient)
    )
    banner = Banner(patient=patient, age=age_on(patient.birth_date, timezone.localdate()))
    banner.items.append(BannerItem("MRN", patient.mrn))
    banner.items.append(BannerItem("Born", f"{patient.birth_date:%Y-%m-%d}"))
    banner.items.append(BannerItem("Sex at birth", patient.get_sex_at_birth_display()))
    banner.items.append(BannerItem("Site", patient.preferred_clinic.name))
    banner.items.append(
        BannerItem(
            "Pathway", patient.get_pathway_display() if patient.pathway else "Not yet decided"
        )
    )
    alert_item = alert_banner_item(open_alerts)
    if alert_item is not None:
        banner.items.insert(0, alert_item)
    banner.items.append(allergy_banner_item(allergy_summary))
    treatment = next(s for s in statuses if s.kind == ConsentKind.KETAMINE_TREATMENT)
    if treatment.is_current:
        tone = "ok"
    elif treatment.state in ("missing", "withdrawn"):
        tone = "danger"
    else:
        tone = "warn"
    banner.items.append(
        BannerItem("Treatment consent", patient_selectors.STATE_LABELS[treatment.state], tone)
    )
    return banner


@dataclass
class PatientChart:
    patient: Patient
    banner: Banner
    enrolments: list[Enrolment]
    escorts: list[Escort]
    consent_statuses: list[patient_selectors.ConsentStatus]
    consents: list
    enrol_choices: list[Clinic]
    allergies: patient_selectors.AllergySummary
    alerts: list[SafetyAlert]
    scores: list[Response]
    vitals: list[tuple[str, Observation | None]]
    medications: MedicationSummary
    can_write: bool
    can_audit: bool


def patient_chart(*, user: User, patient: Patient) -> PatientChart:
    """Everything the chart page shows, in a fixed number of queries."""
    statuses = patient_selectors.patient_consent_statuses(patient=patient)
    allergies = patient_selectors.patient_allergies(patient=patient)
    alerts = observation_selectors.open_alerts_for_patient(patient)
    latest_vitals = observation_selectors.latest_vitals(patient)
    enrolments = patient_selectors.patient_enrolments(patient=patient)
    write_sites = clinics_where(user, Capability.PATIENT_WRITE)
    enrolled = {e.clinic_id for e in enrolments}
    enrol_choices = list(
        Clinic.objects.filter(id__in=write_sites - enrolled, active=True).order_by("name")
    )
    return PatientChart(
        patient=patient,
        banner=patient_banner(
            patient=patient, consent_statuses=statuses, allergies=allergies, alerts=alerts
        ),
        enrolments=enrolments,
        escorts=patient_selectors.patient_escorts(patient=patient),
        consent_statuses=statuses,
        consents=list(patient_selectors.patient_consents(patient=patient)[:50]),
        enrol_choices=enrol_choices,
        allergies=allergies,
        alerts=alerts,
        scores=sorted(latest_scores(patient=patient).values(), key=lambda r: r.instrument),
        vitals=[(kind.label, latest_vitals.get(kind.key)) for kind in VITAL_KINDS],
        medications=current_medications_summary(patient),
        can_write=bool(write_sites & getattr(patient, "access_clinic_ids", set())),
        can_audit=user_can_anywhere(user, Capability.AUDIT_READ),
    )


@dataclass
class TodayPage:
    clinic: Clinic
    day: date
    now_local: datetime
    hours: list[OpeningHours]
    closure: Closure | None
    patients_at_site: int
    reconsent_due: QuerySet[Patient]


def today_page(*, clinic: Clinic) -> TodayPage:
    """The site's day: opening hours or closure, and the patients whose treatment consent
    needs renewing. Appointments join this page when scheduling exists."""
    day = local_today(clinic.time_zone)
    hours = list(clinic.opening_hours.filter(weekday=day.weekday()).order_by("opens"))
    closure = clinic.closures.filter(start_date__lte=day, end_date__gte=day).first()
    patient_ids = Enrolment.objects.filter(clinic=clinic).values("patient_id")
    count = Patient.objects.filter(id__in=patient_ids, active=True).count()
    reconsent = patient_selectors.patients_needing_treatment_consent(clinic=clinic)
    return TodayPage(
        clinic=clinic,
        day=day,
        now_local=timezone.localtime(timezone.now(), timezone.get_current_timezone()),
        hours=hours,
        closure=closure,
        patients_at_site=count,
        reconsent_due=reconsent,
    )


# --- the Today page's session board ---------------------------------------------------------

# The state of a session appointment on the board, by word (DESIGN §11: word and shape).
STATE_NOT_OPENED = "not_opened"
SESSION_STATE_WORDS = {
    STATE_NOT_OPENED: "Not opened",
    "pre_check": "Pre-check",
    "dosed": "Dosed",
    "monitoring": "Monitoring",
    "ready": "Ready",
    "discharged": "Discharged",
    "signed": "Signed",
    "aborted": "Aborted",
}
# Appointments that are not on the board unless a session was opened for them.
BOARD_HIDDEN_APPOINTMENTS = ("cancelled", "no_show")


@dataclass(frozen=True)
class BoardRow:
    appointment: Appointment
    session: TreatmentSession | None
    state: str
    state_word: str
    vitals_due: int
    vitals_overdue: int
    next_vitals_at: datetime | None
    open_alerts: int
    can_open: bool  # checked in, no session yet, and the user documents sessions here


@dataclass(frozen=True)
class BoardRoom:
    name: str
    rows: list[BoardRow]


@dataclass(frozen=True)
class SessionBoard:
    rooms: list[BoardRoom]
    readiness: DailyReadiness | None
    reassessments: list[ReassessmentDue]
    sessions: int


def session_board(*, user: User, clinic: Clinic, day: date, now: datetime) -> SessionBoard:
    """The site's ketamine-session appointments of its local ``day`` by room, each with its
    session's state, vitals due and overdue, and open in-session alerts; whether today's
    readiness check is recorded; and the courses awaiting reassessment. A fixed number of
    queries however many sessions there are."""
    start, end = local_day_bounds(day, clinic.time_zone)
    appointments = list(
        Appointment.objects.filter(
            clinic=clinic,
            kind=Appointment.Kind.SESSION,
            starts_at__gte=start,
            starts_at__lt=end,
        )
        .select_related("patient", "room", "course__protocol")
        .order_by("room__name", "starts_at", "id")
    )
    sessions = {
        s.appointment_id: s for s in session_selectors.sessions_today(clinic=clinic, day=day)
    }
    readings = session_selectors.readings_for(list(sessions.values()))
    documents = user.can(Capability.SESSION_DOCUMENT, clinic.id)
    rooms: dict[str, list[BoardRow]] = {}
    for appointment in appointments:
        session = sessions.get(appointment.id)
        if session is None and appointment.status in BOARD_HIDDEN_APPOINTMENTS:
            continue
        due = overdue = alerts = 0
        next_at = None
        if session is not None:
            plan = session_selectors.vitals_plan(session, now, readings.get(session.id, []))
            summary = session_selectors.vitals_summary(plan)
            due, overdue, next_at = summary.due, summary.overdue, summary.next_due_at
            alerts = sum(1 for a in session.alerts.all() if a.is_open)
        state = session.status if session is not None else STATE_NOT_OPENED
        rooms.setdefault(appointment.room.name, []).append(
            BoardRow(
                appointment=appointment,
                session=session,
                state=state,
                state_word=SESSION_STATE_WORDS[state],
                vitals_due=due,
                vitals_overdue=overdue,
                next_vitals_at=next_at,
                open_alerts=alerts,
                can_open=documents
                and session is None
                and appointment.status == Appointment.Status.CHECKED_IN,
            )
        )
    return SessionBoard(
        rooms=[BoardRoom(name, rows) for name, rows in rooms.items()],
        readiness=readiness_today(clinic=clinic),
        reassessments=session_selectors.reassessments_due(clinic=clinic, today=day),
        sessions=len(sessions),
    )
