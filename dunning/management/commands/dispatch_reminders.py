from django.core.management.base import BaseCommand

from dunning.services.dispatch import reminders_dispatch


class Command(BaseCommand):
    help = "Send pending SMS and e-mail reminders through the guardrails (django-q2 runs this hourly)."

    def handle(self, *args, **options):
        self.stdout.write(str(reminders_dispatch()))
