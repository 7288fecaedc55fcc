"""Measurements taken of a patient (vitals, pain) and the safety alerts clinicians clear.

Codes (LOINC) and units (UCUM) of each measurement kind live in ``rules.VITAL_KINDS``.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Patient


class Observation(BaseModel):
    """One measured value; several taken together share ``taken_at`` and the context."""

    class ContextKind(models.TextChoices):
        CLINIC_VISIT = "clinic_visit", "Clinic visit"
        EVALUATION = "evaluation", "Evaluation"
        SESSION = "session", "Session"
        DIARY = "diary", "Diary"
        REASSESSMENT = "reassessment", "Reassessment"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="observations")
    code = models.CharField("LOINC code", max_length=16)
    display = models.CharField(max_length=120)
    value = models.DecimalField(max_digits=7, decimal_places=2)
    unit = models.CharField("UCUM unit", max_length=16)
    taken_at = models.DateTimeField()
    taken_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    context_kind = models.CharField(
        max_length=16, choices=ContextKind.choices, default=ContextKind.CLINIC_VISIT
    )
    # A plain reference (no foreign key): sessions and evaluations live in higher apps.
    context_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at", "code"]
        indexes = [
            models.Index(fields=["patient", "code", "taken_at"], name="obs_patient_code_time"),
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.value} {self.unit}"


class SafetyAlert(BaseModel):
    """A safety finding that waits for a clinician's same-day risk assessment.

    Open alerts escalate to the site's medical directors after the clinic policy's
    ``alert_escalation_minutes`` of opening hours; a cleared alert keeps who cleared it,
    when, the structured assessment and the plan.
    """

    class Kind(models.TextChoices):
        PHQ9_ITEM9 = "phq9_item9", "PHQ-9 item 9"
        VITALS = "vitals", "Vital signs"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ESCALATED = "escalated", "Escalated"
        CLEARED = "cleared", "Cleared"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="safety_alerts")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="safety_alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    source_kind = models.CharField(max_length=40)
    # A plain reference to the record that raised it (a questionnaire response, ...).
    source_id = models.UUIDField()
    summary = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.CharField(max_length=500, blank=True)
    # Raised outside opening hours: the clinician(s) it was sent to (the policy's on-call
    # clinician, else the site's medical directors) and when.
    routed_at = models.DateTimeField(null=True, blank=True)
    routed_to = models.CharField(max_length=500, blank=True)
    cleared_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    assessment = models.JSONField(default=dict, blank=True)
    plan = models.TextField(blank=True)

    class Meta:
        ordering = ["raised_at"]
        indexes = [models.Index(fields=["clinic", "status", "raised_at"], name="alert_site_status")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="cleared")
                | Q(cleared_by__isnull=False, cleared_at__isnull=False),
                name="alert_cleared_has_clearer",
            ),
            models.CheckConstraint(
                condition=Q(status="cleared") | Q(cleared_by__isnull=True, cleared_at__isnull=True),
                name="alert_uncleared_has_no_clearer",
            ),
            models.CheckConstraint(
                condition=~Q(status="escalated") | Q(escalated_at__isnull=False),
                name="alert_escalated_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "escalated", "cleared"]),
                name="alert_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


class DiaryEntry(BaseModel):
    """One day of the pain diary a patient keeps between sessions, from a patient link:
    the day's 0–10 pain rating, whether rescue medication was needed, an optional note.
    ``course_id`` is a plain reference to the course the diary belongs to."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diary_entries")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    course_id = models.UUIDField(null=True, blank=True)
    day = models.DateField(help_text="The day the entry describes, in the site's time zone.")
    pain = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(10)],
        help_text="Pain today on a 0–10 scale (0 no pain, 10 worst imaginable).",
    )
    rescue_medication = models.BooleanField()
    rescue_detail = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=16, default="patient_link")

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "course_id", "day"], name="diary_one_per_day"
            ),
            models.CheckConstraint(condition=Q(pain__lte=10), name="diary_pain_0_10"),
        ]

    def __str__(self) -> str:
        return f"Diary {self.day}"
