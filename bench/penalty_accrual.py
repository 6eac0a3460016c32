"""Time the nightly penalty accrual (`lending.penalties.penalty_accrue`, the run's first step) on a big book.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/penalty_accrual.py

Each repeat (--repeat, default 5) takes the charged penalty back to none (bench/dunning_run.py's
reset_penalty: the seeded book's state) and then, each in its own transaction, committed:

1. "first day": AS_OF, every overdue installment is charged for the first time;
2. "same day": AS_OF again, which must add nothing (each installment was charged for the day);
3. "next day": AS_OF + 1, the normal night: every overdue installment charged again.

Timed in this process (perf_counter around the call and its COMMIT). Printed: the entries written and the
duration of each phase, then the medians (min–max) over the repeats.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from dunning.services.run_steps import accrue_penalty  # noqa: E402
from lending.models import Loan  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from dunning_run import reset_penalty  # noqa: E402

PHASES = ["first day", "same day", "next day"]


def timed(day: datetime.date) -> tuple[float, dict]:
    started = time.perf_counter()
    with transaction.atomic():
        counts = accrue_penalty(day)
    return time.perf_counter() - started, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=datetime.date(2026, 11, 28))
    args = parser.parse_args()
    days = [args.as_of, args.as_of, args.as_of + datetime.timedelta(days=1)]
    overdue = Loan.objects.filter(days_past_due__gt=0).count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {Loan.objects.count():,} loans, "
          f"{overdue:,} with DPD > 0", flush=True)  # fmt: skip
    seconds = {phase: [] for phase in PHASES}
    for repeat in range(1, args.repeat + 1):
        started = time.perf_counter()
        reset_penalty()
        print(f"repeat {repeat}: reset {time.perf_counter() - started:.1f} s", flush=True)
        for phase, day in zip(PHASES, days, strict=True):
            duration, counts = timed(day)
            seconds[phase].append(duration)
            print(f"  {phase:<10} {day}  {duration:6.2f} s  {counts}", flush=True)
    print(f"\nMedians of {args.repeat} (min–max), seconds:")
    for phase, values in seconds.items():
        print(f"  {phase:<10} {statistics.median(values):6.2f} ({min(values):.2f}–{max(values):.2f})")


if __name__ == "__main__":
    main()
