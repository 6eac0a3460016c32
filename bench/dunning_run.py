"""Time the nightly dunning run (`manage.py run_dunning`) on a big book, from a "never run" state.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/dunning_run.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditops_bench .venv/bin/python bench/dunning_run.py \
        --vacuum-between
    DATABASE_URL=sqlite:////tmp/bench100k.sqlite3 .venv/bin/python bench/dunning_run.py

Each repeat (--repeat, default 3):

1. resets the collections state to "never run": empties the tables the run writes (cases, timeline,
   transitions, actions, approvals, promises, contacts, disputes, plans, snapshots, run records) with
   TRUNCATE … CASCADE on PostgreSQL (plus their column statistics, and a VACUUM ANALYZE of lending_loan),
   DELETE on SQLite. Policies, stages, actions, guardrails, assignment rules and the run lock stay. The
   penalty the runs charged is taken back to none (entries and pauses emptied, the installments' and
   loans' penalty totals zeroed: the seeded book carries no penalty). The loans are not otherwise
   rewritten: the run's first step recomputes their delinquency for its date anyway.
2. "first": `run_dunning --as-of AS_OF` — the first run on the book, opens a case per delinquent loan;
3. "rerun": the same command again — the date already ran, nothing changed;
4. "next day": `run_dunning --as-of AS_OF+1` — a nightly run on an established book; with
   --vacuum-between, after a VACUUM ANALYZE of the tables the run wrote (what autovacuum does between two
   nights), without it straight after the first run, as when the command catches up skipped dates.

Each command runs in its own process (`manage.py`, same settings module as manage.py's default,
creditops.settings.dev, with DEBUG off unless the environment says otherwise, as in admin_pages.py).
Measured per command: wall time of the whole process (interpreter and Django start-up included), the
process's peak RSS (from wait4, this child only), the run's own duration and per-step timings as stored in
the DunningRun row (`counts["timings_ms"]`), and on PostgreSQL the temporary-file bytes the database wrote
and the peak private memory of the command's backend (sampled from /proc; the server must be local).
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
import tempfile
import threading
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
# The order the run executes its steps in (_steps in dunning/services/run.py); the JSON column sorts keys.
STEP_ORDER = [
    "loans_refreshed", "penalty_accrued", "cases_rerouted", "cases_synced", "promises", "plans", "cases_closed",
    "cases_opened", "cases_assigned", "stage_moves", "actions", "predue_actions", "priorities_updated", "snapshot_rows",
]  # fmt: skip


def reset_collections():
    """Back to "never run". TRUNCATE is allowed on the append-only timeline (its trigger is on UPDATE and
    DELETE, PostgreSQL only); on SQLite raw DELETE bypasses the managers that refuse deletes."""
    reset_penalty()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(RUN_TABLES)} RESTART IDENTITY CASCADE")
            # TRUNCATE sets pg_class.reltuples to -1 ("never analysed") but keeps the column statistics of
            # an earlier ANALYZE (--analyze-between); drop them too, so every repeat plans like a new book.
            cursor.execute(
                "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relname = ANY(%s))",
                [RUN_TABLES],
            )
            # Each run rewrites ~108,000 loans several times over; without autovacuum (off on the benchmark
            # machine) the dead rows pile up from repeat to repeat. Start every repeat from a clean book.
            cursor.execute("VACUUM ANALYZE lending_loan")
        else:
            for table in RUN_TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are the constants above
            placeholders = ", ".join(["%s"] * len(RUN_TABLES))
            cursor.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({placeholders})", RUN_TABLES)  # noqa: S608
    connection.close()  # hold nothing (connection, locks) while the measured process runs


PENALTY_TABLES = ["lending_penaltyentry", "lending_penaltypause"]


def reset_penalty():
    """No unpaid penalty (the seeded book's state): entries and pauses gone, each installment's penalty back
    to what was paid or waived of it (none on a freshly seeded book; a run on the seed's own date re-plays
    loans whose money then pays penalty), loans' totals and overdue amounts less what that took away.
    Plain SQL that PostgreSQL and SQLite both run."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(PENALTY_TABLES)} RESTART IDENTITY")
        else:
            for table in PENALTY_TABLES:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - the constants above
        cursor.execute(RESET_LOAN_PENALTY)
        cursor.execute(
            "UPDATE lending_installment SET penalty_amount = penalty_paid_amount + penalty_adjusted_amount,"
            " penalty_exact_amount = penalty_paid_amount + penalty_adjusted_amount, penalty_accrued_on = NULL"
            " WHERE penalty_accrued_on IS NOT NULL"
        )
        if connection.vendor == "postgresql":
            for table in ("lending_installment", "lending_loan", "lending_penaltyentry"):
                cursor.execute(f"VACUUM ANALYZE {table}")


# What stays of a loan's penalty: what was paid or waived of it. Run before the installments are reset.
RESET_LOAN_PENALTY = """
    UPDATE lending_loan
    SET overdue_amount = overdue_amount - penalty_accrued_amount + (
            SELECT COALESCE(SUM(i.penalty_paid_amount + i.penalty_adjusted_amount), 0)
            FROM lending_installment i WHERE i.loan_id = lending_loan.id),
        penalty_accrued_amount = (
            SELECT COALESCE(SUM(i.penalty_paid_amount + i.penalty_adjusted_amount), 0)
            FROM lending_installment i WHERE i.loan_id = lending_loan.id)
    WHERE penalty_accrued_amount <> 0
"""


class BackendMemory(threading.Thread):
    """Samples, every 0.1 s, the memory of this database's PostgreSQL backends (from /proc; the server must
    run on this machine). While a measured command runs, this script holds no connection, so the backends
    found are the command's. RssAnon is the backend's private memory (sorts, hashes, the deferred-trigger
    queue, caches); VmHWM also counts the shared buffers it touched."""

    def __init__(self, database):
        super().__init__(daemon=True)
        self.database, self.stopping = database, threading.Event()
        self.rss_anon_mib = self.hwm_mib = None

    def run(self):
        while not self.stopping.wait(0.1):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        command = handle.read().decode(errors="replace")
                    if not command.startswith("postgres:") or "autovacuum" in command:
                        continue
                    if f" {self.database} " not in command:
                        continue
                    with open(f"/proc/{pid}/status") as handle:
                        status = dict(line.split(":", 1) for line in handle if ":" in line)
                except OSError:
                    continue
                self.rss_anon_mib = max(self.rss_anon_mib or 0, _kib(status, "RssAnon") / 1024)
                self.hwm_mib = max(self.hwm_mib or 0, _kib(status, "VmHWM") / 1024)

    def stop(self):
        self.stopping.set()
        self.join()


def vacuum_between():
    """What autovacuum would have done by the next night: VACUUM ANALYZE the tables the run wrote."""
    with connection.cursor() as cursor:
        for table in [*RUN_TABLES, "lending_loan"]:
            cursor.execute(f"VACUUM ANALYZE {table}")
    connection.close()


def temp_bytes():
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
        value = cursor.fetchone()[0]
    connection.close()
    return value


def _kib(status: dict, key: str) -> int:
    return int(status.get(key, "0 kB").split()[0])


def run_command(as_of: datetime.date, log):
    """Run `manage.py run_dunning --as-of` in a child process; wall seconds, peak RSS (MiB), exit code."""
    command = [sys.executable, str(ROOT / "manage.py"), "run_dunning", "--as-of", as_of.isoformat()]
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own command
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
    sampler = None
    if connection.vendor == "postgresql" and connection.settings_dict["HOST"] in ("127.0.0.1", "localhost", ""):
        sampler = BackendMemory(connection.settings_dict["NAME"])
        sampler.start()
    wall, rss, code = run_command(as_of, log)
    if sampler:
        sampler.stop()
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
        "pg_backend_rss_anon_mib": round(sampler.rss_anon_mib, 1) if sampler and sampler.rss_anon_mib else None,
        "pg_backend_hwm_mib": round(sampler.hwm_mib, 1) if sampler and sampler.hwm_mib else None,
    }
    result["timings_ms"] = {step: result["timings_ms"][step] for step in sorted(result["timings_ms"], key=step_key)}
    timings = ", ".join(f"{step} {ms:,}" for step, ms in result["timings_ms"].items())
    outside = "" if phase == "rerun" or record.get("duration_ms") is None else f" (steps {record['duration_ms']:,} ms)"
    print(
        f"  {phase:<9} {as_of}  wall {wall:7.2f} s{outside}  peak RSS {rss:6.1f} MiB"
        + (f"  | PG: backend private memory {result['pg_backend_rss_anon_mib'] or '—'} MiB (VmHWM "
           f"{result['pg_backend_hwm_mib'] or '—'} MiB), temp files {result['pg_temp_mib']} MiB" if sampler else ""),
        flush=True,
    )  # fmt: skip
    if phase != "rerun":
        print(f"            steps (ms): {timings}", flush=True)
        print(f"            counts: {json.dumps(result['counts'])}", flush=True)
    return result


def step_key(step):
    return (STEP_ORDER.index(step), step) if step in STEP_ORDER else (len(STEP_ORDER), step)


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
    default_log = Path(tempfile.gettempdir()) / "bench_dunning_run.log"
    parser.add_argument("--log", default=str(default_log), help="the commands' own output")
    parser.add_argument("--json", help="also write every measurement to this file")
    parser.add_argument(
        "--vacuum-between",
        action="store_true",
        help="PostgreSQL: VACUUM ANALYZE the run's tables and lending_loan after the same-date rerun, before the "
        "next day (what autovacuum would normally have done by the next night; the benchmark machine runs "
        "PostgreSQL with autovacuum off). Without it the next day plans on the statistics of empty tables.",
    )
    args = parser.parse_args()
    next_day = args.as_of + datetime.timedelta(days=1)

    loans = Loan.objects.order_by().count()
    delinquent = Loan.objects.filter(days_past_due__gt=0).count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {loans:,} loans "
          f"({delinquent:,} with DPD > 0 now); settings {os.environ['DJANGO_SETTINGS_MODULE']}, "
          f"DEBUG={os.environ.get('DEBUG')}; log: {args.log}", flush=True)  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), current_setting('autovacuum'), "
                           "current_setting('work_mem'), current_setting('shared_buffers')")  # fmt: skip
            version, autovacuum, work_mem, shared_buffers = cursor.fetchone()
            settings_line = f"autovacuum {autovacuum}, work_mem {work_mem}, shared_buffers {shared_buffers}"
            print(f"PostgreSQL {version}, {settings_line}", flush=True)
        print(f"next-day run {'after' if args.vacuum_between else 'WITHOUT'} VACUUM ANALYZE of the run's tables",
              flush=True)  # fmt: skip
    connection.close()

    results = []
    with open(args.log, "a", encoding="utf-8") as log:
        log.write(f"\n===== {datetime.datetime.now().isoformat(timespec='seconds')} {connection.vendor}\n")
        for repeat in range(1, args.repeat + 1):
            print(f"repeat {repeat}/{args.repeat}: reset to never run", flush=True)
            started = time.perf_counter()
            reset_collections()
            print(f"  reset    {time.perf_counter() - started:7.2f} s", flush=True)
            for phase, as_of in zip(PHASES, [args.as_of, args.as_of, next_day], strict=True):
                if phase == "next day" and args.vacuum_between and connection.vendor == "postgresql":
                    started = time.perf_counter()
                    vacuum_between()
                    print(f"  VACUUM ANALYZE {time.perf_counter() - started:7.2f} s (--vacuum-between)", flush=True)
                results.append({"repeat": repeat, **measure(phase, as_of, log)})

    print(f"\nMedians of {args.repeat} (min–max):")
    print(f"{'phase':<10}{'wall s':>28}{'steps s':>28}{'peak RSS MiB':>26}{'PG backend MiB':>26}")
    for phase in PHASES:
        rows = [r for r in results if r["phase"] == phase]
        run_s = [r["run_duration_ms"] / 1000 for r in rows if r["run_duration_ms"] is not None and phase != "rerun"]
        print(f"{phase:<10}{spread([r['wall_s'] for r in rows]):>28}{spread(run_s):>28}"
              f"{spread([r['peak_rss_mib'] for r in rows], ',.1f'):>26}"
              f"{spread([r['pg_backend_rss_anon_mib'] for r in rows], ',.1f'):>26}")  # fmt: skip
    print(
        "(steps = DunningRun.duration_ms, the sum of the steps; wall - steps = start-up, lock, COMMIT, exit.\n"
        " rerun: the date already succeeded, so only its wall time applies. PG backend = peak private memory\n"
        " (RssAnon) of the command's PostgreSQL backend, sampled every 0.1 s.)"
    )
    for phase in ["first", "next day"]:
        rows = [r for r in results if r["phase"] == phase]
        print(f"\nPer-step timings, {phase} run, ms, median (min–max):")
        for step in rows[0]["timings_ms"]:
            values = [r["timings_ms"].get(step) for r in rows]
            print(f"  {step:<22}{spread(values, ',.0f'):>30}")
    print("\nPeak RSS is the Python process only; PostgreSQL's memory (backend, shared buffers) is not included.")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
