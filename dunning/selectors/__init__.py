"""Reads for collections. This module is the access policy — who may see, work and supervise which case —
in one place, used by every interface; the reads of each screen are beside it (worklist, workspace,
supervision)."""

from django.db.models import Q, QuerySet

from accounts.models import Team
from accounts.roles import ADMINISTRATOR, COLLECTOR, COMPLIANCE, MANAGER, SUPERVISOR
from lending.models import Borrower, Loan, Payment

from ..models import ApprovalRequest, CollectionCase, OwnerRole


def user_roles(user) -> set[str]:
    """The user's roles, read once per user object (a request's user): a page asks many times. Like
    Django's permission cache, a change of groups shows from the next request on."""
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    if not hasattr(user, "_roles_cache"):
        roles = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            roles.add(ADMINISTRATOR)
        user._roles_cache = frozenset(roles)
    return set(user._roles_cache)


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
        # The cases of the teams they supervise; a member's cases in another team stay that team's. The
        # team ids go in as values, not a subquery: the planner then sees how big the scope is and reads a
        # small one from the team and assignee indexes instead of walking the whole book in priority order.
        return cases.filter(Q(team_id__in=supervised_team_ids(user)) | Q(assigned_to=user))
    if COLLECTOR in roles:
        return cases.filter(assigned_to=user)
    return cases.none()


def supervised_team_ids(user) -> list[int]:
    """The teams the user supervises, read once per user object (a request's user), as the roles are."""
    if not hasattr(user, "_supervised_teams_cache"):
        teams = Team.objects.filter(supervisor=user).order_by("pk").values_list("pk", flat=True)
        user._supervised_teams_cache = tuple(teams)
    return list(user._supervised_teams_cache)


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


def abilities_on_a_visible_case(user) -> dict[str, bool]:
    """What the user may do on a case they were shown through cases_visible_to: seeing it already proves
    the scope, so this is the roles alone, with no query — supervisors and collectors see exactly the
    cases they may work, supervisors exactly those they may supervise (case_workable_by and
    case_supervisable_by answer the same for any case)."""
    roles = user_roles(user)
    return {
        "works": bool(roles & {ADMINISTRATOR, SUPERVISOR, COLLECTOR}),
        "supervises": bool(roles & {ADMINISTRATOR, SUPERVISOR}),
    }


def case_supervisable_by(user, case: CollectionCase) -> bool:
    """May this user reassign the case or decide its approvals?"""
    if ADMINISTRATOR in user_roles(user):
        return True
    return cases_supervisable_by(user).filter(pk=case.pk).exists()


def approval_scopes(user) -> list[Q]:
    """Which pending requests the user may decide, as parts each read from one index range: everything
    for an administrator; for a supervisor, the requests of each team they supervise (a request moves
    with its case's team, ApprovalRequest.team) and those of the open cases assigned to them in other
    teams — the cases they see (cases_visible_to). Nothing for anyone else."""
    roles = user_roles(user)
    if ADMINISTRATOR in roles:
        return [Q()]
    if SUPERVISOR not in roles:
        return []
    teams = supervised_team_ids(user)
    scopes = [Q(team_id=team) for team in teams]
    elsewhere = CollectionCase.objects.filter(assigned_to=user, is_open=True).exclude(team_id__in=teams)
    elsewhere = list(elsewhere.values_list("pk", flat=True))
    if elsewhere:
        scopes.append(Q(case_id__in=elsewhere))
    return scopes


def approvals_decidable_by(user) -> QuerySet[ApprovalRequest]:
    """Pending approvals this user may decide: in their scope, and never their own requests."""
    scopes = approval_scopes(user)
    if not scopes:
        return ApprovalRequest.objects.none()
    in_scope = Q()
    for scope in scopes:
        in_scope |= scope
    pending = ApprovalRequest.objects.filter(in_scope, status=ApprovalRequest.Status.PENDING)
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
