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
        _audit_details_in_words()


def _audit_details_in_words():
    """How the audit trail words a notice's deliveries (letter, e-mail)."""
    from accounts.audit_words import register_detail_words

    from .models import NoticeDelivery

    def channels(values):
        known = NoticeDelivery.Channel
        return ", ".join(str(known(value).label) if value in known.values else str(value) for value in values)

    register_detail_words("deliveries", channels)
