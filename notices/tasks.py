"""django-q2 entry points. The nightly run enqueues `issue_pending_notices` when it ends; the q-cluster's
workers then issue the notices chunk by chunk, side by side."""

from django_q.tasks import async_task

from dunning.models import NoticeKind, PaymentPlan

from .services.batch import chunks, notices_issue_for_actions, pending_notice_action_ids, reserved_notices_finish
from .services.delivery import email_deliveries_due, email_delivery_send
from .services.issue import notice_issue


def issue_pending_notices() -> dict:
    """Finish crashed notices, then queue one task per chunk of pending notice actions."""
    resumed = reserved_notices_finish()
    parts = chunks(pending_notice_action_ids())
    for part in parts:
        async_task("notices.tasks.issue_notice_chunk", part, task_name=f"notices-{part[0]}-{part[-1]}")
    return {"resumed": resumed, "chunks": len(parts), "actions": sum(len(part) for part in parts)}


def issue_notice_chunk(action_ids: list[int]) -> dict:
    return dict(notices_issue_for_actions(action_ids))


def issue_plan_confirmation(plan_id: int) -> str:
    plan = PaymentPlan.objects.select_related("case__loan__product", "case__borrower").get(pk=plan_id)
    notice = notice_issue(case=plan.case, kind=NoticeKind.PLAN_CONFIRMATION, actor=None, plan=plan)
    return notice.reference


def deliver_emails(delivery_ids: list[int]) -> dict:
    """Send these e-mail deliveries, one after the other; returns counts by outcome."""
    outcomes = [email_delivery_send(delivery_id) for delivery_id in delivery_ids]
    return {outcome: outcomes.count(outcome) for outcome in set(outcomes)}


def deliver_due_emails() -> dict:
    """Retries and deferred e-mails (scheduled every 5 minutes)."""
    return email_deliveries_due()
