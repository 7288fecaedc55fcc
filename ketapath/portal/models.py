"""Patient links: an unguessable, expiring, single-use address per message.

Only a hash of the token is stored. Before anything about health is shown the patient
gives their date of birth; a few wrong answers lock the link (the policy's
``link_birth_date_tries``). A link is used once: its answers are saved and it is closed
in the same transaction.
"""

from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Patient


class PatientLink(BaseModel):
    class Purpose(models.TextChoices):
        QUESTIONNAIRES = "questionnaires", "Questionnaires"
        DIARY = "diary", "Daily check-in"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="links")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    # Instrument codes, in the order they are asked (questionnaires only).
    instruments = models.JSONField(default=list, blank=True)
    # Where the answers belong (questionnaires.Response.Context) and the schedule item
    # they answer, as plain references (a course, an appointment, a schedule item).
    context = models.CharField(max_length=16, blank=True)
    context_id = models.UUIDField(null=True, blank=True)
    course_id = models.UUIDField(null=True, blank=True)
    # The day a diary link asks about (site time zone).
    day = models.DateField(null=True, blank=True)
    # A link made for a message with the same key replaces this one while it is unused.
    dedupe_key = models.CharField(max_length=120, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    birth_date_failures = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    message_id = models.UUIDField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(purpose="diary") | Q(day__isnull=False), name="link_diary_has_day"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="link_expires_after_created",
            ),
        ]
        indexes = [models.Index(fields=["patient", "-created_at"], name="link_patient")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} link"
