"""Writes to the ledger. Every change of state goes through one of these functions."""

import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import add_months, business_today
from creditops.core.errors import DomainError
from creditops.core.money import ZERO, positive_whole_cents
from creditops.core.references import format_reference, reference_allocate_block

from .allocation import COMPONENTS, AllocationLine, OpenInstallment, allocate, outstanding_parts
from .models import Borrower, BorrowerContact, Installment, Loan, Payment, Product
from .penalty_replay import penalty_replay, replay_needed, replay_since
from .posting import apply_allocation_lines, apply_credit_balance, refresh_settlement
from .schedules import build_schedule, counts_as_due
from .settlements import settlement_check, settlement_reopen
from .signals import payment_posted, payment_reversed
from .write_off import recovery_allocate, recovery_take_back

LOAN_REFERENCE_PREFIX = "LN"
MAX_TERM_MONTHS = 360
SOURCE_MAX_LENGTH = Payment._meta.get_field("source").max_length
EXTERNAL_REF_MAX_LENGTH = Payment._meta.get_field("external_ref").max_length
REVERSAL_REASON_MAX_LENGTH = Payment._meta.get_field("reversal_reason").max_length


def borrower_save(*, borrower: Borrower, actor) -> Borrower:
    """Validate and save a new or edited borrower (ID numbers checked for real), with an audit event."""
    creating = borrower.pk is None
    borrower.full_clean()
    borrower.save()
    audit_record(actor=actor, event="borrower.created" if creating else "borrower.changed", subject=borrower)
    return borrower


@transaction.atomic
def loan_create(
    *,
    borrower: Borrower,
    product: Product,
    principal_amount: Decimal,
    term_months: int,
    disbursed_on: datetime.date,
    first_due_date: datetime.date | None = None,
    actor=None,
) -> Loan:
    """Book a loan and its whole repayment schedule under the product's method and today's terms."""
    principal_amount = positive_whole_cents(
        principal_amount,
        code="loan.principal_invalid",
        message=_("The principal must be a positive amount in whole cents."),
    )
    if not product.is_active:
        raise DomainError(_("Product %(code)s is not active.") % {"code": product.code}, code="loan.product_inactive")
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        message = _("The term must be 1 to %(max)d months.") % {"max": MAX_TERM_MONTHS}
        raise DomainError(message, code="loan.term_invalid")
    # The contract's day of the month: the disbursement's when the first due date follows from it (a loan
    # paid out on Jan 31 falls due Feb 28, then Mar 31), otherwise the given first due date's.
    due_day = first_due_date.day if first_due_date else disbursed_on.day
    first_due_date = first_due_date or add_months(disbursed_on, 1)
    if first_due_date <= disbursed_on:
        raise DomainError(_("The first due date must come after disbursement."), code="loan.first_due_invalid")
    plan = build_schedule(
        method=product.repayment_method,
        principal=principal_amount,
        term_months=term_months,
        annual_interest_rate=product.annual_interest_rate,
        monthly_fee_rate=product.monthly_fee_rate,
        first_due_date=first_due_date,
        due_day=due_day,
    )
    number = reference_allocate_block(prefix=LOAN_REFERENCE_PREFIX, year=disbursed_on.year)
    loan = Loan.objects.create(
        reference=format_reference(LOAN_REFERENCE_PREFIX, disbursed_on.year, number),
        borrower=borrower,
        product=product,
        currency=product.currency,
        principal_amount=principal_amount,
        annual_interest_rate=product.annual_interest_rate,
        monthly_fee_rate=product.monthly_fee_rate,
        **product.penalty_terms(),
        penalty_terms_version=product.penalty_terms_version,
        contract_cost_amount=sum((item.interest_amount + item.fee_amount for item in plan), ZERO),
        term_months=term_months,
        disbursed_on=disbursed_on,
        first_due_date=first_due_date,
        maturity_date=plan[-1].due_date,
    )
    Installment.objects.bulk_create(
        Installment(
            loan=loan,
            sequence=item.sequence,
            due_date=item.due_date,
            effective_due_date=counts_as_due(
                item.due_date,
                calendar=product.business_calendar,
                next_business_day_rule=product.due_on_next_business_day,
            ),
            principal_amount=item.principal_amount,
            interest_amount=item.interest_amount,
            fee_amount=item.fee_amount,
        )
        for item in plan
    )
    audit_record(
        actor=actor,
        event="loan.created",
        subject=loan,
        detail={"principal": str(principal_amount), "term_months": term_months, "product": product.code},
    )
    return loan


def payment_date_check(
    *, received_on: datetime.date, disbursed_on: datetime.date | None, today: datetime.date | None = None
) -> None:
    """Money is received on a real day of the loan's life: not after the business date (a bank file dated
    tomorrow is a mistake), not before the loan was paid out. The one rule for every way a payment comes
    in — the admin, the API, the import and the bank file."""
    today = today or business_today()
    if received_on > today:
        message = _("The payment's date %(date)s is after today (%(today)s).")
        detail = {"received_on": received_on.isoformat(), "today": today.isoformat()}
        raise DomainError(message % {"date": received_on, "today": today}, code="payment.date_future", detail=detail)
    if disbursed_on is not None and received_on < disbursed_on:
        message = _("The payment's date %(date)s is before the loan was disbursed (%(disbursed)s).")
        detail = {"received_on": received_on.isoformat(), "disbursed_on": disbursed_on.isoformat()}
        raise DomainError(
            message % {"date": received_on, "disbursed": disbursed_on}, code="payment.date_before_loan", detail=detail
        )


def reversal_date_check(*, reversed_on: datetime.date, received_on: datetime.date) -> None:
    """A reversal happens between the day the money was received and today."""
    today = business_today()
    if not received_on <= reversed_on <= today:
        message = _("A reversal is dated from the day the payment was received (%(received)s) to today (%(today)s).")
        detail = {"reversed_on": reversed_on.isoformat(), "received_on": received_on.isoformat()}
        raise DomainError(
            message % {"received": received_on, "today": today}, code="payment.reversal_date_invalid", detail=detail
        )


def payment_post(
    *,
    loan: Loan,
    source: str,
    external_ref: str,
    amount: Decimal,
    received_on: datetime.date,
    channel: str,
    actor=None,
) -> tuple[Payment, bool]:
    """Post a payment and allocate it by the product's waterfall, oldest installment first; anything
    beyond all that is owed becomes credit balance. Idempotent by (source, external_ref): posting the
    same payment again returns the first one and changes nothing. Returns (payment, created)."""
    amount = positive_whole_cents(
        amount, code="payment.amount_invalid", message=_("A payment must be a positive amount in whole cents.")
    )
    if channel not in Payment.Channel.values:
        message = _("Unknown payment channel %(channel)r.") % {"channel": channel}
        raise DomainError(message, code="payment.channel_invalid")
    if not source or not external_ref:
        raise DomainError(_("A payment needs its source and external reference."), code="payment.reference_missing")
    if len(source) > SOURCE_MAX_LENGTH or len(external_ref) > EXTERNAL_REF_MAX_LENGTH:
        message = _("The source may have at most %(source)d characters and the reference %(reference)d.")
        detail = {"source": SOURCE_MAX_LENGTH, "reference": EXTERNAL_REF_MAX_LENGTH}
        raise DomainError(message % detail, code="payment.reference_too_long", detail=detail)
    payment_date_check(received_on=received_on, disbursed_on=loan.disbursed_on)
    try:
        with transaction.atomic():
            return _post_locked(loan.pk, source, external_ref, amount, received_on, channel, actor)
    except IntegrityError:
        # A concurrent post of the same (source, external_ref) on another loan won the race.
        existing = Payment.objects.filter(source=source, external_ref=external_ref).first()
        if existing is None:
            raise
        return _replayed(existing, loan.pk, amount, received_on), False


def _post_locked(loan_id, source, external_ref, amount, received_on, channel, actor):
    # The loan row lock serialises every writer of this loan's installments.
    # of=("self",): lock the loan row only, not the joined product (that would serialise a whole product).
    loan = Loan.objects.select_for_update(of=("self",)).select_related("product").get(pk=loan_id)
    existing = Payment.objects.filter(source=source, external_ref=external_ref).first()
    if existing is not None:
        return _replayed(existing, loan.pk, amount, received_on), False
    payment = Payment(
        loan=loan,
        source=source,
        external_ref=external_ref,
        amount=amount,
        received_on=received_on,
        channel=channel,
        posted_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if loan.status == Loan.Status.WRITTEN_OFF:
        recovery_allocate(loan, payment)
        loan.save(update_fields=["credit_balance_amount", "written_off_amount"])
    elif replay_needed(loan.pk, replay_since(loan.pk, received_on)):
        _post_into_the_past(loan, payment, actor)
    else:
        _post_today(loan, payment)
    excess = payment.unallocated_amount
    audit_record(
        actor=actor,
        event="payment.posted",
        subject=payment,
        detail={"loan": loan.reference, "amount": str(amount), "to_credit": str(excess)},
    )
    payment_posted.send(sender=Payment, payment=payment, actor=actor)
    settlement_check(loan_id=loan.pk, actor=actor)
    return payment, True


def _post_today(loan: Loan, payment: Payment) -> None:
    """The usual case: nothing on the loan is dated after the money arrived, so it pays what is owed now."""
    installments = list(loan.installments.filter(is_open=True).order_by("due_date", "sequence"))
    open_items = [OpenInstallment(key=item, outstanding=outstanding_parts(item)) for item in installments]
    lines, payment.unallocated_amount = allocate(payment.amount, open_items, loan.product.waterfall)
    payment.save()
    apply_allocation_lines(payment, lines, sign=1)
    loan.credit_balance_amount += payment.unallocated_amount
    refresh_settlement(loan, payment.received_on)
    loan.save(update_fields=["credit_balance_amount", "status", "settled_on"])


def _post_into_the_past(loan: Loan, payment: Payment, actor) -> None:
    """Money received before days already charged with penalty, or before a payment already posted (a
    late bank file): it is allocated by re-playing the loan's days from its received date
    (lending/penalty_replay.py), which takes back the penalty it would have prevented and allocates the
    later payments after it."""
    payment.unallocated_amount = payment.amount  # held as credit until the replay allocates it
    payment.save()
    loan.credit_balance_amount += payment.amount
    loan.save(update_fields=["credit_balance_amount"])
    penalty_replay(loan_id=loan.pk, since=replay_since(loan.pk, payment.received_on), cause=payment, actor=actor)
    payment.refresh_from_db()


def _replayed(existing: Payment, loan_id, amount, received_on) -> Payment:
    """The same (source, external_ref) again: a no-op if it is the same payment, an error if it is not."""
    if (existing.loan_id, existing.amount, existing.received_on) != (loan_id, amount, received_on):
        raise DomainError(
            _("Reference %(reference)s was already posted with other details.")
            % {"reference": f"{existing.source}:{existing.external_ref}"},
            code="payment.duplicate_conflict",
            detail={"payment_id": existing.pk},
        )
    return existing


@transaction.atomic
def payment_reverse(*, payment: Payment, reason: str, reversed_on: datetime.date, actor=None) -> Payment:
    """Undo a posted payment by appending opposite allocation rows; balances return to exactly what they
    were before it. The payment row keeps its amount and is marked reversed."""
    reason = reason.strip()
    if not reason:
        raise DomainError(_("Say why the payment is reversed."), code="payment.reason_missing")
    if len(reason) > REVERSAL_REASON_MAX_LENGTH:
        message = _("The reason may have at most %(max)d characters.") % {"max": REVERSAL_REASON_MAX_LENGTH}
        raise DomainError(message, code="payment.reason_too_long")
    loan = Loan.objects.select_for_update(of=("self",)).select_related("product").get(pk=payment.loan_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == Payment.Status.REVERSED:
        raise DomainError(_("This payment is already reversed."), code="payment.already_reversed")
    reversal_date_check(reversed_on=reversed_on, received_on=payment.received_on)
    if loan.credit_balance_amount < payment.unallocated_amount or payment.refunded_amount > 0:
        raise DomainError(
            _("The credit balance this payment created has been used; reverse what used it first."),
            code="payment.credit_used",
        )
    if loan.status == Loan.Status.SETTLED_WITH_DISCOUNT:
        settlement_reopen(loan, actor)  # the discount needed this money: it is taken back first
    payment.status = Payment.Status.REVERSED
    payment.reversed_on = reversed_on
    payment.reversal_reason = reason
    if loan.status == Loan.Status.WRITTEN_OFF:
        recovery_take_back(loan, payment)
        loan.credit_balance_amount -= payment.unallocated_amount
        payment.save(update_fields=["status", "reversed_on", "reversal_reason"])
        loan.save(update_fields=["credit_balance_amount", "written_off_amount"])
    elif replay_needed(loan.pk, since := replay_since(loan.pk, payment.received_on), payment=payment):
        # What came after the money arrived assumed it had: re-play those days without it.
        loan.credit_balance_amount -= payment.unallocated_amount
        payment.save(update_fields=["status", "reversed_on", "reversal_reason"])
        loan.save(update_fields=["credit_balance_amount"])
        penalty_replay(loan_id=loan.pk, since=since, cause=payment, actor=actor)
        loan.refresh_from_db()
    else:
        _take_back(payment)
        loan.credit_balance_amount -= payment.unallocated_amount
        payment.save(update_fields=["status", "reversed_on", "reversal_reason"])
        apply_credit_balance(loan)
        refresh_settlement(loan, reversed_on)
        loan.save(update_fields=["credit_balance_amount", "status", "settled_on"])
    audit_record(
        actor=actor, event="payment.reversed", subject=payment, detail={"loan": loan.reference, "reason": reason}
    )
    payment_reversed.send(sender=Payment, payment=payment, actor=actor)
    return payment


def _take_back(payment: Payment) -> None:
    """Opposite rows for what the payment holds of each installment, net of earlier re-plays."""
    held = (
        payment.allocations.values("installment_id")
        .annotate(**{part: Sum(f"{part}_amount") for part in COMPONENTS})
        .order_by("installment_id")
    )
    installments = Installment.objects.in_bulk([row["installment_id"] for row in held])
    lines = [
        AllocationLine(key=installments[row["installment_id"]], amounts={part: row[part] for part in COMPONENTS})
        for row in held
        if any(row[part] for part in COMPONENTS)
    ]
    apply_allocation_lines(payment, lines, sign=-1, is_reversal=True)


REVEALABLE_FIELDS = ("id_number", "phone")


def personal_data_reveal(*, record: Borrower | BorrowerContact, field: str, actor, via: str, case_id=None) -> str:
    """The full value of a masked field, with an audit event saying who saw it, where and why (which case).
    Callers check first that the actor may see the record."""
    if field not in REVEALABLE_FIELDS or not hasattr(record, field):
        raise DomainError(_("%(field)s cannot be revealed.") % {"field": field}, code="personal_data.field_invalid")
    detail = {"field": field, "via": via}
    if case_id is not None:
        detail["case"] = case_id
    audit_record(actor=actor, event="personal_data.revealed", subject=record, detail=detail)
    return getattr(record, field)
