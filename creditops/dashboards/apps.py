from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "creditops.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards")

    def ready(self):
        from accounts.audit_words import register_detail_words

        from .exports import table_title

        register_detail_words("table", table_title)
