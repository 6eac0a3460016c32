"""What a notice prints, computed here and nowhere else: the snapshot is a JSON document of every name,
date and figure on the page. Templates only lay it out, so the stored snapshot explains the PDF exactly
and a notice can be rendered again from it (a crashed render, a preview)."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import translation

from creditops.core.masking import mask_id_number, mask_phone
from creditops.core.money import ZERO, rate_as_percent
from dunning.models import CollectionCase, NoticeKind, PaymentPlan
from lending.delinquency import days_past_due
from lending.models import Borrower, BorrowerContact, Installment, PenaltyBase

# Printed on each kind: the overdue table and the total due (all but the plan confirmation, which prints
# the plan's own instalments instead).
KINDS_WITH_ARREARS = {kind for kind in NoticeKind.values if kind != NoticeKind.PLAN_CONFIRMATION}


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
        "days_past_due": _days_past_due(loan, issued_on),
        "pay_by": (issued_on + datetime.timedelta(days=settings.NOTICES["PAY_WITHIN_DAYS"])).isoformat(),
        "dispute_by": (issued_on + datetime.timedelta(days=settings.NOTICES["DISPUTE_WITHIN_DAYS"])).isoformat(),
        "verification": {
            "code": verification_code,
            "url": f"{settings.NOTICES['VERIFY_BASE_URL'].rstrip('/')}/notices/verify/{reference}/",
        },
    }  # fmt: skip
    if kind in KINDS_WITH_ARREARS:
        rows, totals = _overdue_rows(loan, issued_on)
        data.update(overdue=rows, totals=totals, total_due=totals["outstanding"])
    if plan is not None:
        data["plan"] = _plan(plan)
    amount_to_pay = data["plan"]["first_amount"] if plan is not None else data.get("total_due", "0.00")
    data["payment"] = {
        "bank_name": payment[language]["bank_name"],
        "account_name": payment[language]["account_name"],
        "account_number": payment["account_number"],
        "reference": loan.reference,
        "qr_payload": f"{payment['url']}?loan={loan.reference}&amount={amount_to_pay}&notice={reference}",
    }
    return data


def _days_past_due(loan, as_of: datetime.date) -> int:
    oldest = (
        Installment.objects.filter(loan=loan, due_date__lt=as_of, outstanding_amount__gt=0)
        .order_by("due_date")
        .values_list("due_date", flat=True)
        .first()
    )
    return days_past_due(oldest, as_of, loan.product.grace_days)


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


def _overdue_rows(loan, as_of: datetime.date) -> tuple[list[dict], dict]:
    """Each installment due before `as_of` with something unpaid, and the column totals (exact Decimal
    sums of the same rows)."""
    overdue = Installment.objects.filter(loan=loan, due_date__lt=as_of, outstanding_amount__gt=0).order_by("sequence")
    columns = {"principal": ZERO, "interest": ZERO, "fees": ZERO, "penalty": ZERO, "paid": ZERO, "outstanding": ZERO}
    rows = []
    for item in overdue:
        figures = {
            "principal": item.principal_amount,
            "interest": item.interest_amount,
            "fees": item.fee_amount,
            "penalty": item.penalty_amount,
            "paid": item.principal_paid_amount
            + item.interest_paid_amount
            + item.fee_paid_amount
            + item.penalty_paid_amount,
            "outstanding": item.outstanding_amount,
        }
        for column, value in figures.items():
            columns[column] += value
        rows.append(
            {"sequence": item.sequence, "due_date": item.due_date.isoformat()}
            | {column: _amount(value) for column, value in figures.items()}
        )
    return rows, {column: _amount(total) for column, total in columns.items()}


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
