"""What the outbox sends about appointments and courses, kept in step with the calendar.

After every booking, move, cancellation or no-show the booking services call
:func:`course_messages_sync` (or :func:`visit_messages_sync` for a single visit), which
works out every message the course should still send — a reminder before each session
(the policy's ``reminder_lead_hours``) with the pre-session instructions, a link for each
measurement-schedule item, a daily check-in link — and queues, moves or cancels queued
rows to match. Messages already sent are history and are not sent again unless the thing
they were about moved. Confirmations, moves and cancellation notices are sent once, now.

Reads of the measurement schedule for pages and the API are here too, batched so a
site's overdue list costs a fixed number of queries.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Q, prefetch_related_objects
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.validators import format_phone
from ketapath.notifications.models import Message
from ketapath.notifications.privacy import plain
from ketapath.notifications.selectors import instructions_current
from ketapath.notifications.services import message_queue, messages_cancel
from ketapath.observations.models import DiaryEntry
from ketapath.patients.models import Pathway, Patient
from ketapath.questionnaires.instruments import get_instrument
from ketapath.questionnaires.models import Response
from ketapath.scheduling import measurement as m
from ketapath.scheduling.models import Appointment, Course

ABOUT_COURSE = "course"
ABOUT_APPOINTMENT = "appointment"
DEAD = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)
ACTIVE_COURSE = (
    Course.Status.SCHEDULED,
    Course.Status.IN_PROGRESS,
    Course.Status.AWAITING_REASSESSMENT,
)


def _when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local:%Z}"


def clinic_name(clinic: Clinic) -> str:
    """The site's name as messages may say it (privacy rule: "Denver Ketamine Clinic" is
    "Denver Clinic" on a lock screen)."""
    return plain(clinic.name, "your clinic")


def _address(clinic: Clinic) -> str:
    street = [plain(line, "") for line in (clinic.address_line1, clinic.address_line2)]
    parts = [*street, plain(clinic.city, ""), f"{clinic.state} {clinic.postal_code}".strip()]
    return ", ".join(p for p in parts if p)


def patient_context(patient: Patient, clinic: Clinic) -> dict[str, Any]:
    return {
        "first_name": patient.preferred_name or patient.given_name,
        "clinic_name": clinic_name(clinic),
        "clinic_phone": format_phone(clinic.phone),
        "clinic_address": _address(clinic),
        "time_zone": clinic.time_zone,
    }


# --- The measurement schedule ------------------------------------------------------------


def _plan(course: Course, sessions: list[Appointment], policy: ClinicPolicy) -> m.Plan:
    protocol = course.protocol
    pre = [c for c in protocol.pre_questionnaires if get_instrument(c) is not None]
    if course.pain_measures_added and m.PAIN not in pre:
        pre.append(m.PAIN)
    asked = set(protocol.pre_questionnaires) | set(protocol.post_questionnaires)
    mood: tuple[str, ...] = ()
    if course.pathway == Pathway.MENTAL_HEALTH_PRIMARY:
        mood = tuple(c for c in m.MOOD if c in asked) or ("phq-9", "gad-7")
    return m.Plan(
        course_id=course.id,
        sessions=tuple(
            m.Session(a.id, a.sequence or 0, a.starts_at)
            for a in sessions
            if a.kind == Appointment.Kind.SESSION and a.status not in DEAD
        ),
        pre_instruments=tuple(pre),
        mood_instruments=mood,
        reassessment_days=protocol.reassessment_days,
        follow_up_weeks=tuple(policy.follow_up_week_list),
        pre_hours=policy.pre_session_questionnaire_hours,
        time_zone=course.clinic.time_zone,
    )


@dataclass(frozen=True)
class ScheduleRow:
    course: Course
    item: m.Item
    status: str

    @property
    def instrument_title(self) -> str:
        if self.item.instrument == m.DIARY_INSTRUMENT:
            return "Daily pain diary"
        instrument = get_instrument(self.item.instrument)
        return instrument.title if instrument else self.item.instrument


def schedules_for(
    courses: Iterable[Course], *, now: datetime | None = None
) -> dict[UUID, list[ScheduleRow]]:
    """The schedule of each course with each item's status, in a fixed number of queries
    whatever the number of courses (sessions, answers, diaries, one policy per site, and
    the protocols and sites when the caller did not select them)."""
    now = now or timezone.now()
    courses = list(courses)
    if not courses:
        return {}
    ids = [c.id for c in courses]
    sessions: dict[UUID, list[Appointment]] = defaultdict(list)
    for a in Appointment.objects.filter(course_id__in=ids, kind=Appointment.Kind.SESSION):
        assert a.course_id is not None
        sessions[a.course_id].append(a)
    # The protocol and site of each course in one query each (none when the caller
    # selected them), and one policy per site, not per course.
    prefetch_related_objects(courses, "protocol", "clinic")
    sites = {c.clinic_id: c.clinic for c in courses}
    policies = {pk: clinic_policy_current(clinic=site) for pk, site in sites.items()}
    patients = {c.patient_id for c in courses}
    answers: dict[UUID, list[m.Answer]] = defaultdict(list)
    for r in Response.objects.filter(patient_id__in=patients).only(
        "patient_id", "instrument", "context", "context_id", "collected_at"
    ):
        answers[r.patient_id].append(
            m.Answer(r.instrument, r.context, r.context_id, r.collected_at)
        )
    diaries: dict[UUID | None, set[date]] = defaultdict(set)
    for d in DiaryEntry.objects.filter(course_id__in=ids).only("course_id", "day"):
        diaries[d.course_id].add(d.day)
    out: dict[UUID, list[ScheduleRow]] = {}
    for course in courses:
        plan = _plan(course, sessions[course.id], policies[course.clinic_id])
        items = m.plan_items(plan)
        keys = {item.key for item in items}
        out[course.id] = [
            ScheduleRow(
                course,
                item,
                m.item_status(item, answers[course.patient_id], diaries[course.id], now, keys=keys),
            )
            for item in items
        ]
    return out


def course_schedule(course: Course, *, now: datetime | None = None) -> list[ScheduleRow]:
    return schedules_for([course], now=now)[course.id]


def overdue_at(*, clinic: Clinic, now: datetime | None = None) -> list[ScheduleRow]:
    """Overdue items of the site's active courses, oldest first."""
    courses = (
        Course.objects.filter(clinic=clinic, status__in=ACTIVE_COURSE)
        .select_related("patient", "protocol", "clinic")
        .order_by("ordered_at")
    )
    rows = [
        row
        for schedule in schedules_for(courses, now=now).values()
        for row in schedule
        if row.status == m.OVERDUE
    ]
    return sorted(rows, key=lambda r: r.item.due_at)


# --- Keeping the outbox in step -----------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    kind: str
    due_at: datetime
    item_due: str
    context: dict[str, Any]
    link_request: dict[str, Any]


def _wanted(course: Course, now: datetime) -> dict[str, Wanted]:
    clinic = course.clinic
    zone = ZoneInfo(clinic.time_zone)
    policy = clinic_policy_current(clinic=clinic)
    base = patient_context(course.patient, clinic)
    sessions = list(
        course.appointments.filter(kind=Appointment.Kind.SESSION).exclude(status__in=DEAD)
    )
    wanted: dict[str, Wanted] = {}
    instructions = [i.text for i in instructions_current(patient_id=course.patient_id)]
    for a in sessions:
        if a.starts_at <= now or a.status != Appointment.Status.BOOKED:
            continue
        due = a.starts_at - _hours(policy.reminder_lead_hours)
        wanted[f"reminder:{a.id}"] = Wanted(
            kind="session_reminder",
            due_at=max(due, now),
            item_due=a.starts_at.isoformat(),
            context={
                **base,
                "when": _when(a.starts_at, zone),
                "fasting_food_hours": policy.fasting_food_hours,
                "fasting_clear_liquid_hours": policy.fasting_clear_liquid_hours,
                "prescriber_instructions": instructions,
            },
            link_request={},
        )
    groups: dict[UUID, list[m.Item]] = defaultdict(list)
    for item in m.plan_items(_plan(course, sessions, policy)):
        if item.closes_at > now:
            groups[item.key].append(item)
    for key, items in groups.items():
        first = items[0]
        if first.instrument == m.DIARY_INSTRUMENT:
            assert first.day is not None
            wanted[f"diary:{course.id}:{first.day.isoformat()}"] = Wanted(
                kind="diary_link",
                due_at=max(first.due_at, now),
                item_due=first.due_at.isoformat(),
                context=base,
                link_request={
                    "purpose": "diary",
                    "day": first.day.isoformat(),
                    "course_id": str(course.id),
                    "context": m.DIARY,
                    "context_id": str(key),
                },
            )
            continue
        codes = [i.instrument for i in items]
        wanted[f"measure:{course.id}:{key}"] = Wanted(
            kind="check_in_link",
            due_at=max(first.due_at, now),
            item_due=first.due_at.isoformat(),
            context={
                **base,
                "minutes": max(2, 2 * len(codes)),
                "due": _when(first.closes_at, zone) if first.context == m.PRE_SESSION else "",
            },
            link_request={
                "purpose": "questionnaires",
                "instruments": codes,
                "context": first.context,
                "context_id": str(key),
                "course_id": str(course.id),
            },
        )
    return wanted


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


def course_messages_sync(*, course: Course, user: User | None = None) -> None:
    """Queue, move or cancel the course's reminders and links to match its calendar."""
    now = timezone.now()
    wanted = (
        _wanted(course, now)
        if course.status not in (Course.Status.STOPPED, Course.Status.COMPLETED)
        else {}
    )
    # Only the messages this sync owns (reminders and links carry a key; confirmations
    # and notices do not and are never touched here).
    existing = Message.objects.exclude(dedupe_key="").filter(
        about_kind=ABOUT_COURSE,
        about_id=course.id,
        # A row that went out, or that ended failed or not sent, settles its item: the
        # outbox pages show the failure and staff resend by hand; only a move of the
        # appointment (a new item_due) queues a fresh one.
        status__in=[
            Message.Status.QUEUED,
            Message.Status.SENT,
            Message.Status.SENDING,
            Message.Status.FAILED,
            Message.Status.NOT_SENT,
        ],
    )
    queued: dict[str, Message] = {}
    done: dict[str, set[str]] = defaultdict(set)
    for msg in existing:
        if msg.status == Message.Status.QUEUED:
            queued[msg.dedupe_key] = msg
        else:
            done[msg.dedupe_key].add(str(msg.context.get("item_due", "")))
    for key, spec in wanted.items():
        if spec.item_due in done.get(key, set()):
            continue
        current = queued.get(key)
        if current is not None and current.context.get("item_due") == spec.item_due:
            continue
        message_queue(
            clinic=course.clinic,
            kind=spec.kind,
            context={**spec.context, "item_due": spec.item_due},
            due_at=spec.due_at,
            patient=course.patient,
            dedupe_key=key,
            link_request=spec.link_request,
            about_kind=ABOUT_COURSE,
            about_id=course.id,
            created_by=user,
        )
    stale = [key for key in queued if key not in wanted]
    messages_cancel(keys=stale, reason="No longer needed: the calendar changed.")


def booking_confirmation(
    *, patient: Patient, clinic: Clinic, starts: list[datetime], user: User | None, about: Any
) -> Message:
    """One confirmation, now, listing every booked time."""
    zone = ZoneInfo(clinic.time_zone)
    return message_queue(
        clinic=clinic,
        kind="appointment_confirmation",
        context={
            **patient_context(patient, clinic),
            "times": [_when(s, zone) for s in sorted(starts)],
            "count": len(starts),
        },
        due_at=timezone.now(),
        patient=patient,
        about_kind=about[0],
        about_id=about[1],
        created_by=user,
    )


def appointment_notice(
    *, appointment: Appointment, kind: str, user: User | None, was: datetime | None = None
) -> Message:
    """A cancellation notice or a moved notice for one appointment, sent now."""
    clinic = appointment.clinic
    zone = ZoneInfo(clinic.time_zone)
    context = {
        **patient_context(appointment.patient, clinic),
        "when": _when(appointment.starts_at, zone),
    }
    if was is not None:
        context["was"] = _when(was, zone)
    return message_queue(
        clinic=clinic,
        kind=kind,
        context=context,
        due_at=timezone.now(),
        patient=appointment.patient,
        about_kind=ABOUT_APPOINTMENT,
        about_id=appointment.id,
        created_by=user,
    )


def visit_messages_sync(*, appointment: Appointment, user: User | None = None) -> None:
    """A single visit's reminder: queued while it is booked and ahead, cancelled else."""
    key = f"reminder:{appointment.id}"
    now = timezone.now()
    if appointment.status != Appointment.Status.BOOKED or appointment.starts_at <= now:
        messages_cancel(keys=[key], reason="No longer needed: the appointment changed.")
        return
    clinic = appointment.clinic
    policy = clinic_policy_current(clinic=clinic)
    zone = ZoneInfo(clinic.time_zone)
    item_due = appointment.starts_at.isoformat()
    if (
        Message.objects.filter(dedupe_key=key)
        .filter(
            Q(status=Message.Status.QUEUED) | Q(status=Message.Status.SENT),
            context__item_due=item_due,
        )
        .exists()
    ):
        return
    message_queue(
        clinic=clinic,
        kind="visit_reminder",
        context={
            **patient_context(appointment.patient, clinic),
            "when": _when(appointment.starts_at, zone),
            "item_due": item_due,
        },
        due_at=max(appointment.starts_at - _hours(policy.reminder_lead_hours), now),
        patient=appointment.patient,
        dedupe_key=key,
        about_kind=ABOUT_APPOINTMENT,
        about_id=appointment.id,
        created_by=user,
    )
