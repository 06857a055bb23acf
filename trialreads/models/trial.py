"""The trial aggregate: Trial, its versioned Charter, its Sites and its memberships."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from trialreads.choices import ReadParadigm, TrialRole
from trialreads.exports.dates import RULE_NAMES
from trialreads.validators import DAYS_MAX

from .base import AuditedManager, date_window


class Trial(models.Model):
    code = models.CharField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def chain_id(self) -> str:
        """The audit chain of everything that happens inside this trial."""
        return f"trial:{self.pk}"


def default_criteria() -> list[str]:
    return ["recist1.1"]


def default_adjudication_rules() -> dict[str, object]:
    return {"variables": ["bor", "pd_date"], "pd_date_tolerance_days": 7}


def default_analyses() -> list[str]:
    return []


def default_engine_settings() -> dict[str, object]:
    return {}


#: ``criteria.types.Settings`` fields that a charter column sets (the column's name):
#: ``Charter.engine_settings`` may not name them, so each setting has one source.
CHARTER_SETTING_FIELDS: dict[str, str] = {
    "sd_min_days": "sd_min_days",
    "confirm_min_days": "confirm_min_days",
    "irecist_confirm_window_days": "irecist_window_min_days / irecist_window_max_days",
}


#: ``Charter.epoch_rule`` choices (the rules are ``trialreads.exports.epochs``).
EPOCH_RULES = [("", "not provided"), ("screening_treatment", "SCREENING before RFSTDTC, TREATMENT on/after")]


class Charter(models.Model):
    """The imaging review charter's machine-readable part. Versioned data: a change is a
    new row (``charter_publish``), never an edit, so every read and endpoint can name the
    version it was evaluated under."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="charters")
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    criteria = models.JSONField(default=default_criteria)
    primary_criterion = models.CharField(max_length=20, default="recist1.1")
    sd_min_days = models.PositiveIntegerField(default=42)
    confirm_min_days = models.PositiveIntegerField(default=28)
    confirmation_required = models.BooleanField(default=True)
    irecist_window_min_days = models.PositiveIntegerField(default=28)
    irecist_window_max_days = models.PositiveIntegerField(default=56)
    adjudication_rules = models.JSONField(default=default_adjudication_rules)
    #: The PET tracer of the trial's PET reads (PERCIST family: FDG; PERCIMT is for FDG too).
    pet_tracer = models.CharField(max_length=20, default="FDG")
    #: Growth-family analyses computed with the endpoints (``criteria.evaluate.ANALYSES``).
    analyses = models.JSONField(default=default_analyses, blank=True)
    #: Overrides of ``criteria.types.Settings`` fields that no column above sets (the
    #: ambiguity readings, e.g. ``{"ir_pd_date": "confirming"}``); parsed by the engine's own
    #: ``criteria.parse.parse_settings`` (``trialreads.snapshot.settings_from_charter``).
    engine_settings = models.JSONField(default=default_engine_settings, blank=True)
    read_paradigm = models.CharField(
        max_length=10, choices=ReadParadigm.choices, default=ReadParadigm.TWO_PLUS_ONE
    )
    #: How a partial scan date (``2014-02``) is imputed for the engine and ADaM ``ADT``
    #: (``trialreads.exports.dates``: first / mid / last day of the collected period, or the
    #: nominal visit day an SDTM import knows). The default keeps the import's former rule.
    date_imputation = models.CharField(
        max_length=8, choices=[(name, name) for name in RULE_NAMES], default="nominal"
    )
    #: The sponsor's epochs, when it gives them (SDTM ``EPOCH``): ``""`` none (the transfer
    #: leaves EPOCH out), ``screening_treatment``: SCREENING before the subject's reference
    #: start date (``Subject.reference_start_date``), TREATMENT on and after it.
    epoch_rule = models.CharField(max_length=24, choices=EPOCH_RULES, blank=True, default="")
    effective_from = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    objects = AuditedManager()

    class Meta:
        ordering = ["trial", "version"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "version"], name="charter_unique_version"),
            models.UniqueConstraint(
                fields=["trial"], condition=Q(is_current=True), name="charter_one_current"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="charter_version_positive"),
            models.CheckConstraint(
                condition=Q(irecist_window_min_days__lte=models.F("irecist_window_max_days")),
                name="charter_irecist_window_ordered",
            ),
            models.CheckConstraint(
                condition=date_window("effective_from"), name="charter_effective_from_window"
            ),
            models.CheckConstraint(
                condition=Q(date_imputation__in=RULE_NAMES), name="charter_date_imputation_rule"
            ),
            models.CheckConstraint(
                condition=Q(epoch_rule__in=[value for value, _ in EPOCH_RULES]), name="charter_epoch_rule"
            ),
            # The day counts are PositiveIntegerFields (>= 0 already); the services cap them too.
            models.CheckConstraint(
                condition=Q(
                    sd_min_days__lte=DAYS_MAX,
                    confirm_min_days__lte=DAYS_MAX,
                    irecist_window_min_days__lte=DAYS_MAX,
                    irecist_window_max_days__lte=DAYS_MAX,
                ),
                name="charter_days_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trial_id} charter v{self.version}"


class Site(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["trial", "code"]
        constraints = [models.UniqueConstraint(fields=["trial", "code"], name="site_unique_code")]

    def __str__(self) -> str:
        return self.code


class TrialMembership(models.Model):
    """A user's single role in one trial. One role per user per trial keeps blinding simple:
    a reader can never also be the adjudicator or see the manager's view."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trial_memberships"
    )
    role = models.CharField(max_length=20, choices=TrialRole.choices)
    reader_label = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["trial", "role", "reader_label"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "user"], name="membership_one_role_per_trial"),
            models.UniqueConstraint(
                fields=["trial", "reader_label"],
                condition=~Q(reader_label=""),
                name="membership_unique_reader_label",
            ),
            models.CheckConstraint(
                condition=Q(role=TrialRole.READER) | Q(reader_label=""),
                name="membership_label_only_for_readers",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.trial_id}:{self.role}"
