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

from criteria import endpoints, growth, imrecist, irecist, irrc, irrecist, itrecist, percist, recist11
from criteria.ambiguities import DefaultsCache, analysis_defaults, defaults_used
from criteria.errors import CriteriaError, InputError
from criteria.lesions import SENTENCES, SubjectCache
from criteria.types import (
    CRITERIA,
    IMRECIST,
    IRECIST,
    IRRC,
    IRRECIST,
    ITRECIST,
    PET_CRITERIA,
    RECIST11,
    CriterionResult,
    ExtraValue,
    Subject,
    SubjectResult,
    TimepointResult,
)
from criteria.validate import MAX_TARGETS, is_bidimensional, response_vocabulary, selection_problems

_PD_CODES = frozenset({"PD", "iUPD", "iCPD"})
_PET = frozenset(PET_CRITERIA)
_GIVEN = "overall response given as input (response level): endpoints only"

Engine = Callable[[Subject, SubjectCache | None], tuple[TimepointResult, ...]]
_ENGINES: Mapping[str, Engine] = MappingProxyType({
    RECIST11: recist11.timepoint_responses,
    IRECIST: irecist.timepoint_responses,
    IMRECIST: imrecist.timepoint_responses,
    **percist.ENGINES,  # PERCIST family: on the subject's ``pet`` input
    # irRC / irRECIST (issue 14): selected with --criteria only (not in the default)
    IRRC: irrc.timepoint_responses,
    IRRECIST: irrecist.timepoint_responses,
    ITRECIST: itrecist.timepoint_responses,  # itRECIST (GOL20)
})
#: Criteria given with --criteria only (never in the default selection).
_SELECTED_ONLY: tuple[str, ...] = (IRRC, IRRECIST)
_IR_CRITERIA = frozenset(_SELECTED_ONLY)
#: Every criterion that can be selected (the default three first).
AVAILABLE: tuple[str, ...] = tuple(_ENGINES)


class CriteriaSelectionError(CriteriaError):
    """An unknown criterion was requested."""


def select_criteria(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"recist1.1,irecist"`` (or names) -> criterion names in the order given, validated."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    chosen: list[str] = []
    for name in names:
        if name in _ENGINES:
            if name not in chosen:
                chosen.append(name)
        elif name in ANALYSES:  # growth family: an analysis, not a criterion
            raise CriteriaSelectionError(f"{name!r} is an analysis, not a criterion: use --analyses {name}")
        else:
            raise CriteriaSelectionError(f"unknown criterion {name!r} (available: {', '.join(AVAILABLE)})")
    if not chosen:
        raise CriteriaSelectionError("no criterion given")
    return tuple(chosen)


def engine(criterion: str) -> Engine:
    """The timepoint engine of ``criterion``: ``engine(criterion)(subject, cache)``."""
    return _ENGINES[criterion]


def supported_criteria(subject: Subject) -> tuple[str, ...]:
    """The criteria an input supports by default: all three at measurement level; at response
    level the criterion of the codes' vocabulary (RECIST codes -> recist1.1). With ``pet``
    input the PERCIST family follows (alone when there is no CT/MRI data)."""
    if subject.pet is not None:
        if subject.baseline is None and not subject.timepoints:
            return PET_CRITERIA
        ct = CRITERIA if not subject.response_level else _response_level_default(subject)
        return ct + PET_CRITERIA
    if not subject.response_level:
        if subject.injection is not None:  # itRECIST flags: data only itRECIST uses
            if subject.baseline is not None and len(subject.baseline.targets) > MAX_TARGETS:
                return (ITRECIST,)  # more than 5 targets: an itRECIST-only baseline (ITR-CLASS)
            return (*CRITERIA, ITRECIST)
        return CRITERIA
    return _response_level_default(subject)


def _response_level_default(subject: Subject) -> tuple[str, ...]:
    if response_vocabulary([tp.overall for tp in subject.timepoints]) == "irecist":
        return (IRECIST,)
    return (RECIST11,)


def _check_response_level(subject: Subject, criteria: Sequence[str]) -> None:
    vocab = response_vocabulary([tp.overall for tp in subject.timepoints])
    for criterion in criteria:
        if criterion in PET_CRITERIA:
            continue  # computed from the pet input (its presence is checked by evaluate)
        if subject.pet is not None and not subject.timepoints:
            raise InputError(subject.subject, "baseline",
                             f"PET input only: no CT/MRI baseline or timepoints to evaluate {criterion}")
        if criterion in _IR_CRITERIA:
            raise InputError(subject.subject, "baseline",
                             f"{criterion} is evaluated from lesion measurements only; give the baseline")
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
    bidimensional = (cache.bidimensional if cache is not None
                     else subject.baseline is not None and is_bidimensional(subject.baseline))
    if bidimensional and criterion != IRRC:
        assert subject.baseline is not None  # (a bidimensional baseline)
        # a bidimensional baseline's selection rules are those of the criterion evaluated
        problems = selection_problems(subject.baseline, criterion)
        if problems:
            raise InputError(subject.subject, problems[0].field, f"{problems[0].message} ({criterion})")
    if criterion == ITRECIST and subject.response_level:
        raise InputError(subject.subject, "timepoints",
                         "itRECIST needs lesion data with injected flags (measurement level)")
    # itRECIST's endpoints are those of the criterion it is assessed by (ITR-OVERALL, T1)
    rules = itrecist.basis(settings) if criterion == ITRECIST else criterion
    if timepoints is None:
        if criterion in PET_CRITERIA:
            timepoints = engine(criterion)(subject, cache)
        elif subject.response_level:
            timepoints = _response_level_timepoints(subject)
        elif cache is not None and not cache.scan_dates:
            timepoints = engine(criterion)(subject, cache)  # every progression dated at its assessment
        else:
            timepoints = _with_progression_dates(subject, engine(criterion)(subject, cache))
    if criterion in _IR_CRITERIA:
        statuses = endpoints.ir_pd_status(timepoints, settings)
        if statuses.count(None) != len(statuses):  # some irPD
            timepoints = _with_pd_status(timepoints, statuses)
    elif criterion == IMRECIST:
        statuses = endpoints.imrecist_pd_status(timepoints, settings)
        if statuses.count(None) != len(statuses):  # some PD
            timepoints = _with_pd_status(timepoints, statuses)
    ref = subject.reference_date
    baseline = subject.baseline
    pet = criterion in PET_CRITERIA
    level = baseline is None and not pet  # response level (PET: computed from SULs)
    seq = endpoints.assessments_for_bor(timepoints, settings, rules)
    bor = endpoints.derive_bor(timepoints, ref, settings, rules, seq)
    # measurement level knows the baseline; response level (no baseline) reads it from the codes
    nt_only = None if baseline is None or pet else not baseline.targets
    confirmed = endpoints.derive_confirmed_bor(timepoints, ref, settings, rules, seq, nt_only)
    pfs = endpoints.criterion_pfs(timepoints, ref, settings, rules, subject.death_date)
    if SENTENCES.get():
        pfs_why = (f"{'event' if pfs.event else 'censored'} on {pfs.date}: {pfs.reason} "
                   f"({endpoints.PFS_RULES[criterion]})")
        why: tuple[str, ...] = (f"BOR: {bor.why}", f"confirmed BOR: {confirmed.why}", f"PFS: {pfs_why}")
    else:
        why = ()  # not written (see criteria.lesions.SENTENCES)
    # CriterionResult's fields in order: criterion, timepoints, bor, bor_date, bor_confirmed, pfs,
    # progression, why, bor_confirmed_date, dor, defaults, extra
    return CriterionResult(
        criterion, timepoints, bor.code, bor.date, confirmed.code, pfs,
        endpoints.irecist_progression(timepoints) if rules == IRECIST else None,
        why, confirmed.date, endpoints.derive_dor(timepoints, ref, settings, rules, subject.death_date, seq),
        _defaults(criterion, rules, subject, level, defaults),
        itrecist.criterion_extra(subject, timepoints) if criterion == ITRECIST else {},
    )


def _defaults(criterion: str, rules: str, subject: Subject, level: bool,
              defaults: DefaultsCache | None) -> tuple[str, ...]:
    """The readings a result relied on (``level``: evaluated at response level)."""
    settings = subject.settings
    if criterion == rules:
        if defaults is not None:
            return defaults.get(criterion, settings, level)
        return defaults_used(criterion, settings, level)
    # itRECIST: its own readings, then those of its basis
    own = tuple(note for note in _defaults(criterion, criterion, subject, level, defaults)
                if not note.startswith("A13"))
    return own + _defaults(rules, rules, subject, level, defaults)


# --- growth family: analyses (not criteria), written as the top-level ``analyses`` ------

TGR = "tgr"
PSEUDOPROGRESSION = "pseudoprogression"
DISSOCIATED_RESPONSE = "dissociated_response"
#: Analyses ``--analyses`` accepts, in output order (docs/criteria-cli.md, growth section).
ANALYSES: tuple[str, ...] = (TGR, PSEUDOPROGRESSION, DISSOCIATED_RESPONSE)


def select_analyses(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"tgr,pseudoprogression"`` (or names) -> analysis names in output order, validated."""
    names = {n.strip() for n in (text.split(",") if isinstance(text, str) else text)}
    unknown = sorted(names - set(ANALYSES))
    if unknown:
        raise CriteriaSelectionError(f"unknown analysis {unknown[0]!r} (available: {', '.join(ANALYSES)})")
    if not names:
        raise CriteriaSelectionError("no analysis given")
    return tuple(a for a in ANALYSES if a in names)


def default_analyses(subject: Subject) -> tuple[str, ...]:
    """Without ``--analyses``: ``tgr`` for an input that carries pre-baseline scans or clinical
    items (data only it uses, invalid before), else none (existing output unchanged)."""
    return (TGR,) if subject.prebaseline or subject.clinical is not None else ()


def run_analyses(subject: Subject, names: Sequence[str], results: Mapping[str, CriterionResult],
                 cache: SubjectCache | None) -> dict[str, ExtraValue]:
    """The analyses ``names`` of one subject, from its input and its criteria's results
    (RECIST 1.1's timepoints are computed for the HPD definitions when not in ``results``)."""
    out: dict[str, ExtraValue] = {}
    for name in names:
        if name == TGR:
            recist: tuple[TimepointResult, ...] = ()
            if not subject.response_level:
                recist = (results[RECIST11].timepoints if RECIST11 in results
                          else _with_progression_dates(subject, engine(RECIST11)(subject, cache)))
            out[name] = growth.hyperprogression(subject, recist)
        elif name == PSEUDOPROGRESSION:
            out[name] = {c: growth.pseudoprogression(subject, c, r.timepoints) for c, r in results.items()
                         if c in growth.PSEUDOPROGRESSION_READERS}
        else:
            out[name] = growth.dissociated_response(subject)
        block = out[name]
        if SENTENCES.get() and name != PSEUDOPROGRESSION and isinstance(block, dict):
            block["defaults"] = analysis_defaults(name, subject.settings)  # with --explain
    return out


def evaluate(subject: Subject, criteria: Sequence[str] | None = None, *,
             defaults: DefaultsCache | None = None,
             analyses: Sequence[str] | None = None) -> SubjectResult:
    """Evaluate ``criteria`` (default: every criterion the input supports) for one subject.

    ``defaults`` may carry a batch's :class:`~criteria.ambiguities.DefaultsCache`;
    ``analyses`` the growth-family analyses wanted (None: :func:`default_analyses`).
    Raises :class:`InputError` when response-level codes cannot serve a requested criterion,
    :class:`CriteriaSelectionError` for an unknown criterion.
    """
    wanted = select_criteria(criteria) if criteria else supported_criteria(subject)
    if subject.pet is None and not _PET.isdisjoint(wanted):
        pet_criterion = next((c for c in wanted if c in PET_CRITERIA), None)
        if pet_criterion is not None:
            raise InputError(subject.subject, "pet", f"{pet_criterion} needs PET input (the pet object)")
    if subject.response_level:
        _check_response_level(subject, wanted)
    # One cache per subject, shared by its criteria and dropped with this call: the only
    # state of an evaluation (criteria keeps none at module level).
    cache = None if subject.response_level else SubjectCache(subject)
    results = {c: evaluate_criterion(subject, c, cache=cache, defaults=defaults) for c in wanted}
    names = default_analyses(subject) if analyses is None else analyses
    if not names:
        return SubjectResult(subject=subject.subject, results=results)
    return SubjectResult(subject.subject, results, run_analyses(subject, names, results, cache))


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
