"""Arrangements that change how a loan ends: a settlement (an agreed amount by a deadline, the rest
waived once it is paid) and a restructuring (a new schedule in place of the old one). The rules live in
lending/settlements.py and lending/restructuring.py."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from creditops.core.money import format_money

from .entries import LedgerEntry
from .ledger import Loan, MoneyField


class Settlement(models.Model):
    """An agreed amount that settles the loan if it is paid by the deadline (and each optional instalment
    by its date): the rest is then waived in one settlement-discount entry and the loan closes as settled
    with discount. Missed, it lapses and nothing is waived."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Agreed, waiting for payment")
        SETTLED = "settled", _("Paid: loan settled")
        LAPSED = "lapsed", _("Lapsed")
        CANCELLED = "cancelled", _("Cancelled")

    class EndReason(models.TextChoices):
        PAID = "paid", _("the agreed amount was paid")
        DEADLINE_PASSED = "deadline_passed", _("the deadline passed before the agreed amount was paid")
        INSTALMENT_MISSED = "instalment_missed", _("an instalment was missed")
        CANCELLED = "cancelled", _("withdrawn")

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="settlements")
    agreed_amount = MoneyField(_("agreed amount"))
    # What the loan owed in all when it was agreed (the discount offered is the difference).
    owed_amount = MoneyField(_("owed when agreed"))
    # Payments received from this day on count towards the agreed amount.
    starts_on = models.DateField(_("counts payments from"))
    deadline = models.DateField(_("deadline"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    authority = models.CharField(_("authorised by"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended"), max_length=20, choices=EndReason.choices, blank=True)
    end_note = models.TextField(_("note"), blank=True)
    discount_entry = models.OneToOneField(
        LedgerEntry, verbose_name=_("discount entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="settlement",
    )  # fmt: skip

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["loan"], condition=Q(status="active"), name="settlement_one_active"),
            models.CheckConstraint(condition=Q(agreed_amount__gt=0), name="settlement_amount_positive"),
            models.CheckConstraint(condition=Q(deadline__gte=models.F("starts_on")), name="settlement_dates_order"),
        ]
        indexes = [models.Index(fields=["deadline"], name="settlement_active_idx", condition=Q(status="active"))]

    def __str__(self):
        amount = format_money(self.agreed_amount, self.loan.currency)
        return f"{amount} · {self.loan.reference} · {self.get_status_display()}"

    @property
    def discount_amount(self):
        return max(self.owed_amount - self.agreed_amount, 0)


class SettlementInstalment(models.Model):
    """An optional step of a settlement: by `due_date`, payments since its start must reach `amount` in all
    with the instalments before it."""

    settlement = models.ForeignKey(
        Settlement, verbose_name=_("settlement"), on_delete=models.PROTECT, related_name="instalments"
    )
    sequence = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    amount = MoneyField(_("amount"))

    class Meta:
        verbose_name = _("settlement instalment")
        verbose_name_plural = _("settlement instalments")
        ordering = ["settlement", "sequence"]
        constraints = [models.UniqueConstraint(fields=["settlement", "sequence"], name="settlement_instalment_uniq")]

    def __str__(self):
        return f"{self.due_date} {self.amount}"


class Restructuring(models.Model):
    """One restructuring of a loan: its open installments closed by a restructure entry and a new schedule
    booked after them (sequences `first_sequence` onwards)."""

    class Method(models.TextChoices):
        CAPITALISE = "capitalise", _("Arrears capitalised into the new principal")
        CARRY_TO_END = "carry_to_end", _("Arrears carried to the last instalment")

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="restructurings")
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    effective_on = models.DateField(_("effective on"))
    term_months = models.PositiveSmallIntegerField(_("new term (months)"))
    first_due_date = models.DateField(_("first new due date"))
    # What the old schedule still owed: overdue (the arrears) and not yet due principal.
    arrears_amount = MoneyField(_("arrears"))
    principal_amount = MoneyField(_("new schedule's principal"))
    capitalised_amount = MoneyField(_("arrears capitalised"))
    carried_amount = MoneyField(_("arrears carried to the end"))
    first_sequence = models.PositiveSmallIntegerField(_("first new instalment"))
    closing_entry = models.OneToOneField(
        LedgerEntry, verbose_name=_("closing entry"), on_delete=models.PROTECT, related_name="restructuring"
    )
    authority = models.CharField(_("authorised by"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("restructuring")
        verbose_name_plural = _("restructurings")
        ordering = ["-effective_on", "-id"]

    def __str__(self):
        return f"{self.loan.reference} · {self.effective_on:%Y-%m-%d}"
