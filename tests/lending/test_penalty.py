"""Penalty interest: the nightly accrual's rule, its idempotence, pauses and cap, and what a payment that
arrived earlier than it was posted does to days already charged."""

import datetime
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Sum

from lending.delinquency import delinquency_refresh
from lending.imports.files import read_rows
from lending.imports.payments import COLUMNS, payments_import
from lending.models import GraceRule, Installment, Loan, PenaltyBase, PenaltyEntry, PenaltyPause
from lending.penalties import penalty_accrue
from lending.selectors import ledger_mismatches, loan_penalty
from lending.services import payment_post, payment_reverse
from lending.write_off import loan_write_off
from tests.factories import ProductFactory

from .conftest import next_ref
from .test_import_files import write_csv

DUE = datetime.date(2026, 2, 15)
ONE_DAY = datetime.timedelta(days=1)


def days_after(start: datetime.date, count: int):
    return [start + ONE_DAY * offset for offset in range(1, count + 1)]


def accrue(day: datetime.date, **kwargs):
    """What the nightly run does for the penalty: the day's delinquency refresh, then the accrual."""
    delinquency_refresh(as_of=day)
    penalty_accrue(day=day, **kwargs)


def accrue_through(last: datetime.date, first: datetime.date = DUE + ONE_DAY, **kwargs):
    day = first
    while day <= last:
        accrue(day, **kwargs)
        day += ONE_DAY


def first_installment(loan) -> Installment:
    return Installment.objects.get(loan=loan, sequence=1)


def entries_total(**filters) -> Decimal:
    return PenaltyEntry.objects.filter(**filters).aggregate(total=Sum("amount"))["total"] or Decimal("0.00")


@pytest.fixture
def one_month_loan(make_loan):
    """990.07 lent for one month, due 2026-02-15, 0.05 % a day on overdue principal, no grace."""
    return make_loan(principal_amount=Decimal("990.07"), term_months=1)


def test_reference_value_990_07_for_35_days_is_17_33(one_month_loan):
    accrue_through(DUE + ONE_DAY * 35)
    item = first_installment(one_month_loan)
    assert item.principal_amount == Decimal("990.07")
    assert item.penalty_exact_amount == Decimal("17.32622500")
    assert item.penalty_amount == Decimal("17.33")
    assert entries_total(installment=item) == Decimal("17.33")
    assert PenaltyEntry.objects.filter(installment=item).count() == 35
    first = PenaltyEntry.objects.filter(installment=item).order_by("accrued_on").first()
    assert (first.accrued_on, first.base_amount, first.daily_rate, first.exact_amount) == (
        DUE + ONE_DAY, Decimal("990.07"), Decimal("0.000500"), Decimal("0.49503500"),
    )  # fmt: skip
    assert Loan.objects.get(pk=one_month_loan.pk).penalty_accrued_amount == Decimal("17.33")
    assert not any(ledger_mismatches().values())


def test_a_day_run_twice_adds_nothing_and_nothing_is_charged_before_or_on_the_due_date(one_month_loan):
    accrue(DUE)
    assert PenaltyEntry.objects.count() == 0
    accrue(DUE + ONE_DAY)
    accrue(DUE + ONE_DAY)
    assert PenaltyEntry.objects.count() == 1
    assert first_installment(one_month_loan).penalty_amount == Decimal("0.50")  # 0.495035 rounded


def test_a_missed_day_is_charged_when_it_is_run(one_month_loan):
    accrue(DUE + ONE_DAY)
    accrue(DUE + ONE_DAY * 3)  # the 17th was missed …
    accrue(DUE + ONE_DAY * 2)  # … and is not charged by running it late: the 18th ran already
    assert PenaltyEntry.objects.count() == 2


@pytest.mark.parametrize(
    ("rule", "first_charged_day", "first_days"),
    [(GraceRule.FREE, DUE + ONE_DAY * 4, 1), (GraceRule.CHARGED_BACK, DUE + ONE_DAY * 4, 4)],
)
def test_grace_days_free_or_charged_back(make_loan, borrower, rule, first_charged_day, first_days):
    product = ProductFactory(code=f"GR-{rule}", grace_days=3, penalty_grace_rule=rule)
    loan = make_loan(product=product, principal_amount=Decimal("1000.00"), term_months=1)
    accrue_through(DUE + ONE_DAY * 5)
    entries = list(PenaltyEntry.objects.filter(loan=loan).order_by("accrued_on"))
    assert [(entry.accrued_on, entry.days) for entry in entries] == [
        (first_charged_day, first_days),
        (DUE + ONE_DAY * 5, 1),
    ]
    assert first_installment(loan).penalty_amount == Decimal("0.50") * (first_days + 1)


@pytest.mark.parametrize(
    ("base", "compounds", "expected_first_base"),
    [
        (PenaltyBase.PRINCIPAL, False, "principal"),
        (PenaltyBase.PRINCIPAL_INTEREST, False, "principal+interest"),
        (PenaltyBase.ALL_OVERDUE, False, "principal+interest+fee"),
    ],
)
def test_the_base_is_what_the_terms_name(make_loan, base, compounds, expected_first_base):
    product = ProductFactory(code=f"B-{base}", penalty_base=base, monthly_fee_rate=Decimal("0.005"))
    loan = make_loan(product=product, principal_amount=Decimal("1000.00"), term_months=1)
    accrue(DUE + ONE_DAY)
    item = first_installment(loan)
    parts = {"principal": item.principal_amount, "interest": item.interest_amount, "fee": item.fee_amount}
    expected = sum(parts[name] for name in expected_first_base.split("+"))
    assert PenaltyEntry.objects.get(installment=item).base_amount == expected


def test_compounding_adds_the_unpaid_penalty_to_the_base(make_loan):
    product = ProductFactory(code="COMP", penalty_compounds=True, penalty_daily_rate=Decimal("0.001"))
    loan = make_loan(product=product, principal_amount=Decimal("1000.00"), term_months=1)
    accrue_through(DUE + ONE_DAY * 2)
    bases = list(PenaltyEntry.objects.filter(loan=loan).order_by("accrued_on").values_list("base_amount", flat=True))
    assert bases == [Decimal("1000.00"), Decimal("1001.00")]


def test_loans_keep_the_terms_they_were_booked_with(make_loan, product):
    loan = make_loan(principal_amount=Decimal("1000.00"), term_months=1)
    product.penalty_daily_rate, product.grace_days = Decimal("0.001"), 5
    product.save()
    assert product.penalty_terms_version == 2
    assert list(product.penalty_versions.values_list("version", "penalty_daily_rate", "grace_days")) == [
        (2, Decimal("0.001000"), 5), (1, Decimal("0.000500"), 0),
    ]  # fmt: skip
    accrue(DUE + ONE_DAY)  # no grace for the loan booked before: charged on its first day late
    assert PenaltyEntry.objects.get(loan=loan).daily_rate == Decimal("0.000500")
    newer = make_loan(principal_amount=Decimal("1000.00"), term_months=1)
    assert (newer.penalty_daily_rate, newer.grace_days, newer.penalty_terms_version) == (Decimal("0.001000"), 5, 2)


def test_a_plan_or_dispute_pauses_accrual_where_the_terms_say_so(one_month_loan, make_loan):
    kept_running = make_loan(
        product=ProductFactory(code="NOPAUSE", penalty_pause_in_dispute=False),
        principal_amount=Decimal("1000.00"), term_months=1,
    )  # fmt: skip
    disputed = Loan.objects.filter(pk__in=[one_month_loan.pk, kept_running.pk]).values("pk")
    accrue_through(DUE + ONE_DAY * 3, paused_loans={PenaltyPause.Reason.DISPUTE: disputed})
    accrue_through(
        DUE + ONE_DAY * 5,
        first=DUE + ONE_DAY * 4,
        paused_loans={PenaltyPause.Reason.DISPUTE: Loan.objects.none().values("pk")},
    )
    assert PenaltyEntry.objects.filter(loan=one_month_loan).count() == 2  # the 20th and 21st
    assert PenaltyEntry.objects.filter(loan=kept_running).count() == 5
    pause = PenaltyPause.objects.get(loan=one_month_loan)
    assert (pause.reason, pause.started_on, pause.ended_on) == ("dispute", DUE + ONE_DAY, DUE + ONE_DAY * 4)


def test_a_written_off_loan_accrues_nothing(one_month_loan):
    accrue(DUE + ONE_DAY)
    loan_write_off(loan=one_month_loan, on=DUE + ONE_DAY * 2)
    accrue_through(DUE + ONE_DAY * 5, first=DUE + ONE_DAY * 2)
    assert PenaltyEntry.objects.filter(loan=one_month_loan).count() == 1
    assert PenaltyPause.objects.get(loan=one_month_loan).reason == PenaltyPause.Reason.WRITTEN_OFF


def test_accrual_stops_at_the_cost_cap_and_the_loan_records_why(make_loan):
    # 1 % a day on 1,000.00 and a 24 % cap: interest 10.00 + penalty may reach 1000 × 24 % × days / 365.
    product = ProductFactory(code="CAP", penalty_daily_rate=Decimal("0.01"))
    loan = make_loan(product=product, principal_amount=Decimal("1000.00"), term_months=1)
    accrue_through(DUE + ONE_DAY * 60)
    loan.refresh_from_db()
    pause = PenaltyPause.objects.get(loan=loan, reason=PenaltyPause.Reason.COST_CAP)
    charged_days = PenaltyEntry.objects.filter(loan=loan).count()
    assert loan.contract_cost_amount == Decimal("10.00")
    # Day k (k days after the due date, 31 + k after disbursement) is charged while 10 + 10k <= 240 × (31 + k) / 365.
    last_allowed = max(k for k in range(1, 61) if Decimal(10 + 10 * k) <= Decimal(240) * (31 + k) / 365)
    assert charged_days == last_allowed
    assert pause.started_on == DUE + ONE_DAY * (last_allowed + 1)
    assert loan.contract_cost_amount + loan.penalty_accrued_amount <= Decimal(240) * (31 + last_allowed) / 365


def test_a_late_posted_payment_takes_back_the_days_after_it_arrived(one_month_loan):
    accrue_through(DUE + ONE_DAY * 10)
    item = first_installment(one_month_loan)
    assert item.penalty_amount == Decimal("4.95")
    # A day is charged on the balance at its start: money received on day 4 meets four days' penalty
    # (4 × 0.495035 = 1.98014 → 1.98), and pays everything.
    owed_on_day_4 = item.principal_amount + item.interest_amount + Decimal("1.98")
    payment, created = payment_post(
        loan=one_month_loan, source="bank", external_ref=next_ref(), amount=owed_on_day_4,
        received_on=DUE + ONE_DAY * 4, channel="bank_transfer",
    )  # fmt: skip
    item.refresh_from_db()
    assert created and payment.unallocated_amount == Decimal("0.00")
    assert item.penalty_amount == Decimal("1.98")
    assert item.outstanding_amount == Decimal("0.00")
    removals = PenaltyEntry.objects.filter(loan=one_month_loan, kind=PenaltyEntry.Kind.REMOVAL)
    assert sorted(removals.values_list("accrued_on", flat=True)) == days_after(DUE + ONE_DAY * 4, 6)
    assert all(entry.cause_payment_id == payment.pk for entry in removals)
    assert entries_total(installment=item) == item.penalty_amount
    assert Loan.objects.get(pk=one_month_loan.pk).status == Loan.Status.SETTLED
    # What the case shows reads the loan's accruals and its removals (two indexes, PenaltyEntry.by_loan).
    shown = loan_penalty(one_month_loan)
    assert (shown["charged"], shown["removed"]) == (Decimal("1.98"), Decimal("2.97"))
    assert Counter(entry.kind for entry in shown["entries"]) == {"accrual": 10, "removal": 6}
    assert not any(ledger_mismatches().values())


def test_a_partial_late_payment_re_charges_the_rest_and_its_reversal_restores_the_penalty(one_month_loan):
    accrue_through(DUE + ONE_DAY * 10)
    before = first_installment(one_month_loan)
    # Received on day 2: two days' penalty (0.99) and the interest first (the waterfall), then 500.00 principal.
    payment, _created = payment_post(
        loan=one_month_loan, source="bank", external_ref=next_ref(),
        amount=Decimal("500.00") + before.interest_amount + Decimal("0.99"), received_on=DUE + ONE_DAY * 2,
        channel="bank_transfer",
    )  # fmt: skip
    item = first_installment(one_month_loan)
    # Days 1–2 on 990.07 (0.99007), days 3–10 on 490.07 (8 × 0.245035 = 1.96028): 2.95035.
    assert item.penalty_exact_amount == Decimal("2.95035000")
    assert item.penalty_amount == Decimal("2.95")
    assert item.principal_paid_amount == Decimal("500.00")
    payment_reverse(payment=payment, reason="bounced", reversed_on=DUE + ONE_DAY * 10)
    item.refresh_from_db()
    assert item.penalty_amount == before.penalty_amount == Decimal("4.95")
    assert item.penalty_exact_amount == before.penalty_exact_amount
    assert item.paid_amount == Decimal("0.00")
    assert entries_total(installment=item) == item.penalty_amount
    assert not any(ledger_mismatches().values())


def test_a_day_is_charged_on_its_opening_balance_even_when_its_money_was_posted_first(one_month_loan):
    """Day 2's money (interest + 490.07) is posted before the runs of days 1–3 (a catch-up): days 1 and 2
    are charged on the full principal, day 3 on what the payment left (it paid two days' penalty, 0.99,
    and the interest first, then 489.08 of principal)."""
    item = first_installment(one_month_loan)
    payment_post(
        loan=one_month_loan, source="bank", external_ref=next_ref(), amount=item.interest_amount + Decimal("490.07"),
        received_on=DUE + ONE_DAY * 2, channel="bank_transfer",
    )  # fmt: skip
    accrue_through(DUE + ONE_DAY * 3)
    live = PenaltyEntry.objects.filter(loan=one_month_loan, kind="accrual", removals__isnull=True)
    bases = list(live.order_by("accrued_on").values_list("accrued_on", "base_amount"))
    assert bases == [
        (DUE + ONE_DAY, Decimal("990.07")),
        (DUE + ONE_DAY * 2, Decimal("990.07")),
        (DUE + ONE_DAY * 3, Decimal("500.99")),
    ]
    assert first_installment(one_month_loan).penalty_paid_amount == Decimal("0.99")
    assert not any(ledger_mismatches().values())


def test_a_late_bank_file_takes_back_the_penalty_its_payments_prevented(one_month_loan, make_loan, tmp_path):
    """The file of day 4 arrives after day 10 was charged: the loan it pays in full is charged days 1–4 only;
    a loan it does not mention keeps its ten days."""
    untouched = make_loan(principal_amount=Decimal("990.07"), term_months=1)
    accrue_through(DUE + ONE_DAY * 10)
    item = first_installment(one_month_loan)
    owed_on_day_4 = item.principal_amount + item.interest_amount + Decimal("1.98")
    path = write_csv(
        tmp_path / "bank.csv",
        [["loan_reference", "external_ref", "amount", "received_on"],
         [one_month_loan.reference, "BANK-4", str(owed_on_day_4), (DUE + ONE_DAY * 4).isoformat()]],
    )  # fmt: skip
    with path.open("rb") as opened:
        rows = read_rows(opened, name=path.name, columns=COLUMNS)
    report = payments_import(rows=rows, source="bank_file", actor=None, dry_run=False, file_name=path.name)
    assert report.ok and report.created == 1
    item.refresh_from_db()
    assert (item.penalty_amount, item.outstanding_amount) == (Decimal("1.98"), Decimal("0.00"))
    assert PenaltyEntry.objects.filter(loan=one_month_loan, kind=PenaltyEntry.Kind.REMOVAL).count() == 6
    assert first_installment(untouched).penalty_amount == Decimal("4.95")
    assert Loan.objects.get(pk=one_month_loan.pk).status == Loan.Status.SETTLED
    assert not any(ledger_mismatches().values())
