from django.urls import path

from .views import supervision, workspace

app_name = "cases"
urlpatterns = [
    path("cases/", workspace.worklist, name="worklist"),
    path("cases/<int:pk>/", workspace.case_detail, name="detail"),
    path("cases/<int:pk>/reveal/<str:field>/", workspace.reveal, name="reveal"),
    path("cases/<int:pk>/plan-preview/", workspace.plan_preview, name="plan_preview"),
    path("cases/<int:pk>/next/", workspace.next_case, name="next"),
    path("cases/<int:pk>/<slug:form_name>/", workspace.case_action, name="action"),
    path("team/", supervision.team_queue, name="team_queue"),
    path("approvals/", supervision.approvals, name="approvals"),
    path("reviews/", supervision.reviews, name="reviews"),
    path("reviews/<int:pk>/complete/", supervision.review_complete, name="review_complete"),
]
