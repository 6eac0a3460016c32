"""Ledger entries that change what a loan owes without money or penalty accrual: waivers, settlement
discounts, write-offs (with the recoveries that reinstate and the undo), and the closing of a schedule
by restructuring. The rules that write them live in lending/adjustments.py and the modules it names.

An entry is a header (what, when, why, on whose authority) and lines, one per installment, with what it
closed of each part. A line's amounts raise the installment's `*_adjusted_amount`; negative amounts
lower it (a recovery reinstates what it pays, a reversal takes an entry back). Append-only: nothing is
ever changed or deleted, a correction is a new entry that `reverses` the first.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from creditops.core.money import format_money

from .ledger import Installment, Loan, MoneyField, Payment


def authority_words(authority: str) -> str:
    """Whose decision an entry carries out, in the reader's language: "approval 123" is stored (a code,
    the same in every language) and shown as "approval no. 123" / "审批单 123"."""
    kind, _space, number = (authority or "").partition(" ")
    if kind == "approval" and number.isdigit():
        return pgettext("authority of a ledger entry", "approval no. %(number)s") % {"number": number}
    return authority


class Component(models.TextChoices):
    """The parts of what an installment owes that a waiver can name."""

    PENALTY = "penalty", _("penalty interest")
    FEE = "fee", _("fees")
    INTEREST = "interest", _("interest")
    PRINCIPAL = "principal", _("principal")


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        WAIVER = "waiver", _("Waiver")
        SETTLEMENT_DISCOUNT = "settlement_discount", _("Settlement discount")
        WRITE_OFF = "write_off", _("Write-off")
        RECOVERY = "recovery", _("Recovery after write-off")
        WRITE_OFF_UNDO = "write_off_undo", _("Write-off undone")
        RESTRUCTURE = "restructure", _("Closed by restructuring")

    # Written off, and the entries that move what stays written off.
    WRITE_OFF_KINDS = (Kind.WRITE_OFF, Kind.RECOVERY, Kind.WRITE_OFF_UNDO)
    # Entries a late-arriving payment's re-play never crosses: they changed what the loan is.
    STRUCTURAL_KINDS = (Kind.SETTLEMENT_DISCOUNT, Kind.WRITE_OFF, Kind.WRITE_OFF_UNDO, Kind.RESTRUCTURE)

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # A waiver names the one part it waives; other kinds touch every part.
    component = models.CharField(_("part"), max_length=10, choices=Component.choices, blank=True)
    effective_on = models.DateField(_("effective on"))
    # What was asked for (a waiver's amount); `amount` is what the lines close, net.
    requested_amount = MoneyField(_("amount requested"), null=True, blank=True, default=None)
    amount = MoneyField(_("amount"))
    reason = models.TextField(_("reason"), blank=True)
    # Whose decision this carries out, e.g. "approval 123" (the collections approval that asked for it).
    authority = models.CharField(_("authorised by"), max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="reversed_by",
    )  # fmt: skip
    # A recovery: the payment whose money it reinstates the written-off amounts for.
    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-effective_on", "-id"]
        indexes = [
            models.Index(fields=["loan", "effective_on"], name="entry_loan_idx"),
            models.Index(fields=["kind", "effective_on"], name="entry_kind_day_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {format_money(self.amount, self.loan.currency)} · {self.loan.reference}"

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None

    @property
    def authority_words(self) -> str:
        return authority_words(self.authority)


class LedgerEntryLine(models.Model):
    entry = models.ForeignKey(LedgerEntry, verbose_name=_("entry"), on_delete=models.PROTECT, related_name="lines")
    installment = models.ForeignKey(
        Installment, verbose_name=_("installment"), on_delete=models.PROTECT, related_name="entry_lines"
    )
    principal_amount = MoneyField(_("principal"))
    interest_amount = MoneyField(_("interest"))
    fee_amount = MoneyField(_("fees"))
    penalty_amount = MoneyField(_("penalty"))
    # Written when a late-arriving payment re-plays the loan's days and re-applies a waiver after it.
    is_replay = models.BooleanField(_("re-played"), default=False)

    class Meta:
        verbose_name = _("ledger entry line")
        verbose_name_plural = _("ledger entry lines")
        ordering = ["id"]

    def __str__(self):
        return gettext("instalment %(number)s") % {"number": self.installment.sequence}

    @property
    def total_amount(self):
        return self.principal_amount + self.interest_amount + self.fee_amount + self.penalty_amount


class CreditRefund(models.Model):
    """Paying a loan's credit balance (money received beyond all it owes) back to the borrower. Maker-
    checker: requested by one person, decided by another; paid out by the approval, with the bank's
    reference."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        PAID = "paid", _("Refunded")
        REJECTED = "rejected", _("Rejected")

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="refunds")
    amount = MoneyField(_("amount"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    reason = models.TextField(_("reason"))
    reference = models.CharField(_("refund reference"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    refunded_on = models.DateField(_("refunded on"), null=True, blank=True)

    class Meta:
        verbose_name = _("credit refund")
        verbose_name_plural = _("credit refunds")
        ordering = ["-requested_at", "-id"]
        permissions = [("decide_creditrefund", _("Can approve or reject credit refunds"))]
        constraints = [
            models.UniqueConstraint(fields=["loan"], condition=Q(status="requested"), name="refund_one_pending"),
            models.UniqueConstraint(fields=["reference"], condition=~Q(reference=""), name="refund_reference_uniq"),
        ]

    def __str__(self):
        return f"{format_money(self.amount, self.loan.currency)} · {self.loan.reference} · {self.get_status_display()}"


class PaymentRefund(models.Model):
    """Which payments' unallocated money a refund paid back (a loan's credit balance belongs to the
    payments that left it), so every payment still adds up: allocated + unallocated + refunded."""

    refund = models.ForeignKey(CreditRefund, verbose_name=_("refund"), on_delete=models.PROTECT, related_name="parts")
    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds")
    amount = MoneyField(_("amount"))

    class Meta:
        verbose_name = _("refunded part of a payment")
        verbose_name_plural = _("refunded parts of payments")

    def __str__(self):
        return f"{self.refund_id} ← {self.payment_id}: {self.amount}"
