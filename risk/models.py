"""Risk models as governed records: each training run stores a version (its file, features, training
window, metrics and data fingerprint); a Manager or Compliance user who did not train it approves it
before it scores anything (maker-checker), and approving a version retires the one in use."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class RiskModel(models.Model):
    class Kind(models.TextChoices):
        APPLICATION = "application", _("Application scorecard")

    class Dataset(models.TextChoices):
        BOOK = "book", _("The book's own loans")
        GERMAN_CREDIT = "german_credit", _("German credit data (Statlog, 1,000 applications)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved, in use")
        REJECTED = "rejected", _("Rejected")
        RETIRED = "retired", _("Retired")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    version = models.PositiveIntegerField(_("version"))
    dataset = models.CharField(_("training data"), max_length=32, choices=Dataset.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    features = models.JSONField(_("features"), default=list)
    # The applications' or cases' dates the data covers (empty for a dataset without dates).
    window_from = models.DateField(_("training window from"), null=True, blank=True)
    window_to = models.DateField(_("training window to"), null=True, blank=True)
    seed = models.PositiveIntegerField(_("random seed"))
    metrics = models.JSONField(_("metrics"), default=dict)
    data_sha256 = models.CharField(_("training data SHA-256"), max_length=64)
    # The points table's fingerprint: the same data and seed train the same scorecard.
    table_sha256 = models.CharField(_("points table SHA-256"), max_length=64)
    # The fitted model (pickled), read back only after its SHA-256 matches.
    artifact = models.FileField(_("model file"), upload_to="risk-models/")
    artifact_sha256 = models.CharField(_("model file SHA-256"), max_length=64)
    trained_at = models.DateTimeField(_("trained"), auto_now_add=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("trained by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("risk model")
        verbose_name_plural = _("risk models")
        ordering = ["kind", "-version"]
        permissions = [("decide_riskmodel", _("Can approve or reject a risk model"))]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="risk_model_version_uniq"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="approved"), name="risk_model_one_in_use_per_kind"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} v{self.version}"
