"""Calendar helpers for schedules and the business date."""

import calendar
import datetime

from django.utils import timezone


def add_months(day: datetime.date, months: int, *, day_of_month: int | None = None) -> datetime.date:
    """Same day-of-month `months` later, clamped to the month's end (Jan 31 + 1 month = Feb 28/29).
    `day_of_month` is the day to aim for instead of `day`'s own: a schedule that fell due on Feb 28 only
    because February is short still falls due on Mar 31."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return datetime.date(year, month, min(day_of_month or day.day, last_day))


def business_today() -> datetime.date:
    """Today's date in the lender's time zone: the default business date for commands."""
    return timezone.localdate()
