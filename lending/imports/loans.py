"""Loans from a CSV or XLSX file (the admin's import): each row is booked by loan_create, which builds
its whole repayment schedule, exactly as the admin's add form books one.

Columns: borrower_id_number, product_code, principal_amount, term_months and disbursed_on are required;
borrower_id_type (resident_id, passport or uscc) is needed only when two borrowers share an ID number
under different types; first_due_date may be left out or empty for one month after disbursement. Dates
YYYY-MM-DD or YYYY/MM/DD; amounts like 12000 or 12000.00.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from ..models import Borrower, Product
from ..services import loan_create
from .applying import create_all_or_nothing
from .bulk import chunked
from .cells import CellError, date_value, parse_cells, positive_amount, quoted, whole_number
from .files import Columns, Row
from .report import ImportReport

COLUMNS = Columns(
    required=("borrower_id_number", "product_code", "principal_amount", "term_months", "disbursed_on"),
    optional=("borrower_id_type", "first_due_date"),
)
# Which column each of loan_create's refusals is about.
ERROR_COLUMNS = {
    "loan.principal_invalid": "principal_amount",
    "loan.product_inactive": "product_code",
    "loan.term_invalid": "term_months",
    "loan.first_due_invalid": "first_due_date",
}


@dataclass
class LoanRow:
    """One row of the file; a cell that did not parse stays None and the row is not `valid`."""

    row: int
    valid: bool
    borrower_id_type: str | None = None
    borrower_id_number: str | None = None
    product_code: str | None = None
    principal_amount: Decimal | None = None
    term_months: int | None = None
    disbursed_on: datetime.date | None = None
    first_due_date: datetime.date | None = None
    borrower: Borrower | None = None
    product: Product | None = None


def loans_import(*, rows: list[Row], actor, dry_run: bool, file_name: str = "", borrowers=None) -> ImportReport:
    """Book a loan per row, or none. `borrowers` is the queryset a row's borrower must be in (the
    importing user's scope; every borrower when None)."""
    report = ImportReport(resource="loans", file_name=file_name, dry_run=dry_run, rows_read=len(rows))
    # Rows with bad cells are kept, so that their borrower and product are still looked up: the report
    # names every problem of the file at once.
    parsed = [_parsed(row, report) for row in rows]
    _resolve_borrowers(parsed, Borrower.objects.all() if borrowers is None else borrowers, report)
    _resolve_products(parsed, report)
    bookable = [(row.row, row) for row in parsed if row.valid and row.borrower and row.product]
    # Rows that passed so far still go through loan_create even when others failed, so that its refusals
    # are listed too; nothing is kept unless every row was booked.
    create_all_or_nothing(
        report,
        bookable,
        lambda row: _book(row, actor),
        preview=_preview,
        error_columns=ERROR_COLUMNS,
        actor=actor,
    )
    return report


def _parsed(row: Row, report: ImportReport) -> LoanRow:
    values, valid = parse_cells(row, PARSERS, report)
    return LoanRow(row=row.number, valid=valid, **values)


def _required(parse):
    def parse_required(text: str):
        if not text:
            raise CellError(_("This value is missing."))
        return parse(text)

    return parse_required


def _optional(parse):
    def parse_optional(text: str):
        return parse(text) if text else None

    return parse_optional


def _id_type(text: str) -> str:
    if text and text not in Borrower.IdType.values:
        message = _("%(value)s is not an ID type; use one of %(types)s.")
        raise CellError(message % {"value": quoted(text), "types": ", ".join(Borrower.IdType.values)})
    return text


PARSERS = {
    "borrower_id_type": _id_type,
    "borrower_id_number": _required(str.upper),
    "product_code": _required(str),
    "principal_amount": _required(positive_amount),
    "term_months": _required(whole_number),
    "disbursed_on": _required(date_value),
    "first_due_date": _optional(date_value),
}


def _resolve_borrowers(parsed: list[LoanRow], borrowers, report: ImportReport) -> None:
    named = [row for row in parsed if row.borrower_id_number is not None]
    by_number: dict[str, list[Borrower]] = {}
    for chunk in chunked(sorted({row.borrower_id_number for row in named})):
        for borrower in borrowers.filter(id_number__in=chunk).order_by():
            by_number.setdefault(borrower.id_number, []).append(borrower)
    for row in named:
        matches = [
            borrower
            for borrower in by_number.get(row.borrower_id_number, [])
            if not row.borrower_id_type or borrower.id_type == row.borrower_id_type
        ]
        if len(matches) == 1:
            row.borrower = matches[0]
        elif matches:
            message = _("Several borrowers have this ID number; add the borrower_id_type column.")
            report.add_error(row.row, "borrower_id_number", message)
        else:
            report.add_error(row.row, "borrower_id_number", _("No borrower has this ID number."))


def _resolve_products(parsed: list[LoanRow], report: ImportReport) -> None:
    named = [row for row in parsed if row.product_code is not None]
    products = Product.objects.in_bulk({row.product_code for row in named}, field_name="code")
    for row in named:
        row.product = products.get(row.product_code)
        if row.product is None:
            report.add_error(row.row, "product_code", _("No product has this code."))


def _book(row: LoanRow, actor):
    return loan_create(
        borrower=row.borrower,
        product=row.product,
        principal_amount=row.principal_amount,
        term_months=row.term_months,
        disbursed_on=row.disbursed_on,
        first_due_date=row.first_due_date,
        actor=actor,
    )


def _preview(row: LoanRow, loan) -> dict:
    return {
        "borrower": row.borrower.name, "product_code": row.product.code, "principal_amount": loan.principal_amount,
        "term_months": loan.term_months, "disbursed_on": loan.disbursed_on, "first_due_date": loan.first_due_date,
        "maturity_date": loan.maturity_date,
    }  # fmt: skip
