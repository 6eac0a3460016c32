"""Ledger events that belong on a case timeline."""

from .models import CaseEvent, CollectionCase
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
