"""Assignment rules route cases to teams (by bucket, product, language, province), then to the team's
least-loaded collector; a case rolling into another bucket follows the rules to the next team."""

import datetime

import pytest

from accounts import roles
from accounts.models import Team
from dunning import selectors
from dunning.models import AssignmentRule, CaseEvent, CollectionCase
from dunning.services.approvals import approval_request
from dunning.services.run import dunning_run
from lending.models import Loan
from lending.services import loan_create
from tests.dunning.conftest import DISBURSED_ON, FIRST_DUE, staff
from tests.factories import BorrowerFactory


@pytest.fixture
def early_and_late_teams(db, team):
    """`team` takes 1-30 days; a late team takes everything else."""
    AssignmentRule.objects.filter(team=team).update(buckets=[Loan.Bucket.DPD_1_30])
    late = Team.objects.create(name="Late team", supervisor=staff("sup_late", roles.SUPERVISOR))
    late.members.add(staff("late_1", roles.COLLECTOR))
    AssignmentRule.objects.create(position=50, team=late)
    return team, late


def _loan(product, **borrower):
    return loan_create(
        borrower=BorrowerFactory(**borrower), product=product, principal_amount="6000.00", term_months=6,
        disbursed_on=DISBURSED_ON,
    )  # fmt: skip


def _day(days_past_due):
    return FIRST_DUE + datetime.timedelta(days=days_past_due)


def test_new_cases_spread_over_the_least_loaded_collectors(team, cn_product, collector, other_collector):
    loans = [_loan(cn_product) for _ in range(5)]
    dunning_run(as_of=_day(5))
    owners = [CollectionCase.objects.get(loan=loan).assigned_to for loan in loans]
    assert sorted(owner.username for owner in owners) == ["col1", "col1", "col1", "col2", "col2"]


def test_a_case_rolling_into_the_next_bucket_moves_to_the_late_team(early_and_late_teams, cn_product):
    early, late = early_and_late_teams
    loan = _loan(cn_product)
    dunning_run(as_of=_day(30))
    case = CollectionCase.objects.get(loan=loan)
    assert case.team == early
    dunning_run(as_of=_day(31))
    case.refresh_from_db()
    assert (case.team, case.assigned_to.username, case.aging_bucket) == (late, "late_1", Loan.Bucket.DPD_31_60)
    moves = case.events.filter(kind=CaseEvent.Kind.ASSIGNED).order_by("pk")
    assert [event.detail["team"] for event in moves] == [early.pk, late.pk]
    dunning_run(as_of=_day(32))
    assert case.events.filter(kind=CaseEvent.Kind.ASSIGNED).count() == 2  # staying in the bucket: no move


def test_rules_match_language_and_province(team, cn_product):
    english = Team.objects.create(name="English desk", supervisor=staff("sup_en", roles.SUPERVISOR))
    english.members.add(staff("en_1", roles.COLLECTOR))
    AssignmentRule.objects.create(position=0, team=english, language="en", provinces=["上海"])
    match = _loan(cn_product, preferred_language="en", province="上海")
    other_province = _loan(cn_product, preferred_language="en", province="北京")
    dunning_run(as_of=_day(3))
    assert CollectionCase.objects.get(loan=match).team == english
    assert CollectionCase.objects.get(loan=other_province).team == team


def test_a_case_no_rule_matches_stays_unassigned_for_a_supervisor(db, cn_product):
    loan = _loan(cn_product)
    dunning_run(as_of=_day(3))
    case = CollectionCase.objects.get(loan=loan)
    assert (case.team, case.assigned_to) == (None, None)


def test_a_request_waiting_on_a_rolling_case_moves_to_the_late_teams_supervisor(early_and_late_teams, cn_product):
    early, late = early_and_late_teams
    loan = _loan(cn_product)
    dunning_run(as_of=_day(30))
    case = CollectionCase.objects.get(loan=loan)
    waiting = approval_request(case=case, kind="waiver", amount="10.00", reason="hardship", actor=case.assigned_to)
    assert waiting.team == early
    assert list(selectors.approvals_decidable_by(early.supervisor)) == [waiting]
    dunning_run(as_of=_day(31))
    waiting.refresh_from_db()
    assert waiting.team == late
    assert list(selectors.approvals_decidable_by(late.supervisor)) == [waiting]
    assert not selectors.approvals_decidable_by(early.supervisor).exists()
