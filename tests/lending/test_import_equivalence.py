"""The bulk path posts exactly what payment_post posts: a file imported on one set of loans, and the same
payments posted one by one (in the import's order: received_on, then row) on an identical second set, end
with the same installments, payments, allocations, credit balances, statuses and settlement dates."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from lending.imports import payments
from lending.imports.files import Row
from lending.imports.payments import payments_import
from lending.models import Installment, Loan, Payment, PaymentAllocation
from lending.selectors import ledger_mismatches
from lending.services import payment_post
from lending.write_off import loan_write_off
from tests.factories import ProductFactory, charge_penalty

from .conftest import total_owed

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 1)
PARTS = ("penalty", "fee", "interest", "principal")


@pytest.fixture
def products(db):
    return {
        "fee": ProductFactory(code="EQFEE", monthly_fee_rate=D("0.005")),
        "principal_first": ProductFactory(code="EQPF", allocation_waterfall="principal,interest,fee,penalty"),
    }


def book(make_loan, products, prefix: str) -> list[Loan]:
    """Eight loans in the states an import meets; called twice, it books two identical sets."""
    fresh = make_loan()
    with_penalty = make_loan(product=products["fee"])
    charge_penalty(with_penalty, 1, D("25.00"))
    principal_first = make_loan(product=products["principal_first"])
    almost_paid = make_loan()
    _post(almost_paid, total_owed(almost_paid) - D("100.00"), f"{prefix}-pre-1", datetime.date(2026, 3, 1))
    settled = make_loan()
    _post(settled, total_owed(settled), f"{prefix}-pre-2", datetime.date(2026, 3, 1))
    written_off = make_loan()
    loan_write_off(loan=written_off, on=datetime.date(2026, 6, 1))
    short = make_loan(principal_amount=D("3000.00"), term_months=3)
    several = make_loan()
    long_overdue = make_loan(term_months=24)
    three_paid = make_loan()
    return [
        fresh, with_penalty, principal_first, almost_paid, settled, written_off, short, several, long_overdue,
        three_paid,
    ]  # fmt: skip


# (loan index, amount, received_on) in file order: dates out of order, several payments on one loan, an
# overpayment, payments on settled and written-off loans, a payment after the one that settles a loan,
# payments that together reach past the first installments the import reads of a loan.
FILE = [
    (0, "500.00", DAY + datetime.timedelta(days=19)),
    (7, "300.00", DAY + datetime.timedelta(days=21)),
    (1, "100.00", DAY),
    (2, "1000.00", DAY + datetime.timedelta(days=4)),
    (3, "150.00", DAY + datetime.timedelta(days=9)),
    (4, "30.00", DAY + datetime.timedelta(days=10)),
    (5, "2000.00", DAY + datetime.timedelta(days=11)),
    (6, "5000.00", DAY + datetime.timedelta(days=12)),
    (7, "1500.00", DAY + datetime.timedelta(days=1)),
    (7, "0.01", DAY + datetime.timedelta(days=21)),
    (6, "10.00", DAY + datetime.timedelta(days=13)),
    (3, "20.00", DAY + datetime.timedelta(days=8)),
    (8, "2500.00", DAY + datetime.timedelta(days=3)),
    (8, "2000.00", DAY + datetime.timedelta(days=2)),
    (9, "3198.57", DAY + datetime.timedelta(days=2)),  # exactly installments 1–3 of 12
]


def _post(loan, amount, ref, received_on, source="setup"):
    return payment_post(
        loan=loan, source=source, external_ref=ref, amount=amount, received_on=received_on, channel="bank_transfer"
    )


def import_and_post_one_by_one(bulk_loans, single_loans, payments):
    """Import `payments` ((loan index, amount, date) in file order) on the first set; post them with
    payment_post on the second set in the import's order."""
    rows = [
        Row(number, {"loan_reference": bulk_loans[index].reference, "external_ref": f"F-{number}",
                     "amount": str(amount), "received_on": received_on.isoformat()})
        for number, (index, amount, received_on) in enumerate(payments, start=2)
    ]  # fmt: skip
    report = payments_import(rows=rows, source="bank_file", dry_run=False, file_name="bank.csv")
    assert (report.row_errors, report.created) == ([], len(payments))
    in_import_order = sorted(enumerate(payments, start=2), key=lambda numbered: (numbered[1][2], numbered[0]))
    for number, (index, amount, received_on) in in_import_order:
        _post(single_loans[index], D(amount), f"F-{number}", received_on, source="one_by_one")


def ledger(loan) -> dict:
    """Everything posting touches on one loan, without ids or references (which differ between the sets)."""
    loan = Loan.objects.get(pk=loan.pk)
    payments = list(Payment.objects.filter(loan=loan).exclude(source="setup").order_by("received_on", "pk"))
    return {
        "installments": list(
            Installment.objects.filter(loan=loan)
            .order_by("sequence")
            .values_list("sequence", *(f"{part}_paid_amount" for part in PARTS))
        ),
        "payments": [
            (payment.external_ref, payment.amount, payment.unallocated_amount, payment.received_on, payment.status)
            for payment in payments
        ],
        "allocations": [
            list(
                PaymentAllocation.objects.filter(payment=payment)
                .order_by("pk")
                .values_list("installment__sequence", *(f"{part}_amount" for part in PARTS))
            )
            for payment in payments
        ],
        "audit": [
            {key: value for key, value in event.detail.items() if key != "loan"}
            for payment in payments
            for event in AuditEvent.objects.filter(event="payment.posted", subject_id=str(payment.pk))
        ],
        "loan": (loan.credit_balance_amount, loan.status, loan.settled_on),
    }


@pytest.mark.parametrize("loans_per_chunk", [payments.LOANS_PER_CHUNK, 3])
def test_a_file_posts_exactly_what_payment_post_posts_one_by_one(make_loan, products, monkeypatch, loans_per_chunk):
    monkeypatch.setattr(payments, "LOANS_PER_CHUNK", loans_per_chunk)  # 3: the file's loans in four chunks
    bulk_loans, single_loans = book(make_loan, products, "A"), book(make_loan, products, "B")

    import_and_post_one_by_one(bulk_loans, single_loans, FILE)

    for bulk, single in zip(bulk_loans, single_loans, strict=True):
        assert ledger(bulk) == ledger(single), bulk.reference
    statuses = [ledger(loan)["loan"] for loan in bulk_loans]
    assert statuses[3] == (D("70.00"), Loan.Status.SETTLED, DAY + datetime.timedelta(days=9))
    assert statuses[4] == (D("30.00"), Loan.Status.SETTLED, datetime.date(2026, 3, 1))
    assert statuses[5][1:] == (Loan.Status.WRITTEN_OFF, None)
    assert statuses[6][1:] == (Loan.Status.SETTLED, DAY + datetime.timedelta(days=12))
    assert statuses[6][0] == D("5010.00") - total_owed(bulk_loans[6])
    assert statuses[9] == (D("0.00"), Loan.Status.ACTIVE, None)
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


payments_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=1, max_value=800_000).map(lambda cents: D(cents).scaleb(-2)),
        st.integers(min_value=0, max_value=20).map(lambda days: DAY + datetime.timedelta(days=days)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db(transaction=False)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payments=payments_strategy)
def test_any_file_posts_what_payment_post_posts(make_loan, products, payments):
    with transaction.atomic():
        sets = []
        for _copy in range(2):
            loan = make_loan(product=products["fee"], principal_amount=D("3000.00"), term_months=3)
            charge_penalty(loan, 2, D("15.00"))
            long_loan = make_loan(principal_amount=D("3000.00"), term_months=12)  # payments reach past its first three
            sets.append([loan, make_loan(product=products["principal_first"], term_months=2), long_loan])
        import_and_post_one_by_one(sets[0], sets[1], payments)
        for bulk, single in zip(*sets, strict=True):
            assert ledger(bulk) == ledger(single)
        transaction.set_rollback(True)
