"""Waivers and settlements as ledger entries: balances are due + accrued − paid − waived, a waiver is
reversible, a late payment re-plays the days after it with the waiver re-applied, and a settlement paid
by its deadline waives the rest and closes the loan as settled with discount (missed: it lapses)."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum

from creditops.core.dates import add_months, business_today
from creditops.core.errors import DomainError
from creditops.core.money import to_money
from lending.adjustments import waiver_post, waiver_reverse
from lending.imports.files import read_rows
from lending.imports.payments import COLUMNS, payments_import
from lending.models import Component, Installment, LedgerEntry, Loan, Settlement
from lending.selectors import ledger_mismatches
from lending.services import payment_reverse
from lending.settlements import loan_owed_amount, settlement_agree, settlements_lapse

from .test_import_files import write_csv
from .test_penalty import accrue_through

TODAY = business_today()
ONE_DAY = datetime.timedelta(days=1)


@pytest.fixture
def overdue_loan(make_loan):
    """12,000.00 over 12 months, three installments overdue today (the last one 10 days at least), with
    penalty charged for the last 10 days."""
    first_due = add_months(TODAY, -3) - datetime.timedelta(days=10)
    loan = make_loan(disbursed_on=add_months(first_due, -1), first_due_date=first_due)
    accrue_through(TODAY, first=TODAY - ONE_DAY * 9)
    return Loan.objects.get(pk=loan.pk)


def owed(loan, part: str) -> Decimal:
    items = Installment.objects.filter(loan=loan)
    return sum(
        (getattr(i, f"{part}_amount") - getattr(i, f"{part}_paid_amount") - getattr(i, f"{part}_adjusted_amount"))
        for i in items
    )


def assert_reconciled():
    assert not any(ledger_mismatches().values()), ledger_mismatches()


def test_a_penalty_waiver_is_an_entry_and_lowers_what_is_owed_oldest_first(overdue_loan):
    penalty_before = owed(overdue_loan, "penalty")
    first = Installment.objects.get(loan=overdue_loan, sequence=1)
    waive = first.penalty_amount + Decimal("0.50")  # all of the first installment's, and some of the second's
    entry = waiver_post(loan=overdue_loan, component=Component.PENALTY, amount=waive, reason="goodwill", authority="t")
    assert entry.kind == LedgerEntry.Kind.WAIVER and entry.amount == waive
    lines = {line.installment.sequence: line.penalty_amount for line in entry.lines.select_related("installment")}
    assert lines == {1: first.penalty_amount, 2: Decimal("0.50")}
    assert owed(overdue_loan, "penalty") == penalty_before - waive
    first.refresh_from_db()
    assert first.outstanding_amount == first.principal_amount + first.interest_amount  # its penalty is waived
    assert_reconciled()


def test_a_waiver_larger_than_what_is_owed_is_refused_and_changes_nothing(overdue_loan):
    penalty = owed(overdue_loan, "penalty")
    with pytest.raises(DomainError) as refused:
        waiver_post(loan=overdue_loan, component="penalty", amount=penalty + Decimal("0.01"), reason="too much")
    assert refused.value.code == "waiver.exceeds_owed"
    assert not LedgerEntry.objects.exists()
    assert owed(overdue_loan, "penalty") == penalty


def test_a_reversed_waiver_is_owed_again(overdue_loan):
    interest = owed(overdue_loan, "interest")
    entry = waiver_post(loan=overdue_loan, component="interest", amount=Decimal("100.00"), reason="error")
    reversal = waiver_reverse(entry=entry, reason="granted by mistake")
    assert reversal.reverses == entry and reversal.amount == Decimal("-100.00")
    assert owed(overdue_loan, "interest") == interest
    with pytest.raises(DomainError):
        waiver_reverse(entry=entry, reason="again")
    assert_reconciled()


def test_a_payment_after_a_penalty_waiver_pays_the_rest(overdue_loan, post):
    waiver_post(loan=overdue_loan, component="penalty", amount=owed(overdue_loan, "penalty"), reason="goodwill")
    first = Installment.objects.get(loan=overdue_loan, sequence=1)
    post(overdue_loan, first.outstanding_amount, received_on=TODAY)
    first.refresh_from_db()
    assert first.outstanding_amount == 0 and first.penalty_paid_amount == 0
    assert_reconciled()


def test_a_late_payment_takes_back_penalty_and_the_waiver_of_it_shrinks_with_it(overdue_loan, post):
    """The whole penalty is waived today; then money received 8 days ago is posted: the days after it are
    charged again on less, and the waiver waives what there is now — never more than is owed."""
    waiver_post(loan=overdue_loan, component="penalty", amount=owed(overdue_loan, "penalty"), reason="goodwill")
    total_due = sum(
        (item.outstanding_amount for item in Installment.objects.filter(loan=overdue_loan, due_date__lt=TODAY)),
        Decimal(0),
    )
    post(overdue_loan, total_due, received_on=TODAY - ONE_DAY * 8)
    assert owed(overdue_loan, "penalty") == 0
    waiver = LedgerEntry.objects.get(kind=LedgerEntry.Kind.WAIVER)
    waived_now = to_money(waiver.lines.aggregate(total=Sum("penalty_amount"))["total"])
    installments = Installment.objects.filter(loan=overdue_loan)
    penalty_due = to_money(installments.aggregate(total=Sum("penalty_amount"))["total"])
    paid_penalty = to_money(installments.aggregate(total=Sum("penalty_paid_amount"))["total"])
    assert waived_now + paid_penalty == penalty_due
    assert waived_now < waiver.amount  # re-applied on a smaller penalty
    assert waiver.lines.filter(is_replay=True).exists()
    assert_reconciled()


@pytest.fixture
def settlement(overdue_loan):
    return settlement_agree(
        loan=overdue_loan, agreed_amount=Decimal("5000.00"), deadline=TODAY + ONE_DAY * 10, authority="approval 1"
    )


def test_a_settlement_paid_by_its_deadline_waives_the_rest_and_closes_the_loan(overdue_loan, settlement, post):
    owed_before = loan_owed_amount(overdue_loan)
    assert settlement.owed_amount == owed_before and settlement.discount_amount == owed_before - Decimal("5000.00")
    post(overdue_loan, "3000.00", received_on=TODAY)
    assert Loan.objects.get(pk=overdue_loan.pk).status == Loan.Status.ACTIVE
    post(overdue_loan, "2000.00", received_on=TODAY)
    loan = Loan.objects.get(pk=overdue_loan.pk)
    assert (loan.status, loan.settled_on) == (Loan.Status.SETTLED_WITH_DISCOUNT, TODAY)
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.SETTLED
    discount = settlement.discount_entry
    assert discount.kind == LedgerEntry.Kind.SETTLEMENT_DISCOUNT
    assert discount.amount == owed_before - Decimal("5000.00")  # everything else, future installments too
    assert loan_owed_amount(loan) == 0
    assert_reconciled()


def test_a_settlement_not_paid_by_its_deadline_lapses_and_waives_nothing(overdue_loan, settlement, post):
    post(overdue_loan, "1000.00", received_on=TODAY)
    assert settlements_lapse(as_of=settlement.deadline) == 0  # the deadline day itself still counts
    assert settlements_lapse(as_of=settlement.deadline + ONE_DAY) == 1
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.LAPSED
    assert settlement.end_reason == Settlement.EndReason.DEADLINE_PASSED
    assert not LedgerEntry.objects.exists()
    assert Loan.objects.get(pk=overdue_loan.pk).status == Loan.Status.ACTIVE


def test_a_missed_settlement_instalment_lapses_it_before_the_deadline(overdue_loan, post):
    settlement = settlement_agree(
        loan=overdue_loan, agreed_amount=Decimal("5000.00"), deadline=TODAY + ONE_DAY * 20,
        instalments=[(TODAY + ONE_DAY * 5, "2500.00"), (TODAY + ONE_DAY * 20, "2500.00")],
    )  # fmt: skip
    post(overdue_loan, "2499.99", received_on=TODAY)
    assert settlements_lapse(as_of=TODAY + ONE_DAY * 5) == 0
    assert settlements_lapse(as_of=TODAY + ONE_DAY * 6) == 1
    settlement.refresh_from_db()
    assert settlement.end_reason == Settlement.EndReason.INSTALMENT_MISSED


def test_reversing_the_payment_that_settled_takes_the_discount_back(overdue_loan, settlement, post):
    payment, _created = post(overdue_loan, "5000.00", received_on=TODAY)
    payment_reverse(payment=payment, reason="bounced", reversed_on=TODAY)
    loan = Loan.objects.get(pk=overdue_loan.pk)
    assert loan.status == Loan.Status.ACTIVE and loan.settled_on is None
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.ACTIVE and settlement.discount_entry is None
    assert loan_owed_amount(loan) == settlement.owed_amount  # nothing waived, nothing paid
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SETTLEMENT_DISCOUNT, reverses__isnull=False).exists()
    assert_reconciled()


@pytest.mark.parametrize(
    ("agreed", "deadline_days", "code"),
    [("999999.00", 10, "settlement.no_discount"), ("100.00", -1, "settlement.deadline_invalid"),
     ("100.00", 181, "settlement.deadline_invalid"), ("0", 10, "settlement.amount_invalid")],
)  # fmt: skip
def test_a_settlement_on_terms_that_do_not_fit_is_refused(overdue_loan, agreed, deadline_days, code):
    with pytest.raises(DomainError) as refused:
        settlement_agree(loan=overdue_loan, agreed_amount=agreed, deadline=TODAY + ONE_DAY * deadline_days)
    assert refused.value.code == code
    assert not Settlement.objects.exists()


@pytest.mark.parametrize("through", ["payment_post", "bank file"])
def test_money_received_before_a_waiver_is_allocated_before_it(make_loan, post, tmp_path, through):
    """No penalty charged yet: interest is waived today, then money received yesterday is posted. The money
    came first, so it pays the interest and the waiver waives what is left of it, oldest first — as if the
    two had been posted in the order they happened (a replay found by the property test: with no penalty
    day between them the payment used to be allocated after the waiver, to principal)."""
    loan = make_loan(disbursed_on=add_months(TODAY, -1) - ONE_DAY * 2, first_due_date=TODAY - ONE_DAY * 2)
    first = Installment.objects.get(loan=loan, sequence=1)
    waiver_post(loan=loan, component="interest", amount=first.interest_amount, reason="goodwill")
    amount = first.fee_amount + Decimal("1.00")
    if through == "payment_post":
        post(loan, amount, received_on=TODAY - ONE_DAY)
    else:
        path = write_csv(
            tmp_path / "bank.csv",
            [["loan_reference", "external_ref", "amount", "received_on"],
             [loan.reference, "BANK-W", str(amount), (TODAY - ONE_DAY).isoformat()]],
        )  # fmt: skip
        with path.open("rb") as opened:
            rows = read_rows(opened, name=path.name, columns=COLUMNS)
        assert payments_import(rows=rows, source="bank_file", actor=None, dry_run=False, file_name=path.name).ok
    first.refresh_from_db()
    second = Installment.objects.get(loan=loan, sequence=2)
    assert (first.fee_paid_amount, first.interest_paid_amount, first.principal_paid_amount) == (
        first.fee_amount, Decimal("1.00"), Decimal("0.00"),
    )  # fmt: skip
    assert (first.interest_adjusted_amount, second.interest_adjusted_amount) == (
        first.interest_amount - Decimal("1.00"), Decimal("1.00"),
    )  # fmt: skip
    assert_reconciled()
