"""Reads for collections, including who may see and work which case: one place, used by every interface."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from accounts.models import Team, User
from accounts.roles import ADMINISTRATOR, COLLECTOR, COMPLIANCE, MANAGER, SUPERVISOR
from creditops.core.dates import business_today
from creditops.core.masking import mask_phone
from creditops.core.money import ZERO
from creditops.core.parsing import parse_id
from lending.models import Borrower, Loan, Payment

from .models import (
    ApprovalRequest,
    CollectionCase,
    DunningAction,
    DunningStage,
    OwnerRole,
    PaymentPlan,
    PromiseToPay,
)


def user_roles(user) -> set[str]:
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    roles = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        roles.add(ADMINISTRATOR)
    return roles


SEES_EVERY_CASE = {ADMINISTRATOR, MANAGER, COMPLIANCE}


def sees_every_case(user) -> bool:
    return bool(user_roles(user) & SEES_EVERY_CASE)


def cases_visible_to(user) -> QuerySet[CollectionCase]:
    """Collectors see their own cases, supervisors their teams', managers, compliance and administrators
    everything."""
    roles = user_roles(user)
    cases = CollectionCase.objects.all()
    if roles & SEES_EVERY_CASE:
        return cases
    if SUPERVISOR in roles:
        # The cases of the teams they supervise; a member's cases in another team stay that team's.
        supervised = Team.objects.filter(supervisor=user).values("pk")
        return cases.filter(Q(team_id__in=supervised) | Q(assigned_to=user))
    if COLLECTOR in roles:
        return cases.filter(assigned_to=user)
    return cases.none()


def case_workable_by(user, case: CollectionCase) -> bool:
    """May this user act on the case (log contacts, take promises, …)? Managers and Compliance only read."""
    roles = user_roles(user)
    if ADMINISTRATOR in roles:
        return True
    if not roles & {SUPERVISOR, COLLECTOR}:
        return False
    return cases_visible_to(user).filter(pk=case.pk).exists()


def cases_supervisable_by(user) -> QuerySet[CollectionCase]:
    """The cases this user may reassign or decide approvals on: an administrator's all, a supervisor's
    their teams'."""
    roles = user_roles(user)
    if ADMINISTRATOR in roles:
        return CollectionCase.objects.all()
    return cases_visible_to(user) if SUPERVISOR in roles else CollectionCase.objects.none()


def case_supervisable_by(user, case: CollectionCase) -> bool:
    """May this user reassign the case or decide its approvals?"""
    return cases_supervisable_by(user).filter(pk=case.pk).exists()


def approvals_decidable_by(user) -> QuerySet[ApprovalRequest]:
    """Pending approvals this user may decide: in their scope, and never their own requests."""
    roles = user_roles(user)
    if not (roles & {SUPERVISOR, ADMINISTRATOR}):
        return ApprovalRequest.objects.none()
    pending = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
    if ADMINISTRATOR not in roles:
        pending = pending.filter(case__in=cases_visible_to(user))
    return pending.exclude(requested_by=user).select_related("case__loan", "case__borrower", "plan")


def borrowers_visible_to(user) -> QuerySet[Borrower]:
    """Borrowers with a case the user may see (everyone for those who see every case)."""
    if sees_every_case(user):
        return Borrower.objects.all()
    return Borrower.objects.filter(pk__in=cases_visible_to(user).values("borrower_id"))


def ledger_rows_visible_to(user, rows: QuerySet, *, borrower_path: str, unscoped_permission: str = "") -> QuerySet:
    """Ledger rows (loans, payments, …) of the borrowers `user` sees, through `borrower_path`. Holders of
    `unscoped_permission` see every row (those who post bank payments see every payment)."""
    if (unscoped_permission and user.has_perm(unscoped_permission)) or sees_every_case(user):
        return rows
    return rows.filter(**{f"{borrower_path}__in": borrowers_visible_to(user).values("pk")})


def loans_visible_to(user) -> QuerySet[Loan]:
    return ledger_rows_visible_to(user, Loan.objects.all(), borrower_path="borrower")


def payments_visible_to(user) -> QuerySet[Payment]:
    return ledger_rows_visible_to(
        user, Payment.objects.all(), borrower_path="loan__borrower", unscoped_permission="lending.add_payment"
    )


def portal_abilities(user) -> dict:
    """What the header offers: one roles query, reused by every check below."""
    roles = user_roles(user)
    return {
        "role_names": sorted(str(OwnerRole(role).label) for role in roles),
        "reads_cases": bool(roles),
        "sees_every_case": bool(roles & SEES_EVERY_CASE),
        "supervises": bool(roles & {SUPERVISOR, ADMINISTRATOR}),
        "audits": user.has_perm("accounts.view_auditevent"),
    }


# The worklist: a case's place in it is its priority; pages follow on from the last row shown
# (keyset pagination), so page 2,000 costs what page 1 does and nothing ever counts the whole list.
WORKLIST_PAGE_SIZE = 50


def worklist_cases(user, *, today: datetime.date | None = None) -> QuerySet[CollectionCase]:
    """Open cases in the user's scope, highest priority first, with what each row shows."""
    today = today or business_today()
    due_today = PromiseToPay.objects.due_on(today).filter(case=OuterRef("pk"))
    return (
        cases_visible_to(user)
        .filter(is_open=True)
        .select_related("loan__product", "borrower", "stage", "assigned_to")
        .annotate(promise_due_today=Exists(due_today))
        .order_by("-priority_score", "id")
    )


def worklist_page(cases: QuerySet, *, after: str = "", size: int | None = None) -> tuple[list, str]:
    """One page of `cases` (ordered by -priority_score, id) after the cursor "priority:id", and the cursor
    of the next page ("" on the last)."""
    size = size or WORKLIST_PAGE_SIZE
    priority, case_id = parse_cursor(after)
    if case_id is not None:
        # The redundant `priority_score <= p` gives the index scan a start; the OR alone would not.
        cases = cases.filter(priority_score__lte=priority).filter(
            Q(priority_score__lt=priority) | Q(priority_score=priority, id__gt=case_id)
        )
    rows = list(cases[: size + 1])
    if len(rows) <= size:
        return rows, ""
    last = rows[size - 1]
    return rows[:size], f"{last.priority_score}:{last.pk}"


def parse_cursor(cursor: str) -> tuple[int, int | None]:
    """ "priority:id" → (priority, id); anything else → (0, None), the first page."""
    priority, _sep, case_id = cursor.partition(":")
    priority, case_id = parse_id(priority), parse_id(case_id)
    if priority is None or case_id is None:
        return 0, None
    return priority, case_id


def worklist_counts(user, *, today: datetime.date | None = None) -> dict[str, int]:
    """The figures above the worklist: one pass over the user's open cases for three of them (a
    supervisor's scope is half the book, where separate COUNTs would each scan it), one for promises."""
    today = today or business_today()
    open_cases = cases_visible_to(user).filter(is_open=True)
    counts = open_cases.aggregate(
        open=Count("pk"),
        broken_promises=Count("pk", filter=Q(broken_promises__gt=0)),
        new_today=Count("pk", filter=Q(opened_on=today)),
    )
    counts["promises_due_today"] = PromiseToPay.objects.due_on(today).filter(case__in=open_cases).count()
    return counts


@dataclass
class NextStage:
    stage: DunningStage
    expected_on: datetime.date | None  # None while the ladder waits (dispute, plan)


def next_stage(case: CollectionCase, *, today: datetime.date | None = None) -> NextStage | None:
    """The stage the case reaches next if nothing is paid, and the business date it would get there."""
    if not case.is_open:
        return None
    current_start = case.stage.start_dpd if case.stage_id else -1
    upcoming = (
        DunningStage.objects.filter(policy_id=case.policy_id, is_active=True, start_dpd__gt=current_start)
        .order_by("start_dpd")
        .first()
    )
    if upcoming is None:
        return None
    if case.is_paused:
        return NextStage(upcoming, None)
    today = today or business_today()
    oldest_due = case.loan.oldest_overdue_due_date
    if oldest_due is None:
        return NextStage(upcoming, today + datetime.timedelta(days=max(upcoming.start_dpd - case.days_past_due, 1)))
    # DPD counts from the oldest unpaid due date, so the day is known exactly; a date already past (the
    # nightly run is behind) means the next run.
    reached_on = oldest_due + datetime.timedelta(days=upcoming.start_dpd)
    return NextStage(upcoming, max(reached_on, today + datetime.timedelta(days=1)))


TIMELINE_LIMIT = 100
PAYMENTS_LIMIT = 50
OTHER_LOANS_LIMIT = 20


def case_workspace(case: CollectionCase, *, today: datetime.date | None = None) -> dict:
    """Everything the case workspace shows, each list bounded so a long-running case stays fast."""
    loan = case.loan
    today = today or business_today()
    schedule = list(loan.installments.order_by("sequence"))
    for installment in schedule:
        installment.is_overdue = installment.due_date < today and installment.outstanding_amount > 0
    contacts = list(case.borrower.contacts.order_by("id"))
    for contact in contacts:
        contact.masked_phone = mask_phone(contact.phone)
        contact.reveal_field = f"phone-{contact.pk}"
    return {
        "transition": case.transitions.order_by("-id").first(),
        "next_stage": next_stage(case),
        "open_actions": list(
            case.actions.filter(status__in=[DunningAction.Status.PENDING, DunningAction.Status.AWAITING_APPROVAL])
            .select_related("stage")
            .order_by("created_on", "id")
        ),
        "contacts": contacts,
        "other_loans": list(
            Loan.objects.filter(borrower_id=case.borrower_id)
            .exclude(pk=loan.pk)
            .select_related("product")
            .order_by("-id")[:OTHER_LOANS_LIMIT]
        ),
        "schedule": schedule,
        "outstanding_total": sum((installment.outstanding_amount for installment in schedule), ZERO),
        "payments": list(Payment.objects.filter(loan=loan).order_by("-received_on", "-id")[:PAYMENTS_LIMIT]),
        # By business date: a payment received on Monday and posted on Thursday sits on Monday.
        "timeline": list(case.events.select_related("actor").order_by("-as_of", "-id")[:TIMELINE_LIMIT]),
        "pending_promise": case.promises.filter(status=PromiseToPay.Status.PENDING).first(),
        "open_disputes": list(case.disputes.filter(status="open").order_by("-raised_at")),
        "live_plan": case.plans.filter(status__in=[PaymentPlan.Status.REQUESTED, PaymentPlan.Status.ACTIVE])
        .prefetch_related("installments")
        .first(),
        "pending_approvals": list(
            case.approvals.filter(status=ApprovalRequest.Status.PENDING).select_related("requested_by")
        ),
    }


def team_collectors_of(user) -> QuerySet[User]:
    """Active collectors in the teams the user supervises (every team for administrators)."""
    collectors = User.objects.filter(is_active=True, groups__name=COLLECTOR)
    if ADMINISTRATOR not in user_roles(user):
        collectors = collectors.filter(teams__supervisor=user)
    return collectors.distinct().order_by("username")


def collector_loads(user, *, today: datetime.date | None = None) -> list[dict]:
    """Per collector of the user's teams: open cases, their overdue total, promises due today."""
    today = today or business_today()
    collectors = list(team_collectors_of(user))
    open_cases = cases_visible_to(user).filter(is_open=True, assigned_to__in=[c.pk for c in collectors])
    loads = {
        row["assigned_to"]: row
        for row in open_cases.values("assigned_to").annotate(open_cases=Count("pk"), overdue=Sum("overdue_amount"))
    }
    promises_due = dict(
        PromiseToPay.objects.due_on(today)
        .filter(case__in=open_cases)
        .values("case__assigned_to")
        .annotate(count=Count("pk"))
        .values_list("case__assigned_to", "count")
    )
    empty = {"open_cases": 0, "overdue": 0}
    return [
        {"collector": collector, **loads.get(collector.pk, empty), "promises_due": promises_due.get(collector.pk, 0)}
        for collector in collectors
    ]


def team_queue_cases(user, *, collector_id: int | None = None) -> QuerySet[CollectionCase]:
    """The team queue's list: one collector's open cases, or (by default) the unassigned ones."""
    cases = worklist_cases(user)
    if collector_id is not None:
        return cases.filter(assigned_to_id=collector_id)
    return cases.filter(assigned_to__isnull=True)


def own_pending_requests(user) -> QuerySet[ApprovalRequest]:
    """The user's own requests still waiting: shown to them, never as something they can decide."""
    return (
        ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING, requested_by=user)
        .select_related("case__loan", "case__borrower")
        .order_by("-requested_at")
    )
