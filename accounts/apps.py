from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and audit")

    def ready(self):
        from .roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, sender=self, dispatch_uid="accounts.sync_role_permissions")
