"""Signals other apps listen to without the ledger knowing about them (collections adds a payment to the
case timeline). Sent inside the posting transaction."""

from django.dispatch import Signal

payment_posted = Signal()  # kwargs: payment, actor
payment_reversed = Signal()  # kwargs: payment, actor
# The bulk import's counterpart of payment_posted, sent once for a whole file.
payments_imported = Signal()  # kwargs: payments (a list, in posting order), actor
# A late-arriving payment re-played the loan's penalty days (kwargs: loan, since, removed, charged).
penalty_replayed = Signal()
# A ledger entry was posted: a waiver, a settlement discount, a write-off, a recovery, an undo, a
# restructuring's closing entry, or a reversal of one (kwargs: entry, actor).
ledger_entry_posted = Signal()
# A settlement ended: paid (the loan settled with discount), lapsed or cancelled (kwargs: settlement, actor).
settlement_ended = Signal()
