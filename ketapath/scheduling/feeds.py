"""Calendar feeds: a secret, revocable iCalendar address per patient (their appointments at
one site) and per staff member (their own visits as nurse, prescriber or clinician).

The raw token is returned once by :func:`feed_create`; only its SHA-256 is stored, and a
feed is found by the hash of what is presented, so the comparison never runs over the
secret itself. A new feed for the same owner revokes the previous one.

Calendar entries can be read on a lock screen or by a calendar provider, so they follow the
privacy rule of DESIGN §5b and §6 (``ketapath.notifications.privacy``): they name the
clinic, a place, a day and a time, never the drug, a diagnosis or a score. Names typed by
people (the site, its address, a room) are filtered through the same rule before they are
written, and the kind of appointment is never shown.
"""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import icalendar
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Forbidden, InvalidInput, invalid_from_validation_error
from ketapath.core.validators import format_phone
from ketapath.notifications.privacy import plain
from ketapath.patients.models import Enrolment, Patient
from ketapath.scheduling.models import Appointment, CalendarFeed

PRODID = "-//Ketapath//Appointments//EN"
PATIENT_CALENDAR_NAME = "Appointments — {clinic}"
STAFF_CALENDAR_NAME = "My clinic schedule"
PATIENT_SUMMARY = "Appointment at {clinic}"
STAFF_SUMMARY = "Visit — {room} ({initials})"
CANCELLED_PREFIX = "Cancelled: "
PATIENT_DESCRIPTION = "Please arrive 15 minutes early. To change this appointment call {phone}."
FALLBACK_CLINIC = "the clinic"
FALLBACK_ROOM = "Room"
UID_FORMAT = "{id}@ketapath"
AUDIT_USERNAME = "calendar-feed"
OBJECT_TYPE = "calendar_feed"

DAYS_BEFORE = 30
DAYS_AHEAD = 180
# How often calendar apps are asked to fetch the feed again.
REFRESH_INTERVAL = timedelta(hours=1)

MESSAGE_ONE_OWNER = "A calendar feed belongs to a patient or to a staff member, not both."
MESSAGE_PATIENT_FORBIDDEN = "Your role at {clinic} does not allow managing appointments."
MESSAGE_NOT_ENROLLED = "The patient is not enrolled at {clinic}."
MESSAGE_STAFF_SELF = "Staff members make and revoke their own calendar feed only."
MESSAGE_STAFF_SITE = "You are not a member of {clinic}."
MESSAGE_ALREADY_REVOKED = "This calendar feed is already revoked."


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- Services -----------------------------------------------------------------------------


def _check_may_manage(*, user: User, clinic: Clinic, patient: Patient | None) -> None:
    """A patient's feed is managed by staff who book appointments at its site."""
    if patient is not None:
        if not user.can(Capability.SCHEDULE_WRITE, clinic.id):
            raise Forbidden(MESSAGE_PATIENT_FORBIDDEN.format(clinic=clinic.name))
        if not Enrolment.objects.filter(patient=patient, clinic=clinic).exists():
            raise Forbidden(MESSAGE_NOT_ENROLLED.format(clinic=clinic.name))


def _audit_change(*, user: User, feed: CalendarFeed, action: str, change: str) -> None:
    audit(
        user=user,
        action=action,
        clinic_id=feed.clinic_id,
        patient_id=feed.patient_id,
        object_type=OBJECT_TYPE,
        object_id=feed.id,
        detail={"owner": "patient" if feed.patient_id else "staff", "change": change},
    )


def _revoke(*, user: User, feed: CalendarFeed, now: datetime, change: str) -> None:
    feed.revoked_at = now
    feed.revoked_by = user
    feed.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    _audit_change(user=user, feed=feed, action=Action.UPDATE, change=change)


def feed_create(
    *,
    user: User,
    clinic: Clinic,
    patient: Patient | None = None,
    staff: User | None = None,
) -> tuple[CalendarFeed, str]:
    """A new feed for the patient (their appointments at ``clinic``; the user needs
    SCHEDULE_WRITE there) or for the staff member (the user themself, a member of
    ``clinic``). The owner's live feed, if any, is revoked in the same transaction. Returns
    the feed and the raw token, which is not stored anywhere."""
    if (patient is None) == (staff is None):
        raise InvalidInput(MESSAGE_ONE_OWNER)
    if patient is not None:
        _check_may_manage(user=user, clinic=clinic, patient=patient)
    else:
        assert staff is not None
        if staff.pk != user.pk:
            raise Forbidden(MESSAGE_STAFF_SELF)
        if clinic.id not in clinic_ids_for(user):
            raise Forbidden(MESSAGE_STAFF_SITE.format(clinic=clinic.name))
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        # Lock the owner so two requests at once cannot both leave a live feed.
        if patient is not None:
            Patient.objects.select_for_update().filter(pk=patient.pk).first()
            live = CalendarFeed.objects.filter(
                patient=patient, clinic=clinic, revoked_at__isnull=True
            )
        else:
            assert staff is not None
            User.objects.select_for_update().filter(pk=staff.pk).first()
            live = CalendarFeed.objects.filter(staff=staff, revoked_at__isnull=True)
        for old in live.select_for_update():
            _revoke(user=user, feed=old, now=now, change="replaced")
        feed = CalendarFeed(
            patient=patient,
            staff=staff,
            clinic=clinic,
            token_hash=token_hash(raw),
            created_by=user,
        )
        try:
            feed.full_clean()
        except ValidationError as exc:
            raise invalid_from_validation_error(exc) from exc
        feed.save(force_insert=True)
        _audit_change(user=user, feed=feed, action=Action.CREATE, change="created")
    return feed, raw


def feed_revoke(*, user: User, feed: CalendarFeed) -> CalendarFeed:
    """Stop the feed's address working at once; the row is kept for the audit trail."""
    if feed.patient is not None:
        _check_may_manage(user=user, clinic=feed.clinic, patient=feed.patient)
    elif feed.staff_id != user.pk:
        raise Forbidden(MESSAGE_STAFF_SELF)
    with transaction.atomic():
        current = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
        if current.revoked_at is not None:
            raise InvalidInput(MESSAGE_ALREADY_REVOKED)
        _revoke(user=user, feed=current, now=timezone.now(), change="revoked")
    feed.refresh_from_db()
    return feed


def feed_by_token(raw: str) -> CalendarFeed | None:
    """The live feed whose token is ``raw``, else None (unknown, revoked, or a staff feed
    whose account is deactivated)."""
    if not raw or len(raw) > 200:
        return None
    feed = (
        CalendarFeed.objects.select_related("clinic", "patient", "staff")
        .filter(token_hash=token_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if feed is None or (feed.staff is not None and not feed.staff.is_active):
        return None
    return feed


def feed_mark_used(*, feed: CalendarFeed, events: int) -> None:
    """Record a fetch of the feed: its last use and an audit event of the read."""
    now = timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    feed.last_used_at = now
    audit(
        user=None,
        username=AUDIT_USERNAME,
        action=Action.READ,
        clinic_id=feed.clinic_id,
        patient_id=feed.patient_id,
        object_type=OBJECT_TYPE,
        object_id=feed.id,
        detail={
            "owner": "patient" if feed.patient_id else "staff",
            "staff_id": str(feed.staff_id) if feed.staff_id else "",
            "events": events,
        },
    )


# --- Selectors ----------------------------------------------------------------------------


def live_patient_feed(*, patient: Patient, clinic: Clinic) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.filter(patient=patient, clinic=clinic, revoked_at__isnull=True)
        .select_related("created_by")
        .first()
    )


def live_staff_feed(*, staff: User) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.filter(staff=staff, revoked_at__isnull=True)
        .select_related("created_by", "clinic")
        .first()
    )


def feed_appointments(feed: CalendarFeed, now: datetime | None = None) -> QuerySet[Appointment]:
    """The appointments a feed lists, cancelled ones included: from DAYS_BEFORE days ago to
    DAYS_AHEAD days ahead, with what the entries show loaded in the same query."""
    now = now or timezone.now()
    qs = Appointment.objects.filter(
        starts_at__gte=now - timedelta(days=DAYS_BEFORE),
        starts_at__lt=now + timedelta(days=DAYS_AHEAD),
    )
    if feed.patient_id is not None:
        qs = qs.filter(patient_id=feed.patient_id, clinic_id=feed.clinic_id).select_related(
            "clinic"
        )
    else:
        assert feed.staff_id is not None
        staff_id: UUID = feed.staff_id
        # Only the sites the staff member still works at.
        sites = clinic_ids_for(feed.staff) if feed.staff is not None else set()
        qs = qs.filter(
            Q(nurse_id=staff_id) | Q(prescriber_id=staff_id) | Q(clinician_id=staff_id),
            clinic_id__in=sites,
        ).select_related("clinic", "room", "patient")
    return qs.order_by("starts_at", "id")


# --- Rendering ----------------------------------------------------------------------------


def clinic_name(clinic: Clinic) -> str:
    return plain(clinic.name, FALLBACK_CLINIC)


def clinic_address(clinic: Clinic) -> str:
    street = [plain(line, "") for line in (clinic.address_line1, clinic.address_line2)]
    town = plain(f"{clinic.state} {clinic.postal_code}".strip(), "")
    parts = [*street, plain(clinic.city, ""), town]
    return ", ".join(part for part in parts if part)


def initials(patient: Patient) -> str:
    """ "J. D." from the first letters of the (preferred) first name and the last name."""
    letters = [
        next((ch.upper() for ch in name if ch.isalpha()), "")
        for name in (patient.preferred_name or patient.given_name, patient.family_name)
    ]
    return " ".join(f"{letter}." for letter in letters if letter) or "?"


@dataclass(frozen=True)
class Entry:
    """One calendar entry, in the words the feed shows."""

    uid: str
    start: datetime
    end: datetime
    stamp: datetime
    summary: str
    location: str
    description: str
    cancelled: bool


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def feed_entries(feed: CalendarFeed, appointments: Iterable[Appointment]) -> list[Entry]:
    entries: list[Entry] = []
    for a in appointments:
        cancelled = a.status == Appointment.Status.CANCELLED
        if feed.patient_id is not None:
            name = clinic_name(a.clinic)
            summary = PATIENT_SUMMARY.format(clinic=name)
            location = clinic_address(a.clinic)
            description = PATIENT_DESCRIPTION.format(phone=format_phone(a.clinic.phone))
        else:
            summary = STAFF_SUMMARY.format(
                room=plain(a.room.name, FALLBACK_ROOM), initials=initials(a.patient)
            )
            location = clinic_name(a.clinic)
            description = ""
        entries.append(
            Entry(
                uid=UID_FORMAT.format(id=a.id),
                start=_utc(a.starts_at),
                end=_utc(a.ends_at),
                stamp=_utc(a.updated_at),
                summary=(CANCELLED_PREFIX + summary) if cancelled else summary,
                location=location,
                description=description,
                cancelled=cancelled,
            )
        )
    return entries


def render_entries(feed: CalendarFeed, entries: Iterable[Entry]) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if feed.patient_id is not None:
        name = PATIENT_CALENDAR_NAME.format(clinic=clinic_name(feed.clinic))
    else:
        name = STAFF_CALENDAR_NAME
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH_INTERVAL)
    for entry in entries:
        event = icalendar.Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", entry.stamp)
        event.add("last-modified", entry.stamp)
        event.add("dtstart", entry.start)
        event.add("dtend", entry.end)
        event.add("summary", entry.summary)
        if entry.location:
            event.add("location", entry.location)
        if entry.description:
            event.add("description", entry.description)
        event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
        # A cancelled appointment does not block the owner's time.
        event.add("transp", "TRANSPARENT" if entry.cancelled else "OPAQUE")
        cal.add_component(event)
    result: bytes = cal.to_ical()
    return result


def render_ics(feed: CalendarFeed, now: datetime | None = None) -> bytes:
    """The feed as an iCalendar file: one VEVENT per appointment in the window, times in
    UTC, cancelled appointments kept with STATUS:CANCELLED. The same few queries however
    many appointments there are."""
    return render_entries(feed, feed_entries(feed, feed_appointments(feed, now)))


def feed_serve(raw: str) -> bytes | None:
    """The calendar file behind a token, recording the fetch; None for an unknown or
    revoked token (the caller answers both the same way)."""
    feed = feed_by_token(raw)
    if feed is None:
        return None
    entries = feed_entries(feed, feed_appointments(feed))
    body = render_entries(feed, entries)
    feed_mark_used(feed=feed, events=len(entries))
    return body
