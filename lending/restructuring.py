"""Restructuring (债务重组) a loan in hardship, after an approved request.

The arrears are what the open installments already due still owe (principal, interest, fees, penalty);
the rest of the old schedule is its principal not yet due (its interest and fees not yet due are not
owed: the new schedule charges its own). Then:

- one restructure entry closes every open installment of the old schedule;
- a new schedule is booked by the same schedule builders (the product's method, the loan's rates) after
  the old one (its sequences continue), on a principal of the principal not yet due plus either
  - all the arrears (capitalise), or
  - the arrears' principal only, the arrears' interest, fees and penalty falling due again with the new
    schedule's last installment (carry to the end; the penalty as a carried penalty entry);
- the loan counts the restructuring against its product's limit and is watched for the product's watch
  period (its "restructured" flag, visible and reported), and its contract cost (for the penalty cost
  cap) and maturity follow the new schedule; a credit balance pays the new installments.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from creditops.core.dates import add_months, business_today
from creditops.core.errors import DomainError
from creditops.core.money import ZERO

from .adjustments import (
    after_entry,
    all_outstanding_lines,
    clean_reason,
    entry_post,
    locked_loan,
    open_installments,
    refuse_while_settling,
)
from .allocation import outstanding_parts
from .models import Installment, LedgerEntry, Loan, PenaltyEntry, PenaltyPause, Restructuring
from .posting import apply_credit_balance
from .schedules import build_schedule, counts_as_due

MAX_TERM_MONTHS = 360
Method = Restructuring.Method


@dataclass
class RestructurePlan:
    """What a restructuring would do to a loan today: its arrears, the new schedule (not booked) and its
    principal, and what is capitalised or carried to its end."""

    arrears: dict[str, Decimal]
    unearned: Decimal  # interest and fees of the old schedule not yet due: no longer owed
    principal: Decimal
    capitalised: Decimal
    carried: Decimal
    schedule: list

    @property
    def arrears_total(self) -> Decimal:
        return sum(self.arrears.values(), ZERO)

    def preview(self) -> dict:
        """The figures a supervisor decides on, kept with the request (as strings)."""
        first, last = self.schedule[0], self.schedule[-1]
        return {
            "arrears": str(self.arrears_total), "principal": str(self.principal),
            "instalment": str(first.total_amount), "last_instalment": str(last.total_amount + self.carried),
            "maturity": last.due_date.isoformat(),
        }  # fmt: skip


def restructure_plan(*, loan: Loan, method: str, term_months: int, first_due_date: datetime.date) -> RestructurePlan:
    """The restructuring of the loan on these terms, computed but not booked; a DomainError if the terms
    do not fit (the rules: the module's docstring)."""
    if method not in Method.values:
        raise DomainError(_("Unknown restructuring method %(method)r.") % {"method": method}, code="restructure.method")
    today = business_today()
    _check(loan, term_months, first_due_date, today)
    old = open_installments(loan)
    arrears = _sum_parts(item for item in old if item.effective_due_date < today)
    not_due = _sum_parts(item for item in old if item.effective_due_date >= today)
    carried = arrears["interest"] + arrears["fee"] + arrears["penalty"]
    capitalise = method == Method.CAPITALISE
    principal = not_due["principal"] + arrears["principal"] + (carried if capitalise else ZERO)
    if principal <= 0:
        raise DomainError(_("The loan owes no principal to restructure."), code="restructure.nothing_owed")
    product = loan.product
    schedule = build_schedule(
        method=product.repayment_method, principal=principal, term_months=term_months,
        annual_interest_rate=loan.annual_interest_rate, monthly_fee_rate=loan.monthly_fee_rate,
        first_due_date=first_due_date, due_day=first_due_date.day,
    )  # fmt: skip
    if any(item.total_amount <= 0 for item in schedule):
        message = _("Over %(months)d months an instalment would be 0.00: choose a shorter term.")
        raise DomainError(message % {"months": term_months}, code="restructure.term_too_long")
    return RestructurePlan(
        arrears=arrears, unearned=not_due["interest"] + not_due["fee"], principal=principal,
        capitalised=carried if capitalise else ZERO, carried=ZERO if capitalise else carried, schedule=schedule,
    )  # fmt: skip


@transaction.atomic
def loan_restructure(
    *,
    loan: Loan,
    method: str,
    term_months: int,
    first_due_date: datetime.date,
    reason: str,
    authority: str = "",
    actor=None,
) -> Restructuring:
    """Restructure the loan (see the module's docstring). Returns the record of it."""
    reason = clean_reason(reason, code="restructure.reason_missing")
    loan = locked_loan(loan.pk)
    plan = restructure_plan(loan=loan, method=method, term_months=term_months, first_due_date=first_due_date)
    today = business_today()
    closing = entry_post(
        loan=loan, kind=LedgerEntry.Kind.RESTRUCTURE, effective_on=today,
        lines=all_outstanding_lines(open_installments(loan)), actor=actor, reason=reason, authority=authority,
    )  # fmt: skip
    first_sequence = (loan.installments.aggregate(last=Max("sequence"))["last"] or 0) + 1
    new = _book_schedule(loan, plan.schedule, first_sequence)
    if plan.carried > 0:
        _carry_to_last(new[-1], plan.arrears, today)
    restructuring = Restructuring.objects.create(
        loan=loan, method=method, effective_on=today, term_months=term_months, first_due_date=first_due_date,
        arrears_amount=plan.arrears_total, principal_amount=plan.principal, capitalised_amount=plan.capitalised,
        carried_amount=plan.carried, first_sequence=first_sequence, closing_entry=closing, authority=authority,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )  # fmt: skip
    loan.contract_cost_amount += sum((i.interest_amount + i.fee_amount for i in plan.schedule), ZERO) - plan.unearned
    loan.capitalised_amount += plan.capitalised
    loan.restructure_count += 1
    loan.restructured_on = today
    loan.restructure_watch_until = add_months(today, loan.product.restructure_watch_months)
    loan.maturity_date = new[-1].due_date
    loan.save(update_fields=[
        "contract_cost_amount", "capitalised_amount", "restructure_count", "restructured_on",
        "restructure_watch_until", "maturity_date",
    ])  # fmt: skip
    # The contract changed: a cost-cap pause gives way to the cap of the new schedule.
    PenaltyPause.objects.filter(loan=loan, reason=PenaltyPause.Reason.COST_CAP, ended_on__isnull=True).update(
        ended_on=today
    )
    apply_credit_balance(loan)
    after_entry(loan, closing, actor, today)
    return restructuring


def _check(loan: Loan, term_months: int, first_due_date: datetime.date, today: datetime.date) -> None:
    if loan.status != Loan.Status.ACTIVE:
        raise DomainError(_("Only an active loan can be restructured."), code="restructure.loan_not_active")
    refuse_while_settling(loan, code="restructure.settlement_active")
    limit = loan.product.restructure_limit
    if loan.restructure_count >= limit:
        message = _("This loan was restructured %(count)d times; its product allows %(limit)d.")
        raise DomainError(message % {"count": loan.restructure_count, "limit": limit}, code="restructure.limit")
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        message = _("The term must be 1 to %(max)d months.") % {"max": MAX_TERM_MONTHS}
        raise DomainError(message, code="restructure.term_invalid")
    if not today < first_due_date <= add_months(today, 3):
        raise DomainError(
            _("The first new due date must be after today and within three months."), code="restructure.first_due"
        )


def _sum_parts(installments) -> dict[str, Decimal]:
    totals = {"principal": ZERO, "interest": ZERO, "fee": ZERO, "penalty": ZERO}
    for item in installments:
        for part, amount in outstanding_parts(item).items():
            totals[part] += amount
    return totals


def _book_schedule(loan: Loan, schedule: list, first_sequence: int) -> list[Installment]:
    product = loan.product
    return Installment.objects.bulk_create(
        Installment(
            loan=loan,
            sequence=first_sequence + item.sequence - 1,
            due_date=item.due_date,
            effective_due_date=counts_as_due(
                item.due_date,
                calendar=product.business_calendar,
                next_business_day_rule=product.due_on_next_business_day,
            ),
            principal_amount=item.principal_amount,
            interest_amount=item.interest_amount,
            fee_amount=item.fee_amount,
        )
        for item in schedule
    )


def _carry_to_last(last: Installment, arrears: dict[str, Decimal], today: datetime.date) -> None:
    """The arrears' interest, fees and penalty fall due again with the new schedule's last installment."""
    last.interest_amount += arrears["interest"]
    last.fee_amount += arrears["fee"]
    fields = ["interest_amount", "fee_amount"]
    if arrears["penalty"] > 0:
        PenaltyEntry.objects.create(
            loan=last.loan, installment=last, accrued_on=today, kind=PenaltyEntry.Kind.CARRIED, days=0,
            base_amount=ZERO, daily_rate=Decimal(0), exact_amount=arrears["penalty"], amount=arrears["penalty"],
        )  # fmt: skip
        last.penalty_amount += arrears["penalty"]
        last.penalty_exact_amount += arrears["penalty"]
        fields += ["penalty_amount", "penalty_exact_amount"]
    last.save(update_fields=fields)
