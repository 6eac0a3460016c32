from django.db import migrations

from creditops.core.db import append_only_trigger


class Migration(migrations.Migration):
    """On PostgreSQL the database itself refuses UPDATE and DELETE of audit rows (raw SQL included)."""

    dependencies = [("accounts", "0002_roles")]
    operations = [append_only_trigger("accounts_auditevent")]
