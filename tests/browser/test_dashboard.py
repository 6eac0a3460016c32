"""The managers' dashboard in a real browser: a book run through April into May by the real nightly run,
a collector's day of work, then a manager who opens the dashboard from the header, exports a table as CSV
and asks for the monthly report of April."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db.models import Sum
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from accounts.models import AuditEvent
from creditops.core.money import format_money
from dunning.models import CollectionCase, LoanMonthPosition
from dunning.services.cases import contact_attempt_log, promise_record
from dunning.services.run import dunning_run
from lending.models import Installment, Loan
from lending.services import loan_create, payment_post
from tests.factories import BorrowerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

APRIL, APRIL_END, MAY = datetime.date(2026, 4, 1), datetime.date(2026, 4, 30), datetime.date(2026, 5, 1)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Booked before the April run (6,000 over 6 months), first due one month after disbursement:
BOOKED_BEFORE_APRIL = [
    datetime.date(2026, 1, 15),  # due 02-15: 31–60 on 04-01, 61–90 on 05-01 (rolls forward; worked on 04-30)
    datetime.date(2026, 2, 10),  # due 03-10: 1–30 on 04-01, brought up to date on 04-20 (cures)
    datetime.date(2026, 2, 20),  # due 03-20: 1–30 on 04-01, 31–60 on 05-01 (rolls forward)
] + [datetime.date(2026, 3, 5)] * 3  # due 04-05: current on 04-01, 1–30 on 05-01
BOOKED_IN_APRIL = [datetime.date(2026, 4, 10)] * 2  # due 05-10: current on 05-01


def book(cn_product, disbursements) -> list[Loan]:
    return [
        loan_create(borrower=BorrowerFactory(time_zone="Asia/Shanghai"), product=cn_product,
                    principal_amount=Decimal("6000.00"), term_months=6, disbursed_on=disbursed_on, actor=None)
        for disbursed_on in disbursements
    ]  # fmt: skip


def table_rows(portal, css: str) -> list[list[str]]:
    rows = portal.find(css).find_elements(By.CSS_SELECTOR, "tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_a_manager_reads_the_dashboard_exports_a_table_and_downloads_the_monthly_report(portal, team, cn_product):
    late, cured, rolling, *_due_in_april = book(cn_product, BOOKED_BEFORE_APRIL)
    dunning_run(as_of=APRIL)
    april_balances = dict(LoanMonthPosition.objects.filter(month=APRIL).values_list("loan_id", "outstanding_amount"))
    book(cn_product, BOOKED_IN_APRIL)
    cured_case = CollectionCase.objects.get(loan=cured, is_open=True)
    paid_on = datetime.date(2026, 4, 20)
    owed = Installment.objects.filter(loan=cured, due_date__lte=paid_on).aggregate(total=Sum("outstanding_amount"))
    catch_up, _created = payment_post(loan=cured, source="bank", external_ref="catch-up-1", amount=owed["total"],
                                      received_on=paid_on, channel="bank_transfer")  # fmt: skip
    dunning_run(as_of=APRIL_END)
    # A collector's morning on 04-30: a call that reached the borrower, who promised to pay.
    case = CollectionCase.objects.get(loan=late, is_open=True)
    worker = case.assigned_to
    morning = datetime.datetime.combine(APRIL_END, datetime.time(10), tzinfo=SHANGHAI)
    contact_attempt_log(case=case, channel="call", outcome="reached", actor=worker, at=morning)
    promise_record(case=case, amount=Decimal("500.00"), promised_for=datetime.date(2026, 5, 6), actor=worker,
                   made_on=APRIL_END)  # fmt: skip
    dunning_run(as_of=MAY)
    outstanding = Installment.objects.filter(loan__status=Loan.Status.ACTIVE).aggregate(
        total=Sum("outstanding_amount")
    )["total"]
    manager = UserFactory(username="boss")
    manager.groups.add(Group.objects.get(name="Manager"))

    portal.log_in(manager)
    portal.console_errors()  # empty the log: only the dashboard counts
    portal.submit(portal.find("header nav").find_element(By.LINK_TEXT, "Dashboard"))
    assert portal.driver.current_url == portal.base_url + "/dashboard/"
    assert portal.find("header nav a[aria-current=page]").text == "Dashboard"
    assert portal.visible("h1").text == "Portfolio dashboard · 2026-05-01"  # the latest snapshot

    # Headline: 8 active loans on 05-01, 2 of them past 30 days, 5 past due at all.
    headline = {row[0]: row[1:] for row in table_rows(portal, "table#headline")}
    assert len(headline) == 24  # penalty charged and collected, and the six ledger-entry figures
    # The ledger-entry figures name their period (the 30 days ending on the snapshot); nothing was waived.
    assert headline["Penalty waived, 2026-04-02 to 2026-05-01"][0] == "0.00 CNY"
    assert headline["Outstanding balance"][0] == format_money(outstanding)
    assert headline["30+ DPD rate (loans)"][0] == "25.00 %"
    assert headline["1+ DPD rate (loans)"][0] == "62.50 %"
    assert headline["Promises made"][0] == "0"  # on 05-01 itself; the promise was made the day before
    # The bucket chart is drawn inline, one bar per bucket, next to its table.
    buckets = portal.find("section[aria-labelledby=buckets-heading]")
    chart = portal.find("svg.chart", buckets)
    assert chart.is_displayed() and chart.get_attribute("role") == "img"
    assert len(portal.find_all("rect.bar", chart)) == 6
    assert [row[:2] for row in table_rows(portal, "table#buckets")] == [
        ["Current", "3"], ["1–30 days", "3"], ["31–60 days", "1"], ["61–90 days", "1"], ["91–180 days", "0"],
        ["180+ days", "0"],
    ]  # fmt: skip

    # Roll rates of April: where the balance of each bucket on 04-01 stood on 05-01.
    assert portal.find("#roll-heading").text.startswith("Roll rates · 2026-04")
    roll = {row[0]: row for row in table_rows(portal, "table#rollrates")}
    assert len(roll) == 6
    assert roll["Current"][-1] == "100.00 %"  # all three current loans rolled forward
    assert roll["31–60 days"][-1] == "100.00 %"
    cured_share = april_balances[cured.pk] / (april_balances[cured.pk] + april_balances[rolling.pk])
    assert roll["1–30 days"][-3:] == [f"{cured_share * 100:.2f} %", "0.00 %", f"{(1 - cured_share) * 100:.2f} %"]
    # Vintages: 30+ DPD rate of loans by months on book, at each month start.
    assert dict(table_rows(portal, "table#vintages")) == {
        "2026-01": "3: 100.00 % · 4: 100.00 %",
        "2026-02": "2: 0.00 % · 3: 50.00 %",  # on 05-01 one of the two is 42 days late, the other cured
        "2026-03": "1: 0.00 % · 2: 0.00 %",
        "2026-04": "1: 0.00 %",
    }
    # The last 30 days: the collector's work of 04-30, and the catch-up payment of 04-20 credited to the
    # collector whose case it was.
    performance = {row[0]: row[1:] for row in table_rows(portal, "table#performance")}
    assert set(performance) == {worker.username, cured_case.assigned_to.username}
    assert performance[worker.username][:4] == ["1", "1", "1", "1"]  # cases, contacts, right-party, promises
    assert performance[cured_case.assigned_to.username][5] == format_money(catch_up.amount)
    assert portal.console_errors() == []  # the charts and tables render under the CSP without errors

    # The CSV link of the buckets table, with this session.
    link = buckets.find_element(By.XPATH, ".//h2//a[normalize-space()='CSV']")
    status, content_type, body = portal.download(link.get_attribute("href"))
    assert (status, content_type) == (200, "text/csv; charset=utf-8")
    assert body.startswith(b"\xef\xbb\xbfBucket,Loans,Loans (%),Outstanding,Outstanding (%)\r\n")
    lines = body.decode("utf-8-sig").splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["Current", "3"], ["1–30 days", "3"], ["31–60 days", "1"], ["61–90 days", "1"], ["91–180 days", "0"],
        ["180+ days", "0"],
    ]  # fmt: skip

    # The monthly report of April: the month typed in the form (by script: its format follows the locale).
    report_form = portal.find("form[action='/dashboard/report/']")
    month = portal.find("input#report-month", report_form)
    assert month.get_attribute("type") == "month"
    portal.set_value(month, "2026-04")
    assert month.get_attribute("value") == "2026-04"
    exports = AuditEvent.objects.filter(event="dashboard.exported")
    already = exports.count()
    portal.find("button[type=submit]", report_form).click()  # a download: the page stays
    portal.wait(60).until(lambda _driver: exports.count() > already)
    assert exports.order_by("-pk").first().detail == {"table": "monthly_report", "month": "2026-04"}
    status, content_type, body = portal.download(portal.base_url + "/dashboard/report/?month=2026-04")
    assert (status, content_type) == (200, "application/pdf")
    assert body.startswith(b"%PDF")
    assert portal.console_errors() == []

    portal.driver.execute_script("window.scrollTo(0, 0);")
    portal.screenshot("dashboard.png", full_page=True)

    # The same page in Chinese: no English on it, the stage and team names included.
    portal.submit(lambda: Select(portal.find("select#language-switch")).select_by_value("zh-hans"))
    page = portal.find("main").text
    for english in ("Final demand", "East team", "Standard ladder", "DPD", "Outstanding"):
        assert english not in page
    portal.driver.execute_script("window.scrollTo(0, 0);")
    portal.screenshot("dashboard-zh-hans.png", full_page=True)
