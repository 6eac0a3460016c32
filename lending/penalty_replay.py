"""Re-play a loan's days when money turns out to have arrived earlier than the penalty assumed.

A day is charged on the balance at its start (lending/penalty_rule.py), so a payment received on day R
but posted later (bank files arrive late), or a reversal of one, changes what the loan owed at the start
of every day after R. The replay, under the loan's row lock:

1. removes every live penalty accrual of the days after R (a removal entry each, opposite amounts);
2. takes back what every payment received from R on was allocated (opposite allocation rows, net per
   payment and installment), and what every waiver effective from R on waived (opposite entry lines),
   so the loan stands as it did when R's money arrived;
3. applies R's waivers, then allocates R's posted payments by the product's waterfall, oldest installment
   first, then walks the days after R to the last day charged: each is charged by the rule (the loan's
   pauses as recorded; the cost cap derived again), then that day's waivers are applied (each waives what
   it asked for, or what is left of its part if that is less), then that day's payments are allocated;
4. allocates the payments received after the last day charged, and spends any older credit balance.

No penalty is ever charged for a day after the money arrived, and every change is a new row. A re-play
never goes back past an entry that changed what the loan is — a settlement discount, a write-off or a
restructuring (lending/adjustments.py `ledger_floor`): money received before one but posted after it is
re-played from that entry's day.
"""

import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Q, Sum

from accounts.services import audit_record
from creditops.core.money import ZERO

from .adjustments import ADJUSTED_FIELDS, entry_net_lines, ledger_floor, spread_oldest_first, waivers_to_replay
from .allocation import COMPONENTS, OpenInstallment, allocate, outstanding_parts
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
from .penalty_rule import Terms, booked_cents, cost_cap_amount, day_penalty
from .posting import apply_credit_balance, refresh_settlement
from .signals import penalty_replayed

ONE_DAY = datetime.timedelta(days=1)
PAID_FIELDS = [f"{part}_paid_amount" for part in COMPONENTS]
PENALTY_FIELDS = ["penalty_amount", "penalty_exact_amount", "penalty_accrued_on"]
WRITTEN_FIELDS = PAID_FIELDS + PENALTY_FIELDS + ADJUSTED_FIELDS


def _written_values(item: Installment) -> tuple:
    return tuple(getattr(item, field) for field in WRITTEN_FIELDS)


def live_accruals(loan_id: int, after: datetime.date):
    """Accruals of the days after `after` that no removal has taken back."""
    return PenaltyEntry.objects.filter(
        loan_id=loan_id, kind=PenaltyEntry.Kind.ACCRUAL, accrued_on__gt=after, removals__isnull=True
    )


def replay_since(loan_id: int, received_on: datetime.date) -> datetime.date:
    """The day a re-play for money received on `received_on` starts: that day, or the loan's ledger
    floor if later (see the module's docstring)."""
    floor = ledger_floor(loan_id)
    return max(received_on, floor) if floor else received_on


def replay_needed(loan_id: int, since: datetime.date, *, payment: Payment | None = None) -> bool:
    """Whether posting (or reversing) money received on `since` changes what came after it: days after it
    already charged, payments that come later in the loan's order (received date, then posting order),
    whose allocation it would change, or waivers of a later day, which waive what is left after it (a
    waiver goes before the payments of its own day). `payment` is the one being reversed."""
    later = Q(received_on__gt=since)
    if payment is not None:
        later |= Q(received_on=since, pk__gt=payment.pk)
    later_waivers = LedgerEntry.objects.filter(loan_id=loan_id, kind=LedgerEntry.Kind.WAIVER, effective_on__gt=since)
    return (
        live_accruals(loan_id, since).exists()
        or Payment.objects.filter(later, loan_id=loan_id).exists()
        or later_waivers.exists()
    )


@transaction.atomic
def penalty_replay(*, loan_id: int, since: datetime.date, through: datetime.date | None = None, cause=None, actor=None):
    """Re-play the loan from the money received on `since` through the day `through` (by default the last
    day charged). `cause` is the payment that made it necessary. Returns {removed, charged} in cents."""
    loan = Loan.objects.select_for_update(of=("self",)).select_related("product").get(pk=loan_id)
    removed_entries = list(live_accruals(loan.pk, since).order_by("accrued_on", "id"))
    last_charged = max((entry.accrued_on for entry in removed_entries), default=None)
    through = through or last_charged or since
    replay = _Replay(loan, since, cause)
    replay.remove(removed_entries)
    replay.take_back_payments()
    replay.take_back_waivers()
    replay.apply_waivers(effective_on=since)
    replay.allocate_payments(received_through=since)
    day = since + ONE_DAY
    while day <= through:
        replay.charge(day)
        replay.apply_waivers(effective_on=day)
        replay.allocate_payments(received_on=day)
        day += ONE_DAY
    replay.after_last_day(max(through, since))
    replay.save()
    figures = {"since": since.isoformat(), "removed": str(replay.removed), "charged": str(replay.charged)}
    audit_record(actor=actor, event="penalty.replayed", subject=loan, detail=figures)
    penalty_replayed.send(sender=Loan, loan=loan, since=since, removed=replay.removed, charged=replay.charged)
    return {"removed": replay.removed, "charged": replay.charged}


class _Replay:
    """The loan's installments and payments in memory while its days are walked again."""

    def __init__(self, loan: Loan, since: datetime.date, cause):
        self.loan, self.since, self.cause = loan, since, cause
        self.terms = Terms.of(loan)
        self.installments = list(loan.installments.order_by("due_date", "sequence"))
        self.saved_values = {item.pk: _written_values(item) for item in self.installments}
        # The payments from `since` on, and the one that caused the re-play if it was received before.
        later = Q(received_on__gte=since) | Q(pk=cause.pk) if isinstance(cause, Payment) else Q(received_on__gte=since)
        self.payments = list(loan.payments.filter(later).order_by("received_on", "id"))
        self.waivers = waivers_to_replay(loan.pk, since)
        self.waived = {}  # waiver entry id -> {installment id: amounts} as re-applied
        self.new_lines = []
        self.pauses = list(loan.penalty_pauses.exclude(reason=PenaltyPause.Reason.COST_CAP, started_on__gt=since))
        self.capped = any(p.reason == PenaltyPause.Reason.COST_CAP for p in self.pauses)
        self.revisions = self._revisions()
        self.new_entries, self.new_allocations, self.new_pauses = [], [], []
        self.removed = self.charged = ZERO

    def _revisions(self) -> dict:
        rows = (
            PenaltyEntry.objects.filter(loan=self.loan, kind=PenaltyEntry.Kind.ACCRUAL, accrued_on__gte=self.since)
            .values("installment_id", "accrued_on")
            .annotate(last=Max("revision"))
        )
        return {(row["installment_id"], row["accrued_on"]): row["last"] for row in rows}

    def remove(self, entries: list[PenaltyEntry]) -> None:
        by_id = {item.pk: item for item in self.installments}
        for entry in entries:
            item = by_id[entry.installment_id]
            item.penalty_amount -= entry.amount
            item.penalty_exact_amount -= entry.exact_amount
            self.removed += entry.amount
            self.new_entries.append(
                PenaltyEntry(
                    loan=self.loan,
                    installment=item,
                    accrued_on=entry.accrued_on,
                    kind=PenaltyEntry.Kind.REMOVAL,
                    revision=entry.revision,
                    days=entry.days,
                    base_amount=entry.base_amount,
                    daily_rate=entry.daily_rate,
                    exact_amount=-entry.exact_amount,
                    amount=-entry.amount,
                    removes=entry,
                    cause_payment=self.cause,
                )
            )
        for item in self.installments:
            if item.penalty_accrued_on and item.penalty_accrued_on > self.since:
                item.penalty_accrued_on = self.since
        self.loan.penalty_accrued_amount -= self.removed

    def take_back_payments(self) -> None:
        """Opposite rows for what each payment from `since` on holds (net of earlier reversals)."""
        by_id = {item.pk: item for item in self.installments}
        net = (
            PaymentAllocation.objects.filter(payment__in=self.payments)
            .values("payment_id", "installment_id", "is_recovery")
            .annotate(**{part: Sum(f"{part}_amount") for part in COMPONENTS})
        )
        payments = {payment.pk: payment for payment in self.payments}
        for row in net:
            amounts = {part: row[part] or ZERO for part in COMPONENTS}
            if not any(amounts.values()):
                continue
            payment, item = payments[row["payment_id"]], by_id[row["installment_id"]]
            self._allocation(payment, item, amounts, sign=-1, is_recovery=row["is_recovery"])
        for payment in self.payments:
            if payment.status == Payment.Status.POSTED:
                # What was refunded of it is gone: only the rest is allocated again.
                self.loan.credit_balance_amount -= payment.unallocated_amount
                payment.unallocated_amount = payment.amount - payment.refunded_amount

    def _allocation(self, payment, item, amounts: dict, *, sign: int, is_recovery: bool = False) -> None:
        self.new_allocations.append(
            PaymentAllocation(
                payment=payment,
                installment=item,
                is_replay=True,
                is_recovery=is_recovery,
                **{f"{part}_amount": sign * amounts[part] for part in COMPONENTS},
            )
        )
        for part in COMPONENTS:
            setattr(item, f"{part}_paid_amount", getattr(item, f"{part}_paid_amount") + sign * amounts[part])

    def take_back_waivers(self) -> None:
        """Opposite lines for what each waiver from `since` on waives now."""
        by_id = {item.pk: item for item in self.installments}
        for entry in self.waivers:
            for line in entry_net_lines(entry):
                self._waiver_line(entry, by_id[line.key.pk], line.amounts, sign=-1)

    def apply_waivers(self, *, effective_on) -> None:
        by_id = {item.pk: item for item in self.installments}
        for entry in self.waivers:
            if entry.effective_on != effective_on:
                continue
            if entry.reverses_id is None:
                amount = entry.requested_amount or entry.amount
                lines = spread_oldest_first(self.installments, entry.component, amount)
                applied = {line.key.pk: line.amounts for line in lines}
            else:  # a reversal takes back what its waiver waives now
                applied = {
                    pk: {part: -value for part, value in amounts.items()}
                    for pk, amounts in self._waived_now(entry.reverses).items()
                }
            self.waived[entry.pk] = applied
            for pk, amounts in applied.items():
                self._waiver_line(entry, by_id[pk], amounts, sign=1)

    def _waived_now(self, entry) -> dict:
        if entry.pk in self.waived:
            return self.waived[entry.pk]
        return {line.key.pk: line.amounts for line in entry_net_lines(entry)}

    def _waiver_line(self, entry, item, amounts: dict, *, sign: int) -> None:
        self.new_lines.append(
            LedgerEntryLine(
                entry=entry, installment=item, is_replay=True,
                **{f"{part}_amount": sign * amounts[part] for part in COMPONENTS},
            )
        )  # fmt: skip
        for part in COMPONENTS:
            field = f"{part}_adjusted_amount"
            setattr(item, field, getattr(item, field) + sign * amounts[part])

    def after_last_day(self, last_day) -> None:
        """The waivers and payments of days after the last day walked (no penalty charged there yet), day
        by day: a day's waivers before its payments."""
        days = {entry.effective_on for entry in self.waivers} | {payment.received_on for payment in self.payments}
        for day in sorted(day for day in days if day > last_day):
            self.apply_waivers(effective_on=day)
            self.allocate_payments(received_on=day)

    def allocate_payments(self, *, received_on=None, received_through=None) -> None:
        for payment in self.payments:
            if payment.status != Payment.Status.POSTED:
                continue
            if received_on is not None and payment.received_on != received_on:
                continue
            if received_through is not None and payment.received_on > received_through:
                continue
            open_items = [
                OpenInstallment(key=item, outstanding=outstanding_parts(item))
                for item in self.installments
                if sum(outstanding_parts(item).values(), ZERO) > 0
            ]
            lines, excess = allocate(payment.unallocated_amount, open_items, self.loan.product.waterfall)
            for line in lines:
                self._allocation(payment, line.key, line.amounts, sign=1)
            payment.unallocated_amount = excess
            self.loan.credit_balance_amount += excess

    def _paused(self, day) -> bool:
        if any(pause.covers(day) for pause in self.pauses):
            return True
        # Written off before write-offs opened a pause: no day of the replay is charged.
        written_off_unrecorded = not any(pause.reason == PenaltyPause.Reason.WRITTEN_OFF for pause in self.pauses)
        return self.loan.status == Loan.Status.WRITTEN_OFF and written_off_unrecorded

    def charge(self, day: datetime.date) -> None:
        if self.capped or self._paused(day):
            return
        charges = []
        for item in self.installments:
            if item.effective_due_date >= day:
                continue
            days, base, exact = day_penalty(outstanding_parts(item), item.effective_due_date, day, self.terms)
            if days:
                charges.append((item, days, base, exact))
        if not charges:
            return
        today = sum((exact for *_rest, exact in charges), Decimal(0))
        cost = self.loan.contract_cost_amount + self.loan.penalty_accrued_amount + today
        if cost > cost_cap_amount(self.loan, day):
            self.capped = True
            self.new_pauses.append(PenaltyPause(loan=self.loan, reason=PenaltyPause.Reason.COST_CAP, started_on=day))
            return
        for item, days, base, exact in charges:
            self._charge_one(item, day, days, base, exact)

    def _charge_one(self, item, day, days, base, exact) -> None:
        cents = booked_cents(item.penalty_exact_amount, exact)
        revision = self.revisions.get((item.pk, day), -1) + 1
        self.revisions[(item.pk, day)] = revision
        self.new_entries.append(
            PenaltyEntry(
                loan=self.loan,
                installment=item,
                accrued_on=day,
                revision=revision,
                days=days,
                base_amount=base,
                daily_rate=self.terms.daily_rate,
                exact_amount=exact,
                amount=cents,
                cause_payment=self.cause,
            )
        )
        item.penalty_exact_amount += exact
        item.penalty_amount += cents
        item.penalty_accrued_on = day
        self.loan.penalty_accrued_amount += cents
        self.charged += cents

    def save(self) -> None:
        # Removals first: each points at the accrual it removes, and a new accrual of the same day
        # takes the next revision.
        PenaltyEntry.objects.bulk_create(self.new_entries)
        PenaltyPause.objects.filter(
            loan=self.loan, reason=PenaltyPause.Reason.COST_CAP, started_on__gt=self.since
        ).delete()
        PenaltyPause.objects.bulk_create(self.new_pauses)
        PaymentAllocation.objects.bulk_create(self.new_allocations)
        LedgerEntryLine.objects.bulk_create(self.new_lines)
        # Only the installments the re-play changed (usually two or three of a loan's dozens): bulk_update
        # builds a CASE per field and row, and writing them all was most of a re-play's 50 ms at 1M loans.
        changed = [item for item in self.installments if _written_values(item) != self.saved_values[item.pk]]
        Installment.objects.bulk_update(changed, WRITTEN_FIELDS)
        Payment.objects.bulk_update(self.payments, ["unallocated_amount"])
        apply_credit_balance(self.loan)
        refresh_settlement(self.loan, max(self.since, max((p.received_on for p in self.payments), default=self.since)))
        self.loan.save(update_fields=["credit_balance_amount", "penalty_accrued_amount", "status", "settled_on"])
