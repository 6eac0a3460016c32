"""django-q2 entry points of the dashboards (scheduled by `manage.py setup_schedules`)."""

import datetime

from creditops.core.dates import business_today
from dunning.models import DunningRun

from .report import monthly_report_send
from .services import activity_record

# Every night the last RECOUNT_DAYS finished days are counted again: a payment reversed or a bank file
# posted late, a letter printed or an e-mail bounced days later all change a day's figures.
RECOUNT_DAYS = 35


def count_finished_days() -> dict:
    """Count (again) the collections activity of the last finished days."""
    today = business_today()
    days = [today - datetime.timedelta(days=offset) for offset in range(RECOUNT_DAYS, 0, -1)]
    return {day.isoformat(): activity_record(day, recount=True) for day in days}


class MonthStartNotRunError(RuntimeError):
    """The run of the 1st has not finished: django-q2 retries the task later."""


def send_monthly_report() -> int:
    """On the 1st: last month's management report to every manager, once the nightly run of the 1st has
    recorded the month start (so the month's roll rates are complete)."""
    first = business_today().replace(day=1)
    if not DunningRun.objects.filter(as_of=first, status=DunningRun.Status.SUCCEEDED).exists():
        raise MonthStartNotRunError(f"The nightly run of {first} has not finished; the report waits for it.")
    return monthly_report_send()
