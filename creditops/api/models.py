from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A key one integration (core banking, a payment channel) calls the API with. It acts as its `user`:
    the user's roles decide what it sees, exactly as in the portal. Only a hash of the secret is kept;
    the key itself is shown once, when it is issued."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    name = models.CharField(_("name"), max_length=100, help_text=_("Which system uses it, e.g. core-banking."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("acts as"), on_delete=models.PROTECT, related_name="api_keys"
    )
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    # The public part of the key, used to find its row; the secret is checked against secret_hash.
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True)
    secret_hash = models.CharField(_("SHA-256 of the key"), max_length=64)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user"], name="apikey_user_idx", condition=Q(revoked_at__isnull=True))]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def allows_writes(self) -> bool:
        return self.scope == self.Scope.WRITE
