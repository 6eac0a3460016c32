"""Reads for collections, including who may see and work which case: one place, used by every interface."""

from django.db.models import Q, QuerySet

from accounts.roles import ADMINISTRATOR, COLLECTOR, COMPLIANCE, MANAGER, SUPERVISOR

from .models import ApprovalRequest, CollectionCase


def user_roles(user) -> set[str]:
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    roles = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        roles.add(ADMINISTRATOR)
    return roles


def sees_every_case(user) -> bool:
    return bool(user_roles(user) & {ADMINISTRATOR, MANAGER, COMPLIANCE})


def cases_visible_to(user) -> QuerySet[CollectionCase]:
    """Collectors see their own cases, supervisors their teams', managers, compliance and administrators
    everything."""
    roles = user_roles(user)
    cases = CollectionCase.objects.all()
    if sees_every_case(user):
        return cases
    if SUPERVISOR in roles:
        # The cases of the teams they supervise; a member's cases in another team stay that team's.
        return cases.filter(Q(team__supervisor=user) | Q(assigned_to=user))
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


def case_supervisable_by(user, case: CollectionCase) -> bool:
    """May this user reassign the case or decide its approvals?"""
    roles = user_roles(user)
    if ADMINISTRATOR in roles:
        return True
    return SUPERVISOR in roles and cases_visible_to(user).filter(pk=case.pk).exists()


def approvals_decidable_by(user) -> QuerySet[ApprovalRequest]:
    """Pending approvals this user may decide: in their scope, and never their own requests."""
    if not (user_roles(user) & {SUPERVISOR, ADMINISTRATOR}):
        return ApprovalRequest.objects.none()
    return (
        ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING, case__in=cases_visible_to(user))
        .exclude(requested_by=user)
        .select_related("case__loan", "case__borrower", "plan")
    )
