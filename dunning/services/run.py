"""The nightly dunning run for one business date.

The steps live in run_steps.py: set-based SQL over the rows that change. Dates missed since the last run
are run first, in order, for the ledger and history; the stages cases pass through on those dates create
no work — the last date's run creates the actions of the stage each case has reached and records the
others as superseded, so a catch-up never sends a week of stale reminders on one day. The whole run is one transaction
holding the RunLock row: a second run waits or stops, a crash (even kill -9) leaves the database as it
was before the run, and the next invocation simply runs the date again. A date that succeeded is never
run twice, and skipped dates are run in order first.
"""

import datetime
import time
from dataclasses import dataclass, field

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.errors import DomainError

from ..models import (
    ApprovalRequest,
    CaseEvent,
    CollectionCase,
    DunningAction,
    DunningRun,
    RunLock,
    StageTransition,
)
from . import history
from . import run_steps as steps

LOCK_NAME = "nightly-run"
Event = CaseEvent.Kind
ActionStatus = DunningAction.Status


class RunInProgressError(DomainError):
    code = "run.in_progress"


@dataclass
class RunReport:
    """What a run did (or, for a dry run, would do)."""

    as_of: datetime.date
    dry_run: bool = False
    skipped_as_done: bool = False
    counts: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)
    duration_ms: int = 0


def dates_to_run(as_of: datetime.date) -> list[datetime.date]:
    """The dates a run for `as_of` must process, oldest first: every date since the last successful run,
    or just `as_of` when none ran before or it already ran."""
    if DunningRun.objects.filter(as_of=as_of, status=DunningRun.Status.SUCCEEDED).exists():
        return [as_of]
    last = (
        DunningRun.objects.filter(status=DunningRun.Status.SUCCEEDED).order_by("-as_of").values_list("as_of", flat=True)
    ).first()
    if last is None:
        return [as_of]
    if as_of < last:
        raise DomainError(
            _("Runs go forward: %(date)s is before the last completed run (%(last)s).") % {"date": as_of, "last": last},
            code="run.out_of_order",
        )
    return [last + datetime.timedelta(days=offset) for offset in range(1, (as_of - last).days + 1)]


def dunning_run(
    *,
    as_of: datetime.date,
    dry_run: bool = False,
    wait: bool = False,
    holder: str = "",
    catch_up_to: datetime.date | None = None,
) -> RunReport:
    """Run one business date (see the module docstring). Raises RunInProgressError at once when another
    run holds the lock and `wait` is false. `catch_up_to` is the last date of a catch-up this date is part
    of: a date before it runs the ledger and history but defers the stages' work to that last date."""
    done = DunningRun.objects.filter(as_of=as_of, status=DunningRun.Status.SUCCEEDED).first()
    if done is not None:
        return RunReport(
            as_of=as_of, dry_run=dry_run, skipped_as_done=True, counts=done.counts, duration_ms=done.duration_ms or 0
        )
    run, first_attempt = (None, True) if dry_run else _run_record(as_of)
    started = time.monotonic()
    try:
        with transaction.atomic():
            # The lock comes first: nothing below may wait on a row the running run holds.
            _lock(wait=wait, holder=holder or f"run {as_of}")
            run = _run_for_this_attempt(run, as_of, first_attempt)
            if run.status == DunningRun.Status.SUCCEEDED:  # finished by the run we waited for
                return RunReport(as_of=as_of, skipped_as_done=True, counts=run.counts)
            report = RunReport(as_of=as_of, dry_run=dry_run)
            run.actions_deferred = catch_up_to is not None and as_of < catch_up_to
            _steps(run, as_of, report)
            report.duration_ms = int((time.monotonic() - started) * 1000)
            if dry_run:
                transaction.set_rollback(True)
                return report
            run.status, run.counts, run.error = DunningRun.Status.SUCCEEDED, report.counts, ""
            run.finished_at, run.duration_ms = timezone.now(), report.duration_ms
            run.save(update_fields=["status", "counts", "error", "finished_at", "duration_ms", "actions_deferred"])
            audit_record(actor=None, event="dunning.run", subject=run, detail=report.counts)
            return report
    except RunInProgressError:
        raise
    except Exception as error:
        if not dry_run:
            DunningRun.objects.filter(pk=run.pk).update(
                status=DunningRun.Status.FAILED,
                error=repr(error)[:2000],
                attempts=F("attempts") + int(not first_attempt),
            )
        raise


def _run_record(as_of) -> tuple[DunningRun, bool]:
    """The run row for the date, committed before the work starts, so a crash leaves a trace ("running"
    that no process holds). Returns (run, whether this is its first attempt)."""
    with transaction.atomic():
        return DunningRun.objects.get_or_create(as_of=as_of, defaults={"started_at": timezone.now()})


def _run_for_this_attempt(run: DunningRun | None, as_of, first_attempt: bool) -> DunningRun:
    """Under the lock: the run row, counting this attempt if an earlier one crashed or failed. A dry run
    gets a row of its own inside the transaction it rolls back."""
    if run is None:
        return DunningRun.objects.filter(as_of=as_of).first() or DunningRun.objects.create(
            as_of=as_of, started_at=timezone.now()
        )
    run = DunningRun.objects.select_for_update().get(pk=run.pk)
    if not first_attempt and run.status != DunningRun.Status.SUCCEEDED:
        run.attempts += 1
        run.started_at = timezone.now()
        run.save(update_fields=["attempts", "started_at"])
    return run


def _lock(*, wait: bool, holder: str) -> None:
    try:
        with transaction.atomic():
            RunLock.objects.get_or_create(name=LOCK_NAME)
    except IntegrityError:
        pass  # created at the same moment by the other run
    try:
        with transaction.atomic():
            lock = RunLock.objects.select_for_update(nowait=not wait).get(name=LOCK_NAME)
            # Writing the row also takes SQLite's write lock, which has no row locks.
            RunLock.objects.filter(pk=lock.pk).update(holder=holder[:100], acquired_at=timezone.now())
    except OperationalError as error:
        raise RunInProgressError(
            _("Another dunning run is in progress; it must finish first (or pass --wait to queue behind it)."),
            detail={"database": str(error).strip()[:200]},
        ) from error


# ---------------------------------------------------------------------------------------------------------
# Steps


def _steps(run: DunningRun, as_of: datetime.date, report: RunReport) -> None:
    counts = report.counts

    def step(name, function, *args):
        began = time.monotonic()
        counts[name] = function(*args)
        counts.setdefault("timings_ms", {})[name] = int((time.monotonic() - began) * 1000)

    step("loans_refreshed", steps.refresh_delinquency, as_of)
    step("penalty_accrued", steps.accrue_penalty, as_of)
    step("cases_rerouted", steps.reroute_rolled_cases, as_of)
    step("cases_synced", steps.sync_cases)
    step("promises", steps.evaluate_promises, as_of)
    step("plans", steps.evaluate_plans, as_of)
    step("settlements_lapsed", steps.lapse_settlements, as_of)
    step("cases_closed", steps.close_cured, as_of)
    step("cases_opened", steps.open_cases, as_of)
    steps.analyze(CollectionCase, CaseEvent)
    step("cases_assigned", steps.assign_new_cases, as_of)
    step("stage_moves", steps.move_stages, run, as_of)
    steps.analyze(StageTransition)
    step("actions", steps.create_actions, run, as_of)
    steps.analyze(DunningAction, ApprovalRequest)
    step("predue_actions", steps.create_predue_actions, run, as_of)
    step("priorities_updated", steps.update_priorities)
    step("snapshot_rows", steps.snapshot, as_of)
    step("month_history", history.record_month_start, as_of)
    if report.dry_run:
        report.samples = _samples(run, as_of)


def _samples(run, as_of, limit=20) -> dict:
    """For --dry-run: a few loan references per kind of change (the run is rolled back afterwards)."""

    def refs(queryset, field_name="loan__reference"):
        return list(queryset.values_list(field_name, flat=True)[:limit])

    return {
        "opened": refs(CollectionCase.objects.filter(opened_on=as_of, is_open=True).order_by("pk")),
        "moved": refs(StageTransition.objects.filter(run=run).order_by("pk"), "case__loan__reference"),
        "closed": refs(CollectionCase.objects.filter(closed_on=as_of).order_by("pk")),
        "actions": [
            f"{reference}: {kind} ({status})"
            for reference, kind, status in DunningAction.objects.filter(run=run)
            .order_by("pk")
            .values_list("loan__reference", "kind", "status")[:limit]
        ],
    }
