"""Reads of ketamine sessions, scoped to the user's sites and the session-note roles."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, QuerySet

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where, denial_reason
from ketapath.accounts.services import Action, audit
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Forbidden, NotFound
from ketapath.core.timeutils import local_day_bounds
from ketapath.observations.models import Observation
from ketapath.scheduling.models import Course
from ketapath.treatments import rules
from ketapath.treatments.models import TreatmentSession

# A reading counts for a scheduled one within this many minutes either side of its due
# time. A workflow choice (no source sets it): a nurse at the bedside takes a set of vitals
# within a few minutes of the mark; later than this it shows as overdue.
VITALS_GRACE_MINUTES = 5

MESSAGE_SESSION_NOT_FOUND = "No such session among your sites."
MESSAGE_CLINIC_NOT_FOUND = "No such clinic among your sites."


def _base() -> QuerySet[TreatmentSession]:
    return TreatmentSession.objects.select_related(
        "clinic", "patient", "course", "appointment", "appointment__room", "opened_by"
    )


def _deny(user: User, session_id: UUID, clinic_id: UUID | None, reason: str) -> None:
    audit(
        user=user,
        action=Action.READ,
        outcome=AuditEvent.Outcome.DENIED,
        clinic_id=clinic_id,
        object_type="treatment_session",
        object_id=session_id,
        detail={"reason": reason},
    )


def session_get_for_user(
    *,
    user: User,
    session_id: UUID | str,
    capability: Capability = Capability.SESSION_DOCUMENT,
) -> TreatmentSession:
    """The session if it is at one of the user's sites (else NotFound) and the user's role
    there allows ``capability`` (else Forbidden); denials are audited."""
    try:
        sid = session_id if isinstance(session_id, UUID) else UUID(str(session_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_SESSION_NOT_FOUND) from exc
    session = _base().filter(id=sid, clinic_id__in=clinic_ids_for(user)).first()
    if session is None:
        _deny(user, sid, None, "not_at_your_sites")
        raise NotFound(MESSAGE_SESSION_NOT_FOUND)
    if session.clinic_id not in clinics_where(user, capability):
        _deny(user, sid, session.clinic_id, "role")
        raise Forbidden(denial_reason(user, capability, session.clinic_id))
    return session


def session_clinic_for_user(*, user: User, clinic_id: UUID | str) -> Clinic:
    """A site among the user's (else NotFound) where the user documents sessions (else
    Forbidden)."""
    try:
        cid = clinic_id if isinstance(clinic_id, UUID) else UUID(str(clinic_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND) from exc
    if cid not in clinic_ids_for(user):
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    if cid not in clinics_where(user, Capability.SESSION_DOCUMENT):
        raise Forbidden(denial_reason(user, Capability.SESSION_DOCUMENT, cid))
    return Clinic.objects.get(id=cid)


def sessions_for_user(
    *,
    user: User,
    clinic: Clinic | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str | None = None,
) -> QuerySet[TreatmentSession]:
    """Sessions at the sites where the user documents sessions (or at ``clinic``), by the
    appointment's local date (inclusive bounds), optionally of one status."""
    if clinic is not None:
        clinics = [clinic]
    else:
        clinics = list(
            Clinic.objects.filter(id__in=clinics_where(user, Capability.SESSION_DOCUMENT))
        )
    if not clinics:
        return TreatmentSession.objects.none()
    where = Q()
    for site in clinics:
        here = Q(clinic_id=site.id)
        if date_from is not None:
            here &= Q(appointment__starts_at__gte=local_day_bounds(date_from, site.time_zone)[0])
        if date_to is not None:
            here &= Q(appointment__starts_at__lt=local_day_bounds(date_to, site.time_zone)[1])
        where |= here
    sessions = _base().filter(where)
    if status:
        sessions = sessions.filter(status=status)
    return sessions.order_by("appointment__starts_at", "id")


def documenting_clinic_ids(*, user: User) -> set[UUID]:
    return clinics_where(user, Capability.SESSION_DOCUMENT)


# --- a session's readings, vitals plan and discharge ---------------------------------------


@dataclass(frozen=True)
class Reading:
    """One set of vitals taken together in a session."""

    taken_at: datetime
    values: dict[str, int]  # systolic, diastolic, heart_rate, spo2, respiratory_rate
    taken_by: str


VITAL_CODES = {
    "8480-6": "systolic",
    "8462-4": "diastolic",
    "8867-4": "heart_rate",
    "2708-6": "spo2",
    "9279-1": "respiratory_rate",
}


def session_readings(session: TreatmentSession) -> list[Reading]:
    """The session's vitals, one row per time taken, oldest first (one query)."""
    rows = (
        Observation.objects.filter(
            context_kind=Observation.ContextKind.SESSION,
            context_id=session.id,
            code__in=VITAL_CODES,
        )
        .select_related("taken_by")
        .order_by("taken_at")
    )
    grouped: dict[datetime, Reading] = {}
    for row in rows:
        reading = grouped.setdefault(
            row.taken_at, Reading(row.taken_at, {}, row.taken_by.display_name)
        )
        reading.values[VITAL_CODES[row.code]] = int(row.value)
    return list(grouped.values())


def vitals_offsets(session: TreatmentSession, now: datetime) -> list[int]:
    """Minutes after the dose at which vitals are due: the template's schedule, or else the
    default for its route (rules.vitals_schedule) over the template's observation time;
    then every 15 minutes until discharge (clinical.md §5)."""
    template = session.course.protocol
    offsets = sorted({int(o) for o in (template.vitals_offsets or [])})
    if not offsets:
        infusion = (
            session.infusion_minutes or template.dose_minutes
            if template.route == rules.ROUTE_IV
            else None
        )
        offsets = rules.vitals_schedule(template.route, template.observation_minutes, infusion)
    if session.given_at is None:
        return offsets
    end = session.discharged_at or now
    elapsed = int((end - session.given_at).total_seconds() // 60)
    extra = offsets[-1] + rules.AFTER_EVERY
    while extra <= elapsed:
        offsets.append(extra)
        extra += rules.AFTER_EVERY
    return offsets


def vitals_plan(
    session: TreatmentSession, now: datetime, readings: list[Reading] | None = None
) -> list[rules.VitalsDue]:
    """Each scheduled reading's state (done, due, overdue, upcoming) once the dose is given;
    empty before."""
    if session.given_at is None:
        return []
    readings = session_readings(session) if readings is None else readings
    offsets = vitals_offsets(session, now)
    if session.discharged_at is not None:
        now = session.discharged_at
        limit = int((session.discharged_at - session.given_at).total_seconds() // 60)
        offsets = [o for o in offsets if o <= limit] or offsets[:1]
    return rules.vitals_due(
        offsets, session.given_at, [r.taken_at for r in readings], now, VITALS_GRACE_MINUTES
    )


@dataclass(frozen=True)
class VitalsSummary:
    due: int
    overdue: int
    next_due_at: datetime | None


def vitals_summary(plan: list[rules.VitalsDue]) -> VitalsSummary:
    due = sum(1 for p in plan if p.status == rules.VitalsStatus.DUE)
    overdue = sum(1 for p in plan if p.status == rules.VitalsStatus.OVERDUE)
    upcoming = [p.due_at for p in plan if p.status == rules.VitalsStatus.UPCOMING]
    return VitalsSummary(due, overdue, min(upcoming) if upcoming else None)


def sessions_today(*, clinic: Clinic, day: date) -> list[TreatmentSession]:
    """The site's sessions on its local ``day`` with what the Today page shows of them
    (alerts, overrides) fetched in a fixed number of queries."""
    start, end = local_day_bounds(day, clinic.time_zone)
    return list(
        _base()
        .filter(clinic=clinic, appointment__starts_at__gte=start, appointment__starts_at__lt=end)
        .select_related("course__protocol", "appointment__nurse", "appointment__prescriber")
        .prefetch_related("alerts")
        .order_by("appointment__room__name", "appointment__starts_at")
    )


def readings_for(sessions: list[TreatmentSession]) -> dict[UUID, list[Reading]]:
    """The vitals of many sessions in one query, by session id."""
    ids = [s.id for s in sessions]
    out: dict[UUID, dict[datetime, Reading]] = {sid: {} for sid in ids}
    rows = Observation.objects.filter(
        context_kind=Observation.ContextKind.SESSION, context_id__in=ids, code__in=VITAL_CODES
    ).order_by("taken_at")
    for row in rows:
        assert row.context_id is not None
        reading = out[row.context_id].setdefault(row.taken_at, Reading(row.taken_at, {}, ""))
        reading.values[VITAL_CODES[row.code]] = int(row.value)
    return {sid: list(by_time.values()) for sid, by_time in out.items()}


@dataclass(frozen=True)
class ReassessmentDue:
    course: Course
    last_session_on: date
    due_on: date
    overdue: bool


def reassessments_due(*, clinic: Clinic, today: date) -> list[ReassessmentDue]:
    """Courses at the site awaiting reassessment, with the date it is due (the last signed
    session's local date plus the template's reassessment days), earliest first. One
    query; the last session date is aggregated in the database."""
    courses = (
        Course.objects.filter(clinic=clinic, status=Course.Status.AWAITING_REASSESSMENT)
        .select_related("patient", "protocol", "ordered_by")
        .annotate(last_given=Max("sessions__given_at", filter=Q(sessions__status="signed")))
    )
    zone = ZoneInfo(clinic.time_zone)
    out = []
    for course in courses:
        last = course.last_given.astimezone(zone).date() if course.last_given else today
        due = last + timedelta(days=course.protocol.reassessment_days)
        out.append(ReassessmentDue(course, last, due, due < today))
    return sorted(out, key=lambda r: (r.due_on, r.course.patient.family_name))


def sessions_for_patient(*, user: User, patient_id: UUID) -> QuerySet[TreatmentSession]:
    """The patient's sessions at the sites where the user documents sessions, latest first,
    with the count of adverse events aggregated in the database."""
    return (
        _base()
        .filter(
            patient_id=patient_id,
            clinic_id__in=clinics_where(user, Capability.SESSION_DOCUMENT),
        )
        .select_related("course__protocol")
        .annotate(adverse_event_count=Count("adverse_events", distinct=True))
        .order_by("-appointment__starts_at", "-id")
    )
