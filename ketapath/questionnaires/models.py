"""Stored questionnaire responses, answer by answer (DESIGN §9; clinical.md §2.1, §2.2).

Answers are kept as link id → chosen option value ("1".."n"), the way the instrument
registry (``instruments.py``) numbers its items; the score is stored beside them as it was
computed when the response was recorded, with the PCL-5 cut-off then in force.
"""

from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Patient
from ketapath.questionnaires.instruments import INSTRUMENTS, get_instrument

INSTRUMENT_CHOICES = [(code, instrument.title) for code, instrument in INSTRUMENTS.items()]

# How a band reads by shape as well as colour (DESIGN §11): the badge classes of app.css
# carry ✓ / ! / ✕ before the word. Bands without a clinical concern read "ok".
BAND_TONES = {
    "minimal": "ok",
    "negative": "ok",
    "mild": "warn",
    "moderate": "warn",
    "moderately_severe": "danger",
    "severe": "danger",
    "positive": "danger",
}


class Response(BaseModel):
    """One completed (or partly completed) questionnaire for a patient."""

    class Source(models.TextChoices):
        CLINIC = "clinic", "Entered by clinic staff"
        PATIENT_LINK = "patient_link", "Answered by the patient from a link"

    class Context(models.TextChoices):
        SCREENING = "screening", "Screening"
        PRE_SESSION = "pre_session", "Before a session"
        POST_SESSION = "post_session", "After a session"
        REASSESSMENT = "reassessment", "Reassessment"
        FOLLOW_UP = "follow_up", "Follow-up"
        DIARY = "diary", "Diary"

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="questionnaire_responses"
    )
    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, related_name="questionnaire_responses"
    )
    instrument = models.CharField(max_length=16, choices=INSTRUMENT_CHOICES)
    # Link id → chosen option value, only for the items answered.
    answers = models.JSONField(default=dict, blank=True)
    # Null while a scored item is unanswered: nothing is prorated (clinical.md §2.1).
    total = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    severity = models.CharField(max_length=32, blank=True)
    complete = models.BooleanField(default=False)
    missing = models.JSONField(default=list, blank=True)
    # Alert codes of the scoring rules ("phq9_item9", "phq9_item9_unknown").
    alert_codes = models.JSONField(default=list, blank=True)
    # Ids of the SafetyAlerts this response raised, kept so the result can name them.
    alert_ids = models.JSONField(default=list, blank=True)
    # PCL-5: {"clusters": {...}, "provisional_ptsd": {...}, "pcl5_cutoff": n}.
    scoring = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CLINIC)
    context = models.CharField(max_length=16, choices=Context.choices)
    # A plain reference (no foreign key): sessions and evaluations live in higher apps.
    context_id = models.UUIDField(null=True, blank=True)
    collected_at = models.DateTimeField()
    # Empty for answers a patient gives from a link.
    entered_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-collected_at", "-created_at"]
        indexes = [
            models.Index(
                fields=["patient", "instrument", "collected_at"],
                name="qresp_patient_instr_time",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(complete=True) | Q(total__isnull=True),
                name="qresp_incomplete_has_no_total",
            ),
            models.CheckConstraint(
                condition=Q(source__in=["clinic", "patient_link"]),
                name="qresp_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.collected_at:%Y-%m-%d}"

    @property
    def title(self) -> str:
        instrument = get_instrument(self.instrument)
        return instrument.title if instrument else self.instrument

    @property
    def band_label(self) -> str:
        """The severity band in words, or "" where the instrument has none."""
        instrument = get_instrument(self.instrument)
        if instrument is None or not self.severity:
            return ""
        band = next((b for b in instrument.bands if b.severity == self.severity), None)
        return band.label if band else self.severity

    @property
    def band_tone(self) -> str:
        return BAND_TONES.get(self.severity, "neutral")
