"""Collections: the dunning ladder (policies and stages), the nightly run, collection cases and the work on
them (contact attempts, promises, disputes, payment plans, approvals), and the compliance guardrail
profiles every contact passes through."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.roles import ADMINISTRATOR, COLLECTOR, COMPLIANCE, MANAGER, SUPERVISOR
from creditops.core.errors import DomainError
from creditops.core.names import NamedInTwoLanguages
from lending.models import Borrower, BorrowerContact, Loan, MoneyField, Product, Settlement

User = settings.AUTH_USER_MODEL


class ActionKind(models.TextChoices):
    SMS_REMINDER = "sms_reminder", _("SMS reminder")
    EMAIL_REMINDER = "email_reminder", _("E-mail reminder")
    COLLECTOR_CALL = "collector_call", _("Collector call")
    COLLECTION_NOTICE = "collection_notice", _("Formal collection notice letter")
    FINAL_DEMAND = "final_demand", _("Final demand letter")
    SUPERVISOR_REVIEW = "supervisor_review", _("Supervisor review")
    FIELD_VISIT = "field_visit", _("Field visit")
    AGENCY_REFERRAL = "agency_referral", _("Agency referral")
    LEGAL_REFERRAL = "legal_referral", _("Legal referral")
    CREDIT_BUREAU_REPORT = "credit_bureau_report", _("Credit-bureau report")
    CHARGE_OFF_PROPOSAL = "charge_off_proposal", _("Charge-off proposal")


class NoticeKind(models.TextChoices):
    """The collection notices a stage can issue (rendered by the notices service)."""

    PAYMENT_REMINDER = "payment_reminder", _("Payment reminder")
    COLLECTION_NOTICE = "collection_notice", _("Formal collection notice (催缴单)")
    FINAL_DEMAND = "final_demand", _("Final demand")
    LEGAL_REFERRAL = "legal_referral", _("Legal-referral notice")
    CREDIT_REPORTING = "credit_reporting", _("Credit-reporting pre-notice")
    PLAN_CONFIRMATION = "plan_confirmation", _("Payment-plan confirmation")


class OwnerRole(models.TextChoices):
    SYSTEM = "system", _("System (automatic)")
    COLLECTOR = COLLECTOR, _("Collector")
    SUPERVISOR = SUPERVISOR, _("Supervisor")
    MANAGER = MANAGER, _("Manager")
    COMPLIANCE = COMPLIANCE, _("Compliance")
    ADMINISTRATOR = ADMINISTRATOR, _("Administrator")


class Channel(models.TextChoices):
    CALL = "call", _("Call")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    VISIT = "visit", _("Visit")


# ---------------------------------------------------------------------------------------------------------
# Policies


class DunningPolicy(NamedInTwoLanguages):
    """A dunning ladder. It applies to the products it names; the default policy applies to every product
    no other active policy names."""

    name = models.CharField(_("name in Chinese"), max_length=100, unique=True)
    products = models.ManyToManyField(Product, verbose_name=_("products"), related_name="dunning_policies", blank=True)
    is_default = models.BooleanField(_("default policy"), default=False, help_text=_("For products no policy names."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dunning policy")
        verbose_name_plural = _("dunning policies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True, is_active=True), name="policy_one_default"
            ),
        ]

    def __str__(self):
        return self.local_name


class DunningStage(NamedInTwoLanguages):
    """One step of a ladder: it starts when a loan is `start_dpd` days past due (negative: days before the
    due date, a pre-due reminder) and fires its actions once per case."""

    policy = models.ForeignKey(DunningPolicy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="stages")
    name = models.CharField(_("name in Chinese"), max_length=100)
    start_dpd = models.SmallIntegerField(
        _("starts at DPD"), help_text=_("Days past due at which the stage starts; -3 means three days before due.")
    )
    owner_role = models.CharField(_("owner role"), max_length=16, choices=OwnerRole.choices, default=OwnerRole.SYSTEM)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Retire a stage instead of deleting it."))

    class Meta:
        verbose_name = _("dunning stage")
        verbose_name_plural = _("dunning stages")
        ordering = ["policy", "start_dpd"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "start_dpd"], condition=Q(is_active=True), name="stage_policy_dpd_uniq"
            ),
        ]

    def __str__(self):
        return f"D{self.start_dpd:+d} {self.local_name}"


class StageAction(models.Model):
    """What a stage does: one row per action (a stage may, say, issue a notice and ask for a review)."""

    stage = models.ForeignKey(DunningStage, verbose_name=_("stage"), on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(_("action"), max_length=32, choices=ActionKind.choices)
    notice_kind = models.CharField(_("notice to issue"), max_length=32, choices=NoticeKind.choices, blank=True)
    needs_approval = models.BooleanField(_("needs approval"), default=False)

    class Meta:
        verbose_name = _("stage action")
        verbose_name_plural = _("stage actions")
        ordering = ["stage", "id"]
        constraints = [models.UniqueConstraint(fields=["stage", "kind"], name="stage_action_kind_uniq")]

    def __str__(self):
        return self.get_kind_display()

    def clean(self):
        super().clean()
        if self.needs_approval and self.kind not in APPROVAL_KIND_FOR_ACTION:
            raise ValidationError(
                {"needs_approval": _("Only legal referral, credit-bureau report and charge-off need approval.")}
            )


# ---------------------------------------------------------------------------------------------------------
# Guardrails


class GuardrailProfile(NamedInTwoLanguages):
    """A named, versioned set of contact rules. A product names its profile by code; the version in force
    on a date is the latest one whose effective date has come."""

    code = models.CharField(_("code"), max_length=16)
    version = models.PositiveSmallIntegerField(_("version"))
    name = models.CharField(_("name in Chinese"), max_length=200)
    effective_from = models.DateField(_("effective from"))

    class Meta:
        verbose_name = _("guardrail profile")
        verbose_name_plural = _("guardrail profiles")
        ordering = ["code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="guardrail_profile_version_uniq"),
            models.UniqueConstraint(fields=["code", "effective_from"], name="guardrail_profile_date_uniq"),
        ]

    def __str__(self):
        return f"{self.code} v{self.version} ({self.effective_from})"


class GuardrailRule(models.Model):
    class Kind(models.TextChoices):
        CONTACT_HOURS = "contact_hours", _("Contact hours in the borrower's local time")
        CONNECTED_CALLS_PER_DAY = "connected_calls_per_day", _("Calls that reached the borrower, per day")
        CALLS_PER_NUMBER_PER_DAY = "calls_per_number_per_day", _("Call attempts per phone number per day")
        CALL_ATTEMPTS_PER_WINDOW = "call_attempts_per_window", _("Call attempts per loan in a rolling window")
        CALL_AFTER_CONVERSATION = "call_after_conversation", _("No call within days after a conversation")
        THIRD_PARTY = "third_party", _("Third parties: only if unreachable, only with consent")
        OPT_OUT = "opt_out", _("Opt-out line in every e-mail and SMS")

    profile = models.ForeignKey(
        GuardrailProfile, verbose_name=_("profile"), on_delete=models.CASCADE, related_name="rules"
    )
    kind = models.CharField(_("rule"), max_length=32, choices=Kind.choices)
    channels = models.JSONField(_("channels"), default=list, blank=True, help_text=_("Empty means every channel."))
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=300, help_text=_("The regulation or guideline it comes from."))

    class Meta:
        verbose_name = _("guardrail rule")
        verbose_name_plural = _("guardrail rules")
        ordering = ["profile", "id"]
        constraints = [models.UniqueConstraint(fields=["profile", "kind"], name="guardrail_rule_kind_uniq")]

    def __str__(self):
        return self.get_kind_display()

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels

    # Parameters each kind reads, with how to check them.
    PARAMETERS = {
        Kind.CONTACT_HOURS: {"start": datetime.time.fromisoformat, "end": datetime.time.fromisoformat},
        Kind.CONNECTED_CALLS_PER_DAY: {"limit": int},
        Kind.CALLS_PER_NUMBER_PER_DAY: {"limit": int},
        Kind.CALL_ATTEMPTS_PER_WINDOW: {"limit": int, "days": int},
        Kind.CALL_AFTER_CONVERSATION: {"days": int},
        Kind.THIRD_PARTY: {"failed_attempts": int, "days": int},
        Kind.OPT_OUT: {},
    }

    def clean(self):
        super().clean()
        if not isinstance(self.channels, list) or set(self.channels) - set(Channel.values):
            raise ValidationError({"channels": _("A list of channels: %(all)s.") % {"all": ", ".join(Channel.values)}})
        if not isinstance(self.parameters, dict):
            raise ValidationError({"parameters": _("An object of parameters.")})
        for name, parse in self.PARAMETERS.get(self.kind, {}).items():
            try:
                parse(str(self.parameters[name]))
            except (KeyError, ValueError):
                raise ValidationError(
                    {"parameters": _("Parameter %(name)s is missing or invalid.") % {"name": name}}
                ) from None


# ---------------------------------------------------------------------------------------------------------
# The nightly run


class DunningRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    as_of = models.DateField(_("business date"), unique=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    counts = models.JSONField(_("counts per step"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    # A date run to catch up, before the date asked for: its ledger and history count, but the stages
    # cases enter on it create no work — the run of the last date does (see run_steps.create_actions).
    actions_deferred = models.BooleanField(_("catch-up date (actions deferred)"), default=False)

    class Meta:
        verbose_name = _("dunning run")
        verbose_name_plural = _("dunning runs")
        ordering = ["-as_of"]

    def __str__(self):
        return f"{self.as_of} {self.get_status_display()}"


class RunLock(models.Model):
    """A single row the nightly run locks for its whole transaction: one run at a time."""

    name = models.CharField(max_length=32, unique=True)
    holder = models.CharField(max_length=100, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("run lock")
        verbose_name_plural = _("run locks")

    def __str__(self):
        return self.name


class PortfolioSnapshot(models.Model):
    """The book at the end of one run: active loans counted and summed per product, bucket, stage and team
    (stage and team empty for loans without an open case)."""

    as_of = models.DateField(_("business date"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    aging_bucket = models.CharField(_("aging bucket"), max_length=8, choices=Loan.Bucket.choices)
    stage = models.ForeignKey(
        DunningStage, verbose_name=_("stage"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    loan_count = models.PositiveIntegerField(_("loans"))
    outstanding_amount = MoneyField(_("outstanding"))
    overdue_amount = MoneyField(_("overdue"))

    class Meta:
        verbose_name = _("portfolio snapshot row")
        verbose_name_plural = _("portfolio snapshot")
        ordering = ["-as_of", "product", "aging_bucket"]
        indexes = [models.Index(fields=["as_of", "product"], name="snapshot_date_product_idx")]

    def __str__(self):
        return f"{self.as_of} {self.product_id} {self.aging_bucket}"


class MonthStart(models.Model):
    """A month whose start has been recorded (positions, roll rates, vintages), and the business date of
    the run that recorded it — the 1st, unless the book went live or a run was missed."""

    month = models.DateField(_("month"), unique=True)
    as_of = models.DateField(_("recorded on"))

    class Meta:
        verbose_name = _("month start")
        verbose_name_plural = _("month starts")

    def __str__(self):
        return f"{self.month:%Y-%m} ({self.as_of})"


class LoanMonthPosition(models.Model):
    """Each active loan's bucket and balance at the start of a month, written by the month's first run.
    Kept for two months only: enough to compute the month's roll rates (RollRateCell) and vintage points
    (VintagePoint), which are kept for good."""

    month = models.DateField(_("month"))
    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="+", db_index=False)
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disbursed_month = models.DateField(_("disbursed in"))
    aging_bucket = models.CharField(_("aging bucket"), max_length=8, choices=Loan.Bucket.choices)
    outstanding_amount = MoneyField(_("outstanding"))

    class Meta:
        verbose_name = _("loan position at month start")
        verbose_name_plural = _("loan positions at month start")
        constraints = [models.UniqueConstraint(fields=["month", "loan"], name="month_position_uniq")]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.loan_id} {self.aging_bucket}"


class RollRateCell(models.Model):
    """Of the loans in `from_bucket` at the start of `month` (per product and team): how many, with what
    balance then, were in `to_bucket` at the start of the next month — or no longer active: "settled"
    (paid off), "written_off", or "closed" (any other reason)."""

    SETTLED, WRITTEN_OFF, CLOSED = "settled", "written_off", "closed"

    month = models.DateField(_("month"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_bucket = models.CharField(_("from bucket"), max_length=16)
    to_bucket = models.CharField(_("to bucket"), max_length=16)  # a bucket, or settled / written_off / closed
    loan_count = models.PositiveIntegerField(_("loans"))
    balance_amount = MoneyField(_("balance at month start"))

    class Meta:
        verbose_name = _("roll-rate cell")
        verbose_name_plural = _("roll-rate cells")
        indexes = [models.Index(fields=["month", "product"], name="rollrate_month_idx")]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.from_bucket}→{self.to_bucket}"


class VintagePoint(models.Model):
    """Loans disbursed in one month, seen at the start of a later month: how many were lent (every status,
    so loans paid off stay in the denominator) and how many are 30+ DPD or were written off."""

    month = models.DateField(_("month"))
    disbursed_month = models.DateField(_("disbursed in"))
    months_on_book = models.PositiveSmallIntegerField(_("months on book"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    loan_count = models.PositiveIntegerField(_("loans lent"))
    loans_30_plus = models.PositiveIntegerField(_("loans 30+ DPD or written off"))
    balance_amount = MoneyField(_("outstanding"))
    balance_30_plus_amount = MoneyField(_("outstanding 30+ DPD"))

    class Meta:
        verbose_name = _("vintage point")
        verbose_name_plural = _("vintage points")
        indexes = [models.Index(fields=["disbursed_month", "months_on_book"], name="vintage_idx")]

    def __str__(self):
        return f"{self.disbursed_month:%Y-%m} +{self.months_on_book}"


# ---------------------------------------------------------------------------------------------------------
# Cases


class AssignmentRule(models.Model):
    """Routes cases to a team. The first matching active rule (lowest position) wins; an empty criterion
    matches anything. Within the team the case goes to the collector with the fewest open cases."""

    position = models.PositiveSmallIntegerField(_("position"), default=100)
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), on_delete=models.PROTECT, related_name="+")
    buckets = models.JSONField(_("aging buckets"), default=list, blank=True, help_text=_("Empty means any bucket."))
    products = models.ManyToManyField(Product, verbose_name=_("products"), blank=True, related_name="+")
    language = models.CharField(_("borrower language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    provinces = models.JSONField(_("provinces"), default=list, blank=True, help_text=_("Empty means any region."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]

    def __str__(self):
        return f"#{self.position} → {self.team}"


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PROMISED = "promised", _("Promised")
    DISPUTED = "disputed", _("Disputed")
    HARDSHIP = "hardship", _("Hardship plan")
    LEGAL = "legal", _("Legal")
    SETTLING = "settling", _("Settlement agreed")
    RECOVERY = "recovery", _("In recovery (written off)")
    CURED = "cured", _("Cured")
    CLOSED = "closed", _("Closed")
    WRITTEN_OFF = "written_off", _("Written off")


OPEN_STATUSES = [
    CaseStatus.OPEN, CaseStatus.PROMISED, CaseStatus.DISPUTED, CaseStatus.HARDSHIP, CaseStatus.LEGAL,
    CaseStatus.SETTLING, CaseStatus.RECOVERY,
]  # fmt: skip


class CloseReason(models.TextChoices):
    CURED = "cured", _("Cured: nothing overdue")
    SETTLED = "settled", _("Loan settled")
    SETTLED_WITH_DISCOUNT = "settled_discount", _("Settled with discount")
    RESTRUCTURED = "restructured", _("Loan restructured")
    WRITTEN_OFF = "written_off", _("Written off")
    RECOVERED = "recovered", _("Written off and fully recovered")


class CollectionCase(models.Model):
    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="cases")
    borrower = models.ForeignKey(Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="cases")
    policy = models.ForeignKey(DunningPolicy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(
        DunningStage, verbose_name=_("stage"), null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    is_open = models.BooleanField(_("open"), default=True)
    assigned_to = models.ForeignKey(
        User,
        verbose_name=_("assigned collector"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
    )
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    priority_score = models.PositiveIntegerField(_("priority"), default=0)
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0)
    aging_bucket = models.CharField(_("aging bucket"), max_length=8, choices=Loan.Bucket.choices)
    opened_overdue_amount = MoneyField(_("overdue at opening"))
    overdue_amount = MoneyField(_("overdue now"))
    broken_promises = models.PositiveSmallIntegerField(_("broken promises"), default=0)
    legal_hold = models.BooleanField(_("legal hold"), default=False)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    close_reason = models.CharField(_("close reason"), max_length=16, choices=CloseReason.choices, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    settlement_amount = MoneyField(_("agreed settlement"), null=True, blank=True, default=None)

    class Meta:
        verbose_name = _("collection case")
        verbose_name_plural = _("collection cases")
        ordering = ["-priority_score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan"], condition=Q(is_open=True), name="case_one_open_per_loan"),
            models.CheckConstraint(
                condition=Q(is_open=True, closed_on__isnull=True, status__in=OPEN_STATUSES)
                | Q(
                    is_open=False,
                    closed_on__isnull=False,
                    status__in=[CaseStatus.CURED, CaseStatus.CLOSED, CaseStatus.WRITTEN_OFF],
                ),
                name="case_open_matches_status",
            ),
        ]
        indexes = [
            models.Index(
                fields=["assigned_to", "-priority_score"], name="case_worklist_idx", condition=Q(is_open=True)
            ),
            models.Index(fields=["team", "-priority_score"], name="case_team_idx", condition=Q(is_open=True)),
            models.Index(fields=["stage"], name="case_stage_idx", condition=Q(is_open=True)),
            models.Index(fields=["-priority_score", "id"], name="case_priority_idx", condition=Q(is_open=True)),
            models.Index(fields=["borrower"], name="case_borrower_idx"),
            # The API's cases by days past due, paged by (days_past_due, id).
            models.Index(fields=["days_past_due", "id"], name="case_dpd_idx"),
        ]

    def __str__(self):
        return f"{self.loan_id} #{self.pk}"

    @property
    def is_paused(self) -> bool:
        """The ladder waits for this case: an open dispute, a performing plan, a settlement waiting for
        payment, or the loan written off (see paused_case_ids)."""
        return self.status in (CaseStatus.DISPUTED, CaseStatus.HARDSHIP, CaseStatus.SETTLING, CaseStatus.RECOVERY)

    def status_from_facts(self) -> str:
        """An open case's status follows from what is true of it, most binding first: an open dispute, the
        loan written off, a performing plan, a settlement waiting for payment, a legal hold, a pending
        promise. Services set it with this after any change, so ending one pause never lifts another."""
        if self.disputes.filter(status=Dispute.Status.OPEN).exists():
            return CaseStatus.DISPUTED
        if Loan.objects.filter(pk=self.loan_id, status=Loan.Status.WRITTEN_OFF).exists():
            return CaseStatus.RECOVERY
        if self.plans.filter(status=PaymentPlan.Status.ACTIVE).exists():
            return CaseStatus.HARDSHIP
        if Settlement.objects.filter(loan_id=self.loan_id, status=Settlement.Status.ACTIVE).exists():
            return CaseStatus.SETTLING
        if self.legal_hold:
            return CaseStatus.LEGAL
        if self.promises.filter(status=PromiseToPay.Status.PENDING).exists():
            return CaseStatus.PROMISED
        return CaseStatus.OPEN


def paused_case_ids() -> list[int]:
    """Cases the ladder does not move (nor give new actions): an open dispute, a performing plan, a
    settlement waiting for payment, or a written-off loan in recovery. Read from small tables (and the
    few open cases in recovery), so excluding them costs the run nothing per case."""
    disputed = Dispute.objects.filter(status=Dispute.Status.OPEN).values_list("case_id", flat=True)
    in_plan = PaymentPlan.objects.filter(status=PaymentPlan.Status.ACTIVE).values_list("case_id", flat=True)
    settling = CollectionCase.objects.filter(
        is_open=True, loan_id__in=Settlement.objects.filter(status=Settlement.Status.ACTIVE).values("loan_id")
    ).values_list("pk", flat=True)
    in_recovery = CollectionCase.objects.filter(is_open=True, status=CaseStatus.RECOVERY).values_list("pk", flat=True)
    return sorted(set(disputed) | set(in_plan) | set(settling) | set(in_recovery))


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise DomainError(gettext("The case timeline is append-only."), code="timeline.append_only")

    def delete(self):
        raise DomainError(gettext("The case timeline is append-only."), code="timeline.append_only")


class CaseEvent(models.Model):
    """The case timeline: one row per thing that happened, never changed or deleted."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Case opened")
        STAGE_CHANGED = "stage_changed", _("Stage changed")
        ACTION_CREATED = "action_created", _("Action created")
        ACTION_DONE = "action_done", _("Action done")
        ASSIGNED = "assigned", _("Assigned")
        CONTACT = "contact", _("Contact attempt")
        CONTACT_BLOCKED = "contact_blocked", _("Contact blocked")
        CALLBACK = "callback", _("Callback arranged")
        NOTE = "note", _("Note")
        PROMISE = "promise", _("Promise to pay")
        PROMISE_KEPT = "promise_kept", _("Promise kept")
        PROMISE_PARTIAL = "promise_partial", _("Promise partially kept")
        PROMISE_BROKEN = "promise_broken", _("Promise broken")
        DISPUTE_RAISED = "dispute_raised", _("Dispute raised")
        DISPUTE_RESOLVED = "dispute_resolved", _("Dispute resolved")
        PLAN_REQUESTED = "plan_requested", _("Payment plan requested")
        PLAN_STARTED = "plan_started", _("Payment plan started")
        PLAN_BROKEN = "plan_broken", _("Payment plan broken")
        PLAN_COMPLETED = "plan_completed", _("Payment plan completed")
        APPROVAL_REQUESTED = "approval_requested", _("Approval requested")
        APPROVAL_DECIDED = "approval_decided", _("Approval decided")
        NOTICE = "notice", _("Notice")
        PAYMENT = "payment", _("Payment")
        PENALTY_REPLAYED = "penalty_replayed", _("Penalty recalculated")
        LEDGER_ENTRY = "ledger_entry", _("Ledger entry")
        SETTLEMENT_ENDED = "settlement_ended", _("Settlement ended")
        CLOSED = "closed", _("Case closed")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=24, choices=Kind.choices)
    as_of = models.DateField(_("business date"))
    occurred_at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        User, verbose_name=_("by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case timeline")
        ordering = ["case", "id"]
        indexes = [models.Index(fields=["case", "id"], name="case_event_case_idx")]

    def __str__(self):
        return f"{self.case_id} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise DomainError(gettext("The case timeline is append-only."), code="timeline.append_only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise DomainError(gettext("The case timeline is append-only."), code="timeline.append_only")


class StageTransition(models.Model):
    """Why a case is where it is: each move between stages with the DPD and the rule that caused it. The
    stage's name and start are copied, so editing the stage later does not rewrite history."""

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="transitions"
    )
    run = models.ForeignKey(DunningRun, verbose_name=_("run"), null=True, on_delete=models.PROTECT, related_name="+")
    as_of = models.DateField(_("business date"))
    from_stage = models.ForeignKey(
        DunningStage, verbose_name=_("from stage"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(DunningStage, verbose_name=_("to stage"), on_delete=models.PROTECT, related_name="+")
    to_stage_name = models.CharField(_("stage name then"), max_length=100)
    to_stage_start_dpd = models.SmallIntegerField(_("stage start then"))
    days_past_due = models.PositiveIntegerField(_("days past due"))
    skipped_stages = models.JSONField(
        _("stages jumped over"), default=list, blank=True,
        help_text=_("Stages below this one the case never sat in; their actions were skipped, not fired."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("stage transition")
        verbose_name_plural = _("stage transitions")
        ordering = ["case", "id"]
        indexes = [models.Index(fields=["case", "id"], name="transition_case_idx")]

    def __str__(self):
        return f"{self.case_id}: {self.from_stage_id} → {self.to_stage_id}"

    @property
    def rule(self) -> str:
        return gettext("DPD %(dpd)d ≥ D+%(start)d: stage “%(stage)s” of the policy") % {
            "dpd": self.days_past_due,
            "start": self.to_stage_start_dpd,
            "stage": self.to_stage_name,
        }


class DunningAction(models.Model):
    """One stage action for one case (or, for a pre-due stage, one loan and due date). Keyed so the run
    creates it once; stages a case jumped over are recorded on its StageTransition instead."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        DONE = "done", _("Done")
        BLOCKED = "blocked", _("Blocked by a guardrail")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled (case closed)")
        SUPERSEDED = "superseded", _("Skipped: a later stage was reached while the run caught up")

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(DunningStage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("action"), max_length=32, choices=ActionKind.choices)
    notice_kind = models.CharField(_("notice to issue"), max_length=32, choices=NoticeKind.choices, blank=True)
    owner_role = models.CharField(_("owner role"), max_length=16, choices=OwnerRole.choices)
    needs_approval = models.BooleanField(_("needs approval"), default=False)
    due_date = models.DateField(_("installment due date"), null=True, blank=True, help_text=_("Pre-due reminders."))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    created_on = models.DateField(_("created on"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=200, blank=True)
    run = models.ForeignKey(DunningRun, verbose_name=_("run"), null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("dunning action")
        verbose_name_plural = _("dunning actions")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "stage", "kind"], condition=Q(case__isnull=False), name="action_case_stage_uniq"
            ),
            models.UniqueConstraint(
                fields=["loan", "stage", "kind", "due_date"],
                condition=Q(case__isnull=True),
                name="action_predue_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "created_on"], name="action_pending_idx", condition=Q(status="pending")),
            models.Index(fields=["case", "stage"], name="action_case_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_status_display()})"


# ---------------------------------------------------------------------------------------------------------
# Work on a case


class ContactAttempt(models.Model):
    class Outcome(models.TextChoices):
        REACHED = "reached", _("Reached the borrower")
        NO_ANSWER = "no_answer", _("No answer")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        PROMISE_TO_PAY = "promise_to_pay", _("Promise to pay")
        REFUSED = "refused", _("Refused to pay")
        DISPUTE_RAISED = "dispute_raised", _("Dispute raised")
        CALL_BACK = "call_back", _("Asked to call back")
        THIRD_PARTY_REACHED = "third_party_reached", _("Third party reached")
        SENT = "sent", _("Sent")

    class Decision(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        BLOCKED = "blocked", _("Blocked")

    case = models.ForeignKey(
        CollectionCase, verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="contacts", help_text=_("Empty for a pre-due reminder (no case yet)."),
    )  # fmt: skip
    borrower = models.ForeignKey(Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="+")
    loan = models.ForeignKey(Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(pgettext_lazy("contact", "channel"), max_length=8, choices=Channel.choices)
    target_contact = models.ForeignKey(
        BorrowerContact,
        verbose_name=_("third party"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the borrower."),
    )
    # The number dialled or texted (the borrower's or the third party's), so a per-number cap counts
    # every call to it, whoever's contact it is.
    phone_number = models.CharField(_("phone number"), max_length=16, blank=True)
    outcome = models.CharField(_("outcome"), max_length=24, choices=Outcome.choices, blank=True)
    decision = models.CharField(_("guardrail decision"), max_length=8, choices=Decision.choices)
    rule = models.CharField(_("rule"), max_length=64, blank=True)
    profile = models.CharField(_("guardrail profile"), max_length=32, blank=True)
    note = models.TextField(_("note"), blank=True)
    is_automatic = models.BooleanField(_("automatic"), default=False)
    actor = models.ForeignKey(
        User, verbose_name=_("by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attempted_at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["-attempted_at", "-id"]
        indexes = [
            models.Index(fields=["borrower", "attempted_at"], name="contact_borrower_time_idx"),
            models.Index(fields=["loan", "attempted_at"], name="contact_loan_time_idx"),
            models.Index(fields=["case", "-attempted_at"], name="contact_case_time_idx"),
            models.Index(fields=["rule", "-attempted_at"], name="contact_blocked_idx", condition=Q(decision="blocked")),
            # The blocked-contacts screen's order: a walk over the refused attempts only, whatever it filters.
            models.Index(
                fields=["-attempted_at", "-id"], name="contact_blocked_time_idx", condition=Q(decision="blocked")
            ),
            models.Index(fields=["attempted_at"], name="contact_time_idx"),
            models.Index(
                fields=["phone_number", "attempted_at"],
                name="contact_number_calls_idx",
                condition=Q(channel="call", decision="allowed"),
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.attempted_at:%Y-%m-%d %H:%M} {self.get_decision_display()}"


# Outcomes where the borrower was spoken to about the loan: the effective calls with the debtor that the
# CN daily cap counts, and the conversations after which the US rule waits 7 days.
CONVERSATION_OUTCOMES = [
    ContactAttempt.Outcome.REACHED,
    ContactAttempt.Outcome.PROMISE_TO_PAY,
    ContactAttempt.Outcome.REFUSED,
    ContactAttempt.Outcome.DISPUTE_RAISED,
    ContactAttempt.Outcome.CALL_BACK,
]


class Callback(models.Model):
    """A call the borrower asked for ("call me back at 15:00"): a dated task in the collector's worklist.
    The call itself passes the guardrail when it is made; the worklist shows what the guardrail says."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled (case closed)")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="callbacks")
    due_at = models.DateTimeField(_("call back at"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    asked_in = models.ForeignKey(
        "ContactAttempt", verbose_name=_("asked for in"), on_delete=models.PROTECT, related_name="+"
    )
    done_by = models.ForeignKey(
        "ContactAttempt", verbose_name=_("done by the call"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    created_by = models.ForeignKey(
        User, verbose_name=_("taken by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("callback")
        verbose_name_plural = _("callbacks")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["case", "due_at"], name="callback_pending_idx", condition=Q(status="pending")),
            # The worklist's callbacks due, earliest first: walked in due order, each case checked by its key,
            # until 20 are found (without it: every pending callback read, hashed and sorted, 32 ms for a
            # collector among 24,000 pending callbacks, against 10 ms).
            models.Index(fields=["due_at", "id"], name="callback_pending_due_idx", condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.case_id} {self.due_at:%Y-%m-%d %H:%M}"


class PromiseQuerySet(models.QuerySet):
    def due_on(self, day):
        """Pending promises whose pay-by date is `day` (on the partial index promise_pending_idx)."""
        return self.filter(status=PromiseToPay.Status.PENDING, promised_for=day)


class PromiseToPay(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        KEPT = "kept", _("Kept")
        PARTIALLY_KEPT = "partially_kept", _("Partially kept")
        BROKEN = "broken", _("Broken")
        CANCELLED = "cancelled", _("Cancelled")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="promises")
    amount = MoneyField(_("amount"))
    promised_for = models.DateField(_("pay by"))
    made_on = models.DateField(_("made on"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    paid_amount = MoneyField(_("paid towards it"))
    evaluated_on = models.DateField(_("evaluated on"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, verbose_name=_("taken by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contact = models.ForeignKey(
        ContactAttempt,
        verbose_name=_("contact attempt"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = PromiseQuerySet.as_manager()

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        ordering = ["-promised_for", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive")]
        indexes = [
            models.Index(fields=["promised_for"], name="promise_pending_idx", condition=Q(status="pending")),
            models.Index(fields=["made_on"], name="promise_made_idx"),
            models.Index(
                fields=["evaluated_on"], name="promise_evaluated_idx", condition=Q(evaluated_on__isnull=False)
            ),
        ]

    def __str__(self):
        return f"{self.amount} by {self.promised_for}"


class Dispute(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    raised_by = models.ForeignKey(
        User, verbose_name=_("raised by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(_("raised"))
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_by = models.ForeignKey(
        User, verbose_name=_("resolved by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(status="open"), name="dispute_one_open_per_case"),
        ]

    def __str__(self):
        return f"{self.case_id} {self.get_status_display()}"


class PaymentPlan(models.Model):
    """A hardship plan: the arrears split into instalments. Needs approval; while it performs, the ladder
    pauses; a missed instalment returns the case to the ladder."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        REJECTED = "rejected", _("Rejected")
        ACTIVE = "active", _("Performing")
        COMPLETED = "completed", _("Completed")
        BROKEN = "broken", _("Broken")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="plans")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED)
    total_amount = MoneyField(_("arrears covered"))
    starts_on = models.DateField(_("starts on"))
    reason = models.TextField(_("hardship reason"))
    requested_by = models.ForeignKey(
        User, verbose_name=_("requested by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_on = models.DateField(_("ended on"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status__in=["requested", "active"]), name="plan_one_live_per_case"
            ),
        ]

    def __str__(self):
        return f"{self.case_id} {self.get_status_display()}"


class PlanInstallment(models.Model):
    plan = models.ForeignKey(PaymentPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="installments")
    sequence = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    amount = MoneyField(_("amount"))

    class Meta:
        verbose_name = _("plan instalment")
        verbose_name_plural = _("plan instalments")
        ordering = ["plan", "sequence"]
        constraints = [models.UniqueConstraint(fields=["plan", "sequence"], name="plan_installment_uniq")]

    def __str__(self):
        return f"{self.due_date} {self.amount}"


class ApprovalRequest(models.Model):
    """Maker-checker: whoever requested can never decide. The system run (requested_by empty) requests the
    approvals its stages need."""

    class Kind(models.TextChoices):
        WRITE_OFF = "write_off", _("Write-off")
        SETTLEMENT_DISCOUNT = "settlement_discount", _("Settlement discount")
        LEGAL_REFERRAL = "legal_referral", _("Legal referral")
        CREDIT_BUREAU_REPORT = "credit_bureau_report", _("Credit-bureau report")
        PAYMENT_PLAN = "payment_plan", _("Payment plan")
        WAIVER = "waiver", _("Waiver")
        RESTRUCTURE = "restructure", _("Restructuring")
        WRITE_OFF_UNDO = "write_off_undo", _("Undo a write-off")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey(CollectionCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="approvals")
    # The case's team, copied when the request is made and moved with the case while it waits (routing,
    # reassignment): a supervisor's inbox is read from the team's own index, so a team with nothing
    # waiting costs nothing however many requests other teams have (dunning/selectors/supervision.py).
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    amount = MoneyField(_("amount"), null=True, blank=True, default=None)
    # What else the kind needs (dunning/services/approval_terms.py): a waiver's part, a settlement's
    # deadline and instalments, a restructuring's method, term and first due date.
    terms = models.JSONField(_("terms"), default=dict, blank=True)
    request_reason = models.TextField(_("reason for the request"), blank=True)
    # A request of the nightly run: the stage rule that asked for it ({"stage": id, "start_dpd": 90, "dpd":
    # 92}), worded in the reader's language on screen.
    rule = models.JSONField(_("rule that asked for it"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        User, verbose_name=_("requested by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"))
    decided_by = models.ForeignKey(
        User, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    action = models.OneToOneField(
        DunningAction,
        verbose_name=_("stage action"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approval",
    )
    plan = models.OneToOneField(
        PaymentPlan,
        verbose_name=_("payment plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approval",
    )

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-requested_at", "-id"]
        permissions = [("decide_approvalrequest", _("Can approve or reject requests"))]
        indexes = [
            models.Index(fields=["kind", "requested_at"], name="approval_pending_idx", condition=Q(status="pending")),
            # The approvals inbox, oldest first: read in order and stop at the page, not sort every request.
            models.Index(fields=["requested_at", "id"], name="approval_inbox_idx", condition=Q(status="pending")),
            # A team's inbox, oldest first (also the administrator's inbox filtered by team).
            models.Index(
                fields=["team", "requested_at", "id"], name="approval_team_inbox_idx", condition=Q(status="pending")
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.get_status_display()}"

    def save(self, *args, **kwargs):
        if self._state.adding and self.team_id is None and self.case_id is not None:
            self.team_id = self.case.team_id  # the nightly run's set-based requests copy it in their INSERT
        super().save(*args, **kwargs)


# The stage actions that need a decision, and the kind of approval each asks for.
APPROVAL_KIND_FOR_ACTION = {
    ActionKind.LEGAL_REFERRAL: ApprovalRequest.Kind.LEGAL_REFERRAL,
    ActionKind.CREDIT_BUREAU_REPORT: ApprovalRequest.Kind.CREDIT_BUREAU_REPORT,
    ActionKind.CHARGE_OFF_PROPOSAL: ApprovalRequest.Kind.WRITE_OFF,
}
