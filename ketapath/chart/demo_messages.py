"""Demo messages, links and diaries for the demo courses.

Bookings made by the demo through ``course_book`` already queued their confirmations,
reminders and links. This step brings the outbox in line with the demo's history: each
course's messages are re-synced (a session the demo moved into the past loses its
reminder), everything already due is sent once through in-memory backends (so a demo
seed prints no mail), patients without contact consent show as "not sent", one e-mail
provider failure is on file, questionnaire links before past sessions come back answered
or lapse unanswered, and courses under way have a daily diary with gaps — not every
patient answers every day.

:func:`demo_live_link` makes a fresh link for ``make demo`` to print, with the patient's
date of birth, so a visitor can open the patient side at once.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from ketapath.clinics.models import Organization
from ketapath.notifications.models import Message
from ketapath.notifications.services import message_queue, send_due
from ketapath.observations.models import DiaryEntry
from ketapath.portal.models import PatientLink
from ketapath.portal.services import link_create, link_submit_questionnaires, link_url
from ketapath.questionnaires.instruments import get_instrument
from ketapath.questionnaires.models import Response
from ketapath.scheduling import measurement as m
from ketapath.scheduling.messaging import course_messages_sync, patient_context
from ketapath.scheduling.models import Appointment, Course

DEMO_SEED = 20261202
ACTIVE = (Course.Status.SCHEDULED, Course.Status.IN_PROGRESS)


def messages_present(organization: Organization) -> bool:
    return PatientLink.objects.filter(clinic__organization=organization).exists()


def _answers(code: str, rng: random.Random, level: float) -> dict[str, int]:
    """Plausible answers: each scored item near ``level`` (0..1) of its range; PHQ-9 item
    9 stays 0 so the demo does not open alerts from the background."""
    instrument = get_instrument(code)
    assert instrument is not None
    out: dict[str, int] = {}
    for item in instrument.items:
        if not item.scored:
            continue
        span = item.max - item.min
        value = round(item.min + span * min(1.0, max(0.0, rng.gauss(level, 0.15))))
        out[item.link_id] = 0 if (code == "phq-9" and item.link_id == "9") else value
    return out


def _answer_link(link: PatientLink, rng: random.Random, level: float) -> list[Response]:
    link.verified_at = timezone.now()
    PatientLink.objects.filter(pk=link.pk).update(verified_at=link.verified_at)
    return link_submit_questionnaires(
        link=link, answers={c: _answers(c, rng, level) for c in link.instruments}
    )


def _sessions(course: Course) -> list[Appointment]:
    return list(
        course.appointments.filter(kind=Appointment.Kind.SESSION)
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("starts_at")
    )


def _past_links(course: Course, rng: random.Random, now: datetime) -> int:
    """Pre-session links of past sessions: most answered the evening before, one in five
    left to lapse (the link expired unanswered)."""
    made = 0
    pre = [c for c in course.protocol.pre_questionnaires if get_instrument(c)]
    if course.pain_measures_added and m.PAIN not in pre:
        pre.append(m.PAIN)
    if not pre:
        return 0
    level = rng.uniform(0.35, 0.75)
    for session in _sessions(course):
        if session.starts_at >= now:
            continue
        sent = session.starts_at - timedelta(hours=26)
        link, _ = link_create(
            patient=course.patient,
            clinic=course.clinic,
            purpose=PatientLink.Purpose.QUESTIONNAIRES,
            instruments=pre,
            context=m.PRE_SESSION,
            context_id=session.id,
            course_id=course.id,
            dedupe_key=f"measure:{course.id}:{session.id}",
        )
        answered_at = None
        if rng.random() < 0.8:
            answered_at = session.starts_at - timedelta(hours=rng.randint(3, 20))
            responses = _answer_link(link, rng, level)
            Response.objects.filter(pk__in=[r.pk for r in responses]).update(
                collected_at=answered_at
            )
        # The message that carried it, sent the day before the session.
        message = message_queue(
            clinic=course.clinic,
            kind="check_in_link",
            context={
                **patient_context(course.patient, course.clinic),
                "minutes": max(2, 2 * len(pre)),
                "due": "",
                "item_due": sent.isoformat(),
            },
            due_at=sent,
            patient=course.patient,
            dedupe_key=f"measure:{course.id}:{session.id}",
            link_request={"purpose": "questionnaires", "instruments": pre},
            about_kind="course",
            about_id=course.id,
        )
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.SENT,
            channel="sms" if course.patient.contact_by_sms else "email",
            sent_at=sent,
            attempts=1,
            provider_id=f"demo-{message.pk}",
            link_id=link.pk,
        )
        # Back-date the link to when it was sent (and answered).
        PatientLink.objects.filter(pk=link.pk).update(
            created_at=sent,
            expires_at=sent + timedelta(hours=72),
            verified_at=answered_at,
            used_at=answered_at,
        )
        made += 1
        level = max(0.1, level - rng.uniform(0.0, 0.15))
    return made


def _diary(course: Course, rng: random.Random, now: datetime) -> int:
    """Daily entries between the sessions so far, with gaps."""
    sessions = _sessions(course)
    if not sessions:
        return 0
    zone = ZoneInfo(course.clinic.time_zone)
    first = sessions[0].starts_at.astimezone(zone).date()
    today = now.astimezone(zone).date()
    session_days = {s.starts_at.astimezone(zone).date() for s in sessions}
    pain = rng.randint(5, 8)
    made = 0
    day = first + timedelta(days=1)
    while day < today:
        if day not in session_days and rng.random() < 0.75:
            pain = max(0, min(10, pain + rng.choice([-1, -1, 0, 0, 1])))
            rescue = rng.random() < 0.3
            DiaryEntry.objects.create(
                patient=course.patient,
                clinic=course.clinic,
                course_id=course.id,
                day=day,
                pain=pain,
                rescue_medication=rescue,
                rescue_detail="Took my usual as-needed tablet in the evening" if rescue else "",
                note=rng.choice(
                    ["", "", "Slept better", "Busy day at work", "Flare after driving"]
                ),
                recorded_at=datetime.combine(day, datetime.min.time(), tzinfo=zone)
                + timedelta(hours=20),
            )
            made += 1
        day += timedelta(days=1)
    return made


def _provider_failure(organization: Organization, now: datetime) -> None:
    """One e-mail the provider refused five times: it shows as failed for staff."""
    message = (
        Message.objects.filter(
            clinic__organization=organization,
            status=Message.Status.SENT,
            channel="email",
            patient__isnull=False,
        )
        .order_by("due_at")
        .first()
    )
    if message is None or message.patient is None:
        return
    failed = message_queue(
        clinic=message.clinic,
        kind="appointment_confirmation",
        context=message.context
        if message.kind == "appointment_confirmation"
        else {
            **patient_context(message.patient, message.clinic),
            "times": ["(see the calendar)"],
            "count": 1,
        },
        due_at=now - timedelta(hours=6),
        patient=message.patient,
    )
    Message.objects.filter(pk=failed.pk).update(
        status=Message.Status.FAILED,
        channel="email",
        attempts=5,
        last_error="SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable",
        next_attempt_at=None,
    )


def seed_messages(*, organization: Organization, today: date) -> int:
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data, not security
    now = timezone.now()
    rows = 0
    courses = (
        Course.objects.filter(clinic__organization=organization)
        .select_related("patient", "clinic", "protocol")
        .order_by("ordered_at")
    )
    with (
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            SMS_BACKEND="ketapath.notifications.channels.LocmemSmsBackend",
        ),
        transaction.atomic(),
    ):
        for course in courses:
            if course.status in ACTIVE:
                course_messages_sync(course=course)
            rows += _past_links(course, rng, now)
            if course.status == Course.Status.IN_PROGRESS:
                rows += _diary(course, rng, now)
        report = send_due(now=now, limit=10_000)
        rows += report.sent + report.not_sent
        _provider_failure(organization, now)
    return rows


@dataclass(frozen=True)
class LiveLink:
    url: str
    patient_name: str
    birth_date: date
    clinic_name: str


def demo_live_link(organization: Organization) -> LiveLink | None:
    """A fresh questionnaire link for a patient with a course under way (the raw token
    exists only now, so each run of the demo makes one)."""
    course = (
        Course.objects.filter(clinic__organization=organization, status__in=ACTIVE)
        .select_related("patient", "clinic", "protocol")
        .order_by("-status", "ordered_at")
        .first()
    )
    if course is None:
        return None
    upcoming = (
        course.appointments.filter(
            kind=Appointment.Kind.SESSION,
            status=Appointment.Status.BOOKED,
            starts_at__gt=timezone.now(),
        )
        .order_by("starts_at")
        .first()
    )
    instruments: list[Any] = [c for c in course.protocol.pre_questionnaires if get_instrument(c)]
    _link, raw = link_create(
        patient=course.patient,
        clinic=course.clinic,
        purpose=PatientLink.Purpose.QUESTIONNAIRES,
        instruments=instruments or [m.PAIN, m.PEG],
        context=m.PRE_SESSION if upcoming else m.FOLLOW_UP,
        context_id=upcoming.id if upcoming else None,
        course_id=course.id,
        dedupe_key=f"demo-live:{course.patient_id}",
    )
    return LiveLink(
        url=link_url(raw),
        patient_name=course.patient.display_name,
        birth_date=course.patient.birth_date,
        clinic_name=course.clinic.name,
    )
