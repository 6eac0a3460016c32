import datetime

from django.core.management.base import BaseCommand, CommandError

from creditops.core.dates import business_today
from creditops.dashboards.services import activity_record


class Command(BaseCommand):
    help = (
        "Count (again) the collections activity of finished days for the dashboard, e.g. after importing "
        "history. The nightly schedule recounts the last 35 days by itself."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=datetime.date.fromisoformat, required=True)
        parser.add_argument("--to", dest="end", type=datetime.date.fromisoformat, help="default: yesterday")

    def handle(self, *args, start, end=None, **options):
        end = end or business_today() - datetime.timedelta(days=1)
        if end >= business_today() or start > end:
            raise CommandError("Give finished days: --from on or before --to, and --to before today.")
        rows = 0
        day = start
        while day <= end:
            rows += activity_record(day, recount=True)
            day += datetime.timedelta(days=1)
        self.stdout.write(f"Counted {(end - start).days + 1} days: {rows} activity rows.")
