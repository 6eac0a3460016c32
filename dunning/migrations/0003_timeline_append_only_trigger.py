from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION dunning_caseevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'dunning_caseevent is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dunning_caseevent_no_change
    BEFORE UPDATE OR DELETE ON dunning_caseevent
    FOR EACH ROW EXECUTE FUNCTION dunning_caseevent_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS dunning_caseevent_no_change ON dunning_caseevent;
DROP FUNCTION IF EXISTS dunning_caseevent_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    """On PostgreSQL the database itself refuses UPDATE and DELETE of case timeline rows."""

    dependencies = [("dunning", "0002_default_ladder_and_profiles")]
    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
