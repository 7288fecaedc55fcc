"""Courses (a patient's series under one protocol version, with the prescriber's dose
order) and appointments (sessions of a course, and single visits).

Times are stored in UTC and shown in the site's time zone (DESIGN §5 item 9). Overlaps of
a room or a patient are refused by the booking service under a lock, and on PostgreSQL an
exclusion constraint backs it up (migration 0002, PostgreSQL only).
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Room
from ketapath.core.models import BaseModel
from ketapath.evaluations.models import Evaluation
from ketapath.patients.models import Patient
from ketapath.protocols.models import ProtocolTemplate


class Course(BaseModel):
    class Phase(models.TextChoices):
        INDUCTION = "induction", "Initial series"
        CONTINUATION = "continuation", "Continuation"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        AWAITING_REASSESSMENT = "awaiting_reassessment", "Awaiting reassessment"
        CONTINUED = "continued", "Continued"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="courses")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="courses")
    protocol = models.ForeignKey(ProtocolTemplate, on_delete=models.PROTECT, related_name="courses")
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.INDUCTION)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="continuations"
    )
    pathway = models.CharField(max_length=32)
    # The mental-health pathway measures pain at every session alongside mood.
    pain_measures_added = models.BooleanField(default=False)
    ordered_mg_per_kg = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        validators=[MinValueValidator(0), MaxValueValidator(5)],
    )
    ordered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    ordered_at = models.DateTimeField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PLANNED)
    flag = models.CharField(
        max_length=300,
        blank=True,
        help_text="Why the series needs attention (no replacement slot).",
    )
    # The last slot proposals offered for booking ({"made_at", "proposals": [[{start, end,
    # room, nurse, prescriber}, ...], ...]}), so a booking can name one by its index.
    proposals = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=32, blank=True)
    rationale = models.TextField(blank=True)

    class Meta:
        ordering = ["-ordered_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ordered_mg_per_kg__gt=0), name="course_dose_positive"
            ),
            models.CheckConstraint(
                condition=Q(phase="induction", parent__isnull=True)
                | Q(phase="continuation", parent__isnull=False),
                name="course_continuation_has_parent",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "status"], name="course_clinic_status")]

    def __str__(self) -> str:
        return f"{self.protocol.name} for {self.patient}"


class Appointment(BaseModel):
    class Kind(models.TextChoices):
        SESSION = "session", "Ketamine session"
        EVALUATION = "evaluation", "Evaluation"
        FOLLOW_UP = "follow_up", "Follow-up"
        BEHAVIORAL_HEALTH = "behavioral_health", "Behavioral-health visit"

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "No-show"
        CANCELLED = "cancelled", "Cancelled"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    sequence = models.PositiveSmallIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    nurse = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescriber = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The clinician of a single visit (evaluation, follow-up, behavioral-health visit).
    clinician = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    status_reason = models.CharField(max_length=300, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    booked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="appointment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(kind="session")
                | (
                    Q(course__isnull=False)
                    & Q(nurse__isnull=False)
                    & Q(prescriber__isnull=False)
                    & Q(sequence__isnull=False)
                ),
                name="appointment_session_complete",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(status_reason=""),
                name="appointment_cancel_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "starts_at"], name="appt_clinic_start"),
            models.Index(fields=["room", "starts_at"], name="appt_room_start"),
            models.Index(fields=["patient", "starts_at"], name="appt_patient_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}"


class CalendarFeed(BaseModel):
    """A secret, revocable iCalendar address for one owner: a patient's appointments at one
    site, or a staff member's own schedule. Only the SHA-256 of the token is kept; the
    address is shown once when the feed is created."""

    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calendar_feeds",
    )
    staff = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A patient feed lists the appointments at this site; a staff feed records the site the
    # staff member was working at when it was made (for the audit trail).
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(patient__isnull=False, staff__isnull=True)
                | Q(patient__isnull=True, staff__isnull=False),
                name="calendar_feed_one_owner",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="calendar_feed_revoked_by_someone",
            ),
            models.UniqueConstraint(
                fields=["patient", "clinic"],
                condition=Q(patient__isnull=False, revoked_at__isnull=True),
                name="calendar_feed_one_live_per_patient_site",
            ),
            models.UniqueConstraint(
                fields=["staff"],
                condition=Q(staff__isnull=False, revoked_at__isnull=True),
                name="calendar_feed_one_live_per_staff",
            ),
        ]

    def __str__(self) -> str:
        owner = "patient" if self.patient_id else "staff"
        state = "revoked" if self.revoked_at else "live"
        return f"Calendar feed ({owner}, {state})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
