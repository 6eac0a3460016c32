"""A loan's credit balance — money received beyond all it owed — is either applied to what the loan owes
next, or paid back to the borrower after a refund request is approved by someone other than its maker.
The credit belongs to the payments that left it unallocated, so a refund takes from those payments,
oldest first, and records which (PaymentRefund): every payment still adds up to its amount."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.money import format_money, positive_whole_cents

from .adjustments import clean_reason, locked_loan
from .delinquency import delinquency_refresh
from .models import CreditRefund, Loan, Payment, PaymentRefund
from .posting import apply_credit_balance, refresh_settlement

REFERENCE_MAX_LENGTH = CreditRefund._meta.get_field("reference").max_length


@transaction.atomic
def credit_balance_apply(*, loan: Loan, actor=None):
    """Spend the credit balance on the loan's next installments, oldest first. Returns what was applied."""
    loan = locked_loan(loan.pk)
    before = loan.credit_balance_amount
    apply_credit_balance(loan)
    refresh_settlement(loan, business_today())
    loan.save(update_fields=["credit_balance_amount", "status", "settled_on"])
    applied = before - loan.credit_balance_amount
    if applied:
        delinquency_refresh(as_of=business_today(), loan_ids=[loan.pk])
        audit_record(actor=actor, event="credit.applied", subject=loan, detail={"amount": str(applied)})
    return applied


@transaction.atomic
def credit_refund_request(*, loan: Loan, amount, reason: str, actor) -> CreditRefund:
    """Ask for part or all of the credit balance to be paid back."""
    _require_person(actor)
    if not actor.has_perm("lending.add_creditrefund"):
        raise DomainError(_("You may not request refunds."), code="refund.forbidden")
    amount = positive_whole_cents(
        amount, code="refund.amount_invalid", message=_("A refund must be a positive amount in whole cents.")
    )
    reason = clean_reason(reason, code="refund.reason_missing")
    loan = locked_loan(loan.pk)
    _check_covered(loan, amount)
    if loan.refunds.filter(status=CreditRefund.Status.REQUESTED).exists():
        raise DomainError(_("A refund of this loan is already waiting for a decision."), code="refund.pending")
    refund = CreditRefund.objects.create(loan=loan, amount=amount, reason=reason, requested_by=actor)
    audit_record(
        actor=actor, event="refund.requested", subject=refund, detail={"loan": loan.reference, "amount": str(amount)}
    )
    return refund


@transaction.atomic
def credit_refund_decide(
    *, refund: CreditRefund, approve: bool, reason: str, actor, reference: str = ""
) -> CreditRefund:
    """Approve (paying the refund, with the bank's reference for it) or reject. Never the requester."""
    _require_person(actor)
    refund = CreditRefund.objects.select_for_update().get(pk=refund.pk)
    if refund.requested_by_id == actor.pk:
        raise DomainError(_("You cannot decide your own request."), code="refund.own_request")
    if not actor.has_perm("lending.decide_creditrefund"):
        raise DomainError(_("You may not decide refunds."), code="refund.forbidden")
    if refund.status != CreditRefund.Status.REQUESTED:
        raise DomainError(_("This request has already been decided."), code="refund.decided")
    refund.decision_reason = clean_reason(reason, code="refund.reason_missing")
    refund.decided_by, refund.decided_at = actor, timezone.now()
    if approve:
        refund.reference = _reference(reference)
        _pay(refund)
    else:
        refund.status = CreditRefund.Status.REJECTED
    refund.save()
    detail = {"loan_id": refund.loan_id, "amount": str(refund.amount), "approved": approve}
    audit_record(actor=actor, event="refund.decided", subject=refund, detail=detail)
    return refund


def _pay(refund: CreditRefund) -> None:
    loan = locked_loan(refund.loan_id)
    _check_covered(loan, refund.amount)
    left = refund.amount
    holders = loan.payments.filter(status=Payment.Status.POSTED, unallocated_amount__gt=0).order_by("received_on", "id")
    parts = []
    for payment in holders:
        if left <= 0:
            break
        taken = min(left, payment.unallocated_amount)
        payment.unallocated_amount -= taken
        payment.refunded_amount += taken
        payment.save(update_fields=["unallocated_amount", "refunded_amount"])
        parts.append(PaymentRefund(refund=refund, payment=payment, amount=taken))
        left -= taken
    PaymentRefund.objects.bulk_create(parts)
    loan.credit_balance_amount -= refund.amount
    loan.save(update_fields=["credit_balance_amount"])
    refund.status, refund.refunded_on = CreditRefund.Status.PAID, business_today()


def _check_covered(loan: Loan, amount) -> None:
    if amount > loan.credit_balance_amount:
        words = {
            "amount": format_money(amount, loan.currency),
            "credit": format_money(loan.credit_balance_amount, loan.currency),
        }
        message = _("A refund of %(amount)s is more than the loan's credit balance, %(credit)s.") % words
        raise DomainError(message, code="refund.exceeds_credit", detail={"credit": str(loan.credit_balance_amount)})


def _reference(reference: str) -> str:
    reference = (reference or "").strip()
    if not reference or len(reference) > REFERENCE_MAX_LENGTH:
        message = _("Give the bank's reference of the refund (at most %(max)d characters).")
        raise DomainError(message % {"max": REFERENCE_MAX_LENGTH}, code="refund.reference_missing")
    if CreditRefund.objects.filter(reference=reference).exists():
        raise DomainError(_("This refund reference was already used."), code="refund.reference_duplicate")
    return reference


def _require_person(actor) -> None:
    if actor is None or not actor.is_authenticated:
        raise DomainError(_("A person must do this."), code="refund.forbidden")
