from django.db import models
from django.utils.translation import gettext_lazy as _


class ReferenceCounter(models.Model):
    """Last number handed out per (prefix, year): human references like LN-2026-000123 without gaps."""

    prefix = models.CharField(_("prefix"), max_length=8)
    year = models.PositiveSmallIntegerField(_("year"))
    last_value = models.PositiveBigIntegerField(_("last value"), default=0)

    class Meta:
        verbose_name = _("reference counter")
        verbose_name_plural = _("reference counters")
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="core_refcounter_prefix_year_uniq")]

    def __str__(self):
        return f"{self.prefix}-{self.year}: {self.last_value}"
