"""Protocol templates: the shape of a course (sessions, spacing, window, chair time, vitals
and questionnaires) and its dose range, owned by the medical director and versioned.

A template's versions share a ``lineage``. A draft is edited in place; editing an approved
version writes a new draft version, and approving it supersedes the one before. A course
keeps the version it was ordered under (DESIGN §9).
"""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel


class Indication(models.TextChoices):
    CHRONIC_PAIN = "chronic_pain", "Chronic pain"
    DEPRESSION = "depression", "Depression"
    PTSD = "ptsd", "PTSD"
    ANXIETY = "anxiety", "Anxiety"
    CONTINUATION = "continuation", "Continuation"


class Route(models.TextChoices):
    IM = "im", "Intramuscular (IM)"
    IV = "iv", "Intravenous (IV)"


class ProtocolTemplate(BaseModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        SUPERSEDED = "superseded", "Superseded"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="protocols")
    lineage = models.UUIDField(default=uuid.uuid4, db_index=True)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    name = models.CharField(max_length=120)
    indication = models.CharField(max_length=16, choices=Indication.choices)
    route = models.CharField(max_length=2, choices=Route.choices, default=Route.IM)
    sessions = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    min_interval_hours = models.PositiveSmallIntegerField(
        "minimum hours between sessions",
        default=0,
        validators=[MaxValueValidator(24 * 28)],
        help_text="Elapsed hours from one session's start to the next one's.",
    )
    window_days = models.PositiveSmallIntegerField(
        "window (days)",
        validators=[MinValueValidator(1), MaxValueValidator(180)],
        help_text="All sessions fall within this many calendar days, the first day included.",
    )
    mg_per_kg_min = models.DecimalField(
        "dose from (mg/kg)", max_digits=5, decimal_places=3, null=True, blank=True
    )
    mg_per_kg_max = models.DecimalField(
        "dose up to (mg/kg)", max_digits=5, decimal_places=3, null=True, blank=True
    )
    cap_mg = models.DecimalField(
        "absolute cap (mg)",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="No session's dose may exceed this, whatever the weight.",
    )
    dose_minutes = models.PositiveSmallIntegerField(
        "dosing time (minutes)", validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    observation_minutes = models.PositiveSmallIntegerField(
        "observation after the dose (minutes)",
        validators=[MinValueValidator(30), MaxValueValidator(480)],
    )
    # Minutes after the dose at which vitals are due (0 = at dosing).
    vitals_offsets = models.JSONField(default=list)
    # Instrument codes of the questionnaires before and after each session.
    pre_questionnaires = models.JSONField(default=list, blank=True)
    post_questionnaires = models.JSONField(default=list, blank=True)
    reassessment_days = models.PositiveSmallIntegerField(
        "reassessment after the last session (days)",
        validators=[MinValueValidator(1), MaxValueValidator(180)],
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["clinic", "name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "lineage", "version"], name="protocol_unique_version"
            ),
            models.UniqueConstraint(
                fields=["lineage"],
                condition=Q(status="draft"),
                name="protocol_one_draft_per_lineage",
            ),
            models.UniqueConstraint(
                fields=["lineage"],
                condition=Q(status="approved"),
                name="protocol_one_approved_per_lineage",
            ),
            models.CheckConstraint(
                condition=Q(mg_per_kg_min__isnull=True)
                | Q(mg_per_kg_max__isnull=True)
                | Q(mg_per_kg_min__lte=F("mg_per_kg_max")),
                name="protocol_dose_range_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved")
                | (
                    Q(mg_per_kg_min__isnull=False)
                    & Q(mg_per_kg_max__isnull=False)
                    & Q(cap_mg__isnull=False)
                    & Q(approved_by__isnull=False)
                ),
                name="protocol_approved_has_dose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def chair_minutes(self) -> int:
        return self.dose_minutes + self.observation_minutes

    @property
    def has_dose(self) -> bool:
        return None not in (self.mg_per_kg_min, self.mg_per_kg_max, self.cap_mg)
