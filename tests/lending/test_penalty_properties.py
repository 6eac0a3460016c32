"""Penalty accrual, late-posted payments, reversals, waivers and waiver reversals in random order
(PostgreSQL), against a plain day-by-day computation written here: whatever order the money was posted
and reversed in, the ledger ends as if every payment that stands had been there on the day it was
received, and every waiver had waived, on its day after that day's penalty, what it asked for (or what
was left of its part)."""

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lending.adjustments import waiver_post, waiver_reverse
from lending.allocation import outstanding_parts
from lending.delinquency import delinquency_refresh
from lending.models import GraceRule, Installment, LedgerEntry, Payment, PenaltyBase, PenaltyEntry
from lending.penalties import penalty_accrue
from lending.selectors import ledger_mismatches
from lending.services import loan_create, payment_post, payment_reverse
from tests.factories import BorrowerFactory, ProductFactory

from .conftest import next_ref

DISBURSED = datetime.date(2026, 1, 15)
FIRST_DUE = datetime.date(2026, 2, 15)
LAST_DAY = FIRST_DUE + datetime.timedelta(days=40)
ONE_DAY = datetime.timedelta(days=1)
PARTS = ("penalty", "fee", "interest", "principal")  # the default waterfall
CENT = Decimal("0.01")

terms = st.fixed_dictionaries(
    {
        "penalty_base": st.sampled_from(PenaltyBase.values),
        "penalty_grace_rule": st.sampled_from(GraceRule.values),
        "penalty_compounds": st.booleans(),
        "grace_days": st.integers(min_value=0, max_value=3),
    }
)
WAIVED_PARTS = ("penalty", "fee", "interest")
# On each day: nothing, a payment received up to 6 days earlier, the reversal of a payment, a waiver of
# one part (after the day's penalty), or the reversal of a waiver.
events = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=40_000), st.integers(min_value=0, max_value=6)),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20), st.just(0)),
        st.tuples(st.just("waive"), st.integers(min_value=1, max_value=20_000), st.integers(min_value=0, max_value=2)),
        st.tuples(st.just("unwaive"), st.integers(min_value=0, max_value=20), st.just(0)),
    ),
    min_size=1,
    max_size=9,
)
event_days = st.lists(st.integers(min_value=0, max_value=(LAST_DAY - FIRST_DUE).days + 5), min_size=9, max_size=9)


def expected_ledger(schedule, payments, waivers, product) -> dict:
    """Day by day from disbursement: the day's penalty on each overdue installment (on the balance at the
    day's start), then the day's waivers (each of one part, oldest installment first, at most what is
    owed of it; a waiver reversal gives back what its waiver waived), then the day's payments (oldest
    installment first, penalty, fee, interest, principal). `waivers` are (day, part, amount, reversed_on).
    Returns {sequence: (penalty due, *paid parts, *waived parts)}."""
    owed = {row["sequence"]: {part: row[part] for part in PARTS} for row in schedule}
    paid = {sequence: dict.fromkeys(PARTS, Decimal(0)) for sequence in owed}
    waived = {sequence: dict.fromkeys(PARTS, Decimal(0)) for sequence in owed}
    exact = dict.fromkeys(owed, Decimal(0))
    due = {row["sequence"]: row["due_date"] for row in schedule}
    by_due = sorted(owed, key=lambda number: due[number])
    applied = {}
    day = DISBURSED
    while day <= LAST_DAY:
        for sequence in owed:
            late = (day - due[sequence]).days
            if late <= product.grace_days:
                continue
            days = 1
            if product.penalty_grace_rule == GraceRule.CHARGED_BACK and late == product.grace_days + 1:
                days = product.grace_days + 1
            parts = {"principal": ["principal"], "principal_interest": ["principal", "interest"]}.get(
                product.penalty_base, ["principal", "interest", "fee"]
            )
            if product.penalty_compounds:
                parts = [*parts, "penalty"]
            base = sum(owed[sequence][part] - paid[sequence][part] - waived[sequence][part] for part in parts)
            exact[sequence] += (base * product.penalty_daily_rate * days).quantize(Decimal("0.00000001"))
            owed[sequence]["penalty"] = exact[sequence].quantize(CENT, rounding=ROUND_HALF_UP)
        for number, (waived_on, part, amount, reversed_on) in enumerate(waivers):
            if waived_on == day:
                applied[number] = {}
                for sequence in by_due:
                    share = min(amount, owed[sequence][part] - paid[sequence][part] - waived[sequence][part])
                    waived[sequence][part] += share
                    applied[number][sequence] = share
                    amount -= share
            if reversed_on == day:
                for sequence, share in applied[number].items():
                    waived[sequence][part] -= share
        for amount in [amount for received_on, amount in payments if received_on == day]:
            for sequence in by_due:
                for part in PARTS:
                    applied_now = min(amount, owed[sequence][part] - paid[sequence][part] - waived[sequence][part])
                    paid[sequence][part] += applied_now
                    amount -= applied_now
        day += ONE_DAY
    return {
        sequence: (owed[sequence]["penalty"], *(paid[sequence][part] for part in PARTS),
                   *(waived[sequence][part] for part in PARTS))
        for sequence in owed
    }  # fmt: skip


def _waive(loan, part_number: int, cents: int, day) -> None:
    """A waiver of up to `cents` of one part, effective `day` (none if nothing of that part is owed)."""
    part = WAIVED_PARTS[part_number]
    owed = sum((outstanding_parts(item)[part] for item in Installment.objects.filter(loan=loan)), Decimal(0))
    amount = min(Decimal(cents) * CENT, owed)
    if amount > 0:
        waiver_post(loan=loan, component=part, amount=amount, reason="test", effective_on=day)
        event(f"waived {part}")


def _unwaive(loan, number: int, day) -> None:
    standing = list(
        LedgerEntry.objects.filter(loan=loan, kind="waiver", reverses__isnull=True, reversed_by__isnull=True)
        .filter(effective_on__lt=day)
        .order_by("id")
    )
    if standing:
        entry = standing[number % len(standing)]
        waiver_reverse(entry=entry, reason="test", effective_on=day)
        event("waiver reversed")


@pytest.mark.django_db(transaction=False)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(product_terms=terms, steps=events, days=event_days)
def test_the_ledger_equals_a_day_by_day_computation(on_postgres, product_terms, steps, days):
    with transaction.atomic():
        product = ProductFactory(
            code="PENPROP", monthly_fee_rate=Decimal("0.005"), penalty_daily_rate=Decimal("0.0005"), **product_terms
        )
        loan = loan_create(
            borrower=BorrowerFactory(), product=product, principal_amount=Decimal("3000.00"), term_months=3,
            disbursed_on=DISBURSED,
        )  # fmt: skip
        planned = sorted(zip(days, steps, strict=False))
        received = {FIRST_DUE + ONE_DAY * (offset - lag) for offset, (kind, _n, lag) in planned if kind == "pay"}
        day = FIRST_DUE
        while day <= LAST_DAY:
            todays = [step for offset, step in planned if FIRST_DUE + ONE_DAY * offset == day]
            for kind, number, lag in todays:
                if kind == "pay":
                    payment_post(
                        loan=loan, source="bank", external_ref=next_ref("PP"), amount=Decimal(number) * CENT,
                        received_on=day - ONE_DAY * lag, channel="bank_transfer",
                    )  # fmt: skip
                elif kind == "reverse":
                    standing = list(Payment.objects.filter(loan=loan, status="posted").order_by("id"))
                    if standing:
                        payment_reverse(payment=standing[number % len(standing)], reason="bounced", reversed_on=day)
            delinquency_refresh(as_of=day)
            penalty_accrue(day=day)
            # Waivers come after the day's penalty (the nightly run charges it first) and, as the rule
            # has it, before the day's payments: on a day money is received none is granted here.
            for kind, number, lag in todays:
                if kind == "waive" and day not in received:
                    _waive(loan, lag, number, day)
                elif kind == "unwaive" and day not in received:
                    _unwaive(loan, number, day)
            day += ONE_DAY
        standing = list(Payment.objects.filter(loan=loan, status="posted").order_by("received_on", "id"))
        schedule = loan.installments.values("sequence", "due_date", *(f"{part}_amount" for part in PARTS))
        schedule = [
            {
                "sequence": row["sequence"],
                "due_date": row["due_date"],
                **{part: row[f"{part}_amount"] for part in PARTS},
            }
            for row in schedule
        ]
        for row in schedule:
            row["penalty"] = Decimal(0)
        waivers = [
            (entry.effective_on, entry.component, entry.requested_amount,
             entry.reversed_by.effective_on if hasattr(entry, "reversed_by") else None)
            for entry in LedgerEntry.objects.filter(loan=loan, reverses__isnull=True).order_by("effective_on", "id")
        ]  # fmt: skip
        expected = expected_ledger(schedule, [(p.received_on, p.amount) for p in standing], waivers, product)
        actual = {
            item.sequence: (
                item.penalty_amount,
                *(getattr(item, f"{part}_paid_amount") for part in PARTS),
                *(getattr(item, f"{part}_adjusted_amount") for part in PARTS),
            )
            for item in Installment.objects.filter(loan=loan)
        }
        assert actual == expected
        for item in Installment.objects.filter(loan=loan):
            entries = PenaltyEntry.objects.filter(installment=item).aggregate(total=Sum("amount"))["total"]
            assert (entries or Decimal("0.00")) == item.penalty_amount
        assert not any(ledger_mismatches().values())
        transaction.set_rollback(True)
