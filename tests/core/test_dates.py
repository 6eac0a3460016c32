import datetime

import pytest

from creditops.core.dates import add_months, business_today

D = datetime.date


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),  # clamped to the month's end
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2024, 2, 29), 12, D(2025, 2, 28)),  # leap day a year on
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2026, 12, 15), 1, D(2027, 1, 15)),  # December rolls into the next year
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2026, 1, 15), 12, D(2027, 1, 15)),
        (D(2026, 1, 15), 25, D(2028, 2, 15)),
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 5, 10), 0, D(2026, 5, 10)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),  # negative months go back
        (D(2026, 1, 15), -1, D(2025, 12, 15)),  # back across the year
        (D(2026, 1, 31), -13, D(2024, 12, 31)),
        (D(2028, 3, 31), -1, D(2028, 2, 29)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


def test_add_months_chained_keeps_the_clamped_day():
    # Schedules add k months to the first due date (not month by month), so a 31st stays a 31st.
    first = D(2026, 1, 31)
    assert [add_months(first, k) for k in range(4)] == [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30)]


def test_business_today_is_the_local_date_in_the_lenders_time_zone(settings):
    from django.utils import timezone

    settings.TIME_ZONE = "Asia/Shanghai"
    assert business_today() == timezone.localdate()
    assert isinstance(business_today(), datetime.date)
