"""The endpoint job of a trial: every subject x every criterion of the charter, on each
reader's read, plus which evaluator's result is the accepted (BICR) one.

Exactly-once effects on top of at-least-once delivery (celery-concurrency-ci §6.4), one
concept per module:

1. Inputs (:mod:`~trialreads.services.endpoint_inputs`): :func:`load_trial_inputs` maps the
   trial's snapshot (a fixed number of queries) to ``criteria.types.Subject`` values, one per
   signed read, and hashes them; the hash of hashes keys the
   :class:`~trialreads.models.EndpointJob`, so a redelivered task finds the job DONE.
2. The lease (:mod:`~trialreads.services.leases`): :func:`job_claim` takes the job's lease,
   taking over a dead or expired holder's; ``attempts`` is capped.
3. The engine runs in chunks (on forked processes for large trials,
   :mod:`trialreads.fork_pool`); after each chunk the progress counter and the lease are
   renewed, conditional on still holding the lease (:func:`job_progress`).
4. :func:`job_finish` writes every :class:`~trialreads.models.EndpointRun`, flips the job to
   DONE and appends the ``ENDPOINT_COMPUTED`` audit event in one transaction, again
   conditional on the lease. Runs are unique on (trial, subject, criterion, algorithm
   version, input hash) and inserted with ``ignore_conflicts``: a duplicate writer inserts
   nothing. Bulk inserts are allowed here because endpoint runs are derived data (see
   ``models/endpoint.py``), not audited clinical records.
5. Results (:mod:`~trialreads.endpoint_results`): the lossless JSON codec and the
   runs of a DONE job.

The names of 1, 2 and 5 that callers of this service use are re-exported here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from trialreads import conf
from trialreads.bulk import fork_processes, gc_paused
from trialreads.choices import AuditEventType
from trialreads.endpoint_results import (
    EVALUATOR_BY_SLOT,
    analyses_to_json,
    job_analyses,
    job_runs,
    latest_done_job,
    result_from_json,
    result_to_json,
)
from trialreads.evaluation import evaluate_each
from trialreads.fork_pool import imap_slices
from trialreads.models.endpoint import EndpointAnalysis, EndpointJob, EndpointRun, JobStatus
from trialreads.services.audit import audit_record
from trialreads.services.endpoint_inputs import (
    ALGORITHM_VERSION,
    SubjectInputs,
    TrialInputs,
    load_trial_inputs,
)
from trialreads.services.leases import (
    Claim,
    LeaseKind,
    LeaseLost,
    lease_claim,
    lease_renew,
    worker_identity,
)

__all__ = [
    "ALGORITHM_VERSION",
    "ENDPOINT_LEASE",
    "EVALUATOR_BY_SLOT",
    "AnalysisValues",
    "Claim",
    "ComputeOutcome",
    "LeaseLost",
    "RunValues",
    "SubjectInputs",
    "TrialInputs",
    "endpoints_compute",
    "evaluate_subject",
    "job_analyses",
    "job_claim",
    "job_finish",
    "job_get_or_create",
    "job_progress",
    "job_runs",
    "latest_done_job",
    "load_trial_inputs",
    "result_from_json",
    "result_to_json",
    "worker_identity",
]

logger = logging.getLogger(__name__)

#: The endpoint job's lease: a job given up on is audited as ``ENDPOINT_COMPUTED``.
ENDPOINT_LEASE = LeaseKind(EndpointJob, AuditEventType.ENDPOINT_COMPUTED, "endpoint_job")


# --- evaluation -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunValues:
    """One EndpointRun to write. ``result_json`` is the result column as JSON text, rendered
    where the result was computed: that is the form the insert sends, and a string is far
    cheaper to hand back from an evaluation process than a dict tree."""

    subject_id: int
    criterion: str
    status: str
    input_sha256: str
    accepted_evaluator: str
    reason: str
    result_json: str


@dataclasses.dataclass(frozen=True)
class AnalysisValues:
    """One EndpointAnalysis to write: the subject's analyses on each read (JSON text)."""

    subject_id: int
    status: str
    input_sha256: str
    accepted_evaluator: str
    reason: str
    result_json: str


def evaluate_subject(
    inputs: SubjectInputs, wanted: Sequence[str], analyses: Sequence[str] = ()
) -> list[RunValues | AnalysisValues]:
    """Every criterion on every read of one subject (pure: no database), then the subject's
    analyses when the charter asks for some.

    Each criterion stands alone (:func:`trialreads.evaluation.evaluate_each`): a criterion
    the engine cannot evaluate on a read (irRC without perpendicular diameters, a PET
    criterion without PET input, itRECIST without injected flags) makes that criterion's run
    FAILED, its reason the engine's message per evaluator, and the other criteria's runs are
    computed as usual."""
    per_criterion: dict[str, dict[str, Any]] = {c: {} for c in wanted}
    problems: dict[str, list[str]] = {c: [] for c in wanted}
    per_read_analyses: dict[str, Any] = {}
    analysis_problems: list[str] = []
    for slot, subject in sorted(inputs.reads.items()):
        evaluator = EVALUATOR_BY_SLOT[slot]
        evaluation = evaluate_each(subject, wanted, analyses)
        for criterion, message in evaluation.errors.items():
            problems[criterion].append(f"{evaluator}: {message}")
        for criterion, result in evaluation.results.items():
            per_criterion[criterion][evaluator] = result_to_json(result)
        if evaluation.analyses_error:
            analysis_problems.append(f"{evaluator}: {evaluation.analyses_error}")
        elif analyses:
            per_read_analyses[evaluator] = analyses_to_json(evaluation.analyses)
    chosen = inputs.accepted_slot
    accepted = EVALUATOR_BY_SLOT[chosen] if chosen is not None and chosen in inputs.reads else ""
    out: list[RunValues | AnalysisValues] = [
        RunValues(
            subject_id=inputs.subject_id,
            criterion=criterion,
            status=JobStatus.FAILED if problems[criterion] else JobStatus.DONE,
            input_sha256=inputs.input_sha256,
            accepted_evaluator=accepted,
            reason="; ".join(problems[criterion]),
            result_json=_dumps(per_criterion[criterion]),
        )
        for criterion in wanted
    ]
    if analyses:
        out.append(
            AnalysisValues(
                subject_id=inputs.subject_id,
                status=JobStatus.FAILED if analysis_problems else JobStatus.DONE,
                input_sha256=inputs.input_sha256,
                accepted_evaluator=accepted,
                reason="; ".join(analysis_problems),
                result_json=_dumps(per_read_analyses),
            )
        )
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


# --- the job: claim, progress, finish -----------------------------------------------------------


# --- the job: claim, progress, finish -----------------------------------------------------------


def job_get_or_create(inputs: TrialInputs, *, requested_by: str = "", task_id: str = "") -> EndpointJob:
    total = len(inputs.subjects) * len(inputs.criteria)
    job, _ = EndpointJob.objects.get_or_create(
        trial=inputs.trial,
        charter=inputs.charter,
        algorithm_version=ALGORITHM_VERSION,
        input_sha256=inputs.input_sha256,
        defaults={
            "total": total,
            "requested_by": requested_by,
            "task_id": task_id,
            "subject_hashes": {str(s.subject_id): s.input_sha256 for s in inputs.subjects},
        },
    )
    return job


def job_claim(job_id: int, owner: str) -> Claim:
    """Take the lease of an endpoint job (:func:`~trialreads.services.leases.lease_claim`)."""
    return lease_claim(ENDPOINT_LEASE, job_id, owner)


def job_progress(job_id: int, owner: str, done: int) -> None:
    """Record progress and renew the lease; :class:`LeaseLost` if it is no longer ours."""
    lease_renew(ENDPOINT_LEASE, job_id, owner, done)


def job_finish(job: EndpointJob, owner: str, runs: Iterable[RunValues | AnalysisValues]) -> EndpointJob:
    """Write the runs (and the subjects' analyses), mark the job DONE and audit it, in one
    transaction, only while the lease is still ours (step 5)."""
    values = list(runs)
    run_values = [r for r in values if isinstance(r, RunValues)]
    analyses = [a for a in values if isinstance(a, AnalysisValues)]
    failed = sum(1 for r in run_values if r.status == JobStatus.FAILED)
    now = timezone.now()
    with transaction.atomic():
        updated = EndpointJob.objects.filter(pk=job.pk, lease_owner=owner, status=JobStatus.RUNNING).update(
            status=JobStatus.DONE,
            done=job.total,
            failed_runs=failed,
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
        )
        if updated != 1:
            raise LeaseLost(f"endpoint job {job.pk}: lease lost before finishing")
        _insert_runs(job, run_values, now)
        _insert_analyses(job, analyses, now)
        audit_record(
            chain_id=job.trial.chain_id,
            event_type=AuditEventType.ENDPOINT_COMPUTED,
            actor=None,
            object_type="endpoint_job",
            object_id=job.pk,
            after={
                "status": JobStatus.DONE,
                "charter_version": job.charter.version,
                "algorithm_version": job.algorithm_version,
                "input_sha256": job.input_sha256,
                "runs": job.total,
                "failed_runs": failed,
                "attempts": job.attempts,
                **({"analyses": len(analyses)} if analyses else {}),
            },
        )
    job.refresh_from_db()
    return job


def _insert_runs(job: EndpointJob, runs: Sequence[RunValues], now: dt.datetime) -> None:
    """Insert every run with ONE ``executemany``, skipping keys that already exist.

    One prepared statement, its parameters sent row after row (SQLite's C loop; psycopg's
    pipeline mode on PostgreSQL), so the number of queries does not grow with the trial
    (the benchmark asserts it), no statement approaches a parameter limit (PostgreSQL:
    65535; SQLite: 32766), and the result JSON, already text, is parsed once by the
    database. Measured at 2000 subjects (84 MB of results): a single statement expanding a
    JSON array (``jsonb_array_elements`` / ``json_each``) took 6.0 s on PostgreSQL and
    1.4 s on SQLite; Python-side parsing of row dicts for ``bulk_create`` cost more still.
    """
    if not runs:
        return
    table = EndpointRun._meta.db_table
    columns = (
        "trial_id, charter_id, job_id, algorithm_version, created_at, subject_id, criterion, "
        "input_sha256, status, accepted_evaluator, result, reason"
    )
    result = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - identifiers are ours, values are parameters
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {result}, %s) ON CONFLICT DO NOTHING"
    )
    created = connection.ops.adapt_datetimefield_value(now)
    fixed = (job.trial_id, job.charter_id, job.pk, job.algorithm_version, created)
    rows = [
        (
            *fixed,
            r.subject_id,
            r.criterion,
            r.input_sha256,
            r.status,
            r.accepted_evaluator,
            r.result_json,
            r.reason,
        )
        for r in runs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _insert_analyses(job: EndpointJob, analyses: Sequence[AnalysisValues], now: dt.datetime) -> None:
    """The subjects' analyses, inserted as :func:`_insert_runs` inserts the runs (one
    ``executemany``; a key that exists already is skipped)."""
    if not analyses:
        return
    table = EndpointAnalysis._meta.db_table
    columns = (
        "trial_id, charter_id, job_id, algorithm_version, created_at, subject_id, "
        "input_sha256, status, accepted_evaluator, result, reason"
    )
    result = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - identifiers are ours, values are parameters
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, {result}, %s) ON CONFLICT DO NOTHING"
    )
    created = connection.ops.adapt_datetimefield_value(now)
    fixed = (job.trial_id, job.charter_id, job.pk, job.algorithm_version, created)
    rows = [
        (*fixed, a.subject_id, a.input_sha256, a.status, a.accepted_evaluator, a.result_json, a.reason)
        for a in analyses
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


Values = RunValues | AnalysisValues


def _evaluate_all(
    wanted: tuple[str, ...], analyses: tuple[str, ...]
) -> Callable[[Sequence[SubjectInputs]], list[Values]]:
    return lambda subjects: [
        value for subject in subjects for value in evaluate_subject(subject, wanted, analyses)
    ]


def _evaluate_chunks(
    subjects: Sequence[SubjectInputs],
    wanted: tuple[str, ...],
    chunks: Sequence[tuple[int, int]],
    on_subject: Callable[[SubjectInputs], None] | None,
    analyses: tuple[str, ...] = (),
) -> Iterator[tuple[int, list[Values]]]:
    """Yield (subjects done so far, runs of the chunk) chunk by chunk, in order.

    The engine is pure Python and CPU-bound, so large trials are evaluated in forked
    processes that inherit the inputs (:func:`trialreads.fork_pool.imap_slices`). With an
    ``on_subject`` hook, or a small trial, everything runs here, subject by subject.
    """
    processes = fork_processes(len(subjects)) if on_subject is None else 1
    if processes == 1:
        for start, end in chunks:
            part: list[Values] = []
            for subject in subjects[start:end]:
                if on_subject is not None:
                    on_subject(subject)
                part += evaluate_subject(subject, wanted, analyses)
            yield end, part
        return
    logger.info("evaluating %d subjects in %d forked processes", len(subjects), processes)
    parts = imap_slices(_evaluate_all(wanted, analyses), subjects, chunks, processes)
    for (_, end), part in zip(chunks, parts, strict=True):
        yield end, part


@dataclasses.dataclass(frozen=True)
class ComputeOutcome:
    job: EndpointJob
    computed: bool  # False: already done / failed / busy (see ``retry_in``)
    retry_in: float | None = None
    evaluated_subjects: int = 0


@gc_paused()
def endpoints_compute(
    *,
    trial_id: int,
    task_id: str = "",
    requested_by: str = "",
    full: bool = False,
    on_subject: Callable[[SubjectInputs], None] | None = None,
) -> ComputeOutcome:
    """Compute (or find already computed) the endpoints of the trial's current inputs.

    Idempotent: the same inputs give the same job and the same runs, written once. Runs
    that already exist for a subject's input hash are reused unless ``full`` (used by the
    benchmark to time a complete recompute). ``on_subject`` is called before each subject
    is evaluated (tests use it to slow a computation down or crash it at a known point).
    """
    inputs = load_trial_inputs(trial_id)
    job = job_get_or_create(inputs, requested_by=requested_by, task_id=task_id)
    owner = worker_identity(task_id)
    claim = job_claim(job.pk, owner)
    if not claim.claimed:
        return ComputeOutcome(job, False, claim.retry_in)
    known: set[tuple[int, str]] = set()
    if not full:
        known = set(
            EndpointRun.objects.filter(
                trial_id=trial_id, charter=inputs.charter, algorithm_version=ALGORITHM_VERSION
            )
            .values_list("subject_id", "input_sha256")
            .distinct()
        ) & {(s.subject_id, s.input_sha256) for s in inputs.subjects}
    todo = [s for s in inputs.subjects if (s.subject_id, s.input_sha256) not in known]
    skipped = len(inputs.subjects) - len(todo)
    # A fixed number of progress steps (not "every k subjects") keeps the query count of a
    # computation independent of the trial's size.
    steps = min(len(todo), max(1, int(conf.get("ENDPOINT_PROGRESS_STEPS"))))
    bounds = [len(todo) * i // steps for i in range(steps + 1)] if todo else [0]
    chunks = list(itertools.pairwise(bounds))
    runs: list[Values] = []
    for done_subjects, part in _evaluate_chunks(todo, inputs.criteria, chunks, on_subject, inputs.analyses):
        runs += part
        if done_subjects < len(todo):
            job_progress(job.pk, owner, (skipped + done_subjects) * len(inputs.criteria))
    evaluated = len(todo)
    job = job_finish(job, owner, runs)
    return ComputeOutcome(job, True, None, evaluated)
