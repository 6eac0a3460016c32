"""Roll rates and vintages from the month-start positions the nightly run records, checked against the
loans' own buckets before and after."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db.models import Sum
from django.urls import reverse

from creditops.dashboards import selectors
from dunning.models import LoanMonthPosition, RollRateCell, VintagePoint
from dunning.services.run import dunning_run
from lending.models import Installment, Loan
from lending.services import loan_create, payment_post
from lending.write_off import loan_write_off
from tests.factories import BorrowerFactory, UserFactory

pytestmark = pytest.mark.django_db

APRIL, MAY, JUNE = datetime.date(2026, 4, 1), datetime.date(2026, 5, 1), datetime.date(2026, 6, 1)
DISBURSEMENTS = [
    datetime.date(2026, 1, 15),  # due 02-15: 31–60 on 04-01, 61–90 on 05-01 (rolls forward)
    datetime.date(2026, 2, 10),  # due 03-10: 1–30 on 04-01; paid up in April (cures)
    datetime.date(2026, 2, 20),  # due 03-20: 1–30 on 04-01, 31–60 on 05-01 (rolls forward)
] + [datetime.date(2026, 3, 5)] * 3  # due 04-05: current on 04-01; 1–30 on 05-01 (roll from current)


@pytest.fixture
def book(team, cn_product):
    return [
        loan_create(
            borrower=BorrowerFactory(),
            product=cn_product,
            principal_amount=Decimal("6000.00"),
            term_months=6,
            disbursed_on=disbursed_on,
            actor=None,
        )
        for disbursed_on in DISBURSEMENTS
    ]


def _bring_up_to_date(loan, on):
    owed = Installment.objects.filter(loan=loan, due_date__lte=on).aggregate(total=Sum("outstanding_amount"))
    payment_post(loan=loan, source="bank", external_ref=f"catch-up-{loan.pk}", amount=owed["total"],
                 received_on=on, channel="bank_transfer")  # fmt: skip


def test_the_first_run_of_a_month_records_positions_and_later_runs_of_it_do_not(book):
    dunning_run(as_of=APRIL)
    assert LoanMonthPosition.objects.filter(month=APRIL).count() == 6
    buckets = sorted(LoanMonthPosition.objects.values_list("aging_bucket", flat=True))
    assert buckets == sorted(loan.aging_bucket for loan in Loan.objects.all())
    dunning_run(as_of=APRIL + datetime.timedelta(days=1))
    assert LoanMonthPosition.objects.count() == 6  # not written again


def test_roll_rates_say_where_last_months_loans_went(book):
    dunning_run(as_of=APRIL)
    april_balance = dict(LoanMonthPosition.objects.values_list("loan_id", "outstanding_amount"))
    _bring_up_to_date(book[1], datetime.date(2026, 4, 20))
    dunning_run(as_of=MAY)
    cells = {
        (cell.from_bucket, cell.to_bucket): (cell.loan_count, cell.balance_amount)
        for cell in RollRateCell.objects.filter(month=APRIL)
    }
    assert cells == {
        ("31-60", "61-90"): (1, april_balance[book[0].pk]),
        ("1-30", "current"): (1, april_balance[book[1].pk]),
        ("1-30", "31-60"): (1, april_balance[book[2].pk]),
        ("current", "1-30"): (3, sum(april_balance[loan.pk] for loan in book[3:])),
    }


def test_vintage_points_count_30_plus_loans_by_months_on_book(book):
    dunning_run(as_of=APRIL)
    dunning_run(as_of=MAY)
    may = {(point.disbursed_month, point.months_on_book): point for point in VintagePoint.objects.filter(month=MAY)}
    january = may[(datetime.date(2026, 1, 1), 4)]
    assert (january.loan_count, january.loans_30_plus) == (1, 1)
    february = may[(datetime.date(2026, 2, 1), 3)]
    assert (february.loan_count, february.loans_30_plus) == (2, 2)  # DPD 52 and 42 on 05-01
    march = may[(datetime.date(2026, 3, 1), 2)]
    assert (march.loan_count, march.loans_30_plus) == (3, 0)


def test_loan_positions_older_than_last_month_are_dropped(book):
    for day in (APRIL, MAY, JUNE):
        dunning_run(as_of=day)
    assert sorted(set(LoanMonthPosition.objects.values_list("month", flat=True))) == [MAY, JUNE]
    assert sorted(set(RollRateCell.objects.values_list("month", flat=True))) == [APRIL, MAY]


def test_the_dashboard_matrix_flow_rates_and_vintages_match_the_moves(book, client):
    dunning_run(as_of=APRIL)
    april = dict(LoanMonthPosition.objects.values_list("loan_id", "outstanding_amount"))
    _bring_up_to_date(book[1], datetime.date(2026, 4, 20))
    dunning_run(as_of=MAY)
    whole = selectors.Scope()
    assert selectors.roll_rate_month(MAY + datetime.timedelta(days=3)) == APRIL
    matrix = {row["bucket"]: row for row in selectors.roll_rate_matrix(APRIL, whole)}
    cured, rolled = april[book[1].pk], april[book[2].pk]
    assert matrix["1-30"]["cured"] == cured / (cured + rolled)
    assert matrix["1-30"]["rolled_forward"] == rolled / (cured + rolled)
    assert matrix["1-30"]["stayed"] == 0
    assert (matrix["current"]["rolled_forward"], matrix["31-60"]["rolled_forward"]) == (1, 1)
    (flow,) = selectors.flow_rates(MAY + datetime.timedelta(days=3), whole)
    assert flow["month"] == APRIL
    assert flow["rates"][:3] == [1, rolled / (cured + rolled), 1]
    curves = {curve["vintage"]: dict(curve["points"]) for curve in selectors.vintage_curves(whole)}
    assert curves[datetime.date(2026, 1, 1)] == {3: 1, 4: 1}
    assert curves[datetime.date(2026, 3, 1)] == {1: 0, 2: 0}

    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    page = client.get(reverse("dashboards:dashboard"))
    assert page.status_code == 200 and page.context["roll_month"] == APRIL
    export = client.get(reverse("dashboards:dashboard"), {"export": "rollrates", "format": "csv"})
    header, *rows = export.content.decode("utf-8-sig").splitlines()
    assert header.startswith("Bucket at month start,Balance,Current (%),1–30 days (%)")
    assert len(rows) == 6


def test_a_paid_off_loan_counts_as_cured_and_a_written_off_one_as_rolled_forward(book):
    dunning_run(as_of=APRIL)
    everything = Installment.objects.filter(loan=book[1]).aggregate(total=Sum("outstanding_amount"))["total"]
    payment_post(loan=book[1], source="bank", external_ref="payoff", amount=everything,
                 received_on=datetime.date(2026, 4, 20), channel="bank_transfer")  # fmt: skip
    loan_write_off(loan=Loan.objects.get(pk=book[0].pk), on=datetime.date(2026, 4, 25))
    dunning_run(as_of=MAY)
    targets = dict(RollRateCell.objects.filter(month=APRIL).values_list("from_bucket", "to_bucket"))
    assert targets["31-60"] == "written_off"
    matrix = {row["bucket"]: row for row in selectors.roll_rate_matrix(APRIL, selectors.Scope())}
    assert matrix["31-60"]["rolled_forward"] == 1 and matrix["31-60"]["cured"] == 0
    april = dict(LoanMonthPosition.objects.filter(month=APRIL).values_list("loan_id", "outstanding_amount"))
    paid_off, rolled = april[book[1].pk], april[book[2].pk]
    assert matrix["1-30"]["cured"] == paid_off / (paid_off + rolled)
    vintages = {(p.disbursed_month.month, p.product_id): p for p in VintagePoint.objects.filter(month=MAY)}
    january, february = vintages[(1, book[0].product_id)], vintages[(2, book[0].product_id)]
    assert (january.loan_count, january.loans_30_plus) == (1, 1)  # written off: still a bad loan of its vintage
    assert (february.loan_count, february.loans_30_plus) == (2, 1)  # the paid-off loan stays in the denominator
