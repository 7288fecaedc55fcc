"""Audit test helpers: events at chosen times (audit_record always stamps 'now')."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ketapath.audit.models import AuditEvent


@pytest.fixture
def make_event(db: Any) -> Callable[..., AuditEvent]:
    def make(time: datetime | None = None, **fields: Any) -> AuditEvent:
        values: dict[str, Any] = {
            "time": time or datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
            "username": "someone",
            "action": AuditEvent.Action.READ,
            "outcome": AuditEvent.Outcome.SUCCESS,
            "object_type": "patient",
        }
        values.update(fields)
        event = AuditEvent(**values)
        event.save(force_insert=True)
        return event

    return make
