from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .datasets import FEATURE_LABELS
from .models import RiskModel
from .scorecard import points_table

METRIC_NAMES = {"auc": "AUC", "gini": "Gini", "ks": "KS"}


@admin.register(RiskModel)
class RiskModelAdmin(admin.ModelAdmin):
    """Versions are written by `risk_train` only; a Manager or Compliance user approves or rejects them."""

    list_display = ["__str__", "dataset", "status", "holdout_display", "trained_at", "trained_by", "decided_by"]
    list_filter = ["kind", "status"]
    actions = ["approve", "reject"]
    readonly_fields = [
        "kind", "version", "dataset", "status", "holdout_display", "training_display", "rows_display",
        "features_display", "window_from", "window_to", "seed", "data_sha256", "table_sha256", "artifact_sha256",
        "trained_at", "trained_by", "decided_at", "decided_by", "decision_note", "points_display",
    ]  # fmt: skip
    exclude = ["artifact", "features", "metrics"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return request.user.has_perm("risk.decide_riskmodel")

    @admin.display(description=_("held-out metrics"))
    def holdout_display(self, obj):
        return _metrics_in_words(obj.metrics.get("holdout", {}))

    @admin.display(description=_("training metrics"))
    def training_display(self, obj):
        return _metrics_in_words(obj.metrics.get("training", {}))

    @admin.display(description=_("rows (training / held out)"))
    def rows_display(self, obj):
        rows = obj.metrics.get("rows", {})
        return f"{rows.get('training', '—')} / {rows.get('holdout', '—')}"

    @admin.display(description=_("features"))
    def features_display(self, obj):
        return ", ".join(str(FEATURE_LABELS.get(name, name)) for name in obj.features)

    @admin.display(description=_("points"))
    def points_display(self, obj):
        table = points_table(services.risk_model_load(obj))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td style='text-align:right'>{}</td></tr>",
            ((FEATURE_LABELS.get(row.Variable, row.Variable), row.Bin, f"{row.Points:.2f}")
             for row in table.itertuples()),
        )  # fmt: skip
        header = format_html("<tr><th>{}</th><th>{}</th><th>{}</th></tr>", _("feature"), _("bin"), _("points"))
        return format_html("<table>{}{}</table>", header, rows)

    @admin.action(description=_("Approve the selected versions"), permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected versions"), permissions=["decide"])
    def reject(self, request, queryset):
        self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve: bool):
        decided = 0
        for model in queryset.order_by("kind", "version"):
            try:
                services.risk_model_decide(model=model, approve=approve, actor=request.user)
                decided += 1
            except (PermissionDenied, ValidationError) as error:
                reason = " ".join(getattr(error, "messages", [str(error)]))
                self.message_user(request, f"{model}: {reason}", messages.ERROR)
        if decided:
            text = ngettext("%(count)d version decided.", "%(count)d versions decided.", decided)
            self.message_user(request, text % {"count": decided}, messages.SUCCESS)


def _metrics_in_words(metrics: dict) -> str:
    return ", ".join(f"{label} {metrics[key]:.4f}" for key, label in METRIC_NAMES.items() if key in metrics) or "—"
