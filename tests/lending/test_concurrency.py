"""Concurrent posting on PostgreSQL: the loan row lock serialises writers, and (source, external_ref)
stays unique under a race. Real threads, real connections, committed data (transaction=True)."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction

from creditops.core.errors import DomainError
from lending.models import Installment, Payment, PaymentAllocation
from lending.selectors import ledger_mismatches
from lending.services import payment_post

from .conftest import paid_by_installment

ZERO = Decimal("0.00")
pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*calls):
    """Run each zero-argument callable in its own thread, released at the same moment by a barrier.
    Returns each call's result (or the exception it raised), in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as error:  # reported to the test below, not swallowed
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a posting thread hung (lock wait?)"
    return results


def poster(loan, ref, amount, received_on=datetime.date(2026, 2, 10)):
    def call():
        return payment_post(
            loan=loan,
            source="bank-file",
            external_ref=ref,
            amount=Decimal(amount),
            received_on=received_on,
            channel=Payment.Channel.BANK_TRANSFER,
        )

    return call


def test_concurrent_payments_on_one_loan_are_both_allocated_once(on_postgres, make_loan):
    loan = make_loan()
    # Three rounds, each two payments racing; amounts chosen so payments cross installment boundaries.
    rounds = [("500.00", "700.00"), ("1066.19", "0.01"), ("2000.00", "333.33")]
    for number, (first, second) in enumerate(rounds):
        results = run_together(poster(loan, f"R{number}-A", first), poster(loan, f"R{number}-B", second))
        for result in results:
            assert not isinstance(result, BaseException), result
            assert result[1] is True

    total = sum(Decimal(amount) for pair in rounds for amount in pair)
    assert total == Decimal("4599.53")
    installments = list(Installment.objects.filter(loan=loan).order_by("sequence"))
    assert sum((item.paid_amount for item in installments), ZERO) == total
    for item in installments:
        for part in ("principal", "interest", "fee", "penalty"):
            assert getattr(item, f"{part}_paid_amount") <= getattr(item, f"{part}_amount")
    # Oldest first, whatever order the threads ran in: 4 × 1066.19 = 4264.76, then 334.77 on installment 5.
    assert [row[1:] for row in paid_by_installment(loan)[:5]] == [
        (ZERO, ZERO, Decimal("120.00"), Decimal("946.19")),
        (ZERO, ZERO, Decimal("110.54"), Decimal("955.65")),
        (ZERO, ZERO, Decimal("100.98"), Decimal("965.21")),
        (ZERO, ZERO, Decimal("91.33"), Decimal("974.86")),
        (ZERO, ZERO, Decimal("81.58"), Decimal("253.19")),
    ]
    assert all(item.paid_amount == ZERO for item in installments[5:])
    assert Payment.objects.filter(loan=loan).count() == 6
    for payment in Payment.objects.filter(loan=loan):
        allocated = sum((row.total_amount for row in PaymentAllocation.objects.filter(payment=payment)), ZERO)
        assert allocated == payment.amount
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


def test_concurrent_payoffs_leave_the_second_as_credit(on_postgres, make_loan):
    loan = make_loan()
    owed = Decimal("12794.23")
    results = run_together(poster(loan, "PAYOFF-A", owed), poster(loan, "PAYOFF-B", owed))
    for result in results:
        assert not isinstance(result, BaseException), result
    payments = [result[0] for result in results]
    loan.refresh_from_db()
    assert loan.status == "settled"
    assert loan.credit_balance_amount == owed
    assert sorted(Payment.objects.get(pk=p.pk).unallocated_amount for p in payments) == [ZERO, owed]
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


def test_same_reference_posted_twice_at_once_makes_one_payment(on_postgres, make_loan):
    loan = make_loan()
    results = run_together(poster(loan, "DUP-1", "500.00"), poster(loan, "DUP-1", "500.00"))
    for result in results:
        assert not isinstance(result, BaseException), result
    assert Payment.objects.filter(source="bank-file", external_ref="DUP-1").count() == 1
    stored = Payment.objects.get(source="bank-file", external_ref="DUP-1")
    assert {result[0].pk for result in results} == {stored.pk}
    assert sorted(result[1] for result in results) == [False, True]
    assert sum((item.paid_amount for item in Installment.objects.filter(loan=loan)), ZERO) == Decimal("500.00")
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


def test_same_reference_raced_onto_two_loans_posts_once_and_refuses_the_other(on_postgres, make_loan):
    first, second = make_loan(), make_loan()
    results = run_together(poster(first, "DUP-2", "500.00"), poster(second, "DUP-2", "500.00"))
    errors = [result for result in results if isinstance(result, BaseException)]
    successes = [result for result in results if not isinstance(result, BaseException)]
    assert len(successes) == 1, results
    assert len(errors) == 1, results
    assert isinstance(errors[0], DomainError)
    assert errors[0].code == "payment.duplicate_conflict"
    payment, created = successes[0]
    assert created is True
    assert Payment.objects.filter(external_ref="DUP-2").count() == 1
    assert errors[0].detail == {"payment_id": payment.pk}
    loser = second if payment.loan_id == first.pk else first
    assert not Installment.objects.filter(loan=loser, interest_paid_amount__gt=0).exists()
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


def test_posting_on_one_loan_does_not_block_another_loan_of_the_same_product(on_postgres, make_loan):
    """DESIGN.md: posting locks the loan row. It must not lock more than that: a payment on one loan
    has to go through while another loan of the same product is in the middle of posting."""
    busy, other = make_loan(), make_loan()
    assert busy.product_id == other.product_id
    holding, release = threading.Event(), threading.Event()
    failures = []

    def post_and_hold():
        try:
            with transaction.atomic():
                poster(busy, "HOLD-1", "100.00")()
                holding.set()
                release.wait(timeout=15)
        except BaseException as error:
            failures.append(error)
        finally:
            holding.set()
            connection.close()

    thread = threading.Thread(target=post_and_hold)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                payment, created = poster(other, "FREE-1", "100.00")()
        except OperationalError as error:
            pytest.fail(f"posting on loan {other.pk} waited on the transaction posting on loan {busy.pk}: {error}")
    finally:
        release.set()
        thread.join(timeout=30)
    assert not failures, failures
    assert created is True
    assert Payment.objects.get(pk=payment.pk).loan_id == other.pk
    assert Payment.objects.filter(external_ref="HOLD-1").count() == 1
