"""URLs of the trialreads app (API under /api/, pages at the root)."""

from django.urls import include, path

urlpatterns: list = [
    path("api/", include("trialreads.api.urls")),
]
