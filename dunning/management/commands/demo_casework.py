from django.core.management.base import BaseCommand

from dunning.demo import demo_casework_create


class Command(BaseCommand):
    help = (
        "Demo only: let each demo collector work their top open cases once (calls through the guardrail, "
        "promises, notes, a payment plan and a settlement waiting for approval). Does nothing if staff have "
        "already logged a contact."
    )

    def handle(self, *args, **options):
        worked = demo_casework_create()
        self.stdout.write(f"Demo casework: {worked} cases worked." if worked else "Demo casework: already done.")
