from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("borrowers", views.BorrowerViewSet, basename="borrower")
router.register("loans", views.LoanViewSet, basename="loan")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("cases", views.CaseViewSet, basename="case")
router.register("contact-attempts", views.ContactAttemptViewSet, basename="contact-attempt")
router.register("promises", views.PromiseViewSet, basename="promise")
router.register("notices", views.NoticeViewSet, basename="notice")
router.register("runs", views.RunViewSet, basename="run")

app_name = "api"
urlpatterns = [
    path("v1/", include(router.urls)),
    # The description is public on the intranet (it holds no data); every endpoint it describes is not.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # The split view serves its script from a URL of its own: the portal's CSP forbids inline scripts.
    path(
        "docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[AllowAny]), name="docs"
    ),
    re_path(r"", views.not_found),
]
