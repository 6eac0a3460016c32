from django.db import migrations

from dunning.defaults import install_defaults


class Migration(migrations.Migration):
    """The default dunning ladder, the CN and US guardrail profiles, and the nightly run's lock row."""

    dependencies = [("dunning", "0001_initial")]
    operations = [migrations.RunPython(install_defaults, migrations.RunPython.noop)]
