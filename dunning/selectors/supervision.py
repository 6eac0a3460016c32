"""What supervisors work from: their collectors' loads, the team queue, the approvals inbox and the
reviews queue — each driven by the supervisor's scope."""

import datetime

from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import ADMINISTRATOR, COLLECTOR
from creditops.core.dates import business_today
from creditops.core.parsing import parse_id
from lending.models import Installment

from ..models import ActionKind, ApprovalRequest, CollectionCase, DunningAction, PromiseToPay
from . import approval_scopes, cases_supervisable_by, cases_visible_to, user_roles
from .worklist import worklist_cases


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


# The approvals inbox and the reviews queue: oldest first, a page at a time (keyset on the time and id).
INBOX_PAGE_SIZE = 25


def approvals_inbox_page(
    user,
    *,
    after: str = "",
    size: int | None = None,
    kind: str = "",
    team_id: int | None = None,
    waiting_days: int | None = None,
    now=None,
) -> tuple[list[ApprovalRequest], str]:
    """One page of the pending requests the user may decide, oldest first, filtered by kind, by the case's
    team and by how long they have waited, after the cursor "<ISO time>|<id>"; and the next page's cursor
    ("" on the last page). Each of the user's sources gives its oldest rows after the cursor from its own
    index, and the page is the oldest of those: never a walk through other teams' requests."""
    size = size or INBOX_PAGE_SIZE
    moment, after_id = _parse_cursor(after)
    keys = []
    for source in _inbox_sources(user):
        if kind:
            source = source.filter(kind=kind)
        if team_id is not None:
            source = source.filter(team_id=team_id)
        if waiting_days:
            source = source.filter(requested_at__lte=(now or timezone.now()) - datetime.timedelta(days=waiting_days))
        if moment is not None:
            source = source.filter(requested_at__gte=moment).filter(
                Q(requested_at__gt=moment) | Q(requested_at=moment, id__gt=after_id)
            )
        keys += source.order_by("requested_at", "id").values_list("requested_at", "id")[: size + 1]
    keys.sort()
    page_ids = [pk for _moment, pk in keys[:size]]
    rows = list(_inbox_rows().filter(pk__in=page_ids))
    if len(keys) <= size:
        return rows, ""
    last_moment, last_id = keys[size - 1]
    return rows, f"{last_moment.isoformat()}|{last_id}"


def _inbox_sources(user) -> list[QuerySet[ApprovalRequest]]:
    """The requests the user may decide, one lean queryset per part of their scope (approval_scopes), each
    read in inbox order from its own index range: a team with nothing waiting costs one index probe."""
    pending = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).exclude(requested_by=user)
    return [pending.filter(scope) for scope in approval_scopes(user)]


def _inbox_rows() -> QuerySet[ApprovalRequest]:
    """What the inbox shows of each request: the case, its stage and team, the requester, the plan, and for
    a settlement what the loan owes and so the discount."""
    owed = Installment.objects.filter(loan=OuterRef("case__loan_id"), is_open=True).values("loan")
    owed = owed.annotate(total=Sum("outstanding_amount")).values("total")
    return (
        ApprovalRequest.objects.select_related(
            "requested_by", "case__stage", "case__loan__product", "case__borrower", "case__team", "action__stage",
            "plan",
        )
        .annotate(loan_owed=Subquery(owed))
        # A settlement's discount is what the loan owes less the amount agreed.
        .annotate(discount=ExpressionWrapper(F("loan_owed") - F("amount"), output_field=DecimalField(decimal_places=2)))
        .prefetch_related("plan__installments")
        .order_by("requested_at", "id")
    )  # fmt: skip


def _parse_cursor(after: str):
    """(moment, id) of a cursor "<ISO time>|<id>", or (None, None) when it is missing or malformed."""
    time_text, _sep, row_id = after.partition("|")
    row_id = parse_id(row_id)
    moment = _parse_moment(time_text)
    if row_id is None or moment is None:
        return None, None
    return moment, row_id


def _parse_moment(text: str):
    try:
        moment = datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        return None
    return moment


def teams_supervised_by(user) -> QuerySet[Team]:
    teams = Team.objects.order_by("name")
    return teams if ADMINISTRATOR in user_roles(user) else teams.filter(supervisor=user)


def reviews_queue(user) -> QuerySet[DunningAction]:
    """Supervisor reviews the run asked for on the user's teams' open cases, oldest first (ids follow the
    nightly runs' order)."""
    return (
        DunningAction.objects.filter(
            kind=ActionKind.SUPERVISOR_REVIEW,
            status=DunningAction.Status.PENDING,
            case__in=cases_supervisable_by(user).filter(is_open=True),
        )
        .select_related("case__loan", "case__borrower", "case__stage", "case__assigned_to", "stage")
        .order_by("id")
    )
