"""A seeded portfolio replayed through the nightly run, one business date after another, with payments
(and a few bounced ones) posted along the way; the ladder's invariants are checked after every date.

The portfolio is deterministic: 45 loans over three products, disbursed two days apart, each with a
payment behaviour (never pays, pays on the due date, pays some days late, pays half now and then, stops
paying, pays with payments that bounce); delays and amounts come from random.Random(7).

`database_fingerprint` (also used by test_run_concurrency) captures every row of every dunning table and
the loans' delinquency fields by natural keys (loan reference, stage name, username, run date), without
surrogate ids or wall-clock timestamps, so two databases that did the same work compare equal.
"""

import datetime
import io
import itertools
import json
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Count

from accounts.models import Team, User
from creditops.core.money import to_money
from dunning.models import (
    ApprovalRequest,
    CollectionCase,
    DunningAction,
    DunningPolicy,
    DunningRun,
    DunningStage,
    PortfolioSnapshot,
    PromiseToPay,
    StageAction,
    StageTransition,
)
from dunning.services.run import dunning_run
from dunning.services.run_steps import priority_score
from lending.delinquency import bucket_for, days_past_due
from lending.models import Borrower, Installment, Loan, Payment, Product
from lending.services import loan_create, payment_post, payment_reverse
from tests.factories import BorrowerFactory, EnterpriseFactory, ProductFactory

pytestmark = pytest.mark.django_db

FIRST_DAY = datetime.date(2026, 2, 1)
DAYS = 120
LAST_DAY = FIRST_DAY + datetime.timedelta(days=DAYS - 1)  # 2026-05-31
LOANS = 45
BEHAVIOURS = ["never", "punctual", "late", "partial", "stops", "bounces"]
ZERO = Decimal("0.00")

# ---------------------------------------------------------------------------------------------------------
# Fingerprint of the dunning tables by natural keys

# Wall-clock timestamps and lock bookkeeping: they differ between two runs doing the same work.
VOLATILE_FIELDS = {
    "id",
    "occurred_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "requested_at",
    "decided_at",
    "acquired_at",
    "holder",
    "raised_at",
    "resolved_at",
    "completed_at",
    "attempted_at",
}
# Ids inside CaseEvent.detail and the model they point to.
DETAIL_REFERENCES = {"run": DunningRun, "from_stage": DunningStage, "to_stage": DunningStage, "team": Team, "to": User}


def _natural_keys() -> dict:
    """{model: {pk: natural key}} for every model a dunning row may point to by a surrogate id."""
    loans = dict(Loan.objects.values_list("pk", "reference"))
    cases = {
        pk: (loans[loan_id], opened_on.isoformat())
        for pk, loan_id, opened_on in CollectionCase.objects.values_list("pk", "loan_id", "opened_on")
    }
    stages = {
        pk: f"{policy} / {name}" for pk, policy, name in DunningStage.objects.values_list("pk", "policy__name", "name")
    }
    actions = {
        pk: (cases.get(case_id), loans[loan_id], stages[stage_id], kind, due_date)
        for pk, case_id, loan_id, stage_id, kind, due_date in DunningAction.objects.values_list(
            "pk", "case_id", "loan_id", "stage_id", "kind", "due_date"
        )
    }
    return {
        Loan: loans,
        CollectionCase: cases,
        DunningStage: stages,
        DunningAction: actions,
        DunningRun: {pk: as_of.isoformat() for pk, as_of in DunningRun.objects.values_list("pk", "as_of")},
        DunningPolicy: dict(DunningPolicy.objects.values_list("pk", "name")),
        StageAction: {
            pk: (stages[stage_id], kind)
            for pk, stage_id, kind in StageAction.objects.values_list("pk", "stage_id", "kind")
        },
        Borrower: dict(Borrower.objects.values_list("pk", "id_number")),
        Product: dict(Product.objects.values_list("pk", "code")),
        User: dict(User.objects.values_list("pk", "username")),
        Team: dict(Team.objects.values_list("pk", "name")),
    }


def _row(model, values: dict, keys: dict, *, ignore: set) -> str:
    row = {}
    for field in model._meta.concrete_fields:
        if field.name in VOLATILE_FIELDS or field.name in ignore:
            continue
        value = values[field.attname]
        if field.is_relation and value is not None:
            value = keys.get(field.related_model, {}).get(value, value)
        elif field.name == "detail" and isinstance(value, dict):
            value = {
                name: keys[DETAIL_REFERENCES[name]].get(item, item) if name in DETAIL_REFERENCES else item
                for name, item in value.items()
            }
        elif model is DunningRun and field.name == "counts":
            value = {step: item for step, item in value.items() if step != "timings_ms"}
        row[field.name] = value
    return json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)


def database_fingerprint(*, ignore: set = frozenset()) -> dict[str, list[str]]:
    """Every row of every dunning table and every loan's delinquency fields, by natural keys, sorted.
    `ignore`: more field names to leave out (e.g. {"attempts"})."""
    keys = _natural_keys()
    fingerprint = {
        model._meta.label: sorted(_row(model, values, keys, ignore=ignore) for values in model.objects.values())
        for model in apps.get_app_config("dunning").get_models()
    }
    fingerprint["lending.Loan (delinquency)"] = sorted(
        json.dumps(row, default=str)
        for row in Loan.objects.values_list(
            "reference", "status", "days_past_due", "aging_bucket", "overdue_amount", "oldest_overdue_due_date"
        )
    )
    return fingerprint


def assert_same_fingerprint(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for table in expected:
        assert actual[table] == expected[table], f"{table} differs"


# ---------------------------------------------------------------------------------------------------------
# The portfolio and its payments


class Portfolio:
    """45 loans with a payment behaviour each; `pay(today)` posts what the borrowers pay that day."""

    def __init__(self):
        self.rng = random.Random(7)
        self.refs = itertools.count(1)
        products = [
            ProductFactory(code="CN12", guardrail_profile="CN"),
            ProductFactory(
                code="CASH06",
                repayment_method=Product.RepaymentMethod.EQUAL_PRINCIPAL,
                annual_interest_rate=Decimal("0.18"),
                grace_days=3,
            ),
            ProductFactory(
                code="BIZ12",
                repayment_method=Product.RepaymentMethod.INTEREST_ONLY,
                annual_interest_rate=Decimal("0.09"),
            ),
        ]
        self.loans, self.behaviour, self.delay, self.bounced = [], {}, {}, []
        for number in range(LOANS):
            product = products[number % 3]
            grade = self.rng.choice("ABCDE")
            borrower = (EnterpriseFactory if product.code == "BIZ12" else BorrowerFactory)(risk_grade=grade)
            loan = loan_create(
                borrower=borrower,
                product=product,
                principal_amount=Decimal(self.rng.choice(["3000.00", "6000.00", "12000.00", "24000.00"])),
                term_months=self.rng.choice([6, 12]),
                disbursed_on=datetime.date(2025, 12, 20) + datetime.timedelta(days=2 * number),
            )
            self.loans.append(loan)
            self.behaviour[loan.pk] = BEHAVIOURS[(number // 3) % len(BEHAVIOURS)]  # each on every product
            self.delay[loan.pk] = self.rng.randint(4, 45)  # days late ("late"), days of paying ("stops")

    def _owed(self, loan, *, due_on_or_before) -> Decimal:
        rows = Installment.objects.filter(loan=loan, due_date__lte=due_on_or_before, outstanding_amount__gt=0)
        return sum(rows.values_list("outstanding_amount", flat=True), ZERO)

    def _post(self, loan, amount, today) -> Payment | None:
        if amount <= 0:
            return None
        payment, _created = payment_post(
            loan=loan,
            source="replay",
            external_ref=f"P{next(self.refs):06d}",
            amount=amount,
            received_on=today,
            channel=Payment.Channel.ALIPAY,
        )
        return payment

    def pay(self, today: datetime.date) -> None:
        for payment, reverse_on in list(self.bounced):
            if reverse_on == today:
                payment_reverse(payment=payment, reason="退票 bounced", reversed_on=today)
                self.bounced.remove((payment, reverse_on))
        for loan in self.loans:
            behaviour, delay = self.behaviour[loan.pk], self.delay[loan.pk]
            if behaviour == "punctual":
                self._post(loan, self._owed(loan, due_on_or_before=today), today)
            elif behaviour == "late":
                self._post(loan, self._owed(loan, due_on_or_before=today - datetime.timedelta(days=delay)), today)
            elif behaviour == "partial" and (today - FIRST_DAY).days % 20 == delay % 20:
                owed = self._owed(loan, due_on_or_before=today - datetime.timedelta(days=1))
                self._post(loan, to_money(owed / 2), today)
            elif behaviour == "stops" and today < FIRST_DAY + datetime.timedelta(days=delay):
                self._post(loan, self._owed(loan, due_on_or_before=today), today)
            elif behaviour == "bounces" and today.day == 25 and today < datetime.date(2026, 5, 1):
                payment = self._post(loan, self._owed(loan, due_on_or_before=today), today)
                if payment is not None:
                    self.bounced.append((payment, today + datetime.timedelta(days=6)))


# ---------------------------------------------------------------------------------------------------------
# Invariants


class Ladder:
    """The default ladder as data: stage ids by start DPD, and the (stage, kind) keys each stage creates."""

    def __init__(self):
        stages = DunningStage.objects.filter(policy__is_default=True, is_active=True, start_dpd__gte=1)
        self.start = dict(stages.values_list("pk", "start_dpd"))
        self.starts = sorted(self.start.values())
        self.keys = defaultdict(set)
        for stage_id, kind in StageAction.objects.filter(stage__in=stages).values_list("stage_id", "kind"):
            self.keys[self.start[stage_id]].add((stage_id, kind))

    def stage_for(self, dpd: int) -> int | None:
        reached = [start for start in self.starts if start <= dpd]
        return reached[-1] if reached else None

    def keys_up_to(self, start: int) -> set:
        return set().union(*(self.keys[s] for s in self.starts if s <= start))


def expected_delinquency(as_of: datetime.date) -> dict[int, tuple]:
    """{loan id: (DPD, bucket, overdue)} recomputed in Python from the unpaid installments."""
    grace = dict(Loan.objects.values_list("pk", "product__grace_days"))
    overdue, oldest = defaultdict(lambda: ZERO), {}
    for loan_id, due_date, outstanding in Installment.objects.filter(
        loan__status=Loan.Status.ACTIVE, due_date__lt=as_of, outstanding_amount__gt=0
    ).values_list("loan_id", "due_date", "outstanding_amount"):
        overdue[loan_id] += outstanding
        oldest[loan_id] = min(oldest.get(loan_id, due_date), due_date)
    result = {}
    for loan_id in Loan.objects.filter(status=Loan.Status.ACTIVE).values_list("pk", flat=True):
        dpd = days_past_due(oldest.get(loan_id), as_of, grace[loan_id])
        result[loan_id] = (dpd, bucket_for(dpd), overdue[loan_id])
    return result


def check_invariants(as_of: datetime.date, ladder: Ladder, history: dict) -> None:
    """The ladder's rules after the run for `as_of`. `history`: {case id: (highest DPD seen, stage start)}."""
    loans = {
        pk: (dpd, bucket, overdue, status)
        for pk, dpd, bucket, overdue, status in Loan.objects.values_list(
            "pk", "days_past_due", "aging_bucket", "overdue_amount", "status"
        )
    }
    expected = expected_delinquency(as_of)
    assert {pk: loans[pk][:3] for pk in expected} == expected, f"{as_of}: loan delinquency"

    per_loan = CollectionCase.objects.filter(is_open=True).values("loan").annotate(n=Count("pk"))
    assert all(row["n"] == 1 for row in per_loan), f"{as_of}: two open cases on one loan"
    cases = list(
        CollectionCase.objects.filter(is_open=True).values_list(
            "pk", "loan_id", "stage_id", "status", "days_past_due", "overdue_amount"
        )
    )
    for case_id, score, dpd, overdue, grade, broken in CollectionCase.objects.filter(is_open=True).values_list(
        "pk", "priority_score", "days_past_due", "overdue_amount", "borrower__risk_grade", "broken_promises"
    ):
        expected_score = priority_score(
            days_past_due=dpd, overdue_amount=overdue, risk_grade=grade, broken_promises=broken
        )
        assert score == expected_score, f"{as_of}: case {case_id} priority {score}, expected {expected_score}"
    open_loans = {loan_id for _pk, loan_id, *_rest in cases}
    delinquent = {pk for pk, (dpd, _b, _o, status) in loans.items() if dpd > 0 and status == "active"}
    assert delinquent <= open_loans, f"{as_of}: delinquent loans without a case: {delinquent - open_loans}"
    assert all(expected[loan_id][2] > 0 for loan_id in open_loans), f"{as_of}: open case with nothing overdue"

    actions = defaultdict(list)
    for case_id, stage_id, kind, status in DunningAction.objects.filter(case__in=[c[0] for c in cases]).values_list(
        "case_id", "stage_id", "kind", "status"
    ):
        actions[case_id].append((stage_id, kind, status))
    skipped_keys = defaultdict(set)
    transitions = StageTransition.objects.filter(case__in=[c[0] for c in cases])
    for case_id, skipped_stages in transitions.values_list("case_id", "skipped_stages"):
        skipped_keys[case_id] |= {(entry["stage"], kind) for entry in skipped_stages for kind in entry["actions"]}
    for case_id, loan_id, stage_id, status, dpd, overdue in cases:
        assert status == "open", f"{as_of}: case {case_id} is {status} (nothing pauses it in this replay)"
        assert (dpd, overdue) == (loans[loan_id][0], loans[loan_id][2]), f"{as_of}: case {case_id} not synced"
        highest_dpd = max(history.get(case_id, (0, None))[0], dpd)
        previous_start = history.get(case_id, (0, 0))[1]
        start = ladder.start[stage_id]
        assert start == ladder.stage_for(highest_dpd), f"{as_of}: case {case_id} at D+{start}, DPD up to {highest_dpd}"
        assert start >= previous_start, f"{as_of}: case {case_id} moved back from D+{previous_start} to D+{start}"
        history[case_id] = (highest_dpd, start)
        keys = [(stage, kind) for stage, kind, _status in actions[case_id]]
        assert len(keys) == len(set(keys)), f"{as_of}: case {case_id} has an action twice"
        skipped = skipped_keys[case_id]
        assert not set(keys) & skipped, f"{as_of}: case {case_id} fired an action it had skipped"
        assert set(keys) | skipped == ladder.keys_up_to(start), f"{as_of}: case {case_id} lacks actions"
        assert ladder.keys[start] <= set(keys), f"{as_of}: case {case_id} skipped its current stage's actions"

    duplicated = (
        DunningAction.objects.filter(case__isnull=False)
        .values("case", "stage", "kind")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not duplicated.exists(), f"{as_of}: duplicated actions"
    snapshot = PortfolioSnapshot.objects.filter(as_of=as_of)
    active = [pk for pk, (_d, _b, _o, status) in loans.items() if status == "active"]
    assert sum(snapshot.values_list("loan_count", flat=True)) == len(active), f"{as_of}: snapshot loans"
    snapshot_overdue = sum(snapshot.values_list("overdue_amount", flat=True), ZERO)
    assert snapshot_overdue == sum((expected[pk][2] for pk in active), ZERO), f"{as_of}: snapshot overdue"
    closed_today = CollectionCase.objects.filter(closed_on=as_of).values_list("pk", "loan_id")
    for case_id, loan_id in closed_today:
        still_overdue = Installment.objects.filter(loan_id=loan_id, due_date__lt=as_of, outstanding_amount__gt=0)
        assert not still_overdue.exists(), f"{as_of}: case {case_id} closed with an instalment overdue"
    # A closed case leaves nothing waiting: no pending action, approval or promise.
    closed = CollectionCase.objects.filter(is_open=False)
    waiting = DunningAction.objects.filter(case__in=closed, status__in=["pending", "awaiting_approval"])
    assert not waiting.exists(), f"{as_of}: actions still waiting on closed cases"
    assert not ApprovalRequest.objects.filter(case__in=closed, status="pending").exists(), f"{as_of}: approvals"
    assert not PromiseToPay.objects.filter(case__in=closed, status="pending").exists(), f"{as_of}: promises"


# ---------------------------------------------------------------------------------------------------------
# The replay


def test_replaying_120_business_days_keeps_the_ladder_invariants_and_ends_idempotent(team):
    portfolio = Portfolio()
    ladder = Ladder()
    history = {}
    for offset in range(DAYS):
        today = FIRST_DAY + datetime.timedelta(days=offset)
        portfolio.pay(today)
        report = dunning_run(as_of=today)
        assert not report.skipped_as_done
        check_invariants(today, ladder, history)

    assert DunningRun.objects.filter(status="succeeded").count() == DAYS
    assert DunningRun.objects.exclude(status="succeeded").count() == 0

    # Where the never-paying borrowers end: computed from their first due dates alone.
    never = [loan for loan in portfolio.loans if portfolio.behaviour[loan.pk] == "never"]
    expected_stage = {}
    for loan in never:
        dpd = days_past_due(loan.first_due_date, LAST_DAY, loan.product.grace_days)
        expected_stage[loan.reference] = ladder.stage_for(dpd)
    actual_stage = dict(
        CollectionCase.objects.filter(loan__in=never, is_open=True).values_list("loan__reference", "stage__start_dpd")
    )
    assert actual_stage == expected_stage
    # Three blocks of three: first due in late January, around 1 March, early April.
    assert sorted(expected_stage.values()) == [30, 30, 30, 90, 90, 90, 90, 90, 90]
    at_d90 = CollectionCase.objects.filter(is_open=True, stage__start_dpd=90)
    assert at_d90.count() >= 6
    for case in at_d90:
        assert sorted(DunningAction.objects.filter(case=case, stage=case.stage).values_list("kind", "status")) == [
            ("credit_bureau_report", "awaiting_approval"),
            ("legal_referral", "awaiting_approval"),
        ]
        assert sorted(
            ApprovalRequest.objects.filter(case=case, status="pending", requested_by=None).values_list(
                "kind", flat=True
            )
        ) == ["credit_bureau_report", "legal_referral"]
    reached = set(StageTransition.objects.values_list("to_stage__start_dpd", flat=True).distinct())
    assert reached == {1, 3, 7, 15, 30, 60, 90}
    # Payments cured cases along the way, and some loans fell behind again and got a new case.
    assert CollectionCase.objects.filter(status="cured", close_reason="cured").count() > 10
    assert CollectionCase.objects.values("loan").annotate(n=Count("pk")).filter(n__gt=1).count() > 3
    # Jumps happened (a bounced payment, or first seen late): their lower stages were recorded as skipped.
    assert StageTransition.objects.exclude(skipped_stages=[]).exists()

    # Idempotency: the last date again, through the service and the command, changes nothing.
    before = database_fingerprint()
    again = dunning_run(as_of=LAST_DAY)
    assert again.skipped_as_done
    out = io.StringIO()
    call_command("run_dunning", "--as-of", LAST_DAY.isoformat(), stdout=out)
    assert out.getvalue().strip() == f"{LAST_DAY}: already run; nothing changed."
    assert_same_fingerprint(database_fingerprint(), before)
    # And a dry run of the next date writes nothing either.
    call_command("run_dunning", "--as-of", (LAST_DAY + datetime.timedelta(days=1)).isoformat(), "--dry-run", stdout=out)
    assert_same_fingerprint(database_fingerprint(), before)
