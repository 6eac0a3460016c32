"""The supervisor's screens: the team queue, the approvals inbox and the reviews queue. Each list is driven by
the supervisor's scope (dunning.selectors) and paged; every decision is a service call followed by a
redirect, so a refresh never decides twice."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from creditops.core.errors import DomainError
from creditops.core.parsing import parse_id

from .. import selectors
from ..forms import DecisionForm, InboxFilterForm, ReassignForm, ReviewForm
from ..selectors import supervision as supervision_reads
from .access import require_supervisor

TEAM_QUEUE_LIMIT = 200
OWN_REQUESTS_LIMIT = 100


@login_required
@require_http_methods(["GET", "POST"])
def team_queue(request):
    """Unassigned cases and each collector's load; reassign selected cases in one go (all or nothing)."""
    require_supervisor(request.user)
    collectors = supervision_reads.team_collectors_of(request.user)
    open_cases = selectors.cases_visible_to(request.user).filter(is_open=True)
    form = ReassignForm(request.POST or None, collectors=collectors, cases=open_cases)
    if request.method == "POST" and form.is_valid():
        try:
            messages.success(request, form.submit(request.user))
            return redirect(request.get_full_path())
        except DomainError as error:
            form.add_error(None, error.message)
    showing = parse_id(request.GET.get("collector"))
    context = {
        "form": form,
        "loads": supervision_reads.collector_loads(request.user),
        "cases": supervision_reads.team_queue_cases(request.user, collector_id=showing)[:TEAM_QUEUE_LIMIT],
        "limit": TEAM_QUEUE_LIMIT,
        "showing": showing,
        "selected": {str(value) for value in form["cases"].value() or []},
    }
    return render(request, "cases/team_queue.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def approvals(request):
    """Pending requests in the decider's scope, oldest first, filtered by kind, team and age, a page at a
    time; tick several and approve or reject them with one reason."""
    require_supervisor(request.user)
    filters = InboxFilterForm(request.GET or None, teams=supervision_reads.teams_supervised_by(request.user))
    decision = DecisionForm(request.POST or None, decidable=selectors.approvals_decidable_by(request.user))
    if request.method == "POST" and decision.is_valid():
        try:
            messages.success(request, decision.submit(request.user))
            return redirect(request.get_full_path())
        except DomainError as error:
            decision.add_error(None, error.message)
    rows, next_cursor = supervision_reads.approvals_inbox_page(
        request.user, after=request.GET.get("after", ""), **filters.criteria()
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "filters": filters,
        "decision": decision,
        "pending": rows,
        "ticked": {str(value) for value in decision["approvals"].value() or []},
        "next_cursor": next_cursor,
        "is_later_page": bool(request.GET.get("after")),
        "query": query.urlencode(),
        "own_requests": supervision_reads.own_pending_requests(request.user)[:OWN_REQUESTS_LIMIT],
    }
    return render(request, "cases/approvals.html", context, status=400 if decision.errors else 200)


@login_required
@require_GET
def reviews(request):
    """The supervisor reviews waiting on the user's teams' cases, oldest first, each with its form."""
    require_supervisor(request.user)
    waiting = supervision_reads.reviews_queue(request.user)
    after = parse_id(request.GET.get("after"))
    if after is not None:
        waiting = waiting.filter(pk__gt=after)
    rows = list(waiting[: supervision_reads.INBOX_PAGE_SIZE + 1])
    next_cursor = rows[-2].pk if len(rows) > supervision_reads.INBOX_PAGE_SIZE else None
    rows = rows[: supervision_reads.INBOX_PAGE_SIZE]
    context = {
        "reviews": [(action, ReviewForm(case=action.case, action=action)) for action in rows],
        "next_cursor": next_cursor,
        "is_later_page": after is not None,
    }
    return render(request, "cases/reviews.html", context)


@login_required
@require_POST
def review_complete(request, pk):
    require_supervisor(request.user)
    action = get_object_or_404(supervision_reads.reviews_queue(request.user), pk=pk)
    form = ReviewForm(request.POST, case=action.case, action=action)
    if form.is_valid():
        try:
            messages.success(request, form.submit(request.user))
        except DomainError as error:
            messages.error(request, error.message)
    else:
        messages.error(request, " ".join(message for errors in form.errors.values() for message in errors))
    return redirect("cases:reviews")
