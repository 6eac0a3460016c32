from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "notices"
    verbose_name = _("Notices")

    def ready(self):
        from dunning.signals import plan_started

        from . import checks  # noqa: F401 - registers the font and subsetting checks
        from .receivers import confirm_plan_by_notice

        plan_started.connect(confirm_plan_by_notice, dispatch_uid="notices.plan_started")
