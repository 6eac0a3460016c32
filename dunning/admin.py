"""Collections in the admin: Compliance and administrators edit policies, guardrail profiles and routing
(every change audited); cases and their records are read here (and only in the viewer's scope), written
by the services and the nightly run."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from creditops.core.admin import BigTableAdmin, MoneyDisplayMixin, money_column
from creditops.core.errors import DomainError

from .models import (
    ApprovalRequest,
    AssignmentRule,
    CaseEvent,
    CollectionCase,
    ContactAttempt,
    Dispute,
    DunningAction,
    DunningPolicy,
    DunningRun,
    DunningStage,
    GuardrailProfile,
    GuardrailRule,
    NoticeKind,
    PaymentPlan,
    PlanInstallment,
    PortfolioSnapshot,
    PromiseToPay,
    StageAction,
    StageTransition,
)
from .selectors import cases_visible_to, sees_every_case
from .services.policies import guardrail_profile_new_version, rule_object_save


class AuditedAdmin(admin.ModelAdmin):
    """Saves through the audited service, inline rows included; nothing here is deleted (retire it)."""

    def save_model(self, request, obj, form, change):
        many_to_many = {
            field.name: form.cleaned_data[field.name]
            for field in obj._meta.many_to_many
            if field.name in form.cleaned_data
        }
        rule_object_save(obj=obj, changed_fields=list(form.changed_data), actor=request.user, many_to_many=many_to_many)

    def save_formset(self, request, form, formset, change):
        formset.save(commit=False)  # sets new_objects and changed_objects (the admin's history uses them)
        changes = [(obj, list(fields)) for obj, fields in formset.changed_objects]
        changes += [(obj, []) for obj in formset.new_objects]
        for obj, fields in changes:
            rule_object_save(obj=obj, changed_fields=fields, actor=request.user)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # many-to-many fields were set by save_model
            self.save_formset(request, form, formset, change)

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(BigTableAdmin):
    """Written by the run and the services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ScopedReadOnlyAdmin(ReadOnlyAdmin):
    """Rows of cases the viewer may see (cases_visible_to), through `case_path`."""

    case_path = "case"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if sees_every_case(request.user):
            return queryset
        return queryset.filter(**{f"{self.case_path}__in": cases_visible_to(request.user).values("pk")})


class DunningStageInline(admin.TabularInline):
    model = DunningStage
    extra = 0
    fields = ["start_dpd", "name", "name_en", "owner_role", "is_active"]
    show_change_link = True
    can_delete = False


class DunningPolicyForm(forms.ModelForm):
    class Meta:
        model = DunningPolicy
        fields = ["name", "products", "is_default", "is_active"]

    def clean(self):
        cleaned = super().clean()
        products = cleaned.get("products") or []
        if cleaned.get("is_active") and products:
            others = DunningPolicy.objects.filter(is_active=True, products__in=products).exclude(pk=self.instance.pk)
            taken = sorted(
                {product.code for policy in others for product in policy.products.all() if product in products}
            )
            if taken:
                raise forms.ValidationError(
                    _("Another active policy already covers %(products)s.") % {"products": ", ".join(taken)}
                )
        return cleaned


@admin.register(DunningPolicy)
class DunningPolicyAdmin(AuditedAdmin):
    form = DunningPolicyForm
    list_display = ["name", "name_en", "is_default", "is_active"]
    filter_horizontal = ["products"]
    inlines = [DunningStageInline]


class StageActionInline(admin.TabularInline):
    model = StageAction
    extra = 0
    fields = ["kind", "notice_kind", "needs_approval"]
    can_delete = False


@admin.register(DunningStage)
class DunningStageAdmin(AuditedAdmin):
    list_display = ["policy", "start_dpd", "name", "name_en", "owner_role", "is_active"]
    list_filter = ["policy", "is_active"]
    fields = ["policy", "start_dpd", "name", "name_en", "owner_role", "is_active"]
    inlines = [StageActionInline]


def _in_force(profile) -> bool:
    return profile is not None and profile.pk is not None and profile.effective_from <= timezone.localdate()


class GuardrailRuleInline(admin.StackedInline):
    """A version already in force is history (decisions name it): change rules through a new version."""

    model = GuardrailRule
    extra = 0
    fields = ["kind", "channels", "parameters", "source"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return not _in_force(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return not _in_force(obj) and super().has_add_permission(request, obj)


class NewVersionForm(forms.Form):
    effective_from = forms.DateField(label=_("effective from"))


@admin.register(GuardrailProfile)
class GuardrailProfileAdmin(AuditedAdmin):
    list_display = ["code", "version", "name", "name_en", "effective_from"]
    list_filter = ["code"]
    inlines = [GuardrailRuleInline]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "version", "name", "effective_from"] if _in_force(obj) else []

    actions = ["new_version"]

    @admin.action(description=_("Copy as a new version from tomorrow"), permissions=["add"])
    def new_version(self, request, queryset):
        tomorrow = datetime.date.today() + datetime.timedelta(days=1)
        for profile in queryset:
            try:
                copy = guardrail_profile_new_version(profile=profile, effective_from=tomorrow, actor=request.user)
                self.message_user(request, _("Created %(profile)s; edit its rules.") % {"profile": copy})
            except DomainError as error:
                self.message_user(request, f"{profile}: {error}", messages.ERROR)


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(AuditedAdmin):
    list_display = ["position", "team", "buckets", "language", "provinces", "is_active"]
    list_editable = []
    filter_horizontal = ["products"]


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = readonly_fields = ["occurred_at", "as_of", "kind", "actor", "detail"]
    extra = 0
    can_delete = False
    ordering = ["-id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CollectionCase)
class CollectionCaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "loan", "borrower", "status", "stage", "days_past_due", "overdue_display", "priority_score",
        "assigned_to", "team", "opened_on",
    ]  # fmt: skip
    list_filter = ["status", "is_open", "aging_bucket", "stage", "team"]
    list_select_related = ["loan", "borrower", "stage", "assigned_to", "team"]
    sortable_by = ["priority_score"]
    search_fields = ["loan__reference__exact"]
    search_help_text = _("Exact loan reference.")
    overdue_display = money_column("overdue_amount", _("overdue now"))
    readonly_fields = ["notice_previews"]
    inlines = [CaseEventInline]

    def get_queryset(self, request):
        return cases_visible_to(request.user).select_related("loan", "borrower")

    @admin.display(description=_("preview a notice"))
    def notice_previews(self, case):
        """Links that render each kind of notice for this case from today's figures, marked PREVIEW."""
        links = [
            (reverse("notices:preview", args=[case.pk, kind]), label)
            for kind, label in NoticeKind.choices
            if kind != NoticeKind.PLAN_CONFIRMATION or case.plans.exists()
        ]
        return format_html_join(" · ", '<a href="{}" target="_blank">{}</a>', links)


@admin.register(DunningAction)
class DunningActionAdmin(ScopedReadOnlyAdmin):
    list_display = ["id", "loan", "stage", "kind", "status", "owner_role", "created_on", "completed_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["loan", "stage"]
    search_fields = ["loan__reference__exact"]


@admin.register(StageTransition)
class StageTransitionAdmin(ScopedReadOnlyAdmin):
    list_display = ["case", "as_of", "from_stage", "to_stage_name", "days_past_due", "rule_display"]

    @admin.display(description=_("rule"))
    def rule_display(self, transition):
        return transition.rule

    list_select_related = ["case", "from_stage"]


@admin.register(ContactAttempt)
class ContactAttemptAdmin(ScopedReadOnlyAdmin):
    list_display = ["attempted_at", "case", "channel", "outcome", "decision", "rule", "actor", "is_automatic"]
    list_filter = ["decision", "channel", "rule"]
    list_select_related = ["case", "actor"]


@admin.register(PromiseToPay)
class PromiseToPayAdmin(ScopedReadOnlyAdmin):
    list_display = ["case", "amount", "promised_for", "status", "paid_amount", "created_by"]
    list_select_related = ["case__loan", "created_by"]
    list_filter = ["status"]


@admin.register(Dispute)
class DisputeAdmin(ScopedReadOnlyAdmin):
    list_display = ["case", "status", "raised_at", "raised_by", "resolved_at"]
    list_filter = ["status"]


class PlanInstallmentInline(MoneyDisplayMixin, admin.TabularInline):
    model = PlanInstallment
    fields = readonly_fields = ["sequence", "due_date", "amount"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ScopedReadOnlyAdmin):
    list_display = ["case", "status", "total_amount", "starts_on", "requested_by"]
    list_select_related = ["case__loan", "requested_by"]
    list_filter = ["status"]
    inlines = [PlanInstallmentInline]


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ScopedReadOnlyAdmin):
    list_display = ["id", "case", "kind", "status", "amount", "requested_by", "requested_at", "decided_by"]
    list_filter = ["status", "kind"]
    list_select_related = ["case__loan", "requested_by", "decided_by"]


@admin.register(DunningRun)
class DunningRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "status", "attempts", "duration_ms", "started_at", "finished_at"]
    list_filter = ["status"]


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "product", "aging_bucket", "stage", "team", "loan_count", "outstanding_amount",
                    "overdue_amount"]  # fmt: skip
    list_filter = ["aging_bucket", "product"]
    list_select_related = ["product", "stage", "team"]
