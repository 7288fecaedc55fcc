"""Ketamine sessions: the day's readiness check at a site, the session from check-in to a
signed note, its overrides of hard stops, adverse events and addenda (DESIGN §6, §9)."""

from typing import Any

from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Patient
from ketapath.pharmacy.models import LedgerEntry, Vial
from ketapath.scheduling.models import Appointment, Course

# Emergency equipment and rescue drugs checked before the first session of the day
# (issue 8, item 1), in the order the check list shows them.
READINESS_ITEMS: tuple[tuple[str, str], ...] = (
    ("oxygen", "Oxygen"),
    ("suction", "Suction"),
    ("bag_valve_mask", "Bag-valve-mask"),
    ("defibrillator", "Defibrillator"),
    ("antiemetic", "In-date antiemetic"),
    ("benzodiazepine", "Benzodiazepine"),
    ("antihypertensive", "Antihypertensive"),
    ("naloxone", "Naloxone"),
)


class DailyReadiness(BaseModel):
    """One site's recorded check of emergency equipment and rescue drugs on a local date."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="readiness_checks")
    date = models.DateField()  # the clinic's local date
    checked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()
    items = models.JSONField(default=dict)  # READINESS_ITEMS key → True

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "daily readiness checks"
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date"], name="readiness_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"Readiness {self.clinic_id} {self.date}"


SESSION_STATUSES = [
    "pre_check", "dosed", "monitoring", "ready", "discharged", "signed", "aborted"
]  # fmt: skip


class TreatmentSession(BaseModel):
    """A ketamine session opened from a checked-in session appointment of a course."""

    class Status(models.TextChoices):
        PRE_CHECK = "pre_check", "Pre-check"
        DOSED = "dosed", "Dosed"
        MONITORING = "monitoring", "Monitoring"
        READY = "ready", "Ready for discharge"
        DISCHARGED = "discharged", "Discharged"
        SIGNED = "signed", "Signed"
        ABORTED = "aborted", "Aborted"

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="treatment_session"
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="treatment_sessions"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="treatment_sessions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PRE_CHECK)
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()

    # Pre-check answers (see services.PRE_CHECK_FIELDS) and the band of the baseline BP.
    pre_check = models.JSONField(default=dict, blank=True)
    pre_check_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    pre_check_at = models.DateTimeField(null=True, blank=True)

    # The prescriber's dose order for this session.
    mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    mg_per_kg_reason = models.CharField(max_length=500, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    dose_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    concentration_mg_per_ml = models.DecimalField(
        max_digits=7, decimal_places=3, null=True, blank=True
    )
    vial = models.ForeignKey(
        Vial, on_delete=models.PROTECT, null=True, blank=True, related_name="treatment_sessions"
    )
    ordered_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ordered_at = models.DateTimeField(null=True, blank=True)

    # Administration, after the independent second check.
    given_at = models.DateTimeField(null=True, blank=True)
    route = models.CharField(max_length=8, blank=True)
    injection_site = models.CharField(max_length=60, blank=True)
    amount_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    infusion_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    draw_entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    given_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    # The second user's own figures from the vial, kept as they were entered.
    verified_dose_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    verified_volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    amount_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    infusion_rate_mg_per_hr = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True
    )

    # Clinician ratings: pain 0–10 before the dose and before discharge; dissociation as a
    # clinician 0–4 rating or a CADSS-6 total (clinical.md §1.5).
    pain_before = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_after = models.PositiveSmallIntegerField(null=True, blank=True)
    dissociation_scale = models.CharField(max_length=16, blank=True)
    dissociation_score = models.PositiveSmallIntegerField(null=True, blank=True)
    dissociation_at = models.DateTimeField(null=True, blank=True)

    # Discharge: the criteria as recorded, and how the patient left.
    discharge = models.JSONField(default=dict, blank=True)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # criteria_met, override (a prescriber's reasoned override) or against_advice.
    discharge_kind = models.CharField(max_length=16, blank=True)

    completed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    signed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    aborted_at = models.DateTimeField(null=True, blank=True)
    aborted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    abort_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SESSION_STATUSES), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="signed") | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="session_signed_has_signer",
            ),
            models.CheckConstraint(
                condition=~Q(status="aborted")
                | (Q(aborted_at__isnull=False, aborted_by__isnull=False) & ~Q(abort_reason="")),
                name="session_aborted_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "opened_at"], name="session_clinic_opened")]

    def __str__(self) -> str:
        return f"Session {self.id} ({self.status})"

    @property
    def is_closed(self) -> bool:
        return self.status in {self.Status.SIGNED, self.Status.ABORTED}

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A signed note is immutable (PostgreSQL also refuses it, migration 0003)."""
        if (
            not self._state.adding
            and TreatmentSession.objects.filter(pk=self.pk, status=self.Status.SIGNED).exists()
        ):
            raise SignedNoteLocked(MESSAGE_SIGNED_LOCKED)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status == self.Status.SIGNED:
            raise SignedNoteLocked(MESSAGE_SIGNED_LOCKED)
        return super().delete(*args, **kwargs)


MESSAGE_SIGNED_LOCKED = "A signed session note is immutable: add an addendum."


class SignedNoteLocked(Exception):
    """A change to a signed session note was attempted below the services."""


class SessionOverride(BaseModel):
    """A prescriber's reasoned override of one hard stop in one session."""

    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="overrides"
    )
    rule = models.CharField(max_length=24)
    reason = models.TextField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="override_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Override {self.rule} on {self.session_id}"


class AdverseEvent(BaseModel):
    class Kind(models.TextChoices):
        NAUSEA = "nausea_vomiting", "Nausea or vomiting"
        HYPERTENSION = "hypertension", "Hypertension"
        EMERGENCE = "emergence_agitation", "Emergence reaction or agitation"
        SEDATION = "excess_sedation", "Excess sedation"
        RESPIRATORY = "respiratory_depression", "Respiratory depression"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="adverse_events"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    onset = models.DateTimeField()
    description = models.CharField(max_length=500, blank=True)
    action = models.TextField(blank=True)
    medication = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["onset"]

    def __str__(self) -> str:
        return f"{self.kind} in {self.session_id}"


class SessionAlert(BaseModel):
    """An in-session alert raised by an out-of-range reading (clinical.md §5). It stays
    open until a clinician in the session clears it with a note of what was done."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="alerts")
    rule = models.CharField(max_length=16)  # rules.ALERT_*
    summary = models.CharField(max_length=300)
    reading_at = models.DateTimeField()
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    cleared_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["raised_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cleared_at__isnull=True) | ~Q(note=""),
                name="session_alert_cleared_has_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} in {self.session_id}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class SessionAddendum(BaseModel):
    """A correction or addition to a signed session note; the original stays as it was."""

    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "session addenda"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise SignedNoteLocked("Addenda are kept as written: add another addendum.")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"Addendum to {self.session_id}"
