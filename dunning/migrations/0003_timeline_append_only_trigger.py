from django.db import migrations

from creditops.core.db import append_only_trigger


class Migration(migrations.Migration):
    """On PostgreSQL the database itself refuses UPDATE and DELETE of case timeline rows."""

    dependencies = [("dunning", "0002_default_ladder_and_profiles")]
    operations = [append_only_trigger("dunning_caseevent")]
