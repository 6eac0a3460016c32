"""The bulk import racing payment_post on PostgreSQL: the loan row locks serialise them, so nothing is
allocated twice, and a reference posted by both is posted once. Real threads, committed data."""

import datetime
from decimal import Decimal

import pytest

from creditops.core.errors import DomainError
from lending.imports.files import Row
from lending.imports.payments import payments_import
from lending.models import Installment, Payment
from lending.selectors import ledger_mismatches

from .test_concurrency import poster, run_together

pytestmark = pytest.mark.django_db(transaction=True)
ZERO = Decimal("0.00")
DAY = datetime.date(2026, 2, 10)


def importer(*payments):
    """An import of (loan, external_ref, amount) rows under the source payment_post's tests use."""
    rows = [
        Row(number, {"loan_reference": loan.reference, "external_ref": ref, "amount": amount, "received_on": str(DAY)})
        for number, (loan, ref, amount) in enumerate(payments, start=2)
    ]
    return lambda: payments_import(rows=rows, source="bank-file", dry_run=False, file_name="race.csv")


def test_an_import_and_hand_posting_on_the_same_loan_allocate_each_payment_once(on_postgres, make_loan):
    loan = make_loan()
    for number in range(3):
        report, (_payment, created) = run_together(
            importer((loan, f"F{number}-1", "500.00"), (loan, f"F{number}-2", "700.00")),
            poster(loan, f"H{number}", "1066.19"),
        )
        assert (report.applied, report.created, created) == (True, 2, True)

    paid = sum((item.paid_amount for item in Installment.objects.filter(loan=loan)), ZERO)
    assert paid == 3 * (Decimal("500.00") + Decimal("700.00") + Decimal("1066.19"))
    assert Payment.objects.filter(loan=loan).count() == 9
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()


def test_a_reference_posted_by_hand_while_the_file_posts_it_exists_once(on_postgres, make_loan):
    in_file, elsewhere = make_loan(), make_loan()
    for number in range(3):
        ref = f"RACE-{number}"
        report, posted = run_together(
            importer((in_file, f"OTHER-{number}", "10.00"), (in_file, ref, "500.00")),
            poster(elsewhere, ref, "70.00"),
        )
        assert Payment.objects.filter(source="bank-file", external_ref=ref).count() == 1
        winner = Payment.objects.get(source="bank-file", external_ref=ref)
        if winner.loan_id == in_file.pk:  # the file won; the hand posting was refused as a conflict
            assert report.applied
            assert isinstance(posted, DomainError) and posted.code == "payment.duplicate_conflict"
        else:  # the hand posting won; the file was rejected whole
            assert not report.ok and report.created == 0
            assert not Payment.objects.filter(external_ref=f"OTHER-{number}").exists()
    assert all(not ids for ids in ledger_mismatches().values()), ledger_mismatches()
