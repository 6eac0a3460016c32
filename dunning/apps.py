from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DunningConfig(AppConfig):
    # Not "collections": that name is taken by Python's standard library.
    name = "dunning"
    verbose_name = _("Collections")
