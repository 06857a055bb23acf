"""The API with the adjudication endpoints included, for their tests until the integrator
adds ``adjudication.urlpatterns`` to ``trialreads/api/urls.py`` (and the blinding matrix)."""

from __future__ import annotations

from django.urls import include, path

from trialreads.api import adjudication
from trialreads.api import urls as api_urls

urlpatterns = [path("api/", include((api_urls.urlpatterns + adjudication.urlpatterns, "api")))]
