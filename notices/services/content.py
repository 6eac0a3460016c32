"""What a notice prints, computed here and nowhere else: the snapshot is a JSON document of every name,
date and figure on the page. Templates only lay it out, so the stored snapshot explains the PDF exactly
and a notice can be rendered again from it (a crashed render, a preview)."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import translation

from creditops.core.business_days import next_business_day
from creditops.core.masking import mask_id_number, mask_phone
from creditops.core.money import ZERO, rate_as_percent
from dunning.models import CollectionCase, NoticeKind, PaymentPlan
from lending.adjustments import adjusted_by_kind
from lending.allocation import COMPONENTS
from lending.delinquency import days_past_due
from lending.models import Borrower, BorrowerContact, Installment, LedgerEntry, PenaltyBase, PenaltyPause, Settlement
from lending.settlements import loan_owed_amount, settlement_paid_amount

# Printed on each kind: the overdue table and the total due (all but the plan confirmation, which prints
# the plan's own instalments instead).
KINDS_WITH_ARREARS = {kind for kind in NoticeKind.values if kind != NoticeKind.PLAN_CONFIRMATION}
# Entries that waive part of the debt: the notice's "waived" column and line. Write-offs are not among
# them: a written-off debt is still owed, and the notice asks for it.
WAIVING_KINDS = (LedgerEntry.Kind.WAIVER, LedgerEntry.Kind.SETTLEMENT_DISCOUNT)
# Why penalty does not accrue on the issue date, the lasting reasons first: a notice states one of them.
# Stopped for good (cost cap, write-off), or paused while a plan is kept or a dispute reviewed.
STOPPED_REASONS = (PenaltyPause.Reason.COST_CAP, PenaltyPause.Reason.WRITTEN_OFF)
PAUSE_ORDER = (*STOPPED_REASONS, PenaltyPause.Reason.DISPUTE, PenaltyPause.Reason.PLAN)
ONE_DAY = datetime.timedelta(days=1)
# The order the waived line names the parts in, as the table's columns run.
WAIVED_PARTS_ORDER = ("principal", "interest", "fee", "penalty")


def _amount(value: Decimal | None) -> str:
    return f"{(value or ZERO):.2f}"


def _in_language(label, language: str) -> str:
    with translation.override(language):
        return str(label)


def notice_data_build(
    *,
    case: CollectionCase,
    kind: str,
    language: str,
    issued_on: datetime.date,
    reference: str,
    verification_code: str,
    plan: PaymentPlan | None = None,
    replaces_reference: str = "",
) -> dict:
    """The snapshot of everything a notice of `kind` about `case` prints. Every figure is as of one stated
    date, `issued_on` (printed as `figures_as_of`): the overdue rows, their totals and the days past due
    all come from the ledger on that date, never the DPD of an earlier nightly run."""
    loan, borrower = case.loan, case.borrower
    lender = settings.NOTICES["LENDER"]
    payment = settings.NOTICES["PAYMENT"]
    calendar = loan.product.business_calendar
    adjusted = adjusted_by_kind(loan)
    rows, totals, oldest_late = _overdue_rows(loan, issued_on, adjusted)
    data = {
        "kind": kind,
        "language": language,
        "reference": reference,
        "replaces": replaces_reference,
        "issued_on": issued_on.isoformat(),
        "lender": {**lender[language], "phone": lender["phone"], "email": lender["email"],
                   "dispute_email": lender["dispute_email"]},
        "addressee": _addressee(borrower),
        "guarantors": _guarantors(borrower),
        "loan": {
            "reference": loan.reference,
            "product": loan.product.name_in(language),
            "currency": loan.currency,
            "principal": _amount(loan.principal_amount),
            "disbursed_on": loan.disbursed_on.isoformat(),
            "maturity_date": loan.maturity_date.isoformat(),
            "penalty_daily_rate_percent": rate_as_percent(loan.penalty_daily_rate),
            # Snapshots from before penalty terms lack it; the templates then print "overdue principal",
            # which is what those notices said.
            "penalty_base": _in_language(PenaltyBase(loan.penalty_base).label, language),
        },
        "figures_as_of": issued_on.isoformat(),
        "days_past_due": days_past_due(oldest_late, issued_on, loan.product.grace_days),
        # Deadlines fall on a business day of the product's calendar (a holiday moves them to the next).
        "pay_by": _business_day_after(issued_on, settings.NOTICES["PAY_WITHIN_DAYS"], calendar).isoformat(),
        "dispute_by": _business_day_after(issued_on, settings.NOTICES["DISPUTE_WITHIN_DAYS"], calendar).isoformat(),
        "penalty": _penalty_state(loan, issued_on),
        "verification": {
            "code": verification_code,
            "url": f"{settings.NOTICES['VERIFY_BASE_URL'].rstrip('/')}/notices/verify/{reference}/",
        },
    }  # fmt: skip
    if kind in KINDS_WITH_ARREARS:
        data.update(overdue=rows, totals=totals, total_due=totals["outstanding"])
        # The waived column only where a listed installment had something waived.
        data["waived_column"] = totals["waived"] != _amount(ZERO)
    waived = _waived(adjusted)
    if waived is not None:
        data["waived"] = waived
    settlement = _settlement(loan)
    if settlement is not None:
        data["settlement"] = settlement
    if plan is not None:
        data["plan"] = _plan(plan)
        amount_to_pay = data["plan"]["first_amount"]
    elif settlement is not None:  # the borrower pays what the settlement asks next, not the full debt
        amount_to_pay = settlement["next_amount"]
    else:
        amount_to_pay = data.get("total_due", "0.00")
    data["payment"] = {
        "bank_name": payment[language]["bank_name"],
        "account_name": payment[language]["account_name"],
        "account_number": payment["account_number"],
        "reference": loan.reference,
        "qr_payload": f"{payment['url']}?loan={loan.reference}&amount={amount_to_pay}&notice={reference}",
    }
    return data


def _business_day_after(day: datetime.date, days: int, calendar: str) -> datetime.date:
    """`days` calendar days after `day`, moved to the next business day of `calendar` if it is not one."""
    return next_business_day(day + datetime.timedelta(days=days), calendar)


def _addressee(borrower: Borrower) -> dict:
    return {
        "is_enterprise": borrower.kind == Borrower.Kind.ENTERPRISE,
        "name": borrower.name,
        "legal_representative": borrower.legal_representative,
        "address": postal_address(borrower),
        "id_type": borrower.id_type,
        "id_number_masked": mask_id_number(borrower.id_number),
    }


def postal_address(borrower: Borrower) -> str:
    """The address for the envelope: the street address, followed by the city and the province unless it
    already names them (or the province is the city, as for 北京市)."""
    parts = [borrower.address.strip()]
    for part in (borrower.city, borrower.province):
        if part and part not in borrower.address and part not in parts:
            parts.append(part)
    return " ".join(part for part in parts if part)


def _guarantors(borrower: Borrower) -> list[dict]:
    guarantors = borrower.contacts.filter(relation=BorrowerContact.Relation.GUARANTOR).order_by("pk")
    return [{"name": contact.name, "phone_masked": mask_phone(contact.phone)} for contact in guarantors]


def _part_sums(by_kind: dict, kinds) -> dict[str, Decimal]:
    return {part: sum((by_kind.get(kind, {}).get(part, ZERO) for kind in kinds), ZERO) for part in COMPONENTS}


def _overdue_rows(loan, as_of: datetime.date, adjusted: dict) -> tuple[list[dict], dict, datetime.date | None]:
    """Each installment that counts as due before `as_of` (its effective due date) with something owed,
    the column totals (exact Decimal sums of the same rows) and the oldest such due date (days past due
    count from it). Per row, due − paid − waived = outstanding: waivers and settlement discounts are
    their own column; what a write-off took off the books is still owed and stays in the outstanding
    (the borrower owes it: lending/write_off.py); restructured installments are closed and not listed."""
    written_off = {
        pk: sum(_part_sums(by_kind, LedgerEntry.WRITE_OFF_KINDS).values(), ZERO) for pk, by_kind in adjusted.items()
    }
    still_written_off = [pk for pk, amount in written_off.items() if amount > 0]
    overdue = (
        Installment.objects.filter(loan=loan, effective_due_date__lt=as_of)
        .filter(Q(is_open=True) | Q(pk__in=still_written_off))
        .order_by("sequence")
    )
    columns = dict.fromkeys(("principal", "interest", "fees", "penalty", "paid", "waived", "outstanding"), ZERO)
    rows, oldest = [], None
    for item in overdue:
        waived = sum(_part_sums(adjusted.get(item.pk, {}), WAIVING_KINDS).values(), ZERO)
        figures = {
            "principal": item.principal_amount,
            "interest": item.interest_amount,
            "fees": item.fee_amount,
            "penalty": item.penalty_amount,
            "paid": item.paid_amount,
            "waived": waived,
            "outstanding": item.outstanding_amount + written_off.get(item.pk, ZERO),
        }
        for column, value in figures.items():
            columns[column] += value
        oldest = item.effective_due_date if oldest is None else min(oldest, item.effective_due_date)
        rows.append(
            {"sequence": item.sequence, "due_date": item.due_date.isoformat()}
            | {column: _amount(value) for column, value in figures.items()}
        )
    return rows, {column: _amount(total) for column, total in columns.items()}, oldest


def _waived(adjusted: dict) -> dict | None:
    """What waivers and settlement discounts have waived of the loan so far (net of waivers taken back),
    in all and per part; None when nothing is."""
    parts = dict.fromkeys(COMPONENTS, ZERO)
    for by_kind in adjusted.values():
        for part, amount in _part_sums(by_kind, WAIVING_KINDS).items():
            parts[part] += amount
    total = sum(parts.values(), ZERO)
    if total == 0:
        return None
    return {
        "total": _amount(total),
        "parts": [{"part": part, "amount": _amount(parts[part])} for part in WAIVED_PARTS_ORDER if parts[part]],
    }


def _settlement(loan) -> dict | None:
    """The loan's settlement waiting for payment: what was agreed, by when (and in which instalments), what
    was received towards it, and — as of now — what the loan owes in all and what paying the rest waives."""
    settlement = Settlement.objects.filter(loan=loan, status=Settlement.Status.ACTIVE).first()
    if settlement is None:
        return None
    received = settlement_paid_amount(settlement)
    to_pay = max(settlement.agreed_amount - received, ZERO)
    owed = loan_owed_amount(loan)
    instalments, due_so_far, next_amount = [], ZERO, None
    for instalment in settlement.instalments.order_by("sequence"):
        due_so_far += instalment.amount
        instalments.append(
            {"sequence": instalment.sequence, "due_date": instalment.due_date.isoformat(),
             "amount": _amount(instalment.amount)}
        )  # fmt: skip
        if next_amount is None and due_so_far > received:
            next_amount = due_so_far - received
    return {
        "agreed_on": settlement.starts_on.isoformat(),
        "agreed": _amount(settlement.agreed_amount),
        "deadline": settlement.deadline.isoformat(),
        "instalments": instalments,
        "received": _amount(received),
        "to_pay": _amount(to_pay),
        "next_amount": _amount(next_amount if next_amount is not None else to_pay),
        "owed": _amount(owed),
        "waived_if_paid": _amount(max(owed - to_pay, ZERO)),
    }


NO_PENALTY = "none"


def _penalty_state(loan, as_of: datetime.date) -> dict:
    """Whether penalty interest accrues on the issue date, and if not why and since when (the pause in
    force: a write-off's starts the day after it, as the write-off day was charged that morning)."""
    pauses = {
        pause.reason: pause
        for pause in PenaltyPause.objects.filter(loan=loan, started_on__lte=as_of + ONE_DAY).filter(
            Q(ended_on__isnull=True) | Q(ended_on__gt=as_of)
        )
    }
    cap = rate_as_percent(loan.penalty_cost_cap_rate)
    state = {"accrues": True, "stopped": False, "reason": "", "since": "", "cap_rate_percent": cap}
    if not loan.penalty_daily_rate:  # the contract charges none: say so rather than "0 % a day"
        state.update(accrues=False, stopped=True, reason=NO_PENALTY, since=loan.disbursed_on.isoformat())
        return state
    for reason in PAUSE_ORDER:
        if reason in pauses:
            state.update(
                accrues=False, stopped=reason in STOPPED_REASONS, reason=str(reason),
                since=pauses[reason].started_on.isoformat(),
            )  # fmt: skip
            break
    return state


def _plan(plan: PaymentPlan) -> dict:
    installments = list(plan.installments.order_by("sequence"))
    return {
        "starts_on": plan.starts_on.isoformat(),
        "installments": [
            {"sequence": item.sequence, "due_date": item.due_date.isoformat(), "amount": _amount(item.amount)}
            for item in installments
        ],
        "total": _amount(sum((item.amount for item in installments), ZERO)),
        "first_amount": _amount(installments[0].amount if installments else ZERO),
    }
