"""A day's collections work counted once into DailyActivity, and read back as the dashboard's activity
figures, collector performance and compliance panel."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from creditops.core.dates import business_today
from creditops.dashboards import selectors
from creditops.dashboards.models import ActivityDay, DailyActivity
from creditops.dashboards.services import activity_record
from creditops.dashboards.tasks import RECOUNT_DAYS, count_finished_days
from dunning.models import CollectionCase
from dunning.services.cases import contact_attempt_log, promise_record
from dunning.services.guardrails import ContactBlockedError
from dunning.services.run import dunning_run
from lending.models import Payment, PenaltyEntry
from lending.services import loan_create, payment_post, payment_reverse
from notices.services.issue import notice_issue
from tests.factories import BorrowerFactory, ProductFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 5, 20)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
WHOLE_BOOK = selectors.Scope()


def at(hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(DAY, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def worked_case(team, cn_product):
    loan = loan_create(
        borrower=BorrowerFactory(time_zone="Asia/Shanghai"), product=cn_product, principal_amount=Decimal("12000.00"),
        term_months=12, disbursed_on=datetime.date(2026, 3, 10), actor=None,
    )  # fmt: skip
    dunning_run(as_of=DAY)
    case = CollectionCase.objects.get(loan=loan, is_open=True)
    collector = case.assigned_to
    contact_attempt_log(case=case, channel="call", outcome="reached", actor=collector, at=at(10))
    contact_attempt_log(case=case, channel="call", outcome="no_answer", actor=collector, at=at(11))
    with pytest.raises(ContactBlockedError):
        contact_attempt_log(case=case, channel="call", outcome="reached", actor=collector, at=at(23, 30))
    promise_record(case=case, amount=Decimal("300.00"), promised_for=DAY + datetime.timedelta(days=2),
                   actor=collector, made_on=DAY)  # fmt: skip
    payment_post(loan=loan, source="bank", external_ref="p-1", amount=Decimal("120.00"), received_on=DAY,
                 channel="bank_transfer")  # fmt: skip
    notice_issue(case=case, kind="collection_notice", actor=None, issued_on=DAY)
    return case


def test_penalty_charged_and_collected_are_counted_for_the_case_s_collector(team):
    """CASH charges 0.05 % a day on overdue principal. On D April's and May's instalments are late (946.19
    and 955.65 of principal: 0.47 + 0.48). D + 1 is charged on its opening balance (April's exact total
    0.946190 → 0.95, May's 0.955650 → 0.96: 0.48 + 0.48 more); then a payment of 500.00 received that day
    pays April's penalty (0.95) and interest first, then part of its principal."""
    product = ProductFactory(code="CASH", penalty_daily_rate=Decimal("0.0005"))
    loan = loan_create(
        borrower=BorrowerFactory(), product=product, principal_amount=Decimal("12000.00"), term_months=12,
        disbursed_on=datetime.date(2026, 3, 10), actor=None,
    )  # fmt: skip
    dunning_run(as_of=DAY)
    next_day = DAY + datetime.timedelta(days=1)
    payment_post(loan=loan, source="bank", external_ref="pen-1", amount=Decimal("500.00"), received_on=next_day,
                 channel="bank_transfer")  # fmt: skip
    dunning_run(as_of=next_day)
    activity_record(DAY)
    activity_record(next_day)
    case = CollectionCase.objects.get(loan=loan, is_open=True)
    first, second = (DailyActivity.objects.get(as_of=day) for day in (DAY, next_day))
    assert (first.collector, first.penalty_charged, first.penalty_collected) == (
        case.assigned_to, Decimal("0.95"), Decimal("0.00"),
    )  # fmt: skip
    charged_next_day = PenaltyEntry.objects.filter(accrued_on=next_day).aggregate(total=Sum("amount"))["total"]
    assert charged_next_day == Decimal("0.96")
    assert (second.penalty_charged, second.penalty_collected) == (Decimal("0.96"), Decimal("0.95"))
    totals = selectors.activity_totals(DAY, next_day, WHOLE_BOOK)
    assert (totals["penalty_charged"], totals["penalty_collected"]) == (Decimal("1.91"), Decimal("0.95"))


def test_a_days_work_is_counted_per_collector(worked_case):
    assert activity_record(DAY) == 1
    row = DailyActivity.objects.get(as_of=DAY)
    assert (row.collector, row.team, row.product) == (
        worked_case.assigned_to,
        worked_case.team,
        worked_case.loan.product,
    )
    figures = {name: getattr(row, name) for name in selectors.ACTIVITY_FIELDS}
    assert figures == {
        "cases_worked": 1, "contacts": 2, "right_party_contacts": 1, "blocked_contacts": 1, "promises_made": 1,
        "promises_kept": 0, "promises_broken": 0, "amount_collected": Decimal("120.00"), "notices_issued": 1,
        "notices_delivered": 0, "notices_failed": 0, "penalty_charged": Decimal("0.00"),
        "penalty_collected": Decimal("0.00"),
    }  # fmt: skip


def test_a_day_is_counted_once_even_when_nothing_happened(worked_case):
    quiet_day = DAY - datetime.timedelta(days=3)
    assert activity_record(quiet_day) == 0
    assert ActivityDay.objects.filter(as_of=quiet_day).exists()
    assert activity_record(DAY) == 1 and activity_record(DAY) == 0
    assert DailyActivity.objects.filter(as_of=DAY).count() == 1


def test_the_dashboard_counts_a_missing_day_on_demand_and_then_reads_it(worked_case):
    assert not ActivityDay.objects.exists()
    first = selectors.activity_totals(DAY, DAY, WHOLE_BOOK)
    assert (first["contacts"], first["amount_collected"]) == (2, Decimal("120.00"))
    with CaptureQueriesContext(connection) as queries:
        again = selectors.activity_totals(DAY, DAY, WHOLE_BOOK)
    assert again == first
    assert len(queries) == 4  # first run and contact, which days are counted, the stored rows: no recount


def test_promises_kept_rate_and_collector_performance(worked_case):
    dunning_run(as_of=DAY + datetime.timedelta(days=3))  # the promise of 300.00 fell due unpaid: broken
    evaluated_on = DAY + datetime.timedelta(days=3)
    totals = selectors.activity_totals(evaluated_on, evaluated_on, WHOLE_BOOK)
    assert (totals["promises_kept"], totals["promises_broken"], totals["promise_kept_rate"]) == (0, 1, 0)
    (row,) = selectors.collector_performance(evaluated_on, WHOLE_BOOK)
    assert row["collector"] == worked_case.assigned_to
    assert (row["contacts"], row["right_party_contacts"], row["promises_made"]) == (2, 1, 1)
    assert row["amount_collected"] == Decimal("120.00")
    assert row["average_dpd"] == CollectionCase.objects.get(pk=worked_case.pk).days_past_due


def test_the_compliance_panel_counts_blocked_attempts_by_rule(worked_case):
    panel = selectors.compliance_panel(DAY)
    assert panel["blocked_by_rule"] == [{"rule": "contact.quiet_hours", "attempts": 1}]
    assert panel["open_disputes"] == 0


def test_the_daily_task_counts_the_last_finished_days_again(db):
    yesterday = business_today() - datetime.timedelta(days=1)
    activity_record(yesterday)
    done = count_finished_days()
    assert len(done) == RECOUNT_DAYS and done[yesterday.isoformat()] == 0
    assert ActivityDay.objects.count() == RECOUNT_DAYS
    assert not ActivityDay.objects.filter(as_of=business_today()).exists()  # today is not finished


def test_a_recount_drops_a_payment_reversed_after_the_first_count(worked_case):
    activity_record(DAY)
    payment = Payment.objects.get(external_ref="p-1")
    payment_reverse(payment=payment, reason="bounced cheque", reversed_on=DAY + datetime.timedelta(days=1))
    assert activity_record(DAY) == 0  # counted already: unchanged without a recount
    assert DailyActivity.objects.get(as_of=DAY).amount_collected == Decimal("120.00")
    assert activity_record(DAY, recount=True) == 1
    assert DailyActivity.objects.get(as_of=DAY).amount_collected == Decimal("0.00")


def test_recoveries_trend_and_team_rollup(worked_case):
    dunning_run(as_of=DAY + datetime.timedelta(days=1))
    rows = {row["day"]: row for row in selectors.trend(DAY + datetime.timedelta(days=1), WHOLE_BOOK, days=2)}
    assert rows[DAY]["recovered"] == Decimal("120.00")
    assert rows[DAY + datetime.timedelta(days=1)]["recovered"] == 0
    collectors = selectors.collector_performance(DAY, WHOLE_BOOK, days=1)
    (team,) = selectors.team_performance(collectors)
    assert team["team"] == worked_case.team
    assert (team["contacts"], team["right_party_contacts"], team["amount_collected"]) == (2, 1, Decimal("120.00"))
