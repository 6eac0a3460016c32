from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("cases/", views.worklist, name="worklist"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/reveal/<str:field>/", views.reveal, name="reveal"),
    path("cases/<int:pk>/<slug:form_name>/", views.case_action, name="action"),
    path("team/", views.team_queue, name="team_queue"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/decide/", views.approval_decide, name="decide"),
]
