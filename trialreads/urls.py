"""URLs of the trialreads app (API under /api/, pages at the root)."""

urlpatterns: list = []
