import datetime
import os

from django.core.management.base import BaseCommand, CommandError

from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from dunning.services.run import dates_to_run, dunning_run


class Command(BaseCommand):
    help = (
        "Run the dunning ladder for a business date: refresh delinquency, open, move and close cases, create "
        "the stages' actions, evaluate promises and plans, write the run record and the portfolio snapshot. "
        "Dates skipped since the last run are run first, in order (their ledger and history; the stages cases "
        "pass through then are recorded as superseded, and only the stage reached on the last date creates "
        "work); a date that already ran is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, help="Business date (default: today).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would happen; write nothing.")
        parser.add_argument("--wait", action="store_true", help="Wait for a run in progress instead of stopping.")

    def handle(self, *args, as_of=None, dry_run=False, wait=False, **options):
        as_of = as_of or business_today()
        try:
            dates = dates_to_run(as_of)
            if dry_run and len(dates) > 1:
                self.stdout.write(f"Dates {dates[0]} to {dates[-2]} have not run yet; a dry run shows {as_of} only, "
                                  "as if they had not been missed.")  # fmt: skip
                dates = [as_of]
            for date in dates:
                report = dunning_run(
                    as_of=date, dry_run=dry_run, wait=wait, holder=f"run_dunning pid {os.getpid()}",
                    catch_up_to=dates[-1],
                )  # fmt: skip
                self._print(report)
        except DomainError as error:
            raise CommandError(f"{error.message} [{error.code}]") from error

    def _print(self, report):
        if report.skipped_as_done:
            self.stdout.write(f"{report.as_of}: already run; nothing changed.")
            return
        heading = "DRY RUN (nothing written)" if report.dry_run else "done"
        self.stdout.write(self.style.SUCCESS(f"{report.as_of}: {heading} in {report.duration_ms} ms"))
        for step, value in report.counts.items():
            if step != "timings_ms":
                self.stdout.write(f"  {step}: {value}")
        for kind, references in report.samples.items():
            if references:
                self.stdout.write(f"  {kind} (first {len(references)}): " + ", ".join(references))
