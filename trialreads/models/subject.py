"""Subjects and their imaging timepoints."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from trialreads.choices import Modality

from .base import AuditedManager, date_window
from .trial import Site, Trial


class Subject(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="subjects")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="subjects")
    subject_code = models.CharField(max_length=40)
    randomisation_date = models.DateField()
    # Treatment arm: never shown to readers or adjudicators (blinding; see access.py).
    arm = models.CharField(max_length=40, blank=True, default="")
    death_date = models.DateField(null=True, blank=True)
    last_contact_date = models.DateField(null=True, blank=True)
    #: First dose of study treatment (SDTM DM ``RFXSTDTC``; ADaM ``TRTSDT``), when the sponsor gives it.
    first_dose_date = models.DateField(null=True, blank=True)
    #: The sponsor's reference start date (SDTM DM ``RFSTDTC``): day 1 of ``--DY`` and the
    #: boundary of the charter's epochs (``Charter.epoch_rule``); unknown when not given.
    reference_start_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["trial", "subject_code"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "subject_code"], name="subject_unique_code"),
            models.CheckConstraint(
                condition=date_window("randomisation_date"), name="subject_randomisation_date_window"
            ),
            models.CheckConstraint(
                condition=date_window("death_date", null=True), name="subject_death_date_window"
            ),
            models.CheckConstraint(
                condition=date_window("last_contact_date", null=True), name="subject_last_contact_date_window"
            ),
            models.CheckConstraint(
                condition=date_window("first_dose_date", null=True), name="subject_first_dose_date_window"
            ),
            models.CheckConstraint(
                condition=date_window("reference_start_date", null=True),
                name="subject_reference_start_date_window",
            ),
        ]

    def __str__(self) -> str:
        return self.subject_code


#: visit_number is DECIMAL(6, 1); the services refuse more, a CHECK constraint too.
VISIT_NUMBER_MAX = Decimal("99999.9")


class ImagingTimepoint(models.Model):
    """One imaging visit. ``scan_date_earliest``/``latest`` span the scans of the visit:
    progression is dated at the earliest, response at the latest (CDISC RECIST supplement)."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="timepoints")
    visit_label = models.CharField(max_length=40)
    visit_number = models.DecimalField(max_digits=6, decimal_places=1)
    sequence = models.PositiveIntegerField()
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.CT)
    scan_date_earliest = models.DateField()
    scan_date_latest = models.DateField()
    #: The scan date as collected when it was partial (``2014-02``; SDTM ``--DTC`` keep it),
    #: and the rule (``trialreads.exports.dates``) that imputed the scan dates the engine uses
    #: from it; both empty for a full date.
    scan_date_collected = models.CharField(max_length=10, blank=True, default="")
    scan_date_imputation = models.CharField(max_length=8, blank=True, default="")
    is_baseline = models.BooleanField(default=False)
    #: A scan before the baseline (tumour growth rate's reference period): read for the
    #: baseline targets only, never a follow-up; its scan date lies before the baseline's.
    is_prebaseline = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["subject", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "sequence"], name="timepoint_unique_sequence"),
            models.UniqueConstraint(fields=["subject", "visit_label"], name="timepoint_unique_visit_label"),
            models.UniqueConstraint(
                fields=["subject"], condition=Q(is_baseline=True), name="timepoint_one_baseline"
            ),
            models.CheckConstraint(
                condition=Q(scan_date_earliest__lte=F("scan_date_latest")),
                name="timepoint_scan_dates_ordered",
            ),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="timepoint_sequence_positive"),
            models.CheckConstraint(
                condition=~Q(is_baseline=True, is_prebaseline=True), name="timepoint_prebaseline_not_baseline"
            ),
            models.CheckConstraint(
                condition=Q(visit_number__gte=0, visit_number__lte=VISIT_NUMBER_MAX),
                name="timepoint_visit_number_range",
            ),
            # With timepoint_scan_dates_ordered, both scan dates lie in the window.
            models.CheckConstraint(
                condition=date_window("scan_date_earliest") & date_window("scan_date_latest"),
                name="timepoint_scan_dates_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id}/{self.visit_label}"
