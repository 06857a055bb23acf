from django.apps import AppConfig


class TrialreadsConfig(AppConfig):
    name = "trialreads"
    verbose_name = "Trial reads (BICR)"
    default_auto_field = "django.db.models.BigAutoField"
