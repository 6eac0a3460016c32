"""Writing a payment's effect on the ledger: allocation rows and the installments' paid amounts, the
credit balance, and whether the loan is settled. Shared by payment posting and the penalty replay."""

import datetime

from .allocation import COMPONENTS, OpenInstallment, allocate, outstanding_parts
from .models import Installment, Loan, Payment, PaymentAllocation


def apply_allocation_lines(payment, lines, *, sign: int, is_reversal: bool = False, is_recovery: bool = False):
    """Record allocation rows and move the installments' paid amounts by the same figures."""
    rows, changed = [], []
    for line in lines:
        installment = line.key
        rows.append(
            PaymentAllocation(
                payment=payment,
                installment=installment,
                is_reversal=is_reversal,
                is_recovery=is_recovery,
                **{f"{part}_amount": sign * line.amounts[part] for part in COMPONENTS},
            )
        )
        for part in COMPONENTS:
            field = f"{part}_paid_amount"
            setattr(installment, field, getattr(installment, field) + sign * line.amounts[part])
        changed.append(installment)
    PaymentAllocation.objects.bulk_create(rows)
    Installment.objects.bulk_update(changed, [f"{part}_paid_amount" for part in COMPONENTS])


def apply_credit_balance(loan: Loan) -> None:
    """Spend the loan's credit balance on what it owes again (a reversal can reopen installments while an
    overpayment still sits as credit). The credit belongs to the payments that left it unallocated, so
    their allocations grow and their unallocated parts shrink by the same amounts, oldest payment first."""
    if loan.credit_balance_amount <= 0:
        return
    holders = loan.payments.filter(status=Payment.Status.POSTED, unallocated_amount__gt=0).order_by("received_on", "id")
    for payment in holders:
        installments = list(loan.installments.filter(is_open=True).order_by("due_date", "sequence"))
        if not installments:
            return
        open_items = [OpenInstallment(key=item, outstanding=outstanding_parts(item)) for item in installments]
        lines, left = allocate(payment.unallocated_amount, open_items, loan.product.waterfall)
        apply_allocation_lines(payment, lines, sign=1)
        loan.credit_balance_amount -= payment.unallocated_amount - left
        payment.unallocated_amount = left
        payment.save(update_fields=["unallocated_amount"])


def refresh_settlement(loan: Loan, on: datetime.date):
    """An active loan that owes nothing is settled on `on`; a settled one that owes again is active.
    Written off and settled with discount are decided by their own entries, never here."""
    if loan.status in (Loan.Status.WRITTEN_OFF, Loan.Status.SETTLED_WITH_DISCOUNT):
        return
    owes_anything = loan.installments.filter(is_open=True).exists()
    if owes_anything:
        loan.status, loan.settled_on = Loan.Status.ACTIVE, None
    elif loan.status != Loan.Status.SETTLED:
        loan.status, loan.settled_on = Loan.Status.SETTLED, on
