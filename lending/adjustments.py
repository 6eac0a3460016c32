"""Ledger entries (lending/models/entries.py): posting one, reversing one, and the waiver.

Every entry moves its installments' `*_adjusted_amount` by its lines, so an installment's outstanding is
always due + accrued − paid − adjusted, and `reconcile_ledger` proves the adjusted amounts equal the
lines. Services that post entries lock the loan row first (as payment posting does).
"""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.services import audit_record
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.money import ZERO, positive_whole_cents

from .allocation import COMPONENTS, AllocationLine, outstanding_parts
from .delinquency import delinquency_refresh
from .models import Component, Installment, LedgerEntry, LedgerEntryLine, Loan
from .posting import refresh_settlement
from .signals import ledger_entry_posted

ADJUSTED_FIELDS = [f"{part}_adjusted_amount" for part in COMPONENTS]
REASON_MAX_LENGTH = 2000


def locked_loan(loan_id: int) -> Loan:
    """The loan row, locked: every writer of a loan's installments holds this lock."""
    return Loan.objects.select_for_update(of=("self",)).select_related("product").get(pk=loan_id)


def apply_entry_lines(entry: LedgerEntry, lines: list[AllocationLine], *, sign: int = 1, is_replay=False) -> None:
    """Record the lines and move their installments' adjusted amounts by the same figures."""
    rows, changed = [], []
    for line in lines:
        installment = line.key
        rows.append(
            LedgerEntryLine(
                entry=entry,
                installment=installment,
                is_replay=is_replay,
                **{f"{part}_amount": sign * line.amounts[part] for part in COMPONENTS},
            )
        )
        for part in COMPONENTS:
            field = f"{part}_adjusted_amount"
            setattr(installment, field, getattr(installment, field) + sign * line.amounts[part])
        changed.append(installment)
    LedgerEntryLine.objects.bulk_create(rows)
    Installment.objects.bulk_update(changed, ADJUSTED_FIELDS)


def entry_post(
    *, loan: Loan, kind: str, effective_on: datetime.date, lines: list[AllocationLine], actor=None, **fields
) -> LedgerEntry:
    """Write an entry and its lines (the caller holds the loan's lock and has chosen the lines)."""
    amount = sum((line.total for line in lines), ZERO)
    entry = LedgerEntry.objects.create(
        loan=loan, kind=kind, effective_on=effective_on, amount=amount, created_by=_person(actor), **fields
    )
    apply_entry_lines(entry, lines)
    return entry


def entry_net_lines(entry: LedgerEntry) -> list[AllocationLine]:
    """What an entry closes now, per installment: its lines summed (re-plays add lines both ways)."""
    held = (
        entry.lines.values("installment_id")
        .annotate(**{part: Sum(f"{part}_amount") for part in COMPONENTS})
        .order_by("installment_id")
    )
    installments = Installment.objects.in_bulk([row["installment_id"] for row in held])
    return [
        AllocationLine(key=installments[row["installment_id"]], amounts={part: row[part] for part in COMPONENTS})
        for row in held
        if any(row[part] for part in COMPONENTS)
    ]


def entry_reverse(
    *, entry: LedgerEntry, reason: str, effective_on: datetime.date, actor=None, kind: str | None = None
) -> LedgerEntry:
    """A new entry with the opposite of what `entry` closes now; the first is left as it was."""
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise DomainError(_("This entry has already been reversed."), code="entry.already_reversed")
    lines = [
        AllocationLine(key=line.key, amounts={part: -amount for part, amount in line.amounts.items()})
        for line in entry_net_lines(entry)
    ]
    return entry_post(
        loan=entry.loan, kind=kind or entry.kind, effective_on=effective_on, lines=lines, actor=actor,
        component=entry.component, reason=reason, reverses=entry, authority=entry.authority,
    )  # fmt: skip


def spread_oldest_first(installments, component: str, amount: Decimal) -> list[AllocationLine]:
    """`amount` of one part spread over the installments, oldest first, each up to what it owes of it."""
    lines, left = [], amount
    for item in installments:
        if left <= 0:
            break
        owed = outstanding_parts(item)[component]
        if owed > 0:
            line = AllocationLine(key=item)
            line.amounts[component] = min(owed, left)
            left -= line.amounts[component]
            lines.append(line)
    return lines


def all_outstanding_lines(installments) -> list[AllocationLine]:
    """Lines closing everything the installments still owe."""
    lines = []
    for item in installments:
        parts = outstanding_parts(item)
        if any(value > 0 for value in parts.values()):
            lines.append(AllocationLine(key=item, amounts=parts))
    return lines


def open_installments(loan: Loan) -> list[Installment]:
    return list(loan.installments.filter(is_open=True).order_by("due_date", "sequence"))


def refuse_while_settling(loan: Loan, *, code: str) -> None:
    """A loan with a settlement waiting for payment is not restructured or written off meanwhile: the
    settlement is withdrawn first (or lapses), so its agreed amount never settles a changed debt."""
    if loan.settlements.filter(status="active").exists():
        message = _("A settlement of this loan is waiting for payment: withdraw it first.")
        raise DomainError(message, code=code)


def clean_reason(reason: str, *, code: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why."), code=code)
    return reason[:REASON_MAX_LENGTH]


def part_owed(loan: Loan, component: str) -> Decimal:
    """What the loan still owes of one part, due or not."""
    return sum((outstanding_parts(item)[component] for item in open_installments(loan)), ZERO)


def waiver_validate(*, loan: Loan, component: str, amount) -> Decimal:
    """The amount as money if `loan` can have that much of `component` waived; a DomainError if not."""
    if component not in Component.values:
        raise DomainError(_("Unknown part %(part)r.") % {"part": component}, code="waiver.component_invalid")
    amount = positive_whole_cents(
        amount, code="waiver.amount_invalid", message=_("A waiver must be a positive amount in whole cents.")
    )
    if loan.status != Loan.Status.ACTIVE:
        raise DomainError(_("Only an active loan's debt can be waived."), code="waiver.loan_not_active")
    owed = part_owed(loan, component)
    if amount > owed:
        message = _("The loan owes %(owed)s of %(part)s; a waiver cannot be larger.")
        detail = {"owed": str(owed)}
        raise DomainError(
            message % {"owed": owed, "part": Component(component).label}, code="waiver.exceeds_owed", detail=detail
        )
    return amount


@transaction.atomic
def waiver_post(
    *,
    loan: Loan,
    component: str,
    amount,
    reason: str,
    authority: str = "",
    effective_on: datetime.date | None = None,
    actor=None,
) -> LedgerEntry:
    """Waive `amount` of one part (penalty, fees, interest or principal) of what the loan owes, oldest
    installment first. Collections posts it once a waiver request is approved (maker-checker)."""
    reason = clean_reason(reason, code="waiver.reason_missing")
    loan = locked_loan(loan.pk)
    amount = waiver_validate(loan=loan, component=component, amount=amount)
    effective_on = effective_on or business_today()
    entry = entry_post(
        loan=loan, kind=LedgerEntry.Kind.WAIVER, effective_on=effective_on,
        lines=spread_oldest_first(open_installments(loan), component, amount), actor=actor, component=component,
        requested_amount=amount, reason=reason, authority=authority,
    )  # fmt: skip
    after_entry(loan, entry, actor, effective_on)
    return entry


@transaction.atomic
def waiver_reverse(
    *, entry: LedgerEntry, reason: str, effective_on: datetime.date | None = None, actor=None
) -> LedgerEntry:
    """Take a waiver back (the debt it waived is owed again), as a new entry."""
    if entry.kind != LedgerEntry.Kind.WAIVER or entry.is_reversal:
        raise DomainError(_("Only a waiver can be reversed here."), code="entry.not_a_waiver")
    reason = clean_reason(reason, code="waiver.reason_missing")
    loan = locked_loan(entry.loan_id)
    if loan.status not in (Loan.Status.ACTIVE, Loan.Status.SETTLED):
        raise DomainError(_("The loan was closed otherwise since; its waivers stay."), code="waiver.loan_closed")
    effective_on = effective_on or business_today()
    reversal = entry_reverse(entry=entry, reason=reason, effective_on=effective_on, actor=actor)
    after_entry(loan, reversal, actor, effective_on)
    return reversal


def after_entry(loan: Loan, entry: LedgerEntry, actor, on: datetime.date) -> None:
    """What follows any change of what a loan owes: settled or not, its delinquency, the audit trail, and
    the news for collections (the case timeline)."""
    refresh_settlement(loan, on)
    loan.save(update_fields=["status", "settled_on"])
    delinquency_refresh(as_of=business_today(), loan_ids=[loan.pk])
    detail = {"loan": loan.reference, "kind": entry.kind, "amount": str(entry.amount)}
    if entry.component:
        detail["component"] = entry.component
    audit_record(actor=actor, event=f"ledger.{entry.kind}" + (".reversed" if entry.is_reversal else ""),
                 subject=entry, detail=detail)  # fmt: skip
    ledger_entry_posted.send(sender=LedgerEntry, entry=entry, actor=actor)


def ledger_floor(loan_id: int) -> datetime.date | None:
    """The last day an entry changed what the loan is (a settlement discount, a write-off or a
    restructuring that was not taken back): a late-arriving payment's re-play never goes back past it."""
    structural = LedgerEntry.objects.filter(
        loan_id=loan_id, kind__in=LedgerEntry.STRUCTURAL_KINDS, reverses__isnull=True, reversed_by__isnull=True
    )
    last = structural.order_by("-effective_on").values_list("effective_on", flat=True).first()
    return last


def waivers_to_replay(loan_id: int, since: datetime.date) -> list[LedgerEntry]:
    """Waivers (and waiver reversals) effective from `since` on, in the order they were posted."""
    return list(
        LedgerEntry.objects.filter(loan_id=loan_id, kind=LedgerEntry.Kind.WAIVER, effective_on__gte=since)
        .order_by("effective_on", "id")
        .select_related("reverses")
    )


def adjusted_by_kind(loan: Loan) -> dict[int, dict[str, dict[str, Decimal]]]:
    """{installment id: {kind: {part: net amount}}} of a loan's entry lines: what was waived, written off
    or restructured of each part of each installment (one query)."""
    rows = (
        LedgerEntryLine.objects.filter(entry__loan=loan)
        .values("installment_id", "entry__kind")
        .annotate(**{part: Sum(f"{part}_amount") for part in COMPONENTS})
        .order_by()
    )
    result = defaultdict(dict)
    for row in rows:
        result[row["installment_id"]][row["entry__kind"]] = {part: row[part] or ZERO for part in COMPONENTS}
    return result


def _person(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None
