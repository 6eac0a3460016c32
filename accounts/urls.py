from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.language, name="language"),
    path("audit/", views.audit_events, name="audit"),
    path("audit/blocked-contacts/", views.blocked_contacts, name="blocked_contacts"),
]
