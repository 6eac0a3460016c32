"""A bank file posted in bulk (lending.imports) on the case timeline: what receivers.payment_on_timeline
does for one payment, set-based. Importing this module connects the receiver."""

from collections import Counter, defaultdict

from django.dispatch import receiver

from lending.imports.bulk import chunked, one_of
from lending.signals import payments_imported

from .models import CaseEvent, CollectionCase
from .services.timeline import case_events_add


@receiver(payments_imported, dispatch_uid="dunning.payments_imported")
def imported_payments_on_timeline(sender, payments, actor=None, **kwargs):
    """Each imported payment on a loan with an open case appears on that case's timeline, with the same
    detail as a payment posted by hand."""
    open_cases = {}
    for loan_ids in chunked(sorted({payment.loan_id for payment in payments})):
        open_cases.update(
            (case.loan_id, case) for case in CollectionCase.objects.filter(one_of("loan_id", loan_ids), is_open=True)
        )
    # case_events_add writes one entry per case; a loan paid twice in one file needs a second round.
    rounds, seen = defaultdict(list), Counter()
    for payment in payments:
        case = open_cases.get(payment.loan_id)
        if case is not None:
            rounds[seen[case.pk]].append((case, payment))
            seen[case.pk] += 1
    for entries in rounds.values():
        details = {case.pk: _detail(payment) for case, payment in entries}
        received = {case.pk: payment.received_on for case, payment in entries}
        case_events_add(
            cases=[case for case, _payment in entries], kind=CaseEvent.Kind.PAYMENT, actor=actor, details=details,
            dates=received,
        )  # fmt: skip


def _detail(payment) -> dict:
    return {
        "payment": payment.pk, "amount": str(payment.amount), "received_on": payment.received_on.isoformat(),
        "reversed": False,
    }  # fmt: skip
