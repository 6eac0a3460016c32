"""django-q2 entry points of the dashboards (scheduled by `manage.py setup_schedules`)."""

import datetime

from creditops.core.dates import business_today

from .services import activity_record

# After an outage the schedule catches up this many finished days; older ones are counted on demand.
CATCH_UP_DAYS = 7


def count_finished_days() -> dict:
    """Count the collections activity of the last finished days not counted yet (normally: yesterday)."""
    today = business_today()
    days = [today - datetime.timedelta(days=offset) for offset in range(CATCH_UP_DAYS, 0, -1)]
    return {day.isoformat(): activity_record(day) for day in days}
