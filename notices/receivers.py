"""Events from the collections app that call for a notice."""

from django.db import transaction


def confirm_plan_by_notice(sender, plan, actor=None, **kwargs):
    """An approved payment plan is confirmed to the borrower in writing (after the approval commits)."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("notices.tasks.issue_plan_confirmation", plan.pk))
