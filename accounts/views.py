"""Signing in and out, the language switch, and the audit-trail screens for Compliance."""

import datetime

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from creditops.core.parsing import parse_id
from creditops.core.spreadsheets import csv_response

from . import audit_words, selectors
from .filters import AuditEventFilter, BlockedContactFilter
from .services import audit_record, preferred_language_set

AUDIT_PAGE_SIZE = 100
# One CSV export holds at most this many rows; narrow the filters for more (the file says so at its end).
EXPORT_ROW_LIMIT = 100_000


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    extra_context = {"failure_limit": settings.AXES_FAILURE_LIMIT}


@require_POST
def language(request):
    """The header's language switch: Django's set_language, and for a signed-in user the choice is also
    remembered as their preference (so it follows them to another browser)."""
    response = set_language(request)
    chosen = request.POST.get("language", "")
    if request.user.is_authenticated and chosen in dict(settings.LANGUAGES):
        preferred_language_set(user=request.user, language=chosen)
    return response


@login_required
@permission_required("accounts.view_auditevent", raise_exception=True)
@require_GET
def audit_events(request):
    """Every audit event, newest first, filterable (category, actor, subject, dates) and exportable."""
    filters = AuditEventFilter(request.GET or None, queryset=selectors.audit_events())
    if request.GET.get("format") == "csv" and filters.is_valid():
        return _csv_export(request, "audit-events", filters, AUDIT_EVENT_COLUMNS)
    return _render_page(request, "accounts/audit_events.html", filters)


@login_required
@permission_required("accounts.view_auditevent", raise_exception=True)
@require_GET
def blocked_contacts(request):
    """Every contact a guardrail refused: who tried, which rule, on which case."""
    filters = BlockedContactFilter(request.GET or None, queryset=selectors.blocked_contacts())
    if request.GET.get("format") == "csv" and filters.is_valid():
        return _csv_export(request, "blocked-contacts", filters, BLOCKED_CONTACT_COLUMNS)
    return _render_page(request, "accounts/blocked_contacts.html", filters)


def _render_page(request, template, filters):
    rows = filters.qs
    before = parse_id(request.GET.get("before"))
    if before is not None:  # the next page: rows older than the last one shown, by (time, id)
        rows = selectors.older_than(rows, filters.time_field, before)
    rows = list(rows[: AUDIT_PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "filters": filters,
        "rows": rows[:AUDIT_PAGE_SIZE],
        "next_before": rows[AUDIT_PAGE_SIZE - 1].pk if len(rows) > AUDIT_PAGE_SIZE else None,
        "is_later_page": before is not None,
        "query": query.urlencode(),
    }
    return render(request, template, context)


def _local(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


# (header, value) per column, headers in the reader's language; the codes stay beside the words.
AUDIT_EVENT_COLUMNS = [
    (_("ID"), lambda event: event.pk),
    (_("Time"), lambda event: _local(event.created_at)),
    (_("Staff user"), lambda event: event.actor_label),
    (_("Event"), lambda event: event.event_words),
    (_("Event code"), lambda event: event.event),
    (_("Record"), lambda event: event.subject_words),
    (_("Record ID"), lambda event: event.subject_id),
    (_("Detail"), lambda event: event.detail_words),
    (_("Detail (JSON)"), lambda event: event.detail_json),
]
BLOCKED_CONTACT_COLUMNS = [
    (_("ID"), lambda attempt: attempt.pk),
    (_("Time"), lambda attempt: _local(attempt.attempted_at)),
    (_("Staff user"), lambda attempt: str(attempt.actor) if attempt.actor_id else gettext("system")),
    (_("Channel"), lambda attempt: attempt.get_channel_display()),
    (_("Rule"), lambda attempt: audit_words.detail_value("rule", attempt.rule)),
    (_("Rule code"), lambda attempt: attempt.rule),
    (_("Profile"), lambda attempt: attempt.profile),
    (_("Case"), lambda attempt: attempt.case_id or ""),
    (_("Loan"), lambda attempt: attempt.loan.reference),
    (_("Automatic"), lambda attempt: gettext("yes") if attempt.is_automatic else gettext("no")),
]


def _csv_export(request, name, filters, columns):
    """Stream the filtered rows as CSV (UTF-8 with BOM, so Excel opens Chinese text correctly), and record
    the export — with its filters — in the audit trail before the first byte leaves."""
    parameters = {key: value for key, value in request.GET.items() if key not in ("format", "before")}
    audit_record(actor=request.user, event="audit.exported", detail={"export": name, "filters": parameters})
    return csv_response(filters.qs.iterator(chunk_size=2000), columns, name=name, limit=EXPORT_ROW_LIMIT)
