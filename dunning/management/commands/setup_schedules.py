import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

SCHEDULES = [
    # (name, function, schedule type, minutes, first run at local time)
    ("Nightly dunning run", "dunning.tasks.nightly_run", Schedule.DAILY, None, datetime.time(1, 30)),
    ("Send automatic reminders", "dunning.tasks.dispatch_reminders", Schedule.HOURLY, None, datetime.time(9, 5)),
    # The nightly run queues the day's notices itself; this catches any it could not (and crashed renders).
    ("Issue pending notices", "notices.tasks.issue_pending_notices", Schedule.HOURLY, None, datetime.time(8, 15)),
    # E-mail retries back off from 5 minutes, so their sweep runs every 5 minutes.
    ("Retry notice e-mails", "notices.tasks.deliver_due_emails", Schedule.MINUTES, 5, datetime.time(0, 2)),
    # Yesterday's contacts, promises, payments and notices, counted once for the managers' dashboard.
    (
        "Count yesterday's activity",
        "creditops.dashboards.tasks.count_finished_days",
        Schedule.DAILY,
        None,
        datetime.time(0, 20),
    ),
    # On the 1st, after the nightly run recorded the month start: last month's report to the managers.
    (
        "Monthly management report",
        "creditops.dashboards.tasks.send_monthly_report",
        Schedule.MONTHLY,
        None,
        datetime.time(6, 0),
    ),
]


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules (idempotent: run it after every deploy)."

    def handle(self, *args, **options):
        for name, func, schedule_type, minutes, at in SCHEDULES:
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes,
                          "next_run": self._next(at, schedule_type), "repeats": -1},
            )  # fmt: skip
            self.stdout.write(f"{'created' if created else 'updated'}: {name} ({func})")

    @staticmethod
    def _next(at: datetime.time, schedule_type: str = Schedule.DAILY) -> datetime.datetime:
        now = timezone.localtime()
        candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        if schedule_type == Schedule.MONTHLY:  # the 1st of the coming month
            first = candidate.replace(day=1)
            return (
                first if first > now else first.replace(month=first.month % 12 + 1, year=first.year + first.month // 12)
            )
        return candidate if candidate > now else candidate + datetime.timedelta(days=1)
