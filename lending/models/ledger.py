from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Round
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from creditops.core.business_days import Calendar
from creditops.core.db import UpperPrefixIndex
from creditops.core.masking import mask_id_number, mask_phone
from creditops.core.names import NamedInTwoLanguages

from ..allocation import DEFAULT_WATERFALL, parse_waterfall
from ..validators import validate_e164, validate_passport, validate_resident_id, validate_time_zone, validate_uscc


def default_currency():
    return settings.CREDITOPS["DEFAULT_CURRENCY"]


def default_cost_cap():
    return Decimal(settings.CREDITOPS["PENALTY_COST_CAP"])


class PenaltyBase(models.TextChoices):
    PRINCIPAL = "principal", _("overdue principal")
    PRINCIPAL_INTEREST = "principal_interest", _("overdue principal and interest")
    ALL_OVERDUE = "all_overdue", _("all overdue principal, interest and fees")


class GraceRule(models.TextChoices):
    FREE = "free", _("grace days are free of penalty")
    CHARGED_BACK = "charged_back", _("once grace has passed, penalty is charged back to the due date")


# The penalty terms a product sets and a loan copies at booking (see lending/penalty_rule.py for the rule).
PENALTY_TERM_FIELDS = (
    "penalty_base", "penalty_daily_rate", "grace_days", "penalty_grace_rule", "penalty_compounds",
    "penalty_cost_cap_rate", "penalty_pause_in_plan", "penalty_pause_in_dispute",
)  # fmt: skip


def MoneyField(verbose_name, **kwargs):  # noqa: N802 - reads like a field class
    kwargs.setdefault("default", Decimal("0.00"))
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=2, **kwargs)


def RateField(verbose_name, **kwargs):  # noqa: N802
    kwargs.setdefault("default", Decimal("0"))
    return models.DecimalField(
        verbose_name, max_digits=9, decimal_places=6, validators=[MinValueValidator(Decimal(0))], **kwargs
    )


class Borrower(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        ENTERPRISE = "enterprise", _("Enterprise")

    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("PRC resident ID")
        USCC = "uscc", _("Unified social credit code")
        PASSPORT = "passport", _("Passport")

    class RiskGrade(models.TextChoices):
        A = "A", _("A (lowest risk)")
        B = "B", "B"
        C = "C", "C"
        D = "D", "D"
        E = "E", _("E (highest risk)")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.INDIVIDUAL)
    name = models.CharField(
        pgettext_lazy("person or company", "name"),
        max_length=200,
        help_text=_("Legal name, or the registered company name."),
    )
    name_latin = models.CharField(_("name in Latin letters"), max_length=200, blank=True)
    legal_representative = models.CharField(
        _("legal representative"), max_length=100, blank=True, help_text=_("Enterprises only.")
    )
    id_type = models.CharField(_("ID type"), max_length=16, choices=IdType.choices)
    id_number = models.CharField(_("ID number"), max_length=32)
    phone = models.CharField(_("phone"), max_length=16, validators=[validate_e164])
    email = models.EmailField(_("e-mail"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    risk_grade = models.CharField(_("risk grade"), max_length=1, choices=RiskGrade.choices, default=RiskGrade.C)
    credit_limit_amount = MoneyField(_("credit limit"))
    # Flags that stop collection contact (the dunning guardrails read them).
    has_open_dispute = models.BooleanField(_("open dispute"), default=False)
    is_bankrupt = models.BooleanField(_("bankruptcy"), default=False)
    is_deceased = models.BooleanField(_("deceased"), default=False)
    cease_communication = models.BooleanField(_("cease-communication request"), default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("borrower")
        verbose_name_plural = _("borrowers")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["id_type", "id_number"], name="borrower_id_number_uniq"),
        ]
        indexes = [
            models.Index(fields=["phone"], name="borrower_phone_idx"),
            # Name search: UPPER(name) LIKE 'PREFIX%' answered from an index (see UpperPrefixIndex).
            UpperPrefixIndex("name", name="borrower_name_prefix_idx"),
            UpperPrefixIndex("name_latin", name="borrower_latin_prefix_idx"),
            models.Index(fields=["id_number"], name="borrower_id_number_idx"),
            # One per changelist filter, so a filtered list in default order reads one index range.
            models.Index(fields=["kind", "-id"], name="borrower_kind_idx"),
            models.Index(fields=["risk_grade", "-id"], name="borrower_risk_idx"),
            models.Index(fields=["-id"], name="borrower_dispute_idx", condition=Q(has_open_dispute=True)),
            models.Index(fields=["-id"], name="borrower_bankrupt_idx", condition=Q(is_bankrupt=True)),
        ]

    def __str__(self):
        return self.name

    @property
    def masked_id_number(self):
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self):
        return mask_phone(self.phone)

    @property
    def is_on_hold(self):
        return any(
            [self.has_open_dispute, self.is_bankrupt, self.is_deceased, self.cease_communication, self.do_not_contact]
        )

    def clean(self):
        super().clean()
        self.id_number = (self.id_number or "").strip().upper()
        allowed = {
            self.Kind.INDIVIDUAL: {self.IdType.RESIDENT_ID, self.IdType.PASSPORT},
            self.Kind.ENTERPRISE: {self.IdType.USCC},
        }
        if self.id_type not in allowed.get(self.kind, set()):
            raise ValidationError({"id_type": _("This ID type does not fit this kind of borrower.")})
        validator = {
            self.IdType.RESIDENT_ID: validate_resident_id,
            self.IdType.USCC: validate_uscc,
            self.IdType.PASSPORT: validate_passport,
        }[self.id_type]
        try:
            validator(self.id_number)
        except ValidationError as error:
            raise ValidationError({"id_number": error.messages}) from error
        if self.kind == self.Kind.ENTERPRISE and not self.legal_representative:
            raise ValidationError({"legal_representative": _("An enterprise needs its legal representative.")})


class BorrowerContact(models.Model):
    class Relation(models.TextChoices):
        SELF = "self", _("Self (another number)")
        SPOUSE = "spouse", _("Spouse")
        RELATIVE = "relative", _("Relative")
        EMPLOYER = "employer", _("Employer")
        GUARANTOR = "guarantor", _("Guarantor")
        EMERGENCY = "emergency", _("Emergency contact")

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.CASCADE, related_name="contacts"
    )
    relation = models.CharField(_("relation"), max_length=16, choices=Relation.choices)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=200)
    phone = models.CharField(_("phone"), max_length=16, validators=[validate_e164])
    consent_to_contact = models.BooleanField(
        _("consented to be contacted"), default=False, help_text=_("Third parties may only be called with consent.")
    )

    class Meta:
        verbose_name = _("borrower contact")
        verbose_name_plural = _("borrower contacts")
        indexes = [models.Index(fields=["phone"], name="contact_phone_idx")]

    def __str__(self):
        return f"{self.name} ({self.get_relation_display()})"


class Product(NamedInTwoLanguages):
    class Kind(models.TextChoices):
        CONSUMER_INSTALLMENT = "consumer_installment", _("Consumer installment")
        REVOLVING_LINE = "revolving_line", _("Revolving line")
        TERM_LOAN = "term_loan", _("Term loan")
        WORKING_CAPITAL = "working_capital", _("Enterprise working capital")
        PROJECT_FINANCE = "project_finance", _("Project finance")

    class RepaymentMethod(models.TextChoices):
        EQUAL_INSTALLMENT = "equal_installment", _("Equal installment (等额本息)")
        EQUAL_PRINCIPAL = "equal_principal", _("Equal principal (等额本金)")
        INTEREST_ONLY = "interest_only", _("Interest only, principal at maturity (先息后本)")
        FLAT_FEE = "flat_fee", _("Flat monthly fee per period")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name in Chinese"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    currency = models.CharField(_("currency"), max_length=3, default=default_currency)
    repayment_method = models.CharField(_("repayment method"), max_length=32, choices=RepaymentMethod.choices)
    annual_interest_rate = RateField(_("annual interest rate"), help_text=_("0.18 means 18 percent a year."))
    monthly_fee_rate = RateField(_("monthly fee rate"), help_text=_("Fee per period as a share of principal."))
    penalty_daily_rate = RateField(_("penalty rate per day"), help_text=_("Late charge per day on the penalty base."))
    penalty_base = models.CharField(
        _("penalty base"), max_length=20, choices=PenaltyBase.choices, default=PenaltyBase.PRINCIPAL
    )
    penalty_grace_rule = models.CharField(
        _("penalty in grace days"), max_length=16, choices=GraceRule.choices, default=GraceRule.FREE
    )
    penalty_compounds = models.BooleanField(
        _("unpaid penalty compounds"), default=False, help_text=_("Unpaid penalty joins the base it accrues on.")
    )
    penalty_cost_cap_rate = RateField(
        _("annual cost cap"),
        default=default_cost_cap,
        help_text=_("Interest, fees and penalty a year as a share of principal; accrual stops once reached."),
    )
    penalty_pause_in_plan = models.BooleanField(_("no penalty during a performing payment plan"), default=True)
    penalty_pause_in_dispute = models.BooleanField(_("no penalty while a dispute is open"), default=True)
    penalty_terms_version = models.PositiveSmallIntegerField(_("penalty terms version"), default=1, editable=False)
    grace_days = models.PositiveSmallIntegerField(_("grace days"), default=0, validators=[MaxValueValidator(60)])
    allocation_waterfall = models.CharField(
        _("allocation waterfall"),
        max_length=64,
        default=DEFAULT_WATERFALL,
        help_text=_("Order in which a payment settles each installment: penalty, fee, interest, principal."),
    )
    guardrail_profile = models.CharField(
        _("guardrail profile"),
        max_length=16,
        default="CN",
        help_text=_("Code of the contact-rules profile (e.g. CN, US); the version in force on the day applies."),
    )
    restructure_limit = models.PositiveSmallIntegerField(
        _("restructures allowed"), default=1, help_text=_("How many times one loan may be restructured.")
    )
    restructure_watch_months = models.PositiveSmallIntegerField(
        _("watch period after restructuring (months)"), default=6, validators=[MaxValueValidator(60)]
    )
    business_calendar = models.CharField(
        _("business-day calendar"), max_length=2, choices=Calendar.choices, default=Calendar.CN
    )
    due_on_next_business_day = models.BooleanField(
        _("due dates move to the next business day"),
        default=False,
        help_text=_(
            "A due date on a weekend or public holiday counts from the next business day for days past due and penalty."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} · {self.local_name}"

    @property
    def waterfall(self) -> tuple[str, ...]:
        return parse_waterfall(self.allocation_waterfall)

    def penalty_terms(self) -> dict:
        return {name: getattr(self, name) for name in PENALTY_TERM_FIELDS}

    def save(self, *args, **kwargs):
        """Keep the history of penalty terms: a change of any of them is a new version, recorded as a
        PenaltyTerms row; loans booked before keep the version they copied."""
        from .penalty import PenaltyTerms

        stored = Product.objects.filter(pk=self.pk).first() if self.pk else None
        changed = stored is None or stored.penalty_terms() != self.penalty_terms()
        if stored is not None and changed:
            self.penalty_terms_version = stored.penalty_terms_version + 1
        super().save(*args, **kwargs)
        if changed:
            PenaltyTerms.record(self)

    def clean(self):
        super().clean()
        try:
            parse_waterfall(self.allocation_waterfall)
        except ValueError as error:
            raise ValidationError({"allocation_waterfall": str(error)}) from error


class Loan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SETTLED = "settled", _("Settled")
        SETTLED_WITH_DISCOUNT = "settled_discount", _("Settled with discount")
        WRITTEN_OFF = "written_off", _("Written off")

    class Bucket(models.TextChoices):
        CURRENT = "current", _("Current")
        DPD_1_30 = "1-30", _("1–30 days")
        DPD_31_60 = "31-60", _("31–60 days")
        DPD_61_90 = "61-90", _("61–90 days")
        DPD_91_180 = "91-180", _("91–180 days")
        DPD_180_PLUS = "180+", _("180+ days")

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    borrower = models.ForeignKey(Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="loans")
    currency = models.CharField(_("currency"), max_length=3)
    principal_amount = MoneyField(_("principal"))
    # Contract terms are copied from the product at origination: a later product change must not alter them.
    annual_interest_rate = RateField(_("annual interest rate"))
    monthly_fee_rate = RateField(_("monthly fee rate"))
    penalty_daily_rate = RateField(_("penalty rate per day"))
    # The product's penalty terms as they were at booking (db defaults so bulk loaders may leave them out).
    penalty_base = models.CharField(
        _("penalty base"), max_length=20, choices=PenaltyBase.choices, db_default=PenaltyBase.PRINCIPAL
    )
    grace_days = models.PositiveSmallIntegerField(_("grace days"), default=0, db_default=0)
    penalty_grace_rule = models.CharField(
        _("penalty in grace days"), max_length=16, choices=GraceRule.choices, db_default=GraceRule.FREE
    )
    penalty_compounds = models.BooleanField(_("unpaid penalty compounds"), db_default=False)
    penalty_cost_cap_rate = models.DecimalField(
        _("annual cost cap"), max_digits=9, decimal_places=6, db_default=Decimal("0.24")
    )
    penalty_pause_in_plan = models.BooleanField(_("no penalty during a performing payment plan"), db_default=True)
    penalty_pause_in_dispute = models.BooleanField(_("no penalty while a dispute is open"), db_default=True)
    penalty_terms_version = models.PositiveSmallIntegerField(_("penalty terms version"), db_default=1)
    # Scheduled interest and fees of the whole contract, and the penalty accrued so far: the cost cap's figures.
    contract_cost_amount = models.DecimalField(
        _("contract interest and fees"), max_digits=18, decimal_places=2, db_default=Decimal("0.00")
    )
    penalty_accrued_amount = models.DecimalField(
        _("penalty accrued"), max_digits=18, decimal_places=2, db_default=Decimal("0.00")
    )
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    disbursed_on = models.DateField(_("disbursed on"))
    first_due_date = models.DateField(_("first due date"))
    maturity_date = models.DateField(_("maturity date"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    settled_on = models.DateField(_("settled on"), null=True, blank=True)
    credit_balance_amount = MoneyField(_("credit balance"), help_text=_("Paid beyond everything owed."))
    # Delinquency as of the last refresh (lending.services.delinquency_refresh).
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0)
    aging_bucket = models.CharField(_("aging bucket"), max_length=8, choices=Bucket.choices, default=Bucket.CURRENT)
    overdue_amount = MoneyField(_("overdue amount"))
    oldest_overdue_due_date = models.DateField(_("oldest unpaid due date"), null=True, blank=True)
    # Restructuring (lending/restructuring.py): how often, the watch period after the last one, and the
    # arrears made principal (the schedule's principal is the loan's plus these).
    restructure_count = models.PositiveSmallIntegerField(_("times restructured"), default=0, db_default=0)
    restructured_on = models.DateField(_("last restructured on"), null=True, blank=True)
    restructure_watch_until = models.DateField(_("restructured: watched until"), null=True, blank=True)
    capitalised_amount = models.DecimalField(
        _("arrears capitalised"), max_digits=18, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00")
    )
    written_off_on = models.DateField(_("written off on"), null=True, blank=True)
    # What stays written off: the write-off less recoveries (lending/write_off.py), kept with its entries.
    written_off_amount = models.DecimalField(
        _("written off, not recovered"), max_digits=18, decimal_places=2, default=Decimal("0.00"),
        db_default=Decimal("0.00"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(principal_amount__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(condition=Q(credit_balance_amount__gte=0), name="loan_credit_nonnegative"),
        ]
        indexes = [
            # Composite with -id so a filtered changelist in default order reads one index range.
            models.Index(fields=["status", "-id"], name="loan_status_idx"),
            models.Index(fields=["aging_bucket", "-id"], name="loan_bucket_idx"),
            models.Index(fields=["product", "-id"], name="loan_product_idx"),
            # The API's loans by days past due (worst first), paged by (days_past_due, id).
            models.Index(fields=["days_past_due", "id"], name="loan_dpd_idx"),
            models.Index(
                fields=["oldest_overdue_due_date"],
                name="loan_overdue_idx",
                condition=Q(oldest_overdue_due_date__isnull=False),
            ),
            # The few restructured loans (the admin's and the API's "restructured" filter), in default order.
            models.Index(fields=["-id"], name="loan_restructured_idx", condition=Q(restructure_count__gt=0)),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_closed(self) -> bool:
        return self.status != self.Status.ACTIVE

    def restructured_watch_on(self, day) -> bool:
        """Whether the loan is inside the watch period of its last restructuring on `day`."""
        return self.restructure_watch_until is not None and day <= self.restructure_watch_until


def _settled_part(part):
    return F(f"{part}_paid_amount") + F(f"{part}_adjusted_amount")


MONEY = models.DecimalField(max_digits=18, decimal_places=2)


def _outstanding():
    """Due + accrued − paid − adjusted (waived, written off, restructured), rounded to cents because SQLite
    (the demo database) does decimal arithmetic in binary floats."""
    return Round(
        F("principal_amount")
        + F("interest_amount")
        + F("fee_amount")
        + F("penalty_amount")
        - _settled_part("principal")
        - _settled_part("interest")
        - _settled_part("fee")
        - _settled_part("penalty"),
        2,
    )


class Installment(models.Model):
    # No separate loan index: the (loan, sequence) unique constraint already leads with it.
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="installments", db_index=False
    )
    sequence = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    # The day days past due and penalty count from: the due date, or the next business day when the
    # product moves due dates off weekends and holidays (creditops/core/business_days.py). Set at booking.
    effective_due_date = models.DateField(_("counts as due on"))
    principal_amount = MoneyField(_("principal due"))
    interest_amount = MoneyField(_("interest due"))
    fee_amount = MoneyField(_("fees due"))
    penalty_amount = MoneyField(_("penalty due"))
    principal_paid_amount = MoneyField(_("principal paid"))
    interest_paid_amount = MoneyField(_("interest paid"))
    fee_paid_amount = MoneyField(_("fees paid"))
    penalty_paid_amount = MoneyField(_("penalty paid"))
    # Closed without money by ledger entries (lending/models/entries.py): waived, written off (net of what
    # recoveries reinstated), or carried into a restructured schedule. The entries' lines say which.
    principal_adjusted_amount = MoneyField(_("principal adjusted"), db_default=Decimal("0.00"))
    interest_adjusted_amount = MoneyField(_("interest adjusted"), db_default=Decimal("0.00"))
    fee_adjusted_amount = MoneyField(_("fees adjusted"), db_default=Decimal("0.00"))
    penalty_adjusted_amount = MoneyField(_("penalty adjusted"), db_default=Decimal("0.00"))
    # The penalty accrued before rounding (penalty_amount is this rounded to cents) and its last day: the
    # nightly accrual adds a day's exact amount and books the cents the rounded total grew by.
    penalty_exact_amount = models.DecimalField(
        _("penalty accrued, exact"), max_digits=24, decimal_places=8, default=Decimal("0"), db_default=Decimal("0")
    )
    penalty_accrued_on = models.DateField(_("penalty accrued through"), null=True, blank=True)
    outstanding_amount = models.GeneratedField(
        verbose_name=_("outstanding"), expression=_outstanding(), output_field=MONEY, db_persist=True
    )
    # Whether anything is still owed. The partial indexes of unpaid installments test this flag, not the
    # amount: a day's penalty on an open installment changes its outstanding amount but not the flag, so
    # the nightly accrual's UPDATE can be HOT (no index entry written) where the page has room (the table's
    # fillfactor is 90). A generated column cannot read another one, so the arithmetic is repeated.
    is_open = models.GeneratedField(
        verbose_name=_("owes something"),
        expression=GreaterThan(_outstanding(), Value(0)),
        output_field=models.BooleanField(),
        db_persist=True,
    )

    class Meta:
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        ordering = ["loan", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "sequence"], name="installment_loan_sequence_uniq"),
            # Due dates only move forward (off holidays): the penalty's chargeable set relies on it.
            models.CheckConstraint(
                condition=Q(effective_due_date__gte=F("due_date")), name="installment_counts_as_due_not_before_due"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(
                        **{
                            f"{part}_paid_amount__gte": 0,
                            f"{part}_adjusted_amount__gte": 0,
                            # Rounded: SQLite adds decimals as binary floats (333.33 + 666.67 > 1000.00).
                            f"{part}_amount__gte": Round(_settled_part(part), 2),
                        }
                    ),
                    name=f"installment_{part}_settled_within_due",
                )
                for part in ("principal", "interest", "fee", "penalty")
            ],
        ]
        indexes = [
            # Only unpaid installments: the delinquency refresh and the waterfall read just these.
            models.Index(fields=["loan", "due_date"], name="installment_unpaid_idx", condition=Q(is_open=True)),
            # The delinquency refresh starts from here: unpaid installments by the day they count as due.
            models.Index(fields=["effective_due_date"], name="installment_due_unpaid_idx", condition=Q(is_open=True)),
        ]

    def __str__(self):
        return f"{self.loan_id} #{self.sequence} {self.due_date}"

    @property
    def total_amount(self):
        return self.principal_amount + self.interest_amount + self.fee_amount + self.penalty_amount

    @property
    def paid_amount(self):
        return self.principal_paid_amount + self.interest_paid_amount + self.fee_paid_amount + self.penalty_paid_amount

    @property
    def adjusted_amount(self):
        parts = ("principal", "interest", "fee", "penalty")
        return sum((getattr(self, f"{part}_adjusted_amount") for part in parts), Decimal("0.00"))


class Payment(models.Model):
    class Channel(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        ALIPAY = "alipay", _("Alipay")
        WECHAT_PAY = "wechat_pay", _("WeChat Pay")
        CARD = "card", _("Card")
        CASH = "cash", _("Cash")
        AUTO_DEBIT = "auto_debit", _("Auto-debit")

    class Status(models.TextChoices):
        POSTED = "posted", _("Posted")
        REVERSED = "reversed", _("Reversed")

    # No separate loan index: the (loan, received_on) index already leads with it.
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    source = models.CharField(_("source"), max_length=32, help_text=_("Where the payment came from, e.g. a bank file."))
    external_ref = models.CharField(_("external reference"), max_length=64)
    amount = MoneyField(_("amount"))
    received_on = models.DateField(_("received on"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.POSTED)
    unallocated_amount = MoneyField(_("to credit balance"), help_text=_("Part beyond everything owed."))
    refunded_amount = MoneyField(
        _("refunded"), db_default=Decimal("0.00"), help_text=_("Credit balance from this payment paid back.")
    )
    reversed_on = models.DateField(_("reversed on"), null=True, blank=True)
    reversal_reason = models.CharField(_("reversal reason"), max_length=200, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_ref"], name="payment_source_ref_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["loan", "received_on"], name="payment_loan_date_idx"),
            models.Index(fields=["received_on", "-id"], name="payment_date_idx"),
            models.Index(fields=["external_ref"], name="payment_external_ref_idx"),
            models.Index(fields=["channel", "-id"], name="payment_channel_idx"),
            models.Index(fields=["status", "-id"], name="payment_status_idx"),
        ]

    def __str__(self):
        return f"{self.source}:{self.external_ref}"


class PaymentAllocation(models.Model):
    """How much of one payment went to each part of one installment. Append-only: a reversal adds rows
    with the opposite sign instead of changing these."""

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="allocations"
    )
    installment = models.ForeignKey(
        Installment, verbose_name=_("installment"), on_delete=models.PROTECT, related_name="allocations"
    )
    principal_amount = MoneyField(_("principal"))
    interest_amount = MoneyField(_("interest"))
    fee_amount = MoneyField(_("fees"))
    penalty_amount = MoneyField(_("penalty"))
    is_reversal = models.BooleanField(_("reversal"), default=False)
    # Written when a late-arriving payment re-plays the loan's days (lending/penalty_replay.py).
    is_replay = models.BooleanField(_("re-played"), default=False, db_default=False)
    # Money received after the loan was written off: recovered, reported apart from collections.
    is_recovery = models.BooleanField(_("recovery"), default=False, db_default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        ordering = ["id"]

    def __str__(self):
        return f"{self.payment_id} → {self.installment_id}: {self.total_amount}"

    @property
    def total_amount(self):
        return self.principal_amount + self.interest_amount + self.fee_amount + self.penalty_amount
