"""Maker-checker approvals (write-off, settlement discount, legal referral, credit-bureau report, payment
plan) and hardship payment plans. The requester can never decide their own request: enforced here, not
in a screen."""

import datetime
from decimal import ROUND_DOWN

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import add_months, business_today
from creditops.core.errors import DomainError
from creditops.core.money import CENT, ZERO, positive_whole_cents, to_money
from lending.adjustments import part_owed, waiver_validate
from lending.models import Settlement
from lending.restructuring import restructure_plan
from lending.settlements import loan_owed_amount, settlement_cancel, settlement_validate
from lending.write_off import undo_validate, write_off_validate

from ..models import (
    ApprovalRequest,
    CaseEvent,
    CollectionCase,
    DunningAction,
    PaymentPlan,
    PlanInstallment,
)
from ..selectors import case_supervisable_by
from ..signals import plan_started
from . import arrangements
from .cases import _locked, require_open, require_workable
from .timeline import case_event_add

Event = CaseEvent.Kind
Kind = ApprovalRequest.Kind
MAX_PLAN_INSTALLMENTS = 24
REASON_MAX_LENGTH = 2000


def _user_or_none(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _money(value, code):
    return positive_whole_cents(value, code=code, message=_("The amount must be a positive number in whole cents."))


@transaction.atomic
def approval_request(
    *, case: CollectionCase, kind: str, actor, reason: str, amount=None, action=None, plan=None, terms=None
) -> ApprovalRequest:
    """Ask for a decision. Waivers and settlements name an amount; a write-off's is what the loan owes
    when it is asked for (all of it is written off); `terms` holds what else a kind needs (see the
    requests below)."""
    if kind not in Kind.values:
        raise DomainError(_("Unknown approval kind %(kind)r.") % {"kind": kind}, code="approval.kind_invalid")
    require_workable(case, actor)
    require_open(case)
    reason = (reason or "").strip()
    if actor is not None and not reason:
        raise DomainError(_("Say why you ask for this."), code="approval.reason_missing")
    if kind in (Kind.SETTLEMENT_DISCOUNT, Kind.WAIVER) and actor is not None:
        amount = _money(amount, "approval.amount_invalid")
    if kind == Kind.WRITE_OFF:
        write_off_validate(loan=case.loan)
        amount = loan_owed_amount(case.loan)
    if kind == Kind.PAYMENT_PLAN and plan is None:
        raise DomainError(_("Request a payment plan with its instalments."), code="approval.plan_missing")
    if case.approvals.filter(kind=kind, status=ApprovalRequest.Status.PENDING).exists():
        raise DomainError(_("A request of this kind is already waiting."), code="approval.already_pending")
    approval = ApprovalRequest.objects.create(
        case=case, kind=kind, amount=amount, request_reason=reason[:REASON_MAX_LENGTH], terms=terms or {},
        requested_by=_user_or_none(actor), requested_at=timezone.now(), action=action, plan=plan,
    )  # fmt: skip
    detail = {"approval": approval.pk, "kind": kind, "amount": str(amount) if amount is not None else None}
    detail.update(terms or {})
    case_event_add(case=case, kind=Event.APPROVAL_REQUESTED, actor=actor, detail=detail)
    audit_record(actor=actor, event="approval.requested", subject=approval, detail=detail)
    return approval


def waiver_request(*, case: CollectionCase, component: str, amount, reason: str, actor) -> ApprovalRequest:
    """Ask to waive `amount` of one part of what the loan owes (penalty, fees, interest or principal)."""
    amount = waiver_validate(loan=case.loan, component=component, amount=amount)
    terms = {"component": component, "owed": str(part_owed(case.loan, component))}
    return approval_request(case=case, kind=Kind.WAIVER, amount=amount, reason=reason, actor=actor, terms=terms)


def settlement_request(
    *, case: CollectionCase, amount, deadline: datetime.date, instalments=None, reason: str, actor
) -> ApprovalRequest:
    """Ask to settle the loan for `amount` paid by `deadline` (optionally in dated instalments)."""
    if case.plans.filter(status__in=[PaymentPlan.Status.REQUESTED, PaymentPlan.Status.ACTIVE]).exists():
        raise DomainError(_("This case has a payment plan requested or running."), code="settlement.plan_live")
    amount, rows = settlement_validate(loan=case.loan, agreed_amount=amount, deadline=deadline, instalments=instalments)
    terms = {
        "deadline": deadline.isoformat(), "instalments": [[due.isoformat(), str(value)] for due, value in rows],
        "owed": str(loan_owed_amount(case.loan)),
    }  # fmt: skip
    return approval_request(
        case=case, kind=Kind.SETTLEMENT_DISCOUNT, amount=amount, reason=reason, actor=actor, terms=terms
    )


def restructure_request(
    *, case: CollectionCase, method: str, term_months: int, first_due_date: datetime.date, reason: str, actor
) -> ApprovalRequest:
    """Ask to restructure the loan: its arrears capitalised or carried to the end of a new schedule. The
    request keeps what the new schedule would be today (arrears, principal, instalment), for the decider."""
    plan = restructure_plan(loan=case.loan, method=method, term_months=term_months, first_due_date=first_due_date)
    terms = {
        "method": method, "term_months": term_months, "first_due_date": first_due_date.isoformat(),
        "preview": plan.preview(),
    }  # fmt: skip
    return approval_request(case=case, kind=Kind.RESTRUCTURE, reason=reason, actor=actor, terms=terms)


@transaction.atomic
def settlement_withdraw(*, case: CollectionCase, reason: str, actor) -> None:
    """The borrower declined (or the terms no longer stand): the settlement waiting for payment ends, and
    the case goes back to the ladder."""
    require_workable(case, actor)
    settlement = Settlement.objects.filter(loan_id=case.loan_id, status=Settlement.Status.ACTIVE).first()
    if settlement is None:
        raise DomainError(_("No settlement of this loan is waiting for payment."), code="settlement.not_active")
    settlement_cancel(settlement=settlement, reason=reason, actor=actor)


def write_off_undo_request(*, case: CollectionCase, reason: str, actor) -> ApprovalRequest:
    """Ask to restore a written-off loan as if it had never been written off (within the undo period)."""
    undo_validate(loan=case.loan)
    return approval_request(case=case, kind=Kind.WRITE_OFF_UNDO, reason=reason, actor=actor)


@transaction.atomic
def approval_decide(*, approval: ApprovalRequest, approve: bool, reason: str, actor) -> ApprovalRequest:
    """Approve or reject. The decider must supervise the case and must not be the requester."""
    approval = ApprovalRequest.objects.select_for_update().select_related("case").get(pk=approval.pk)
    if actor is None or not actor.is_authenticated:
        raise DomainError(_("A person must decide."), code="approval.forbidden")
    if approval.requested_by_id == actor.pk:
        raise DomainError(_("You cannot decide your own request."), code="approval.own_request")
    if not (case_supervisable_by(actor, approval.case) and actor.has_perm("dunning.decide_approvalrequest")):
        raise DomainError(_("You may not decide approvals for this case."), code="approval.forbidden")
    if approval.status != ApprovalRequest.Status.PENDING:
        raise DomainError(_("This request has already been decided."), code="approval.decided")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Give a reason for the decision."), code="approval.reason_missing")
    case = _locked(approval.case)
    require_open(case)
    approval.status = ApprovalRequest.Status.APPROVED if approve else ApprovalRequest.Status.REJECTED
    approval.decided_by, approval.decided_at = actor, timezone.now()
    approval.decision_reason = reason[:REASON_MAX_LENGTH]
    approval.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    if approval.action_id:
        _settle_action(approval.action, approve)
    if approve:
        _APPLY[approval.kind](approval, case, actor)
    elif approval.plan_id:
        _plan_end(approval.plan, PaymentPlan.Status.REJECTED, business_today())
    detail = {"approval": approval.pk, "kind": approval.kind, "approved": approve, "reason": reason}
    case_event_add(case=case, kind=Event.APPROVAL_DECIDED, actor=actor, detail=detail)
    audit_record(actor=actor, event="approval.decided", subject=approval, detail=detail)
    return approval


@transaction.atomic
def approvals_decide(*, approvals: list[ApprovalRequest], approve: bool, reason: str, actor) -> int:
    """The same decision, with one reason, on several requests: all of them or none. A request the rules
    refuse names itself in the error (its case's loan), and nothing is decided."""
    if not approvals:
        raise DomainError(_("Choose the requests to decide."), code="approval.none_chosen")
    for approval in sorted(approvals, key=lambda item: item.pk):  # in id order: two deciders cannot deadlock
        try:
            approval_decide(approval=approval, approve=approve, reason=reason, actor=actor)
        except DomainError as error:
            reference = approval.case.loan.reference
            raise DomainError(
                _("%(loan)s: %(message)s Nothing was decided.") % {"loan": reference, "message": error.message},
                code=error.code,
                detail={"approval": approval.pk, **error.detail},
            ) from error
    return len(approvals)


def _settle_action(action: DunningAction, approved: bool):
    """A rejected action ends here. An approved one is done, unless it issues a notice: then it waits,
    pending, for the notices batch to issue it (the action is done when the notice is)."""
    action.result = "approved" if approved else "rejected"
    if approved and action.notice_kind:
        action.status = DunningAction.Status.PENDING
        action.save(update_fields=["status", "result"])
        return
    action.status = DunningAction.Status.DONE if approved else DunningAction.Status.REJECTED
    action.completed_at = timezone.now()
    action.save(update_fields=["status", "completed_at", "result"])


def _apply_legal_referral(approval, case, actor):
    if case.is_open:
        case.legal_hold = True
        case.status = case.status_from_facts()
        case.save(update_fields=["status", "legal_hold"])


def _apply_credit_bureau_report(approval, case, actor):
    """Approval releases the report; the action records it as done (bureau submission file: lending)."""


def _apply_plan(approval, case, actor):
    plan = PaymentPlan.objects.select_for_update().get(pk=approval.plan_id)
    plan.status = PaymentPlan.Status.ACTIVE
    plan.save(update_fields=["status"])
    if case.is_open:
        case.status = case.status_from_facts()
        case.save(update_fields=["status"])
    case_event_add(case=case, kind=Event.PLAN_STARTED, actor=actor, detail={"plan": plan.pk})
    plan_started.send(sender=PaymentPlan, plan=plan, actor=actor)


_APPLY = {
    Kind.LEGAL_REFERRAL: _apply_legal_referral,
    Kind.CREDIT_BUREAU_REPORT: _apply_credit_bureau_report,
    Kind.SETTLEMENT_DISCOUNT: arrangements.apply_settlement,
    Kind.WRITE_OFF: arrangements.apply_write_off,
    Kind.PAYMENT_PLAN: _apply_plan,
    Kind.WAIVER: arrangements.apply_waiver,
    Kind.RESTRUCTURE: arrangements.apply_restructure,
    Kind.WRITE_OFF_UNDO: arrangements.apply_write_off_undo,
}


@transaction.atomic
def plan_request(
    *, case: CollectionCase, installments: list[tuple[datetime.date, object]], reason: str, actor
) -> PaymentPlan:
    """Split the case's arrears into dated instalments that add up to them exactly; asks for approval."""
    require_workable(case, actor)
    case = _locked(case)
    require_open(case)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the borrower needs a plan."), code="plan.reason_missing")
    if not 1 <= len(installments) <= MAX_PLAN_INSTALLMENTS:
        raise DomainError(
            _("A plan has 1 to %(max)d instalments.") % {"max": MAX_PLAN_INSTALLMENTS}, code="plan.installments_invalid"
        )
    today = business_today()
    rows = sorted((due, _money(amount, "plan.amount_invalid")) for due, amount in installments)
    if rows[0][0] <= today:
        raise DomainError(_("The first instalment must fall after today."), code="plan.date_invalid")
    if len({due for due, _amount in rows}) != len(rows):
        raise DomainError(_("Two instalments fall on the same day."), code="plan.date_invalid")
    total = sum((amount for _due, amount in rows), ZERO)
    if total != case.loan.overdue_amount:
        raise DomainError(
            _("The instalments add up to %(total)s but the arrears are %(arrears)s.")
            % {"total": total, "arrears": case.loan.overdue_amount},
            code="plan.total_mismatch",
        )
    if case.plans.filter(status__in=[PaymentPlan.Status.REQUESTED, PaymentPlan.Status.ACTIVE]).exists():
        raise DomainError(_("This case already has a plan requested or running."), code="plan.already_live")
    if Settlement.objects.filter(loan_id=case.loan_id, status=Settlement.Status.ACTIVE).exists():
        raise DomainError(_("A settlement of this loan is waiting for payment."), code="plan.settlement_active")
    plan = PaymentPlan.objects.create(
        case=case, total_amount=total, starts_on=today, reason=reason, requested_by=_user_or_none(actor)
    )
    PlanInstallment.objects.bulk_create(
        PlanInstallment(plan=plan, sequence=number, due_date=due, amount=amount)
        for number, (due, amount) in enumerate(rows, start=1)
    )
    case_event_add(case=case, kind=Event.PLAN_REQUESTED, actor=actor, detail={"plan": plan.pk, "total": str(total)})
    approval_request(case=case, kind=Kind.PAYMENT_PLAN, actor=actor, reason=reason, amount=total, plan=plan)
    return plan


class PlanFrequency:
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


def plan_installments_even(
    *, total, count: int, first_due: datetime.date, frequency: str
) -> list[tuple[datetime.date, object]]:
    """`count` instalments of `total` in whole cents, equal but for the last one, which takes the
    remainder so the plan adds up to the arrears exactly."""
    if not 1 <= count <= MAX_PLAN_INSTALLMENTS:
        raise DomainError(
            _("A plan has 1 to %(max)d instalments.") % {"max": MAX_PLAN_INSTALLMENTS}, code="plan.installments_invalid"
        )
    share = (to_money(total) / count).quantize(CENT, rounding=ROUND_DOWN)
    amounts = [share] * (count - 1) + [to_money(total) - share * (count - 1)]
    if frequency == PlanFrequency.MONTHLY:
        dates = [add_months(first_due, number) for number in range(count)]
    else:
        step = 7 if frequency == PlanFrequency.WEEKLY else 14
        dates = [first_due + datetime.timedelta(days=step * number) for number in range(count)]
    return list(zip(dates, amounts, strict=True))


def _plan_end(plan: PaymentPlan, status: str, on: datetime.date):
    plan.status, plan.ended_on = status, on
    plan.save(update_fields=["status", "ended_on"])
