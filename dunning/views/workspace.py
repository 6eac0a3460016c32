"""The collector's screens: the worklist and the case workspace with its forms. Views only authorise, parse
and render; every read comes from dunning.selectors and every write from a service. A case or borrower
outside the user's scope answers 404. Every POST that records something (a refused contact included,
which is recorded as blocked) ends in a redirect, so a refresh never records it twice."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from creditops.core.errors import DomainError
from creditops.core.masking import mask_id_number, mask_phone
from creditops.core.parsing import parse_id
from lending.services import personal_data_reveal
from notices.selectors import notices_visible_to
from notices.services.content import postal_address
from notices.services.issue import ISSUED_BY_HAND

from .. import selectors
from ..filters import WorklistFilter
from ..forms import CASE_FORMS, PlanPreviewForm
from ..models import ActionKind, ApprovalRequest
from ..selectors import worklist as worklist_reads
from ..selectors import workspace as workspace_reads
from ..services.guardrails import ContactBlockedError, calls_decide
from .access import require_case_reader

# The worklist a case was opened from travels with it (?from=<the worklist's query>), so "next case"
# walks that list, filters and all.
FROM_WORKLIST = "from"
# The work forms shown filled in at once; the others are fetched when their section is opened, or shown
# by ?open=<form> (their link, without JavaScript).
FORMS_OPEN_AT_ONCE = ("contact", "review")
OPEN_FORM = "open"
REFUSAL_KEY = "workspace_refusal"


@login_required
@require_GET
def worklist(request):
    abilities = require_case_reader(request.user)
    filters = WorklistFilter(request.GET or None, queryset=worklist_reads.worklist_cases(request.user))
    rows, next_cursor = worklist_reads.worklist_page(filters.qs, after=request.GET.get("after", ""))
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "filters": filters,
        "cases": rows,
        "counts": worklist_reads.worklist_counts(request.user),
        "callbacks": _with_guardrail_now(worklist_reads.callbacks_due(request.user)),
        "next_cursor": next_cursor,
        "is_later_page": worklist_reads.parse_cursor(request.GET.get("after", ""))[1] is not None,
        "query": query.urlencode(),
        "from_query": urlencode({FROM_WORKLIST: query.urlencode()}),
        "shows_assignee": abilities["sees_every_case"] or abilities["supervises"],
    }
    return render(request, "cases/worklist.html", context)


def _with_guardrail_now(callbacks):
    """Each due callback with what the guardrail says about calling now (quiet hours, a cap reached)."""
    now = timezone.now()
    decisions = calls_decide([callback.case for callback in callbacks], at=now)
    for callback, decision in zip(callbacks, decisions, strict=True):
        callback.decision_now = decision
        callback.is_late = callback.due_at < now
    return callbacks


def _visible_case(user, pk):
    return get_object_or_404(
        selectors.cases_visible_to(user).select_related(
            "loan__product", "borrower", "stage", "assigned_to", "team", "policy"
        ),
        pk=pk,
    )


def _from_query(request) -> str:
    """The "from=…" query that keeps the worklist a case was opened from ("" when it was not)."""
    came_from = _came_from(request)
    return urlencode({FROM_WORKLIST: came_from}) if came_from else ""


def _came_from(request) -> str:
    """The worklist query the case was opened from ("" when it was not opened from the worklist)."""
    return request.GET.get(FROM_WORKLIST, "")


@login_required
@require_GET
def next_case(request, pk):
    """The "next case" button: the case after this one in the worklist it was opened from, filters and all
    — found when the button is pressed, not on every workspace shown; after the last, the list again."""
    require_case_reader(request.user)
    case = _visible_case(request.user, pk)
    came_from = _came_from(request)
    cases = WorklistFilter(QueryDict(came_from) or None, queryset=worklist_reads.worklist_cases(request.user)).qs
    following = worklist_reads.worklist_next(cases, case)
    if following is None:
        messages.info(request, _("That was the last case of this list."))
        return redirect(reverse("cases:worklist") + (f"?{came_from}" if came_from else ""))
    return redirect(reverse("cases:detail", args=[following]) + "?" + urlencode({FROM_WORKLIST: came_from}))


def _render_workspace(request, case, *, bound_form=None, plan_preview=None, status=200):
    # The case was read through cases_visible_to (_visible_case): the roles say the rest.
    abilities = selectors.abilities_on_a_visible_case(request.user)
    workable, supervisable = abilities["works"], abilities["supervises"]
    reads = workspace_reads.case_workspace(case)
    reviewable = (
        workable
        and case.is_open
        and supervisable
        and any(
            action.kind == ActionKind.SUPERVISOR_REVIEW and action.status == "pending"
            for action in reads["open_actions"]
        )
    )
    refusal = request.session.pop(REFUSAL_KEY, None)
    asked_for = request.GET.get(OPEN_FORM, "")
    forms = _forms_built_at_once(case, asked_for, refusal, reviewable=reviewable) if workable else {}
    if bound_form is not None:
        forms[bound_form.prefix] = bound_form
    came_from = _came_from(request)
    context = {
        "case": case,
        "borrower": case.borrower,
        "loan": case.loan,
        "masked_id_number": mask_id_number(case.borrower.id_number),
        "masked_phone": mask_phone(case.borrower.phone),
        "postal_address": postal_address(case.borrower),
        "workable": workable and case.is_open,
        "reviewable": reviewable,
        "forms": forms,
        "open_form": bound_form.prefix if bound_form is not None else asked_for,
        "refusal": refusal,
        "plan_preview": plan_preview,
        "notices": notices_visible_to(request.user)
        .filter(case=case)
        .prefetch_related("deliveries")
        .order_by("-issued_at")[:20],
        "notice_kinds": ISSUED_BY_HAND,
        "from_query": _from_query(request),
        "worklist_query": came_from,
        "settlement_kind": ApprovalRequest.Kind.SETTLEMENT_DISCOUNT,
        "decides": supervisable and request.user.has_perm("dunning.decide_approvalrequest"),
        **reads,
    }  # fmt: skip
    return render(request, "cases/workspace.html", context, status=status)


def _forms_built_at_once(case, asked_for: str, refusal: dict | None, *, reviewable: bool) -> dict:
    """The work forms the page shows filled in: those open at once (the review's only while one waits),
    the one asked for (?open=) and the one a refusal sent back with what was typed. The others are fetched
    when opened (_work_form.html): the thirteen forms were a third of the page's CPU."""
    shown = [name for name in (*FORMS_OPEN_AT_ONCE, asked_for) if name != "review" or reviewable]
    forms = {name: CASE_FORMS[name](case=case) for name in shown if name in CASE_FORMS}
    if refusal and refusal["form"] in CASE_FORMS:
        forms[refusal["form"]] = CASE_FORMS[refusal["form"]](case=case, initial=refusal["typed"])
    return forms


@login_required
@require_GET
def case_detail(request, pk):
    require_case_reader(request.user)
    return _render_workspace(request, _visible_case(request.user, pk))


@login_required
@require_http_methods(["GET", "POST"])
def case_action(request, pk, form_name):
    """One of the workspace's forms. A GET from htmx is the form itself, fetched when its section is first
    opened; any other GET (a reload of a page that showed a form's errors, a language switch) goes back to
    the workspace. Success, or a guardrail refusal (recorded as blocked): back to the workspace by
    redirect, with a message or the refusal in plain words. An invalid field or a rule that recorded
    nothing: the workspace again, the form still holding what was typed."""
    require_case_reader(request.user)
    case = _visible_case(request.user, pk)
    form_class = CASE_FORMS.get(form_name)
    if form_class is None:
        raise Http404("No such form.")
    if request.method == "GET" and not request.htmx:
        return _back_to_workspace(request, case, form_name)
    if not selectors.case_workable_by(request.user, case):
        raise PermissionDenied
    if request.method == "GET":
        context = {"case": case, "name": form_name, "form": form_class(case=case), "from_query": _from_query(request)}
        return render(request, "cases/_work_form_body.html", context)
    form = form_class(request.POST, case=case)
    if form.is_valid():
        try:
            messages.success(request, form.submit(request.user))
        except ContactBlockedError as blocked:
            request.session[REFUSAL_KEY] = _refusal(form, blocked)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            return _back_to_workspace(request, case, form_name)
        if REFUSAL_KEY in request.session:
            return _back_to_workspace(request, case, form_name)
    case.refresh_from_db()
    return _render_workspace(request, case, bound_form=form, status=400)


def _refusal(form, blocked: ContactBlockedError) -> dict:
    """What the workspace shows after the redirect: the refusal in words and the form as it was typed."""
    decision = blocked.decision
    typed = {name: form.data.get(form.add_prefix(name), "") for name in form.fields}
    return {"form": form.prefix, "message": decision.message, "rule": decision.rule, "profile": decision.profile,
            "typed": typed}  # fmt: skip


def _back_to_workspace(request, case, form_name):
    from_query = _from_query(request)
    query = f"?{from_query}" if from_query else ""
    return redirect(reverse("cases:detail", args=[case.pk]) + query + f"#{form_name}")


@login_required
@require_GET
def plan_preview(request, pk):
    """The instalments a plan would have, as the terms are typed: the table alone for htmx, the workspace
    with it otherwise. Records nothing."""
    require_case_reader(request.user)
    case = _visible_case(request.user, pk)
    if not selectors.case_workable_by(request.user, case):
        raise PermissionDenied
    form = PlanPreviewForm(request.GET, case=case)
    rows, problem = [], ""
    if form.is_valid():
        try:
            rows = form.installments_planned()
        except DomainError as error:
            problem = error.message
    preview = {"rows": rows, "problem": problem, "form": form, "currency": case.loan.currency}
    if request.htmx:
        return render(request, "cases/_plan_preview.html", {"preview": preview})
    return _render_workspace(request, case, bound_form=_plan_form_from(request, case), plan_preview=preview)


def _plan_form_from(request, case):
    """The plan form again, holding the terms typed (unbound: the reason is still to be written)."""
    prefix = f"{CASE_FORMS['plan'].prefix}-"
    typed = {key.removeprefix(prefix): value for key, value in request.GET.items() if key.startswith(prefix)}
    return CASE_FORMS["plan"](case=case, initial=typed)


@login_required
@require_POST
def reveal(request, pk, field):
    """Show one masked value in full (an htmx swap of the masked text), recording who saw it."""
    require_case_reader(request.user)
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
