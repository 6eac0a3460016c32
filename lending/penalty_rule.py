"""Penalty interest (罚息): the rule, and the nightly accrual that applies it to the whole book at once.

The rule, for one installment of an active loan on one day D (the day's penalty is charged on the balance
at the start of D: money received on D stops the penalty from the day after — the nightly run charges D
early in the morning of D, before the day's money arrives):

- Late days: L = D - the day the installment counts as due (its due date, or the next business day when
  the product moves due dates off weekends and holidays). No penalty while L <= the loan's grace days.
  Once grace has passed, a "free" grace charges one day; "charged back" charges, on the first day after
  grace, the grace days too (grace + 1 days), then one day.
- Base: what is unpaid of the installment's overdue principal, or principal and interest, or principal,
  interest and fees (the loan's terms); with compounding, its unpaid penalty too.
- Exact amount: base × daily rate × days, kept to 8 decimals. Rounding is cumulative: the installment
  keeps its exact running total, its penalty due is that total rounded to cents (half up), and each day's
  entry books the cents the rounded total grew by. So the entries sum exactly to the rounded exact total:
  990.07 × 0.05 % × 35 days = 17.326225 → 17.33, with no drift from rounding each day.
- Pauses: none on a day the loan is paused (a performing plan or an open dispute where its terms say so,
  written off) or once the cost cap is reached: interest and fees of the contract plus all penalty may not
  exceed principal × cap × (the longer of the contract's term and the days since disbursement) / 365.
  The day that would pass the cap is not charged; a cost-cap pause is opened and stays.

This module is the rule in Python (the replay of a loan's days uses it); lending/penalties.py is the
same rule as set-based SQL for the nightly run. A property test holds both to an independent day-by-day model.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from creditops.core.money import ZERO

from .models import GraceRule, Loan, PenaltyBase

EXACT = Decimal("0.00000001")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Terms:
    """A loan's penalty terms (copied from its product at booking) and the figures its cost cap needs."""

    base: str
    daily_rate: Decimal
    grace_rule: str
    compounds: bool
    grace_days: int

    @classmethod
    def of(cls, loan: Loan) -> "Terms":
        return cls(
            loan.penalty_base, loan.penalty_daily_rate, loan.penalty_grace_rule, loan.penalty_compounds,
            loan.grace_days,
        )  # fmt: skip


def chargeable_days(due_date: datetime.date, day: datetime.date, terms: Terms) -> int:
    late = (day - due_date).days
    if late <= terms.grace_days:
        return 0
    if terms.grace_rule == GraceRule.CHARGED_BACK and late == terms.grace_days + 1:
        return terms.grace_days + 1
    return 1


def base_of(unpaid: dict[str, Decimal], terms: Terms) -> Decimal:
    """The penalty base of one installment from what is unpaid of each part."""
    parts = {
        PenaltyBase.PRINCIPAL: ("principal",),
        PenaltyBase.PRINCIPAL_INTEREST: ("principal", "interest"),
        PenaltyBase.ALL_OVERDUE: ("principal", "interest", "fee"),
    }[terms.base]
    if terms.compounds:
        parts = (*parts, "penalty")
    return sum((unpaid[part] for part in parts), ZERO)


def day_penalty(unpaid: dict[str, Decimal], due_date, day, terms: Terms) -> tuple[int, Decimal, Decimal]:
    """(days, base, exact amount) charged on one installment for one day; zeros when nothing is."""
    days = chargeable_days(due_date, day, terms)
    base = base_of(unpaid, terms) if days else ZERO
    if base <= 0 or terms.daily_rate <= 0:
        return 0, ZERO, ZERO
    return days, base, (base * terms.daily_rate * days).quantize(EXACT)


def booked_cents(exact_before: Decimal, exact_added: Decimal) -> Decimal:
    """The cents an installment's penalty due grows by when `exact_added` joins its exact total."""
    return to_cents(exact_before + exact_added) - to_cents(exact_before)


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cost_cap_amount(loan: Loan, day: datetime.date) -> Decimal:
    days = max((loan.maturity_date - loan.disbursed_on).days, (day - loan.disbursed_on).days)
    return loan.principal_amount * loan.penalty_cost_cap_rate * days / 365
