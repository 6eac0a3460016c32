"""Write-off as a ledger entry, recoveries after it and its undo; restructuring; credit-balance refunds;
due dates on non-business days."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from creditops.core.dates import add_months, business_today
from creditops.core.errors import DomainError
from lending.models import Installment, LedgerEntry, Loan, PaymentAllocation, PenaltyEntry, PenaltyPause, Restructuring
from lending.refunds import credit_refund_decide, credit_refund_request
from lending.restructuring import loan_restructure
from lending.selectors import ledger_mismatches
from lending.services import payment_reverse
from lending.settlements import loan_owed_amount
from lending.write_off import loan_write_off, loan_write_off_undo, written_off_summary
from tests.factories import ProductFactory, UserFactory

from .test_penalty import accrue, accrue_through

TODAY = business_today()
ONE_DAY = datetime.timedelta(days=1)
PARTS = ("principal", "interest", "fee", "penalty")


def overdue(make_loan, **overrides):
    """12,000.00 over 12 months with its first three installments overdue, penalty charged for 10 days."""
    first_due = add_months(TODAY, -3) - datetime.timedelta(days=12)
    loan = make_loan(disbursed_on=add_months(first_due, -1), first_due_date=first_due, **overrides)
    accrue_through(TODAY - ONE_DAY * 10, first=TODAY - ONE_DAY * 19)
    return Loan.objects.get(pk=loan.pk)


def assert_reconciled():
    assert not any(ledger_mismatches().values()), ledger_mismatches()


def state(loan) -> list[tuple]:
    """Each installment's due, paid and outstanding parts: what 'restored exactly' must equal."""
    fields = [f"{part}_{kind}" for part in PARTS for kind in ("amount", "paid_amount")] + ["outstanding_amount"]
    return list(Installment.objects.filter(loan=loan).order_by("sequence").values_list(*fields))


def test_a_write_off_moves_everything_owed_off_balance_in_one_entry(make_loan):
    loan = overdue(make_loan)
    owed = loan_owed_amount(loan)
    loan_write_off(loan=loan, on=TODAY - ONE_DAY * 10, authority="approval 7")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF and loan.written_off_amount == owed
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.WRITE_OFF)
    assert entry.amount == owed and entry.authority == "approval 7"
    assert loan_owed_amount(loan) == 0  # nothing left on balance
    pause = PenaltyPause.objects.get(loan=loan)
    assert (pause.reason, pause.started_on) == (PenaltyPause.Reason.WRITTEN_OFF, TODAY - ONE_DAY * 9)
    charged = PenaltyEntry.objects.count()
    accrue_through(TODAY, first=TODAY - ONE_DAY * 9)
    assert PenaltyEntry.objects.count() == charged  # accrual stopped
    assert_reconciled()


def test_money_after_a_write_off_is_a_recovery_reported_apart(make_loan, post):
    loan = overdue(make_loan)
    loan_write_off(loan=loan, on=TODAY - ONE_DAY * 10)
    written_off = Loan.objects.get(pk=loan.pk).written_off_amount
    payment, _created = post(loan, "500.00", received_on=TODAY - ONE_DAY * 5)
    loan.refresh_from_db()
    assert loan.written_off_amount == written_off - Decimal("500.00")
    assert loan_owed_amount(loan) == 0  # on balance still nothing: the recovery reinstated what it paid
    assert all(row.is_recovery for row in PaymentAllocation.objects.filter(payment=payment))
    summary = written_off_summary(loan)
    assert summary["recovered"] == Decimal("500.00") and summary["left"] == written_off - Decimal("500.00")
    first = Installment.objects.get(loan=loan, sequence=1)
    # The waterfall on what was written off: the oldest installment's penalty first, then its interest.
    assert first.penalty_paid_amount == first.penalty_amount and summary["recovered_principal"] < Decimal("500.00")
    payment_reverse(payment=payment, reason="bounced", reversed_on=TODAY)
    loan.refresh_from_db()
    assert loan.written_off_amount == written_off
    assert written_off_summary(loan)["recovered"] == 0
    assert_reconciled()


def test_an_undo_restores_the_loan_exactly_as_if_never_written_off(make_loan, post, borrower):
    """Two identical loans get the same payment and the same nights; one is written off in between (the
    payment arrives as a recovery) and the write-off undone: both end the same, penalty days included."""
    written_off, twin = overdue(make_loan), overdue(make_loan)
    loan_write_off(loan=written_off, on=TODAY - ONE_DAY * 10)
    for loan in (written_off, twin):
        post(loan, "700.00", received_on=TODAY - ONE_DAY * 6)
    accrue_through(TODAY, first=TODAY - ONE_DAY * 9)
    assert state(written_off) != state(twin)
    loan_write_off_undo(loan=written_off, reason="approved by mistake")
    loan = Loan.objects.get(pk=written_off.pk)
    assert (loan.status, loan.written_off_amount, loan.written_off_on) == (Loan.Status.ACTIVE, 0, None)
    assert state(written_off) == state(twin)
    assert written_off_summary(loan)["recovered"] == 0  # the recovery became an ordinary payment
    assert (loan.days_past_due, loan.overdue_amount) == (
        Loan.objects.values_list("days_past_due", "overdue_amount").get(pk=twin.pk)
    )
    accrue(TODAY + ONE_DAY)  # and the nights go on charging it like the twin
    assert state(written_off) == state(twin)
    assert_reconciled()


def test_an_undo_after_a_refund_of_the_recoverys_credit_keeps_the_refund_refunded(make_loan, post):
    """A recovery larger than the debt leaves credit; part of it is refunded; then the write-off is undone:
    the refunded money stays refunded (the re-play allocates only what is left of the payment)."""
    loan = overdue(make_loan)
    loan_write_off(loan=loan, on=TODAY - ONE_DAY * 10)
    owed = Loan.objects.get(pk=loan.pk).written_off_amount
    post(loan, owed + Decimal("1000.00"), received_on=TODAY - ONE_DAY * 3)
    maker, checker = UserFactory(username="maker2"), UserFactory(username="checker2")
    maker.user_permissions.add(Permission.objects.get(codename="add_creditrefund"))
    checker.user_permissions.add(Permission.objects.get(codename="decide_creditrefund"))
    refund = credit_refund_request(
        loan=loan, amount="900.00", reason="overpaid", actor=type(maker).objects.get(pk=maker.pk)
    )
    credit_refund_decide(
        refund=refund, approve=True, reason="ok", reference="RF-UNDO", actor=type(checker).objects.get(pk=checker.pk)
    )
    assert Loan.objects.get(pk=loan.pk).credit_balance_amount == Decimal("100.00")
    loan_write_off_undo(loan=loan, reason="mistake")
    loan.refresh_from_db()
    # The penalty of the days the write-off paused is owed now, out of the 100.00 left.
    assert loan.credit_balance_amount <= Decimal("100.00")
    assert loan.credit_balance_amount + sum(i.penalty_amount for i in Installment.objects.filter(loan=loan)) >= Decimal(
        "100.00"
    )
    assert_reconciled()


def test_a_write_off_can_be_undone_only_within_its_period(make_loan, settings):
    loan = overdue(make_loan)
    settings.CREDITOPS = {**settings.CREDITOPS, "WRITE_OFF_UNDO_DAYS": 5}
    loan_write_off(loan=loan, on=TODAY - ONE_DAY * 6)
    with pytest.raises(DomainError) as refused:
        loan_write_off_undo(loan=loan, reason="too late")
    assert refused.value.code == "write_off.undo_too_late"
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.WRITTEN_OFF


def test_restructuring_capitalises_the_arrears_into_a_new_schedule(make_loan):
    loan = overdue(make_loan)
    old = list(Installment.objects.filter(loan=loan).order_by("sequence"))
    arrears = {part: sum(getattr(i, f"{part}_amount") for i in old if i.due_date < TODAY) for part in PARTS}
    not_due = sum(i.principal_amount for i in old if i.due_date >= TODAY)
    first_due = add_months(TODAY, 1)
    done = loan_restructure(
        loan=loan, method=Restructuring.Method.CAPITALISE, term_months=24, first_due_date=first_due, reason="job lost"
    )
    assert done.principal_amount == not_due + sum(arrears.values())
    assert done.capitalised_amount == arrears["interest"] + arrears["fee"] + arrears["penalty"]
    new = list(Installment.objects.filter(loan=loan, sequence__gte=done.first_sequence).order_by("sequence"))
    assert len(new) == 24 and new[0].due_date == first_due and new[0].sequence == 13
    assert sum(i.principal_amount for i in new) == done.principal_amount
    assert all(i.outstanding_amount == 0 for i in Installment.objects.filter(loan=loan, sequence__lt=13))
    loan.refresh_from_db()
    assert (loan.restructure_count, loan.restructured_on, loan.days_past_due) == (1, TODAY, 0)
    assert loan.restructure_watch_until == add_months(TODAY, 6) and loan.maturity_date == new[-1].due_date
    assert_reconciled()
    with pytest.raises(DomainError) as refused:  # the product allows one
        loan_restructure(loan=loan, method="capitalise", term_months=12, first_due_date=first_due, reason="again")
    assert refused.value.code == "restructure.limit"


def test_restructuring_can_carry_the_arrears_to_the_last_instalment(make_loan):
    loan = overdue(make_loan)
    old = list(Installment.objects.filter(loan=loan))
    penalty = sum(i.penalty_amount for i in old)
    interest = sum(i.interest_amount for i in old if i.due_date < TODAY)
    done = loan_restructure(
        loan=loan, method="carry_to_end", term_months=6, first_due_date=TODAY + ONE_DAY * 20, reason="illness"
    )
    assert done.capitalised_amount == 0 and done.carried_amount == penalty + interest
    last = Installment.objects.filter(loan=loan).order_by("-sequence").first()
    assert last.penalty_amount == penalty
    assert PenaltyEntry.objects.get(installment=last).kind == PenaltyEntry.Kind.CARRIED
    assert sum(i.principal_amount for i in Installment.objects.filter(loan=loan, sequence__gte=13)) == (
        loan.principal_amount - sum(i.principal_paid_amount for i in old)
    )
    assert_reconciled()


def test_a_credit_balance_is_refunded_only_by_someone_else_with_the_right(loan, post):
    payment, _created = post(loan, loan_owed_amount(loan) + Decimal("80.00"), received_on=TODAY)
    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance_amount) == (Loan.Status.SETTLED, Decimal("80.00"))
    maker, checker = UserFactory(username="maker"), UserFactory(username="checker")
    with pytest.raises(DomainError) as refused:
        credit_refund_request(loan=loan, amount="80.00", reason="overpaid", actor=maker)
    assert refused.value.code == "refund.forbidden"
    maker.user_permissions.add(Permission.objects.get(codename="add_creditrefund"))
    maker = type(maker).objects.get(pk=maker.pk)
    refund = credit_refund_request(loan=loan, amount="80.00", reason="overpaid", actor=maker)
    with pytest.raises(DomainError) as own:
        credit_refund_decide(refund=refund, approve=True, reason="ok", reference="RF-1", actor=maker)
    assert own.value.code == "refund.own_request"
    with pytest.raises(DomainError):
        credit_refund_decide(refund=refund, approve=True, reason="ok", reference="RF-1", actor=checker)
    checker.user_permissions.add(Permission.objects.get(codename="decide_creditrefund"))
    checker = type(checker).objects.get(pk=checker.pk)
    credit_refund_decide(refund=refund, approve=True, reason="ok", reference="RF-1", actor=checker)
    loan.refresh_from_db()
    payment.refresh_from_db()
    assert loan.credit_balance_amount == 0 and payment.refunded_amount == Decimal("80.00")
    assert_reconciled()
    with pytest.raises(DomainError) as used:  # the money it left is refunded: reverse the refund first
        payment_reverse(payment=payment, reason="bounced", reversed_on=TODAY)
    assert used.value.code == "payment.credit_used"


def test_a_due_date_on_a_holiday_counts_from_the_next_business_day(make_loan, borrower):
    """2026-10-01 to 10-07 is National Day: an installment due on 10-01 counts as due on 10-08 (no DPD,
    no penalty before) when its product moves due dates; another product's does not."""
    moving = ProductFactory(code="MOVE", due_on_next_business_day=True)
    moved = make_loan(product=moving, disbursed_on=datetime.date(2026, 9, 1), first_due_date=datetime.date(2026, 10, 1))
    kept = make_loan(disbursed_on=datetime.date(2026, 9, 1), first_due_date=datetime.date(2026, 10, 1))
    first = Installment.objects.get(loan=moved, sequence=1)
    assert (first.due_date, first.effective_due_date) == (datetime.date(2026, 10, 1), datetime.date(2026, 10, 8))
    accrue_through(datetime.date(2026, 10, 8), first=datetime.date(2026, 10, 2))
    assert Loan.objects.get(pk=moved.pk).days_past_due == 0
    assert Loan.objects.get(pk=kept.pk).days_past_due == 7
    assert not PenaltyEntry.objects.filter(loan=moved).exists()
    accrue(datetime.date(2026, 10, 9))
    assert Loan.objects.get(pk=moved.pk).days_past_due == 1
    assert PenaltyEntry.objects.filter(loan=moved).count() == 1
