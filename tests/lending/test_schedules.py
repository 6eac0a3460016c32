"""build_schedule: hand-computed schedules for each repayment method, month-end due dates, and the
invariant that principal parts add up to the principal exactly (hypothesis)."""

import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lending.schedules import build_schedule

METHODS = ["equal_installment", "equal_principal", "interest_only", "flat_fee"]
D = Decimal
date = datetime.date


def schedule(method, principal="12000.00", term=12, rate="0.12", fee="0", first=datetime.date(2026, 2, 15)):
    return build_schedule(
        method=method,
        principal=D(principal),
        term_months=term,
        annual_interest_rate=D(rate),
        monthly_fee_rate=D(fee),
        first_due_date=first,
    )


def parts(plan):
    return [(item.principal_amount, item.interest_amount, item.fee_amount) for item in plan]


def test_equal_installment_12000_at_12_percent_over_12_months():
    plan = schedule("equal_installment")
    # Level payment 12000 × 0.01 / (1 − 1.01^−12) = 1066.1855 → 1066.19; interest on the falling balance.
    assert parts(plan) == [
        (D("946.19"), D("120.00"), D("0.00")),
        (D("955.65"), D("110.54"), D("0.00")),
        (D("965.21"), D("100.98"), D("0.00")),
        (D("974.86"), D("91.33"), D("0.00")),
        (D("984.61"), D("81.58"), D("0.00")),
        (D("994.46"), D("71.73"), D("0.00")),
        (D("1004.40"), D("61.79"), D("0.00")),
        (D("1014.44"), D("51.75"), D("0.00")),
        (D("1024.59"), D("41.60"), D("0.00")),
        (D("1034.83"), D("31.36"), D("0.00")),
        (D("1045.18"), D("21.01"), D("0.00")),
        # The last installment takes the remaining balance, absorbing the rounding of the level payment.
        (D("1055.58"), D("10.56"), D("0.00")),
    ]
    assert [item.total_amount for item in plan[:-1]] == [D("1066.19")] * 11
    assert plan[-1].total_amount == D("1066.14")
    assert sum(item.interest_amount for item in plan) == D("794.23")
    assert [item.sequence for item in plan] == list(range(1, 13))


def test_equal_installment_at_zero_rate_is_equal_principal_without_interest():
    plan = schedule("equal_installment", principal="1000.00", term=3, rate="0")
    assert parts(plan) == [
        (D("333.33"), D("0.00"), D("0.00")),
        (D("333.33"), D("0.00"), D("0.00")),
        (D("333.34"), D("0.00"), D("0.00")),
    ]


def test_equal_principal_12000_at_12_percent_over_12_months():
    plan = schedule("equal_principal")
    assert [item.principal_amount for item in plan] == [D("1000.00")] * 12
    # Interest 1% a month on 12000, 11000, ... 1000.
    assert [item.interest_amount for item in plan] == [D(f"{120 - 10 * n}.00") for n in range(12)]
    assert plan[0].total_amount == D("1120.00")
    assert plan[-1].total_amount == D("1010.00")
    assert sum(item.interest_amount for item in plan) == D("780.00")


def test_equal_principal_uneven_split_puts_the_remainder_last():
    plan = schedule("equal_principal", principal="1000.00", term=3, rate="0.12")
    assert parts(plan) == [
        (D("333.33"), D("10.00"), D("0.00")),
        (D("333.33"), D("6.67"), D("0.00")),  # 666.67 × 1% = 6.6667
        (D("333.34"), D("3.33"), D("0.00")),  # 333.34 × 1% = 3.3334
    ]


def test_interest_only_pays_interest_monthly_and_principal_at_maturity():
    plan = schedule("interest_only")
    assert [item.principal_amount for item in plan[:11]] == [D("0.00")] * 11
    assert plan[-1].principal_amount == D("12000.00")
    assert [item.interest_amount for item in plan] == [D("120.00")] * 12
    assert plan[-1].total_amount == D("12120.00")


def test_flat_fee_6000_over_6_months():
    plan = schedule("flat_fee", principal="6000.00", term=6, rate="0.18", fee="0.006")
    # The annual rate is ignored: a flat-fee plan's only cost is the fee, 6000 × 0.6% = 36.00 a month.
    assert parts(plan) == [(D("1000.00"), D("0.00"), D("36.00"))] * 6
    assert [item.total_amount for item in plan] == [D("1036.00")] * 6


def test_fee_is_charged_on_every_method():
    for method in METHODS:
        plan = schedule(method, fee="0.005")
        assert [item.fee_amount for item in plan] == [D("60.00")] * 12, method


def test_single_month_term_is_one_installment_of_everything():
    plan = schedule("equal_installment", principal="5000.00", term=1, rate="0.24")
    assert parts(plan) == [(D("5000.00"), D("100.00"), D("0.00"))]


def test_due_dates_are_monthly_from_the_first_due_date():
    plan = schedule("equal_principal", first=datetime.date(2026, 2, 15))
    months = [(2026, month) for month in range(2, 13)] + [(2027, 1)]
    assert [item.due_date for item in plan] == [datetime.date(year, month, 15) for year, month in months]


def test_due_dates_clamp_to_month_end_and_return_to_the_31st():
    plan = schedule("equal_installment", term=5, first=datetime.date(2027, 1, 31))
    assert [item.due_date for item in plan] == [
        datetime.date(2027, 1, 31),
        datetime.date(2027, 2, 28),
        datetime.date(2027, 3, 31),  # not the 28th: each date counts from the first, not from the previous
        datetime.date(2027, 4, 30),
        datetime.date(2027, 5, 31),
    ]


def test_due_dates_clamp_to_29_february_in_a_leap_year():
    plan = schedule("interest_only", term=3, first=datetime.date(2028, 1, 31))
    assert [item.due_date for item in plan] == [
        datetime.date(2028, 1, 31),
        datetime.date(2028, 2, 29),
        datetime.date(2028, 3, 31),
    ]


def test_due_dates_cross_the_year_end():
    plan = schedule("flat_fee", term=3, fee="0.006", first=datetime.date(2026, 11, 30))
    assert [item.due_date for item in plan] == [
        datetime.date(2026, 11, 30),
        datetime.date(2026, 12, 30),
        datetime.date(2027, 1, 30),
    ]


@pytest.mark.parametrize(("principal", "term"), [("0", 12), ("-100.00", 12), ("1000.00", 0)])
def test_refuses_non_positive_principal_or_term(principal, term):
    with pytest.raises(ValueError, match="principal must be positive"):
        schedule("equal_installment", principal=principal, term=term)


def test_refuses_an_unknown_method():
    with pytest.raises(KeyError):
        schedule("balloon")


cents = st.integers(min_value=10_000, max_value=5_000_000_000)  # 100.00 .. 50,000,000.00
rates = st.integers(min_value=0, max_value=360_000).map(lambda micro: D(micro).scaleb(-6))  # 0 .. 0.36, 6 places
fee_rates = st.integers(min_value=0, max_value=10_000).map(lambda micro: D(micro).scaleb(-6))  # 0 .. 1%


@settings(max_examples=50, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    principal_cents=cents,
    term=st.integers(min_value=1, max_value=360),
    rate=rates,
    fee_rate=fee_rates,
)
def test_principal_parts_always_sum_to_the_principal(method, principal_cents, term, rate, fee_rate):
    principal = D(principal_cents).scaleb(-2)  # exactly two places, e.g. 12000.00
    plan = build_schedule(
        method=method,
        principal=principal,
        term_months=term,
        annual_interest_rate=rate,
        monthly_fee_rate=fee_rate,
        first_due_date=datetime.date(2026, 1, 31),
    )
    assert len(plan) == term
    assert sum(item.principal_amount for item in plan) == principal
    for item in plan:
        for amount in (item.principal_amount, item.interest_amount, item.fee_amount):
            assert amount >= 0
            assert amount.as_tuple().exponent == -2, (item, amount)
    due_dates = [item.due_date for item in plan]
    assert due_dates == sorted(set(due_dates))
    if method == "flat_fee":
        assert all(item.interest_amount == 0 for item in plan)
    if method == "interest_only":
        assert all(item.principal_amount == 0 for item in plan[:-1])
        assert plan[-1].principal_amount == principal


@pytest.mark.parametrize(
    ("method", "principal", "term", "rate"),
    [
        ("equal_principal", "100.00", 360, "0.12"),
        ("flat_fee", "109.41", 175, "0"),
        ("equal_installment", "100.00", 240, "0.06"),
    ],
)
def test_every_installment_but_the_last_is_level_and_the_last_absorbs_the_rounding(method, principal, term, rate):
    """lending/schedules.py promises that each period is rounded to cents and the last installment absorbs
    the rounding, with the same principal (equal principal, flat fee) or the same total (equal installment)
    each month. E.g. 100.00 / 360 = 0.2777…: today the share rounds up to 0.28, the principal runs out at
    installment 358 (0.04) and installments 359-360 carry no principal at all. Every installment but the
    last must carry the same amount and the last the positive remainder."""
    plan = schedule(method, principal=principal, term=term, rate=rate, fee="0")
    assert sum(item.principal_amount for item in plan) == D(principal)
    level = [
        item.principal_amount if method != "equal_installment" else item.principal_amount + item.interest_amount
        for item in plan
    ]
    assert len(set(level[:-1])) == 1, sorted(set(level))
    assert plan[-1].principal_amount > 0


@pytest.mark.parametrize(
    ("principal", "term", "rate"),
    [("231.15", 240, "0.36"), ("897.89", 276, "0.374"), ("0.10", 12, "0.36"), ("1.00", 360, "0.24")],
)
def test_tiny_principals_at_high_rates_still_get_a_valid_schedule(principal, term, rate):
    """A cent of rounding can exceed a month's principal here; the schedule must still be built, with
    no negative part, every principal part within the balance, and the principal summing exactly."""
    plan = schedule("equal_installment", principal=principal, term=term, rate=rate)
    assert len(plan) == term
    assert sum(item.principal_amount for item in plan) == D(principal)
    assert all(item.principal_amount >= 0 and item.interest_amount >= 0 for item in plan)
    assert plan[-1].principal_amount > 0


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(min_value=10, max_value=100_000).map(lambda cents: D(cents) / 100),
    term=st.integers(min_value=120, max_value=360),
    rate=st.integers(min_value=100, max_value=400).map(lambda per_mille: D(per_mille) / 1000),
)
def test_small_loans_over_long_terms_at_high_rates_always_build(principal, term, rate):
    for method in ("equal_installment", "equal_principal"):
        plan = schedule(method, principal=str(principal), term=term, rate=str(rate))
        assert sum(item.principal_amount for item in plan) == principal
        assert all(item.principal_amount >= 0 for item in plan)


@pytest.mark.parametrize(
    ("first_due", "due_day", "expected"),
    [
        (date(2026, 2, 28), 31, [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]),
        (date(2026, 1, 31), None, [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]),
        (date(2028, 2, 29), 30, [date(2028, 2, 29), date(2028, 3, 30), date(2028, 4, 30), date(2028, 5, 30)]),
    ],
)
def test_due_dates_keep_the_contract_day_after_a_short_month(first_due, due_day, expected):
    plan = build_schedule(
        method="equal_installment", principal=D("1200.00"), term_months=4, annual_interest_rate=D("0.12"),
        monthly_fee_rate=D("0"), first_due_date=first_due, due_day=due_day,
    )  # fmt: skip
    assert [item.due_date for item in plan] == expected
