"""Derived data: endpoint computations and sponsor export batches (celery-concurrency-ci §6.4).

Celery delivers at least once (``acks_late`` + ``reject_on_worker_lost`` redeliver a task
whose worker died, and Redis redelivers one that outlives the visibility timeout), so the
*effects* are made exactly-once here:

* :class:`EndpointJob` is one trial-level computation, keyed by trial, charter version,
  algorithm version and the SHA-256 of every input it reads. A worker *claims* it (status
  RUNNING, ``lease_owner``, ``lease_expires_at``, ``attempts += 1``), renews the lease as it
  goes (``done``/``total`` are the progress the API shows) and finishes it only while it
  still holds the lease. ``attempts`` is capped so a task that kills its worker cannot loop.
* :class:`EndpointRun` is one subject x criterion result, unique on (trial, subject,
  criterion, algorithm version, input hash): a redelivered or duplicate task inserts the
  same key again and the insert is a no-op, so the same result is written once.
* :class:`EndpointAnalysis` is one subject's growth-family analyses, keyed like its runs.
* :class:`ExportBatch` is one sponsor transfer with the SHA-256 of every file it wrote.

These rows are derived from the clinical data and can always be recomputed from it; they
are not clinical source records, so unlike the audited models they allow bulk writes
(thousands of results per computation) and carry no lock triggers. Their creation is
still audited (``ENDPOINT_COMPUTED``, ``EXPORT_CREATED``) by the services.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .base import date_window
from .subject import Subject
from .trial import Charter, Trial


class JobStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class ClaimableJob(models.Model):
    """Claim, lease and progress columns shared by endpoint jobs and export batches."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    lease_owner = models.CharField(max_length=200, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True, default="")
    task_id = models.CharField(max_length=100, blank=True, default="")
    requested_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Declared by the concrete models (each with its own reverse name).
    trial: Trial
    trial_id: int
    input_sha256: str

    class Meta:
        abstract = True

    @property
    def progress(self) -> float:
        return (
            1.0
            if self.total == 0 and self.status == JobStatus.DONE
            else (self.done / self.total if self.total else 0.0)
        )


class EndpointJob(ClaimableJob):
    """One computation of every subject x criterion of a trial under one charter version.

    ``subject_hashes`` maps subject id -> the input hash of its runs, so the job names
    exactly which :class:`EndpointRun` rows make up its result.
    """

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="endpoint_jobs")
    charter = models.ForeignKey(Charter, on_delete=models.PROTECT, related_name="endpoint_jobs")
    algorithm_version = models.CharField(max_length=20)
    input_sha256 = models.CharField(max_length=64)
    subject_hashes = models.JSONField(default=dict, blank=True)
    failed_runs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["trial", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "charter", "algorithm_version", "input_sha256"],
                name="endpointjob_unique_inputs",
            ),
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")), name="endpointjob_done_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"endpoint job {self.pk} ({self.status})"


class EndpointRun(models.Model):
    """One subject x criterion: the engine's result on every reader's read, and which
    evaluator's result is the accepted (BICR) one.

    ``result`` maps the CDISC evaluator (``RADIOLOGIST 1``...) to the lossless JSON of its
    ``criteria.types.CriterionResult`` (``services.endpoints.result_to_json``).
    """

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="endpoint_runs")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="endpoint_runs")
    charter = models.ForeignKey(Charter, on_delete=models.PROTECT, related_name="endpoint_runs")
    job = models.ForeignKey(EndpointJob, on_delete=models.PROTECT, related_name="runs")
    criterion = models.CharField(max_length=20)
    algorithm_version = models.CharField(max_length=20)
    input_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DONE)
    accepted_evaluator = models.CharField(max_length=20, blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial", "subject", "criterion", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "subject", "criterion", "algorithm_version", "input_sha256"],
                name="endpointrun_unique_inputs",
            ),
        ]
        indexes = [models.Index(fields=["trial", "input_sha256"], name="endpointrun_trial_input")]

    def __str__(self) -> str:
        return f"endpoint run {self.subject_id}/{self.criterion} ({self.status})"


class EndpointAnalysis(models.Model):
    """One subject's growth-family analyses (the charter's ``analyses``: hyperprogression by
    each definition, pseudoprogression per criterion, dissociated response), on every
    reader's read, and which evaluator's is the accepted (BICR) one. Written with the
    subject's :class:`EndpointRun` rows, keyed the same way.

    ``result`` maps the CDISC evaluator to the lossless JSON of that read's analyses
    (``endpoint_results.analyses_to_json``); ``status`` FAILED with ``reason`` when the
    engine could not run them on a read.
    """

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="endpoint_analyses")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="endpoint_analyses")
    charter = models.ForeignKey(Charter, on_delete=models.PROTECT, related_name="endpoint_analyses")
    job = models.ForeignKey(EndpointJob, on_delete=models.PROTECT, related_name="analyses")
    algorithm_version = models.CharField(max_length=20)
    input_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DONE)
    accepted_evaluator = models.CharField(max_length=20, blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial", "subject", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "subject", "algorithm_version", "input_sha256"],
                name="endpointanalysis_unique_inputs",
            ),
        ]

    def __str__(self) -> str:
        return f"endpoint analyses {self.subject_id} ({self.status})"


class ExportBatch(ClaimableJob):
    """One sponsor transfer built from a finished :class:`EndpointJob`.

    ``directory`` is relative to ``MEDIA_ROOT``; ``files`` lists name, size and SHA-256 of
    every file written (the manifest's own list plus the manifest itself). ``data_cutoff``
    is the sponsor's "data as of" date (none: all data); it is part of ``input_sha256``, so
    each cut-off of the same results is its own batch.
    """

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="export_batches")
    job = models.ForeignKey(EndpointJob, on_delete=models.PROTECT, related_name="exports")
    input_sha256 = models.CharField(max_length=64)
    directory = models.CharField(max_length=300, blank=True, default="")
    files = models.JSONField(default=list, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True, default="")
    include_chain_head = models.BooleanField(default=True)
    data_cutoff = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["trial", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "input_sha256"], name="exportbatch_unique_inputs"),
            models.CheckConstraint(
                condition=date_window("data_cutoff", null=True), name="exportbatch_data_cutoff_window"
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"
