# Names kept per language: the English half of the one stored name moves to name_en.

from django.db import migrations, models

from creditops.core.names import split_names



class Migration(migrations.Migration):

    dependencies = [
        ('dunning', '0013_callbacks_and_approval_rules'),
    ]

    operations = [
        migrations.AddField(
            model_name='dunningpolicy',
            name='name_en',
            field=models.CharField(blank=True, max_length=200, verbose_name='name in English'),
        ),
        migrations.AddField(
            model_name='dunningstage',
            name='name_en',
            field=models.CharField(blank=True, max_length=200, verbose_name='name in English'),
        ),
        migrations.AddField(
            model_name='guardrailprofile',
            name='name_en',
            field=models.CharField(blank=True, max_length=200, verbose_name='name in English'),
        ),
        migrations.AlterField(
            model_name='dunningpolicy',
            name='name',
            field=models.CharField(max_length=100, unique=True, verbose_name='name in Chinese'),
        ),
        migrations.AlterField(
            model_name='dunningstage',
            name='name',
            field=models.CharField(max_length=100, verbose_name='name in Chinese'),
        ),
        migrations.AlterField(
            model_name='guardrailprofile',
            name='name',
            field=models.CharField(max_length=200, verbose_name='name in Chinese'),
        ),
        migrations.RunPython(split_names("dunning.DunningPolicy", "dunning.DunningStage", "dunning.GuardrailProfile"), migrations.RunPython.noop),
    ]
