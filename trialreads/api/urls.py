"""``/api/``: names are ``trialreads-api:<resource>-<list|detail|action>``; the blinding matrix test
(tests/trialreads/api/test_blinding_matrix.py) needs an entry for every one of them."""

from __future__ import annotations

from django.urls import path

from . import adjudication, confirmation, endpoints, views

app_name = "trialreads-api"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logoutall/", views.LogoutAllView.as_view(), name="auth-logoutall"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(url_name="trialreads-api:schema"), name="docs"),
    path("trials/", views.TrialList.as_view(), name="trial-list"),
    path("trials/<int:pk>/", views.TrialDetail.as_view(), name="trial-detail"),
    path("trials/<int:pk>/charter/", views.CharterCurrent.as_view(), name="trial-charter"),
    path("trials/<int:pk>/charters/", views.CharterList.as_view(), name="trial-charters"),
    path("trials/<int:pk>/memberships/", views.MembershipList.as_view(), name="trial-memberships"),
    path("trials/<int:pk>/subjects/", views.SubjectList.as_view(), name="trial-subjects"),
    path("trials/<int:pk>/audit/", views.AuditList.as_view(), name="trial-audit"),
    path("subjects/<int:pk>/", views.SubjectDetail.as_view(), name="subject-detail"),
    path("subjects/<int:pk>/timepoints/", views.TimepointList.as_view(), name="subject-timepoints"),
    path("reads/", views.ReadList.as_view(), name="read-list"),
    path("reads/<int:pk>/", views.ReadDetail.as_view(), name="read-detail"),
    path("reads/<int:pk>/timepoint-reads/", views.ReadTimepointReads.as_view(), name="read-timepoint-reads"),
    path("reads/<int:pk>/evaluation/", views.ReadEvaluation.as_view(), name="read-evaluation"),
    path("timepoint-reads/<int:pk>/", views.TimepointReadDetail.as_view(), name="timepoint-read-detail"),
    path(
        "timepoint-reads/<int:pk>/baseline/",
        views.TimepointReadBaseline.as_view(),
        name="timepoint-read-baseline",
    ),
    path(
        "timepoint-reads/<int:pk>/followup/",
        views.TimepointReadFollowup.as_view(),
        name="timepoint-read-followup",
    ),
    path("timepoint-reads/<int:pk>/pet/", views.TimepointReadPet.as_view(), name="timepoint-read-pet"),
    path(
        "timepoint-reads/<int:pk>/prebaseline/",
        views.TimepointReadPrebaseline.as_view(),
        name="timepoint-read-prebaseline",
    ),
    path("timepoint-reads/<int:pk>/sign/", views.TimepointReadSign.as_view(), name="timepoint-read-sign"),
    path(
        "timepoint-reads/<int:pk>/unlock/", views.TimepointReadUnlock.as_view(), name="timepoint-read-unlock"
    ),
    path(
        "timepoint-reads/<int:pk>/signature/verify/",
        views.SignatureVerify.as_view(),
        name="timepoint-read-verify",
    ),
]

# Issue 4: adjudication queue, side-by-side, decide, assign, accepted reads, reader metrics.
urlpatterns += adjudication.urlpatterns

# Issue 5: endpoint computations (trigger, progress, accepted results) and sponsor exports.
urlpatterns += endpoints.urlpatterns

# Issue 15 item 4: confirmation windows of unconfirmed progression and the sponsor contacts.
urlpatterns += confirmation.urlpatterns
