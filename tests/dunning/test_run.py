"""The nightly dunning run (dunning/services/run.py and `manage.py run_dunning`), one behaviour per test.

Loans are booked through lending.services.loan_create: 12,000.00 over 12 months at 12% (equal
instalments of 1,066.19, the first due 2026-02-15, then the 15th of each month). Runs go forward one
business date at a time, as the nightly job does.
"""

import datetime
import io
import itertools
from collections import Counter
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django_q.models import Schedule

from accounts.models import AuditEvent
from dunning import tasks
from dunning.models import (
    ApprovalRequest,
    CaseEvent,
    CollectionCase,
    DunningAction,
    DunningPolicy,
    DunningRun,
    DunningStage,
    PaymentPlan,
    PortfolioSnapshot,
    PromiseToPay,
    StageAction,
    StageTransition,
)
from dunning.services import approvals as approvals_service
from dunning.services import run_steps
from dunning.services.approvals import approval_decide, plan_request
from dunning.services.cases import dispute_raise, dispute_resolve, promise_record
from dunning.services.run import dunning_run
from dunning.services.run_steps import priority_score
from lending.models import Installment, Loan, Payment
from lending.services import loan_create, payment_post
from tests.factories import BorrowerFactory, ProductFactory

pytestmark = pytest.mark.django_db

DISBURSED_ON = datetime.date(2026, 1, 15)
FIRST_DUE = datetime.date(2026, 2, 15)
SECOND_DUE = datetime.date(2026, 3, 15)
INSTALMENT = Decimal("1066.19")  # every instalment of the default loan
LADDER_STARTS = [1, 3, 7, 15, 30, 60, 90, 180]
# The default ladder's actions per stage (migration 0002): kind -> needs approval.
LADDER_ACTIONS = {
    1: {"sms_reminder": False},
    3: {"email_reminder": False},
    7: {"collector_call": False},
    15: {"collection_notice": False},
    30: {"collection_notice": False, "supervisor_review": False},
    60: {"final_demand": False},
    90: {"legal_referral": True, "credit_bureau_report": True},
    180: {"charge_off_proposal": True},
}
_payment_refs = itertools.count(1)


# ---------------------------------------------------------------------------------------------------------
# Helpers


def day(dpd: int, due: datetime.date = FIRST_DUE) -> datetime.date:
    """The business date on which an instalment due on `due` is `dpd` days late."""
    return due + datetime.timedelta(days=dpd)


def book_loan(product, borrower=None, principal="12000.00", disbursed_on=DISBURSED_ON, term_months=12) -> Loan:
    return loan_create(
        borrower=borrower or BorrowerFactory(),
        product=product,
        principal_amount=Decimal(principal),
        term_months=term_months,
        disbursed_on=disbursed_on,
        actor=None,
    )


def pay(loan: Loan, amount, on: datetime.date) -> Payment:
    payment, created = payment_post(
        loan=loan,
        source="bank-file",
        external_ref=f"RUN-{next(_payment_refs):06d}",
        amount=Decimal(amount),
        received_on=on,
        channel=Payment.Channel.BANK_TRANSFER,
    )
    assert created
    return payment


def run_days(first: datetime.date, last: datetime.date):
    """dunning_run for every date from `first` to `last` inclusive, in order."""
    for offset in range((last - first).days + 1):
        dunning_run(as_of=first + datetime.timedelta(days=offset))


def stage(start_dpd: int) -> DunningStage:
    return DunningStage.objects.get(policy__is_default=True, is_active=True, start_dpd=start_dpd)


def ladder_stage_for(dpd: int) -> int | None:
    """The start DPD of the highest default stage a DPD reaches."""
    reached = [start for start in LADDER_STARTS if start <= dpd]
    return reached[-1] if reached else None


def open_case(loan: Loan) -> CollectionCase:
    return CollectionCase.objects.select_related("stage").get(loan=loan, is_open=True)


def actions_of(case) -> dict[tuple[int, str], str]:
    """{(stage start DPD, kind): status} of a case's actions."""
    rows = DunningAction.objects.filter(case=case).values_list("stage__start_dpd", "kind", "status")
    return {(start, kind): status for start, kind, status in rows}


def transitions_of(case) -> list[tuple]:
    """(as_of, from stage id, to stage id, stage name then, stage start then, DPD) of a case's transitions."""
    return list(
        StageTransition.objects.filter(case=case)
        .order_by("id")
        .values_list("as_of", "from_stage_id", "to_stage_id", "to_stage_name", "to_stage_start_dpd", "days_past_due")
    )


def case_priority(case: CollectionCase) -> int:
    return priority_score(
        days_past_due=case.days_past_due,
        overdue_amount=case.overdue_amount,
        risk_grade=case.borrower.risk_grade,
        broken_promises=case.broken_promises,
    )


def table_rows() -> dict[str, int]:
    """Row count of every table of the dunning app, plus the audit trail."""
    counts = {model._meta.label: model.objects.count() for model in apps.get_app_config("dunning").get_models()}
    counts["accounts.AuditEvent"] = AuditEvent.objects.count()
    return counts


def delinquency_fields() -> list[tuple]:
    return list(
        Loan.objects.order_by("pk").values_list(
            "pk", "days_past_due", "aging_bucket", "overdue_amount", "oldest_overdue_due_date", "status"
        )
    )


# ---------------------------------------------------------------------------------------------------------
# The ladder


# Every date of the first two weeks, then the day before and the day of each later stage (a run a day would
# take half a minute on SQLite; the service runs whatever date it is given, in order).
LADDER_RUN_DAYS = [*range(0, 17), 29, 30, 59, 60, 89, 90, 179, 180, 181]


def test_a_loan_climbs_the_ladder_one_stage_at_a_time_and_each_action_is_created_once(team, cn_product):
    loan = book_loan(cn_product)
    stage_by_day = {}
    for dpd in LADDER_RUN_DAYS:
        dunning_run(as_of=day(dpd))
        case = CollectionCase.objects.filter(loan=loan, is_open=True).select_related("stage").first()
        stage_by_day[dpd] = case.stage.start_dpd if case else None
        if case is not None:
            assert case.days_past_due == dpd
            # Each (case, stage, kind) once, however many days the case sits in a stage.
            keys = list(DunningAction.objects.filter(case=case).values_list("stage_id", "kind"))
            assert len(keys) == len(set(keys))

    assert stage_by_day == {dpd: ladder_stage_for(dpd) for dpd in LADDER_RUN_DAYS}
    spot_checks = {0: None, 1: 1, 2: 1, 3: 3, 6: 3, 7: 7, 14: 7, 15: 15, 29: 15, 30: 30, 59: 30, 60: 60, 89: 60,
                   90: 90, 179: 90, 180: 180}  # fmt: skip
    assert {dpd: stage_by_day[dpd] for dpd in spot_checks} == spot_checks
    case = open_case(loan)
    assert CollectionCase.objects.filter(loan=loan).count() == 1
    assert case.opened_on == day(1)
    # One transition per stage, in ladder order, on the day the DPD reached it.
    stage_ids = {start: stage(start).pk for start in LADDER_STARTS}
    assert transitions_of(case) == [
        (day(start), stage_ids.get(previous), stage_ids[start], stage(start).name, start, start)
        for previous, start in zip([None, *LADDER_STARTS[:-1]], LADDER_STARTS, strict=True)
    ]
    # Every stage fired its own actions (none skipped): pending, or awaiting approval where one is needed.
    expected = {
        (start, kind): "awaiting_approval" if needs_approval else "pending"
        for start, kinds in LADDER_ACTIONS.items()
        for kind, needs_approval in kinds.items()
    }
    assert actions_of(case) == expected
    created_on = dict(DunningAction.objects.filter(case=case).values_list("stage__start_dpd", "created_on").distinct())
    assert created_on == {start: day(start) for start in LADDER_STARTS}
    assert DunningAction.objects.filter(case=case).count() == 10
    # The stages needing approval asked for it, once per action.
    approvals = Counter(
        ApprovalRequest.objects.filter(case=case, status="pending", requested_by=None).values_list("kind", flat=True)
    )
    assert approvals == Counter({"legal_referral": 1, "credit_bureau_report": 1, "write_off": 1})
    assert set(ApprovalRequest.objects.filter(case=case).values_list("action__kind", flat=True)) == {
        "legal_referral",
        "credit_bureau_report",
        "charge_off_proposal",
    }
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STAGE_CHANGED).count() == 8
    assert DunningRun.objects.filter(status="succeeded").count() == len(LADDER_RUN_DAYS)


def test_a_loan_first_seen_at_dpd_40_lands_in_d30_with_the_stages_below_recorded_as_skipped(team, cn_product):
    loan = book_loan(cn_product)
    report = dunning_run(as_of=day(40))

    case = open_case(loan)
    assert case.stage == stage(30)
    assert (case.days_past_due, case.aging_bucket) == (40, "31-60")
    # February and March (due 12 days ago) are both unpaid.
    assert case.overdue_amount == case.opened_overdue_amount == 2 * INSTALMENT == Decimal("2132.38")
    assert actions_of(case) == {(30, "collection_notice"): "pending", (30, "supervisor_review"): "pending"}
    assert report.counts["actions"] == {"pending": 2}
    [transition] = StageTransition.objects.filter(case=case)
    # The stages jumped over are recorded with the actions that were therefore skipped, not fired.
    assert transition.skipped_stages == [
        {"stage": stage(1).pk, "name": stage(1).name, "start_dpd": 1, "actions": ["sms_reminder"]},
        {"stage": stage(3).pk, "name": stage(3).name, "start_dpd": 3, "actions": ["email_reminder"]},
        {"stage": stage(7).pk, "name": stage(7).name, "start_dpd": 7, "actions": ["collector_call"]},
        {"stage": stage(15).pk, "name": stage(15).name, "start_dpd": 15, "actions": ["collection_notice"]},
    ]
    assert transition.from_stage is None
    assert transition.to_stage == stage(30)
    assert (transition.to_stage_name, transition.to_stage_start_dpd) == (stage(30).name, 30)
    assert (transition.days_past_due, transition.as_of) == (40, day(40))
    assert transition.run == DunningRun.objects.get(as_of=day(40))
    assert transition.rule == f"DPD 40 ≥ D+30: stage “{stage(30).name}” of the policy"

    dunning_run(as_of=day(41))
    assert StageTransition.objects.filter(case=case).count() == 1
    assert DunningAction.objects.filter(case=case).count() == 2


def test_editing_a_stage_a_case_sits_in_rewrites_no_history_and_moves_nothing(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    dunning_run(as_of=day(20))
    case = open_case(loan)
    notice = stage(15)
    assert case.stage == notice
    old_name = notice.name
    history = transitions_of(case)
    assert history == [
        (day(10), None, stage(7).pk, stage(7).name, 7, 10),
        (day(20), stage(7).pk, notice.pk, old_name, 15, 20),
    ]
    actions = actions_of(case)

    # The stage now starts later than the case's DPD: D+7 is the highest stage DPD 21 reaches, yet the case
    # must stay where it is (cases never move back).
    notice.name, notice.start_dpd = "催缴单（修订） Formal notice, revised", 25
    notice.save()
    dunning_run(as_of=day(21))
    dunning_run(as_of=day(26))

    case.refresh_from_db()
    assert case.stage_id == notice.pk
    assert case.days_past_due == 26
    assert transitions_of(case) == history
    _first, second = StageTransition.objects.filter(case=case).order_by("id")
    assert (second.to_stage_name, second.to_stage_start_dpd) == (old_name, 15)
    assert second.rule == f"DPD 20 ≥ D+15: stage “{old_name}” of the policy"
    changed = {(start if start != 25 else 15, kind): status for (start, kind), status in actions_of(case).items()}
    assert changed == actions
    assert DunningAction.objects.filter(case=case).count() == 2  # D+7's call and D+15's notice

    # The next stage is reached as usual, from the edited stage.
    dunning_run(as_of=day(30))
    case.refresh_from_db()
    assert case.stage == stage(30)
    assert transitions_of(case)[-1] == (day(30), notice.pk, stage(30).pk, stage(30).name, 30, 30)
    assert len(transitions_of(case)) == 3
    assert DunningAction.objects.filter(case=case).count() == 4


def test_a_pre_due_stage_reminds_each_loan_before_each_due_date_once(team, cn_product):
    policy = DunningPolicy.objects.get(is_default=True)
    pre_due = DunningStage.objects.create(policy=policy, name="到期提醒 Pre-due reminder", start_dpd=-3)
    StageAction.objects.create(stage=pre_due, kind="sms_reminder")
    late = book_loan(cn_product)  # due on the 15th, February never paid
    punctual = book_loan(cn_product, disbursed_on=datetime.date(2026, 1, 20))  # due on the 20th, pays on time

    def reminders():
        return sorted(
            DunningAction.objects.filter(stage=pre_due).values_list(
                "loan__reference", "due_date", "created_on", "case", "kind", "status"
            )
        )

    run_days(datetime.date(2026, 2, 10), datetime.date(2026, 2, 17))
    february = [
        (late.reference, FIRST_DUE, datetime.date(2026, 2, 12), None, "sms_reminder", "pending"),
        (punctual.reference, datetime.date(2026, 2, 20), datetime.date(2026, 2, 17), None, "sms_reminder", "pending"),
    ]
    assert reminders() == february
    assert [DunningRun.objects.get(as_of=day(-3 + offset)).counts["predue_actions"] for offset in range(6)] == [
        1, 0, 0, 0, 0, 1
    ]  # fmt: skip
    # Keyed by (loan, stage, kind, due date): reaching the same due date again (the stage made D-2) adds nothing.
    pre_due.start_dpd = -2
    pre_due.save()
    dunning_run(as_of=datetime.date(2026, 2, 18))
    assert DunningRun.objects.get(as_of=datetime.date(2026, 2, 18)).counts["predue_actions"] == 0
    assert reminders() == february
    pre_due.start_dpd = -3
    pre_due.save()
    run_days(datetime.date(2026, 2, 19), datetime.date(2026, 2, 20))
    pay(punctual, INSTALMENT, datetime.date(2026, 2, 20))

    # March: the punctual loan is reminded again; the late one has an open case, so the ladder speaks instead.
    dunning_run(as_of=datetime.date(2026, 3, 12))
    dunning_run(as_of=datetime.date(2026, 3, 17))
    assert open_case(late).stage == stage(30)  # DPD 30 on 2026-03-17
    assert not CollectionCase.objects.filter(loan=punctual).exists()
    assert reminders() == [
        *february,
        (punctual.reference, datetime.date(2026, 3, 20), datetime.date(2026, 3, 17), None, "sms_reminder", "pending"),
    ]
    # A pre-due stage is never a case's stage.
    assert not StageTransition.objects.filter(to_stage=pre_due).exists()


# ---------------------------------------------------------------------------------------------------------
# Payments: cure, partial payment, grace days, delinquent again


def test_paying_everything_overdue_cures_the_case_at_the_next_run(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    case = open_case(loan)
    assert actions_of(case)[(7, "collector_call")] == "pending"

    pay(loan, INSTALMENT, day(11))
    report = dunning_run(as_of=day(11))

    case.refresh_from_db()
    assert (case.is_open, case.status, case.close_reason, case.closed_on) == (False, "cured", "cured", day(11))
    assert actions_of(case) == {(7, "collector_call"): "cancelled"}
    assert report.counts["cases_closed"] == {"settled": 0, "settled_discount": 0, "recovered": 0, "cured": 1}
    closed = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.CLOSED)
    assert (closed.as_of, closed.detail) == (day(11), {"reason": "cured"})
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.aging_bucket, loan.overdue_amount, loan.oldest_overdue_due_date) == (
        0,
        "current",
        Decimal("0.00"),
        None,
    )


def test_paying_the_whole_loan_closes_the_case_as_settled(team, cn_product):
    loan = book_loan(cn_product, principal="1000.00")
    dunning_run(as_of=day(10))
    case = open_case(loan)
    owed = sum(Installment.objects.filter(loan=loan).values_list("outstanding_amount", flat=True), Decimal("0.00"))
    pay(loan, owed, day(11))
    report = dunning_run(as_of=day(11))

    case.refresh_from_db()
    assert (case.is_open, case.status, case.close_reason, case.closed_on) == (False, "closed", "settled", day(11))
    assert report.counts["cases_closed"] == {"settled": 1, "settled_discount": 0, "recovered": 0, "cured": 0}
    assert actions_of(case)[(7, "collector_call")] == "cancelled"
    loan.refresh_from_db()
    assert (loan.status, loan.days_past_due, loan.overdue_amount) == ("settled", 0, Decimal("0.00"))


def test_a_promise_still_pending_when_the_case_is_cured_is_kept_with_what_was_paid(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    case = open_case(loan)
    # More than the arrears, by a date still to come: paying the arrears cures the case first.
    promise = promise_record(case=case, amount="2000.00", promised_for=day(20), actor=case.assigned_to, made_on=day(10))
    pay(loan, INSTALMENT, day(11))
    dunning_run(as_of=day(11))

    case.refresh_from_db()
    assert case.status == "cured"
    promise.refresh_from_db()
    assert (promise.status, promise.evaluated_on) == ("kept", day(11))
    assert promise.paid_amount == INSTALMENT, "a kept promise shows nothing paid towards it"


def test_a_run_that_fails_leaves_nothing_but_its_record_and_the_next_attempt_is_counted(team, cn_product, monkeypatch):
    loan = book_loan(cn_product)

    def broken_snapshot(as_of):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_steps, "snapshot", broken_snapshot)
    with pytest.raises(RuntimeError):
        dunning_run(as_of=day(10))
    failed = DunningRun.objects.get(as_of=day(10))
    assert (failed.status, failed.attempts, failed.error) == ("failed", 1, "RuntimeError('disk full')")
    assert not CollectionCase.objects.exists()
    assert not DunningAction.objects.exists()
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.oldest_overdue_due_date) == (0, None)  # the refresh was rolled back too

    monkeypatch.undo()
    report = dunning_run(as_of=day(10))
    assert not report.skipped_as_done
    run = DunningRun.objects.get(as_of=day(10))
    assert (run.status, run.attempts, run.error) == ("succeeded", 2, "")
    assert open_case(loan).stage == stage(7)


def test_a_partial_payment_lowers_the_overdue_amount_and_the_case_stays_open(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    pay(loan, "500.00", day(11))
    dunning_run(as_of=day(11))

    case = open_case(loan)
    assert (case.status, case.days_past_due, case.aging_bucket) == ("open", 11, "1-30")
    assert case.overdue_amount == Decimal("566.19")
    assert case.opened_overdue_amount == INSTALMENT
    assert case.priority_score == case_priority(case) == 11 * 2 + 5 + 80


def test_a_case_is_not_closed_while_an_instalment_is_overdue_within_the_grace_days(team):
    product = ProductFactory(code="GRACE5", grace_days=5, penalty_daily_rate=Decimal("0"))
    loan = book_loan(product)
    dunning_run(as_of=day(30))  # 2026-03-17: February 30 days late, March 2 days late (within grace)
    case = open_case(loan)
    assert (case.days_past_due, case.stage, case.overdue_amount) == (30, stage(30), 2 * INSTALMENT)

    pay(loan, INSTALMENT, day(31))  # February paid; March is 3 days late, still within the 5 grace days
    dunning_run(as_of=day(31))
    case = open_case(loan)
    assert (case.status, case.days_past_due, case.aging_bucket) == ("open", 0, "current")
    assert case.overdue_amount == INSTALMENT
    assert case.stage == stage(30)  # never moved back
    loan.refresh_from_db()
    assert loan.oldest_overdue_due_date == SECOND_DUE

    dunning_run(as_of=day(34))  # March 6 days late: past grace, DPD counts from its due date
    case = open_case(loan)
    assert (case.days_past_due, case.aging_bucket, case.stage) == (6, "1-30", stage(30))
    assert StageTransition.objects.filter(case=case).count() == 1

    pay(loan, INSTALMENT, day(35))
    dunning_run(as_of=day(35))
    case.refresh_from_db()
    assert (case.is_open, case.status, case.closed_on) == (False, "cured", day(35))


def test_a_loan_delinquent_again_after_a_cure_gets_a_new_case(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    pay(loan, INSTALMENT, day(11))
    dunning_run(as_of=day(11))
    cured = CollectionCase.objects.get(loan=loan)
    assert cured.status == "cured"

    dunning_run(as_of=day(1, SECOND_DUE))  # March missed
    new = open_case(loan)
    assert new.pk != cured.pk
    assert (new.opened_on, new.days_past_due, new.stage, new.overdue_amount) == (
        day(1, SECOND_DUE),
        1,
        stage(1),
        INSTALMENT,
    )
    assert actions_of(new) == {(1, "sms_reminder"): "pending"}
    cured.refresh_from_db()
    assert (cured.is_open, cured.closed_on) == (False, day(11))
    assert CollectionCase.objects.filter(loan=loan).count() == 2

    # The partial unique constraint allows any number of closed cases but one open case per loan.
    fields = {"loan": loan, "borrower": loan.borrower, "policy": new.policy, "aging_bucket": "1-30"}
    CollectionCase.objects.create(
        **fields, opened_on=day(0), is_open=False, status="cured", closed_on=day(1), close_reason="cured"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CollectionCase.objects.create(**fields, opened_on=day(2, SECOND_DUE))
    assert CollectionCase.objects.filter(loan=loan, is_open=True).count() == 1


# ---------------------------------------------------------------------------------------------------------
# Promises, plans, disputes


def test_promises_are_marked_kept_partially_kept_or_broken_from_the_payments(team, cn_product):
    kept_loan, partial_loan, broken_loan = (book_loan(cn_product) for _ in range(3))
    dunning_run(as_of=day(10))
    cases = {
        name: open_case(loan)
        for name, loan in [("kept", kept_loan), ("partial", partial_loan), ("broken", broken_loan)]
    }
    promises = {
        name: promise_record(case=case, amount="500.00", promised_for=day(13), actor=case.assigned_to, made_on=day(10))
        for name, case in cases.items()
    }
    assert {CollectionCase.objects.get(pk=case.pk).status for case in cases.values()} == {"promised"}
    pay(kept_loan, "500.00", day(11))
    pay(partial_loan, "200.00", day(12))

    report = dunning_run(as_of=day(11))  # kept as soon as the amount is in
    assert report.counts["promises"] == {"kept": 1, "partially_kept": 0, "broken": 0}
    for on in (day(12), day(13)):  # the others wait until the promised date has passed
        assert dunning_run(as_of=on).counts["promises"] == {"kept": 0, "partially_kept": 0, "broken": 0}
    report = dunning_run(as_of=day(14))
    assert report.counts["promises"] == {"kept": 0, "partially_kept": 1, "broken": 1}

    outcome = {
        name: PromiseToPay.objects.values_list("status", "paid_amount", "evaluated_on").get(pk=promise.pk)
        for name, promise in promises.items()
    }
    assert outcome == {
        "kept": ("kept", Decimal("500.00"), day(11)),
        "partial": ("partially_kept", Decimal("200.00"), day(14)),
        "broken": ("broken", Decimal("0.00"), day(14)),
    }
    for case in cases.values():
        case.refresh_from_db()
        assert case.status == "open"
        assert case.priority_score == case_priority(case)
    # Anything short of a kept promise counts against the borrower (45 priority points each).
    assert {name: case.broken_promises for name, case in cases.items()} == {"kept": 0, "partial": 1, "broken": 1}
    assert cases["broken"].priority_score == 14 * 2 + 10 + 80 + 45
    assert cases["partial"].priority_score == 14 * 2 + 8 + 80 + 45
    assert cases["kept"].priority_score == 14 * 2 + 5 + 80
    broken_event = CaseEvent.objects.get(case=cases["broken"], kind=CaseEvent.Kind.PROMISE_BROKEN)
    assert (broken_event.as_of, broken_event.detail) == (
        day(14),
        {"promise": promises["broken"].pk, "paid": "0.00", "amount": "500.00"},
    )
    assert CaseEvent.objects.filter(case=cases["partial"], kind=CaseEvent.Kind.PROMISE_PARTIAL).count() == 1
    assert CaseEvent.objects.filter(case=cases["kept"], kind=CaseEvent.Kind.PROMISE_KEPT).count() == 1


def test_an_approved_plan_pauses_the_ladder_and_a_missed_instalment_sends_the_case_back(
    team, cn_product, supervisor, monkeypatch
):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    case = open_case(loan)
    monkeypatch.setattr(approvals_service, "business_today", lambda: day(10))
    plan = plan_request(
        case=case,
        installments=[(day(14), "500.00"), (day(23), "566.19")],
        reason="失业 Lost job",
        actor=case.assigned_to,
    )
    approval_decide(approval=plan.approval, approve=True, reason="Documents seen", actor=supervisor)
    case.refresh_from_db()
    assert case.status == "hardship"
    pay(loan, "500.00", day(14))

    for dpd in range(11, 24):  # DPD passes 15 on day 15: the ladder stays paused while the plan performs
        dunning_run(as_of=day(dpd))
        case.refresh_from_db()
        assert (case.status, case.stage, case.days_past_due) == ("hardship", stage(7), dpd)
    plan.refresh_from_db()
    assert plan.status == "active"
    assert StageTransition.objects.filter(case=case).count() == 1
    assert not DunningAction.objects.filter(case=case, stage=stage(15)).exists()

    report = dunning_run(as_of=day(24))  # the second instalment (due day 23) was missed
    assert report.counts["plans"] == {"completed": 0, "broken": 1}
    plan.refresh_from_db()
    assert (plan.status, plan.ended_on) == (PaymentPlan.Status.BROKEN, day(24))
    case.refresh_from_db()
    assert (case.status, case.stage, case.broken_promises) == ("open", stage(15), 1)
    assert transitions_of(case)[-1] == (day(24), stage(7).pk, stage(15).pk, stage(15).name, 15, 24)
    assert actions_of(case)[(15, "collection_notice")] == "pending"
    assert case.priority_score == case_priority(case) == 24 * 2 + 5 + 80 + 45
    event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.PLAN_BROKEN)
    assert event.detail == {"plan": plan.pk, "paid": "500.00", "due": "1066.19"}


def test_an_open_dispute_pauses_the_ladder_until_it_is_resolved(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(10))
    case = open_case(loan)
    dispute = dispute_raise(case=case, reason="Says the loan was never disbursed", actor=case.assigned_to)

    for dpd in (15, 16):
        dunning_run(as_of=day(dpd))
        case.refresh_from_db()
        assert (case.status, case.stage, case.days_past_due) == ("disputed", stage(7), dpd)
    assert not DunningAction.objects.filter(case=case, stage=stage(15)).exists()

    dispute_resolve(dispute=dispute, resolution="Disbursement receipt shown", actor=case.assigned_to)
    dunning_run(as_of=day(17))
    case.refresh_from_db()
    assert (case.status, case.stage) == ("open", stage(15))
    assert transitions_of(case)[-1] == (day(17), stage(7).pk, stage(15).pk, stage(15).name, 15, 17)
    assert actions_of(case)[(15, "collection_notice")] == "pending"


# ---------------------------------------------------------------------------------------------------------
# Dry run, run record, snapshot


def dunning_state() -> dict:
    """Every row of every dunning table, the audit trail's size and the loans' delinquency fields."""
    state = {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_app_config("dunning").get_models()
    }
    state["audit events"] = AuditEvent.objects.count()
    state["loans"] = delinquency_fields()
    return state


def without_timings(counts: dict) -> dict:
    return {step: value for step, value in counts.items() if step != "timings_ms"}


def test_a_dry_run_prints_what_would_change_and_writes_nothing(team, cn_product):
    curing, moving = book_loan(cn_product), book_loan(cn_product)
    opening = book_loan(cn_product, disbursed_on=datetime.date(2026, 1, 21))  # first due 2026-02-21
    dunning_run(as_of=day(6))  # 2026-02-21: curing and moving at D+3, opening due today
    pay(curing, INSTALMENT, day(7))
    before = dunning_state()
    counts_before = table_rows()

    out = io.StringIO()
    call_command("run_dunning", "--as-of", day(7).isoformat(), "--dry-run", stdout=out)

    assert dunning_state() == before
    assert table_rows() == counts_before
    assert not DunningRun.objects.filter(as_of=day(7)).exists()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("2026-02-22: DRY RUN (nothing written) in ")
    assert "  cases_opened: 1" in lines
    assert "  stage_moves: 2" in lines
    assert "  cases_closed: {'settled': 0, 'settled_discount': 0, 'recovered': 0, 'cured': 1}" in lines
    assert "  actions: {'pending': 2}" in lines
    assert f"  opened (first 1): {opening.reference}" in lines
    assert f"  moved (first 2): {moving.reference}, {opening.reference}" in lines
    assert f"  closed (first 1): {curing.reference}" in lines
    actions = f"{moving.reference}: collector_call (pending), {opening.reference}: sms_reminder (pending)"
    assert f"  actions (first 2): {actions}" in lines

    # The real run then does what the dry run showed.
    dry = dunning_run(as_of=day(7), dry_run=True)
    real = dunning_run(as_of=day(7))
    assert dry.dry_run and not real.dry_run
    assert without_timings(dry.counts) == without_timings(real.counts)
    assert open_case(moving).stage == stage(7)
    assert open_case(opening).stage == stage(1)
    assert CollectionCase.objects.get(loan=curing).status == "cured"


STEPS = [
    "loans_refreshed",
    "penalty_accrued",
    "cases_rerouted",
    "cases_synced",
    "promises",
    "plans",
    "settlements_lapsed",
    "cases_closed",
    "cases_opened",
    "cases_assigned",
    "stage_moves",
    "actions",
    "predue_actions",
    "priorities_updated",
    "snapshot_rows",
    "month_history",
]


def test_the_run_record_and_the_portfolio_snapshot_add_up(team, cn_product):
    short = ProductFactory(code="CASH06", annual_interest_rate=Decimal("0.18"))
    as_of = datetime.date(2026, 3, 20)
    never_paid = book_loan(cn_product)  # DPD 33: February and March unpaid
    march_missed = book_loan(cn_product)  # February paid, March 5 days late
    pay(march_missed, INSTALMENT, FIRST_DUE)
    current = book_loan(cn_product, disbursed_on=datetime.date(2026, 2, 20))  # first due today
    short_never_paid = book_loan(short, principal="6000.00", term_months=6)  # DPD 33
    short_late = book_loan(short, principal="3000.00", term_months=6, disbursed_on=datetime.date(2026, 2, 10))
    settled = book_loan(short, principal="1000.00", term_months=6)
    pay(settled, "2000.00", datetime.date(2026, 1, 20))  # everything, and some credit
    loans = [never_paid, march_missed, current, short_never_paid, short_late, settled]

    report = dunning_run(as_of=as_of)

    run = DunningRun.objects.get(as_of=as_of)
    assert (run.status, run.attempts, run.error) == ("succeeded", 1, "")
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.duration_ms == report.duration_ms >= sum(run.counts["timings_ms"].values())
    assert run.counts == report.counts
    assert set(run.counts) == {*STEPS, "timings_ms"}
    assert set(run.counts["timings_ms"]) == set(STEPS)
    assert {step: run.counts[step] for step in STEPS} == {
        # CASH06 charges 0.05 % a day (CN12 nothing): the February and March instalments of the 6,000.00
        # loan and the first of the 3,000.00 one.
        "penalty_accrued": {"entries": 3, "pauses": {"plan": 0, "dispute": 0, "cost_cap": 0}, "replayed": 0},
        "loans_refreshed": 4,
        "cases_rerouted": 0,
        "cases_synced": 0,
        "promises": {"kept": 0, "partially_kept": 0, "broken": 0},
        "plans": {"completed": 0, "broken": 0},
        "settlements_lapsed": 0,
        "cases_closed": {"settled": 0, "settled_discount": 0, "recovered": 0, "cured": 0},
        "cases_opened": 4,
        "cases_assigned": 4,
        "stage_moves": 4,
        # D+30 twice (2 pending each), D+3 (1 pending), D+7 (1 pending); the stages below were skipped
        "actions": {"pending": 6},
        "predue_actions": 0,
        "priorities_updated": 0,  # new cases are scored as they open
        "snapshot_rows": 5,
        # the month's first run: every active loan with something owed, and one vintage point per
        # product and disbursement month (no February positions yet, so no roll rates)
        "month_history": {"positions": 5, "roll_rate_cells": 0, "vintage_points": 4},
    }
    assert AuditEvent.objects.filter(event="dunning.run", subject_id=str(run.pk)).count() == 1

    for loan in loans:
        loan.refresh_from_db()
    expected_cases = {
        never_paid.reference: (33, "31-60", 30),
        march_missed.reference: (5, "1-30", 3),
        short_never_paid.reference: (33, "31-60", 30),
        short_late.reference: (10, "1-30", 7),
    }
    assert {
        ref: (dpd, bucket, start)
        for ref, dpd, bucket, start in CollectionCase.objects.values_list(
            "loan__reference", "days_past_due", "aging_bucket", "stage__start_dpd"
        )
    } == expected_cases

    snapshot = {
        (row.product.code, row.aging_bucket, row.stage and row.stage.start_dpd, row.team and row.team.name): (
            row.loan_count,
            row.overdue_amount,
            row.outstanding_amount,
        )
        for row in PortfolioSnapshot.objects.filter(as_of=as_of).select_related("product", "stage", "team")
    }
    assert set(snapshot) == {
        ("CN12", "31-60", 30, "Team A"),
        ("CN12", "1-30", 3, "Team A"),
        ("CN12", "current", None, None),
        ("CASH06", "31-60", 30, "Team A"),
        ("CASH06", "1-30", 7, "Team A"),
    }
    assert snapshot[("CN12", "31-60", 30, "Team A")][:2] == (1, Decimal("2132.38"))
    # Totals per product and bucket, recomputed from the ledger rows.
    active = Loan.objects.filter(status=Loan.Status.ACTIVE)
    by_bucket = Counter()
    for product_code, bucket, count, overdue, outstanding in (
        (key[0], key[1], *values) for key, values in snapshot.items()
    ):
        by_bucket[(product_code, bucket, "loans")] += count
        by_bucket[(product_code, bucket, "overdue")] += overdue
        by_bucket[(product_code, bucket, "outstanding")] += outstanding
    expected = Counter()
    for row in active.values("product__code", "aging_bucket").annotate(n=Count("pk"), overdue=Sum("overdue_amount")):
        expected[(row["product__code"], row["aging_bucket"], "loans")] += row["n"]
        expected[(row["product__code"], row["aging_bucket"], "overdue")] += row["overdue"]
    for row in (
        Installment.objects.filter(loan__status=Loan.Status.ACTIVE, outstanding_amount__gt=0)
        .values("loan__product__code", "loan__aging_bucket")
        .annotate(total=Sum("outstanding_amount"))
    ):
        expected[(row["loan__product__code"], row["loan__aging_bucket"], "outstanding")] += row["total"]
    assert by_bucket == expected
    assert sum(count for count, _o, _u in snapshot.values()) == active.count() == 5
    overdue_from_installments = sum(
        Installment.objects.filter(loan__status="active", due_date__lt=as_of).values_list(
            "outstanding_amount", flat=True
        ),
        Decimal("0.00"),
    )
    assert sum(overdue for _c, overdue, _u in snapshot.values()) == overdue_from_installments
    outstanding_total = sum(
        Installment.objects.filter(loan__status="active").values_list("outstanding_amount", flat=True), Decimal("0.00")
    )
    assert sum(outstanding for _c, _o, outstanding in snapshot.values()) == outstanding_total

    # The same date again changes nothing and reports what it did the first time.
    again = dunning_run(as_of=as_of)
    assert again.skipped_as_done and again.counts == run.counts
    assert DunningRun.objects.get(as_of=as_of).attempts == 1
    assert PortfolioSnapshot.objects.filter(as_of=as_of).count() == 5


# ---------------------------------------------------------------------------------------------------------
# Scheduling and the order of dates


def test_setup_schedules_is_idempotent(db):
    first, second = io.StringIO(), io.StringIO()
    call_command("setup_schedules", stdout=first)
    call_command("setup_schedules", stdout=second)

    assert Schedule.objects.count() == 6
    assert sorted(Schedule.objects.values_list("name", "func", "schedule_type", "repeats")) == [
        ("Count yesterday's activity", "creditops.dashboards.tasks.count_finished_days", Schedule.DAILY, -1),
        ("Issue pending notices", "notices.tasks.issue_pending_notices", Schedule.HOURLY, -1),
        ("Monthly management report", "creditops.dashboards.tasks.send_monthly_report", Schedule.MONTHLY, -1),
        ("Nightly dunning run", "dunning.tasks.nightly_run", Schedule.DAILY, -1),
        ("Retry notice e-mails", "notices.tasks.deliver_due_emails", Schedule.MINUTES, -1),
        ("Send automatic reminders", "dunning.tasks.dispatch_reminders", Schedule.HOURLY, -1),
    ]
    assert first.getvalue().count("created: ") == 6
    assert second.getvalue().count("updated: ") == 6


def test_a_date_before_the_last_completed_run_is_refused(team, cn_product):
    book_loan(cn_product)
    dunning_run(as_of=day(10))
    with pytest.raises(CommandError) as refused:
        call_command("run_dunning", "--as-of", day(9).isoformat(), stdout=io.StringIO())
    assert "run.out_of_order" in str(refused.value)
    assert "2026-02-24" in str(refused.value) and "2026-02-25" in str(refused.value)
    assert list(DunningRun.objects.values_list("as_of", flat=True)) == [day(10)]


def test_missed_dates_are_run_first_in_order(team, cn_product, monkeypatch):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(13))
    out = io.StringIO()
    call_command("run_dunning", "--as-of", day(16).isoformat(), stdout=out)

    runs = list(DunningRun.objects.order_by("pk").values_list("as_of", "status"))
    assert runs == [(day(dpd), "succeeded") for dpd in (13, 14, 15, 16)]
    done_lines = [line for line in out.getvalue().splitlines() if ": done in " in line]
    assert [line[:10] for line in done_lines] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    # Each missed date ran as itself: the move to D+15 happened on the day DPD reached 15; its work is
    # created by the last date's run (see the catch-up tests below).
    case = open_case(loan)
    assert transitions_of(case)[-1] == (day(15), stage(7).pk, stage(15).pk, stage(15).name, 15, 15)
    assert DunningAction.objects.get(case=case, stage=stage(15)).created_on == day(16)
    assert list(DunningRun.objects.order_by("as_of").values_list("actions_deferred", flat=True)) == [
        False, True, True, False,
    ]  # fmt: skip

    # The scheduled task does the same from "today".
    monkeypatch.setattr(tasks, "business_today", lambda: day(18))
    done = tasks.nightly_run()
    assert list(done) == ["2026-03-04", "2026-03-05"]
    assert tasks.nightly_run() == {"2026-03-05": "already done"}
    assert DunningRun.objects.filter(status="succeeded").count() == 6


def _live_and_superseded(case):
    """The case's actions: those that are work ((stage start, kind, status, created on)), and those the
    catch-up recorded as superseded ((stage start, kind))."""
    rows = DunningAction.objects.filter(case=case).order_by("stage__start_dpd", "kind")
    rows = rows.values_list("stage__start_dpd", "kind", "status", "created_on", "result")
    live = [row[:4] for row in rows if row[2] != "superseded"]
    superseded = [(row[0], row[1], row[3], row[4]) for row in rows if row[2] == "superseded"]
    return live, superseded


@pytest.mark.parametrize("history", ["first seen at D+20", "caught up from D", "catch-up interrupted and resumed"])
def test_a_catch_up_creates_only_the_work_of_the_stage_reached_on_the_last_date(team, cn_product, history):
    """The run missed 19 nights: every missed date still runs (transitions, snapshots), but the SMS, e-mail
    and call of the stages passed through meanwhile are recorded as superseded, not fired — the same work
    as a case first seen at D+20."""
    loan = book_loan(cn_product)
    if history != "first seen at D+20":
        dunning_run(as_of=day(0))  # the installment falls due today: nothing overdue yet
    if history == "catch-up interrupted and resumed":
        for dpd in range(1, 11):  # the catch-up to D+20 stopped after D+10...
            dunning_run(as_of=day(dpd), catch_up_to=day(20))
    call_command("run_dunning", "--as-of", day(20).isoformat(), stdout=io.StringIO())  # ...and ran again

    case = open_case(loan)
    live, superseded = _live_and_superseded(case)
    assert live == [(15, "collection_notice", "pending", day(20))]
    assert case.stage == stage(15)
    if history == "first seen at D+20":
        assert superseded == []
        assert [entry["start_dpd"] for entry in StageTransition.objects.get(case=case).skipped_stages] == [1, 3, 7]
        return
    assert superseded == [
        (1, "sms_reminder", day(20), "superseded:catch-up to 2026-03-07"),
        (3, "email_reminder", day(20), "superseded:catch-up to 2026-03-07"),
        (7, "collector_call", day(20), "superseded:catch-up to 2026-03-07"),
    ]
    assert [row[0] for row in transitions_of(case)] == [day(1), day(3), day(7), day(15)]
    assert PortfolioSnapshot.objects.filter(as_of__gte=day(1), as_of__lte=day(20)).dates("as_of", "day").count() == 20


def test_after_a_catch_up_the_next_night_creates_work_as_usual(team, cn_product):
    loan = book_loan(cn_product)
    dunning_run(as_of=day(0))
    call_command("run_dunning", "--as-of", day(20).isoformat(), stdout=io.StringIO())
    run_days(day(21), day(30))

    live, _superseded = _live_and_superseded(open_case(loan))

    assert [(start, kind, created) for start, kind, _status, created in live] == [
        (15, "collection_notice", day(20)),
        (30, "collection_notice", day(30)),
        (30, "supervisor_review", day(30)),
    ]
