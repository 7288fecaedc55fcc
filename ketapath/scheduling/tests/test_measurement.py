"""The measurement schedule of a course: the pure plan (items and their times, across a
daylight-saving change) and item status, then the schedule and the outbox kept in step
with the calendar as sessions are booked, moved and cancelled."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Room
from ketapath.notifications.models import Message
from ketapath.notifications.privacy import privacy_problems
from ketapath.notifications.rendering import LINK_PLACEHOLDER
from ketapath.patients.models import Pathway, Patient
from ketapath.questionnaires.services import response_record
from ketapath.scheduling import booking, messaging, rules
from ketapath.scheduling import measurement as m
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests import test_booking
from ketapath.scheduling.tests.test_booking import choices_of, rota

pytestmark = pytest.mark.django_db
# The booking tests' course: a planned pain series for ``patient`` at ``site``.
course = test_booking.course

UTC_ = ZoneInfo("UTC")
DENVER = ZoneInfo("America/Denver")
CHICAGO = ZoneInfo("America/Chicago")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def plan(
    sessions: list[datetime],
    *,
    zone: str = "America/Denver",
    mood: tuple[str, ...] = (),
    pre: tuple[str, ...] = ("pain-nrs", "peg"),
    reassessment_days: int = 7,
    weeks: tuple[int, ...] = (1, 4, 12),
    pre_hours: int = 24,
) -> m.Plan:
    return m.Plan(
        course_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        sessions=tuple(
            m.Session(uuid.UUID(int=i + 1), i + 1, start) for i, start in enumerate(sessions)
        ),
        pre_instruments=pre,
        mood_instruments=mood,
        reassessment_days=reassessment_days,
        follow_up_weeks=weeks,
        pre_hours=pre_hours,
        time_zone=zone,
    )


# Mon 2 Jun, Wed 4 Jun and Fri 6 Jun 2025, 10:00 in Denver (MDT, UTC-6).
SERIES = [local(DENVER, 2025, 6, d, 10) for d in (2, 4, 6)]


def by_context(items: list[m.Item], context: str) -> list[m.Item]:
    return [i for i in items if i.context == context]


# --- The plan (pure) ---------------------------------------------------------------------


def test_pre_session_items_are_due_24_hours_before_each_session() -> None:
    p = plan(SERIES)
    pre = by_context(m.plan_items(p), m.PRE_SESSION)
    assert [(i.appointment_id, i.instrument) for i in pre] == [
        (s.appointment_id, code) for s in p.sessions for code in ("pain-nrs", "peg")
    ]
    for item in pre:
        session = next(s for s in p.sessions if s.appointment_id == item.appointment_id)
        assert item.key == session.appointment_id
        assert item.due_at == session.start - timedelta(hours=24)
        assert item.closes_at == session.start
        assert item.label == f"Before session {session.sequence}"


def test_pre_hours_come_from_the_plan() -> None:
    pre = by_context(m.plan_items(plan(SERIES, pre_hours=48)), m.PRE_SESSION)
    assert pre[0].due_at == SERIES[0] - timedelta(hours=48)


def test_reassessment_is_at_nine_site_time_after_the_last_day() -> None:
    items = by_context(m.plan_items(plan(SERIES)), m.REASSESSMENT)
    assert [i.instrument for i in items] == ["pain-nrs", "peg"]
    due = local(DENVER, 2025, 6, 13, 9)  # Fri 6 Jun + 7 days, 09:00 MDT
    assert {i.due_at for i in items} == {due}
    assert due.astimezone(UTC_).hour == 15
    assert {i.closes_at for i in items} == {due + timedelta(days=7)}
    assert len({i.key for i in items}) == 1
    assert items[0].label == "Reassessment, 7 days after the series"

    later = by_context(m.plan_items(plan(SERIES, reassessment_days=10)), m.REASSESSMENT)
    assert later[0].due_at == local(DENVER, 2025, 6, 16, 9)


def test_follow_ups_are_at_one_four_and_twelve_weeks() -> None:
    # With the reassessment on the last day itself, it closes as the 1-week follow-up opens.
    items = by_context(m.plan_items(plan(SERIES, reassessment_days=0)), m.FOLLOW_UP)
    dues = sorted({i.due_at for i in items})
    assert dues == [
        local(DENVER, 2025, 6, 13, 9),
        local(DENVER, 2025, 7, 4, 9),
        local(DENVER, 2025, 8, 29, 9),
    ]
    assert len({i.key for i in items}) == 3
    labels = {i.label for i in items}
    assert labels == {
        "Follow-up, 1 week after the series",
        "Follow-up, 4 weeks after the series",
        "Follow-up, 12 weeks after the series",
    }
    assert all({i.instrument for i in items if i.due_at == d} == {"pain-nrs", "peg"} for d in dues)
    assert by_context(m.plan_items(plan(SERIES, weeks=())), m.FOLLOW_UP) == []


def test_a_follow_up_inside_the_open_reassessment_is_not_asked_twice() -> None:
    # Reassessment on day 7 is open a week; the 1-week follow-up (day 7) falls inside it,
    # the 4- and 12-week ones do not.
    items = by_context(m.plan_items(plan(SERIES)), m.FOLLOW_UP)
    assert sorted({i.due_at for i in items}) == [
        local(DENVER, 2025, 7, 4, 9),
        local(DENVER, 2025, 8, 29, 9),
    ]
    # Reassessment on day 3 is still open on day 7: that follow-up is left out too.
    mid = by_context(m.plan_items(plan(SERIES, reassessment_days=3)), m.FOLLOW_UP)
    assert local(DENVER, 2025, 6, 13, 9) not in {i.due_at for i in mid}


def test_diary_days_lie_strictly_between_the_first_and_last_session_without_sessions() -> None:
    diary = by_context(m.plan_items(plan(SERIES)), m.DIARY)
    assert [i.day for i in diary] == [date(2025, 6, 3), date(2025, 6, 5)]
    first = diary[0]
    assert first.instrument == m.DIARY_INSTRUMENT
    assert first.due_at == local(DENVER, 2025, 6, 3, 18)
    # Open until the end of the next day.
    assert first.closes_at == local(DENVER, 2025, 6, 5, 0)
    assert first.key == m.item_key(
        uuid.UUID("00000000-0000-4000-8000-000000000001"), "diary:2025-06-03"
    )

    # Sessions on consecutive days leave no diary day; one session leaves none either.
    daily = [local(DENVER, 2025, 6, d, 10) for d in (2, 3, 4)]
    assert by_context(m.plan_items(plan(daily)), m.DIARY) == []
    assert by_context(m.plan_items(plan(SERIES[:1])), m.DIARY) == []


def test_items_are_in_due_order_and_keys_are_stable() -> None:
    p = plan(SERIES)
    items = m.plan_items(replace(p, sessions=tuple(reversed(p.sessions))))
    assert [i.due_at for i in items] == sorted(i.due_at for i in items)
    assert m.plan_items(p) == items
    assert m.plan_items(plan([])) == []


def test_the_mental_health_plan_adds_the_mood_instruments() -> None:
    mood = ("phq-9", "gad-7")
    items = m.plan_items(plan(SERIES, mood=mood, pre=("phq-9", "pain-nrs")))
    reassessment = {i.instrument for i in by_context(items, m.REASSESSMENT)}
    assert reassessment == {"pain-nrs", "peg", "phq-9", "gad-7"}
    follow = {i.instrument for i in by_context(items, m.FOLLOW_UP)}
    assert follow == {"pain-nrs", "peg", "phq-9", "gad-7"}
    pre = {i.instrument for i in by_context(items, m.PRE_SESSION)}
    assert pre == {"phq-9", "pain-nrs"}
    # Without mood measures the pain plan asks no mood questionnaire after the series.
    plain = m.plan_items(plan(SERIES))
    assert not {"phq-9", "gad-7"} & {i.instrument for i in plain if i.context != m.PRE_SESSION}


def test_a_spring_forward_week_in_chicago_keeps_wall_times() -> None:
    # Clocks go from CST (UTC-6) to CDT (UTC-5) at 02:00 on Sun 9 Mar 2025.
    sessions = [local(CHICAGO, 2025, 3, 7, 10), local(CHICAGO, 2025, 3, 10, 10)]
    assert [s.astimezone(UTC_).hour for s in sessions] == [16, 15]
    items = m.plan_items(plan(sessions, zone="America/Chicago", weeks=(1,)))

    diary = {i.day: i for i in by_context(items, m.DIARY)}
    assert set(diary) == {date(2025, 3, 8), date(2025, 3, 9)}
    assert diary[date(2025, 3, 8)].due_at == datetime(2025, 3, 9, 0, 0, tzinfo=UTC)
    assert diary[date(2025, 3, 9)].due_at == datetime(2025, 3, 9, 23, 0, tzinfo=UTC)
    # The end of 9 Mar (00:00 CDT on the 10th) is 05:00 UTC.
    assert diary[date(2025, 3, 8)].closes_at == datetime(2025, 3, 10, 5, 0, tzinfo=UTC)

    reassessment = by_context(items, m.REASSESSMENT)[0]
    assert reassessment.due_at == datetime(2025, 3, 17, 14, 0, tzinfo=UTC)  # 09:00 CDT
    # Pre-session questionnaires are 24 elapsed hours before the session.
    second = [i for i in by_context(items, m.PRE_SESSION) if i.appointment_id == uuid.UUID(int=2)]
    assert second[0].due_at == datetime(2025, 3, 9, 15, 0, tzinfo=UTC)


def test_a_fall_back_week_in_chicago_keeps_wall_times() -> None:
    # Clocks go from CDT back to CST at 02:00 on Sun 2 Nov 2025.
    sessions = [local(CHICAGO, 2025, 10, 31, 10), local(CHICAGO, 2025, 11, 3, 10)]
    items = m.plan_items(plan(sessions, zone="America/Chicago", weeks=(1,)))
    diary = {i.day: i.due_at for i in by_context(items, m.DIARY)}
    assert diary == {
        date(2025, 11, 1): datetime(2025, 11, 1, 23, 0, tzinfo=UTC),  # 18:00 CDT
        date(2025, 11, 2): datetime(2025, 11, 3, 0, 0, tzinfo=UTC),  # 18:00 CST
    }
    reassessment = by_context(items, m.REASSESSMENT)[0]
    assert reassessment.due_at == datetime(2025, 11, 10, 15, 0, tzinfo=UTC)  # 09:00 CST


# --- Item status (pure) ------------------------------------------------------------------


def _pre_item(p: m.Plan, session: int = 0, instrument: str = "pain-nrs") -> m.Item:
    return next(
        i
        for i in m.plan_items(p)
        if i.context == m.PRE_SESSION
        and i.appointment_id == p.sessions[session].appointment_id
        and i.instrument == instrument
    )


def test_item_status_follows_the_clock() -> None:
    item = _pre_item(plan(SERIES))
    assert m.item_status(item, [], [], item.due_at - timedelta(seconds=1)) == m.SCHEDULED
    assert m.item_status(item, [], [], item.due_at) == m.DUE
    assert m.item_status(item, [], [], item.closes_at - timedelta(seconds=1)) == m.DUE
    assert m.item_status(item, [], [], item.closes_at) == m.OVERDUE


def test_an_answer_with_the_item_key_completes_it_whenever_it_came() -> None:
    item = _pre_item(plan(SERIES))
    late = item.closes_at + timedelta(days=3)
    answer = m.Answer("pain-nrs", m.PRE_SESSION, item.key, late)
    assert m.item_status(item, [answer], [], late) == m.COMPLETED
    other_instrument = m.Answer("peg", m.PRE_SESSION, item.key, late)
    assert m.item_status(item, [other_instrument], [], late) == m.OVERDUE


def test_a_clinic_answer_counts_inside_the_window_only() -> None:
    item = _pre_item(plan(SERIES))
    now = item.closes_at + timedelta(hours=1)

    def status(at: datetime, context: str = m.PRE_SESSION) -> str:
        return m.item_status(item, [m.Answer("pain-nrs", context, None, at)], [], now)

    assert status(item.due_at) == m.COMPLETED
    assert status(item.closes_at) == m.COMPLETED
    assert status(item.due_at - m.EARLY) == m.COMPLETED
    assert status(item.due_at - m.EARLY - timedelta(seconds=1)) == m.OVERDUE
    assert status(item.closes_at + timedelta(seconds=1)) == m.OVERDUE
    assert status(item.due_at, context=m.FOLLOW_UP) == m.OVERDUE


def test_an_answer_for_one_session_does_not_complete_the_next() -> None:
    # Sessions 24 h apart: session 1's questionnaires are answered inside session 2's
    # window, but they carry session 1's key and belong to it alone.
    p = plan([local(DENVER, 2025, 6, d, 10) for d in (2, 3, 4)])
    items = m.plan_items(p)
    keys = {i.key for i in items}
    first, second = _pre_item(p, 0), _pre_item(p, 1)
    answer = m.Answer("pain-nrs", m.PRE_SESSION, first.key, first.due_at + timedelta(hours=2))
    assert second.due_at - m.EARLY <= answer.collected_at <= second.closes_at
    now = second.due_at + timedelta(hours=1)
    assert m.item_status(first, [answer], [], now, keys=keys) == m.COMPLETED
    assert m.item_status(second, [answer], [], now, keys=keys) == m.DUE


def test_diary_items_are_completed_by_their_day() -> None:
    diary = by_context(m.plan_items(plan(SERIES)), m.DIARY)
    now = diary[-1].closes_at
    assert m.item_status(diary[0], [], [date(2025, 6, 3)], now) == m.COMPLETED
    assert m.item_status(diary[1], [], [date(2025, 6, 3)], now) == m.OVERDUE
    assert m.item_status(diary[1], [], [date(2025, 6, 5)], now) == m.COMPLETED


# --- The schedule and the outbox follow the calendar -------------------------------------

# A Monday morning in Denver, far from any daylight-saving change.
MONDAY = datetime(2030, 6, 3, 7, 0, tzinfo=DENVER)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    frozen = Clock(MONDAY)
    monkeypatch.setattr(timezone, "now", frozen)
    yield frozen


@pytest.fixture
def series(clock: Clock, front_desk: User, course: Course) -> list[Appointment]:
    """Mon, Wed and Fri of the week after next, booked through the slot finder."""
    result = booking.slot_proposals(
        user=front_desk,
        course=course,
        preferences=rules.Preferences(
            first_date=date(2030, 6, 10), weekdays=frozenset({0, 2, 4}), time_from=time(10)
        ),
    )
    booked = booking.course_book(
        user=front_desk, course=course, choices=choices_of(result.proposals[0])
    )
    return sorted(booked, key=lambda a: a.starts_at)


def queued(kind: str | None = None, **filters: Any) -> list[Message]:
    qs = Message.objects.filter(status=Message.Status.QUEUED, **filters)
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.order_by("due_at"))


def one(key: str, status: str = Message.Status.QUEUED) -> Message:
    return Message.objects.get(dedupe_key=key, status=status)


def measure_key(course: Course, key: uuid.UUID) -> str:
    return f"measure:{course.id}:{key}"


def test_booking_queues_a_confirmation_reminders_and_links(
    clock: Clock,
    series: list[Appointment],
    course: Course,
) -> None:
    assert [a.starts_at.astimezone(DENVER).date() for a in series] == [
        date(2030, 6, 10),
        date(2030, 6, 12),
        date(2030, 6, 14),
    ]
    confirmations = queued("appointment_confirmation")
    assert len(confirmations) == 1
    confirmation = confirmations[0]
    assert confirmation.due_at == clock.now
    assert confirmation.about_id == course.id
    assert len(confirmation.context["times"]) == 3

    for a in series:
        reminder = one(f"reminder:{a.id}")
        assert reminder.kind == "session_reminder"
        assert reminder.due_at == a.starts_at - timedelta(hours=48)
        link = one(measure_key(course, a.id))
        assert link.kind == "check_in_link"
        assert link.due_at == a.starts_at - timedelta(hours=24)
        assert link.link_request["instruments"] == ["pain-nrs", "peg"]
        assert link.link_request["context"] == "pre_session"
        assert link.link_request["context_id"] == str(a.id)
        assert LINK_PLACEHOLDER in link.body

    diaries = queued("diary_link")
    assert [d.link_request["day"] for d in diaries] == ["2030-06-11", "2030-06-13"]
    assert diaries[0].due_at == datetime(2030, 6, 11, 18, 0, tzinfo=DENVER)

    reassessment = one(measure_key(course, m.item_key(course.id, "reassessment")))
    assert reassessment.due_at == datetime(2030, 6, 21, 9, 0, tzinfo=DENVER)
    assert reassessment.link_request["instruments"] == ["pain-nrs", "peg"]
    # The 1-week follow-up falls on the reassessment day: one link asks it, not two.
    assert not Message.objects.filter(
        dedupe_key=measure_key(course, m.item_key(course.id, "follow_up:1"))
    ).exists()
    for weeks, day in ((4, date(2030, 7, 12)), (12, date(2030, 9, 6))):
        follow = one(measure_key(course, m.item_key(course.id, f"follow_up:{weeks}")))
        assert follow.due_at == datetime.combine(day, time(9), tzinfo=DENVER)

    for message in Message.objects.all():
        assert privacy_problems(message.subject + "\n" + message.body) == []

    # Booking sends the confirmation at once and nothing that is due later.
    from ketapath.notifications.services import send_due

    send_due()
    assert set(
        Message.objects.exclude(status=Message.Status.QUEUED).values_list("kind", flat=True)
    ) == {"appointment_confirmation"}

    # Calling the sync again changes nothing.
    before = set(Message.objects.values_list("id", "status"))
    messaging.course_messages_sync(course=course)
    assert set(Message.objects.values_list("id", "status")) == before


def test_the_schedule_moves_when_a_session_moves(
    clock: Clock,
    series: list[Appointment],
    course: Course,
    front_desk: User,
) -> None:
    middle = series[1]
    old_reminder = one(f"reminder:{middle.id}")
    old_link = one(measure_key(course, middle.id))
    old_diary = one(f"diary:{course.id}:2030-06-13")
    new_start = middle.starts_at + timedelta(days=1)  # Thu, 24 h before Fri's session

    booking.appointment_reschedule(
        user=front_desk,
        appointment=middle,
        choice=booking.SessionChoice(
            new_start, middle.room_id, middle.nurse_id, middle.prescriber_id
        ),
    )

    assert Message.objects.get(pk=old_reminder.pk).status == Message.Status.CANCELLED
    assert Message.objects.get(pk=old_link.pk).status == Message.Status.CANCELLED
    assert one(f"reminder:{middle.id}").due_at == new_start - timedelta(hours=48)
    assert one(measure_key(course, middle.id)).due_at == new_start - timedelta(hours=24)
    # Thursday is a session day now; Wednesday is a diary day.
    assert Message.objects.get(pk=old_diary.pk).status == Message.Status.CANCELLED
    assert one(f"diary:{course.id}:2030-06-12").kind == "diary_link"
    moved = queued("appointment_moved")
    assert len(moved) == 1 and moved[0].due_at == clock.now
    assert "Wed 12 Jun" in moved[0].body and "Thu 13 Jun" in moved[0].body
    # The untouched sessions keep their messages.
    for a in (series[0], series[2]):
        assert one(f"reminder:{a.id}").due_at == a.starts_at - timedelta(hours=48)

    schedule = messaging.course_schedule(course)
    pre = [r.item for r in schedule if r.item.appointment_id == middle.id]
    assert {i.due_at for i in pre} == {new_start - timedelta(hours=24)}
    assert {i.closes_at for i in pre} == {new_start}
    days = [r.item.day for r in schedule if r.item.context == m.DIARY]
    assert days == [date(2030, 6, 11), date(2030, 6, 12)]


def test_a_sent_reminder_is_sent_again_only_when_its_session_moves(
    clock: Clock,
    series: list[Appointment],
    course: Course,
    front_desk: User,
) -> None:
    first = series[0]
    clock.now = first.starts_at - timedelta(hours=47)
    # The reminder went out at its time.
    Message.objects.filter(dedupe_key=f"reminder:{first.id}").update(
        status=Message.Status.SENT, sent_at=clock.now, provider_id="test-1"
    )
    messaging.course_messages_sync(course=course)
    assert queued(dedupe_key=f"reminder:{first.id}") == []

    new_start = first.starts_at + timedelta(hours=2)
    booking.appointment_reschedule(
        user=front_desk,
        appointment=first,
        choice=booking.SessionChoice(new_start, first.room_id, first.nurse_id, first.prescriber_id),
    )
    again = one(f"reminder:{first.id}")
    assert again.due_at == new_start - timedelta(hours=48)
    assert again.context["item_due"] == new_start.isoformat()
    assert one(f"reminder:{first.id}", Message.Status.SENT).provider_id == "test-1"


def test_cancelling_a_session_sends_a_notice_and_cancels_its_messages(
    clock: Clock,
    series: list[Appointment],
    course: Course,
    front_desk: User,
) -> None:
    last = series[2]
    reminder = one(f"reminder:{last.id}")
    link = one(measure_key(course, last.id))

    booking.appointment_set_status(
        user=front_desk, appointment=last, status="cancelled", reason="Travelling"
    )

    assert Message.objects.get(pk=reminder.pk).status == Message.Status.CANCELLED
    assert Message.objects.get(pk=link.pk).status == Message.Status.CANCELLED
    notices = queued("appointment_cancelled")
    assert len(notices) == 1
    assert notices[0].about_id == last.id and notices[0].due_at == clock.now
    assert "Fri 14 Jun" in notices[0].body
    for a in series[:2]:
        assert one(f"reminder:{a.id}").status == Message.Status.QUEUED
    # The series now ends on Wednesday: the reassessment moves with it.
    reassessment = one(measure_key(course, m.item_key(course.id, "reassessment")))
    assert reassessment.due_at == datetime(2030, 6, 19, 9, 0, tzinfo=DENVER)


def test_a_booking_inside_the_lead_time_queues_the_reminder_now(
    clock: Clock,
    front_desk: User,
    course: Course,
) -> None:
    result = booking.slot_proposals(
        user=front_desk, course=course, preferences=rules.Preferences(first_date=MONDAY.date())
    )
    booked = booking.course_book(
        user=front_desk, course=course, choices=choices_of(result.proposals[0])
    )
    first = min(booked, key=lambda a: a.starts_at)
    assert first.starts_at - clock.now < timedelta(hours=48)
    for a in booked:
        reminder = one(f"reminder:{a.id}")
        assert reminder.due_at == max(a.starts_at - timedelta(hours=48), clock.now)
    assert one(f"reminder:{first.id}").due_at == clock.now
    link = one(measure_key(course, first.id))
    assert link.due_at == max(first.starts_at - timedelta(hours=24), clock.now)


def test_a_single_visit_gets_a_confirmation_and_a_visit_reminder(
    clock: Clock,
    front_desk: User,
    prescriber: User,
    patient: Patient,
    site: Clinic,
) -> None:
    rota(prescriber, clinic=site)
    consult = Room.objects.create(clinic=site, name="Consult 1", kind=Room.Kind.CONSULT)
    start = datetime(2030, 6, 12, 14, 0, tzinfo=DENVER)
    visit = booking.appointment_book_single(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind="follow_up",
        start=start,
        minutes=30,
        room_id=consult.id,
        clinician_id=prescriber.id,
    )
    confirmation = queued("appointment_confirmation")
    assert len(confirmation) == 1 and confirmation[0].about_id == visit.id
    reminder = one(f"reminder:{visit.id}")
    assert reminder.kind == "visit_reminder"
    assert reminder.due_at == start - timedelta(hours=48)
    assert "Wed 12 Jun, 14:00 MDT" in reminder.body
    assert privacy_problems(reminder.subject + reminder.body) == []

    booking.appointment_set_status(
        user=front_desk, appointment=visit, status="cancelled", reason="Feeling better"
    )
    assert Message.objects.get(pk=reminder.pk).status == Message.Status.CANCELLED
    assert len(queued("appointment_cancelled")) == 1


def test_overdue_items_are_listed_and_answers_complete_them(
    clock: Clock,
    series: list[Appointment],
    course: Course,
    nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    first = series[0]
    assert messaging.overdue_at(clinic=site) == []
    clock.now = first.starts_at + timedelta(minutes=1)

    overdue = messaging.overdue_at(clinic=site)
    assert [(r.item.appointment_id, r.item.instrument) for r in overdue] == [
        (first.id, "pain-nrs"),
        (first.id, "peg"),
    ]
    assert all(r.status == m.OVERDUE and r.course.id == course.id for r in overdue)

    # The patient answered the pain rating from the link (it carries the item's key).
    response_record(
        user=None,
        patient=patient,
        clinic=site,
        instrument_code="pain-nrs",
        answers={"1": 4},
        context="pre_session",
        context_id=first.id,
        collected_at=first.starts_at - timedelta(hours=3),
        source="patient_link",
    )
    overdue = messaging.overdue_at(clinic=site)
    assert [(r.item.appointment_id, r.item.instrument) for r in overdue] == [(first.id, "peg")]
    statuses = {
        (r.item.appointment_id, r.item.instrument): r.status
        for r in messaging.course_schedule(course)
    }
    assert statuses[(first.id, "pain-nrs")] == m.COMPLETED
    assert statuses[(series[1].id, "pain-nrs")] == m.SCHEDULED


def test_schedule_queries_do_not_grow_with_courses(
    clock: Clock,
    series: list[Appointment],
    course: Course,
    make_patient: Callable[..., Patient],
    prescriber: User,
    nurse: User,
    site: Clinic,
    django_assert_max_num_queries: Any,
) -> None:
    room = Room.objects.get(clinic=site, name="Treatment 1")
    ids = [course.id]
    for n in range(4):
        other = Course.objects.create(
            patient=make_patient(),
            clinic=site,
            evaluation=course.evaluation,
            protocol=course.protocol,
            pathway=Pathway.MENTAL_HEALTH_PRIMARY if n % 2 else course.pathway,
            ordered_mg_per_kg=Decimal("0.5"),
            ordered_by=prescriber,
            ordered_at=clock.now,
            status=Course.Status.SCHEDULED,
        )
        for i in range(3):
            start = datetime(2030, 6, 17 + 2 * i, 8 + 2 * n, 0, tzinfo=DENVER)
            Appointment.objects.create(
                clinic=site,
                patient=other.patient,
                kind=Appointment.Kind.SESSION,
                course=other,
                sequence=i + 1,
                starts_at=start,
                ends_at=start + timedelta(minutes=75),
                room=room,
                nurse=nurse,
                prescriber=prescriber,
                booked_by=prescriber,
            )
        ids.append(other.id)

    with CaptureQueriesContext(connection) as single:
        one_schedule = messaging.schedules_for(Course.objects.filter(id=course.id))
    assert len(one_schedule[course.id]) > 10

    with django_assert_max_num_queries(len(single.captured_queries)):
        five = messaging.schedules_for(Course.objects.filter(id__in=ids))
    assert len(five) == 5 and all(five.values())

    # The site's overdue list is a fixed number of queries too.
    clock.now += timedelta(days=30)
    with django_assert_max_num_queries(len(single.captured_queries)):
        rows = messaging.overdue_at(clinic=site)
    assert {r.course.id for r in rows} == set(ids)
