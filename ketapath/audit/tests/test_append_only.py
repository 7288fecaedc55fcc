"""The audit table only grows: no row can be changed or removed through the ORM."""

from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction

from ketapath.audit.models import MESSAGE_APPEND_ONLY, AuditEvent
from ketapath.audit.services import audit_record

MakeEvent = Callable[..., AuditEvent]


@pytest.fixture
def event(db: None) -> AuditEvent:
    return audit_record(action=AuditEvent.Action.READ, username="nurse", object_type="patient")


def _unchanged(event: AuditEvent) -> None:
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.username, stored.action, stored.outcome, stored.time) == (
        "nurse",
        "read",
        "success",
        event.time,
    )


def test_instance_save_after_creation_is_refused(event: AuditEvent) -> None:
    event.username = "someone-else"
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        event.save()
    event.refresh_from_db()
    _unchanged(event)


def test_save_with_update_fields_is_refused(event: AuditEvent) -> None:
    event.outcome = AuditEvent.Outcome.DENIED
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        event.save(update_fields=["outcome"])
    _unchanged(event)


def test_instance_delete_is_refused(event: AuditEvent) -> None:
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        event.delete()
    _unchanged(event)


def test_queryset_update_is_refused(event: AuditEvent) -> None:
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        AuditEvent.objects.filter(pk=event.pk).update(username="someone-else")
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        AuditEvent.objects.update(outcome="denied")
    _unchanged(event)


def test_queryset_delete_is_refused(event: AuditEvent) -> None:
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        AuditEvent.objects.all().delete()
    _unchanged(event)
    assert AuditEvent.objects.count() == 1


def test_bulk_update_is_refused(event: AuditEvent) -> None:
    event.username = "someone-else"
    with pytest.raises(PermissionError, match=MESSAGE_APPEND_ONLY):
        AuditEvent.objects.bulk_update([event], ["username"])
    _unchanged(event)


def test_a_new_object_cannot_overwrite_an_existing_row(event: AuditEvent) -> None:
    impostor = AuditEvent(
        id=event.id, time=event.time, username="impostor", action="read", outcome="success"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()
    _unchanged(event)
