"""The database refuses to change or delete audit rows even through raw SQL (PostgreSQL)."""

import pytest
from django.db import DatabaseError, connection, transaction

from ketapath.audit.models import AuditEvent
from ketapath.audit.services import audit_record

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'read' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_raw_sql_cannot_rewrite_the_trail(statement):
    event = audit_record(action="create", username="someone", object_type="patient")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.id])
    stored = AuditEvent.objects.get(id=event.id)
    assert stored.action == "create"
