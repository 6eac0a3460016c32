from django.db import migrations


class Migration(migrations.Migration):
    """Once the default ladder, guardrail profiles and run lock. They are now installed after every
    `migrate` (dunning.apps, post_migrate: what is missing is created, with the final schema), so this
    migration has nothing left to do; it stays for the databases that applied it."""

    dependencies = [("dunning", "0001_initial")]
    operations = []
