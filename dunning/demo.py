"""Demo routing for collections: early buckets to the East team, everything else to the North team."""

import contextlib
import datetime
from decimal import Decimal

from django.utils import timezone

from accounts.demo import DEMO_TEAMS
from accounts.models import Team, User
from accounts.roles import COLLECTOR
from creditops.core.dates import add_months, business_today
from creditops.core.money import to_money
from lending.allocation import outstanding_parts
from lending.demo import DEMO_SOURCE
from lending.models import Component, LedgerEntry, Loan, Payment, Restructuring
from lending.selectors import loan_outstanding_amount
from lending.services import payment_post
from lending.settlements import loan_owed_amount

from .models import ApprovalRequest, AssignmentRule, CaseStatus, Channel, CollectionCase, ContactAttempt
from .services.approvals import (
    PlanFrequency,
    approval_decide,
    approval_request,
    plan_installments_even,
    plan_request,
    restructure_request,
    settlement_request,
    waiver_request,
)
from .services.cases import case_note_add, contact_attempt_log
from .services.guardrails import ContactBlockedError
from .services.run import dunning_run


def demo_assignment_rules_create() -> int:
    """Create the demo assignment rules if there are none. Returns how many were created."""
    if AssignmentRule.objects.exists():
        return 0
    east, north = (Team.objects.get(name=name) for (name, _name_en), _slug in DEMO_TEAMS)
    AssignmentRule.objects.create(position=10, team=east, buckets=[Loan.Bucket.DPD_1_30, Loan.Bucket.DPD_31_60])
    AssignmentRule.objects.create(position=20, team=north)
    return 2


# What a morning's casework leaves behind, for a first look at the workspace: for every demo collector,
# calls on their top cases (some reached with a promise, one due today), a note, and on a few cases a
# dispute, a payment plan and a settlement waiting for the supervisor. All through the real services, so
# the guardrail decides each call. The calls are dated in this morning's office hours (yesterday's, before
# 10:30), so a demo seeded at night still shows calls that went through.
DEMO_CASES_PER_COLLECTOR = 4


def demo_casework_create() -> int:
    """Work the top cases of each demo collector once. Returns how many cases were worked (0 if done)."""
    if ContactAttempt.objects.filter(is_automatic=False).exists():
        return 0
    worked = 0
    for collector in User.objects.filter(groups__name=COLLECTOR, is_active=True).order_by("username"):
        cases = CollectionCase.objects.filter(assigned_to=collector, is_open=True).select_related("loan")
        for number, case in enumerate(cases.order_by("-priority_score", "id")[:DEMO_CASES_PER_COLLECTOR]):
            _work(case, collector, number)
            worked += 1
    return worked


def _office_hours_moment(number: int) -> datetime.datetime:
    now = timezone.localtime()
    morning = now.replace(hour=10, minute=number * 5, second=0, microsecond=0)
    return morning if morning < now else morning - datetime.timedelta(days=1)


def _work(case, collector, number):
    today = business_today()
    outcome = ContactAttempt.Outcome.PROMISE_TO_PAY if number in (0, 1) else ContactAttempt.Outcome.NO_ANSWER
    promise = None
    if outcome == ContactAttempt.Outcome.PROMISE_TO_PAY:
        days = 0 if number == 0 else 5  # one promise falls due today
        promise = (min(case.loan.overdue_amount, Decimal("500.00")), today + datetime.timedelta(days=days))
    with contextlib.suppress(ContactBlockedError):  # a refused call stays recorded as blocked
        contact_attempt_log(
            case=case, channel=Channel.CALL, outcome=outcome, actor=collector, at=_office_hours_moment(number),
            promise=promise,
        )  # fmt: skip
    case_note_add(case=case, text=DEMO_NOTES[number % len(DEMO_NOTES)], actor=collector)
    if number == 2:
        rows = plan_installments_even(
            total=case.loan.overdue_amount, count=3, first_due=today + datetime.timedelta(days=10),
            frequency=PlanFrequency.MONTHLY,
        )  # fmt: skip
        plan_request(case=case, installments=rows, reason="借款人失业，申请分三期偿还。", actor=collector)
    elif number == 3:
        settlement_request(
            case=case, amount=(loan_outstanding_amount(case.loan_id) * Decimal("0.8")).quantize(Decimal("0.01")),
            deadline=today + datetime.timedelta(days=14), reason="借款人愿一次性结清八成欠款。", actor=collector,
        )  # fmt: skip


DEMO_NOTES = ["借款人称工资月底到账。", "已发送还款账户信息。", "借款人情绪激动，下次由主管跟进。", "家属代为转告。"]


# What the ledger can do beyond payments, once each on the demo book, through the real requests and a
# supervisor's approval: a penalty waiver, a settlement paid (settled with discount), a settlement still
# waiting for payment, a restructuring, and a write-off with a recovery after it. Cases are taken from the
# top of each bucket's worklist, skipping those the casework above already used.
DEMO_STORY_MIN_ARREARS = Decimal("1000.00")
DEMO_STORY_BUCKETS = {
    "waiver": Loan.Bucket.DPD_31_60,
    "settlement_paid": Loan.Bucket.DPD_61_90,
    "settlement_waiting": Loan.Bucket.DPD_91_180,
    "restructure": Loan.Bucket.DPD_31_60,
    "write_off": Loan.Bucket.DPD_180_PLUS,
}


def demo_ledger_stories_create() -> dict[str, str]:
    """Tell each story once (nothing if a ledger entry exists). Returns {story: loan reference}."""
    if LedgerEntry.objects.exists():
        return {}
    told, used = {}, set()
    for story, bucket in DEMO_STORY_BUCKETS.items():
        case = _story_case(bucket, used)
        if case is None:
            continue
        used.add(case.pk)
        collector = case.assigned_to or User.objects.filter(teams=case.team, groups__name=COLLECTOR).first()
        supervisor = case.team.supervisor if case.team_id else None
        if collector is None or supervisor is None:
            continue
        approval = STORIES[story](case, collector)
        approval_decide(approval=approval, approve=True, reason="同意。", actor=supervisor)
        FOLLOW_UPS.get(story, lambda _case: None)(case)
        told[story] = case.loan.reference
    return told


def _story_case(bucket, used):
    """The top case of the bucket's worklist that nobody has worked by hand, with no plan and arrears
    worth a story (at least 1,000.00)."""
    return (
        CollectionCase.objects.filter(is_open=True, aging_bucket=bucket, status=CaseStatus.OPEN)
        .filter(overdue_amount__gte=DEMO_STORY_MIN_ARREARS)
        .exclude(pk__in=used)
        .exclude(contacts__is_automatic=False)
        .exclude(plans__isnull=False)
        .select_related("loan", "team")
        .order_by("-priority_score", "id")
        .first()
    )


def _waiver(case, collector):
    penalty = sum((outstanding_parts(item)["penalty"] for item in case.loan.installments.all()), Decimal(0))
    return waiver_request(
        case=case, component=Component.PENALTY, amount=max(to_money(penalty / 2), Decimal("0.01")),
        reason="首次逾期，借款人主动联系，减免一半罚息。", actor=collector,
    )  # fmt: skip


def _settlement(case, collector):
    owed = loan_owed_amount(case.loan)
    return settlement_request(
        case=case, amount=to_money(owed * Decimal("0.7")), deadline=business_today() + datetime.timedelta(days=14),
        reason="借款人一次性结清七成欠款，余额减免。", actor=collector,
    )  # fmt: skip


def _restructure(case, collector):
    return restructure_request(
        case=case, method=Restructuring.Method.CAPITALISE, term_months=24,
        first_due_date=add_months(business_today(), 1), reason="借款人收入下降，申请延长期限、欠款转本金。",
        actor=collector,
    )  # fmt: skip


def _write_off(case, collector):
    pending = case.approvals.filter(kind=ApprovalRequest.Kind.WRITE_OFF, status=ApprovalRequest.Status.PENDING).first()
    return pending or approval_request(
        case=case,
        kind=ApprovalRequest.Kind.WRITE_OFF,
        reason="逾期超过180天，经评估无力偿还，申请核销。",
        actor=collector,
    )


def _pay(case, share: Decimal, tag: str) -> None:
    """The borrower pays `share` of what the case's loan owes (or of the agreed settlement) today."""
    loan = Loan.objects.get(pk=case.loan_id)
    settlement = loan.settlements.filter(status="active").first()
    base = settlement.agreed_amount if settlement else loan.written_off_amount or loan_owed_amount(loan)
    payment_post(
        loan=loan, source=DEMO_SOURCE, external_ref=f"{loan.reference}-{tag}", amount=to_money(base * share),
        received_on=business_today(), channel=Payment.Channel.BANK_TRANSFER, actor=None,
    )  # fmt: skip


STORIES = {
    "waiver": _waiver, "settlement_paid": _settlement, "settlement_waiting": _settlement,
    "restructure": _restructure, "write_off": _write_off,
}  # fmt: skip
FOLLOW_UPS = {
    "settlement_paid": lambda case: _pay(case, Decimal(1), "SETTLE"),
    "settlement_waiting": lambda case: _pay(case, Decimal("0.3"), "SETTLE-1"),
    "write_off": lambda case: _pay(case, Decimal("0.1"), "RECOVERY"),
}


def demo_history_walk(held_payments: list, *, start: datetime.date, end: datetime.date, progress=None) -> int:
    """Six months of history the honest way: the book was written as it stood on `start`; each later day
    posts the payments received that day through the ledger, then the nightly run runs that day. Runs
    before `end` are part of one catch-up to `end`, so the ladder's work of those days is recorded as
    superseded and only today's stage creates work. Returns how many runs ran."""
    by_day: dict[datetime.date, list] = {}
    for loan_id, reference, received_on, amount in held_payments:
        by_day.setdefault(received_on, []).append((loan_id, reference, amount))
    loans = Loan.objects.in_bulk({loan_id for loan_id, *_rest in held_payments})
    day, runs = start, 0
    while day <= end:
        for number, (loan_id, reference, amount) in enumerate(by_day.get(day, [])):
            payment_post(
                loan=loans[loan_id], source=DEMO_SOURCE, external_ref=f"{reference}-{day:%Y%m%d}-{number}",
                amount=amount, received_on=day, channel=Payment.Channel.BANK_TRANSFER, actor=None,
            )  # fmt: skip
        dunning_run(as_of=day, catch_up_to=end, holder="demo history")
        runs += 1
        if progress and (day.day == 1 or day == end):
            progress(f"history: {day} run")
        day += datetime.timedelta(days=1)
    return runs
