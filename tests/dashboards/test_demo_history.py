"""`seed_demo --history-days N` gives the first look a past: the book as it stood N days ago, then every later
day's payments posted through the ledger and the nightly run of that day, so the dashboard's trend, roll
rates, vintages and activity have content, and the monthly report of last month has a snapshot."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.db.models import Sum

from creditops.dashboards.models import DailyActivity
from creditops.dashboards.report import report_context
from dunning.models import DunningAction, DunningRun, MonthStart, PortfolioSnapshot, RollRateCell, VintagePoint
from lending.models import Loan, PenaltyEntry
from tests.lending.test_seed_and_reconcile import AS_OF, fingerprint, reconcile, seed

pytestmark = pytest.mark.django_db(transaction=True)

HISTORY_DAYS = 70  # from 2026-09-19: the month starts of September (its first run), October and November


def test_the_history_posts_the_same_payments_day_by_day_and_leaves_a_run_for_every_day():
    seed()
    plain = fingerprint()
    call_command("flush", "--noinput", stdout=io.StringIO())

    output = seed(history_days=HISTORY_DAYS)
    assert f"history: {HISTORY_DAYS + 1} nightly runs from 2026-09-19 to {AS_OF}" in output
    # The same loans and the same payments, only posted in their time. Their late days now charged
    # penalty, which the generator's payments did not plan for: a loan paid off late may still owe it.
    assert [row[:-1] for row in fingerprint()] == [row[:-1] for row in plain]
    assert PenaltyEntry.objects.filter(kind=PenaltyEntry.Kind.ACCRUAL).count() > 1000
    # A loan settled without the history but not with it owes no more than the penalty it was charged
    # (the waterfall paid that penalty first, so what is left may sit in any part).
    changed = [new for new, old in zip(fingerprint(), plain, strict=True) if new[-1] != old[-1]]
    for id_number, _name, product, principal, disbursed_on, *_rest in changed:
        loan = Loan.objects.get(
            borrower__id_number=id_number, product__code=product, principal_amount=principal, disbursed_on=disbursed_on
        )
        owed = sum(item.outstanding_amount for item in loan.installments.all())
        assert 0 < owed <= loan.penalty_accrued_amount, loan.reference
    checks = reconcile().splitlines()
    assert checks and all(line.startswith("ok ") for line in checks)  # the ledger adds up

    start = AS_OF - datetime.timedelta(days=HISTORY_DAYS)
    runs = DunningRun.objects.filter(status=DunningRun.Status.SUCCEEDED)
    assert list(runs.order_by("as_of").values_list("as_of", flat=True)) == [
        start + datetime.timedelta(days=offset) for offset in range(HISTORY_DAYS + 1)
    ]
    assert PortfolioSnapshot.objects.values("as_of").distinct().count() == HISTORY_DAYS + 1
    # The days before today caught up to today: their stages' work is superseded, today's is to do.
    assert not DunningAction.objects.filter(created_on__lt=AS_OF, status=DunningAction.Status.PENDING).exists()
    assert DunningAction.objects.filter(created_on=AS_OF).exclude(status=DunningAction.Status.SUPERSEDED).exists()


def test_the_dashboard_panels_and_last_months_report_have_content():
    seed(history_days=HISTORY_DAYS)
    assert list(MonthStart.objects.order_by("month").values_list("month", flat=True)) == [
        datetime.date(2026, 9, 1), datetime.date(2026, 10, 1), datetime.date(2026, 11, 1)
    ]  # fmt: skip
    assert set(RollRateCell.objects.values_list("month", flat=True)) == {
        datetime.date(2026, 9, 1), datetime.date(2026, 10, 1)
    }  # fmt: skip
    points_per_vintage = VintagePoint.objects.values("disbursed_month").annotate(points=Sum(1))
    assert max(row["points"] for row in points_per_vintage) >= 3  # a line, not a dot
    collected = DailyActivity.objects.filter(as_of__lt=AS_OF).aggregate(total=Sum("amount_collected"))["total"]
    assert collected > 0
    october = report_context(datetime.date(2026, 10, 1))
    assert october["as_of"] == datetime.date(2026, 10, 31)
    assert october["has_roll_rates"]
