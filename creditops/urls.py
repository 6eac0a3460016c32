from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from creditops.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("notices/", include("notices.urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
