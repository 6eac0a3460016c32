"""The steps of the nightly run (dunning/services/run.py runs them in order, in one transaction). Each
is set-based SQL — an UPDATE, or an INSERT … SELECT built with the ORM — over the rows that change; the
Python loops touch only the cases being routed and the promises and plans that fall due."""

import datetime

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Floor, JSONObject, Least
from django.utils import timezone

from creditops.core.db import insert_from_select
from creditops.core.money import ZERO, to_money
from lending.delinquency import delinquency_refresh
from lending.models import Borrower, Installment, Loan, Payment, PenaltyPause
from lending.penalties import penalty_accrue
from lending.settlements import settlements_lapse

from ..models import (
    APPROVAL_KIND_FOR_ACTION,
    ApprovalRequest,
    CaseEvent,
    CaseStatus,
    CloseReason,
    CollectionCase,
    Dispute,
    DunningAction,
    DunningPolicy,
    DunningRun,
    DunningStage,
    PaymentPlan,
    PortfolioSnapshot,
    PromiseToPay,
    StageAction,
    StageTransition,
    paused_case_ids,
)
from .assignment import assignments_plan
from .cases import pending_approvals_follow
from .closing import case_records_wind_down

Event = CaseEvent.Kind
ActionStatus = DunningAction.Status
# Priority score, 0-1000: the same weights in SQL (priority_expression) and Python (priority_score).
PRIORITY_DPD_POINTS_PER_DAY, PRIORITY_DPD_CAP = 2, 180
PRIORITY_AMOUNT_UNIT, PRIORITY_AMOUNT_CAP = 100, 300  # one point per 100 overdue, at most 300
PRIORITY_RISK_POINTS = {"A": 0, "B": 40, "C": 80, "D": 120, "E": 160}
PRIORITY_BROKEN_PROMISE_POINTS, PRIORITY_BROKEN_PROMISE_CAP = 45, 4
ASSIGN_CHUNK = 5000


def priority_score(*, days_past_due: int, overdue_amount, risk_grade: str, broken_promises: int) -> int:
    amount_points = min(int(overdue_amount // PRIORITY_AMOUNT_UNIT), PRIORITY_AMOUNT_CAP)
    return (
        min(days_past_due, PRIORITY_DPD_CAP) * PRIORITY_DPD_POINTS_PER_DAY
        + amount_points
        + PRIORITY_RISK_POINTS.get(risk_grade, 0)
        + min(broken_promises, PRIORITY_BROKEN_PROMISE_CAP) * PRIORITY_BROKEN_PROMISE_POINTS
    )


def analyze(*models) -> None:
    """Refresh PostgreSQL's statistics of tables this run has just grown, so the next steps (and the next
    run) are planned for the rows they now hold rather than for an empty table."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def refresh_delinquency(as_of):
    return delinquency_refresh(as_of=as_of)


def accrue_penalty(as_of) -> dict:
    """The day's penalty interest, paused for loans with a performing plan or an open dispute."""
    paused = {
        PenaltyPause.Reason.PLAN: PaymentPlan.objects.filter(status=PaymentPlan.Status.ACTIVE).values("case__loan_id"),
        # A UNION, each branch on its own index: an OR of the two IN (subquery) scans the whole book.
        PenaltyPause.Reason.DISPUTE: Loan.objects.filter(borrower__has_open_dispute=True)
        .order_by()
        .values("pk")
        .union(Dispute.objects.filter(status=Dispute.Status.OPEN).order_by().values("case__loan_id"), all=True),
    }
    return penalty_accrue(day=as_of, paused_loans=paused)


def _loan_value(field_name):
    return Subquery(Loan.objects.filter(pk=OuterRef("loan_id")).values(field_name)[:1])


def sync_cases():
    """Copy each open case's loan figures (DPD, bucket, overdue) where they changed. A case in recovery
    keeps the days past due it was written off at; its amount is what stays written off."""
    working = CollectionCase.objects.filter(is_open=True).exclude(status=CaseStatus.RECOVERY)
    stale = working.exclude(
        days_past_due=F("loan__days_past_due"),
        aging_bucket=F("loan__aging_bucket"),
        overdue_amount=F("loan__overdue_amount"),
    )
    recovering = CollectionCase.objects.filter(is_open=True, status=CaseStatus.RECOVERY).exclude(
        overdue_amount=F("loan__written_off_amount")
    )
    return CollectionCase.objects.filter(pk__in=stale.values("pk")).update(
        days_past_due=_loan_value("days_past_due"),
        aging_bucket=_loan_value("aging_bucket"),
        overdue_amount=_loan_value("overdue_amount"),
    ) + CollectionCase.objects.filter(pk__in=recovering.values("pk")).update(
        overdue_amount=_loan_value("written_off_amount")
    )


def _posted_since(loan_field: str, start: str, end):
    """Sum of posted payments on the row's loan received from `start` (a field) to `end` (a date)."""
    payments = (
        Payment.objects.filter(
            loan_id=OuterRef(loan_field),
            status=Payment.Status.POSTED,
            received_on__gte=OuterRef(start),
            received_on__lte=end,
        )
        .values("loan_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(payments), Value(ZERO), output_field=DecimalField(max_digits=18, decimal_places=2))


def evaluate_promises(as_of) -> dict:
    """Kept when payments since the promise reach its amount (on or before its date); when its date has
    passed: partially kept if something came in, broken if nothing did. A broken or partially kept promise
    counts against the case (broken_promises, which raises its priority)."""
    pending = (
        PromiseToPay.objects.filter(status=PromiseToPay.Status.PENDING, case__is_open=True)
        .annotate(paid=_posted_since("case__loan_id", "made_on", as_of))
        .filter(Q(paid__gte=F("amount")) | Q(promised_for__lt=as_of))
        .select_related("case")
    )
    outcome = {"kept": 0, "partially_kept": 0, "broken": 0}
    for promise in pending:
        paid = min(promise.paid, promise.amount)
        if promise.paid >= promise.amount:
            status, kind = PromiseToPay.Status.KEPT, Event.PROMISE_KEPT
        elif paid > 0:
            status, kind = PromiseToPay.Status.PARTIALLY_KEPT, Event.PROMISE_PARTIAL
        else:
            status, kind = PromiseToPay.Status.BROKEN, Event.PROMISE_BROKEN
        promise.status, promise.paid_amount, promise.evaluated_on = status, to_money(paid), as_of
        promise.save(update_fields=["status", "paid_amount", "evaluated_on"])
        _settle_case(promise.case, broken=status != PromiseToPay.Status.KEPT)
        detail = {"promise": promise.pk, "paid": str(to_money(paid)), "amount": str(promise.amount)}
        _event(promise.case, kind, as_of, detail)
        outcome[status] += 1
    return outcome


def lapse_settlements(as_of) -> int:
    """Settlements past their deadline (or a missed instalment) lapse; their cases resume the ladder (the
    ledger tells collections through its settlement_ended signal)."""
    return settlements_lapse(as_of=as_of)


def evaluate_plans(as_of) -> dict:
    """A performing plan is broken when what came in since it started is less than what has fallen due;
    completed when everything in it is paid. Either way the case goes back to the ladder."""
    due_so_far = Subquery(
        PaymentPlan.objects.filter(pk=OuterRef("pk"))
        .annotate(total=Sum("installments__amount", filter=Q(installments__due_date__lt=as_of)))
        .values("total")
    )
    plans = (
        PaymentPlan.objects.filter(status=PaymentPlan.Status.ACTIVE)
        .annotate(paid=_posted_since("case__loan_id", "starts_on", as_of), due=Coalesce(due_so_far, Value(ZERO)))
        .filter(Q(paid__gte=F("total_amount")) | Q(paid__lt=F("due")))
        .select_related("case")
    )
    outcome = {"completed": 0, "broken": 0}
    for plan in plans:
        completed = plan.paid >= plan.total_amount
        plan.status = PaymentPlan.Status.COMPLETED if completed else PaymentPlan.Status.BROKEN
        plan.ended_on = as_of
        plan.save(update_fields=["status", "ended_on"])
        case = plan.case
        _settle_case(case, broken=not completed)
        kind = Event.PLAN_COMPLETED if completed else Event.PLAN_BROKEN
        _event(case, kind, as_of, {"plan": plan.pk, "paid": str(to_money(plan.paid)), "due": str(to_money(plan.due))})
        outcome["completed" if completed else "broken"] += 1
    return outcome


def _settle_case(case, *, broken: bool) -> None:
    """After a promise or plan is decided: count it against the case if it failed, and set the status from
    the facts. Conditional updates, so a dispute a collector raises meanwhile is not written over."""
    cases = CollectionCase.objects.filter(pk=case.pk, is_open=True)
    if broken:
        cases.update(broken_promises=F("broken_promises") + 1)
    case.refresh_from_db(fields=["is_open", "legal_hold"])
    if case.is_open:
        cases.update(status=case.status_from_facts())


def _event(case, kind, as_of, detail):
    CaseEvent.objects.create(case=case, kind=kind, as_of=as_of, occurred_at=timezone.now(), detail=detail)


def _events_for(cases, kind, as_of, detail) -> int:
    """One timeline row per case in `cases`, in one INSERT … SELECT."""
    rows = cases.order_by().values_list(  # no ORDER BY: the case model's default would sort for nothing
        "pk", Value(kind), Value(as_of), Value(timezone.now()), detail if detail is not None else JSONObject()
    )
    return insert_from_select(CaseEvent, ["case", "kind", "as_of", "occurred_at", "detail"], rows)


def close_cured(as_of) -> dict:
    """Close open cases whose loan has nothing overdue (cured), that left the active book (settled, with
    discount or not), or that were written off and fully recovered. Never while any installment is
    overdue, grace days included. A written-off loan's case stays open, in recovery."""
    open_cases = CollectionCase.objects.filter(is_open=True)
    written_off = open_cases.filter(loan__status=Loan.Status.WRITTEN_OFF)
    written_off.exclude(status__in=[CaseStatus.RECOVERY, CaseStatus.DISPUTED]).update(status=CaseStatus.RECOVERY)
    groups = {
        CloseReason.SETTLED: (open_cases.filter(loan__status=Loan.Status.SETTLED), CaseStatus.CLOSED),
        CloseReason.SETTLED_WITH_DISCOUNT: (
            open_cases.filter(loan__status=Loan.Status.SETTLED_WITH_DISCOUNT),
            CaseStatus.CLOSED,
        ),
        CloseReason.RECOVERED: (written_off.filter(loan__written_off_amount__lte=0), CaseStatus.CLOSED),
        CloseReason.CURED: (
            open_cases.filter(loan__status=Loan.Status.ACTIVE, loan__oldest_overdue_due_date__isnull=True),
            CaseStatus.CURED,
        ),
    }
    closed = {}
    for reason, (cases, status) in groups.items():
        # The ids once (a day's cures are few), so the clean-up statements do not each search the book again.
        case_ids = list(cases.values_list("pk", flat=True))
        closed[reason.value] = 0
        for start in range(0, len(case_ids), ASSIGN_CHUNK):
            chunk = CollectionCase.objects.filter(pk__in=case_ids[start : start + ASSIGN_CHUNK])
            _events_for(chunk, Event.CLOSED, as_of, JSONObject(reason=Value(reason)))
            case_records_wind_down(chunk, reason=reason, on=as_of)
            closed[reason.value] += chunk.update(is_open=False, closed_on=as_of, close_reason=reason, status=status)
    return closed


def _policy_by_product() -> tuple[dict[int, int], int | None]:
    """{product id: policy id} for products an active policy names, and the default policy's id."""
    named = dict(
        DunningPolicy.objects.filter(is_active=True, is_default=False)
        .values_list("products", "pk")
        .exclude(products=None)
    )
    default = DunningPolicy.objects.filter(is_active=True, is_default=True).values_list("pk", flat=True).first()
    return named, default


def open_cases(as_of) -> int:
    """One case per newly delinquent loan (DPD above zero, no open case), under its product's policy."""
    named, default = _policy_by_product()
    # DPD > 0 implies an overdue date: the condition lets the planner use the partial index on it.
    candidates = Loan.objects.filter(
        status=Loan.Status.ACTIVE, oldest_overdue_due_date__isnull=False, days_past_due__gt=0
    ).exclude(Exists(CollectionCase.objects.filter(loan=OuterRef("pk"), is_open=True)))
    targets = [
        (candidates.filter(product_id__in=[p for p, pol in named.items() if pol == policy]), policy)
        for policy in set(named.values())
    ]
    if default is not None:
        targets.append((candidates.exclude(product_id__in=list(named)), default))
    opened = 0
    for loans, policy_id in targets:
        # Routed before they are written, so each case is inserted with its team and collector (no second
        # write of 100,000 rows on a first run); loans no rule routes are inserted last, unassigned.
        for (team_id, collector_id), loan_ids in assignments_plan(_loan_routing_rows(loans)).items():
            for start in range(0, len(loan_ids), ASSIGN_CHUNK):
                chunk = loans.filter(pk__in=loan_ids[start : start + ASSIGN_CHUNK])
                opened += _insert_cases(chunk, policy_id, as_of, team_id, collector_id)
        opened += _insert_cases(loans, policy_id, as_of, None, None)
    new_cases = CollectionCase.objects.filter(is_open=True, opened_on=as_of)
    _events_for(new_cases, Event.OPENED, as_of, JSONObject(dpd=F("days_past_due"), overdue=F("overdue_amount")))
    assigned = JSONObject(team=F("team_id"), to=F("assigned_to_id"), rule=Value("assignment_rules"))
    _events_for(new_cases.filter(team__isnull=False), Event.ASSIGNED, as_of, assigned)
    return opened


def _loan_routing_rows(loans):
    return (
        loans.values(
            "pk", "product_id", bucket=F("aging_bucket"), language=F("borrower__preferred_language"),
            province=F("borrower__province"), team_id=Value(None, output_field=IntegerField()),
        )
        .order_by("-overdue_amount", "pk")
        .iterator(chunk_size=ASSIGN_CHUNK)
    )  # fmt: skip


def _insert_cases(loans, policy_id, as_of, team_id, collector_id) -> int:
    """INSERT … SELECT one open case per loan of `loans` that has none."""
    columns = [
        "loan", "borrower", "policy", "status", "is_open", "priority_score", "days_past_due", "aging_bucket",
        "opened_overdue_amount", "overdue_amount", "broken_promises", "legal_hold", "opened_on", "close_reason",
        "team", "assigned_to",
    ]  # fmt: skip
    rows = loans.values_list(
        "pk",
        "borrower_id",
        Value(policy_id),
        Value(CaseStatus.OPEN),
        Value(True),
        priority_expression(broken_promises=Value(0)),  # scored now, not rewritten by update_priorities
        "days_past_due",
        "aging_bucket",
        "overdue_amount",
        "overdue_amount",
        Value(0),
        Value(False),
        Value(as_of),
        Value(""),
        Value(team_id, output_field=IntegerField()),
        Value(collector_id, output_field=IntegerField()),
    )
    return insert_from_select(CollectionCase, columns, rows)


def _routing_rows(cases):
    return cases.values(
        "pk", "team_id", bucket=F("loan__aging_bucket"), product_id=F("loan__product_id"),
        language=F("borrower__preferred_language"), province=F("borrower__province"),
    )  # fmt: skip


def _route(cases, as_of) -> int:
    """Send cases to the team their assignment rule names and its least-loaded collector (Python over these
    rows only; the updates go out one statement per collector and chunk)."""
    moved = 0
    plan = assignments_plan(_routing_rows(cases).order_by("-overdue_amount", "pk").iterator(chunk_size=ASSIGN_CHUNK))
    for (team_id, collector_id), case_ids in plan.items():
        for start in range(0, len(case_ids), ASSIGN_CHUNK):
            chunk_ids = case_ids[start : start + ASSIGN_CHUNK]
            chunk = CollectionCase.objects.filter(pk__in=chunk_ids)
            moved += chunk.update(team_id=team_id, assigned_to_id=collector_id)
            pending_approvals_follow(case_ids=chunk_ids, team_id=team_id)
            detail = JSONObject(team=F("team_id"), to=F("assigned_to_id"), rule=Value("assignment_rules"))
            _events_for(chunk, Event.ASSIGNED, as_of, detail)
    return moved


def reroute_rolled_cases(as_of) -> int:
    """A case whose loan rolled into another bucket goes where the rules send that bucket (say, from the
    early-stage team to the late-stage team); run before the cases take their loans' new figures."""
    rolled = CollectionCase.objects.filter(is_open=True, team__isnull=False).exclude(
        aging_bucket=F("loan__aging_bucket")
    )
    return _route(rolled, as_of)


def assign_new_cases(as_of) -> int:
    """Cases assigned in this run: those routed as they opened, and any still unassigned that a rule now
    matches."""
    routed_now = _route(CollectionCase.objects.filter(is_open=True, team__isnull=True), as_of)
    return routed_now + CollectionCase.objects.filter(opened_on=as_of, team__isnull=False).count()


def _policies_with_work() -> list[int]:
    """Active policies, and retired ones that still have open cases: those finish their ladder."""
    still_used = CollectionCase.objects.filter(is_open=True).values("policy_id")
    return list(
        DunningPolicy.objects.filter(Q(is_active=True) | Q(pk__in=still_used))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _active_stages(policy_id, *, pre_due: bool):
    stages = DunningStage.objects.filter(policy_id=policy_id, is_active=True)
    stages = stages.filter(start_dpd__lt=1) if pre_due else stages.filter(start_dpd__gte=1)
    return list(stages.order_by("-start_dpd"))


def move_stages(run, as_of) -> int:
    """Move each case (not paused) to the highest stage its DPD reaches, recording the transition with the
    stages it jumped over (their actions are skipped, not fired). Cases never move back: a lower DPD after
    a partial payment keeps the stage reached."""
    moved = 0
    for policy_id in _policies_with_work():
        stages = _active_stages(policy_id, pre_due=False)
        paused = paused_case_ids()
        for position, stage in enumerate(stages):
            eligible = CollectionCase.objects.filter(
                Q(stage__isnull=True) | Q(stage__start_dpd__lt=stage.start_dpd),
                is_open=True, policy_id=policy_id, days_past_due__gte=stage.start_dpd,
            ).exclude(pk__in=paused)  # fmt: skip
            if not eligible.exists():
                continue
            rows = eligible.values_list(
                "pk", Value(run.pk), Value(as_of), "stage_id", Value(stage.pk), Value(stage.name),
                Value(stage.start_dpd), "days_past_due", _skipped_stages(stages[position + 1 :]),
            )  # fmt: skip
            columns = ["case", "run", "as_of", "from_stage", "to_stage", "to_stage_name", "to_stage_start_dpd",
                       "days_past_due", "skipped_stages"]  # fmt: skip
            insert_from_select(StageTransition, columns, rows)
            detail = JSONObject(
                from_stage=F("stage_id"), to_stage=Value(stage.pk), stage=Value(stage.name),
                start_dpd=Value(stage.start_dpd), dpd=F("days_past_due"),
            )  # fmt: skip
            _events_for(eligible, Event.STAGE_CHANGED, as_of, detail)
            moved += CollectionCase.objects.filter(pk__in=eligible.values("pk")).update(stage=stage)
    return moved


def _skipped_stages(lower_stages):
    """SQL for the stages below the target that a case jumps over, given the stage it comes from: all of
    them from no stage, only those above its current stage otherwise. Each entry names the stage and the
    actions that were therefore skipped."""
    ascending = sorted(lower_stages, key=lambda stage: stage.start_dpd)
    entries = [
        {"stage": stage.pk, "name": stage.name, "start_dpd": stage.start_dpd,
         "actions": sorted(stage.actions.values_list("kind", flat=True))}
        for stage in ascending
    ]  # fmt: skip

    def listed(items):
        return Value(items, output_field=JSONField())

    rules = [When(stage__isnull=True, then=listed(entries))]
    rules += [
        When(stage__start_dpd__lt=entry["start_dpd"], then=listed(entries[k:])) for k, entry in enumerate(entries)
    ]
    return Case(*rules, default=listed([]), output_field=JSONField())


SUPERSEDED_RESULT = "superseded:catch-up to {date}"
ACTION_COLUMNS = ["case", "loan", "stage", "kind", "notice_kind", "owner_role", "needs_approval", "status",
                  "created_on", "run", "result"]  # fmt: skip


def create_actions(run, as_of) -> dict:
    """The actions of the stage each case entered today, once per case, keyed by (case, stage, kind):
    pending, or awaiting approval (with the approval request) where the stage says so. Stages a case
    jumped over are recorded on its transition, not fired.

    A catch-up date (run.actions_deferred) creates none. The run of the last date then counts the cases
    that moved on the dates it caught up as moved today: each gets the actions of the stage it has
    reached, and the actions of the stages it passed through meanwhile are recorded as superseded."""
    if run.actions_deferred:
        return {}
    caught_up = _caught_up_runs(as_of)
    moved = StageTransition.objects.filter(Q(run=run) | Q(run__in=caught_up)).values("case_id")
    for policy_id in _policies_with_work():
        for stage in _active_stages(policy_id, pre_due=False):
            for action in StageAction.objects.filter(stage=stage):
                _insert_stage_action(run, as_of, policy_id, stage, action, moved)
                _insert_superseded(run, as_of, stage, action, caught_up)
    created = DunningAction.objects.filter(run=run, case__isnull=False).exclude(status=ActionStatus.SUPERSEDED)
    _request_approvals(created.filter(status=ActionStatus.AWAITING_APPROVAL))
    cases = CollectionCase.objects.filter(pk__in=created.values("case_id"))
    _events_for(cases, Event.ACTION_CREATED, as_of, JSONObject(run=Value(run.pk)))
    return {row["status"]: row["n"] for row in created.values("status").annotate(n=Count("pk")).order_by()}


def _caught_up_runs(as_of):
    """The catch-up dates before `as_of` whose work is still owed: those since the last run that created
    work."""
    succeeded = DunningRun.objects.filter(status=DunningRun.Status.SUCCEEDED, as_of__lt=as_of)
    last_with_work = succeeded.filter(actions_deferred=False).order_by("-as_of").values_list("as_of", flat=True)
    deferred = succeeded.filter(actions_deferred=True)
    since = last_with_work.first()
    return deferred.filter(as_of__gt=since) if since is not None else deferred


def _insert_stage_action(run, as_of, policy_id, stage, action, moved):
    firing = ActionStatus.AWAITING_APPROVAL if action.needs_approval else ActionStatus.PENDING
    # Only cases that changed stage in this run (or on the dates it caught up) can owe new actions: every
    # other case got its stage's actions when it entered it (an action added to a stage later applies
    # from the next entry on).
    cases = (
        CollectionCase.objects.filter(pk__in=moved, is_open=True, policy_id=policy_id, stage=stage)
        .exclude(pk__in=paused_case_ids())
        .exclude(Exists(DunningAction.objects.filter(case=OuterRef("pk"), stage=stage, kind=action.kind)))
    )
    rows = cases.values_list(
        "pk",
        "loan_id",
        Value(stage.pk),
        Value(action.kind),
        Value(action.notice_kind),
        Value(stage.owner_role),
        Value(action.needs_approval),
        Value(firing),
        Value(as_of),
        Value(run.pk),
        Value(""),
    )
    return insert_from_select(DunningAction, ACTION_COLUMNS, rows)


def _insert_superseded(run, as_of, stage, action, caught_up) -> int:
    """The action of a stage a case entered on a caught-up date and has left since (a later stage, or the
    case closed): recorded as superseded, never fired."""
    entered = StageTransition.objects.filter(run__in=caught_up, to_stage=stage).values("case_id")
    cases = (
        CollectionCase.objects.filter(pk__in=entered)
        .exclude(is_open=True, stage=stage)
        .exclude(Exists(DunningAction.objects.filter(case=OuterRef("pk"), stage=stage, kind=action.kind)))
    )
    rows = cases.values_list(
        "pk", "loan_id", Value(stage.pk), Value(action.kind), Value(action.notice_kind), Value(stage.owner_role),
        Value(action.needs_approval), Value(ActionStatus.SUPERSEDED), Value(as_of), Value(run.pk),
        Value(SUPERSEDED_RESULT.format(date=as_of.isoformat())),
    )  # fmt: skip
    return insert_from_select(DunningAction, ACTION_COLUMNS, rows)


def _request_approvals(actions) -> int:
    kind = Case(
        *[
            When(kind=action_kind, then=Value(approval_kind))
            for action_kind, approval_kind in APPROVAL_KIND_FOR_ACTION.items()
        ],
    )
    # Only the kinds that map to an approval (StageAction.clean refuses the others).
    actions = actions.filter(kind__in=list(APPROVAL_KIND_FOR_ACTION))
    # The stage rule that asked goes with the request: the inbox words it as its reason.
    rule = JSONObject(stage=F("stage_id"), start_dpd=F("stage__start_dpd"), dpd=F("case__days_past_due"))
    rows = actions.exclude(Exists(ApprovalRequest.objects.filter(action=OuterRef("pk")))).values_list(
        "case_id",
        "case__team_id",
        kind,
        Value(ApprovalRequest.Status.PENDING),
        Value(timezone.now()),
        "pk",
        Value(""),
        Value(""),
        rule,
        JSONObject(),
    )
    columns = [
        "case", "team", "kind", "status", "requested_at", "action", "request_reason", "decision_reason", "rule",
        "terms",
    ]  # fmt: skip
    return insert_from_select(ApprovalRequest, columns, rows)


def create_predue_actions(run, as_of) -> int:
    """Pre-due stages (D-3 and the like): actions for loans with an installment due exactly that many days
    ahead and no open case, keyed by (loan, stage, kind, due date). On a catch-up date they are recorded
    as superseded: by the last date that reminder is stale."""
    named, default = _policy_by_product()
    status, result = ActionStatus.PENDING, ""
    if run.actions_deferred:
        status, result = ActionStatus.SUPERSEDED, SUPERSEDED_RESULT.format(date=as_of.isoformat())
    created = 0
    for policy_id in DunningPolicy.objects.filter(is_active=True).values_list("pk", flat=True):
        for stage in _active_stages(policy_id, pre_due=True):
            due_date = as_of + datetime.timedelta(days=-stage.start_dpd)
            installments = Installment.objects.filter(
                due_date=due_date, is_open=True, loan__status=Loan.Status.ACTIVE
            ).exclude(Exists(CollectionCase.objects.filter(loan=OuterRef("loan_id"), is_open=True)))
            if policy_id == default:
                installments = installments.exclude(loan__product_id__in=list(named))
            else:
                installments = installments.filter(
                    loan__product_id__in=[p for p, pol in named.items() if pol == policy_id]
                )
            for action in StageAction.objects.filter(stage=stage):
                rows = (
                    installments.exclude(
                        Exists(
                            DunningAction.objects.filter(
                                loan=OuterRef("loan_id"),
                                stage=stage,
                                kind=action.kind,
                                due_date=due_date,
                                case__isnull=True,
                            )
                        )
                    )
                    .values_list(
                        "loan_id",
                        Value(stage.pk),
                        Value(action.kind),
                        Value(action.notice_kind),
                        Value(stage.owner_role),
                        Value(action.needs_approval),
                        Value(due_date),
                        Value(status),
                        Value(as_of),
                        Value(run.pk),
                        Value(result),
                    )
                    .order_by()  # the default ordering would add columns to SELECT DISTINCT
                    .distinct()
                )
                columns = [
                    "loan",
                    "stage",
                    "kind",
                    "notice_kind",
                    "owner_role",
                    "needs_approval",
                    "due_date",
                    "status",
                    "created_on",
                    "run",
                    "result",
                ]
                created += insert_from_select(DunningAction, columns, rows)
    return created


def priority_expression(broken_promises=None):
    """The priority score as SQL over a case row, or over a loan row with `broken_promises` given (a case
    about to be opened); see priority_score for the same rule in Python."""
    broken_promises = F("broken_promises") if broken_promises is None else broken_promises
    risk_points = Subquery(
        Borrower.objects.filter(pk=OuterRef("borrower_id"))
        .order_by()
        .annotate(
            points=Case(
                *[When(risk_grade=grade, then=Value(points)) for grade, points in PRIORITY_RISK_POINTS.items()],
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values("points")
    )
    return (
        Least(F("days_past_due"), Value(PRIORITY_DPD_CAP)) * Value(PRIORITY_DPD_POINTS_PER_DAY)
        + Least(_whole_units(F("overdue_amount"), PRIORITY_AMOUNT_UNIT), Value(PRIORITY_AMOUNT_CAP))
        + risk_points
        + Least(broken_promises, Value(PRIORITY_BROKEN_PROMISE_CAP)) * Value(PRIORITY_BROKEN_PROMISE_POINTS)
    )


def _whole_units(amount, unit):
    return Cast(Floor(amount / Value(unit)), IntegerField())


def update_priorities() -> int:
    """One UPDATE over the open cases whose score changed."""
    changed = CollectionCase.objects.filter(is_open=True).exclude(priority_score=priority_expression())
    return changed.update(priority_score=priority_expression())


def snapshot(as_of) -> int:
    """The day's book by product, bucket, stage and team: loans, overdue (from loans) and outstanding (from
    unpaid installments), grouped in the database."""
    PortfolioSnapshot.objects.filter(as_of=as_of).delete()
    open_case = FilteredRelation("cases", condition=Q(cases__is_open=True))
    keys = ["product_id", "aging_bucket", "open_case__stage_id", "open_case__team_id"]
    loans = (
        Loan.objects.filter(status=Loan.Status.ACTIVE)
        .annotate(open_case=open_case)
        .values(*keys)
        .annotate(loans=Count("pk"), overdue=Sum("overdue_amount"))
        .order_by()
    )
    rows = {tuple(row[key] for key in keys): row for row in loans}
    loan_case = FilteredRelation("loan__cases", condition=Q(loan__cases__is_open=True))
    outstanding = (
        Installment.objects.filter(is_open=True, loan__status=Loan.Status.ACTIVE)
        .annotate(open_case=loan_case)
        .values("loan__product_id", "loan__aging_bucket", "open_case__stage_id", "open_case__team_id")
        .annotate(total=Sum("outstanding_amount"))
        .order_by()
    )
    totals = {tuple(row.values())[:4]: row["total"] for row in outstanding}
    PortfolioSnapshot.objects.bulk_create(
        PortfolioSnapshot(
            as_of=as_of,
            product_id=key[0],
            aging_bucket=key[1],
            stage_id=key[2],
            team_id=key[3],
            loan_count=row["loans"],
            overdue_amount=row["overdue"] or ZERO,
            outstanding_amount=totals.get(key, ZERO),
        )
        for key, row in rows.items()
    )
    return len(rows)
