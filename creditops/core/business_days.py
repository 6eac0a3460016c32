"""Business days: the dates a holiday calendar counts as working days.

Two calendars, both from maintained libraries (pinned in requirements.txt):

- ``CN`` — China's statutory holidays as the State Council announces them each year, including the
  working weekends that make up for a long holiday (调休, e.g. Sunday 2026-01-04 is a working day), from
  ``chinese_calendar``. A Saturday or Sunday is a business day only when it is such an announced working day.
- ``US`` — the eleven US federal holidays (5 U.S.C. 6103) from ``holidays.US`` (its ``public`` category),
  *observed* as federal offices observe them: a holiday on a Saturday closes the Friday before, one on a
  Sunday the Monday after (Independence Day 2026 falls on a Saturday, so Friday 2026-07-03 is closed).
  Saturdays and Sundays are never business days. One-off closures by executive order (the ``government``
  category: a national day of mourning, an extra Christmas Eve) are left out: banks and the payment
  systems stay open on them. Note that the Federal Reserve Banks differ on one point: they stay *open*
  on the Friday before a Saturday holiday, so on such a Friday a Fedwire/ACH settlement calendar would
  count a business day where this one does not.

**Coverage.** ``chinese_calendar`` only knows the years already announced (1.11.0: 2004 to 2026) and
raises ``NotImplementedError`` for any other date. This module handles that explicitly: a date outside
the covered years is judged by weekends alone (Monday to Friday are business days), and
``calendar_covers(day, calendar)`` says False for it, so a screen can say "holidays not yet announced for
2027: weekends only". ``covered_years(calendar)`` / ``last_covered_year(calendar)`` give the range; the
US rules are computed by ``holidays`` for 1777 to 2100, beyond which the same weekends-only rule applies.
Upgrading ``chinese-calendar`` (the maintainers publish each year's data soon after the announcement,
usually in November) extends the covered years; nothing here needs to change.

**Counting.** ``business_days_between(start, end)`` is half-open, ``[start, end)``: it counts ``start``
when it is a business day and never counts ``end`` (as ``range`` and ``numpy.busday_count`` do), so
adjacent periods add up without counting a day twice. ``add_business_days(day, n)`` is the n-th business
day after ``day`` (before it when ``n`` is negative; ``n == 0`` is ``next_business_day(day)``). Hence
``business_days_between(add_business_days(end, -n), end) == n`` for every ``end``, and
``business_days_between(start, add_business_days(start, n)) == n`` when ``start`` is a business day.

**Cost.** Each (calendar, year) is turned once into a frozen set of its closed days and cached, so
``is_business_day`` is a cache look-up and a set membership test.

Arguments are dates, never datetimes: which day a moment falls on depends on a time zone, which the
caller decides (``creditops.core.dates.business_today``, a run's ``as_of``).
"""

import datetime
import functools

import chinese_calendar
import holidays
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

ONE_DAY = datetime.timedelta(days=1)
SATURDAY = 5


class Calendar(TextChoices):
    CN = "CN", _("China statutory holidays (with working weekends)")
    US = "US", _("US federal holidays")


# The years chinese_calendar has data for, read from the table it exports and checks dates against itself.
_CN_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
_US_YEARS = range(holidays.US.start_year, holidays.US.end_year + 1)


def covered_years(calendar: Calendar | str) -> range:
    """The years the calendar's holidays are known for; outside them only weekends are non-business days."""
    return _CN_YEARS if Calendar(calendar) == Calendar.CN else _US_YEARS


def last_covered_year(calendar: Calendar | str) -> int:
    """The last year whose holidays are known (CN: the last year the State Council has announced and the
    installed chinese-calendar carries)."""
    return covered_years(calendar)[-1]


def calendar_covers(day: datetime.date, calendar: Calendar | str) -> bool:
    """Whether `day`'s holidays are known; if not, `is_business_day` judges it by weekends alone."""
    return day.year in covered_years(calendar)


@functools.lru_cache(maxsize=512)
def _closed_days(calendar: str, year: int) -> frozenset[datetime.date]:
    """Every non-business day of `year` in `calendar`: weekends and holidays, less announced working days."""
    calendar = Calendar(calendar)  # an unknown calendar raises ValueError here (and is not cached)
    first = datetime.date(year, 1, 1)
    days = [first + datetime.timedelta(days=i) for i in range((datetime.date(year + 1, 1, 1) - first).days)]
    weekends = {day for day in days if day.weekday() >= SATURDAY}
    if year not in covered_years(calendar):
        return frozenset(weekends)
    if calendar == Calendar.CN:
        try:
            return frozenset(day for day in days if not chinese_calendar.is_workday(day))
        except NotImplementedError:  # the library's own range check disagrees with ours: weekends only
            return frozenset(weekends)
    federal = holidays.US(years=year, categories=(holidays.PUBLIC,), observed=True)
    return frozenset(weekends | {day for day in federal if day.year == year})


def is_business_day(day: datetime.date, calendar: Calendar | str) -> bool:
    """Whether `day` is a working day in `calendar` (see the module's notes for years not yet announced)."""
    if isinstance(day, datetime.datetime):
        raise TypeError("a business day is a date; convert the datetime in the right time zone first")
    return day not in _closed_days(calendar, day.year)


def next_business_day(day: datetime.date, calendar: Calendar | str) -> datetime.date:
    """`day` itself when it is a business day, else the first business day after it."""
    while not is_business_day(day, calendar):
        day += ONE_DAY
    return day


def add_business_days(day: datetime.date, n: int, calendar: Calendar | str) -> datetime.date:
    """The n-th business day after `day` (n > 0) or before it (n < 0); `day` itself is never counted.
    n == 0 gives `next_business_day(day)`."""
    if n == 0:
        return next_business_day(day, calendar)
    step = ONE_DAY if n > 0 else -ONE_DAY
    remaining = abs(n)
    while remaining:
        day += step
        if is_business_day(day, calendar):
            remaining -= 1
    return day


def business_days_between(start: datetime.date, end: datetime.date, calendar: Calendar | str) -> int:
    """The number of business days in the half-open interval [start, end): `start` counts when it is a
    business day, `end` never does. Negative (the count of [end, start)) when `end` is before `start`."""
    if isinstance(start, datetime.datetime) or isinstance(end, datetime.datetime):
        raise TypeError("business days are counted between dates, not datetimes")
    if end < start:
        return -business_days_between(end, start, calendar)
    closed = sum(
        1 for year in range(start.year, end.year + 1) for day in _closed_days(calendar, year) if start <= day < end
    )
    return (end - start).days - closed
