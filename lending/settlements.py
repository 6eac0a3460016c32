"""Settlements (和解 / 协商还款): an agreed amount by a deadline, optionally in dated instalments.

- Agreed (collections does it once a settlement request is approved): the loan owes what it owes; the
  payments received from the agreement's day on count towards the agreed amount. Penalty goes on
  accruing meanwhile (it is waived with the rest if the settlement is paid).
- Paid: the moment payments received by the deadline reach the agreed amount, everything the loan still
  owes is waived in one settlement-discount entry (dated the day the last of that money was received)
  and the loan closes as settled with discount.
- Lapsed: the nightly run lapses a settlement whose deadline has passed, or whose instalment fell due
  without the payments reaching it and the ones before; nothing is waived and collections resumes.
- A payment reversed after the loan settled this way takes the discount back: the loan is active again
  and the settlement waits again for payment (or lapses, past its deadline).
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.money import ZERO, format_money, positive_whole_cents

from .adjustments import after_entry, all_outstanding_lines, entry_post, entry_reverse, locked_loan, open_installments
from .models import LedgerEntry, Loan, Payment, Settlement, SettlementInstalment
from .signals import settlement_ended

MAX_INSTALMENTS = 12


def loan_owed_amount(loan: Loan) -> Decimal:
    """All the loan still owes, due or not."""
    total = loan.installments.filter(is_open=True).aggregate(total=Sum("outstanding_amount"))["total"]
    return Decimal(total or 0).quantize(Decimal("0.01"))


@transaction.atomic
def settlement_agree(
    *,
    loan: Loan,
    agreed_amount,
    deadline: datetime.date,
    instalments: list[tuple[datetime.date, object]] | None = None,
    authority: str = "",
    actor=None,
) -> Settlement:
    """Record an agreed settlement (see the module's docstring). `instalments`, if any, are (date,
    amount) pairs adding up to the agreed amount, the last on or before the deadline."""
    loan = locked_loan(loan.pk)
    agreed_amount, rows = settlement_validate(
        loan=loan, agreed_amount=agreed_amount, deadline=deadline, instalments=instalments
    )
    today, owed = business_today(), loan_owed_amount(loan)
    settlement = Settlement.objects.create(
        loan=loan, agreed_amount=agreed_amount, owed_amount=owed, starts_on=today, deadline=deadline,
        authority=authority, created_by=actor if actor is not None and actor.is_authenticated else None,
    )  # fmt: skip
    SettlementInstalment.objects.bulk_create(
        SettlementInstalment(settlement=settlement, sequence=number, due_date=due, amount=amount)
        for number, (due, amount) in enumerate(rows, start=1)
    )
    detail = {"loan": loan.reference, "agreed": str(agreed_amount), "owed": str(owed), "deadline": str(deadline)}
    audit_record(actor=actor, event="settlement.agreed", subject=settlement, detail=detail)
    settlement_check(loan_id=loan.pk, actor=actor)  # money already received today may be enough
    return settlement


def settlement_validate(*, loan: Loan, agreed_amount, deadline, instalments=None):
    """(agreed amount, sorted instalments) if the loan can be settled on these terms; a DomainError if not."""
    agreed_amount = _cents(agreed_amount, "settlement.amount_invalid")
    if loan.status != Loan.Status.ACTIVE:
        raise DomainError(_("Only an active loan can be settled."), code="settlement.loan_not_active")
    if loan.settlements.filter(status=Settlement.Status.ACTIVE).exists():
        raise DomainError(_("This loan already has a settlement waiting for payment."), code="settlement.active")
    today = business_today()
    _check_deadline(deadline, today)
    owed = loan_owed_amount(loan)
    if agreed_amount >= owed:
        message = _("The loan owes %(owed)s: a settlement agrees less than that.") % {
            "owed": format_money(owed, loan.currency)
        }
        raise DomainError(message, code="settlement.no_discount", detail={"owed": str(owed)})
    return agreed_amount, _checked_instalments(instalments or [], agreed_amount, today, deadline)


def _cents(value, code) -> Decimal:
    return positive_whole_cents(value, code=code, message=_("The amount must be a positive number in whole cents."))


def _check_deadline(deadline: datetime.date, today: datetime.date) -> None:
    longest = settings.CREDITOPS["SETTLEMENT_MAX_DAYS"]
    if not today <= deadline <= today + datetime.timedelta(days=longest):
        message = _("The deadline must be from today to %(days)d days ahead.") % {"days": longest}
        raise DomainError(message, code="settlement.deadline_invalid")


def _checked_instalments(instalments, agreed_amount, today, deadline) -> list[tuple[datetime.date, Decimal]]:
    if not instalments:
        return []
    if len(instalments) > MAX_INSTALMENTS:
        message = _("A settlement has at most %(max)d instalments.") % {"max": MAX_INSTALMENTS}
        raise DomainError(message, code="settlement.instalments_invalid")
    rows = sorted((due, _cents(amount, "settlement.amount_invalid")) for due, amount in instalments)
    if len({due for due, _amount in rows}) != len(rows) or rows[0][0] < today or rows[-1][0] > deadline:
        raise DomainError(
            _("Instalments fall on different days, from today to the deadline."), code="settlement.instalments_invalid"
        )
    total = sum((amount for _due, amount in rows), ZERO)
    if total != agreed_amount:
        message = _("The instalments add up to %(total)s, not the agreed %(agreed)s.")
        words = {"total": format_money(total), "agreed": format_money(agreed_amount)}
        raise DomainError(message % words, code="settlement.instalments_total")
    return rows


def _payments_towards(settlement: Settlement):
    return settlement.loan.payments.filter(
        status=Payment.Status.POSTED, received_on__gte=settlement.starts_on, received_on__lte=settlement.deadline
    ).order_by("received_on", "id")


def settlement_paid_amount(settlement: Settlement, *, through: datetime.date | None = None) -> Decimal:
    payments = _payments_towards(settlement)
    if through is not None:
        payments = payments.filter(received_on__lte=through)
    return payments.aggregate(total=Sum("amount"))["total"] or ZERO


def _completed_on(settlement: Settlement) -> datetime.date | None:
    """The day the payments towards the settlement reached the agreed amount, if they have."""
    total = ZERO
    for received_on, amount in _payments_towards(settlement).values_list("received_on", "amount"):
        total += amount
        if total >= settlement.agreed_amount:
            return received_on
    return None


@transaction.atomic
def settlement_check(*, loan_id: int, actor=None) -> Settlement | None:
    """After money arrives on a loan: settle it with discount if its active settlement is now paid."""
    settlement = Settlement.objects.filter(loan_id=loan_id, status=Settlement.Status.ACTIVE).first()
    if settlement is None:
        return None
    completed_on = _completed_on(settlement)
    if completed_on is None:
        return None
    loan = locked_loan(loan_id)
    entry = None
    lines = all_outstanding_lines(open_installments(loan))
    if lines:
        entry = entry_post(
            loan=loan, kind=LedgerEntry.Kind.SETTLEMENT_DISCOUNT, effective_on=completed_on, lines=lines, actor=actor,
            authority=settlement.authority,
        )  # fmt: skip
        loan.status, loan.settled_on = Loan.Status.SETTLED_WITH_DISCOUNT, completed_on
        loan.save(update_fields=["status", "settled_on"])
    _end(settlement, Settlement.Status.SETTLED, completed_on, Settlement.EndReason.PAID, entry=entry)
    if entry is not None:
        after_entry(loan, entry, actor, completed_on)
    settlement_ended.send(sender=Settlement, settlement=settlement, actor=actor)
    return settlement


def _end(settlement: Settlement, status: str, on: datetime.date, reason: str, *, entry=None, note="") -> None:
    settlement.status, settlement.ended_on, settlement.end_reason = status, on, reason
    settlement.discount_entry, settlement.end_note = entry, note
    settlement.save(update_fields=["status", "ended_on", "end_reason", "discount_entry", "end_note"])
    detail = {"loan_id": settlement.loan_id, "status": status, "on": on.isoformat()}
    audit_record(actor=None, event=f"settlement.{status}", subject=settlement, detail=detail)


@transaction.atomic
def settlements_lapse(*, as_of: datetime.date) -> int:
    """The nightly check: lapse every active settlement that missed its deadline or an instalment."""
    lapsed = 0
    for settlement in Settlement.objects.filter(status=Settlement.Status.ACTIVE).select_related("loan"):
        missed = _missed(settlement, as_of)
        if missed:
            _end(settlement, Settlement.Status.LAPSED, as_of, missed)
            settlement_ended.send(sender=Settlement, settlement=settlement, actor=None)
            lapsed += 1
    return lapsed


def _missed(settlement: Settlement, as_of: datetime.date) -> str:
    """Why the settlement lapses on `as_of` (empty if it does not)."""
    if settlement.deadline < as_of:
        return Settlement.EndReason.DEADLINE_PASSED
    due_so_far = ZERO
    for instalment in settlement.instalments.filter(due_date__lt=as_of).order_by("sequence"):
        due_so_far += instalment.amount
        if settlement_paid_amount(settlement, through=instalment.due_date) < due_so_far:
            return Settlement.EndReason.INSTALMENT_MISSED
    return ""


@transaction.atomic
def settlement_cancel(*, settlement: Settlement, reason: str, actor) -> Settlement:
    """Withdraw an agreed settlement that is still waiting for payment (the borrower declined it)."""
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if settlement.status != Settlement.Status.ACTIVE:
        raise DomainError(_("Only a settlement waiting for payment can be cancelled."), code="settlement.not_active")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the settlement is cancelled."), code="settlement.reason_missing")
    _end(settlement, Settlement.Status.CANCELLED, business_today(), Settlement.EndReason.CANCELLED, note=reason)
    settlement_ended.send(sender=Settlement, settlement=settlement, actor=actor)
    return settlement


def settlement_reopen(loan: Loan, actor=None) -> None:
    """A payment of a loan settled with discount is being reversed: the discount is taken back first, the
    loan is active again and its settlement waits for payment again (lapsing at its deadline). The caller
    holds the loan's lock."""
    settlement = loan.settlements.filter(status=Settlement.Status.SETTLED).order_by("-id").first()
    if settlement is None or settlement.discount_entry is None:
        return
    today = business_today()
    reversal = entry_reverse(entry=settlement.discount_entry, reason="", effective_on=today, actor=actor)
    loan.status, loan.settled_on = Loan.Status.ACTIVE, None
    loan.save(update_fields=["status", "settled_on"])
    settlement.status, settlement.ended_on, settlement.end_reason = Settlement.Status.ACTIVE, None, ""
    settlement.discount_entry = None
    settlement.save(update_fields=["status", "ended_on", "end_reason", "discount_entry"])
    after_entry(loan, reversal, actor, today)
