"""Leases on claimable jobs (:class:`~trialreads.models.endpoint.ClaimableJob`: endpoint jobs,
export batches): exactly-once effects on top of at-least-once delivery
(celery-concurrency-ci §6.4).

:func:`lease_claim` takes the job's lease in a locking transaction (``select_for_update``
on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers). A live lease held by
another worker sends the caller away (the task retries later); a lease whose holder is
provably dead (same host, process gone) or expired is taken over. ``attempts`` is capped
(``ENDPOINT_MAX_ATTEMPTS``) so a task that keeps killing its worker ends FAILED, audited
with the :class:`LeaseKind`'s own event type, instead of looping. :func:`lease_renew`
records progress and renews the lease, conditional on still holding it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import uuid

from django.db import transaction
from django.utils import timezone

from trialreads import conf
from trialreads.choices import AuditEventType
from trialreads.models.endpoint import ClaimableJob, JobStatus
from trialreads.services.audit import audit_record


class LeaseLost(Exception):
    """Another worker took the job over (our lease expired); our work is discarded."""


@dataclasses.dataclass(frozen=True)
class LeaseKind:
    """What is leased: the model, the audit event a job given up on is recorded as, and the
    audit object type of its rows."""

    model: type[ClaimableJob]
    event_type: AuditEventType
    object_type: str


@dataclasses.dataclass(frozen=True)
class Claim:
    """Outcome of :func:`lease_claim`: ``job`` is ours when ``claimed``; otherwise ``retry_in``
    seconds (lease held by a live worker) or nothing to do (DONE/FAILED)."""

    job: ClaimableJob
    claimed: bool
    retry_in: float | None = None


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


def lease_claim(kind: LeaseKind, job_id: int, owner: str) -> Claim:
    """Take the lease of job ``job_id`` of ``kind.model`` for ``owner`` (module docstring)."""
    now = timezone.now()
    with transaction.atomic():
        job = kind.model._default_manager.select_for_update().get(pk=job_id)
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
        if job.attempts >= conf.get("ENDPOINT_MAX_ATTEMPTS"):
            job.status, job.finished_at = JobStatus.FAILED, now
            job.reason = (
                f"gave up after {job.attempts} attempts; the last holder ({job.lease_owner or 'unknown'}) "
                "stopped without finishing (worker lost or crashed)"
            )
            job.lease_owner, job.lease_expires_at = "", None
            job.save(update_fields=["status", "finished_at", "reason", "lease_owner", "lease_expires_at"])
            audit_record(
                chain_id=job.trial.chain_id,
                event_type=kind.event_type,
                actor=None,
                object_type=kind.object_type,
                object_id=job.pk,
                after={"status": job.status, "attempts": job.attempts, "input_sha256": job.input_sha256},
                reason=job.reason,
            )
            return Claim(job, False)
        job.status, job.lease_owner = JobStatus.RUNNING, owner
        job.lease_expires_at = now + dt.timedelta(seconds=conf.get("ENDPOINT_LEASE_SECONDS"))
        job.attempts += 1
        job.started_at = job.started_at or now
        job.save(update_fields=["status", "lease_owner", "lease_expires_at", "attempts", "started_at"])
    return Claim(job, True)


def lease_renew(kind: LeaseKind, job_id: int, owner: str, done: int) -> None:
    """Record progress and renew the lease; :class:`LeaseLost` if it is no longer ours."""
    lease = timezone.now() + dt.timedelta(seconds=conf.get("ENDPOINT_LEASE_SECONDS"))
    with transaction.atomic():
        updated = kind.model._default_manager.filter(
            pk=job_id, lease_owner=owner, status=JobStatus.RUNNING
        ).update(done=done, lease_expires_at=lease)
    if updated != 1:
        raise LeaseLost(f"{kind.object_type} {job_id}: lease lost")
