"""Write-off, recovery and undo.

- A write-off (after an approved charge-off proposal) moves everything the loan still owes — principal,
  interest, fees and penalty, due or not — off balance in one write-off entry; penalty accrual stops
  from the next day (a written-off pause); the loan's status is written off. The borrower still owes it.
- A payment received after that is a recovery: allocated by the product's waterfall, oldest installment
  first, over what stays written off; its allocation rows are marked as recoveries, and a recovery entry
  reinstates what it paid (so the installment's on-balance outstanding stays nil). A payment posted after
  the write-off counts as a recovery whatever its received date.
- An approved undo within WRITE_OFF_UNDO_DAYS restores the loan as if it had never been written off: an
  undo entry reinstates what stays written off, the written-off pause is emptied, and the loan's days
  since the write-off are re-played (the penalty those days would have charged, the recoveries allocated
  as ordinary payments).
"""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils.translation import gettext as _

from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.money import ZERO, to_money

from .adjustments import after_entry, all_outstanding_lines, entry_post, locked_loan, refuse_while_settling
from .allocation import COMPONENTS, AllocationLine, OpenInstallment, allocate
from .models import (
    Installment,
    LedgerEntry,
    LedgerEntryLine,
    Loan,
    Payment,
    PaymentAllocation,
    PenaltyEntry,
    PenaltyPause,
)
from .penalty_replay import penalty_replay
from .posting import apply_allocation_lines

ONE_DAY = datetime.timedelta(days=1)
Kind = LedgerEntry.Kind


@transaction.atomic
def loan_write_off(*, loan: Loan, on: datetime.date, authority: str = "", reason: str = "", actor=None) -> Loan:
    """Take the loan off balance: one entry closing all it still owes, accrual stopped, status written off.
    Writing off a loan already written off changes nothing."""
    loan = locked_loan(loan.pk)
    if loan.status == Loan.Status.WRITTEN_OFF:
        return loan
    write_off_validate(loan=loan)
    lines = all_outstanding_lines(loan.installments.filter(is_open=True).order_by("due_date", "sequence"))
    entry = entry_post(
        loan=loan, kind=Kind.WRITE_OFF, effective_on=on, lines=lines, actor=actor, reason=reason, authority=authority
    )
    loan.status, loan.written_off_on, loan.written_off_amount = Loan.Status.WRITTEN_OFF, on, entry.amount
    loan.save(update_fields=["status", "written_off_on", "written_off_amount"])
    # The nightly run charged the write-off day's penalty that morning: accrual stops from the next day.
    PenaltyPause.objects.create(loan=loan, reason=PenaltyPause.Reason.WRITTEN_OFF, started_on=on + ONE_DAY)
    after_entry(loan, entry, actor, on)
    return loan


def write_off_validate(*, loan: Loan) -> None:
    """A DomainError if the loan cannot be written off now."""
    if loan.status != Loan.Status.ACTIVE:
        raise DomainError(_("Only an active loan can be written off."), code="loan.not_active")
    refuse_while_settling(loan, code="write_off.settlement_active")


def written_off_left(loan: Loan) -> dict[int, dict[str, Decimal]]:
    """{installment id: {part: amount}} of what stays written off of each installment."""
    rows = (
        LedgerEntryLine.objects.filter(entry__loan=loan, entry__kind__in=LedgerEntry.WRITE_OFF_KINDS)
        .values("installment_id")
        .annotate(**{part: Sum(f"{part}_amount") for part in COMPONENTS})
        .order_by()
    )
    return {row["installment_id"]: {part: row[part] or ZERO for part in COMPONENTS} for row in rows}


def recovery_allocate(loan: Loan, payment: Payment) -> None:
    """Post a payment on a written-off loan (the caller holds its lock and saves the loan): it pays what
    stays written off, oldest installment first by the waterfall; the rest is credit balance."""
    left = written_off_left(loan)
    installments = Installment.objects.filter(pk__in=left).order_by("due_date", "sequence")
    open_items = [
        OpenInstallment(key=item, outstanding=left[item.pk]) for item in installments if any(left[item.pk].values())
    ]
    lines, payment.unallocated_amount = allocate(payment.amount, open_items, loan.product.waterfall)
    payment.save()
    if lines:
        # Reinstate what the money pays, then pay it: the installment's outstanding stays nil.
        reinstated = [
            AllocationLine(key=line.key, amounts={part: -amount for part, amount in line.amounts.items()})
            for line in lines
        ]
        entry = entry_post(
            loan=loan, kind=Kind.RECOVERY, effective_on=payment.received_on, lines=reinstated, payment=payment
        )
        apply_allocation_lines(payment, lines, sign=1, is_recovery=True)
        loan.written_off_amount += entry.amount  # entry.amount is negative: what was reinstated
    loan.credit_balance_amount += payment.unallocated_amount


def recovery_take_back(loan: Loan, payment: Payment) -> None:
    """Reverse a payment on a written-off loan: its allocations come back, and what they paid is written
    off again (a recovery entry taking back the one the payment made, or a fresh write-off of what a
    payment from before the write-off had paid). The caller holds the loan's lock."""
    held = defaultdict(lambda: dict.fromkeys(COMPONENTS, ZERO))
    for row in payment.allocations.values("installment_id", *[f"{part}_amount" for part in COMPONENTS]):
        for part in COMPONENTS:
            held[row["installment_id"]][part] += row[f"{part}_amount"]
    installments = Installment.objects.in_bulk(list(held))
    lines = [
        AllocationLine(key=installments[pk], amounts=amounts) for pk, amounts in held.items() if any(amounts.values())
    ]
    recovered = payment.allocations.filter(is_recovery=True).exists()
    apply_allocation_lines(payment, lines, sign=-1, is_reversal=True, is_recovery=recovered)
    if not lines:
        return
    today = business_today()
    if recovered:
        recovery = LedgerEntry.objects.filter(kind=Kind.RECOVERY, payment=payment, reverses__isnull=True).first()
        entry = entry_post(
            loan=loan, kind=Kind.RECOVERY, effective_on=today, lines=lines, reverses=recovery, payment=payment,
        )  # fmt: skip
    else:
        # What a payment from before the write-off had paid is owed again: written off with the rest.
        entry = entry_post(loan=loan, kind=Kind.WRITE_OFF, effective_on=today, lines=lines, payment=payment)
    loan.written_off_amount += entry.amount


def undo_deadline(loan: Loan) -> datetime.date | None:
    if loan.written_off_on is None:
        return None
    return loan.written_off_on + datetime.timedelta(days=settings.CREDITOPS["WRITE_OFF_UNDO_DAYS"])


def undo_validate(*, loan: Loan) -> None:
    """A DomainError if the loan's write-off cannot be undone (not written off, or too late)."""
    if loan.status != Loan.Status.WRITTEN_OFF:
        raise DomainError(_("This loan is not written off."), code="write_off.not_written_off")
    deadline = undo_deadline(loan)
    if deadline is not None and business_today() > deadline:
        message = _("A write-off can be undone until %(day)s; that has passed.") % {"day": deadline}
        raise DomainError(message, code="write_off.undo_too_late", detail={"deadline": deadline.isoformat()})


@transaction.atomic
def loan_write_off_undo(*, loan: Loan, reason: str, authority: str = "", actor=None) -> Loan:
    """Restore a written-off loan exactly (see the module's docstring), within the undo period."""
    loan = locked_loan(loan.pk)
    undo_validate(loan=loan)
    today = business_today()
    write_off = (
        LedgerEntry.objects.filter(loan=loan, kind=Kind.WRITE_OFF, reverses__isnull=True, reversed_by__isnull=True)
        .order_by("effective_on", "id")
        .first()
    )
    left = written_off_left(loan)
    installments = Installment.objects.in_bulk(list(left))
    lines = [
        AllocationLine(key=installments[pk], amounts={part: -amount for part, amount in parts.items()})
        for pk, parts in left.items()
        if any(parts.values())
    ]
    entry = entry_post(
        loan=loan, kind=Kind.WRITE_OFF_UNDO, effective_on=today, lines=lines, actor=actor, reason=reason,
        authority=authority, reverses=write_off,
    )  # fmt: skip
    written_off_on = loan.written_off_on
    loan.status, loan.written_off_on, loan.written_off_amount = Loan.Status.ACTIVE, None, ZERO
    loan.save(update_fields=["status", "written_off_on", "written_off_amount"])
    # Empty the pause (it keeps its start as a record) so the re-play charges the days it covered.
    PenaltyPause.objects.filter(loan=loan, reason=PenaltyPause.Reason.WRITTEN_OFF, ended_on__isnull=True).update(
        ended_on=written_off_on + ONE_DAY
    )
    last_charged = PenaltyEntry.objects.aggregate(last=Max("accrued_on"))["last"] or today
    penalty_replay(loan_id=loan.pk, since=written_off_on, through=max(last_charged, written_off_on), actor=actor)
    loan.refresh_from_db()
    after_entry(loan, entry, actor, today)
    return loan


def written_off_summary(loan: Loan) -> dict:
    """What was written off, recovered since (the money allocated as recoveries, net of reversals and of
    an undo, which makes them ordinary payments) and stays written off, for the case and the API."""
    # A write-off taken back by an undo no longer counts.
    standing = LedgerEntry.objects.filter(loan=loan, kind=Kind.WRITE_OFF, reversed_by__isnull=True)
    written_off = standing.aggregate(total=Sum("amount"))["total"]
    recovered = PaymentAllocation.objects.filter(payment__loan=loan, is_recovery=True).aggregate(
        **{part: Sum(f"{part}_amount") for part in COMPONENTS}
    )
    return {
        "written_off": to_money(written_off or 0),
        "recovered": to_money(sum((value or 0 for value in recovered.values()), ZERO)),
        "recovered_principal": to_money(recovered["principal"] or 0),
        "left": loan.written_off_amount,
        "written_off_on": loan.written_off_on,
        "undo_until": undo_deadline(loan),
    }
