"""Read-side of a reader's work: reads, timepoint reads with their content, signatures and
the engine's evaluation of one read. Everything goes through the access gate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet

from criteria.evaluate import evaluate
from criteria.types import PET_CRITERIA, Subject, SubjectResult
from trialreads import access, mappers
from trialreads.evaluation import evaluate_each
from trialreads.models import Charter, Measurement, NonTargetRating, Read, Signature, TimepointRead
from trialreads.snapshot import has_engine_input


def read_list(
    *, user: Any, trial_id: object | None = None, subject_id: object | None = None
) -> QuerySet[Read]:
    """Reads visible to ``user`` (a reader: only their own), optionally within one trial or subject.
    Query count does not grow with the number of reads."""
    qs = access.visible_reads(user).select_related("subject", "subject__trial", "reader")
    if trial_id is not None:
        trial = access.access_trial_for(user, trial_id)
        qs = qs.filter(subject__trial=trial)
    if subject_id is not None:
        subject = access.access_subject_for(user, subject_id)
        qs = qs.filter(subject=subject)
    return qs.order_by("subject__subject_code", "slot")


def read_get(*, user: Any, read_id: object) -> Read:
    return access.access_read_for(user, read_id)


def _with_content(qs: QuerySet[TimepointRead]) -> QuerySet[TimepointRead]:
    return qs.select_related("timepoint", "read", "read__subject").prefetch_related(  # type: ignore[type-var]
        Prefetch("measurements", queryset=Measurement.objects.select_related("lesion")),
        Prefetch("ratings", queryset=NonTargetRating.objects.select_related("lesion")),
        Prefetch("signatures", queryset=Signature.objects.order_by("signed_at")),
    )


def timepoint_read_list(*, user: Any, read_id: object) -> QuerySet[TimepointRead]:
    """The timepoint reads of one read the user may see, with lesions, values, ratings and
    signatures prefetched (a constant number of queries)."""
    read = access.access_read_for(user, read_id)
    qs = access.visible_timepoint_reads(user).filter(read=read)
    return _with_content(qs).order_by("timepoint__sequence")


def timepoint_read_get(*, user: Any, timepoint_read_id: object) -> TimepointRead:
    tr = access.access_timepoint_read_for(user, timepoint_read_id)
    return _with_content(TimepointRead.objects.filter(pk=tr.pk)).get()


@dataclass(frozen=True)
class ReadEvaluation:
    read: Read
    charter_version: int | None
    result: SubjectResult | None  # None until the baseline (CT, or a PET-only charter's PET) is saved
    signed_only: bool
    #: criterion -> the engine's message, for the charter criteria the read cannot be
    #: evaluated under (an input they need, e.g. perpendicular diameters, is not recorded)
    not_evaluable: Mapping[str, str] = field(default_factory=dict)
    #: Why the engine could not evaluate the read as saved under any of the charter's criteria
    #: (e.g. a charter version that added irRC to one-diameter baselines): ``result`` is then None.
    error: str = ""


def read_evaluate(*, user: Any, read_id: object, signed_only: bool = False) -> ReadEvaluation:
    """Run the criteria engine on one read as the user may see it: a reader on their own
    drafts or signed timepoints, a read manager on the signed timepoints only."""
    read = access.access_read_for(user, read_id)
    if not access.has_capability(user, read.subject.trial_id, access.VIEW_OWN_READS):
        signed_only = True
    trs = list(_with_content(access.visible_timepoint_reads(user).filter(read=read)))
    if signed_only:
        trs = [tr for tr in trs if tr.locked]
    charter = Charter.objects.filter(trial_id=read.subject.trial_id, is_current=True).first()
    subject = mappers.subject_for_read(read, trs, charter)
    if not has_engine_input(subject):  # no saved baseline (CT or, for a PET charter, PET) yet
        return ReadEvaluation(read, charter.version if charter else None, None, signed_only)
    version = charter.version if charter else None
    if charter is None:
        return ReadEvaluation(read, version, evaluate(subject), signed_only)
    criteria = evaluable_criteria(subject, charter.criteria)
    if not criteria:
        return ReadEvaluation(read, version, None, signed_only)
    # each criterion on its own: one the reads do not carry the input of is named, not fatal
    evaluation = evaluate_each(subject, criteria, tuple(charter.analyses or ()))
    if not evaluation.results:
        error = "; ".join(evaluation.errors.values())
        return ReadEvaluation(read, version, None, signed_only, evaluation.errors, error)
    result = SubjectResult(subject.subject, evaluation.results, evaluation.analyses)
    return ReadEvaluation(read, version, result, signed_only, evaluation.errors)


def evaluable_criteria(subject: Subject, criteria: Sequence[str]) -> list[str]:
    """The charter's criteria whose input the read holds so far: the PET criteria once the
    baseline's PET scan is saved, the others once the CT baseline is (a PET/CT timepoint's
    two forms are saved apart, so a draft read may have one and not yet the other)."""
    ct_saved = subject.baseline is not None and bool(subject.baseline.targets or subject.baseline.non_targets)
    return [c for c in criteria if (subject.pet is not None if c in PET_CRITERIA else ct_saved)]
