import datetime

from django.core.management.base import BaseCommand, CommandError

from creditops.core.errors import DomainError
from notices.services.printing import print_batch_create


class Command(BaseCommand):
    help = (
        "Merge the letters of the notices issued on a date into one PDF for the print room (cover page, each "
        "letter on a new duplex sheet) and mark them printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, type=datetime.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--output", required=True, help="Where to write the merged PDF.")

    def handle(self, *args, date, output, **options):
        try:
            batch = print_batch_create(business_date=date)
        except DomainError as error:
            raise CommandError(error.message) from error
        with batch.pdf.open("rb") as merged, open(output, "wb") as target:
            target.write(merged.read())
        self.stdout.write(
            f"{batch.letter_count} letters, {batch.sheet_count} duplex sheets → {output} "
            f"(print batch {batch.pk}, SHA-256 {batch.sha256})"
        )
