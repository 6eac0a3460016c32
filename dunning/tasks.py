"""django-q2 entry points (scheduled by `manage.py setup_schedules`)."""

from django_q.tasks import async_task

from creditops.core.dates import business_today

from .services.dispatch import reminders_dispatch
from .services.run import dates_to_run, dunning_run


def nightly_run() -> dict:
    """Run every business date up to today that has not run yet, in order (the queue waits for a run
    already in progress rather than failing)."""
    done = {}
    dates = dates_to_run(business_today())
    for as_of in dates:
        report = dunning_run(as_of=as_of, wait=True, holder="django-q2 nightly", catch_up_to=dates[-1])
        done[as_of.isoformat()] = "already done" if report.skipped_as_done else report.counts
    # The notices the run asked for are issued by the workers, chunk by chunk (notices.tasks).
    async_task("notices.tasks.issue_pending_notices", task_name="notices-after-nightly-run")
    return done


def dispatch_reminders() -> dict:
    return reminders_dispatch()
