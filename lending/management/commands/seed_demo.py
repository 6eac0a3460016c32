import datetime
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.demo import demo_staff_create
from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.dashboards.services import activity_record
from dunning.demo import demo_assignment_rules_create, demo_history_walk
from lending.delinquency import delinquency_refresh
from lending.demo import LedgerSeeder
from lending.models import Loan

SEED_LOCK_KEY = 7_246_001  # PostgreSQL advisory lock: one seeder at a time


class Command(BaseCommand):
    help = (
        "Fill the database with deterministic demo data: staff for every role, products, borrowers "
        "(Chinese and English, individuals and enterprises, valid IDs), loans with schedules and payment "
        "histories up to --as-of. Also builds benchmark books (e.g. --loans 1000000 on PostgreSQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--borrowers", type=int, help="borrowers to create (default 300 unless --loans)")
        parser.add_argument("--loans", type=int, help="stop after this many loans")
        parser.add_argument("--seed", type=int, default=42, help="random seed: same seed, same data")
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, help="business date (default today)")
        parser.add_argument("--password", help="password for the demo staff (default: random, printed)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any loan exists")
        parser.add_argument(
            "--history-days", type=int, default=0,
            help="write the book as it stood this many days before --as-of, then post each later day's payments "
            "and run the nightly run for every day up to --as-of (snapshots, month starts, roll rates, activity)",
        )  # fmt: skip
        parser.add_argument("--credentials-file", help="also write the staff credentials to this file")
        parser.add_argument(
            "--bulk-load",
            action="store_true",
            help="PostgreSQL only: drop and rebuild the ledger tables' indexes and foreign keys around the load "
            "(much faster for millions of rows; use only on a database nobody else is using)",
        )
        parser.add_argument(
            "--allow-production", action="store_true", help="seed even though DEBUG is off (benchmarks)"
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("seed_demo creates demo staff accounts; with DEBUG off pass --allow-production.")
        if options["if_empty"] and Loan.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        borrowers, loans = options["borrowers"], options["loans"]
        if borrowers is None and loans is None:
            borrowers = 300
        as_of = options["as_of"] or business_today()
        with SingleSeederLock():
            self._seed(borrowers, loans, as_of, options)

    def _seed(self, borrowers, loans, as_of, options):
        started = time.monotonic()
        staff = demo_staff_create(password=options["password"])
        demo_assignment_rules_create()
        history_from = as_of - datetime.timedelta(days=options["history_days"]) if options["history_days"] else None
        seeder = LedgerSeeder(seed=options["seed"], as_of=as_of, progress=self._progress, history_from=history_from)
        result = seeder.run(borrowers=borrowers, loans=loans, bulk_load=options["bulk_load"])
        written = time.monotonic() - started
        delinquency_refresh(as_of=history_from or as_of)
        if history_from is not None:
            self._history(result, history_from, as_of)
        total = time.monotonic() - started
        past_due = Loan.objects.filter(days_past_due__gt=0).count()
        audit_record(
            actor=None,
            event="demo.seeded",
            detail={"seed": options["seed"], "as_of": as_of.isoformat(), "borrowers": result.borrowers,
                    "loans": result.loans, "payments": result.payments},
        )  # fmt: skip
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.borrowers:,} borrowers, {result.loans:,} loans, {result.installments:,} "
                f"installments, {result.payments:,} payments as of {as_of} in {total:.1f} s "
                f"(rows {written:.1f} s, delinquency refresh and history {total - written:.1f} s; "
                f"{past_due:,} loans past due)."
            )
        )
        self._print_credentials(staff, options["credentials_file"])

    def _history(self, result, start, end):
        runs = demo_history_walk(result.held_payments, start=start, end=end, progress=self._progress)
        day = start
        while day < end:  # each finished day's activity, as the nightly count would have stored it
            activity_record(day)
            day += datetime.timedelta(days=1)
        result.payments += len(result.held_payments)
        self.stdout.write(f"  history: {runs} nightly runs from {start} to {end}, "
                          f"{len(result.held_payments):,} payments posted day by day")  # fmt: skip

    def _progress(self, message):
        self.stdout.write(f"  {message}")

    def _print_credentials(self, staff, path):
        if not staff:
            self.stdout.write("Demo staff already existed; their passwords are unchanged.")
            return
        lines = [f"{username:<14} {role:<14} {password}" for username, role, password in staff]
        self.stdout.write("\nDemo staff (username, role, password) — shown once:")
        for line in lines:
            self.stdout.write(f"  {line}")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")


class SingleSeederLock:
    """Hold a PostgreSQL advisory lock while seeding (primary keys are reserved straight from sequences)."""

    def __enter__(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [SEED_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    raise CommandError("Another seed_demo is running on this database.")

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SEED_LOCK_KEY])
