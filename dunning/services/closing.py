"""Closing a case, and an open case's status from its facts: shared by the approvals that end a case (a
restructuring) or change its status (a write-off, a settlement) and by the nightly run."""

import datetime

from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, JSONObject, Least
from django.utils import timezone

from creditops.core.db import insert_from_select
from creditops.core.money import ZERO
from lending.models import Loan, Payment

from ..models import (
    ApprovalRequest,
    Callback,
    CaseEvent,
    CaseStatus,
    CloseReason,
    CollectionCase,
    DunningAction,
    PaymentPlan,
    PromiseToPay,
)
from .timeline import case_event_add

Event = CaseEvent.Kind
# Recorded on approvals the closing of their case made moot (data, not shown as a sentence).
CASE_CLOSED_REASON = "case closed before a decision"
# The closed status each reason leaves a case in.
CLOSED_STATUS = {CloseReason.CURED: CaseStatus.CURED, CloseReason.WRITTEN_OFF: CaseStatus.WRITTEN_OFF}


def case_figures_sync(case: CollectionCase) -> None:
    """Copy the loan's days past due, bucket and overdue amount onto its open case (what the nightly run's
    sync does for the whole book): a case in recovery keeps the days it was written off at, and its amount
    is what stays written off."""
    loan = Loan.objects.get(pk=case.loan_id)
    if loan.status == Loan.Status.WRITTEN_OFF:
        case.overdue_amount = loan.written_off_amount
        case.save(update_fields=["overdue_amount"])
        return
    case.days_past_due, case.aging_bucket, case.overdue_amount = (
        loan.days_past_due,
        loan.aging_bucket,
        loan.overdue_amount,
    )
    case.save(update_fields=["days_past_due", "aging_bucket", "overdue_amount"])


def case_status_refresh(case: CollectionCase) -> None:
    """Set an open case's status from its facts (after a change the status depends on)."""
    if case.is_open:
        case.status = case.status_from_facts()
        case.save(update_fields=["status"])


def case_close(*, case: CollectionCase, reason: str, on: datetime.date, actor=None) -> CollectionCase:
    """Close a case (after an approved write-off) and wind down what was still waiting on it, exactly as
    the nightly run does for the cases it closes."""
    case.is_open, case.closed_on, case.close_reason = False, on, reason
    case.status = CLOSED_STATUS.get(reason, CaseStatus.CLOSED)
    case.save(update_fields=["is_open", "closed_on", "close_reason", "status"])
    case_records_wind_down(CollectionCase.objects.filter(pk=case.pk), reason=reason, on=on)
    case_event_add(case=case, kind=Event.CLOSED, actor=actor, detail={"reason": reason}, as_of=on)
    return case


def case_records_wind_down(cases, *, reason: str, on: datetime.date) -> None:
    """For cases being closed: waiting actions are cancelled; pending promises count as kept when the debt
    was paid (cancelled on a write-off); a performing plan is completed, a requested one rejected; pending
    approvals are rejected, since nothing is left to decide. Set-based, for one case or thousands."""
    case_ids = cases.values("pk")
    waiting = [DunningAction.Status.PENDING, DunningAction.Status.AWAITING_APPROVAL]
    DunningAction.objects.filter(case__in=case_ids, status__in=waiting).update(status=DunningAction.Status.CANCELLED)
    Callback.objects.filter(case__in=case_ids, status=Callback.Status.PENDING).update(status=Callback.Status.CANCELLED)
    pending_promises = PromiseToPay.objects.filter(case__in=case_ids, status=PromiseToPay.Status.PENDING)
    if reason == CloseReason.WRITTEN_OFF:
        pending_promises.update(status=PromiseToPay.Status.CANCELLED, evaluated_on=on)
    else:
        _promises_kept_at_close(pending_promises, on)
    PaymentPlan.objects.filter(case__in=case_ids, status=PaymentPlan.Status.ACTIVE).update(
        status=PaymentPlan.Status.COMPLETED, ended_on=on
    )
    PaymentPlan.objects.filter(case__in=case_ids, status=PaymentPlan.Status.REQUESTED).update(
        status=PaymentPlan.Status.REJECTED, ended_on=on
    )
    ApprovalRequest.objects.filter(case__in=case_ids, status=ApprovalRequest.Status.PENDING).update(
        status=ApprovalRequest.Status.REJECTED, decided_at=timezone.now(), decision_reason=CASE_CLOSED_REASON
    )


def _promises_kept_at_close(promises, on: datetime.date) -> None:
    """The debt is paid, so a promise still pending is kept, with what came in since it was made (capped
    at the promise); each gets its timeline entry. Set-based."""
    paid_since = Subquery(
        Payment.objects.filter(
            loan__cases=OuterRef("case_id"), status=Payment.Status.POSTED, received_on__gte=OuterRef("made_on"),
            received_on__lte=on,
        ).order_by().values("status").annotate(total=Sum("amount")).values("total")
    )  # fmt: skip
    paid = Least(F("amount"), Coalesce(paid_since, Value(ZERO)), output_field=PromiseToPay._meta.get_field("amount"))
    events = promises.values_list(
        "case_id", Value(Event.PROMISE_KEPT), Value(on), Value(timezone.now()),
        JSONObject(promise=F("pk"), amount=F("amount"), paid=paid, at_close=Value(True)),
    )  # fmt: skip
    insert_from_select(CaseEvent, ["case", "kind", "as_of", "occurred_at", "detail"], events)
    promises.update(status=PromiseToPay.Status.KEPT, evaluated_on=on, paid_amount=paid)
