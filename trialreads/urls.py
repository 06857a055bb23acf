"""URLs of the trialreads app (API under /api/, pages at the root)."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/", include("trialreads.api.urls")),
    path("", include("trialreads.web.urls")),
]
