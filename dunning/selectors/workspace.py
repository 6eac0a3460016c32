"""What the case workspace shows: where the case stands, what comes next, its ledger and timeline."""

import datetime
from dataclasses import dataclass

from creditops.core.dates import business_today
from creditops.core.masking import mask_phone
from creditops.core.money import ZERO
from lending.models import Loan, Payment
from lending.selectors import loan_adjustments, loan_penalty

from ..models import ApprovalRequest, CaseEvent, CollectionCase, DunningAction, DunningStage, PaymentPlan, PromiseToPay


@dataclass
class NextStage:
    stage: DunningStage
    expected_on: datetime.date | None  # None while the ladder waits (dispute, plan)


def next_stage(case: CollectionCase, *, today: datetime.date | None = None) -> NextStage | None:
    """The stage the case reaches next if nothing is paid, and the business date it would get there."""
    if not case.is_open:
        return None
    current_start = case.stage.start_dpd if case.stage_id else -1
    upcoming = (
        DunningStage.objects.filter(policy_id=case.policy_id, is_active=True, start_dpd__gt=current_start)
        .order_by("start_dpd")
        .first()
    )
    if upcoming is None:
        return None
    if case.is_paused:
        return NextStage(upcoming, None)
    today = today or business_today()
    oldest_due = case.loan.oldest_overdue_due_date
    if oldest_due is None:
        return NextStage(upcoming, today + datetime.timedelta(days=max(upcoming.start_dpd - case.days_past_due, 1)))
    # DPD counts from the oldest unpaid due date, so the day is known exactly; a date already past (the
    # nightly run is behind) means the next run.
    reached_on = oldest_due + datetime.timedelta(days=upcoming.start_dpd)
    return NextStage(upcoming, max(reached_on, today + datetime.timedelta(days=1)))


TIMELINE_LIMIT = 100


def _with_stages(events: list[CaseEvent]) -> list[CaseEvent]:
    """Each stage change with its stage, so the entry names it in the reader's language (one query)."""
    changes = [event for event in events if event.kind == CaseEvent.Kind.STAGE_CHANGED]
    stages = DunningStage.objects.in_bulk({event.detail.get("to_stage") for event in changes} - {None})
    for event in changes:
        event.stage = stages.get(event.detail.get("to_stage"))
    return events


PAYMENTS_LIMIT = 50
OTHER_LOANS_LIMIT = 20


def case_workspace(case: CollectionCase, *, today: datetime.date | None = None) -> dict:
    """Everything the case workspace shows, each list bounded so a long-running case stays fast."""
    loan = case.loan
    today = today or business_today()
    schedule = list(loan.installments.order_by("sequence"))
    for installment in schedule:
        installment.is_overdue = installment.effective_due_date < today and installment.outstanding_amount > 0
    contacts = list(case.borrower.contacts.order_by("id"))
    for contact in contacts:
        contact.masked_phone = mask_phone(contact.phone)
        contact.reveal_field = f"phone-{contact.pk}"
    outstanding_total = sum((installment.outstanding_amount for installment in schedule), ZERO)
    pending_approvals = list(
        case.approvals.filter(status=ApprovalRequest.Status.PENDING).select_related("requested_by")
    )
    for approval in pending_approvals:
        # A settlement's discount is what the loan owes less the amount agreed.
        approval.discount = outstanding_total - approval.amount if approval.amount is not None else None
    return {
        "transition": case.transitions.select_related("to_stage").order_by("-id").first(),
        "next_stage": next_stage(case),
        "open_actions": list(
            case.actions.filter(status__in=[DunningAction.Status.PENDING, DunningAction.Status.AWAITING_APPROVAL])
            .select_related("stage")
            .order_by("created_on", "id")
        ),
        "contacts": contacts,
        "other_loans": list(
            Loan.objects.filter(borrower_id=case.borrower_id)
            .exclude(pk=loan.pk)
            .select_related("product")
            .order_by("-id")[:OTHER_LOANS_LIMIT]
        ),
        "schedule": schedule,
        "penalty": loan_penalty(loan, schedule=schedule),
        "ledger": loan_adjustments(loan, schedule=schedule),
        "restructure_watched": loan.restructured_watch_on(today),
        "outstanding_total": outstanding_total,
        "payments": list(Payment.objects.filter(loan=loan).order_by("-received_on", "-id")[:PAYMENTS_LIMIT]),
        # By business date: a payment received on Monday and posted on Thursday sits on Monday.
        "timeline": _with_stages(list(case.events.select_related("actor").order_by("-as_of", "-id")[:TIMELINE_LIMIT])),
        "pending_promise": case.promises.filter(status=PromiseToPay.Status.PENDING).first(),
        "open_disputes": list(case.disputes.filter(status="open").order_by("-raised_at")),
        "live_plan": case.plans.filter(status__in=[PaymentPlan.Status.REQUESTED, PaymentPlan.Status.ACTIVE])
        .prefetch_related("installments")
        .first(),
        "pending_approvals": pending_approvals,
    }
