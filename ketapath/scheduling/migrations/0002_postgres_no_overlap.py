"""PostgreSQL only: exclusion constraints that refuse two live appointments of one room, or
of one patient, at overlapping times (cancelled ones ignored). The booking service checks
the same under a lock on every database; this backs it up where the database can.

Needs the btree_gist extension (creating it needs a role allowed to, e.g. the database
owner on PostgreSQL 13+ where btree_gist is a trusted extension)."""

from django.db import migrations

CONSTRAINTS = {
    "appointment_no_room_overlap": "room_id",
    "appointment_no_patient_overlap": "patient_id",
}


def add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (status <> 'cancelled')"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(add, remove)]
