from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from accounts.services import audit_record
from creditops.core.admin import BigTableAdmin, MoneyDisplayMixin, currency_of, money_column
from creditops.core.dates import business_today
from creditops.core.errors import DomainError
from creditops.core.masking import mask_phone
from creditops.core.money import format_money

from . import selectors, services
from .admin_base import CaseScopedLedgerMixin, LedgerRowAdmin
from .admin_entries import LoanLedgerMixin
from .imports import exports
from .imports.admin_views import BORROWERS, LOANS, PAYMENTS, ImportExportMixin
from .models import (
    PENALTY_TERM_FIELDS,
    Borrower,
    BorrowerContact,
    Installment,
    Loan,
    Payment,
    PaymentAllocation,
    PenaltyEntry,
    PenaltyPause,
    PenaltyTerms,
    Product,
)


class PersonalDataAuditMixin:
    """The change form shows full ID numbers and phone numbers: opening it is a reveal, recorded."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            record = self.get_object(request, object_id)
            audit_record(actor=request.user, event="personal_data.viewed", subject=record, detail={"via": "admin"})
        return response


class PenaltyTermsInline(admin.TabularInline):
    """Every version of the product's penalty terms; a change of the product's terms adds one."""

    model = PenaltyTerms
    extra = 0
    can_delete = False
    fields = readonly_fields = ["version", "recorded_at", *PENALTY_TERM_FIELDS]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The penalty terms after the rate and the grace days, in the order a product keeps them.
PENALTY_TERMS_BESIDES = [name for name in PENALTY_TERM_FIELDS if name not in ("penalty_daily_rate", "grace_days")]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "code", "name", "name_en", "kind", "repayment_method", "currency", "annual_interest_rate", "monthly_fee_rate",
        "penalty_daily_rate", "grace_days", "is_active",
    ]  # fmt: skip
    list_filter = ["kind", "repayment_method", "is_active"]
    search_fields = ["code", "name", "name_en"]
    inlines = [PenaltyTermsInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "name_en", "kind", "currency", "is_active"]}),
        (
            _("Repayment"),
            {"fields": ["repayment_method", "annual_interest_rate", "monthly_fee_rate", "allocation_waterfall"]},
        ),
        (_("Due dates"), {"fields": ["business_calendar", "due_on_next_business_day"]}),
        (_("Penalty interest"), {"fields": ["penalty_daily_rate", "grace_days", *PENALTY_TERMS_BESIDES]}),
        (_("Restructuring"), {"fields": ["restructure_limit", "restructure_watch_months"]}),
        (_("Collections"), {"fields": ["guardrail_profile"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False


class BorrowerContactInline(admin.TabularInline):
    model = BorrowerContact
    extra = 0
    fields = ["relation", "name", "phone", "consent_to_contact"]


@admin.register(Borrower)
class BorrowerAdmin(ImportExportMixin, PersonalDataAuditMixin, CaseScopedLedgerMixin, BigTableAdmin):
    borrower_path = "pk"
    importer = BORROWERS
    export_columns = exports.BORROWER_COLUMNS
    list_display = [
        "name", "kind", "masked_id", "masked_phone_display", "province", "city", "risk_grade", "on_hold",
    ]  # fmt: skip
    list_filter = ["kind", "risk_grade", "has_open_dispute", "is_bankrupt"]
    search_fields = ["name"]  # the real search is borrowers_matching(); Django needs a non-empty list
    search_help_text = _("Exact ID number or phone, or the beginning of the name.")
    inlines = [BorrowerContactInline]
    fieldsets = [
        (None, {"fields": ["kind", "name", "name_latin", "legal_representative", "id_type", "id_number"]}),
        (
            _("Contact"),
            {"fields": ["phone", "email", "address", "province", "city", "preferred_language", "time_zone"]},
        ),
        (_("Credit"), {"fields": ["risk_grade", "credit_limit_amount"]}),
        (
            _("Holds on collection"),
            {"fields": ["has_open_dispute", "is_bankrupt", "is_deceased", "cease_communication", "do_not_contact"]},
        ),
    ]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=selectors.borrowers_matching(search_term).values("pk")), False

    @admin.display(description=_("ID number"))
    def masked_id(self, borrower):
        return borrower.masked_id_number

    @admin.display(description=_("phone"))
    def masked_phone_display(self, borrower):
        return borrower.masked_phone

    @admin.display(description=_("on hold"), boolean=True)
    def on_hold(self, borrower):
        return borrower.is_on_hold

    def save_model(self, request, obj, form, change):
        services.borrower_save(borrower=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


class InstallmentInline(MoneyDisplayMixin, admin.TabularInline):
    """The schedule: what each installment owes of each part, what was paid and what ledger entries
    closed without money (adjusted: waived, written off, restructured), and the day it counts as due."""

    model = Installment
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "sequence", "due_date", "effective_due_date", "principal_amount", "interest_amount", "fee_amount",
        "penalty_amount", "paid_display", "principal_adjusted_amount", "interest_adjusted_amount",
        "fee_adjusted_amount", "penalty_adjusted_amount", "outstanding_amount", "penalty_accrued_on",
    ]  # fmt: skip

    @admin.display(description=_("paid"))
    def paid_display(self, installment):
        return format_money(installment.paid_amount, currency_of(installment))

    def has_add_permission(self, request, obj=None):
        return False


class PaymentInline(MoneyDisplayMixin, admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = [
        "received_on", "amount", "unallocated_amount", "refunded_amount", "channel", "source", "external_ref",
        "status",
    ]  # fmt: skip

    def has_add_permission(self, request, obj=None):
        return False


class ServiceBackedForm(forms.ModelForm):
    """An admin add form whose object is created by a ledger service inside clean(), so a refused rule
    shows as a form error with the user's input kept. The admin wraps the whole view in a transaction."""

    actor = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Amounts start empty, not at the model's default 0.00: a figure typed behind "0.00" was read as a
        # thousand times more (500.00 became 500,000.00).
        for name, field in self.fields.items():
            if isinstance(field, forms.DecimalField) and not self.initial.get(name):
                self.initial[name] = None

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.created_object = self.create(cleaned)
            except DomainError as error:
                raise forms.ValidationError(str(error), code=error.code) from error
        return cleaned

    def create(self, cleaned):
        raise NotImplementedError

    def _post_clean(self):
        pass  # the service built and saved the object; the form's own instance is never saved


class LoanCreateForm(ServiceBackedForm):
    """Only what an officer types to book a loan; the schedule and terms come from the product."""

    class Meta:
        model = Loan
        fields = ["borrower", "product", "principal_amount", "term_months", "disbursed_on", "first_due_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_due_date"].required = False
        self.fields["first_due_date"].help_text = _("Leave empty for one month after disbursement.")

    def create(self, cleaned):
        return services.loan_create(
            borrower=cleaned["borrower"],
            product=cleaned["product"],
            principal_amount=cleaned["principal_amount"],
            term_months=cleaned["term_months"],
            disbursed_on=cleaned["disbursed_on"],
            first_due_date=cleaned.get("first_due_date"),
            actor=self.actor,
        )


class ServiceBackedAddMixin:
    """Admin whose add view uses `add_form` (a ServiceBackedForm): the service creates the row."""

    add_form = None

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, **kwargs)
        form_class = super().get_form(request, obj, form=self.add_form, **kwargs)
        form_class.actor = request.user  # a fresh class per request, so this never leaks between users
        return form_class

    def get_fields(self, request, obj=None):
        return self.add_form.Meta.fields if obj is None else super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        # Make the admin's unsaved instance the row the service created, so the admin's message,
        # history entry and redirect all name that row.
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(form.created_object, field.attname))
        obj._state.adding = False


class RestructuredFilter(admin.SimpleListFilter):
    """Restructured loans (few: the partial index `loan_restructured_idx` holds just them)."""

    title = _("restructured")
    parameter_name = "restructured"
    YES, WATCHED, NO = "yes", "watched", "no"

    def lookups(self, request, model_admin):
        return [
            (self.YES, _("Yes")),
            (self.WATCHED, _("Yes, in its watch period")),
            (self.NO, _("No")),
        ]

    def queryset(self, request, queryset):
        if self.value() == self.YES:
            return queryset.filter(restructure_count__gt=0)
        if self.value() == self.WATCHED:
            return queryset.filter(restructure_count__gt=0, restructure_watch_until__gte=business_today())
        if self.value() == self.NO:
            return queryset.filter(restructure_count=0)
        return queryset


@admin.register(Loan)
class LoanAdmin(LoanLedgerMixin, ImportExportMixin, CaseScopedLedgerMixin, ServiceBackedAddMixin, BigTableAdmin):
    add_form = LoanCreateForm
    importer = LOANS
    export_columns = exports.LOAN_COLUMNS
    export_related = ("borrower", "product")
    list_display = [
        "reference", "borrower", "product_code", "principal_display", "status", "days_past_due", "aging_bucket",
        "overdue_display", "disbursed_on",
    ]  # fmt: skip
    # Each backed by an index: (status, -id), (aging_bucket, -id), (product, -id); restructured through
    # the restructurings' loan index (RestructuredFilter).
    list_filter = ["status", RestructuredFilter, "aging_bucket", "product"]
    list_select_related = ["borrower", "product"]
    actions = [*ImportExportMixin.actions, "request_credit_refund", "apply_credit_balance"]
    search_fields = ["reference"]  # the real search is loans_matching()
    search_help_text = _("Loan reference (LN-2026-000123), borrower's ID number or phone, or name prefix.")
    autocomplete_fields = ["borrower", "product"]
    principal_display = money_column("principal_amount", _("principal"))
    overdue_display = money_column("overdue_amount", _("overdue amount"))
    # The booked loan's page, read-only, in sections; the ledger's tables come from LoanLedgerMixin.
    change_fieldsets = [
        (None, [
            "reference", "borrower", "product", "currency", "principal_amount", "annual_interest_rate",
            "monthly_fee_rate", "penalty_daily_rate", "term_months", "disbursed_on", "first_due_date",
            "maturity_date", "status", "settled_on", "credit_balance_amount", "days_past_due", "aging_bucket",
            "overdue_amount", "oldest_overdue_due_date",
        ]),
        (_("Penalty interest"), [
            *(name for name in PENALTY_TERM_FIELDS if name != "penalty_daily_rate"), "penalty_terms_version",
            "contract_cost_amount", "penalty_accrued_amount",
        ]),
        (_("Write-off"), ["written_off_on", "written_off_amount"]),
        (_("Restructuring"), ["restructure_count", "restructured_on", "restructure_watch_until", "capitalised_amount"]),
        (_("Waivers, write-off and arrangements"), LoanLedgerMixin.ledger_fields),
        (pgettext_lazy("when a record was made", "Recorded"), ["created_at"]),
    ]  # fmt: skip
    readonly_fields = [name for _title, names in change_fieldsets for name in names]

    sortable_by = ["reference"]

    @admin.display(description=_("product"), ordering="product__code")
    def product_code(self, loan):
        return loan.product.code

    def has_change_permission(self, request, obj=None):
        return False  # a booked loan's terms never change here; its ledger moves through services

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return super().get_fields(request, obj) if obj is None else self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        # Money fields shown as '1,234.50 CNY', as get_fields() would show them (MoneyDisplayMixin).
        return [(title, {"fields": self._as_money(names, set(names))}) for title, names in self.change_fieldsets]

    def get_inlines(self, request, obj):
        return [InstallmentInline, PaymentInline] if obj else []

    def get_search_results(self, request, queryset, search_term):
        return selectors.loans_matching(queryset, search_term), False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BorrowerContact)
class BorrowerContactAdmin(PersonalDataAuditMixin, CaseScopedLedgerMixin, BigTableAdmin):
    list_display = ["name", "relation", "masked_phone_display", "borrower", "consent_to_contact"]
    list_select_related = ["borrower"]
    list_filter = ["relation", "consent_to_contact"]
    search_fields = ["phone"]  # the real search is contacts_matching()
    search_help_text = _("Exact phone number of the contact.")
    autocomplete_fields = ["borrower"]

    def get_search_results(self, request, queryset, search_term):
        return selectors.contacts_matching(queryset, search_term), False

    @admin.display(description=_("phone"))
    def masked_phone_display(self, contact):
        return mask_phone(contact.phone)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Installment)
class InstallmentAdmin(CaseScopedLedgerMixin, LedgerRowAdmin):
    borrower_path = "loan__borrower"
    list_display = [
        "loan", "sequence", "due_date", "effective_due_date", "principal_display", "interest_display", "fee_display",
        "penalty_display", "outstanding_display",
    ]  # fmt: skip
    principal_display = money_column("principal_amount", _("principal due"))
    interest_display = money_column("interest_amount", _("interest due"))
    fee_display = money_column("fee_amount", _("fees due"))
    penalty_display = money_column("penalty_amount", _("penalty due"))
    outstanding_display = money_column("outstanding_amount", _("outstanding"))
    list_select_related = ["loan"]
    search_fields = ["loan__reference__exact"]
    raw_id_fields = ["loan"]

    def has_add_permission(self, request):
        return False


class PaymentPostForm(ServiceBackedForm):
    loan_reference = forms.CharField(label=_("loan reference"), max_length=20)

    class Meta:
        model = Payment
        fields = ["loan_reference", "source", "external_ref", "amount", "received_on", "channel"]

    def clean_loan_reference(self):
        reference = self.cleaned_data["loan_reference"].strip().upper()
        self.loan = Loan.objects.filter(reference=reference).first()
        if self.loan is None:
            raise forms.ValidationError(_("No loan has this reference."))
        return reference

    def create(self, cleaned):
        payment, self.was_new = services.payment_post(
            loan=self.loan,
            source=cleaned["source"],
            external_ref=cleaned["external_ref"],
            amount=cleaned["amount"],
            received_on=cleaned["received_on"],
            channel=cleaned["channel"],
            actor=self.actor,
        )
        return payment


class ReversalForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200)


@admin.register(Payment)
class PaymentAdmin(ImportExportMixin, CaseScopedLedgerMixin, ServiceBackedAddMixin, LedgerRowAdmin):
    borrower_path = "loan__borrower"
    unscoped_permission = "lending.add_payment"
    add_form = PaymentPostForm
    importer = PAYMENTS
    export_columns = exports.PAYMENT_COLUMNS
    export_related = ("loan", "posted_by")
    list_display = [
        "external_ref", "source", "loan", "amount_display", "unallocated_display", "received_on", "channel",
        "status",
    ]  # fmt: skip
    list_filter = ["status", "channel"]
    list_select_related = ["loan"]
    sortable_by = ["received_on"]
    search_fields = ["external_ref"]  # the real search is payments_matching()
    search_help_text = _("Exact external reference, or a loan reference.")
    raw_id_fields = ["loan"]
    actions = ["reverse_payments", *ImportExportMixin.actions]
    amount_display = money_column("amount", _("amount"))
    unallocated_display = money_column("unallocated_amount", _("to credit balance"))

    def get_search_results(self, request, queryset, search_term):
        return selectors.payments_matching(queryset, search_term), False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not form.was_new:
            self.message_user(request, _("This payment was already posted; nothing changed."), messages.WARNING)

    @admin.action(description=_("Reverse selected payments"), permissions=["add"])
    def reverse_payments(self, request, queryset):
        form = ReversalForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "payments": queryset, "form": form, "opts": self.opts}
            return render(request, "admin/lending/payment/reverse.html", context)
        reversed_count = 0
        for payment in queryset:
            try:
                services.payment_reverse(
                    payment=payment,
                    reason=form.cleaned_data["reason"],
                    reversed_on=timezone.localdate(),
                    actor=request.user,
                )
                reversed_count += 1
            except DomainError as error:
                self.message_user(request, f"{payment}: {error}", messages.ERROR)
        message = ngettext("%(count)d payment reversed.", "%(count)d payments reversed.", reversed_count)
        self.message_user(request, message % {"count": reversed_count}, messages.SUCCESS)
        return None


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(CaseScopedLedgerMixin, LedgerRowAdmin):
    borrower_path = "payment__loan__borrower"
    unscoped_permission = "lending.add_payment"
    list_display = [
        "payment", "installment", "principal_display", "interest_display", "fee_display", "penalty_display",
        "is_reversal", "is_recovery",
    ]  # fmt: skip
    principal_display = money_column("principal_amount", _("principal"))
    interest_display = money_column("interest_amount", _("interest"))
    fee_display = money_column("fee_amount", _("fees"))
    penalty_display = money_column("penalty_amount", _("penalty"))
    list_select_related = ["payment", "installment"]
    raw_id_fields = ["payment", "installment"]
    search_fields = ["payment__external_ref__exact"]

    def has_add_permission(self, request):
        return False


@admin.register(PenaltyEntry)
class PenaltyEntryAdmin(CaseScopedLedgerMixin, LedgerRowAdmin):
    borrower_path = "loan__borrower"
    unscoped_permission = "lending.add_payment"
    list_display = [
        "accrued_on", "loan", "installment_number", "kind", "days", "base_display", "daily_rate", "amount_display",
        "cause_payment",
    ]  # fmt: skip
    list_filter = ["kind"]
    ordering = ["-id"]  # newest first, from the primary key
    list_select_related = ["loan", "installment", "cause_payment"]
    raw_id_fields = ["loan", "installment", "removes", "cause_payment"]
    search_fields = ["loan__reference__exact"]
    search_help_text = _("Exact loan reference.")
    base_display = money_column("base_amount", _("penalty base"))
    amount_display = money_column("amount", _("amount"))

    @admin.display(description=_("installment"))
    def installment_number(self, entry):
        return entry.installment.sequence

    def has_add_permission(self, request):
        return False


@admin.register(PenaltyPause)
class PenaltyPauseAdmin(CaseScopedLedgerMixin, LedgerRowAdmin):
    borrower_path = "loan__borrower"
    unscoped_permission = "lending.add_payment"
    list_display = ["loan", "reason", "started_on", "ended_on"]
    list_filter = ["reason"]
    list_select_related = ["loan"]
    raw_id_fields = ["loan"]
    search_fields = ["loan__reference__exact"]
    search_help_text = _("Exact loan reference.")

    def has_add_permission(self, request):
        return False
