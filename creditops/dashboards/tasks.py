"""django-q2 entry points of the dashboards (scheduled by `manage.py setup_schedules`)."""

import datetime

from creditops.core.dates import business_today

from .report import monthly_report_send
from .services import activity_record

# After an outage the schedule catches up this many finished days; older ones are counted on demand.
CATCH_UP_DAYS = 7


def count_finished_days() -> dict:
    """Count the collections activity of the last finished days not counted yet (normally: yesterday)."""
    today = business_today()
    days = [today - datetime.timedelta(days=offset) for offset in range(CATCH_UP_DAYS, 0, -1)]
    return {day.isoformat(): activity_record(day) for day in days}


def send_monthly_report() -> int:
    """On the 1st: last month's management report to every manager (after the nightly run has recorded
    the month start, so the month's roll rates are complete)."""
    return monthly_report_send()
