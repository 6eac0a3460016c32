import datetime

import chinese_calendar
import holidays
import pytest

from creditops.core import business_days
from creditops.core.business_days import (
    Calendar,
    add_business_days,
    business_days_between,
    calendar_covers,
    covered_years,
    is_business_day,
    last_covered_year,
    next_business_day,
)

D = datetime.date
CN, US = Calendar.CN, Calendar.US


def days(start, end):
    """Every date from start to end inclusive."""
    return [start + datetime.timedelta(days=i) for i in range((end - start).days + 1)]


# --- CN: statutory holidays and the announced working weekends (调休), as chinese_calendar carries them ---


def test_national_day_2026_is_seven_days_off():
    assert not any(is_business_day(day, CN) for day in days(D(2026, 10, 1), D(2026, 10, 7)))
    assert is_business_day(D(2026, 9, 30), CN) and is_business_day(D(2026, 10, 8), CN)


def test_the_working_weekends_around_national_day_2026_are_business_days():
    # Sunday 09-20 and Saturday 10-10 make up for Oct 1–7; the library names them as National Day workdays.
    for day in (D(2026, 9, 20), D(2026, 10, 10)):
        assert day.weekday() >= 5
        assert chinese_calendar.get_holiday_detail(day) == (False, chinese_calendar.Holiday.national_day.value)
        assert is_business_day(day, CN)


def test_sunday_4_january_2026_is_a_working_day_for_new_year():
    assert D(2026, 1, 4).strftime("%A") == "Sunday"
    assert chinese_calendar.get_holiday_detail(D(2026, 1, 4)) == (False, chinese_calendar.Holiday.new_years_day.value)
    assert is_business_day(D(2026, 1, 4), CN)
    assert not any(is_business_day(day, CN) for day in days(D(2026, 1, 1), D(2026, 1, 3)))


def test_spring_festival_2026_is_nine_days_off_with_two_working_saturdays():
    spring_festival = days(D(2026, 2, 15), D(2026, 2, 23))
    assert all(chinese_calendar.get_holiday_detail(day)[0] for day in spring_festival)
    assert not any(is_business_day(day, CN) for day in spring_festival)
    assert is_business_day(D(2026, 2, 14), CN) and is_business_day(D(2026, 2, 28), CN)  # Saturdays, 调休


def test_an_ordinary_weekend_is_not_a_business_day():
    assert D(2026, 3, 7).strftime("%A") == "Saturday"
    for calendar in (CN, US):
        assert not is_business_day(D(2026, 3, 7), calendar)
        assert not is_business_day(D(2026, 3, 8), calendar)
        assert is_business_day(D(2026, 3, 9), calendar)


def test_cn_agrees_with_chinese_calendar_on_every_covered_day():
    for day in days(D(2025, 1, 1), D(2026, 12, 31)):
        assert is_business_day(day, CN) == chinese_calendar.is_workday(day), day


# --- CN beyond the announced years: weekends only, and the module says so ---


def test_2027_is_not_announced_yet_so_cn_falls_back_to_weekends_only():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2027, 10, 1))  # why the fallback exists
    assert last_covered_year(CN) == 2026
    assert calendar_covers(D(2026, 12, 31), CN)
    assert not calendar_covers(D(2027, 1, 1), CN)
    # National Day 2027 is a Friday: a business day until the 2027 schedule is installed.
    assert is_business_day(D(2027, 10, 1), CN)
    assert not is_business_day(D(2027, 10, 2), CN) and not is_business_day(D(2027, 10, 3), CN)
    assert [is_business_day(day, CN) for day in days(D(2027, 2, 1), D(2027, 2, 7))] == [True] * 5 + [False] * 2


def test_years_before_the_data_also_fall_back_to_weekends_only():
    assert covered_years(CN)[0] == 2004
    assert not calendar_covers(D(2003, 10, 1), CN)
    assert is_business_day(D(2003, 10, 1), CN)  # a Wednesday


def test_a_not_implemented_error_from_the_library_falls_back_to_weekends_only(monkeypatch):
    def not_announced(day):
        raise NotImplementedError(day)

    business_days._closed_days.cache_clear()
    monkeypatch.setattr(chinese_calendar, "is_workday", not_announced)
    try:
        assert is_business_day(D(2026, 10, 1), CN)  # a Thursday, judged by weekends alone
        assert not is_business_day(D(2026, 10, 10), CN)
    finally:
        business_days._closed_days.cache_clear()


# --- US: federal holidays as federal offices observe them ---


def test_independence_day_2026_is_observed_on_friday_3_july():
    assert D(2026, 7, 4).strftime("%A") == "Saturday"
    assert not is_business_day(D(2026, 7, 3), US)
    assert not is_business_day(D(2026, 7, 4), US)
    assert is_business_day(D(2026, 7, 2), US) and is_business_day(D(2026, 7, 6), US)


def test_thanksgiving_2026_is_off_and_the_friday_after_is_a_business_day():
    assert not is_business_day(D(2026, 11, 26), US)
    assert is_business_day(D(2026, 11, 27), US)


def test_a_sunday_holiday_is_observed_on_the_monday():
    assert D(2027, 7, 4).strftime("%A") == "Sunday"
    assert not is_business_day(D(2027, 7, 5), US)


def test_new_years_day_on_a_saturday_closes_the_friday_before_in_the_old_year():
    assert D(2028, 1, 1).strftime("%A") == "Saturday"
    assert not is_business_day(D(2027, 12, 31), US)


def test_one_off_closures_by_executive_order_are_business_days():
    # Only the public (statutory) category: an executive-order closure does not close the banks.
    government = holidays.US(years=2025, categories=(holidays.GOVERNMENT,))
    assert D(2025, 12, 24) in government and D(2025, 1, 9) in government
    assert is_business_day(D(2025, 12, 24), US) and is_business_day(D(2025, 1, 9), US)


def test_the_us_rules_cover_future_years():
    assert calendar_covers(D(2027, 1, 1), US) and calendar_covers(D(2050, 1, 1), US)
    assert not is_business_day(D(2027, 11, 25), US)  # Thanksgiving 2027


# --- next_business_day, add_business_days ---


@pytest.mark.parametrize(
    ("day", "calendar", "expected"),
    [
        (D(2026, 9, 30), CN, D(2026, 9, 30)),  # a business day is its own next business day
        (D(2026, 10, 1), CN, D(2026, 10, 8)),  # across the whole National Day run
        (D(2026, 10, 4), CN, D(2026, 10, 8)),
        (D(2026, 2, 15), CN, D(2026, 2, 24)),  # across Spring Festival
        (D(2026, 10, 9), CN, D(2026, 10, 9)),
        (D(2026, 2, 14), CN, D(2026, 2, 14)),  # a working Saturday
        (D(2026, 7, 3), US, D(2026, 7, 6)),
        (D(2026, 11, 26), US, D(2026, 11, 27)),
        (D(2027, 10, 2), CN, D(2027, 10, 4)),  # not announced: weekends only
    ],
)
def test_next_business_day(day, calendar, expected):
    assert next_business_day(day, calendar) == expected


@pytest.mark.parametrize(
    ("day", "n", "calendar", "expected"),
    [
        (D(2026, 9, 30), 1, CN, D(2026, 10, 8)),  # over National Day and its weekend
        (D(2026, 9, 30), 3, CN, D(2026, 10, 10)),  # 10-08, 10-09, then the working Saturday
        (D(2026, 9, 18), 1, CN, D(2026, 9, 20)),  # Friday + 1 is the working Sunday
        (D(2026, 10, 8), -1, CN, D(2026, 9, 30)),
        (D(2026, 7, 2), 1, US, D(2026, 7, 6)),  # over the observed holiday and the weekend
        (D(2026, 7, 6), -1, US, D(2026, 7, 2)),
        (D(2026, 11, 25), 2, US, D(2026, 11, 30)),  # Thanksgiving, Friday, weekend
        (D(2026, 3, 6), 5, US, D(2026, 3, 13)),  # a plain week
        (D(2026, 3, 7), 1, US, D(2026, 3, 9)),  # from a Saturday: Monday is the first after it
        (D(2026, 3, 7), 0, US, D(2026, 3, 9)),  # n == 0 rolls forward to a business day
        (D(2026, 3, 9), 0, US, D(2026, 3, 9)),
        (D(2026, 12, 31), 1, CN, D(2027, 1, 1)),  # into the unannounced year: weekends only
    ],
)
def test_add_business_days(day, n, calendar, expected):
    assert add_business_days(day, n, calendar) == expected


# --- business_days_between: half-open [start, end) ---


def test_business_days_between_counts_the_start_and_not_the_end():
    # Thanksgiving week: Mon, Tue, Wed, (Thu off), Fri; the next Monday is the end and not counted.
    assert business_days_between(D(2026, 11, 23), D(2026, 11, 30), US) == 4
    assert business_days_between(D(2026, 11, 27), D(2026, 11, 28), US) == 1  # the start counts
    assert business_days_between(D(2026, 11, 26), D(2026, 11, 27), US) == 0  # a holiday start, end excluded
    assert business_days_between(D(2026, 11, 23), D(2026, 11, 23), US) == 0
    assert business_days_between(D(2026, 11, 30), D(2026, 11, 23), US) == -4  # reversed: negative


def test_business_days_between_across_national_day():
    # Sep 28 – Oct 11, 2026: Mon–Wed, Oct 8, 9 and the working Saturday Oct 10 (Sunday Oct 11 excluded).
    assert business_days_between(D(2026, 9, 28), D(2026, 10, 11), CN) == 6


@pytest.mark.parametrize("calendar", [CN, US])
def test_business_days_between_matches_counting_day_by_day(calendar):
    start, end = D(2025, 6, 1), D(2027, 6, 30)
    every_day = days(start, end)
    expected = sum(is_business_day(day, calendar) for day in every_day[:-1])
    assert business_days_between(start, end, calendar) == expected
    for a, b in [(D(2025, 12, 30), D(2026, 1, 5)), (D(2026, 12, 28), D(2027, 1, 4)), (D(2026, 2, 1), D(2026, 3, 1))]:
        assert business_days_between(a, b, calendar) == sum(is_business_day(day, calendar) for day in days(a, b)[:-1])


@pytest.mark.parametrize("calendar", [CN, US])
def test_add_and_between_agree(calendar):
    for end in days(D(2026, 9, 15), D(2026, 10, 20)):
        for n in (1, 3, 10):
            assert business_days_between(add_business_days(end, -n, calendar), end, calendar) == n
            if is_business_day(end, calendar):
                assert business_days_between(end, add_business_days(end, n, calendar), calendar) == n


# --- arguments ---


def test_a_calendar_is_accepted_as_its_code():
    assert is_business_day(D(2026, 10, 10), "CN") and not is_business_day(D(2026, 7, 3), "US")
    assert Calendar.CN.label and Calendar.US.label


def test_an_unknown_calendar_is_refused():
    with pytest.raises(ValueError):
        is_business_day(D(2026, 10, 1), "XX")


def test_a_datetime_is_refused():
    with pytest.raises(TypeError):
        is_business_day(datetime.datetime(2026, 10, 1, 9, 0), CN)
    with pytest.raises(TypeError):
        business_days_between(datetime.datetime(2026, 10, 1, 9, 0), D(2026, 10, 8), CN)
