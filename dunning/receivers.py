"""Ledger events that belong on a case timeline."""

from lending.models import Loan, Settlement

from .models import CaseEvent, CloseReason, CollectionCase
from .services.closing import case_close, case_figures_sync, case_status_refresh
from .services.timeline import case_event_add


def payment_on_timeline(sender, payment, actor=None, **kwargs):
    """A payment posted or reversed on a loan with an open case appears on that case's timeline. Its effect
    on the case (cure, lower overdue amount, kept promise) comes with the next nightly run."""
    case = CollectionCase.objects.filter(loan_id=payment.loan_id, is_open=True).first()
    if case is None:
        return
    detail = {
        "payment": payment.pk, "amount": str(payment.amount), "received_on": payment.received_on.isoformat(),
        "reversed": payment.status == payment.Status.REVERSED,
    }  # fmt: skip
    # Dated when the money arrived (or the reversal happened), not when the bank file was posted.
    dated = payment.reversed_on if payment.status == payment.Status.REVERSED else payment.received_on
    case_event_add(case=case, kind=CaseEvent.Kind.PAYMENT, actor=actor, detail=detail, as_of=dated)


def penalty_replay_on_timeline(sender, loan, since, removed, charged, **kwargs):
    """Penalty taken back (and charged again on what was left) because money arrived earlier than it was
    posted: on the open case's timeline, dated the day the replay started from."""
    case = CollectionCase.objects.filter(loan_id=loan.pk, is_open=True).first()
    if case is None or not (removed or charged):
        return
    detail = {"since": since.isoformat(), "removed": str(removed), "charged": str(charged)}
    case_event_add(case=case, kind=CaseEvent.Kind.PENALTY_REPLAYED, actor=None, detail=detail, as_of=since)


def ledger_entry_on_case(sender, entry, actor=None, **kwargs):
    """A waiver, settlement discount, write-off, recovery, undo or restructuring (or a reversal of one) on
    the loan of an open case appears on its timeline, dated when it takes effect, and the case shows the
    loan's figures at once (not at the next nightly run)."""
    case = CollectionCase.objects.filter(loan_id=entry.loan_id, is_open=True).first()
    if case is None:
        return
    case_figures_sync(case)
    detail = {"entry": entry.pk, "kind": entry.kind, "amount": str(entry.amount), "reversal": entry.is_reversal}
    if entry.component:
        detail["component"] = entry.component
    case_event_add(case=case, kind=CaseEvent.Kind.LEDGER_ENTRY, actor=actor, detail=detail, as_of=entry.effective_on)


def settlement_ended_on_case(sender, settlement, actor=None, **kwargs):
    """A settlement paid closes its case (the loan is settled with discount); one that lapsed or was
    cancelled puts the case back on the ladder."""
    case = CollectionCase.objects.filter(loan_id=settlement.loan_id, is_open=True).first()
    if case is None:
        return
    detail = {
        "settlement": settlement.pk, "status": settlement.status, "reason": settlement.end_reason,
        "note": settlement.end_note,
    }  # fmt: skip
    case_event_add(
        case=case, kind=CaseEvent.Kind.SETTLEMENT_ENDED, actor=actor, detail=detail, as_of=settlement.ended_on
    )
    loan_status = Loan.objects.values_list("status", flat=True).get(pk=settlement.loan_id)
    if settlement.status == Settlement.Status.SETTLED and loan_status in CLOSES_WITH:
        case_close(case=case, reason=CLOSES_WITH[loan_status], on=settlement.ended_on, actor=actor)
    else:
        case_status_refresh(case)


# A settlement paid leaves its loan settled with discount (or just settled, if the money covered it all).
CLOSES_WITH = {
    Loan.Status.SETTLED_WITH_DISCOUNT: CloseReason.SETTLED_WITH_DISCOUNT, Loan.Status.SETTLED: CloseReason.SETTLED,
}  # fmt: skip
