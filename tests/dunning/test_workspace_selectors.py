"""The reads and helpers behind the workspace: the next stage's date and the even split of a plan."""

import datetime
from decimal import Decimal

import pytest

from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.demo import demo_casework_create
from dunning.models import ApprovalRequest, PromiseToPay
from dunning.selectors.workspace import next_stage
from dunning.services.approvals import MAX_PLAN_INSTALLMENTS, PlanFrequency, plan_installments_even

from .conftest import FIRST_DUE


@pytest.mark.django_db
def test_the_next_stage_comes_on_the_day_its_dpd_is_reached(overdue_case):
    case = overdue_case(20)
    run_day = FIRST_DUE + datetime.timedelta(days=20)
    following = next_stage(case, today=run_day)
    assert following.stage.start_dpd > case.stage.start_dpd
    assert following.expected_on == FIRST_DUE + datetime.timedelta(days=following.stage.start_dpd)


@pytest.mark.django_db
def test_a_paused_case_has_a_next_stage_but_no_date(overdue_case):
    case = overdue_case(20)
    case.status = "disputed"
    following = next_stage(case, today=FIRST_DUE + datetime.timedelta(days=20))
    assert following.stage is not None and following.expected_on is None


def test_an_even_plan_adds_up_exactly_and_the_last_instalment_takes_the_remainder():
    rows = plan_installments_even(
        total=Decimal("1000.00"), count=3, first_due=datetime.date(2026, 1, 31), frequency=PlanFrequency.MONTHLY
    )
    assert [amount for _day, amount in rows] == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]
    assert [day for day, _amount in rows] == [
        datetime.date(2026, 1, 31), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31),
    ]  # fmt: skip


def test_weekly_and_fortnightly_plans_step_by_seven_and_fourteen_days():
    start = datetime.date(2026, 12, 1)
    weekly = plan_installments_even(total=Decimal("10.00"), count=2, first_due=start, frequency=PlanFrequency.WEEKLY)
    fortnightly = plan_installments_even(
        total=Decimal("10.00"), count=2, first_due=start, frequency=PlanFrequency.FORTNIGHTLY
    )
    assert [day for day, _amount in weekly] == [start, datetime.date(2026, 12, 8)]
    assert [day for day, _amount in fortnightly] == [start, datetime.date(2026, 12, 15)]


@pytest.mark.parametrize("count", [0, MAX_PLAN_INSTALLMENTS + 1])
def test_a_plan_outside_1_to_24_instalments_is_refused(count):
    with pytest.raises(DomainError) as refused:
        plan_installments_even(
            total=Decimal("10.00"), count=count, first_due=datetime.date(2026, 12, 1), frequency=PlanFrequency.WEEKLY
        )
    assert refused.value.code == "plan.installments_invalid"


@pytest.mark.django_db
def test_the_demo_casework_leaves_promises_plans_and_settlements_to_look_at(overdue_cases, collector, other_collector):
    overdue_cases(8)
    assert demo_casework_create() == 8
    pending = ApprovalRequest.objects.filter(status="pending", requested_by__in=[collector, other_collector])
    assert sorted(pending.values_list("kind", flat=True)) == sorted(["payment_plan", "settlement_discount"] * 2)
    assert PromiseToPay.objects.filter(promised_for=business_today(), status="pending").count() == 2
    assert demo_casework_create() == 0  # once only
