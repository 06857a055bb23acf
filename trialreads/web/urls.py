"""Pages of the web application (login at /login/, the worklist at /)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "trialreads-web"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="trialreads-web:login"), name="logout"),
    path("", views.worklist, name="worklist"),
    path("reads/<int:read_id>/", views.read_detail, name="read"),
    path("timepoint-reads/<int:tr_id>/", views.timepoint_read_form, name="timepoint-read"),
    path("timepoint-reads/<int:tr_id>/check/", views.timepoint_read_check, name="timepoint-read-check"),
    path("timepoint-reads/<int:tr_id>/row/", views.timepoint_read_row, name="timepoint-read-row"),
    path("timepoint-reads/<int:tr_id>/sign/", views.timepoint_read_sign, name="timepoint-read-sign"),
    path("timepoint-reads/<int:tr_id>/unlock/", views.timepoint_read_unlock, name="timepoint-read-unlock"),
    path("adjudication/<int:case_id>/", views.adjudication_detail, name="adjudication"),
    path("adjudication/<int:case_id>/assign/", views.adjudication_assign, name="adjudication-assign"),
    path("trials/<int:trial_id>/", views.dashboard, name="dashboard"),
    path("trials/<int:trial_id>/endpoints/", views.endpoints_compute, name="endpoints-compute"),
    path("trials/<int:trial_id>/endpoints/progress/", views.endpoints_progress, name="endpoints-progress"),
    path("trials/<int:trial_id>/exports/", views.export_start, name="export-start"),
    path("trials/<int:trial_id>/audit/", views.audit_review, name="audit"),
    path("subjects/<int:subject_id>/", views.subject_detail, name="subject"),
    path("exports/<int:batch_id>/", views.export_progress, name="export-progress"),
    path("exports/<int:batch_id>/files/<path:name>", views.export_download, name="export-download"),
]
