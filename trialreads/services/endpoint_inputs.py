"""The inputs of an endpoint computation: every subject x every read of a trial as engine
inputs, from the signed timepoint reads only (:class:`~trialreads.snapshot.TrialSnapshot`),
with the hashes that key the :class:`~trialreads.models.EndpointJob` and its runs.

Each subject's inputs are hashed; the trial's hash of hashes keys the job (trial, charter
version, algorithm version, inputs). A redelivered task computes the same key and finds the
job DONE; new data gives a new job.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import criteria
from criteria.evaluate import AVAILABLE
from criteria.types import Subject
from trialreads.models import Charter, Trial
from trialreads.snapshot import (
    TrialSnapshot,
    engine_subject,
    input_rows,
    scope_from_charter,
    settings_from_charter,
)

ALGORITHM_VERSION = criteria.__version__


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
    scope = scope_from_charter(charter)
    # Every criterion the charter names, in charter order (any of criteria.evaluate.AVAILABLE).
    wanted = tuple(c for c in charter.criteria if c in AVAILABLE)
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
            engine_inputs[slot] = engine_subject(subject, read, settings, scope=scope)
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
