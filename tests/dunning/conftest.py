"""Fixtures for collections: a team with a supervisor and two collectors routed every case, and a helper
that books a loan already past due and opens its case through the real nightly run."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import Team
from dunning.models import AssignmentRule, CollectionCase
from dunning.services.run import dunning_run
from lending.services import loan_create
from tests.factories import BorrowerFactory, ProductFactory, UserFactory

# Loans booked by `overdue_case` are disbursed here; the first installment falls due on 2026-02-15.
DISBURSED_ON = datetime.date(2026, 1, 15)
FIRST_DUE = datetime.date(2026, 2, 15)


def staff(username: str, role: str):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def supervisor(db):
    return staff("sup", roles.SUPERVISOR)


@pytest.fixture
def collector(db):
    return staff("col1", roles.COLLECTOR)


@pytest.fixture
def other_collector(db):
    return staff("col2", roles.COLLECTOR)


@pytest.fixture
def team(db, supervisor, collector, other_collector):
    team = Team.objects.create(name="Team A", supervisor=supervisor)
    team.members.add(collector, other_collector)
    AssignmentRule.objects.create(position=1, team=team)
    return team


# The ladder's products charge no penalty interest, so the ladder's tests keep round figures (an
# instalment paid cures its case); the nightly accrual has its own tests (tests/lending/test_penalty*.py
# and the penalty tests in test_run.py).
@pytest.fixture
def cn_product(db):
    return ProductFactory(code="CN12", guardrail_profile="CN", penalty_daily_rate=Decimal("0"))


@pytest.fixture
def us_product(db):
    return ProductFactory(code="US12", guardrail_profile="US", penalty_daily_rate=Decimal("0"))


@pytest.fixture
def overdue_case(db, team, cn_product):
    """overdue_case(days_past_due=10, product=…, borrower=…) → an open case made by the nightly run for
    the date on which the loan's first installment is that many days late. Runs only go forward: within
    one test, later calls need a larger days_past_due (a date that already ran is not run again)."""

    def make(days_past_due: int = 10, product=None, borrower=None, principal=Decimal("12000.00")):
        loan = loan_create(
            borrower=borrower or BorrowerFactory(),
            product=product or cn_product,
            principal_amount=principal,
            term_months=12,
            disbursed_on=DISBURSED_ON,
            actor=None,
        )
        dunning_run(as_of=FIRST_DUE + datetime.timedelta(days=days_past_due))
        return CollectionCase.objects.get(loan=loan, is_open=True)

    return make


@pytest.fixture
def overdue_cases(db, team, cn_product):
    """overdue_cases(n, days_past_due=20, borrowers=None) → n open cases opened by one nightly run."""

    def make(count: int, days_past_due: int = 20, borrowers=None):
        loans = [
            loan_create(
                borrower=borrowers[number] if borrowers else BorrowerFactory(),
                product=cn_product,
                principal_amount=Decimal("12000.00") + number * 1000,
                term_months=12,
                disbursed_on=DISBURSED_ON,
                actor=None,
            )
            for number in range(count)
        ]
        dunning_run(as_of=FIRST_DUE + datetime.timedelta(days=days_past_due))
        return list(CollectionCase.objects.filter(loan__in=loans, is_open=True).order_by("pk"))

    return make
