"""What supervisors work from: their collectors' loads, the team queue, the approvals inbox and the
reviews queue — each driven by the supervisor's scope."""

import datetime

from django.db.models import Count, QuerySet, Sum

from accounts.models import User
from accounts.roles import ADMINISTRATOR, COLLECTOR
from creditops.core.dates import business_today

from ..models import ApprovalRequest, CollectionCase, PromiseToPay
from . import cases_visible_to, user_roles
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
