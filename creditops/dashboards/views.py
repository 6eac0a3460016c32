"""/dashboard/: the managers' view of the book (Manager, Compliance, Administrator), and its tables as CSV."""

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.models import Team
from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.spreadsheets import spreadsheet_safe
from dunning.selectors import sees_every_case
from lending.models import Product

from . import charts, exports, report, selectors

MAX_PERIOD_DAYS = 366
EARLIEST_DATE = datetime.date(2000, 1, 1)


def _sane_date(value):
    """Dates a dashboard can mean: from 2000 to a year ahead (beyond that, date arithmetic overflows)."""
    if value is not None and not EARLIEST_DATE <= value <= business_today() + datetime.timedelta(days=366):
        raise forms.ValidationError(_("Choose a date between 2000 and next year."))
    return value


class DashboardFilter(forms.Form):
    date_from = forms.DateField(
        label=_("Activity and trend from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    as_of = forms.DateField(label=_("Business date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_as_of(self):
        return _sane_date(self.cleaned_data["as_of"])

    def clean_date_from(self):
        return _sane_date(self.cleaned_data["date_from"])

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("as_of") and data["date_from"] > data["as_of"]:
            self.add_error("date_from", _("The period must start on or before the business date."))
        return data

    def period(self, as_of) -> tuple[int, int]:
        """Days of the trend and of the activity tables: from `date_from` to the business date (at most a
        year), or 90 and 30 days by default."""
        start = self.cleaned_data.get("date_from") if self.is_valid() else None
        if start is None or start > as_of:
            return selectors.TREND_DAYS, selectors.PERFORMANCE_DAYS
        days = min((as_of - start).days + 1, MAX_PERIOD_DAYS)
        return days, days

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
    if request.GET.get("export") and form.errors:
        # An export of what the filters did not say would be the wrong file: refuse it, saying why.
        return HttpResponseBadRequest(" ".join(str(error) for errors in form.errors.values() for error in errors))
    as_of = data.get("as_of") or selectors.latest_snapshot_date()
    scope = selectors.Scope(
        product_id=data["product"].pk if data.get("product") else None,
        team_id=data["team"].pk if data.get("team") else None,
    )
    trend_days, period_days = form.period(as_of) if as_of else (selectors.TREND_DAYS, selectors.PERFORMANCE_DAYS)
    export, file_format = request.GET.get("export"), request.GET.get("format")
    if export in EXPORTABLE and as_of and file_format in EXPORTERS:
        table = _tables(as_of, scope, trend_days, period_days, only=export)[export]
        return EXPORTERS[file_format](request, export, table, as_of)
    tables = _tables(as_of, scope, trend_days, period_days) if as_of else {}
    context = {"form": form, "as_of": as_of, "scope": scope, **tables}
    context["has_snapshot"] = as_of is not None and selectors.latest_snapshot_date(on_or_before=as_of) == as_of
    if as_of:
        context["bucket_chart"] = charts.bar_chart([(row["label"], row["outstanding"]) for row in tables["buckets"]])
        trend = tables["trend"]
        context["overdue_chart"] = charts.line_chart([(row["day"], row["overdue"]) for row in trend])
        context["rate_chart"] = charts.line_chart(
            [(row["day"], row["rate_30_balance"]) for row in trend], kind=charts.PERCENT
        )
        context["recovery_chart"] = charts.line_chart([(row["day"], row["recovered"]) for row in trend])
        context["vintage_chart"] = charts.vintage_chart(tables["vintages"])
        context["roll_targets"] = selectors.roll_target_labels()
        context["flow_labels"] = selectors.flow_labels()
    return render(request, "dashboards/dashboard.html", context)


def _tables(as_of, scope, trend_days, period_days, only: str | None = None) -> dict:
    """The page's tables (or just `only`, for an export), each computed by its selector."""
    roll_month = selectors.roll_rate_month(as_of)
    builders = {
        "headline": lambda: selectors.headline(as_of, scope, period_days=period_days),
        "buckets": lambda: selectors.bucket_distribution(as_of, scope),
        "stages": lambda: selectors.cases_per_stage(as_of, scope),
        "trend": lambda: selectors.trend(as_of, scope, days=trend_days),
        "rollrates": lambda: selectors.roll_rate_matrix(roll_month, scope) if roll_month else [],
        "flows": lambda: selectors.flow_rates(as_of, scope),
        "vintages": lambda: selectors.vintage_curves(scope),
        "performance": lambda: selectors.collector_performance(as_of, scope, days=period_days),
        "compliance": lambda: selectors.compliance_panel(as_of, days=period_days),
    }
    tables = {name: build() for name, build in builders.items() if only in (None, name) and name != "teams"}
    if only in (None, "teams"):  # the teams roll up the collectors' table, computed once
        collectors = tables.get("performance") or builders["performance"]()
        tables["teams"] = selectors.team_performance(collectors)
    tables["roll_month"] = roll_month
    tables["trend_start"] = as_of - datetime.timedelta(days=trend_days - 1)
    tables["period_start"] = as_of - datetime.timedelta(days=period_days - 1)
    return tables


EXPORTABLE = list(exports.TABLES)


def _audit_export(request, name: str) -> None:
    parameters = {key: value for key, value in request.GET.items() if key != "export"}
    audit_record(actor=request.user, event="dashboard.exported", detail={"table": name, "filters": parameters})


def _xlsx(request, name, table, as_of):
    """One table of the page as an Excel workbook (numbers stay numbers), the export audited."""
    _audit_export(request, name)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=name)
    header, rows = exports.export_table(name, table)
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_cell(value) for value in row])
    content = io.BytesIO()
    workbook.save(content)
    response = HttpResponse(content.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="dashboard-{name}-{as_of}.xlsx"'
    return response


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_cell(value):
    if value is None or isinstance(value, int | float | Decimal | datetime.date):
        return value
    return spreadsheet_safe(str(value))


def _csv(request, name, table, as_of):
    """One table of the page as CSV, the export recorded (with its filters) in the audit trail."""
    _audit_export(request, name)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dashboard-{name}-{as_of}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    header, rows = exports.export_table(name, table)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return response


EXPORTERS = {"csv": _csv, "xlsx": _xlsx}


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):
        return value  # a number, never a formula
    return spreadsheet_safe(str(value))


class ReportForm(forms.Form):
    month = forms.DateField(label=_("Month"), input_formats=["%Y-%m"], required=False)

    def clean_month(self):
        month = self.cleaned_data["month"]
        if month is not None and not EARLIEST_DATE <= month <= business_today().replace(day=1):
            raise forms.ValidationError(_("Choose a month between 2000 and this month."))
        return month


@login_required
@require_GET
def monthly_report(request):
    """The monthly management report as a PDF (default: last month), the download audited."""
    if not sees_every_case(request.user):
        raise PermissionDenied
    form = ReportForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest(" ".join(str(error) for error in form.errors.get("month", [])))
    month = form.cleaned_data.get("month") if form.is_bound else None
    month = month or report.previous_month()
    month = month.replace(day=1)
    audit_record(actor=request.user, event="dashboard.exported", detail={"table": "monthly_report",
                                                                         "month": f"{month:%Y-%m}"})  # fmt: skip
    content = report.monthly_report_pdf(month, translation.get_language())
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="creditops-report-{month:%Y-%m}.pdf"'
    return response
