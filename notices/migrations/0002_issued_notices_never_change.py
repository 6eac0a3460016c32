"""PostgreSQL itself refuses to change an issued notice or to delete any notice (raw SQL included); a
reserved notice may be updated once, to issue it. Other databases rely on Notice.save() and delete()."""

from django.db import migrations

from creditops.core.db import postgresql_only_sql

CREATE = """
CREATE OR REPLACE FUNCTION notices_notice_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.status = 'issued' THEN
        RAISE EXCEPTION 'notices_notice: an issued notice never changes (%% refused)', TG_OP;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notices_notice_frozen
    BEFORE UPDATE OR DELETE ON notices_notice
    FOR EACH ROW EXECUTE FUNCTION notices_notice_frozen();
"""
DROP = """
DROP TRIGGER IF EXISTS notices_notice_frozen ON notices_notice;
DROP FUNCTION IF EXISTS notices_notice_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("notices", "0001_initial")]
    operations = [postgresql_only_sql(CREATE, DROP)]
