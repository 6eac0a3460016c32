"""Creating an admin import's rows through the ledger services, all or nothing.

Every row goes through its service (so the service's rules and audit events apply unchanged) inside one
transaction. A refused row becomes a row error and the next row is still tried, so the report lists them
all; the transaction is kept only when every row succeeded and this is not a dry run. A dry run is thus
the real thing rolled back: its preview cannot disagree with what confirming does (on PostgreSQL the id
sequences advance, as with `run_dunning --dry-run`).
"""

from collections.abc import Callable, Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.errors import DomainError

from .report import ImportReport


def create_all_or_nothing(
    report: ImportReport,
    items: Iterable[tuple[int, object]],
    create: Callable,
    *,
    preview: Callable,
    error_columns: dict[str, str],
    actor,
) -> None:
    """`items` are (row number, prepared row); `create` calls the service for one and returns the created
    object, `preview` turns (prepared row, created object) into the preview's dict. `error_columns` maps a
    DomainError code to the column it is about."""
    row_number = None
    try:
        with transaction.atomic():
            for row_number, item in items:
                try:
                    created = create(item)
                except DomainError as error:
                    report.add_error(row_number, error_columns.get(error.code, ""), error.message)
                except ValidationError as error:
                    add_validation_errors(report, row_number, error)
                else:
                    report.created += 1
                    report.add_preview({"row": row_number, **preview(item, created)})
            if report.applied:
                detail = {"file": report.file_name, "rows": report.rows_read, "created": report.created}
                audit_record(actor=actor, event=f"{report.resource}.imported", detail=detail)
            else:
                transaction.set_rollback(True)
    except DatabaseError as error:
        # A constraint the checks could not foresee (another user created the same borrower meanwhile):
        # the transaction is unusable, so the import stops here with everything rolled back.
        report.add_error(row_number, "", _("The database refused this row: %(error)s") % {"error": error})
    if not report.ok:
        report.created = 0


def add_validation_errors(report: ImportReport, row_number: int, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            report.add_error(row_number, "", message)
        return
    for field_name, messages in error.message_dict.items():
        column = "" if field_name == NON_FIELD_ERRORS else field_name
        for message in messages:
            report.add_error(row_number, column, message)
