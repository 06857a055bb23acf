from django.apps import AppConfig


class TrialreadsConfig(AppConfig):
    name = "trialreads"
    verbose_name = "Trial reads (BICR)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # System checks only: no signal-driven logic (writes go through services).
        from trialreads import checks  # noqa: F401
