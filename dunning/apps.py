from django.apps import AppConfig
from django.apps import apps as global_apps
from django.utils.translation import gettext_lazy as _


class DunningConfig(AppConfig):
    # Not "collections": that name is taken by Python's standard library.
    name = "dunning"
    verbose_name = _("Collections")

    def ready(self):
        from django.db.models.signals import post_migrate

        from lending.signals import payment_posted, payment_reversed

        from . import import_receivers  # noqa: F401 - connects the bulk import's timeline receiver
        from .receivers import payment_on_timeline

        payment_posted.connect(payment_on_timeline, dispatch_uid="dunning.payment_posted")
        payment_reversed.connect(payment_on_timeline, dispatch_uid="dunning.payment_reversed")
        # A flush (TransactionTestCase) empties the tables the data migration filled; this refills them.
        post_migrate.connect(_install_defaults_after_migrate, sender=self, dispatch_uid="dunning.defaults")


def _install_defaults_after_migrate(sender, apps=None, using="default", **kwargs):
    from .defaults import install_defaults

    install_defaults(apps or global_apps, using=using)
