"""Repayment schedules, pure functions: Decimal in, Decimal out, no database.

Every method rounds each period to cents and lets the last installment absorb the rounding, so the
principal parts always add up to the loan principal exactly.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from creditops.core.business_days import next_business_day
from creditops.core.dates import add_months
from creditops.core.money import ZERO, to_money

MONTHS_PER_YEAR = Decimal(12)


@dataclass(frozen=True)
class PlannedInstallment:
    sequence: int
    due_date: datetime.date
    principal_amount: Decimal
    interest_amount: Decimal
    fee_amount: Decimal

    @property
    def total_amount(self) -> Decimal:
        return self.principal_amount + self.interest_amount + self.fee_amount


def build_schedule(
    *,
    method: str,
    principal: Decimal,
    term_months: int,
    annual_interest_rate: Decimal,
    monthly_fee_rate: Decimal,
    first_due_date: datetime.date,
    due_day: int | None = None,
) -> list[PlannedInstallment]:
    """The installments of a loan under one of the RepaymentMethod values (see lending.models). Each falls
    due on `due_day` of its month (the first due date's day unless told), or the month's last day when
    the month is shorter: due dates never drift to the 28th after a February."""
    if principal <= 0 or term_months < 1:
        raise ValueError("principal must be positive and the term at least one month")
    monthly_rate = Decimal(annual_interest_rate) / MONTHS_PER_YEAR
    splits = _PRINCIPAL_AND_INTEREST[method](principal, term_months, monthly_rate)
    fee = to_money(principal * monthly_fee_rate)
    return [
        PlannedInstallment(
            sequence=number,
            due_date=add_months(first_due_date, number - 1, day_of_month=due_day),
            principal_amount=principal_part,
            interest_amount=interest_part,
            fee_amount=fee,
        )
        for number, (principal_part, interest_part) in enumerate(splits, start=1)
    ]


def counts_as_due(due_date: datetime.date, *, calendar: str, next_business_day_rule: bool) -> datetime.date:
    """The day an installment counts as due for days past due and penalty: its due date, or — when the
    product says so — the next business day of its calendar if the due date is a weekend or holiday."""
    return next_business_day(due_date, calendar) if next_business_day_rule else due_date


def _equal_installment(principal, term, rate):
    """等额本息: the same total each month (annuity); interest on the balance, the rest is principal."""
    if rate == 0:
        return _equal_principal(principal, term, rate)
    exact_payment = principal * rate / (1 - (1 + rate) ** -term)
    splits = _with_level_rounding(exact_payment, lambda level: _annuity_splits(principal, term, rate, level))
    # Tiny principals over long terms at high rates, where a cent of rounding is more than a month's
    # principal, have no level payment that fits: they repay equal principal instead.
    return splits or _equal_principal(principal, term, rate)


def _annuity_splits(principal, term, rate, level_payment):
    balance, splits = principal, []
    for number in range(1, term + 1):
        interest = to_money(balance * rate)
        principal_part = balance if number == term else level_payment - interest
        if principal_part < 0 or (number < term and principal_part >= balance):
            return None  # this rounding does not fit: the principal would be used up before the last
        splits.append((principal_part, interest))
        balance -= principal_part
    return splits


def _equal_principal(principal, term, rate):
    """等额本金: the same principal each month; interest falls as the balance does."""
    return _with_level_rounding(principal / term, lambda share: _equal_principal_splits(principal, term, rate, share))


def _equal_principal_splits(principal, term, rate, share):
    if term > 1 and share * (term - 1) >= principal:
        return None  # the principal would be used up before the last installment
    balance, splits = principal, []
    for number in range(1, term + 1):
        interest = to_money(balance * rate)
        principal_part = balance if number == term else share
        splits.append((principal_part, interest))
        balance -= principal_part
    return splits


def _with_level_rounding(exact_level, build):
    """Round the level amount half up, as borrowers expect; if that would use the principal up before
    the last installment (tiny principals over long terms), round it down so the last one absorbs it.
    None when neither fits."""
    return build(to_money(exact_level)) or build(to_money(exact_level, ROUND_DOWN))


def _interest_only_bullet(principal, term, rate):
    """先息后本: interest every month, all principal with the last installment."""
    interest = to_money(principal * rate)
    return [(principal if number == term else ZERO, interest) for number in range(1, term + 1)]


def _flat_fee(principal, term, rate):
    """Consumer installment plan (e.g. 白条分期): equal principal, no interest; the cost is the monthly fee."""
    return [(part, ZERO) for part, _interest in _equal_principal(principal, term, Decimal(0))]


_PRINCIPAL_AND_INTEREST = {
    "equal_installment": _equal_installment,
    "equal_principal": _equal_principal,
    "interest_only": _interest_only_bullet,
    "flat_fee": _flat_fee,
}
