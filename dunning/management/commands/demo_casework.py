from django.core.management.base import BaseCommand

from dunning.demo import demo_casework_create, demo_ledger_stories_create


class Command(BaseCommand):
    help = (
        "Demo only: let each demo collector work their top open cases once (calls through the guardrail, "
        "promises, notes, a payment plan and a settlement waiting for approval), then show once what the ledger "
        "does beyond payments, each requested by a collector and approved by their supervisor: a penalty "
        "waiver, a settlement paid (settled with discount), a settlement waiting for payment, a restructuring, "
        "a write-off with a recovery. Each part does nothing if it was done before."
    )

    def handle(self, *args, **options):
        worked = demo_casework_create()
        self.stdout.write(f"Demo casework: {worked} cases worked." if worked else "Demo casework: already done.")
        told = demo_ledger_stories_create()
        for story, reference in told.items():
            self.stdout.write(f"Demo ledger: {story} on {reference}.")
        if not told:
            self.stdout.write("Demo ledger: already done (or no case fits).")
