"""/dashboard/: the managers' view of the book (Manager, Compliance, Administrator), and its tables as CSV."""

import csv
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.models import Team
from accounts.services import audit_record
from accounts.views import spreadsheet_safe
from dunning.selectors import sees_every_case
from lending.models import Product

from . import charts, selectors


class DashboardFilter(forms.Form):
    as_of = forms.DateField(label=_("Business date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.order_by("code"), required=False,
                                     empty_label=_("All products"))  # fmt: skip
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.order_by("name"), required=False,
                                  empty_label=_("All teams"))  # fmt: skip


@login_required
@require_GET
def dashboard(request):
    if not sees_every_case(request.user):
        raise PermissionDenied
    form = DashboardFilter(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    as_of = data.get("as_of") or selectors.latest_snapshot_date()
    scope = selectors.Scope(
        product_id=data["product"].pk if data.get("product") else None,
        team_id=data["team"].pk if data.get("team") else None,
    )
    tables = _tables(as_of, scope) if as_of else {}
    export = request.GET.get("export")
    if export in tables and request.GET.get("format") == "csv":
        return _csv(request, export, tables[export], as_of)
    context = {"form": form, "as_of": as_of, "scope": scope, **tables}
    if as_of:
        context["bucket_chart"] = charts.bar_chart([(row["label"], row["outstanding"]) for row in tables["buckets"]])
        context["overdue_chart"] = charts.line_chart([(str(row["day"]), row["overdue"]) for row in tables["trend"]])
        context["rate_chart"] = charts.line_chart(
            [(str(row["day"]), row["rate_30_balance"]) for row in tables["trend"]]
        )
    return render(request, "dashboards/dashboard.html", context)


def _tables(as_of, scope) -> dict:
    return {
        "headline": selectors.headline(as_of, scope),
        "buckets": selectors.bucket_distribution(as_of, scope),
        "stages": selectors.cases_per_stage(as_of, scope),
        "trend": selectors.trend(as_of, scope),
    }


CSV_COLUMNS = {
    "headline": [("figure", "label"), ("value", "value"), ("change_7_days", "change_7"),
                 ("change_30_days", "change_30")],
    "buckets": [("bucket", "bucket"), ("loans", "loans"), ("loans_share", "loans_share"),
                ("outstanding", "outstanding"), ("outstanding_share", "outstanding_share")],
    "stages": [("stage", "stage"), ("cases", "cases")],
    "trend": [("day", "day"), ("overdue", "overdue"), ("rate_30_balance", "rate_30_balance")],
}  # fmt: skip


def _csv(request, name, rows, as_of):
    """One table of the page as CSV, the export recorded (with its filters) in the audit trail."""
    parameters = {key: value for key, value in request.GET.items() if key not in ("format", "export")}
    audit_record(actor=request.user, event="dashboard.exported", detail={"table": name, "filters": parameters})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dashboard-{name}-{as_of}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    columns = CSV_COLUMNS[name]
    writer.writerow([header for header, _field in columns])
    for row in rows:
        values = [row[field] if isinstance(row, dict) else getattr(row, field) for _header, field in columns]
        writer.writerow([_cell(value) for value in values])
    return response


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):
        return value  # a number, never a formula
    return spreadsheet_safe(str(value))
