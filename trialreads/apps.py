from django.apps import AppConfig


class TrialreadsConfig(AppConfig):
    name = "trialreads"
    verbose_name = "Trial reads (BICR)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at module level, because they need the app registry ready
        # (Django's app-loading order): the system checks (no signal-driven logic: writes go
        # through services), and the Celery tasks, which import models and services, so that
        # their names are registered for ``services.queue``.
        from trialreads import checks, tasks  # noqa: F401
