"""Borrowers from a CSV or XLSX file (the admin's import), validated by the model like the add form.

Columns: name, id_type, id_number and phone are required; kind, name_latin, legal_representative,
email, address, province, city, preferred_language, time_zone, risk_grade and credit_limit_amount may
be left out or empty, which gives the field's default (an individual, Asia/Shanghai, zh-hans, grade C,
no credit limit). Values are the stored ones: kind individual|enterprise, id_type
resident_id|passport|uscc, preferred_language zh-hans|en, risk_grade A–E, phone as +8613800138000.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..models import Borrower
from ..services import borrower_save
from .applying import add_validation_errors, create_all_or_nothing
from .bulk import chunked
from .files import Columns, Row
from .report import ImportReport

COLUMNS = Columns(
    required=("name", "id_type", "id_number", "phone"),
    optional=(
        "kind", "name_latin", "legal_representative", "email", "address", "province", "city",
        "preferred_language", "time_zone", "risk_grade", "credit_limit_amount",
    ),
)  # fmt: skip


def borrowers_import(*, rows: list[Row], actor, dry_run: bool, file_name: str = "") -> ImportReport:
    """Create a borrower per row through borrower_save, or none. Each row is checked by the model's
    full_clean first; an ID number that is already a borrower's, or is twice in the file, is an error."""
    report = ImportReport(resource="borrowers", file_name=file_name, dry_run=dry_run, rows_read=len(rows))
    valid = _validated(rows, report)
    first_rows = {}
    for number, borrower in valid:
        key = (borrower.id_type, borrower.id_number)
        if key in first_rows:
            message = _("The same ID number is in row %(row)d.") % {"row": first_rows[key]}
            report.add_error(number, "id_number", message)
        else:
            first_rows[key] = number
    for key in _already_borrowers(first_rows):
        report.add_error(first_rows[key], "id_number", _("A borrower with this ID number already exists."))
    if report.ok:
        create_all_or_nothing(
            report,
            valid,
            lambda borrower: borrower_save(borrower=borrower, actor=actor),
            preview=lambda borrower, _created: _preview(borrower),
            error_columns={},
            actor=actor,
        )
    return report


def _validated(rows: list[Row], report: ImportReport) -> list[tuple[int, Borrower]]:
    """(row number, borrower) for each row the model accepts; the others' errors go to the report."""
    valid = []
    for row in rows:
        # An empty cell leaves the model's default in place (a required field left empty fails full_clean).
        borrower = Borrower(**{column: value for column, value in row.cells.items() if value != ""})
        try:
            # The ID number's uniqueness is checked for the whole file at once, not with a query per row.
            borrower.full_clean(validate_constraints=False)
        except ValidationError as error:
            add_validation_errors(report, row.number, error)
        else:
            valid.append((row.number, borrower))
    return valid


def _already_borrowers(identities) -> set[tuple[str, str]]:
    found = set()
    for chunk in chunked(sorted(identities)):
        numbers = {number for _id_type, number in chunk}
        found |= set(Borrower.objects.filter(id_number__in=numbers).values_list("id_type", "id_number"))
    return found & set(identities)


def _preview(borrower: Borrower) -> dict:
    return {
        "name": borrower.name, "kind": borrower.kind, "id_number": borrower.masked_id_number,
        "phone": borrower.masked_phone, "city": borrower.city, "risk_grade": borrower.risk_grade,
    }  # fmt: skip
