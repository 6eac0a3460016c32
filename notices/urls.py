from django.urls import path

from . import views

app_name = "notices"
urlpatterns = [
    path("verify/<str:reference>/", views.verify, name="verify"),
    path("<int:pk>/pdf/", views.notice_download, name="pdf"),
    path("preview/<int:case_id>/<str:kind>/", views.notice_preview_pdf, name="preview"),
]
