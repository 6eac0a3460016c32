"""The collections workspace: the worklist, the case workspace and its forms, the team queue and the
approvals inbox. Views only authorise, parse and render; every read comes from dunning.selectors and every
write from a service. A case, borrower or approval outside the user's scope answers 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from creditops.core.errors import DomainError
from creditops.core.masking import mask_id_number, mask_phone
from creditops.core.parsing import parse_id
from lending.services import personal_data_reveal
from notices.selectors import notices_visible_to
from notices.services.content import postal_address
from notices.services.issue import ISSUED_BY_HAND

from . import selectors
from .filters import WorklistFilter
from .forms import CASE_FORMS, DecisionForm, ReassignForm
from .selectors import supervision as supervision_reads
from .selectors import worklist as worklist_reads
from .selectors import workspace as workspace_reads
from .services.guardrails import ContactBlockedError

TEAM_QUEUE_LIMIT = 200
APPROVALS_LIMIT = 100


def _require_case_reader(user) -> dict:
    abilities = selectors.portal_abilities(user)
    if not abilities["reads_cases"]:
        raise PermissionDenied
    return abilities


def _require_supervisor(user) -> dict:
    abilities = _require_case_reader(user)
    if not abilities["supervises"]:
        raise PermissionDenied
    return abilities


@login_required
@require_GET
def worklist(request):
    abilities = _require_case_reader(request.user)
    cases = worklist_reads.worklist_cases(request.user)
    filters = WorklistFilter(request.GET or None, queryset=cases)
    rows, next_cursor = worklist_reads.worklist_page(filters.qs, after=request.GET.get("after", ""))
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "filters": filters,
        "cases": rows,
        "counts": worklist_reads.worklist_counts(request.user),
        "next_cursor": next_cursor,
        "is_later_page": worklist_reads.parse_cursor(request.GET.get("after", ""))[1] is not None,
        "query": query.urlencode(),
        "shows_assignee": abilities["sees_every_case"] or abilities["supervises"],
    }
    return render(request, "cases/worklist.html", context)


def _visible_case(user, pk):
    return get_object_or_404(
        selectors.cases_visible_to(user).select_related(
            "loan__product", "borrower", "stage", "assigned_to", "team", "policy"
        ),
        pk=pk,
    )


def _render_workspace(request, case, *, bound_form=None, refusal=None, status=200):
    workable = selectors.case_workable_by(request.user, case)
    forms = {name: form_class(case=case) for name, form_class in CASE_FORMS.items()} if workable else {}
    if bound_form is not None:
        forms[bound_form.prefix] = bound_form
    context = {
        "case": case,
        "borrower": case.borrower,
        "loan": case.loan,
        "masked_id_number": mask_id_number(case.borrower.id_number),
        "masked_phone": mask_phone(case.borrower.phone),
        "postal_address": postal_address(case.borrower),
        "workable": workable and case.is_open,
        "forms": forms,
        "open_form": bound_form.prefix if bound_form is not None else "",
        "refusal": refusal,
        "notices": notices_visible_to(request.user)
        .filter(case=case)
        .prefetch_related("deliveries")
        .order_by("-issued_at")[:20],
        "notice_kinds": ISSUED_BY_HAND,
        **workspace_reads.case_workspace(case),
    }
    return render(request, "cases/workspace.html", context, status=status)


@login_required
@require_GET
def case_detail(request, pk):
    _require_case_reader(request.user)
    return _render_workspace(request, _visible_case(request.user, pk))


@login_required
@require_POST
def case_action(request, pk, form_name):
    """One of the workspace's forms. Success: back to the workspace with a message. A refusal (a guardrail,
    a rule in a service) or an invalid field: the workspace again, the form still holding what was typed."""
    _require_case_reader(request.user)
    case = _visible_case(request.user, pk)
    form_class = CASE_FORMS.get(form_name)
    if form_class is None:
        raise Http404("No such form.")
    if not selectors.case_workable_by(request.user, case):
        raise PermissionDenied
    form = form_class(request.POST, case=case)
    refusal = None
    if form.is_valid():
        try:
            message = form.submit(request.user)
        except ContactBlockedError as blocked:
            refusal = blocked  # recorded as blocked by the service; shown in plain words above the form
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, message)
            return redirect(reverse("cases:detail", args=[case.pk]) + f"#{form_name}")
    case.refresh_from_db()
    return _render_workspace(request, case, bound_form=form, refusal=refusal, status=422 if refusal else 400)


@login_required
@require_POST
def reveal(request, pk, field):
    """Show one masked value in full (an htmx swap of the masked text), recording who saw it."""
    _require_case_reader(request.user)
    case = _visible_case(request.user, pk)
    record = case.borrower
    name, _sep, contact = field.partition("-")
    if contact:
        record = get_object_or_404(case.borrower.contacts, pk=parse_id(contact))
    try:
        value = personal_data_reveal(record=record, field=name, actor=request.user, via="workspace", case_id=case.pk)
    except DomainError as error:
        raise Http404(error.message) from error
    return HttpResponse(format_html('<span class="revealed">{}</span>', value))


@login_required
@require_http_methods(["GET", "POST"])
def team_queue(request):
    """Unassigned cases and each collector's load; reassign selected cases in one go (all or nothing)."""
    _require_supervisor(request.user)
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
@require_GET
def approvals(request):
    _require_supervisor(request.user)
    return _render_approvals(request)


def _render_approvals(request, *, bound=None, status=200):
    pending = list(
        selectors.approvals_decidable_by(request.user)
        .select_related("requested_by", "case__stage", "case__loan__product")
        .prefetch_related("plan__installments")
        .order_by("requested_at", "id")[:APPROVALS_LIMIT]
    )
    forms = {approval.pk: DecisionForm(prefix=f"a{approval.pk}") for approval in pending}
    if bound is not None:
        forms[bound[0]] = bound[1]
    context = {
        "pending": [(approval, forms[approval.pk]) for approval in pending],
        "own_requests": supervision_reads.own_pending_requests(request.user)[:APPROVALS_LIMIT],
        "limit": APPROVALS_LIMIT,
    }
    return render(request, "cases/approvals.html", context, status=status)


@login_required
@require_POST
def approval_decide(request, pk):
    _require_supervisor(request.user)
    approval = get_object_or_404(selectors.approvals_decidable_by(request.user), pk=pk)
    form = DecisionForm(request.POST, prefix=f"a{approval.pk}")
    if form.is_valid():
        try:
            messages.success(request, form.submit(approval, request.user))
            return redirect("cases:approvals")
        except DomainError as error:
            form.add_error(None, error.message)
    return _render_approvals(request, bound=(approval.pk, form), status=400)
