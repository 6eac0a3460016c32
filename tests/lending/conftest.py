"""Helpers for the ledger tests: products with other repayment terms, and snapshots of ledger state."""

import datetime
import itertools
from decimal import Decimal

import pytest

from lending.models import Installment, Loan, Payment, PaymentAllocation
from lending.services import payment_post
from tests.factories import ProductFactory

PAID_FIELDS = ("penalty_paid_amount", "fee_paid_amount", "interest_paid_amount", "principal_paid_amount")
_references = itertools.count(1)


def next_ref(prefix: str = "T") -> str:
    """A payment external reference never used before in this test session."""
    return f"{prefix}-{next(_references):07d}"


def paid_by_installment(loan: Loan) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal]]:
    """(sequence, penalty paid, fee paid, interest paid, principal paid) for each installment, in order."""
    return list(Installment.objects.filter(loan=loan).order_by("sequence").values_list("sequence", *PAID_FIELDS))


def ledger_state(loan: Loan) -> dict:
    """Everything a post or reverse may change on one loan, to compare before and after."""
    loan = Loan.objects.get(pk=loan.pk)
    return {
        "installments": paid_by_installment(loan),
        "credit": loan.credit_balance_amount,
        "status": loan.status,
        "settled_on": loan.settled_on,
        "payments": Payment.objects.filter(loan=loan).count(),
        "allocations": PaymentAllocation.objects.filter(payment__loan=loan).count(),
    }


def total_owed(loan: Loan) -> Decimal:
    return sum((item.total_amount for item in Installment.objects.filter(loan=loan)), Decimal("0.00"))


@pytest.fixture
def loan(make_loan):
    """12,000.00 over 12 months at 12% equal installment; due on the 15th from 2026-02-15 to 2027-01-15."""
    return make_loan()


@pytest.fixture
def fee_product(db):
    """Equal installment at 12% plus a 0.5% monthly fee (60.00 a month on 12,000.00)."""
    return ProductFactory(code="FEE12", monthly_fee_rate=Decimal("0.005"))


@pytest.fixture
def post(db):
    """payment_post with the usual defaults; returns (payment, created)."""

    def post_payment(loan, amount, *, received_on=datetime.date(2026, 2, 10), ref=None, **overrides):
        arguments = {
            "loan": loan,
            "source": "bank-file",
            "external_ref": ref or next_ref(),
            "amount": Decimal(amount),
            "received_on": received_on,
            "channel": Payment.Channel.BANK_TRANSFER,
        }
        arguments.update(overrides)
        return payment_post(**arguments)

    return post_payment
