from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DunningConfig(AppConfig):
    # Not "collections": that name is taken by Python's standard library.
    name = "dunning"
    verbose_name = _("Collections")

    def ready(self):
        from lending.signals import payment_posted, payment_reversed

        from .receivers import payment_on_timeline

        payment_posted.connect(payment_on_timeline, dispatch_uid="dunning.payment_posted")
        payment_reversed.connect(payment_on_timeline, dispatch_uid="dunning.payment_reversed")
