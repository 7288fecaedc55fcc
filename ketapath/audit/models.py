"""The audit trail: one append-only table of every read and write of health information."""

import uuid
from typing import Any, NoReturn

from django.db import models

MESSAGE_APPEND_ONLY = "Audit events are append-only: they cannot be changed or deleted."


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)

    def delete(self) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)


class AuditEvent(models.Model):
    """Who did what to which patient's data, when, from where, and whether it was allowed.

    References are plain values (UUIDs and names), not foreign keys, so an event outlives
    anything it names and no lower app depends on a higher one.
    """

    class Action(models.TextChoices):
        READ = "read", "Read"
        SEARCH = "search", "Search"
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        EXPORT = "export", "Export"
        LOGIN = "login", "Log in"
        LOGIN_FAILED = "login_failed", "Failed log-in"
        LOGOUT = "logout", "Log out"
        TOKEN_ISSUED = "token_issued", "API token issued"
        PRIVILEGE_CHANGE = "privilege_change", "Privilege change"
        # Health information released outside the clinic (a progress report handed to the
        # patient or sent to a referring physician): HIPAA accounting of disclosures.
        DISCLOSE = "disclose", "Disclosure"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        DENIED = "denied", "Denied"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    time = models.DateTimeField(db_index=True)
    user_id = models.UUIDField(null=True, blank=True, db_index=True)
    username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=200, blank=True)
    clinic_id = models.UUIDField(null=True, blank=True)
    patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["patient_id", "time"], name="audit_patient_time")]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(MESSAGE_APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(MESSAGE_APPEND_ONLY)
