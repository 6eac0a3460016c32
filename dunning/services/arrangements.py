"""What an approved request that changes what a case's loan owes, or how it ends, does: a waiver, a
settlement, a write-off, a restructuring, the undo of a write-off. The ledger's services carry them out
(checking their rules again: the loan may have changed since the request, which checked them too —
dunning/services/approvals.py); the case follows."""

import datetime

from django.utils.translation import gettext as _

from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from lending.adjustments import waiver_post
from lending.restructuring import loan_restructure
from lending.settlements import settlement_agree
from lending.write_off import loan_write_off, loan_write_off_undo

from ..models import ActionKind, CloseReason, DunningAction
from .closing import case_close, case_status_refresh

# What the ladder sends by itself, which ends with a write-off.
LADDER_MESSAGES = [
    ActionKind.SMS_REMINDER, ActionKind.EMAIL_REMINDER, ActionKind.COLLECTION_NOTICE, ActionKind.FINAL_DEMAND,
]  # fmt: skip


def _authority(approval) -> str:
    return f"approval {approval.pk}"


def apply_waiver(approval, case, actor):
    waiver_post(
        loan=case.loan, component=approval.terms["component"], amount=approval.amount,
        reason=approval.request_reason or approval.decision_reason, authority=_authority(approval), actor=actor,
    )  # fmt: skip


def apply_settlement(approval, case, actor):
    terms = approval.terms
    if "deadline" not in terms:  # requested before settlements had terms: nothing to agree on
        raise DomainError(_("This settlement request has no deadline; ask again."), code="approval.terms_missing")
    settlement = settlement_agree(
        loan=case.loan,
        agreed_amount=approval.amount,
        deadline=datetime.date.fromisoformat(terms["deadline"]),
        instalments=[(datetime.date.fromisoformat(due), value) for due, value in terms.get("instalments", [])],
        authority=_authority(approval),
        actor=actor,
    )
    case.settlement_amount = settlement.agreed_amount
    case.save(update_fields=["settlement_amount"])
    case_status_refresh(case)


def apply_restructure(approval, case, actor):
    terms = approval.terms
    restructuring = loan_restructure(
        loan=case.loan,
        method=terms["method"],
        term_months=int(terms["term_months"]),
        first_due_date=datetime.date.fromisoformat(terms["first_due_date"]),
        reason=approval.request_reason or approval.decision_reason,
        authority=_authority(approval),
        actor=actor,
    )
    if case.is_open:
        case_close(case=case, reason=CloseReason.RESTRUCTURED, on=restructuring.effective_on, actor=actor)


def apply_write_off_undo(approval, case, actor):
    """The loan is restored; its case goes back on the ladder — or closes, if the recoveries, allocated
    again as ordinary payments, paid it all."""
    loan = loan_write_off_undo(
        loan=case.loan, reason=approval.request_reason or approval.decision_reason,
        authority=_authority(approval), actor=actor,
    )  # fmt: skip
    if loan.status == loan.Status.SETTLED:
        case_close(case=case, reason=CloseReason.SETTLED, on=business_today(), actor=actor)
    else:
        case_status_refresh(case)


def apply_write_off(approval, case, actor):
    """The loan is written off; the case stays open in recovery, worked by its collector for what stays
    written off. The ladder's reminders and letters still waiting are cancelled: the ladder is over."""
    loan = case.loan
    if loan.status != loan.Status.ACTIVE or loan.overdue_amount <= 0:
        raise DomainError(
            _("The loan is no longer overdue; there is nothing to write off."), code="approval.write_off_moot"
        )
    loan_write_off(
        loan=loan, on=business_today(), reason=approval.request_reason or approval.decision_reason,
        authority=_authority(approval), actor=actor,
    )  # fmt: skip
    case_status_refresh(case)
    case.actions.filter(status=DunningAction.Status.PENDING, kind__in=LADDER_MESSAGES).update(
        status=DunningAction.Status.CANCELLED
    )
