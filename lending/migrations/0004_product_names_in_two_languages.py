# Names kept per language: the English half of the one stored name moves to name_en.

from django.db import migrations, models

from creditops.core.names import split_names



class Migration(migrations.Migration):

    dependencies = [
        ('lending', '0003_loan_dpd_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='name_en',
            field=models.CharField(blank=True, max_length=200, verbose_name='name in English'),
        ),
        migrations.AlterField(
            model_name='product',
            name='name',
            field=models.CharField(max_length=100, verbose_name='name in Chinese'),
        ),
        migrations.RunPython(split_names("lending.Product"), migrations.RunPython.noop),
    ]
