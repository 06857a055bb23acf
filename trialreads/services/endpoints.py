"""Endpoint computation for a whole trial: every subject x every criterion of the charter, on
each reader's read, plus which evaluator's result is the accepted (BICR) one.

Exactly-once effects on top of at-least-once delivery (celery-concurrency-ci §6.4):

1. :func:`load_trial_inputs` reads everything the computation depends on in a constant
   number of queries (no per-subject query, no ``IN`` list that grows with the trial) and
   maps it to ``criteria.types.Subject`` values, one per signed read.
2. Each subject's inputs are hashed; the trial's hash of hashes keys the
   :class:`~trialreads.models.EndpointJob` (trial, charter version, algorithm version,
   inputs). A redelivered task computes the same key and finds the job DONE; new data gives
   a new job.
3. :func:`job_claim` takes the job's lease in a locking transaction (``select_for_update``
   on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers). A live lease held by
   another worker sends the caller away (the task retries later); a lease whose holder is
   provably dead (same host, process gone) or expired is taken over. ``attempts`` is capped
   so a task that keeps killing its worker ends FAILED instead of looping.
4. The engine runs in chunks; after each chunk the progress counter and the lease are
   renewed, conditional on still holding the lease.
5. :func:`job_finish` writes every :class:`~trialreads.models.EndpointRun`, flips the job to
   DONE and appends the ``ENDPOINT_COMPUTED`` audit event in one transaction, again
   conditional on the lease. Runs are unique on (trial, subject, criterion, algorithm
   version, input hash) and inserted with ``ignore_conflicts``: a duplicate writer inserts
   nothing. Bulk inserts are allowed here because endpoint runs are derived data (see
   ``models/endpoint.py``), not audited clinical records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

import criteria
from criteria.errors import CriteriaError
from criteria.evaluate import evaluate
from criteria.types import (
    CRITERIA,
    CriterionResult,
    DurationOfResponse,
    Pfs,
    Progression,
    ScanKind,
    Subject,
    TimepointResult,
)
from trialreads import conf
from trialreads.bulk import children_allowed, fork_processes, gc_paused
from trialreads.choices import (
    AuditEventType,
)
from trialreads.models import (
    Charter,
    Trial,
)
from trialreads.models.endpoint import ClaimableJob, EndpointJob, EndpointRun, ExportBatch, JobStatus
from trialreads.services.audit import audit_record
from trialreads.snapshot import TrialSnapshot, engine_subject, input_rows, settings_from_charter

ALGORITHM_VERSION = criteria.__version__

#: CDISC evaluator id (``--EVALID``) of each read slot.
EVALUATOR_BY_SLOT: Mapping[int, str] = {1: "RADIOLOGIST 1", 2: "RADIOLOGIST 2"}

logger = logging.getLogger(__name__)

def app_setting(name: str) -> Any:
    """``settings.TRIALREADS[name]`` or its default in :mod:`trialreads.conf` (read at call time)."""
    return conf.get(name)


class LeaseLost(Exception):
    """Another worker took the job over (our lease expired); our work is discarded."""


# --- inputs: constant number of queries --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SubjectInputs:
    """Everything one subject's endpoints depend on."""

    subject_id: int
    subject_code: str
    reads: Mapping[int, Subject]  # slot -> the engine input of that read (signed data only)
    accepted_slot: int | None  # None while no read is accepted (adjudication pending / not yet compared)
    input_sha256: str


@dataclasses.dataclass(frozen=True)
class TrialInputs:
    trial: Trial
    charter: Charter
    criteria: tuple[str, ...]
    subjects: tuple[SubjectInputs, ...]  # by subject code
    input_sha256: str


def load_trial_inputs(
    trial_id: int, *, charter: Charter | None = None, snapshot: TrialSnapshot | None = None
) -> TrialInputs:
    """The engine inputs of every subject of the trial, from signed timepoint reads only:
    the trial's :class:`~trialreads.snapshot.TrialSnapshot` (loaded here unless given, in a
    fixed number of queries) mapped by :func:`~trialreads.snapshot.engine_subject`."""
    trial = Trial.objects.get(pk=trial_id)
    charter = charter or Charter.objects.get(trial=trial, is_current=True)
    settings = settings_from_charter(charter)
    wanted = tuple(c for c in CRITERIA if c in charter.criteria)
    snapshot = snapshot if snapshot is not None else TrialSnapshot.load(trial_id)

    # The input hash is taken over the rows themselves (``snapshot.input_rows``), which is
    # exactly what the engine inputs are built from and far cheaper than rendering them.
    prefix = f"{ALGORITHM_VERSION}|charter {charter.version}|{settings!r}|{','.join(wanted)}"
    out: list[SubjectInputs] = []
    for subject in snapshot.subjects:
        engine_inputs: dict[int, Subject] = {}
        raw: list[Any] = [
            prefix,
            subject.code,
            subject.randomisation_date,
            subject.death_date,
            subject.last_contact_date,
            subject.accepted_slot,
        ]
        for slot, read in sorted(subject.reads.items()):
            if not any(tr.timepoint.is_baseline for tr in read.timepoint_reads):
                continue  # no signed baseline: nothing to evaluate on this read yet
            raw.append((slot, input_rows(read)))
            engine_inputs[slot] = engine_subject(subject, read, settings)
        out.append(
            SubjectInputs(
                subject_id=subject.id,
                subject_code=subject.code,
                reads=engine_inputs,
                accepted_slot=subject.accepted_slot,
                input_sha256=hashlib.sha256(repr(raw).encode()).hexdigest(),
            )
        )
    digest = hashlib.sha256()
    digest.update(f"{ALGORITHM_VERSION}|{charter.version}|{','.join(wanted)}".encode())
    for s in out:
        digest.update(f"|{s.subject_id}:{s.input_sha256}".encode())
    return TrialInputs(trial, charter, wanted, tuple(out), digest.hexdigest())


# --- results: lossless JSON ------------------------------------------------------------------


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _timepoint_json(t: TimepointResult) -> dict[str, Any]:
    return {
        "date": t.date.isoformat(),
        "target": t.target,
        "non_target": t.non_target,
        "new_lesions": t.new_lesions,
        "overall": t.overall,
        "sum_mm": _s(t.sum_mm),
        "nadir_ref_mm": _s(t.nadir_ref_mm),
        "pct_vs_baseline": _s(t.pct_vs_baseline),
        "pct_vs_nadir": _s(t.pct_vs_nadir),
        "why": list(t.why),
        "progression_date": _iso(t.progression_date),
        "scan": t.scan.value,
        # Decimals tagged so they come back as Decimals, not strings.
        "extra": {k: {"$d": str(v)} if isinstance(v, Decimal) else v for k, v in t.extra.items()},
    }


def result_to_json(result: CriterionResult) -> dict[str, Any]:
    """A :class:`CriterionResult` as JSON with exact decimals (strings) and ISO dates; the
    inverse is :func:`result_from_json`. Unlike the contract's display JSON
    (``criteria.serialize``) nothing is rounded or dropped. Written field by field: this
    runs for every read x criterion of a trial and a generic dataclass walk is 4x slower."""
    prog, dor = result.progression, result.dor
    return {
        "criterion": result.criterion,
        "timepoints": [_timepoint_json(t) for t in result.timepoints],
        "bor": result.bor,
        "bor_date": _iso(result.bor_date),
        "bor_confirmed": result.bor_confirmed,
        "pfs": {"event": result.pfs.event, "date": result.pfs.date.isoformat(), "reason": result.pfs.reason},
        "progression": None
        if prog is None
        else {"iupd_date": _iso(prog.iupd_date), "icpd_date": _iso(prog.icpd_date)},
        "why": list(result.why),
        "bor_confirmed_date": _iso(result.bor_confirmed_date),
        "dor": None
        if dor is None
        else {
            "start": dor.start.isoformat(),
            "end": dor.end.isoformat(),
            "days": dor.days,
            "event": dor.event,
            "reason": dor.reason,
        },
        "defaults": list(result.defaults),
    }


def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _extra(value: Any) -> str | Decimal | None:
    if isinstance(value, dict):
        return Decimal(value["$d"])
    return None if value is None else str(value)


def result_from_json(data: Mapping[str, Any]) -> CriterionResult:
    """Inverse of :func:`result_to_json`."""

    def tp(t: Mapping[str, Any]) -> TimepointResult:
        date = _d(t["date"])
        assert date is not None
        return TimepointResult(
            date=date,
            target=t["target"],
            non_target=t["non_target"],
            new_lesions=t["new_lesions"],
            overall=t["overall"],
            sum_mm=_dec(t["sum_mm"]),
            nadir_ref_mm=_dec(t["nadir_ref_mm"]),
            pct_vs_baseline=_dec(t["pct_vs_baseline"]),
            pct_vs_nadir=_dec(t["pct_vs_nadir"]),
            why=tuple(t["why"]),
            progression_date=_d(t["progression_date"]),
            scan=ScanKind(t["scan"]),
            extra={k: _extra(v) for k, v in t["extra"].items()},
        )

    pfs_date = _d(data["pfs"]["date"])
    assert pfs_date is not None
    prog = data.get("progression")
    dor = data.get("dor")
    return CriterionResult(
        criterion=data["criterion"],
        timepoints=tuple(tp(t) for t in data["timepoints"]),
        bor=data["bor"],
        bor_date=_d(data["bor_date"]),
        bor_confirmed=data["bor_confirmed"],
        pfs=Pfs(event=data["pfs"]["event"], date=pfs_date, reason=data["pfs"]["reason"]),
        progression=Progression(_d(prog["iupd_date"]), _d(prog["icpd_date"])) if prog else None,
        why=tuple(data["why"]),
        bor_confirmed_date=_d(data["bor_confirmed_date"]),
        dor=DurationOfResponse(
            start=dt.date.fromisoformat(dor["start"]),
            end=dt.date.fromisoformat(dor["end"]),
            days=dor["days"],
            event=dor["event"],
            reason=dor["reason"],
        )
        if dor
        else None,
        defaults=tuple(data["defaults"]),
    )


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


def evaluate_subject(inputs: SubjectInputs, wanted: Sequence[str]) -> list[RunValues]:
    """Every criterion on every read of one subject (pure: no database)."""
    per_criterion: dict[str, dict[str, Any]] = {c: {} for c in wanted}
    problems: list[str] = []
    for slot, subject in sorted(inputs.reads.items()):
        evaluator = EVALUATOR_BY_SLOT[slot]
        try:
            results = evaluate(subject, wanted).results
        except CriteriaError as exc:
            problems.append(f"{evaluator}: {exc}")
            continue
        for criterion, result in results.items():
            per_criterion[criterion][evaluator] = result_to_json(result)
    chosen = inputs.accepted_slot
    accepted = EVALUATOR_BY_SLOT[chosen] if chosen is not None and chosen in inputs.reads else ""
    status = JobStatus.FAILED if problems else JobStatus.DONE
    return [
        RunValues(
            subject_id=inputs.subject_id,
            criterion=criterion,
            status=status,
            input_sha256=inputs.input_sha256,
            accepted_evaluator=accepted,
            reason="; ".join(problems),
            result_json=_dumps(per_criterion[criterion]),
        )
        for criterion in wanted
    ]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


# --- the job: claim, progress, finish -----------------------------------------------------------


def worker_identity(task_id: str = "") -> str:
    """``host:pid:task`` -- enough to tell whether a lease holder on this host is alive.
    Without a task id (in-process calls) a random token keeps two callers apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{task_id or uuid.uuid4().hex}"


def _holder_is_dead(owner: str) -> bool:
    """True only when the holder provably cannot run any more: same host, process gone.
    (A recycled pid makes us wait for the lease to expire, which is the safe direction.)"""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclasses.dataclass(frozen=True)
class Claim:
    """Outcome of :func:`job_claim`: ``job`` is ours when ``claimed``; otherwise ``retry_in``
    seconds (lease held by a live worker) or nothing to do (DONE/FAILED)."""

    job: ClaimableJob
    claimed: bool
    retry_in: float | None = None


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


def job_claim(job_id: int, owner: str, model: type[ClaimableJob] = EndpointJob) -> Claim:
    """Take the lease of an endpoint job (or, with ``model``, an export batch): see the
    module docstring, step 3."""
    now = timezone.now()
    with transaction.atomic():
        job = model._default_manager.select_for_update().get(pk=job_id)
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            return Claim(job, False)
        if (
            job.status == JobStatus.RUNNING
            and job.lease_owner != owner
            and job.lease_expires_at is not None
            and job.lease_expires_at > now
            and not _holder_is_dead(job.lease_owner)
        ):
            return Claim(job, False, retry_in=(job.lease_expires_at - now).total_seconds())
        if job.attempts >= app_setting("ENDPOINT_MAX_ATTEMPTS"):
            job.status, job.finished_at = JobStatus.FAILED, now
            job.reason = (
                f"gave up after {job.attempts} attempts; the last holder ({job.lease_owner or 'unknown'}) "
                "stopped without finishing (worker lost or crashed)"
            )
            job.lease_owner, job.lease_expires_at = "", None
            job.save(update_fields=["status", "finished_at", "reason", "lease_owner", "lease_expires_at"])
            audit_record(
                chain_id=job.trial.chain_id,
                event_type=AuditEventType.EXPORT_CREATED
                if isinstance(job, ExportBatch)
                else AuditEventType.ENDPOINT_COMPUTED,
                actor=None,
                object_type=_object_type(job),
                object_id=job.pk,
                after={"status": job.status, "attempts": job.attempts, "input_sha256": job.input_sha256},
                reason=job.reason,
            )
            return Claim(job, False)
        job.status, job.lease_owner = JobStatus.RUNNING, owner
        job.lease_expires_at = now + dt.timedelta(seconds=app_setting("ENDPOINT_LEASE_SECONDS"))
        job.attempts += 1
        job.started_at = job.started_at or now
        job.save(update_fields=["status", "lease_owner", "lease_expires_at", "attempts", "started_at"])
    return Claim(job, True)


def _object_type(job: ClaimableJob) -> str:
    return "export_batch" if isinstance(job, ExportBatch) else "endpoint_job"


def job_progress(job_id: int, owner: str, done: int, model: type[ClaimableJob] = EndpointJob) -> None:
    """Record progress and renew the lease; :class:`LeaseLost` if it is no longer ours."""
    lease = timezone.now() + dt.timedelta(seconds=app_setting("ENDPOINT_LEASE_SECONDS"))
    with transaction.atomic():
        updated = model._default_manager.filter(
            pk=job_id, lease_owner=owner, status=JobStatus.RUNNING
        ).update(done=done, lease_expires_at=lease)
    if updated != 1:
        raise LeaseLost(f"endpoint job {job_id}: lease lost")


def job_finish(job: EndpointJob, owner: str, runs: Iterable[RunValues]) -> EndpointJob:
    """Write the runs, mark the job DONE and audit it, in one transaction, only while the
    lease is still ours (step 5)."""
    runs = list(runs)
    failed = sum(1 for r in runs if r.status == JobStatus.FAILED)
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
        _insert_runs(job, runs, now)
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


#: The subjects and criteria the forked evaluation processes read (inherited, not pickled).
_FORK_STATE: tuple[Sequence[SubjectInputs], tuple[str, ...]] | None = None


def _evaluate_range(bounds: tuple[int, int]) -> list[RunValues]:
    assert _FORK_STATE is not None
    subjects, wanted = _FORK_STATE
    return [run for subject in subjects[bounds[0] : bounds[1]] for run in evaluate_subject(subject, wanted)]


def _evaluate_chunks(
    subjects: Sequence[SubjectInputs],
    wanted: tuple[str, ...],
    chunks: Sequence[tuple[int, int]],
    on_subject: Callable[[SubjectInputs], None] | None,
) -> Iterator[tuple[int, list[RunValues]]]:
    """Yield (subjects done so far, runs of the chunk) chunk by chunk, in order.

    The engine is pure Python and CPU-bound, so large trials are evaluated in forked
    processes that inherit the inputs (nothing to pickle on the way in; plain dicts on the
    way out). The children never touch the database connection they inherit, and fork
    children leave through ``os._exit`` so no finaliser closes it. With a test hook, or a
    small trial, everything runs here, subject by subject.
    """
    global _FORK_STATE
    processes = fork_processes(len(subjects)) if on_subject is None else 1
    if processes == 1:
        for start, end in chunks:
            part: list[RunValues] = []
            for subject in subjects[start:end]:
                if on_subject is not None:
                    on_subject(subject)
                part += evaluate_subject(subject, wanted)
            yield end, part
        return
    logger.info("evaluating %d subjects in %d forked processes", len(subjects), processes)
    _FORK_STATE = (subjects, wanted)
    try:
        with children_allowed(), multiprocessing.get_context("fork").Pool(processes) as pool:
            for (_, end), part in zip(chunks, pool.imap(_evaluate_range, chunks), strict=True):
                yield end, part
    finally:
        _FORK_STATE = None


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
    steps = min(len(todo), max(1, int(app_setting("ENDPOINT_PROGRESS_STEPS"))))
    bounds = [len(todo) * i // steps for i in range(steps + 1)] if todo else [0]
    chunks = list(itertools.pairwise(bounds))
    runs: list[RunValues] = []
    for done_subjects, part in _evaluate_chunks(todo, inputs.criteria, chunks, on_subject):
        runs += part
        if done_subjects < len(todo):
            job_progress(job.pk, owner, (skipped + done_subjects) * len(inputs.criteria))
    evaluated = len(todo)
    job = job_finish(job, owner, runs)
    return ComputeOutcome(job, True, None, evaluated)


# --- reading results ------------------------------------------------------------------------------


def job_runs(job: EndpointJob) -> list[EndpointRun]:
    """The runs that make up a DONE job's result (one query; by subject code, criterion)."""
    hashes = set(job.subject_hashes.values())
    runs = [
        run
        for run in EndpointRun.objects.filter(
            trial_id=job.trial_id, charter_id=job.charter_id, algorithm_version=job.algorithm_version
        ).select_related("subject")
        if run.input_sha256 in hashes and job.subject_hashes.get(str(run.subject_id)) == run.input_sha256
    ]
    order = {c: i for i, c in enumerate(CRITERIA)}
    return sorted(runs, key=lambda r: (r.subject.subject_code, order.get(r.criterion, 99)))


def latest_done_job(trial_id: int) -> EndpointJob | None:
    return (
        EndpointJob.objects.filter(trial_id=trial_id, status=JobStatus.DONE)
        .select_related("charter", "trial")
        .order_by("-finished_at", "-pk")
        .first()
    )
