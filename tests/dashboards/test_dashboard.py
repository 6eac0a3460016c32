"""The dashboard against figures computed here, independently, from the loans of a hand-built book:
10 loans, 3 of them overdue in known buckets, and one cure."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEvent
from creditops.dashboards import charts, selectors
from dunning.services.run import dunning_run
from lending.models import Installment, Loan
from lending.services import loan_create, payment_post
from tests.factories import BorrowerFactory, UserFactory

pytestmark = pytest.mark.django_db

RUN_DAY = datetime.date(2026, 5, 20)
WEEK_BEFORE = RUN_DAY - datetime.timedelta(days=7)
# Disbursement date → first due date one month later → days past due on RUN_DAY with nothing paid.
DISBURSEMENTS = [
    datetime.date(2026, 1, 15),  # due 02-15: DPD 94 (91–180)
    datetime.date(2026, 3, 15),  # due 04-15: DPD 35 (31–60)
    datetime.date(2026, 4, 16),  # due 05-16: DPD 4 (1–30); current a week earlier
] + [datetime.date(2026, 5, 1)] * 7  # due 06-01: current


@pytest.fixture
def book(team, cn_product):
    return [
        loan_create(
            borrower=BorrowerFactory(),
            product=cn_product,
            principal_amount=Decimal("10000.00") + 1000 * number,
            term_months=12,
            disbursed_on=disbursed_on,
            actor=None,
        )
        for number, disbursed_on in enumerate(DISBURSEMENTS)
    ]


def independent_figures() -> dict:
    """The book as it stands, computed from loans and instalments without the snapshot."""
    loans = Loan.objects.filter(status=Loan.Status.ACTIVE)
    outstanding = {
        row["loan"]: row["total"]
        for row in Installment.objects.filter(loan__in=loans).values("loan").annotate(total=Sum("outstanding_amount"))
    }
    total = sum(outstanding.values())

    def share(predicate):
        chosen = [loan for loan in loans if predicate(loan.days_past_due)]
        return Decimal(len(chosen)) / loans.count(), sum(outstanding[loan.pk] for loan in chosen) / total

    return {
        "loans": loans.count(), "outstanding": total, "overdue": sum(loan.overdue_amount for loan in loans),
        "1": share(lambda dpd: dpd > 0), "30": share(lambda dpd: dpd > 30), "90": share(lambda dpd: dpd > 90),
    }  # fmt: skip


WHOLE_BOOK = selectors.Scope()


def figures_by_key(as_of, scope=WHOLE_BOOK):
    return {figure.key: figure for figure in selectors.headline(as_of, scope)}


def test_headline_rates_and_balances_match_an_independent_count(book):
    dunning_run(as_of=WEEK_BEFORE)
    week_before = independent_figures()
    dunning_run(as_of=RUN_DAY)
    today = independent_figures()
    assert [loan.days_past_due for loan in Loan.objects.order_by("pk")][:3] == [94, 35, 4]
    figures = figures_by_key(RUN_DAY)
    assert figures["outstanding"].value == today["outstanding"]
    assert figures["overdue"].value == today["overdue"]
    for threshold in ("1", "30", "90"):
        assert figures[f"rate_{threshold}_count"].value == today[threshold][0]
        assert figures[f"rate_{threshold}_balance"].value == today[threshold][1]
    assert (today["1"][0], today["30"][0], today["90"][0]) == (Decimal("0.3"), Decimal("0.2"), Decimal("0.1"))
    # A week earlier the third loan was not yet due: the 1+ rate rose by one loan in ten.
    assert figures["rate_1_count"].change_7 == today["1"][0] - week_before["1"][0] == Decimal("0.1")
    assert figures["rate_1_count"].change_30 is None  # no snapshot 30 days before
    assert figures["new_delinquencies"].value == 1 and figures["new_delinquencies"].change_7 == -1


def test_a_cure_is_counted_and_leaves_the_buckets(book):
    dunning_run(as_of=RUN_DAY)
    late = book[2]
    payment_post(loan=late, source="bank", external_ref="cure-1", amount=late.installments.get(sequence=1)
                 .outstanding_amount, received_on=RUN_DAY, channel="bank_transfer")  # fmt: skip
    next_day = RUN_DAY + datetime.timedelta(days=1)
    dunning_run(as_of=next_day)
    figures = figures_by_key(next_day)
    assert figures["cures"].value == 1
    assert figures["rate_1_count"].value == Decimal("0.2") == independent_figures()["1"][0]
    buckets = {row["bucket"]: row["loans"] for row in selectors.bucket_distribution(next_day, WHOLE_BOOK)}
    assert buckets == {"current": 8, "1-30": 0, "31-60": 1, "61-90": 0, "91-180": 1, "180+": 0}


def test_a_product_filter_shows_only_its_loans_and_no_whole_book_flows(book, cn_product):
    dunning_run(as_of=RUN_DAY)
    other = selectors.Scope(product_id=cn_product.pk + 1000)
    assert selectors.book_figures(RUN_DAY, other) is None
    figures = figures_by_key(RUN_DAY, selectors.Scope(product_id=cn_product.pk))
    assert figures["rate_30_count"].value == Decimal("0.2")
    assert figures["new_delinquencies"].value is None  # run flows are for the whole book


def test_the_page_is_for_managers_compliance_and_administrators(client, book, collector):
    dunning_run(as_of=RUN_DAY)
    client.force_login(collector)
    assert client.get(reverse("dashboards:dashboard")).status_code == 403
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    page = client.get(reverse("dashboards:dashboard"))
    assert page.status_code == 200
    assert page.context["as_of"] == RUN_DAY
    assert "<svg" in page.content.decode() and "30.00 %" in page.content.decode()


def test_a_table_exports_as_csv_and_the_export_is_audited(client, book):
    dunning_run(as_of=RUN_DAY)
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    response = client.get(reverse("dashboards:dashboard"), {"export": "buckets", "format": "csv"})
    lines = response.content.decode("utf-8-sig").splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0] == "Bucket,Loans,Loans (%),Outstanding,Outstanding (%)"
    rows = [line.split(",") for line in lines[1:]]
    assert [row[:2] for row in rows] == [
        ["Current", "7"], ["1–30 days", "1"], ["31–60 days", "1"], ["61–90 days", "0"], ["91–180 days", "1"],
        ["180+ days", "0"],
    ]  # fmt: skip
    assert rows[0][2] == "70.00"  # 7 of 10 loans, rounded as the page shows it (not 0.7000000…)
    chinese = client.get(reverse("dashboards:dashboard"), {"export": "buckets", "format": "csv"},
                         HTTP_ACCEPT_LANGUAGE="zh-hans")  # fmt: skip
    assert chinese.content.decode("utf-8-sig").splitlines()[0].startswith("账龄分组,")
    assert all(len(row[3].partition(".")[2]) == 2 for row in rows)  # money to the cent
    event = AuditEvent.objects.filter(event="dashboard.exported").first()
    assert (event.actor, event.detail["table"]) == (manager, "buckets")


def test_a_table_exports_as_xlsx_with_numbers_as_numbers(client, book):
    dunning_run(as_of=RUN_DAY)
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    response = client.get(reverse("dashboards:dashboard"), {"export": "buckets", "format": "xlsx"})
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Bucket", "Loans", "Loans (%)", "Outstanding", "Outstanding (%)")
    assert rows[1][:3] == ("Current", 7, 70)
    assert AuditEvent.objects.get(event="dashboard.exported").detail["filters"] == {"format": "xlsx"}


def test_a_date_without_a_snapshot_says_so_and_shows_no_figures(client, book):
    dunning_run(as_of=RUN_DAY)
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    page = client.get(reverse("dashboards:dashboard"), {"as_of": "2026-05-10"})
    assert page.status_code == 200 and page.context["has_snapshot"] is False
    assert "No nightly run wrote a snapshot for 2026-05-10" in page.content.decode()
    assert {figure.key: figure.value for figure in page.context["headline"]}["outstanding"] is None


def test_the_page_needs_a_bounded_number_of_queries_however_much_history(client, book):
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    counts = []
    for day in (WEEK_BEFORE, RUN_DAY - datetime.timedelta(days=1), RUN_DAY):
        dunning_run(as_of=day)
        client.get(reverse("dashboards:dashboard"))  # counts the finished days once
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("dashboards:dashboard")).status_code == 200
        counts.append(len(queries))
    # Three days compared (the day, 7 and 30 days before) at most, each a fixed set of grouped queries.
    assert max(counts) <= 55, counts


def test_the_period_filter_sets_the_trend_and_activity_window(client, book):
    dunning_run(as_of=WEEK_BEFORE)
    dunning_run(as_of=RUN_DAY)
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    default = client.get(reverse("dashboards:dashboard"))
    assert [row["day"] for row in default.context["trend"]] == [WEEK_BEFORE, RUN_DAY]
    assert default.context["period_start"] == RUN_DAY - datetime.timedelta(days=29)
    narrowed = client.get(reverse("dashboards:dashboard"), {"date_from": "2026-05-17"})
    assert [row["day"] for row in narrowed.context["trend"]] == [RUN_DAY]
    assert narrowed.context["period_start"] == datetime.date(2026, 5, 17)
    assert "Trend, 2026-05-17 to 2026-05-20" in narrowed.content.decode()


def test_trend_points_are_placed_by_date_and_single_points_still_show():
    days = [datetime.date(2026, 4, 1), datetime.date(2026, 4, 30), datetime.date(2026, 5, 1)]
    chart = charts.line_chart([(day, 10) for day in days])
    xs = [x for x, _y in chart["lines"][0]["dots"]]
    assert (xs[1] - xs[0]) / (xs[2] - xs[0]) == pytest.approx(29 / 30, abs=0.01)
    single = charts.lines_chart([("2026-04", [(0, Decimal("0.5"))])])
    assert len(single["lines"][0]["dots"]) == 1


@pytest.mark.parametrize("query", [
    {"as_of": "0001-01-05"}, {"as_of": "9999-12-31"}, {"date_from": "2026-06-01", "as_of": "2026-05-20"},
    {"product": "999999"}, {"team": "abc"}, {"as_of": "garbage"},
])  # fmt: skip
def test_bad_filters_never_fail_and_an_export_with_them_is_refused(client, book, query):
    dunning_run(as_of=RUN_DAY)
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    assert client.get(reverse("dashboards:dashboard"), query).status_code == 200
    export = client.get(reverse("dashboards:dashboard"), {**query, "export": "buckets", "format": "csv"})
    assert export.status_code == 400
    assert not AuditEvent.objects.filter(event="dashboard.exported").exists()


@pytest.mark.parametrize("month", ["2026-13", "9999-12", "1999-12", "2099-01"])
def test_a_report_for_an_impossible_month_is_refused(client, book, month):
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))
    client.force_login(manager)
    assert client.get(reverse("dashboards:report"), {"month": month}).status_code == 400


def test_axes_have_round_ticks_printed_as_the_tables_print_them():
    days = [datetime.date(2026, 4, 1) + datetime.timedelta(days=n) for n in range(31)]
    money = charts.line_chart([(day, Decimal("174069869.00")) for day in days], currency="CNY")
    assert [tick["label"] for tick in money["y_ticks"]] == [
        "0.00 CNY", "50,000,000.00 CNY", "100,000,000.00 CNY", "150,000,000.00 CNY", "200,000,000.00 CNY"
    ]  # fmt: skip
    assert [tick["label"] for tick in money["x_ticks"]] == ["2026-04-01", "2026-04-16", "2026-05-01"]
    rate = charts.line_chart([(days[0], Decimal("0.1458733205")), (days[1], Decimal("0.12"))], kind=charts.PERCENT)
    assert [tick["label"] for tick in rate["y_ticks"]] == ["0 %", "5 %", "10 %", "15 %", "20 %"]


def test_vintage_curves_are_lines_with_a_legend_and_months_on_book():
    curves = [
        {
            "vintage": datetime.date(2026, 3, 1),
            "points": [(0, Decimal("0")), (1, Decimal("0.02")), (2, Decimal("0.05"))],
        },
        {"vintage": datetime.date(2026, 4, 1), "points": [(0, Decimal("0")), (1, Decimal("0.03"))]},
    ]
    chart = charts.vintage_chart(curves)
    assert [item["label"] for item in chart["legend"]] == ["2026-03", "2026-04"]
    assert [len(line["dots"]) for line in chart["lines"]] == [3, 2]
    assert all(line["polyline"].count(",") == len(line["dots"]) for line in chart["lines"])
    assert [tick["label"] for tick in chart["x_ticks"]] == ["0", "1", "2"]
    assert chart["x_caption"] == "months on book"


def test_a_year_of_vintages_gets_twelve_colours_and_a_legend_that_wraps_inside_the_chart():
    curves = [
        {"vintage": datetime.date(2026, month, 1), "points": [(0, Decimal("0")), (1, Decimal("0.01"))]}
        for month in range(1, 13)
    ]
    chart = charts.vintage_chart(curves)
    assert len({line["color"] for line in chart["lines"]}) == 12
    assert all(item["x"] + charts.LEGEND_SPACING <= chart["width"] for item in chart["legend"])
    assert max(item["y"] for item in chart["legend"]) < chart["height"]


def test_the_roll_rate_columns_have_distinct_names_in_chinese_and_rates_change_in_percentage_points():
    from creditops.dashboards.templatetags.dashboards import change

    with translation.override("zh-hans"):
        labels = selectors.roll_target_labels()
        assert len(set(labels)) == len(labels)
        assert change(Decimal("0.0052"), "rate") == "+0.52 个百分点"
