"""Orchestration: one :class:`Subject` -> a :class:`SubjectResult` for the requested criteria.

Measurement level: each criterion's engine (``criteria.recist11``, ``criteria.irecist``,
``criteria.imrecist``: ``timepoint_responses(subject)``) gives the timepoint results, then
:mod:`criteria.endpoints` derives BOR, confirmed BOR, PFS and DoR. Response level: the
given ``overall`` codes are the timepoint results, and only the criteria whose vocabulary
they use can be evaluated (RECIST codes: ``recist1.1``, or ``imrecist`` when asked for;
iRECIST codes: ``irecist``).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType

from criteria import endpoints, imrecist, irecist, recist11
from criteria.ambiguities import DefaultsCache, defaults_used
from criteria.errors import CriteriaError, InputError
from criteria.lesions import SENTENCES, SubjectCache
from criteria.types import (
    CRITERIA,
    IMRECIST,
    IRECIST,
    RECIST11,
    CriterionResult,
    Subject,
    SubjectResult,
    TimepointResult,
)
from criteria.validate import response_vocabulary

#: Criteria named by the contract that are not implemented yet.
LATER_CRITERIA: tuple[str, ...] = ("irrecist", "irrc", "itrecist", "percist", "ipercist", "impercist5")
_PD_CODES = frozenset({"PD", "iUPD", "iCPD"})
_GIVEN = "overall response given as input (response level): endpoints only"

Engine = Callable[[Subject, SubjectCache | None], tuple[TimepointResult, ...]]
_ENGINES: Mapping[str, Engine] = MappingProxyType({
    RECIST11: recist11.timepoint_responses,
    IRECIST: irecist.timepoint_responses,
    IMRECIST: imrecist.timepoint_responses,
})


class CriteriaSelectionError(CriteriaError):
    """An unknown or not yet implemented criterion was requested."""


def select_criteria(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"recist1.1,irecist"`` (or names) -> criterion names in the order given, validated."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    chosen: list[str] = []
    for name in names:
        if name in CRITERIA:
            if name not in chosen:
                chosen.append(name)
        elif name in LATER_CRITERIA:
            raise CriteriaSelectionError(
                f"criterion {name!r} is not implemented yet (available: {', '.join(CRITERIA)})")
        else:
            raise CriteriaSelectionError(
                f"unknown criterion {name!r} (available: {', '.join(CRITERIA)}; planned: "
                f"{', '.join(LATER_CRITERIA)})")
    if not chosen:
        raise CriteriaSelectionError("no criterion given")
    return tuple(chosen)


def engine(criterion: str) -> Engine:
    """The timepoint engine of ``criterion``: ``engine(criterion)(subject, cache)``."""
    return _ENGINES[criterion]


def supported_criteria(subject: Subject) -> tuple[str, ...]:
    """The criteria an input supports by default: all three at measurement level; at response
    level the criterion of the codes' vocabulary (RECIST codes -> recist1.1)."""
    if not subject.response_level:
        return CRITERIA
    if response_vocabulary([tp.overall for tp in subject.timepoints]) == "irecist":
        return (IRECIST,)
    return (RECIST11,)


def _check_response_level(subject: Subject, criteria: Sequence[str]) -> None:
    vocab = response_vocabulary([tp.overall for tp in subject.timepoints])
    for criterion in criteria:
        if vocab == "irecist" and criterion != IRECIST:
            raise InputError(subject.subject, "timepoints",
                             f"response-level codes are iRECIST codes; cannot evaluate {criterion}")
        if vocab == "recist" and criterion == IRECIST:
            raise InputError(subject.subject, "timepoints",
                             "response-level codes are RECIST 1.1 codes; cannot evaluate irecist")


def _response_level_timepoints(subject: Subject) -> tuple[TimepointResult, ...]:
    return tuple(
        TimepointResult(
            date=tp.date, target="", non_target="", new_lesions="", overall=tp.overall or "NE",
            progression_date=tp.earliest_date if tp.overall in _PD_CODES else None, scan=tp.scan,
            why=(_GIVEN,))
        for tp in subject.timepoints)


def _with_progression_dates(
    subject: Subject, results: tuple[TimepointResult, ...]
) -> tuple[TimepointResult, ...]:
    # A progression counts from the earliest image of its assessment (types.Timepoint);
    # the engines may already have set an earlier date (equivocal new lesion, R11-EQUIVOCAL).
    if not any(tp.scan_dates for tp in subject.timepoints):
        return results  # the common case: every progression counts from its assessment date
    earliest = {tp.date: tp.earliest_date for tp in subject.timepoints if tp.scan_dates}
    return tuple(
        dataclasses.replace(r, progression_date=earliest[r.date])
        if r.overall in _PD_CODES and r.progression_date is None and r.date in earliest else r
        for r in results)


def _with_pd_status(
    results: tuple[TimepointResult, ...], statuses: Sequence[str | None]
) -> tuple[TimepointResult, ...]:
    # dataclasses.replace spelled out (it reads the fields and builds keyword arguments per call)
    return tuple(
        TimepointResult(r.date, r.target, r.non_target, r.new_lesions, r.overall, r.sum_mm,
                        r.nadir_ref_mm, r.pct_vs_baseline, r.pct_vs_nadir, r.why, r.progression_date,
                        r.scan, {**r.extra, "pd_status": status})
        if status is not None else r
        for r, status in zip(results, statuses, strict=True))


def evaluate_criterion(subject: Subject, criterion: str,
                       timepoints: tuple[TimepointResult, ...] | None = None,
                       cache: SubjectCache | None = None,
                       defaults: DefaultsCache | None = None) -> CriterionResult:
    """One criterion's result: timepoints (from the engine unless given) plus endpoints.

    ``cache`` is the subject's :class:`~criteria.lesions.SubjectCache` when several criteria
    of one subject are evaluated (see :func:`evaluate`)."""
    settings = subject.settings
    if timepoints is None:
        if subject.response_level:
            timepoints = _response_level_timepoints(subject)
        else:
            timepoints = _with_progression_dates(subject, engine(criterion)(subject, cache))
    if criterion == IMRECIST:
        statuses = endpoints.imrecist_pd_status(timepoints, settings)
        if any(status is not None for status in statuses):
            timepoints = _with_pd_status(timepoints, statuses)
    ref = subject.reference_date
    seq = endpoints.assessments_for_bor(timepoints, settings, criterion)
    bor = endpoints.derive_bor(timepoints, ref, settings, criterion, seq)
    # measurement level knows the baseline; response level (no baseline) reads it from the codes
    nt_only = None if subject.baseline is None else not subject.baseline.targets
    confirmed = endpoints.derive_confirmed_bor(timepoints, ref, settings, criterion, seq, nt_only)
    pfs = endpoints.criterion_pfs(timepoints, ref, settings, criterion, subject.death_date)
    if SENTENCES.get():
        pfs_why = (f"{'event' if pfs.event else 'censored'} on {pfs.date}: {pfs.reason} "
                   f"({endpoints.PFS_RULES[criterion]})")
        why: tuple[str, ...] = (f"BOR: {bor.why}", f"confirmed BOR: {confirmed.why}", f"PFS: {pfs_why}")
    else:
        why = ()  # not written (see criteria.lesions.SENTENCES)
    return CriterionResult(
        criterion=criterion,
        timepoints=timepoints,
        bor=bor.code,
        bor_date=bor.date,
        bor_confirmed=confirmed.code,
        pfs=pfs,
        progression=endpoints.irecist_progression(timepoints) if criterion == IRECIST else None,
        why=why,
        bor_confirmed_date=confirmed.date,
        dor=endpoints.derive_dor(timepoints, ref, settings, criterion, subject.death_date, seq),
        defaults=(defaults.get(criterion, settings, subject.response_level) if defaults is not None
                  else defaults_used(criterion, settings, subject.response_level)),
    )


def evaluate(subject: Subject, criteria: Sequence[str] | None = None, *,
             defaults: DefaultsCache | None = None) -> SubjectResult:
    """Evaluate ``criteria`` (default: every criterion the input supports) for one subject.

    ``defaults`` may carry a batch's :class:`~criteria.ambiguities.DefaultsCache`.
    Raises :class:`InputError` when response-level codes cannot serve a requested criterion,
    :class:`CriteriaSelectionError` for an unknown or not yet implemented criterion.
    """
    wanted = select_criteria(criteria) if criteria else supported_criteria(subject)
    if subject.response_level:
        _check_response_level(subject, wanted)
    # One cache per subject, shared by its criteria and dropped with this call: the only
    # state of an evaluation (criteria keeps none at module level).
    cache = None if subject.response_level else SubjectCache(subject)
    return SubjectResult(subject=subject.subject,
                         results={c: evaluate_criterion(subject, c, cache=cache, defaults=defaults)
                                  for c in wanted})


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a batch.

    A batch keeps every result alive until it is written, so each generational collection
    rescans a growing heap for cycles that the engine never creates (frozen dataclasses,
    tuples, dicts): about 15% of a 10,000-subject run. Reference counting still frees
    everything; the collector is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
