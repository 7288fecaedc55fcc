"""The measurement schedule of a course, anchored to its sessions (a pure function).

Pain and mood are measured before each session, at reassessment after the series, at
follow-ups, and in a daily diary between sessions (issue 6 item 6; clinical.md §2.3:
the reassessment measure is the 0–10 rating of average pain over the past week and PEG,
never a rating taken just after a dose). The schedule is computed from the live session
appointments every time, so it moves when a session moves; nothing here is stored.

- Before each session: the template's pre-session questionnaires (plus the 0–10 pain
  rating when the mental-health pathway adds pain measures), due ``pre_hours`` before the
  start and open until the start.
- Reassessment: ``reassessment_days`` after the last session of the series, at 09:00
  site time: pain-nrs and PEG, and on the mental-health pathway the mood measures the
  template asks (PHQ-9, GAD-7, PCL-5). Open for 7 days.
- Follow-ups at each of the policy's weeks after the last session, the same measures; a
  follow-up that would fall while the reassessment is still open is left out (the
  reassessment covers it).
- A diary for every day strictly between the first and the last session that has no
  session, due at 18:00 site time and open until the end of the next day.

Each item has a stable key (a UUID made from the course and the item), which the link's
answers carry as their context id, so an item is complete when an answer with its key
exists. Answers entered at the clinic count too when they fall inside the item's window.
"""

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

PRE_SESSION = "pre_session"
REASSESSMENT = "reassessment"
FOLLOW_UP = "follow_up"
DIARY = "diary"

PAIN = "pain-nrs"
PEG = "peg"
MOOD = ("phq-9", "gad-7", "pcl-5")
DIARY_INSTRUMENT = "diary"

REASSESSMENT_TIME = time(9, 0)
DIARY_TIME = time(18, 0)
OPEN_DAYS = 7
# An answer entered at the clinic counts for an item if collected this long before its
# due time (a pre-session questionnaire filled in at a visit the day before, say).
EARLY = timedelta(hours=72)

SCHEDULED = "scheduled"
DUE = "due"
OVERDUE = "overdue"
COMPLETED = "completed"
STATUSES = (SCHEDULED, DUE, OVERDUE, COMPLETED)


@dataclass(frozen=True)
class Session:
    appointment_id: UUID
    sequence: int
    start: datetime


@dataclass(frozen=True)
class Plan:
    course_id: UUID
    sessions: tuple[Session, ...]
    pre_instruments: tuple[str, ...]
    mood_instruments: tuple[str, ...]
    reassessment_days: int
    follow_up_weeks: tuple[int, ...]
    pre_hours: int
    time_zone: str


@dataclass(frozen=True)
class Item:
    key: UUID
    instrument: str
    context: str
    due_at: datetime
    closes_at: datetime
    label: str
    appointment_id: UUID | None = None
    day: date | None = None


@dataclass(frozen=True)
class Answer:
    instrument: str
    context: str
    context_id: UUID | None
    collected_at: datetime


def item_key(course_id: UUID, name: str) -> UUID:
    return uuid.uuid5(course_id, name)


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    # A wall time that a DST change skips moves forward with fold=0; the result is UTC.
    return datetime.combine(day, moment, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def plan_items(plan: Plan) -> list[Item]:
    """Every item of the schedule, in due order."""
    zone = ZoneInfo(plan.time_zone)
    sessions = sorted(plan.sessions, key=lambda s: s.start)
    items: list[Item] = []
    for s in sessions:
        for code in plan.pre_instruments:
            items.append(
                Item(
                    key=s.appointment_id,
                    instrument=code,
                    context=PRE_SESSION,
                    due_at=s.start - timedelta(hours=plan.pre_hours),
                    closes_at=s.start,
                    label=f"Before session {s.sequence}",
                    appointment_id=s.appointment_id,
                )
            )
    if not sessions:
        return items
    first_day = sessions[0].start.astimezone(zone).date()
    last_day = sessions[-1].start.astimezone(zone).date()
    after = (PAIN, PEG, *plan.mood_instruments)
    reassessment_day = last_day + timedelta(days=plan.reassessment_days)
    key = item_key(plan.course_id, "reassessment")
    for code in after:
        items.append(
            Item(
                key=key,
                instrument=code,
                context=REASSESSMENT,
                due_at=_at(reassessment_day, REASSESSMENT_TIME, zone),
                closes_at=_at(
                    reassessment_day + timedelta(days=OPEN_DAYS), REASSESSMENT_TIME, zone
                ),
                label=f"Reassessment, {plan.reassessment_days} days after the series",
            )
        )
    for weeks in plan.follow_up_weeks:
        day = last_day + timedelta(weeks=weeks)
        # A follow-up that falls while the reassessment is still open is the reassessment:
        # the patient is not asked the same questions twice in a week.
        if day < reassessment_day + timedelta(days=OPEN_DAYS):
            continue
        key = item_key(plan.course_id, f"follow_up:{weeks}")
        for code in after:
            items.append(
                Item(
                    key=key,
                    instrument=code,
                    context=FOLLOW_UP,
                    due_at=_at(day, REASSESSMENT_TIME, zone),
                    closes_at=_at(day + timedelta(days=OPEN_DAYS), REASSESSMENT_TIME, zone),
                    label=f"Follow-up, {weeks} week{'s' if weeks != 1 else ''} after the series",
                )
            )
    session_days = {s.start.astimezone(zone).date() for s in sessions}
    day = first_day + timedelta(days=1)
    while day < last_day:
        if day not in session_days:
            items.append(
                Item(
                    key=item_key(plan.course_id, f"diary:{day.isoformat()}"),
                    instrument=DIARY_INSTRUMENT,
                    context=DIARY,
                    due_at=_at(day, DIARY_TIME, zone),
                    closes_at=_at(day + timedelta(days=2), time(0, 0), zone),
                    label="Daily check-in",
                    day=day,
                )
            )
        day += timedelta(days=1)
    return sorted(items, key=lambda i: (i.due_at, i.context, i.instrument))


def item_status(
    item: Item,
    answers: Iterable[Answer],
    diary_days: Iterable[date],
    now: datetime,
    *,
    keys: Collection[UUID] = (),
) -> str:
    """completed, scheduled (not yet due), due (open) or overdue (closed, not done).

    ``keys`` are the keys of every item of the schedule: an answer that carries another
    item's key (session 1's questionnaires, say) belongs to that item only, even when it
    falls inside this item's window."""
    if item.instrument == DIARY_INSTRUMENT:
        done = item.day in set(diary_days)
    else:
        done = any(
            a.instrument == item.instrument
            and (
                a.context_id == item.key
                or (
                    a.context == item.context
                    and (a.context_id is None or a.context_id not in keys)
                    and item.due_at - EARLY <= a.collected_at <= item.closes_at
                )
            )
            for a in answers
        )
    if done:
        return COMPLETED
    if now < item.due_at:
        return SCHEDULED
    if now < item.closes_at:
        return DUE
    return OVERDUE
