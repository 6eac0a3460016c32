"""Borrowers, loans and payments as CSV or XLSX, for the admin's export actions.

ID numbers and phone numbers are exported masked, as the changelist shows them: the full values are
personal data whose every viewing is audited (Reveal, the change form), and a file would bypass that.
E-mail addresses and postal addresses, which the changelist does not show, are left out for the same
reason. At most EXPORT_ROW_LIMIT rows are written; the file then ends with a line saying so.
"""

import io

import openpyxl
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from creditops.core import spreadsheets
from creditops.core.spreadsheets import spreadsheet_safe

EXPORT_ROW_LIMIT = 100_000
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

BORROWER_COLUMNS = [
    ("id", lambda borrower: borrower.pk),
    ("kind", lambda borrower: borrower.kind),
    ("name", lambda borrower: borrower.name),
    ("name_latin", lambda borrower: borrower.name_latin),
    ("legal_representative", lambda borrower: borrower.legal_representative),
    ("id_type", lambda borrower: borrower.id_type),
    ("id_number_masked", lambda borrower: borrower.masked_id_number),
    ("phone_masked", lambda borrower: borrower.masked_phone),
    ("province", lambda borrower: borrower.province),
    ("city", lambda borrower: borrower.city),
    ("preferred_language", lambda borrower: borrower.preferred_language),
    ("time_zone", lambda borrower: borrower.time_zone),
    ("risk_grade", lambda borrower: borrower.risk_grade),
    ("credit_limit_amount", lambda borrower: borrower.credit_limit_amount),
    ("on_hold", lambda borrower: borrower.is_on_hold),
]
LOAN_COLUMNS = [
    ("reference", lambda loan: loan.reference),
    ("borrower", lambda loan: loan.borrower.name),
    ("borrower_id_number_masked", lambda loan: loan.borrower.masked_id_number),
    ("product_code", lambda loan: loan.product.code),
    ("currency", lambda loan: loan.currency),
    ("principal_amount", lambda loan: loan.principal_amount),
    ("annual_interest_rate", lambda loan: loan.annual_interest_rate),
    ("term_months", lambda loan: loan.term_months),
    ("disbursed_on", lambda loan: loan.disbursed_on),
    ("first_due_date", lambda loan: loan.first_due_date),
    ("maturity_date", lambda loan: loan.maturity_date),
    ("status", lambda loan: loan.status),
    ("settled_on", lambda loan: loan.settled_on),
    ("credit_balance_amount", lambda loan: loan.credit_balance_amount),
    ("days_past_due", lambda loan: loan.days_past_due),
    ("aging_bucket", lambda loan: loan.aging_bucket),
    ("overdue_amount", lambda loan: loan.overdue_amount),
]
PAYMENT_COLUMNS = [
    ("id", lambda payment: payment.pk),
    ("loan_reference", lambda payment: payment.loan.reference),
    ("source", lambda payment: payment.source),
    ("external_ref", lambda payment: payment.external_ref),
    ("amount", lambda payment: payment.amount),
    ("unallocated_amount", lambda payment: payment.unallocated_amount),
    ("received_on", lambda payment: payment.received_on),
    ("channel", lambda payment: payment.channel),
    ("status", lambda payment: payment.status),
    ("reversed_on", lambda payment: payment.reversed_on),
    ("reversal_reason", lambda payment: payment.reversal_reason),
    ("posted_by", lambda payment: str(payment.posted_by) if payment.posted_by_id else ""),
]


def rows_to_export(queryset) -> tuple[int, bool]:
    """(rows the file will hold, whether the selection had more), counting no further than the limit."""
    count = queryset[: EXPORT_ROW_LIMIT + 1].count()
    return min(count, EXPORT_ROW_LIMIT), count > EXPORT_ROW_LIMIT


def csv_response(queryset, columns, *, name: str, truncated: bool) -> StreamingHttpResponse:
    """Stream the rows as CSV (creditops.core.spreadsheets: BOM, formulas neutralised, the limit's notice;
    the stream finds the limit itself, so `truncated` is only the XLSX writer's concern)."""
    rows = queryset.iterator(chunk_size=2000)
    return spreadsheets.csv_response(rows, columns, name=name, limit=EXPORT_ROW_LIMIT)


def xlsx_response(queryset, columns, *, name: str, truncated: bool) -> HttpResponse:
    """The rows as an XLSX workbook written in streaming mode; numbers and dates stay numbers and dates."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=name)
    sheet.append([header for header, _value in columns])
    for record in queryset[:EXPORT_ROW_LIMIT].iterator(chunk_size=2000):
        sheet.append([_xlsx_cell(value(record)) for _header, value in columns])
    if truncated:
        sheet.append([_limit_notice()])
    content = io.BytesIO()
    workbook.save(content)
    response = HttpResponse(content.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{spreadsheets.export_file_name(name, "xlsx")}"'
    return response


def _xlsx_cell(value):
    if value is None or not isinstance(value, str):
        return value
    return spreadsheet_safe(value)


def _limit_notice() -> str:
    return _("Stopped at %(limit)d rows: narrow the filters.") % {"limit": EXPORT_ROW_LIMIT}
