"""The outbox: every message to a patient or a staff member is a row with a due time.

A periodic task claims due rows, marks them sending, calls the channel and records the
provider's id (DESIGN §5b). A row is claimed once: a retried task finds it no longer
queued, so nothing is sent twice, and nothing is sent before ``due_at``. The stored
subject and body are what staff see; a personal link is put into the text only at the
moment of sending and never stored (``link_request`` says which link to make).
"""

from django.db import models
from django.db.models import Q

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.patients.models import Patient


class Message(BaseModel):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "Text message"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # No channel the patient allows (no consent, opted out, no address): not sent.
        NOT_SENT = "not_sent", "Not sent"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="messages")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    recipient_user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    kind = models.CharField(max_length=40)
    # Replaces or cancels an earlier queued message with the same key (one reminder per
    # appointment, one link per schedule item): "<kind>:<object id>".
    dedupe_key = models.CharField(max_length=120, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    context = models.JSONField(default=dict, blank=True)
    # {"purpose", "instruments", "context", "context_id", "label"}: the link the portal makes
    # at sending time; empty for messages without one.
    link_request = models.JSONField(default=dict, blank=True)
    link_id = models.UUIDField(null=True, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    status_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # A plain reference to what the message is about (an appointment, a course, an alert).
    about_kind = models.CharField(max_length=20, blank=True)
    about_id = models.UUIDField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-due_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(patient__isnull=False) | Q(recipient_user__isnull=False),
                name="message_has_recipient",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | (Q(sent_at__isnull=False) & ~Q(provider_id="")),
                name="message_sent_has_provider_id",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="message_due"),
            models.Index(fields=["patient", "-due_at"], name="message_patient"),
            models.Index(fields=["clinic", "status", "-due_at"], name="message_clinic"),
            models.Index(fields=["dedupe_key"], name="message_dedupe"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_at:%Y-%m-%d %H:%M}"


class PatientInstruction(BaseModel):
    """A pre-session instruction a prescriber wrote for one patient (for example to take
    or hold a medicine on the morning of a session). Reminders carry only these; the
    software's own text never tells a patient to stop a medicine (DESIGN §6)."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="pre_session_instructions"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    text = models.CharField(max_length=300)
    written_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-written_at"]

    def __str__(self) -> str:
        return self.text
