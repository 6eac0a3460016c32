from django.contrib import admin
from django.urls import include, path

from creditops.core.views import healthz, home

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("creditops.api.urls")),
    path("notices/", include("notices.urls")),
    path("accounts/", include("accounts.urls")),
    path("dashboard/", include("creditops.dashboards.urls")),
    path("", include("dunning.urls")),
    path("", home, name="home"),
]
