"""On PostgreSQL the database itself refuses to change or delete a signed session note or
anything recorded in it (overrides, adverse events, in-session alerts), and any addendum;
a correction is a new addendum. SQLite relies on the guard in the services and models."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION treatments_signed_session_locked() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'A signed session note is immutable: add an addendum.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER treatments_signed_session_locked
    BEFORE UPDATE OR DELETE ON treatments_treatmentsession
    FOR EACH ROW EXECUTE FUNCTION treatments_signed_session_locked();

CREATE OR REPLACE FUNCTION treatments_signed_child_locked() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM treatments_treatmentsession
        WHERE id = OLD.session_id AND status = 'signed'
    ) THEN
        RAISE EXCEPTION 'A signed session note is immutable: add an addendum.'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER treatments_override_locked
    BEFORE UPDATE OR DELETE ON treatments_sessionoverride
    FOR EACH ROW EXECUTE FUNCTION treatments_signed_child_locked();
CREATE TRIGGER treatments_adverse_event_locked
    BEFORE UPDATE OR DELETE ON treatments_adverseevent
    FOR EACH ROW EXECUTE FUNCTION treatments_signed_child_locked();
CREATE TRIGGER treatments_session_alert_locked
    BEFORE UPDATE OR DELETE ON treatments_sessionalert
    FOR EACH ROW EXECUTE FUNCTION treatments_signed_child_locked();

CREATE OR REPLACE FUNCTION treatments_addendum_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'Addenda are kept as written: add another addendum.'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER treatments_addendum_append_only
    BEFORE UPDATE OR DELETE ON treatments_sessionaddendum
    FOR EACH ROW EXECUTE FUNCTION treatments_addendum_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS treatments_signed_session_locked ON treatments_treatmentsession;
DROP TRIGGER IF EXISTS treatments_override_locked ON treatments_sessionoverride;
DROP TRIGGER IF EXISTS treatments_adverse_event_locked ON treatments_adverseevent;
DROP TRIGGER IF EXISTS treatments_session_alert_locked ON treatments_sessionalert;
DROP TRIGGER IF EXISTS treatments_addendum_append_only ON treatments_sessionaddendum;
DROP FUNCTION IF EXISTS treatments_signed_session_locked();
DROP FUNCTION IF EXISTS treatments_signed_child_locked();
DROP FUNCTION IF EXISTS treatments_addendum_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0002_session_charting")]

    operations = [migrations.RunPython(create, drop)]
