"""Time the nightly dunning run (`manage.py run_dunning`) on a big book, from a "never run" state.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/dunning_run.py
    DATABASE_URL=sqlite:////tmp/bench100k.sqlite3 .venv/bin/python bench/dunning_run.py

Each repeat (--repeat, default 3):

1. resets the collections state to "never run": empties the tables the run writes (cases, timeline,
   transitions, actions, approvals, promises, contacts, disputes, plans, snapshots, run records) with
   TRUNCATE … CASCADE on PostgreSQL, DELETE on SQLite. Policies, stages, actions, guardrails, assignment
   rules and the run lock stay. The loans are not reset: the run's first step recomputes their
   delinquency for its date anyway.
2. "first": `run_dunning --as-of AS_OF` — the first run on the book, opens a case per delinquent loan;
3. "rerun": the same command again — the date already ran, nothing changed;
4. "next day": `run_dunning --as-of AS_OF+1` — a typical nightly run on an established book.

Each command runs in its own process (`manage.py`, same settings module as manage.py's default,
creditops.settings.dev, with DEBUG off unless the environment says otherwise, as in admin_pages.py).
Measured per command: wall time of the whole process (interpreter and Django start-up included), the
process's peak RSS (from wait4, this child only), the run's own duration and per-step timings as stored in
the DunningRun row (`counts["timings_ms"]`), and on PostgreSQL the temporary-file bytes the database wrote.
PostgreSQL's own memory (its backend, shared buffers, sorts and hashes) is NOT part of the Python
process's RSS.

The machine is noisy: report medians, and the range next to them.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditops.settings.dev")  # manage.py's default
os.environ.setdefault("DEBUG", "false")  # no per-query log in the measured process

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from dunning.models import DunningRun  # noqa: E402
from lending.models import Loan  # noqa: E402

# The tables the run (and casework) writes, children before parents (the order matters for DELETE).
RUN_TABLES = [
    "dunning_planinstallment",
    "dunning_approvalrequest",
    "dunning_promisetopay",
    "dunning_contactattempt",
    "dunning_dispute",
    "dunning_paymentplan",
    "dunning_dunningaction",
    "dunning_stagetransition",
    "dunning_caseevent",
    "dunning_collectioncase",
    "dunning_portfoliosnapshot",
    "dunning_dunningrun",
]
PHASES = ["first", "rerun", "next day"]


def reset_collections():
    """Back to "never run". TRUNCATE is allowed on the append-only timeline (its trigger is on UPDATE and
    DELETE, PostgreSQL only); on SQLite raw DELETE bypasses the managers that refuse deletes."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(RUN_TABLES)} RESTART IDENTITY CASCADE")
        else:
            for table in RUN_TABLES:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("DELETE FROM sqlite_sequence WHERE name IN (%s)" % ", ".join(["%s"] * len(RUN_TABLES)),
                           RUN_TABLES)  # fmt: skip
    connection.close()  # hold nothing (connection, locks) while the measured process runs


def temp_bytes():
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
        value = cursor.fetchone()[0]
    connection.close()
    return value


def run_command(as_of: datetime.date, log):
    """Run `manage.py run_dunning --as-of` in a child process; wall seconds, peak RSS (MiB), exit code."""
    command = [sys.executable, str(ROOT / "manage.py"), "run_dunning", "--as-of", as_of.isoformat()]
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, child.returncode  # ru_maxrss is in KiB on Linux


def run_record(as_of):
    run = DunningRun.objects.filter(as_of=as_of).values("status", "duration_ms", "counts", "attempts").first()
    connection.close()
    return run or {}


def measure(phase, as_of, log):
    before = temp_bytes()
    wall, rss, code = run_command(as_of, log)
    if code != 0:
        sys.exit(f"{phase}: run_dunning --as-of {as_of} failed (exit {code}); see the log")
    time.sleep(1)  # let the statistics of the finished backend reach pg_stat_database
    after = temp_bytes()
    record = run_record(as_of)
    result = {
        "phase": phase,
        "as_of": as_of.isoformat(),
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(rss, 1),
        "run_duration_ms": record.get("duration_ms"),
        "status": record.get("status"),
        "attempts": record.get("attempts"),
        "counts": {k: v for k, v in (record.get("counts") or {}).items() if k != "timings_ms"},
        "timings_ms": (record.get("counts") or {}).get("timings_ms", {}),
        "pg_temp_mib": None if before is None else round((after - before) / 2**20, 1),
    }
    timings = ", ".join(f"{step} {ms:,}" for step, ms in result["timings_ms"].items())
    print(
        f"  {phase:<9} {as_of}  wall {wall:7.2f} s  peak RSS {rss:6.1f} MiB  run record {record.get('duration_ms')} ms"
        + (f"  PG temp files {result['pg_temp_mib']} MiB" if before is not None else ""),
        flush=True,
    )
    if phase != "rerun":
        print(f"            steps (ms): {timings}", flush=True)
        print(f"            counts: {json.dumps(result['counts'])}", flush=True)
    return result


def spread(values, fmt=",.2f"):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    median, low, high = (format(v, fmt) for v in (statistics.median(values), min(values), max(values)))
    return f"{median} ({low}–{high})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=datetime.date(2026, 11, 28))
    parser.add_argument("--log", default="/tmp/bench_dunning_run.log", help="the commands' own output")
    parser.add_argument("--json", help="also write every measurement to this file")
    args = parser.parse_args()
    next_day = args.as_of + datetime.timedelta(days=1)

    loans = Loan.objects.order_by().count()
    delinquent = Loan.objects.filter(days_past_due__gt=0).count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {loans:,} loans "
          f"({delinquent:,} with DPD > 0 now); settings {os.environ['DJANGO_SETTINGS_MODULE']}, "
          f"DEBUG={os.environ.get('DEBUG')}; log: {args.log}", flush=True)  # fmt: skip
    connection.close()

    results = []
    with open(args.log, "a", encoding="utf-8") as log:
        log.write(f"\n===== {datetime.datetime.now().isoformat(timespec='seconds')} {connection.vendor}\n")
        for repeat in range(1, args.repeat + 1):
            print(f"repeat {repeat}/{args.repeat}: reset to never run", flush=True)
            started = time.perf_counter()
            reset_collections()
            print(f"  reset    {time.perf_counter() - started:7.2f} s", flush=True)
            for phase, as_of in zip(PHASES, [args.as_of, args.as_of, next_day]):
                results.append({"repeat": repeat, **measure(phase, as_of, log)})

    print(f"\nMedians of {args.repeat} (min–max); wall = whole process, run = DunningRun.duration_ms:")
    print(f"{'phase':<10}{'wall s':>28}{'run s':>28}{'peak RSS MiB':>30}")
    for phase in PHASES:
        rows = [r for r in results if r["phase"] == phase]
        run_s = [r["run_duration_ms"] / 1000 for r in rows if r["run_duration_ms"] is not None and phase != "rerun"]
        print(f"{phase:<10}{spread([r['wall_s'] for r in rows]):>28}{spread(run_s):>28}"
              f"{spread([r['peak_rss_mib'] for r in rows], ',.1f'):>30}")  # fmt: skip
    print("(rerun: the date already succeeded, so its run record is the first run's; only wall time applies)")
    for phase in ["first", "next day"]:
        rows = [r for r in results if r["phase"] == phase]
        print(f"\nPer-step timings, {phase} run, ms, median (min–max):")
        for step in rows[0]["timings_ms"]:
            values = [r["timings_ms"].get(step) for r in rows]
            print(f"  {step:<22}{spread(values, ',.0f'):>30}")
    print("\nPeak RSS is the Python process only; PostgreSQL's backend memory is not included.")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
