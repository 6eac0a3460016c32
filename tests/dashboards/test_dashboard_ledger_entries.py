"""The dashboard's figures of what changed debts without money and of money received after a write-off
(creditops/dashboards/selectors.py `entry_totals`): penalty waived, amounts written off, recoveries
(principal and the rest apart) and settlements paid with discount — in the headline for the chosen period,
the CSV and Excel exports and the monthly report, each checked against a count made here in Python from
the rows themselves (not through the ledger entries' index the selector reads)."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import Team
from creditops.core.dates import business_today
from creditops.dashboards import selectors
from creditops.dashboards.report import monthly_report_pdf
from dunning.models import CollectionCase
from dunning.services.run import dunning_run
from lending.adjustments import waiver_post, waiver_reverse
from lending.models import Installment, LedgerEntry, LedgerEntryLine, PaymentAllocation
from lending.services import loan_create, payment_post, payment_reverse
from lending.settlements import settlement_agree
from lending.write_off import loan_write_off, loan_write_off_undo
from tests.factories import BorrowerFactory, ProductFactory, UserFactory
from tests.lending.test_penalty import accrue_through
from tests.notices.conftest import pdf_text

pytestmark = pytest.mark.django_db

DISBURSED_ON = datetime.date(2026, 1, 15)  # first due date 2026-02-15
CASES_OPEN = datetime.date(2026, 4, 1)  # the run that opens every loan's case
AS_OF = datetime.date(2026, 5, 20)
PERIOD = (datetime.date(2026, 4, 21), AS_OF)  # the default 30 days
WEEK_BEFORE = (PERIOD[0] - datetime.timedelta(days=7), AS_OF - datetime.timedelta(days=7))
MONTH_BEFORE = (PERIOD[0] - datetime.timedelta(days=30), AS_OF - datetime.timedelta(days=30))
ONE_DAY = datetime.timedelta(days=1)
WHOLE_BOOK = selectors.Scope()
ENTRY_KEYS = [key for key, _label, _kind in selectors.ENTRY_HEADLINE]


def book_loan(product, principal=Decimal("12000.00")):
    return loan_create(borrower=BorrowerFactory(), product=product, principal_amount=principal, term_months=12,
                       disbursed_on=DISBURSED_ON, actor=None)  # fmt: skip


def post(loan, amount, received_on, ref):
    payment, _created = payment_post(loan=loan, source="bank", external_ref=ref, amount=Decimal(amount),
                                     received_on=received_on, channel="bank_transfer")  # fmt: skip
    return payment


@pytest.fixture
def penalty_product(db):
    return ProductFactory(code="PEN", penalty_daily_rate=Decimal("0.0005"))


@pytest.fixture
def ledger_book(team, cn_product, penalty_product):
    """A: penalty charged from 02-16; 5.00 of it waived on 04-01 (before the period), 10.00 on 05-10, 3.00
    on 05-12 taken back on 05-15, and 50.00 of interest on 05-11. B: written off on 05-05; 1,200.00
    received on 05-08 (a recovery) and 100.00 on 05-09, reversed. C: written off on 04-10, before the
    period, 300.00 recovered on 04-15 (in the comparison periods only)."""
    loan_a, loan_b, loan_c = book_loan(penalty_product), book_loan(cn_product), book_loan(cn_product)
    accrue_through(CASES_OPEN - ONE_DAY, first=datetime.date(2026, 2, 16))
    dunning_run(as_of=CASES_OPEN)
    waiver_post(loan=loan_a, component="penalty", amount=Decimal("5.00"), reason="goodwill", effective_on=CASES_OPEN)
    waiver_post(loan=loan_a, component="penalty", amount=Decimal("10.00"), reason="hardship",
                effective_on=datetime.date(2026, 5, 10))  # fmt: skip
    waiver_post(loan=loan_a, component="interest", amount=Decimal("50.00"), reason="complaint",
                effective_on=datetime.date(2026, 5, 11))  # fmt: skip
    mistaken = waiver_post(loan=loan_a, component="penalty", amount=Decimal("3.00"), reason="wrong loan",
                           effective_on=datetime.date(2026, 5, 12))  # fmt: skip
    waiver_reverse(entry=mistaken, reason="granted by mistake", effective_on=datetime.date(2026, 5, 15))
    loan_write_off(loan=loan_c, on=datetime.date(2026, 4, 10), reason="charge-off")
    post(loan_c, "300.00", datetime.date(2026, 4, 15), "C-1")
    loan_write_off(loan=loan_b, on=datetime.date(2026, 5, 5), reason="charge-off")
    post(loan_b, "1200.00", datetime.date(2026, 5, 8), "B-1")
    bounced = post(loan_b, "100.00", datetime.date(2026, 5, 9), "B-2")
    payment_reverse(payment=bounced, reason="bounced", reversed_on=business_today())
    return {"a": loan_a, "b": loan_b, "c": loan_c}


# Independent counts: plain Python over every row.


def penalty_waived(period, loans=None) -> Decimal:
    lines = LedgerEntryLine.objects.select_related("entry")
    return sum(
        (line.penalty_amount for line in lines
         if line.entry.kind in ("waiver", "settlement_discount") and period[0] <= line.entry.effective_on <= period[1]
         and (loans is None or line.entry.loan_id in loans)),
        Decimal("0.00"),
    )  # fmt: skip


def written_off(period) -> Decimal:
    return sum(
        (entry.amount for entry in LedgerEntry.objects.all()
         if entry.kind == "write_off" and period[0] <= entry.effective_on <= period[1]),
        Decimal("0.00"),
    )  # fmt: skip


def recovered(period) -> tuple[Decimal, Decimal]:
    rows = [
        row for row in PaymentAllocation.objects.select_related("payment")
        if row.is_recovery and period[0] <= row.payment.received_on <= period[1]
    ]  # fmt: skip
    principal = sum((row.principal_amount for row in rows), Decimal("0.00"))
    other = sum((row.interest_amount + row.fee_amount + row.penalty_amount for row in rows), Decimal("0.00"))
    return principal, other


def test_the_period_s_entries_match_an_independent_count(ledger_book):
    totals = selectors.entry_totals({"now": PERIOD, "week": WEEK_BEFORE, "month": MONTH_BEFORE}, WHOLE_BOOK)

    for key, period in (("now", PERIOD), ("week", WEEK_BEFORE), ("month", MONTH_BEFORE)):
        principal, other = recovered(period)
        assert totals[key] == {
            "penalty_waived": penalty_waived(period), "written_off": written_off(period),
            "recovered_principal": principal, "recovered_other": other,
            "settlements_discounted": 0, "settlement_discount": Decimal("0.00"),
        }, key  # fmt: skip
    # The figures themselves: 10.00 of penalty (the 3.00 waived and taken back within the period cancel
    # out; the 5.00 of 04-01 and the 50.00 of interest do not count); B written off whole; of its 1,200.00
    # interest and principal (the 100.00 reversed counts nothing).
    assert totals["now"]["penalty_waived"] == Decimal("10.00")
    loan_b = ledger_book["b"]
    assert totals["now"]["written_off"] == LedgerEntry.objects.get(loan=loan_b, kind="write_off").amount > 0
    assert totals["now"]["recovered_principal"] + totals["now"]["recovered_other"] == Decimal("1200.00")
    # Oldest first, by the waterfall: February's installment whole (1,066.19), then March's interest.
    first, second = Installment.objects.filter(loan=loan_b, sequence__in=(1, 2)).order_by("sequence")
    assert totals["now"]["recovered_other"] == first.interest_amount + second.interest_amount
    assert totals["month"]["penalty_waived"] == Decimal("5.00")  # 03-22 … 04-20: the waiver of 04-01
    assert totals["month"]["recovered_principal"] + totals["month"]["recovered_other"] == Decimal("300.00")


def test_the_figures_cost_one_select_however_many_periods(ledger_book):
    """One grouped query over the entries of the days asked for (on PostgreSQL, with JIT compilation
    turned off for it: one SET LOCAL more), never one per period or per figure."""
    many = {offset: (PERIOD[0] - ONE_DAY * offset, AS_OF - ONE_DAY * offset) for offset in range(0, 60, 7)}
    with CaptureQueriesContext(connection) as queries:
        totals = selectors.entry_totals(many, WHOLE_BOOK)
    selects = [query["sql"] for query in queries.captured_queries if query["sql"].lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and len(queries.captured_queries) <= 2
    assert totals[0] == selectors.entry_totals({"now": PERIOD}, WHOLE_BOOK)["now"]


def test_the_headline_shows_them_for_the_chosen_period_compared_with_a_week_and_a_month_before(ledger_book):
    figures = {figure.key: figure for figure in selectors.headline(AS_OF, WHOLE_BOOK)}

    waived = figures["penalty_waived"]
    assert waived.label == "Penalty waived, 2026-04-21 to 2026-05-20"
    assert waived.value == Decimal("10.00") == penalty_waived(PERIOD)
    assert waived.change_7 == penalty_waived(PERIOD) - penalty_waived(WEEK_BEFORE)
    assert waived.change_30 == Decimal("10.00") - Decimal("5.00")
    assert figures["written_off"].value == written_off(PERIOD)
    assert figures["recovered_principal"].value == recovered(PERIOD)[0]
    assert figures["recovered_other"].change_30 == recovered(PERIOD)[1] - recovered(MONTH_BEFORE)[1]
    assert figures["settlements_discounted"].value == 0 and figures["settlements_discounted"].kind == "count"
    narrow = {figure.key: figure for figure in selectors.headline(AS_OF, WHOLE_BOOK, period_days=5)}
    assert narrow["penalty_waived"].label.endswith("2026-05-16 to 2026-05-20")
    assert narrow["penalty_waived"].value == Decimal("0.00")  # 05-16 … 05-20: no waiver
    assert narrow["written_off"].value == Decimal("0.00")


def test_a_product_or_team_filter_counts_only_its_loans(ledger_book, team, penalty_product, cn_product, supervisor):
    assert CollectionCase.objects.filter(team=team).count() == 3  # the run on 04-01 routed all three there

    by_product = selectors.entry_totals({"now": PERIOD}, selectors.Scope(product_id=penalty_product.pk))["now"]
    assert by_product["penalty_waived"] == Decimal("10.00")
    assert (by_product["written_off"], by_product["recovered_principal"]) == (Decimal("0.00"), Decimal("0.00"))
    cash = selectors.entry_totals({"now": PERIOD}, selectors.Scope(product_id=cn_product.pk))["now"]
    assert (cash["penalty_waived"], cash["written_off"]) == (Decimal("0.00"), written_off(PERIOD))
    own_team = selectors.entry_totals({"now": PERIOD}, selectors.Scope(team_id=team.pk))["now"]
    assert own_team == selectors.entry_totals({"now": PERIOD}, WHOLE_BOOK)["now"]
    other = Team.objects.create(name="Team B", supervisor=supervisor)
    nothing = selectors.entry_totals({"now": PERIOD}, selectors.Scope(team_id=other.pk))["now"]
    assert all(not value for value in nothing.values())


def test_settlements_paid_with_discount_count_only_those_that_stand(team, penalty_product):
    """Settlements start on the business date (today): D is paid and settles with discount; E is paid,
    then its payment is reversed, which takes its discount back; F is agreed and not yet paid."""
    loans = [book_loan(penalty_product) for _ in range(3)]
    today = business_today()
    accrue_through(datetime.date(2026, 3, 31), first=datetime.date(2026, 2, 16))
    for loan in loans:
        settlement_agree(loan=loan, agreed_amount=Decimal("500.00"), deadline=today + ONE_DAY * 10)
    loan_d, loan_e, _loan_f = loans
    owed_before = sum(item.outstanding_amount for item in Installment.objects.filter(loan=loan_d))
    post(loan_d, "500.00", today, "D-1")
    paid_e = post(loan_e, "500.00", today, "E-1")
    payment_reverse(payment=paid_e, reason="bounced", reversed_on=today)

    totals = selectors.entry_totals({"today": (today, today)}, WHOLE_BOOK)["today"]

    assert totals["settlements_discounted"] == 1
    assert totals["settlement_discount"] == owed_before - Decimal("500.00") > 0
    # D's penalty the payment did not reach (it paid February's whole, penalty first) is waived; E's is
    # waived and taken back the same day.
    waived_d = sum(item.penalty_adjusted_amount for item in Installment.objects.filter(loan=loan_d))
    assert totals["penalty_waived"] == waived_d == penalty_waived((today, today)) > 0
    assert penalty_waived((today, today), loans={loan_e.pk}) == 0
    figures = {figure.key: figure for figure in selectors.headline(today, WHOLE_BOOK, period_days=1)}
    assert figures["settlements_discounted"].label.endswith("(today so far)")
    assert figures["settlements_discounted"].change_7 is None  # a running day is not compared


# ---------------------------------------------------------------------------------------------------------
# Exports and the report


@pytest.fixture
def manager_client(client):
    boss = UserFactory(username="boss")
    boss.groups.add(Group.objects.get(name="Manager"))
    client.force_login(boss)
    return client


def test_the_headline_exports_carry_the_figures_with_translated_headers(ledger_book, manager_client):
    query = {"as_of": "2026-05-20", "export": "headline", "format": "csv"}
    lines = manager_client.get(reverse("dashboards:dashboard"), query).content.decode("utf-8-sig").splitlines()

    assert lines[0] == "Figure,Value,vs 7 days before,vs 30 days before"
    rows = {line.rsplit(",", 3)[0]: line.rsplit(",", 3)[1:] for line in lines[1:]}
    assert rows['"Penalty waived, 2026-04-21 to 2026-05-20"'][0] == "10.00"
    written = rows['"Amount written off, 2026-04-21 to 2026-05-20"'][0]
    assert written == f"{written_off(PERIOD):.2f}"  # money to the cent, no separators, as every export
    principal, other = recovered(PERIOD)
    assert rows['"Recovered after write-off: principal, 2026-04-21 to 2026-05-20"'][0] == f"{principal:.2f}"
    assert rows['"Recovered after write-off: interest, fees and penalty, 2026-04-21 to 2026-05-20"'][0] == (
        f"{other:.2f}"
    )
    assert rows['"Settlements paid with discount, 2026-04-21 to 2026-05-20"'] == ["0", "0", "0"]
    chinese = manager_client.get(reverse("dashboards:dashboard"), query, HTTP_ACCEPT_LANGUAGE="zh-hans")
    with translation.override("zh-hans"):
        header = [gettext("Figure"), gettext("Value"), gettext("vs 7 days before"), gettext("vs 30 days before")]
    assert chinese.content.decode("utf-8-sig").splitlines()[0] == ",".join(header)

    workbook = manager_client.get(
        reverse("dashboards:dashboard"), {**query, "format": "xlsx", "date_from": "2026-05-01"}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    cells = {row[0]: row[1:] for row in sheet.iter_rows(values_only=True)}
    assert cells["Penalty waived, 2026-05-01 to 2026-05-20"][0] == 10  # a number, not text
    assert cells["Recovered after write-off: principal, 2026-05-01 to 2026-05-20"][0] == float(principal)


def test_the_page_shows_the_figures_and_says_which_period_they_are_for(ledger_book, manager_client):
    page = manager_client.get(reverse("dashboards:dashboard"), {"as_of": "2026-05-20", "date_from": "2026-05-01"})

    html = page.content.decode()
    assert "Penalty waived, 2026-05-01 to 2026-05-20" in html
    assert "Recovered after write-off: principal, 2026-05-01 to 2026-05-20" in html
    assert "are for 2026-05-01 to 2026-05-20 (the activity period)" in html
    figures = {figure.key: figure for figure in page.context["headline"]}
    assert figures["penalty_waived"].value == penalty_waived((datetime.date(2026, 5, 1), AS_OF))


def test_the_monthly_report_lists_them_for_the_month(ledger_book):
    dunning_run(as_of=datetime.date(2026, 5, 31))  # the report needs a snapshot in the month
    may = (datetime.date(2026, 5, 1), datetime.date(2026, 5, 31))

    text = pdf_text(monthly_report_pdf(datetime.date(2026, 5, 1), "en"))

    april = (datetime.date(2026, 4, 1), datetime.date(2026, 4, 30))
    waived_line = next(line for line in text.splitlines() if "Penalty waived" in line)
    # May: 10.00 (the 3.00 waived and taken back cancel out); April, the period before: 5.00.
    assert waived_line.split()[-4:] == ["10.00", "CNY", "+5.00", "CNY"]
    assert penalty_waived(may) - penalty_waived(april) == Decimal("5.00")
    written_line = next(line for line in text.splitlines() if "Amount written off" in line)
    assert f"{written_off(may):,.2f} CNY" in written_line
    recovered_line = next(line for line in text.splitlines() if "Recovered after write-off: principal" in line)
    assert f"{recovered(may)[0]:,.2f} CNY" in recovered_line
    assert "Settlements paid with discount" in text
    assert set(ENTRY_KEYS) <= {figure.key for figure in selectors.period_headline(*may, WHOLE_BOOK)}


def test_an_undone_write_off_is_taken_back_on_the_day_of_its_undo(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=CASES_OPEN)
    written_on = business_today() - datetime.timedelta(days=20)  # within the undo period
    loan_write_off(loan=loan, on=written_on, reason="charge-off")
    amount = LedgerEntry.objects.get(kind="write_off").amount
    today = business_today()
    assert selectors.entry_totals({"p": (written_on, written_on)}, WHOLE_BOOK)["p"]["written_off"] == amount
    loan_write_off_undo(loan=loan, reason="wrong loan")
    totals = selectors.entry_totals({"both": (written_on, today), "undo day": (today, today)}, WHOLE_BOOK)
    assert (totals["both"]["written_off"], totals["undo day"]["written_off"]) == (0, -amount)
