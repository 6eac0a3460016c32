"""Penalty interest (罚息): the product's terms as versioned records, the append-only accrual ledger and
the pauses that stop accrual. The rules that write these live in lending/penalty_rule.py and lending/penalties.py."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .ledger import GraceRule, Installment, Loan, MoneyField, Payment, PenaltyBase, Product


class PenaltyTerms(models.Model):
    """One version of a product's penalty terms. A loan copies the version in force when it is booked."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="penalty_versions"
    )
    version = models.PositiveSmallIntegerField(_("version"))
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    penalty_base = models.CharField(_("penalty base"), max_length=20, choices=PenaltyBase.choices)
    penalty_daily_rate = models.DecimalField(_("penalty rate per day"), max_digits=9, decimal_places=6)
    grace_days = models.PositiveSmallIntegerField(_("grace days"))
    penalty_grace_rule = models.CharField(_("penalty in grace days"), max_length=16, choices=GraceRule.choices)
    penalty_compounds = models.BooleanField(_("unpaid penalty compounds"))
    penalty_cost_cap_rate = models.DecimalField(_("annual cost cap"), max_digits=9, decimal_places=6)
    penalty_pause_in_plan = models.BooleanField(_("no penalty during a performing payment plan"))
    penalty_pause_in_dispute = models.BooleanField(_("no penalty while a dispute is open"))

    class Meta:
        verbose_name = _("penalty terms")
        verbose_name_plural = _("penalty terms")
        ordering = ["product", "-version"]
        constraints = [models.UniqueConstraint(fields=["product", "version"], name="penalty_terms_version_uniq")]

    def __str__(self):
        return f"{self.product.code} v{self.version}"

    @classmethod
    def record(cls, product: Product) -> "PenaltyTerms":
        terms, _created = cls.objects.get_or_create(
            product=product, version=product.penalty_terms_version, defaults=product.penalty_terms()
        )
        return terms


class PenaltyEntry(models.Model):
    """One day's penalty on one installment, or the removal of one (a late-arriving payment showed the
    day should not have been charged). Append-only: a removal is a new row pointing at what it removes,
    with the opposite amounts. Each accrual's `amount` is what the installment's rounded penalty grew
    by, so the entries of an installment sum exactly to its penalty due (see lending/penalties.py)."""

    class Kind(models.TextChoices):
        ACCRUAL = "accrual", _("Accrual")
        REMOVAL = "removal", _("Removal")
        # Unpaid penalty of a restructured schedule's installment, due again on the new last installment.
        CARRIED = "carried", _("Carried from the old schedule")

    # Few indexes: the nightly run inserts ~250,000 rows at 1M loans. One index serves both the rule "one
    # accrual per installment and day" and the reads of a loan's accruals (a loan has at most a few
    # thousand entries); the loan's other entries (removals, carried penalty: rare, and never written by
    # the nightly accrual) have a small index of their own, so a read by loan reads both (by_loan) instead
    # of scanning the table; the day's index is appended at its end (dashboards, the admin's order). No foreign-key
    # constraints either: their checks at COMMIT (two row locks per entry, 500,000 a night) were a third
    # of the step. Entries are written only by the accrual and the replay, from rows they hold; loans and
    # installments are never deleted; `reconcile_ledger` proves each entry's installment exists and is its
    # loan's (penalty_entry_installment_of_its_loan), which the two constraints never checked.
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="penalty_entries", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    installment = models.ForeignKey(
        Installment, verbose_name=_("installment"), on_delete=models.PROTECT, related_name="penalty_entries",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    accrued_on = models.DateField(_("day charged"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.ACCRUAL)
    # A day charged again after a removal is a new revision of that day.
    revision = models.PositiveSmallIntegerField(_("revision"), default=0)
    days = models.PositiveSmallIntegerField(_("days"), default=1)
    base_amount = MoneyField(_("penalty base"))
    daily_rate = models.DecimalField(_("rate per day"), max_digits=9, decimal_places=6)
    exact_amount = models.DecimalField(_("amount before rounding"), max_digits=24, decimal_places=8)
    amount = MoneyField(_("amount"))
    # At most one removal per accrual (a partial unique constraint: only removal rows are indexed).
    removes = models.ForeignKey(
        "self", verbose_name=_("removes"), null=True, blank=True, on_delete=models.PROTECT, related_name="removals",
        db_index=False,
    )  # fmt: skip
    cause_payment = models.ForeignKey(
        Payment, verbose_name=_("because of payment"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("penalty entry")
        verbose_name_plural = _("penalty entries")
        ordering = ["installment", "accrued_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan", "installment", "accrued_on", "revision"],
                condition=Q(kind="accrual"),
                name="penalty_one_accrual_per_day",
            ),
            models.UniqueConstraint(
                fields=["removes"], condition=Q(removes__isnull=False), name="penalty_one_removal_per_accrual"
            ),
        ]
        indexes = [
            models.Index(fields=["accrued_on"], name="penalty_day_idx"),
            models.Index(fields=["loan"], condition=~Q(kind="accrual"), name="penalty_loan_other_idx"),
        ]

    def __str__(self):
        return f"{self.installment_id} {self.accrued_on} {self.amount}"

    @classmethod
    def by_loan(cls, loan_id: int):
        """Every entry of a loan, asked for in the two parts its indexes cover (a plain `loan_id = …` can
        use neither partial index and scans the table)."""
        accruals = Q(loan_id=loan_id, kind=cls.Kind.ACCRUAL)
        others = Q(loan_id=loan_id) & ~Q(kind=cls.Kind.ACCRUAL)
        return cls.objects.filter(accruals | others)


class PenaltyPause(models.Model):
    """A span of days on which a loan accrues no penalty, and why. `ended_on` is the first day charged
    again (null while the pause lasts)."""

    class Reason(models.TextChoices):
        PLAN = "plan", _("a performing payment plan")
        DISPUTE = "dispute", _("an open dispute")
        WRITTEN_OFF = "written_off", _("written off")
        COST_CAP = "cost_cap", _("the cap on the loan's total cost was reached")

    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="penalty_pauses")
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("penalty pause")
        verbose_name_plural = _("penalty pauses")
        ordering = ["loan", "started_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan", "reason"], condition=Q(ended_on__isnull=True), name="penalty_one_open_pause"
            ),
        ]
        indexes = [
            models.Index(fields=["loan"], name="penalty_pause_open_idx", condition=Q(ended_on__isnull=True)),
        ]

    def __str__(self):
        return f"{self.loan_id} {self.reason} {self.started_on}–{self.ended_on or ''}"

    def covers(self, day) -> bool:
        return self.started_on <= day and (self.ended_on is None or day < self.ended_on)
