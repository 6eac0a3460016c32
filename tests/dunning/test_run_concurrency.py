"""The nightly run under concurrency, on PostgreSQL: two runs at once, and a run killed half way.

Separate connections must see each other's committed rows, so these tests are transactional; the
database is restored from its serialized state (default ladder, roles, the lock row) before each one.
"""

import datetime
import io
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from dunning.models import CollectionCase, DunningRun, StageTransition
from dunning.services import run as run_module
from dunning.services.run import RunInProgressError, dunning_run
from lending.models import Payment
from lending.services import loan_create, payment_post
from tests.factories import BorrowerFactory
from tests.threads import Worker

from .test_run_replay import assert_same_fingerprint, database_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)

DISBURSED_ON = datetime.date(2026, 1, 15)
AS_OF = datetime.date(2026, 2, 25)  # the first instalment (2026-02-15) is 10 days late
IN_PROGRESS = "Another dunning run is in progress; it must finish first (or pass --wait to queue behind it)."


def book_loans(product, count: int, disbursed_on=DISBURSED_ON) -> list:
    return [
        loan_create(
            borrower=BorrowerFactory(),
            product=product,
            principal_amount=Decimal("12000.00"),
            term_months=12,
            disbursed_on=disbursed_on,
        )
        for _ in range(count)
    ]


class Gate:
    """Holds the run made by the thread named "first" after its steps and before it commits, so the lock and
    the run's transaction stay open until the test calls release()."""

    def __init__(self, monkeypatch):
        self.in_progress, self._release = threading.Event(), threading.Event()
        steps = run_module._steps

        def held_steps(run, as_of, report):
            steps(run, as_of, report)
            if threading.current_thread().name == "first":
                self.in_progress.set()
                self._release.wait(timeout=60)

        monkeypatch.setattr(run_module, "_steps", held_steps)

    def release(self):
        self._release.set()


def start_first_run(monkeypatch, as_of=AS_OF) -> tuple[Worker, Gate]:
    gate = Gate(monkeypatch)
    first = Worker("first", lambda: dunning_run(as_of=as_of))
    first.start()
    assert gate.in_progress.wait(timeout=30), "the first run never got going"
    return first, gate


def finish(gate: Gate, *workers: Worker) -> None:
    gate.release()
    for worker in workers:
        worker.join(timeout=60)
        assert not worker.is_alive(), f"{worker.name} hung"


def cases_per_loan() -> dict[int, int]:
    counts = {}
    for loan_id in CollectionCase.objects.values_list("loan_id", flat=True):
        counts[loan_id] = counts.get(loan_id, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------------------
# Two runs at once


def test_a_second_run_of_the_same_date_stops_at_once_while_the_first_is_in_progress(
    on_postgres, team, cn_product, monkeypatch
):
    loans = book_loans(cn_product, 5)
    first, gate = start_first_run(monkeypatch)
    second = Worker("second", lambda: dunning_run(as_of=AS_OF))
    second.start()
    second.join(timeout=10)
    blocked = second.is_alive()
    finish(gate, first, second)

    assert not blocked, f"the second run waited for the first instead of stopping (it returned {second.result!r})"
    assert isinstance(second.result, RunInProgressError), second.result
    assert second.result.code == "run.in_progress"
    assert second.result.message == IN_PROGRESS
    assert not first.result.skipped_as_done
    assert first.result.counts["cases_opened"] == 5
    assert cases_per_loan() == {loan.pk: 1 for loan in loans}
    run = DunningRun.objects.get(as_of=AS_OF)
    assert (run.status, run.attempts) == ("succeeded", 1)


def test_a_second_run_with_wait_queues_behind_the_first_and_finds_the_date_done(
    on_postgres, team, cn_product, monkeypatch
):
    loans = book_loans(cn_product, 5)
    first, gate = start_first_run(monkeypatch)
    second = Worker("second", lambda: dunning_run(as_of=AS_OF, wait=True))
    second.start()
    second.join(timeout=3)
    assert second.is_alive(), f"the waiting run did not wait: {second.result!r}"
    finish(gate, first, second)

    assert not first.result.skipped_as_done
    assert second.result.skipped_as_done, second.result
    assert second.result.counts["cases_opened"] == 5
    assert cases_per_loan() == {loan.pk: 1 for loan in loans}
    assert StageTransition.objects.count() == 5
    run = DunningRun.objects.get(as_of=AS_OF)
    assert run.status == "succeeded"
    assert run.attempts == 1, "the run that only waited was counted as a second attempt"


def test_a_run_of_another_date_stops_too_and_the_command_says_why(on_postgres, team, cn_product, monkeypatch):
    book_loans(cn_product, 3)
    first, gate = start_first_run(monkeypatch)
    out = io.StringIO()
    second = Worker(
        "second",
        lambda: call_command("run_dunning", "--as-of", (AS_OF + datetime.timedelta(days=1)).isoformat(), stdout=out),
    )
    second.start()
    second.join(timeout=10)
    blocked = second.is_alive()
    finish(gate, first, second)

    assert not blocked
    assert isinstance(second.result, CommandError), second.result
    assert str(second.result) == f"{IN_PROGRESS} [run.in_progress]"
    assert list(DunningRun.objects.filter(status="succeeded").values_list("as_of", flat=True)) == [AS_OF]
    assert CollectionCase.objects.count() == 3


def test_two_runs_of_the_same_date_started_together_do_the_work_once(on_postgres, team, cn_product):
    loans = book_loans(cn_product, 40)
    barrier = threading.Barrier(2)
    workers = [Worker(name, lambda: dunning_run(as_of=AS_OF), barrier) for name in ("one", "two")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive()

    results = [worker.result for worker in workers]
    done = [r for r in results if not isinstance(r, BaseException) and not r.skipped_as_done]
    stopped = [r for r in results if isinstance(r, RunInProgressError)]
    assert len(done) == 1, results
    assert done[0].counts["cases_opened"] == 40
    assert len(stopped) == 1, f"the other run should stop with RunInProgressError, not {results}"
    assert cases_per_loan() == {loan.pk: 1 for loan in loans}
    assert DunningRun.objects.get(as_of=AS_OF).status == "succeeded"


def test_two_waiting_runs_of_the_same_date_started_together_do_the_work_once(on_postgres, team, cn_product):
    loans = book_loans(cn_product, 40)
    barrier = threading.Barrier(2)
    workers = [Worker(name, lambda: dunning_run(as_of=AS_OF, wait=True), barrier) for name in ("one", "two")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive()

    results = [worker.result for worker in workers]
    assert not any(isinstance(result, BaseException) for result in results), results
    assert sorted(result.skipped_as_done for result in results) == [False, True]
    assert cases_per_loan() == {loan.pk: 1 for loan in loans}
    assert StageTransition.objects.count() == 40


# ---------------------------------------------------------------------------------------------------------
# Killed half way


def seed_book(product) -> None:
    """300 loans, disbursed over three months (DPD 0 to about 90 on AS_OF); every fifth paid its first
    instalment."""
    for number in range(300):
        [loan] = book_loans(product, 1, disbursed_on=datetime.date(2025, 11, 1) + datetime.timedelta(days=number % 90))
        if number % 5 == 0:
            payment_post(
                loan=loan,
                source="seed",
                external_ref=f"S{number:04d}",
                amount=Decimal("1066.19"),
                received_on=loan.first_due_date,
                channel=Payment.Channel.BANK_TRANSFER,
            )


def subprocess_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db.get('USER') or 'postgres'}{password}@{host}:{port}/{db['NAME']}"


def backend_writing(table: str) -> int | None:
    """The pid of another backend whose open transaction has written to `table`, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = %s AND l.mode = 'RowExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()",
            [table],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_a_run_killed_half_way_resumes_to_exactly_what_a_clean_run_writes(on_postgres, team, cn_product):
    seed_book(cn_product)
    # What a clean run writes, computed in a transaction that is then rolled back.
    with transaction.atomic():
        dunning_run(as_of=AS_OF)
        clean = database_fingerprint(ignore={"attempts"})
        transaction.set_rollback(True)
    assert not DunningRun.objects.exists() and not CollectionCase.objects.exists()
    assert len(clean["dunning.CollectionCase"]) > 200

    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "DJANGO_SETTINGS_MODULE": "creditops.settings.test"}
    process = subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "run_dunning", "--as-of", AS_OF.isoformat()],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Half way: once its transaction has recorded stage moves (cases opened, actions and snapshot still to do).
    deadline, pid = time.monotonic() + 60, None
    while pid is None and process.poll() is None and time.monotonic() < deadline:
        pid = backend_writing("dunning_stagetransition")
    process.send_signal(signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=30)
    assert pid is not None, f"the run finished before it could be killed: {stdout!r} {stderr!r}"
    assert process.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while backend_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend_alive(pid), "PostgreSQL kept the killed run's session"

    # Nothing of the killed run's work survives; its run record says it started once.
    assert not CollectionCase.objects.exists()
    assert not StageTransition.objects.exists()
    killed = DunningRun.objects.get(as_of=AS_OF)
    assert (killed.status, killed.attempts) == ("running", 1)

    out = io.StringIO()
    call_command("run_dunning", "--as-of", AS_OF.isoformat(), stdout=out)
    assert f"{AS_OF}: done in " in out.getvalue()
    run = DunningRun.objects.get(as_of=AS_OF)
    assert (run.status, run.attempts, run.error) == ("succeeded", 2, "")
    assert_same_fingerprint(database_fingerprint(ignore={"attempts"}), clean)
