from axes.apps import AppConfig as AxesConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django_q.apps import DjangoQConfig


class CoreConfig(AppConfig):
    default = True  # this module also names the third-party apps below
    name = "creditops.core"
    label = "core"
    verbose_name = _("Core")


# Third-party apps under names in the portal's languages (their own verbose names are English only).
class TaskQueueConfig(DjangoQConfig):
    verbose_name = _("Background tasks")


class LoginLockoutConfig(AxesConfig):
    verbose_name = _("Sign-in lockouts")
