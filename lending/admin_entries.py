"""The ledger's entries in the admin: ledger entries (with their lines), settlements (with their
instalments), restructurings and credit refunds, all read-only — the services write them — plus what the
loan page shows of them and the two things staff do with a loan's credit balance here: request a refund
(decided by someone else, maker-checker) and apply it to what the loan owes next.

Every write calls the service that owns it (lending.refunds); a rule it refuses (DomainError) is shown as
an error message and changes nothing."""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from creditops.core.admin import MoneyDisplayMixin, money_column
from creditops.core.errors import DomainError
from creditops.core.money import format_money

from . import refunds, selectors
from .admin_base import CaseScopedLedgerMixin, LedgerRowAdmin
from .models import (
    Component,
    CreditRefund,
    LedgerEntry,
    LedgerEntryLine,
    Loan,
    PaymentRefund,
    Restructuring,
    Settlement,
    SettlementInstalment,
)
from .settlements import settlement_paid_amount
from .write_off import written_off_summary

DECIDE_REFUNDS = "lending.decide_creditrefund"
# Asking for a refund and applying a credit balance: supervisors and administrators (accounts/roles.py).
MOVE_CREDIT = "lending.add_creditrefund"
# The loan page's refund table, and how many loans one "apply credit balance" action may touch.
REFUNDS_SHOWN = 10
APPLY_ACTION_LIMIT = 100


def may_move_credit(user) -> bool:
    return user.has_perm(MOVE_CREDIT)


def by_loan_reference(queryset, term: str):
    """Rows of the loan with exactly this reference (typed in any case), through the unique index."""
    term = term.strip()
    return queryset.filter(loan__reference=term.upper()) if term else queryset


def admin_link(model, pk, label):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, label)


class PartOfTheLoansLedgerMixin:
    """Entries, settlements, restructurings and refunds are a loan's ledger: whoever may read loans reads
    them (only in their case scope, see CaseScopedLedgerMixin), as well as holders of the model's own view
    permission."""

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm("lending.view_loan")


class LoanLedgerRowAdmin(PartOfTheLoansLedgerMixin, CaseScopedLedgerMixin, LedgerRowAdmin):
    """Append-only: nothing is added, changed or deleted here; found by the loan's exact reference; newest
    first by the primary key (no sort of the whole table)."""

    borrower_path = "loan__borrower"
    ordering = ["-id"]
    list_select_related = ["loan"]
    raw_id_fields = ["loan"]
    search_fields = ["loan__reference__exact"]  # the real search is by_loan_reference()
    search_help_text = _("Exact loan reference.")

    def get_search_results(self, request, queryset, search_term):
        return by_loan_reference(queryset, search_term), False

    def has_add_permission(self, request):
        return False


class ReadOnlyInline(PartOfTheLoansLedgerMixin, MoneyDisplayMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- ledger entries -------------------------------------------------------------------------------


class LedgerEntryLineInline(ReadOnlyInline):
    model = LedgerEntryLine
    fields = readonly_fields = [
        "installment_number", "due_date", "principal_amount", "interest_amount", "fee_amount", "penalty_amount",
        "total_display", "is_replay",
    ]  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("installment__loan")

    @admin.display(description=_("installment"))
    def installment_number(self, line):
        return line.installment.sequence

    @admin.display(description=_("due date"))
    def due_date(self, line):
        return line.installment.due_date

    @admin.display(description=_("total"))
    def total_display(self, line):
        return format_money(line.total_amount, line.installment.loan.currency)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(LoanLedgerRowAdmin):
    list_display = [
        "id", "effective_on", "loan", "kind", "component", "amount_display", "authority_display", "reverses_display",
        "created_at",
    ]  # fmt: skip
    # The kind is indexed (kind, effective_on); the part and the date are not, so they are no filters here.
    list_filter = ["kind"]
    raw_id_fields = ["loan", "reverses", "payment"]
    amount_display = money_column("amount", _("amount"))
    fields = readonly_fields = [
        "loan", "kind", "component", "effective_on", "requested_amount", "amount", "reason", "authority_display",
        "reverses", "reversed_by_display", "arrangement", "payment", "created_by", "created_at",
    ]  # fmt: skip
    inlines = [LedgerEntryLineInline]

    @admin.display(description=_("authorised by"))
    def authority_display(self, entry):
        return entry.authority_words or "—"

    @admin.display(description=_("reverses"))
    def reverses_display(self, entry):
        return f"#{entry.reverses_id}" if entry.reverses_id else "—"

    @admin.display(description=_("reversed by"))
    def reversed_by_display(self, entry):
        reversal = LedgerEntry.objects.filter(reverses=entry).only("pk").first()
        return admin_link(LedgerEntry, reversal.pk, f"#{reversal.pk}") if reversal else "—"

    @admin.display(description=_("settlement or restructuring"))
    def arrangement(self, entry):
        for name in ("settlement", "restructuring"):
            try:
                record = getattr(entry, name)
            except ObjectDoesNotExist:
                continue
            return admin_link(type(record), record.pk, f"{record._meta.verbose_name} #{record.pk}")
        return "—"


# --- settlements ----------------------------------------------------------------------------------


class SettlementInstalmentInline(ReadOnlyInline):
    model = SettlementInstalment
    fields = readonly_fields = ["sequence", "due_date", "amount_display"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("settlement__loan")

    @admin.display(description=_("amount"))
    def amount_display(self, instalment):
        return format_money(instalment.amount, instalment.settlement.loan.currency)


@admin.register(Settlement)
class SettlementAdmin(LoanLedgerRowAdmin):
    list_display = [
        "id", "loan", "agreed_display", "owed_display", "discount_display", "starts_on", "deadline", "status",
        "ended_on", "end_reason",
    ]  # fmt: skip
    list_filter = ["status", "end_reason"]
    raw_id_fields = ["loan", "discount_entry"]
    agreed_display = money_column("agreed_amount", _("agreed amount"))
    owed_display = money_column("owed_amount", _("owed when agreed"))
    fields = readonly_fields = [
        "loan", "status", "agreed_amount", "owed_amount", "discount_display", "paid_display", "starts_on",
        "deadline", "authority", "created_by", "ended_on", "end_reason", "end_note", "discount_entry",
    ]  # fmt: skip
    inlines = [SettlementInstalmentInline]

    @admin.display(description=_("discount offered"))
    def discount_display(self, settlement):
        return format_money(settlement.discount_amount, settlement.loan.currency)

    @admin.display(description=_("paid towards it"))
    def paid_display(self, settlement):
        return format_money(settlement_paid_amount(settlement), settlement.loan.currency)


# --- restructurings -------------------------------------------------------------------------------


@admin.register(Restructuring)
class RestructuringAdmin(LoanLedgerRowAdmin):
    list_display = [
        "id", "loan", "method", "effective_on", "term_months", "arrears_display", "principal_display",
        "capitalised_display", "carried_display", "first_sequence",
    ]  # fmt: skip
    list_filter = ["method"]
    raw_id_fields = ["loan", "closing_entry"]
    arrears_display = money_column("arrears_amount", _("arrears"))
    principal_display = money_column("principal_amount", _("new schedule's principal"))
    capitalised_display = money_column("capitalised_amount", _("arrears capitalised"))
    carried_display = money_column("carried_amount", _("arrears carried to the end"))
    fields = readonly_fields = [
        "loan", "method", "effective_on", "term_months", "first_due_date", "first_sequence", "arrears_amount",
        "principal_amount", "capitalised_amount", "carried_amount", "closing_entry", "authority", "created_by",
        "created_at",
    ]  # fmt: skip


# --- credit refunds (maker-checker) ---------------------------------------------------------------


class PaymentRefundInline(ReadOnlyInline):
    model = PaymentRefund
    fields = readonly_fields = ["payment", "amount_display"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment__loan")

    @admin.display(description=_("amount"))
    def amount_display(self, part):
        return format_money(part.amount, part.payment.loan.currency)


class RefundDecisionForm(forms.Form):
    APPROVE, REJECT = "approve", "reject"
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[(APPROVE, _("Approve: the refund was paid out")), (REJECT, _("Reject"))],
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(
        label=_("refund reference"),
        max_length=CreditRefund._meta.get_field("reference").max_length,
        required=False,
        help_text=_("The bank's reference of the refund; needed to approve."),
    )
    reason = forms.CharField(label=_("reason for the decision"), widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(CreditRefund)
class CreditRefundAdmin(LoanLedgerRowAdmin):
    """Requested from the loan page; decided here by someone else holding `lending.decide_creditrefund`.
    Nobody adds or changes a refund directly."""

    # Those who decide refunds and those who post payments see every refund, as they must to decide them.
    unscoped_permission = (DECIDE_REFUNDS, "lending.add_payment")
    list_display = [
        "id", "loan", "amount_display", "status", "requested_by", "requested_at", "decided_by", "decided_at",
        "reference", "refunded_on", "decide_link",
    ]  # fmt: skip
    list_filter = ["status"]
    list_select_related = ["loan", "requested_by", "decided_by"]
    amount_display = money_column("amount", _("amount"))
    fields = readonly_fields = [
        "loan", "amount", "status", "reason", "requested_by", "requested_at", "decided_by", "decided_at",
        "decision_reason", "reference", "refunded_on",
    ]  # fmt: skip
    inlines = [PaymentRefundInline]

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_decide"
        view = self.admin_site.admin_view(self.decide_view)
        return [path("<path:object_id>/decide/", view, name=name), *super().get_urls()]

    def may_decide(self, request, refund) -> bool:
        """Whoever holds the right, on a refund still waiting, unless they asked for it themselves."""
        return (
            request.user.has_perm(DECIDE_REFUNDS)
            and refund.status == CreditRefund.Status.REQUESTED
            and refund.requested_by_id != request.user.pk
        )

    @admin.display(description=_("decision"))
    def decide_link(self, refund):
        if refund.status != CreditRefund.Status.REQUESTED:
            return "—"
        url = reverse("admin:lending_creditrefund_decide", args=[refund.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Approve or reject"))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.may_decide(request, obj):
            context["decide_url"] = reverse("admin:lending_creditrefund_decide", args=[obj.pk])
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def decide_view(self, request, object_id):
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404(f"No credit refund {object_id!s:.40} here.")
        if not request.user.has_perm(DECIDE_REFUNDS):
            raise PermissionDenied
        change_url = reverse("admin:lending_creditrefund_change", args=[refund.pk])
        if request.method != "POST" and refund.status != CreditRefund.Status.REQUESTED:
            self.message_user(request, gettext("This request has already been decided."), messages.WARNING)
            return redirect(change_url)
        form = RefundDecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            approve = form.cleaned_data["decision"] == RefundDecisionForm.APPROVE
            try:
                refund = refunds.credit_refund_decide(
                    refund=refund,
                    approve=approve,
                    reason=form.cleaned_data["reason"],
                    reference=form.cleaned_data["reference"],
                    actor=request.user,
                )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                done = gettext("Refund approved and recorded as paid.") if approve else gettext("Refund rejected.")
                self.message_user(request, done, messages.SUCCESS)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Decide a credit refund"),
            "refund": refund,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/lending/creditrefund/decide.html", context)


# --- the loan page: its ledger, and its credit balance --------------------------------------------


class RefundRequestForm(forms.Form):
    amount = forms.DecimalField(label=_("amount"), max_digits=18, decimal_places=2)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))


class LoanLedgerMixin:
    """For the loan admin: read-only tables of the loan's ledger entries, settlements, restructurings and
    refunds (bounded, newest first, from lending.selectors.loan_adjustments), and the credit-balance
    actions (a refund request, applying the credit), each through its service."""

    ledger_fields = [
        "adjustments_summary", "entries_table", "settlements_table", "restructurings_table", "refunds_table",
    ]  # fmt: skip

    def has_move_credit_permission(self, request):
        return may_move_credit(request.user)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/request-refund/",
                self.admin_site.admin_view(self.refund_request_view),
                name="{}_{}_refund_request".format(*info),
            ),
            path(
                "<path:object_id>/apply-credit/",
                self.admin_site.admin_view(self.apply_credit_view),
                name="{}_{}_apply_credit".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.credit_balance_amount > 0 and self.has_move_credit_permission(request):
            context["credit_tools"] = [
                (
                    reverse("admin:lending_loan_refund_request", args=[obj.pk]),
                    gettext("Request refund of credit balance"),
                ),
                (reverse("admin:lending_loan_apply_credit", args=[obj.pk]), gettext("Apply credit balance")),
            ]
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    # -- the read-only tables ----------------------------------------------------------------------------

    @staticmethod
    def _adjustments(loan) -> dict:
        """The selector's reading, once per page (each table is a read-only field of the same loan)."""
        if not hasattr(loan, "_admin_adjustments"):
            loan._admin_adjustments = selectors.loan_adjustments(loan, schedule=list(loan.installments.all()))
        return loan._admin_adjustments

    def _table(self, template: str, loan, **context):
        return render_to_string(f"admin/lending/loan/{template}", {"loan": loan, "currency": loan.currency, **context})

    @admin.display(description=_("waived and written off"))
    def adjustments_summary(self, loan):
        adjustments = self._adjustments(loan)
        waived = [(Component(part).label, amount) for part, amount in adjustments["waived"].items()]
        # The selector reads the write-off only for a loan it sees was written off (by its latest entries);
        # an undone write-off older than those still counts here.
        write_off = adjustments["write_off"] or written_off_summary(loan)
        return self._table(
            "adjustments.html", loan, waived=waived, waived_total=adjustments["waived_total"], write_off=write_off,
            ever_written_off=bool(write_off["written_off"] or loan.written_off_on),
        )  # fmt: skip

    @admin.display(description=_("latest ledger entries"))
    def entries_table(self, loan):
        adjustments = self._adjustments(loan)
        return self._table(
            "entries.html",
            loan,
            entries=adjustments["entries"],
            limit=selectors.ENTRIES_LIMIT,
            all_url=reverse("admin:lending_ledgerentry_changelist") + "?" + urlencode({"q": loan.reference}),
        )

    @admin.display(description=_("settlements"))
    def settlements_table(self, loan):
        return self._table("settlements.html", loan, settlements=self._adjustments(loan)["settlements"])

    @admin.display(description=_("restructurings"))
    def restructurings_table(self, loan):
        return self._table("restructurings.html", loan, restructurings=self._adjustments(loan)["restructurings"])

    @admin.display(description=_("credit refunds"))
    def refunds_table(self, loan):
        rows = list(loan.refunds.select_related("requested_by", "decided_by").order_by("-id")[:REFUNDS_SHOWN])
        return self._table("refunds.html", loan, refunds=rows, limit=REFUNDS_SHOWN)

    # -- the credit balance ------------------------------------------------------------------------------

    def _loan_for_credit(self, request, object_id) -> Loan:
        loan = self.get_object(request, unquote(object_id))  # in the user's scope, or 404
        if loan is None:
            raise Http404(f"No loan {object_id!s:.40} here.")
        if not self.has_move_credit_permission(request):
            raise PermissionDenied
        return loan

    def _credit_page(self, request, loan, template, title, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "loan": loan,
            "loan_url": reverse("admin:lending_loan_change", args=[loan.pk]),
            **context,
        }
        return TemplateResponse(request, f"admin/lending/loan/{template}", context)

    def refund_request_view(self, request, object_id):
        loan = self._loan_for_credit(request, object_id)
        form = RefundRequestForm(request.POST or None, initial={"amount": loan.credit_balance_amount})
        if request.method == "POST" and form.is_valid():
            try:
                refund = refunds.credit_refund_request(
                    loan=loan,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                message = gettext("A refund of %(amount)s is requested; someone else must approve it.") % {
                    "amount": format_money(refund.amount, loan.currency)
                }
                self.message_user(request, message, messages.SUCCESS)
                return redirect(reverse("admin:lending_creditrefund_change", args=[refund.pk]))
        title = gettext("Request refund of credit balance")
        return self._credit_page(request, loan, "refund_request.html", title, form=form)

    def apply_credit_view(self, request, object_id):
        loan = self._loan_for_credit(request, object_id)
        if request.method == "POST":
            self._apply_credit(request, [loan])
            return redirect(reverse("admin:lending_loan_change", args=[loan.pk]))
        title = gettext("Apply credit balance to what the loan owes next")
        return self._credit_page(request, loan, "apply_credit.html", title)

    def _apply_credit(self, request, loans) -> None:
        applied_to = 0
        for loan in loans:
            try:
                applied = refunds.credit_balance_apply(loan=loan, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{loan}: {error}", messages.ERROR)
                continue
            if applied:
                applied_to += 1
                message = gettext("%(loan)s: %(amount)s of its credit balance applied to what it owes next.")
                self.message_user(
                    request, message % {"loan": loan, "amount": format_money(applied, loan.currency)}, messages.SUCCESS
                )
        if not applied_to:
            self.message_user(
                request, gettext("Nothing was applied: no credit balance, or nothing owed."), messages.WARNING
            )

    @admin.action(description=_("Request refund of credit balance"), permissions=["move_credit"])
    def request_credit_refund(self, request, queryset):
        loans = list(queryset.order_by("-pk")[:2])
        if len(loans) != 1:
            self.message_user(request, gettext("Choose one loan to request a refund for."), messages.WARNING)
            return None
        return redirect(reverse("admin:lending_loan_refund_request", args=[loans[0].pk]))

    @admin.action(description=_("Apply credit balance to what the loan owes next"), permissions=["move_credit"])
    def apply_credit_balance(self, request, queryset):
        loans = list(queryset.order_by("-pk")[: APPLY_ACTION_LIMIT + 1])
        if len(loans) > APPLY_ACTION_LIMIT:
            message = ngettext(
                "Choose at most %(count)d loan.", "Choose at most %(count)d loans.", APPLY_ACTION_LIMIT
            ) % {"count": APPLY_ACTION_LIMIT}
            self.message_user(request, message, messages.WARNING)
            return None
        self._apply_credit(request, loans)
        return None
