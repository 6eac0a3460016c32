"""Time the nightly penalty accrual (the run's step `penalty_accrued`) on a big book, statement by statement.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/penalty_accrual.py --repeat 3

Each repeat takes the charged penalty back to none (the seeded book's state) and then, each in its own
transaction, committed: the first day (every overdue installment charged for the first time), the same day
again (must add nothing) and the next day (the normal night). It times every SQL statement the step runs
(Django's execute_wrapper) and the COMMIT on its own, and after each phase prints a checksum of the entries,
the installments and loans they touched, and the pauses — so two versions of the code can be shown to write
the same rows, and the WAL written (full-page images and bytes). `--night` times the delinquency refresh
and the accrual together, in the run's order. `--checkpoint` issues a CHECKPOINT (untimed) before each
phase, as a real night meets its pages: written last a day earlier, so each page's first change is logged
whole (full-page writes), which phases run back to back here would otherwise not pay.

The default day is the one after the seed's as-of date (2026-11-28): on the seed's own date, loans with
money received that day are charged through the per-loan replay (lending/penalties.py), which a reset here
cannot take back, and which the 01:30 run never meets on a normal night.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from dunning_run import reset_penalty as reset  # noqa: E402 - bench/ is the script's directory

from dunning.services import run_steps as steps  # noqa: E402

PHASES = ["first day", "same day", "next day"]

CHECKSUM = """
WITH e AS (SELECT * FROM lending_penaltyentry)
SELECT 'entries ' || accrued_on, count(*), sum(amount), sum(exact_amount),
       sum(hashtextextended(concat_ws('|', loan_id, installment_id, accrued_on, kind, revision, days, base_amount,
                                      daily_rate, exact_amount, amount), 0))
FROM e GROUP BY accrued_on
UNION ALL
SELECT 'installments', count(*), sum(penalty_amount), sum(penalty_exact_amount),
       sum(hashtextextended(concat_ws('|', id, penalty_amount, penalty_exact_amount, penalty_accrued_on,
                                      outstanding_amount), 0))
FROM lending_installment WHERE id IN (SELECT installment_id FROM lending_penaltyentry)
UNION ALL
SELECT 'loans', count(*), sum(penalty_accrued_amount), sum(overdue_amount),
       sum(hashtextextended(concat_ws('|', id, penalty_accrued_amount, overdue_amount, days_past_due, aging_bucket,
                                      oldest_overdue_due_date), 0))
FROM lending_loan WHERE id IN (SELECT loan_id FROM lending_penaltyentry)
UNION ALL
SELECT 'pauses ' || reason, count(*), NULL, NULL,
       sum(hashtextextended(concat_ws('|', loan_id, reason, started_on, ended_on), 0))
FROM lending_penaltypause GROUP BY reason
ORDER BY 1
"""


class StatementTimer:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.counts = defaultdict(int)

    def __call__(self, execute, sql, params, many, context):
        label = " ".join(sql.split())[:70]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[label] += time.perf_counter() - started
            self.counts[label] += 1


def night(day, order):
    results = {}
    for name in order:
        if name == "refresh":
            results[name] = steps.refresh_delinquency(day)
        else:
            results[name] = steps.accrue_penalty(day)
    return results


def timed(day, order):
    timer = StatementTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        transaction.set_autocommit(False)
        try:
            counts = night(day, order)
            body = time.perf_counter() - started
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            transaction.set_autocommit(True)
    total = time.perf_counter() - started
    return total, body, counts, timer


def wal_written():
    """(full-page images, bytes) of WAL written so far by the whole server."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT wal_fpi, wal_bytes FROM pg_stat_wal")
        return cursor.fetchone()


def checksum():
    with connection.cursor() as cursor:
        cursor.execute(CHECKSUM)
        return cursor.fetchall()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=datetime.date(2026, 11, 29))
    parser.add_argument("--night", action="store_true", help="time the refresh and the accrual together")
    parser.add_argument("--no-checksum", action="store_true")
    parser.add_argument(
        "--checkpoint",
        action="store_true",
        help="CHECKPOINT (untimed) before each phase: a real night's first write to each page since the last "
        "checkpoint logs the whole page (full-page writes), which back-to-back phases here would not pay",
    )
    args = parser.parse_args()
    order = ["refresh", "penalty"] if args.night else ["penalty"]
    days = [args.as_of, args.as_of, args.as_of + datetime.timedelta(days=1)]
    print(f"code: {ROOT}; order: {order}; checkpoint before each phase: {args.checkpoint}", flush=True)
    seconds = {phase: [] for phase in PHASES}
    statements = {phase: defaultdict(list) for phase in PHASES}
    commits = {phase: [] for phase in PHASES}
    for repeat in range(1, args.repeat + 1):
        started = time.perf_counter()
        reset()
        if args.night:  # back to the seeded book's delinquency of the first day
            with transaction.atomic():
                steps.refresh_delinquency(args.as_of)
        print(f"repeat {repeat}: reset {time.perf_counter() - started:.1f} s", flush=True)
        for phase, day in zip(PHASES, days, strict=True):
            if args.checkpoint:
                with connection.cursor() as cursor:
                    cursor.execute("CHECKPOINT")
            wal_before = wal_written()
            total, body, counts, timer = timed(day, order)
            pages, wal_bytes = (after - before for after, before in zip(wal_written(), wal_before, strict=True))
            seconds[phase].append(total)
            commits[phase].append(total - body)
            for label, value in timer.seconds.items():
                statements[phase][label].append(value)
            print(f"  {phase:<10} {day}  {total:6.2f} s (commit {total - body:.2f})  {counts}", flush=True)
            print(f"      WAL {wal_bytes / 2**20:,.0f} MB, {pages:,} full-page images", flush=True)
            for label, value in sorted(timer.seconds.items(), key=lambda item: -item[1])[:8]:
                if value >= 0.05:
                    print(f"      {value:6.2f} s  x{timer.counts[label]}  {label}", flush=True)
            if not args.no_checksum:
                for row in checksum():
                    print("      #", *row, flush=True)
    print(f"\nMedians of {args.repeat} (min–max), seconds:")
    for phase, values in seconds.items():
        print(f"  {phase:<10} {statistics.median(values):6.2f} ({min(values):.2f}–{max(values):.2f})"
              f"  commit {statistics.median(commits[phase]):.2f}")  # fmt: skip
        for label, values in sorted(statements[phase].items(), key=lambda item: -statistics.median(item[1]))[:8]:
            if statistics.median(values) >= 0.05:
                print(f"      {statistics.median(values):6.2f}  {label}")


if __name__ == "__main__":
    main()
