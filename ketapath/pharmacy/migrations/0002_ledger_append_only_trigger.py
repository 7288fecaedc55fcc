"""On PostgreSQL the database itself refuses UPDATE and DELETE on ledger entries, so no
code path (raw SQL included) can rewrite the controlled-substance record; a correction
is a reversing entry. SQLite relies on the ORM guard in models.py."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION pharmacy_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'Ledger entries are append-only: correct one with a reversing entry.'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER pharmacy_ledger_append_only
    BEFORE UPDATE OR DELETE ON pharmacy_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION pharmacy_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS pharmacy_ledger_append_only ON pharmacy_ledgerentry;
DROP FUNCTION IF EXISTS pharmacy_ledger_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("pharmacy", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
