from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lending.imports.files import FileRejectedError, read_rows
from lending.imports.payments import COLUMNS, DEFAULT_SOURCE, payments_import
from lending.imports.report import ImportReport
from lending.models import Payment


class Command(BaseCommand):
    help = (
        "Post the daily bank payment file: every row is checked first, and the whole file is posted or nothing. "
        "CSV (UTF-8) or XLSX with the header loan_reference, external_ref, amount, received_on and optionally "
        f"channel ({', '.join(Payment.Channel.values)}; empty means bank_transfer). Amounts are positive with at "
        "most 2 decimals (1066.19); dates are YYYY-MM-DD or YYYY/MM/DD and not in the future. A payment already "
        "posted under the same source and external_ref is reported and skipped. Exits with status 1 when the "
        "file is rejected. See README, 'Bulk import and the bank payment file'."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV or XLSX file")
        parser.add_argument(
            "--source", default=DEFAULT_SOURCE, help=f"where the payments come from (default {DEFAULT_SOURCE})"
        )
        parser.add_argument("--dry-run", action="store_true", help="check the file and report; post nothing")

    def handle(self, *args, file, source, dry_run, **options):
        path = Path(file)
        report = ImportReport(resource="payments", file_name=path.name, dry_run=dry_run)
        try:
            with path.open("rb") as opened:
                rows = read_rows(opened, name=path.name, columns=COLUMNS)
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from None
        except FileRejectedError as rejected:
            report.file_errors += rejected.messages
        else:
            report = payments_import(rows=rows, source=source, actor=None, dry_run=dry_run, file_name=path.name)
        if not report.ok:
            self.stderr.write(report.details_text())
            raise CommandError(report.summary)
        self.stdout.write(report.as_text())
