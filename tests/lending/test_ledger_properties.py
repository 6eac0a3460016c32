"""The ledger invariants of DESIGN.md under random sequences of payments and reversals (PostgreSQL).

Each hypothesis example books a fresh loan inside a savepoint and rolls it back at the end, so examples
do not see each other's rows.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Q, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.models import Installment, Loan, Payment, PaymentAllocation
from lending.selectors import ledger_mismatches
from lending.services import payment_reverse
from tests.factories import ProductFactory, charge_penalty

from .conftest import ledger_state, next_ref, paid_by_installment

ZERO = Decimal("0.00")
PARTS = ("penalty", "fee", "interest", "principal")

amounts = st.integers(min_value=1, max_value=400_000).map(lambda cents: Decimal(cents).scaleb(-2))  # 0.01..4000.00
steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), amounts),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("post_then_reverse"), amounts),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
def property_product(db):
    """Equal installment at 12% with a 0.5% monthly fee, so every waterfall component can be owed."""
    return ProductFactory(code="PROP", monthly_fee_rate=Decimal("0.005"))


def allocation_sums(**filters) -> dict[str, Decimal]:
    totals = PaymentAllocation.objects.filter(**filters).aggregate(**{part: Sum(f"{part}_amount") for part in PARTS})
    return {part: totals[part] or ZERO for part in PARTS}


def allocations_by_installment(payment) -> dict[int, tuple]:
    """What the payment holds of each installment now: its rows summed (a replay adds rows both ways)."""
    result = {}
    for row in PaymentAllocation.objects.filter(payment=payment).select_related("installment"):
        held = result.get(row.installment.sequence, (ZERO,) * 4)
        result[row.installment.sequence] = tuple(
            total + getattr(row, f"{part}_amount") for total, part in zip(held, PARTS, strict=True)
        )
    return result


def check_invariants(loan: Loan) -> None:
    loan = Loan.objects.get(pk=loan.pk)
    for payment in Payment.objects.filter(loan=loan):
        allocated = sum(allocation_sums(payment=payment).values(), ZERO)
        if payment.status == Payment.Status.POSTED:
            assert allocated + payment.unallocated_amount == payment.amount, payment
        else:
            assert allocated == ZERO, payment
    installments = list(Installment.objects.filter(loan=loan).order_by("sequence"))
    for item in installments:
        sums = allocation_sums(installment=item)
        for part in PARTS:
            paid = getattr(item, f"{part}_paid_amount")
            assert paid == sums[part], (item.sequence, part)
            assert ZERO <= paid <= getattr(item, f"{part}_amount"), (item.sequence, part)
        assert item.outstanding_amount == item.total_amount - item.paid_amount
    posted = Payment.objects.filter(loan=loan, status=Payment.Status.POSTED).aggregate(total=Sum("amount"))["total"]
    assert (posted or ZERO) == sum((item.paid_amount for item in installments), ZERO) + loan.credit_balance_amount
    assert loan.credit_balance_amount == (
        Payment.objects.filter(loan=loan, status=Payment.Status.POSTED).aggregate(total=Sum("unallocated_amount"))[
            "total"
        ]
        or ZERO
    )
    everything_paid = all(item.outstanding_amount == 0 for item in installments)
    assert loan.status == (Loan.Status.SETTLED if everything_paid else Loan.Status.ACTIVE)
    assert (loan.settled_on is not None) == everything_paid
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


@pytest.mark.django_db(transaction=False)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_random_payments_and_reversals_keep_the_ledger_consistent(
    on_postgres, make_loan, property_product, post, steps
):
    with transaction.atomic():
        loan = make_loan(product=property_product, principal_amount=Decimal("3000.00"), term_months=3)
        charge_penalty(loan, 1, Decimal("15.00"))
        day = datetime.date(2026, 2, 1)
        for action, value in steps:
            day += datetime.timedelta(days=1)
            if action == "pay":
                ref = next_ref("P")
                payment, created = post(loan, value, received_on=day, ref=ref)
                assert created is True
                assert payment.amount == value
                before_replay = ledger_state(loan)
                again, created_again = post(loan, value, received_on=day, ref=ref)
                assert (again.pk, created_again) == (payment.pk, False)
                assert ledger_state(loan) == before_replay
            elif action == "reverse":
                open_payments = list(Payment.objects.filter(loan=loan, status=Payment.Status.POSTED).order_by("id"))
                if not open_payments:
                    continue
                payment = open_payments[value % len(open_payments)]
                before = {row[0]: row[1:] for row in paid_by_installment(loan)}
                credit_before = Loan.objects.get(pk=loan.pk).credit_balance_amount
                removed = allocations_by_installment(payment)
                # A payment received before others is reversed by re-playing the later ones without it
                # (lending/penalty_replay.py): then only the totals are comparable, not each installment.
                replays = (
                    Payment.objects.filter(loan=loan)
                    .filter(
                        Q(received_on__gt=payment.received_on) | Q(received_on=payment.received_on, pk__gt=payment.pk)
                    )
                    .exists()
                )
                payment_reverse(payment=payment, reason="property test", reversed_on=day)
                after = {row[0]: row[1:] for row in paid_by_installment(loan)}
                credit_after = Loan.objects.get(pk=loan.pk).credit_balance_amount
                # Credit left by other payments is spent again on what the reversal reopened.
                reapplied = credit_before - payment.unallocated_amount - credit_after
                assert reapplied >= ZERO
                if reapplied == ZERO and not replays:
                    for sequence, paid in before.items():
                        taken = removed.get(sequence, (ZERO,) * 4)
                        assert after[sequence] == tuple(p - t for p, t in zip(paid, taken, strict=True))
                total_taken = sum((sum(parts) for parts in removed.values()), ZERO)
                assert sum(map(sum, after.values())) == sum(map(sum, before.values())) - total_taken + reapplied
            else:
                before = ledger_state(loan)
                payment, _ = post(loan, value, received_on=day)
                payment_reverse(payment=payment, reason="post then reverse", reversed_on=day)
                after = ledger_state(loan)
                for key in ("installments", "credit", "status", "settled_on"):
                    assert after[key] == before[key], key
                assert after["payments"] == before["payments"] + 1
                assert (
                    after["allocations"]
                    == before["allocations"]
                    + 2 * PaymentAllocation.objects.filter(payment=payment, is_reversal=False).count()
                )
            check_invariants(loan)
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=False)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=amounts, second=amounts)
def test_splitting_a_payment_in_two_allocates_the_same_as_paying_it_at_once(
    on_postgres, make_loan, property_product, post, first, second
):
    """The waterfall has no memory: two payments end in the same paid amounts as their sum in one."""
    with transaction.atomic():
        split = make_loan(product=property_product, principal_amount=Decimal("3000.00"), term_months=3)
        whole = make_loan(product=property_product, principal_amount=Decimal("3000.00"), term_months=3)
        post(split, first)
        post(split, second)
        post(whole, first + second)
        assert [row[1:] for row in paid_by_installment(split)] == [row[1:] for row in paid_by_installment(whole)]
        split_loan, whole_loan = Loan.objects.get(pk=split.pk), Loan.objects.get(pk=whole.pk)
        assert split_loan.credit_balance_amount == whole_loan.credit_balance_amount
        assert split_loan.status == whole_loan.status
        transaction.set_rollback(True)
