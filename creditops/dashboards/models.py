"""What the dashboards store besides the nightly run's snapshots: each finished day's collections activity."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from lending.models import MoneyField, Product


class ActivityDay(models.Model):
    """A business day whose collections activity has been counted into DailyActivity (so a day with no
    activity is not counted again)."""

    as_of = models.DateField(_("business date"), unique=True)
    computed_at = models.DateTimeField(_("computed"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity day")
        verbose_name_plural = _("activity days")

    def __str__(self):
        return str(self.as_of)


class DailyActivity(models.Model):
    """One day's collections work per product, team and collector: contacts, promises, money collected
    and notices. Counted once for a finished day (by the next nightly run, or on demand by the dashboard).
    Contacts and promises count for who made them; payments and notices for the case's collector."""

    as_of = models.DateField(_("business date"))
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    collector = models.ForeignKey(
        User, verbose_name=_("collector"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cases_worked = models.PositiveIntegerField(_("cases worked"), default=0)
    contacts = models.PositiveIntegerField(_("contacts"), default=0)
    right_party_contacts = models.PositiveIntegerField(_("right-party contacts"), default=0)
    blocked_contacts = models.PositiveIntegerField(_("blocked contacts"), default=0)
    promises_made = models.PositiveIntegerField(_("promises made"), default=0)
    promises_kept = models.PositiveIntegerField(_("promises kept"), default=0)
    promises_broken = models.PositiveIntegerField(_("promises broken"), default=0)
    amount_collected = MoneyField(_("amount collected"))
    penalty_charged = MoneyField(_("penalty charged"))
    penalty_collected = MoneyField(_("penalty collected"))
    notices_issued = models.PositiveIntegerField(_("notices issued"), default=0)
    notices_delivered = models.PositiveIntegerField(_("notices delivered"), default=0)
    notices_failed = models.PositiveIntegerField(_("notices failed"), default=0)

    class Meta:
        verbose_name = _("daily activity")
        verbose_name_plural = _("daily activity")
        indexes = [models.Index(fields=["as_of", "product"], name="activity_date_idx")]

    def __str__(self):
        return f"{self.as_of} {self.product_id} {self.collector_id}"
