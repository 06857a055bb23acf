"""Endpoint results: the lossless JSON codec of a :class:`~criteria.types.CriterionResult`
(what an :class:`~trialreads.models.EndpointRun` stores) and of the growth-family analyses
(what an :class:`~trialreads.models.EndpointAnalysis` stores), and reading a DONE job's rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from criteria.evaluate import AVAILABLE
from criteria.growth_input import HPD_DEFINITIONS
from criteria.types import (
    CriterionResult,
    DurationOfResponse,
    ExtraValue,
    Pfs,
    Progression,
    ScanKind,
    TimepointResult,
)
from trialreads.models.endpoint import EndpointAnalysis, EndpointJob, EndpointRun, JobStatus

#: CDISC evaluator id (``--EVALID``) of each read slot.
EVALUATOR_BY_SLOT: Mapping[int, str] = {1: "RADIOLOGIST 1", 2: "RADIOLOGIST 2"}


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


# --- optional output fields (``extra``) and analyses: ``criteria.types.ExtraValue`` ----------
#
# JSON strings, numbers, booleans, null and arrays stand for themselves; the other values are
# tagged objects of one key: a Decimal {"$d": "12.5"} (the text, exact), a date
# {"$date": "2026-01-31"}, a tuple {"$t": [...]}, and a mapping whose only key begins with "$"
# {"$m": {...}} (never written by the engine; kept unambiguous all the same). Results stored
# before this codec carried only strings, null and {"$d": ...}: they read back as before.

_TAGS = frozenset({"$d", "$date", "$t", "$m"})


def extra_to_json(value: ExtraValue) -> Any:
    """An ``ExtraValue`` as JSON, losslessly (the inverse is :func:`extra_from_json`)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$t": [extra_to_json(v) for v in value]}
    if isinstance(value, list):
        return [extra_to_json(v) for v in value]
    mapping = {str(k): extra_to_json(v) for k, v in value.items()}
    return {"$m": mapping} if len(mapping) == 1 and next(iter(mapping)).startswith("$") else mapping


def extra_from_json(value: Any) -> ExtraValue:
    """Inverse of :func:`extra_to_json`."""
    if isinstance(value, list):
        return [extra_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value  # type: ignore[no-any-return]
    if len(value) == 1 and (tag := next(iter(value))) in _TAGS:
        inner = value[tag]
        if tag == "$d":
            return Decimal(inner)
        if tag == "$date":
            return dt.date.fromisoformat(inner)
        if tag == "$t":
            return tuple(extra_from_json(v) for v in inner)
        return {k: extra_from_json(v) for k, v in inner.items()}
    return {k: extra_from_json(v) for k, v in value.items()}


def analyses_to_json(analyses: Mapping[str, ExtraValue]) -> dict[str, Any]:
    """One read's analyses (``SubjectResult.analyses``) as JSON, losslessly."""
    return {name: extra_to_json(value) for name, value in analyses.items()}


def analyses_from_json(data: Mapping[str, Any]) -> dict[str, ExtraValue]:
    return {name: extra_from_json(value) for name, value in data.items()}


def _timepoint_json(t: TimepointResult) -> dict[str, Any]:
    return {
        "date": t.date.isoformat(),
        "target": t.target,
        "non_target": t.non_target,
        "new_lesions": t.new_lesions,
        "overall": t.overall,
        "sum_mm": _decimal_text(t.sum_mm),
        "nadir_ref_mm": _decimal_text(t.nadir_ref_mm),
        "pct_vs_baseline": _decimal_text(t.pct_vs_baseline),
        "pct_vs_nadir": _decimal_text(t.pct_vs_nadir),
        "why": list(t.why),
        "progression_date": _iso(t.progression_date),
        "scan": t.scan.value,
        # Decimals (dates, tuples) tagged so they come back as they were, not as strings.
        "extra": {k: extra_to_json(v) for k, v in t.extra.items()},
    }


def result_to_json(result: CriterionResult) -> dict[str, Any]:
    """A :class:`CriterionResult` as JSON with exact decimals (strings) and ISO dates; the
    inverse is :func:`result_from_json`. Unlike the contract's display JSON
    (``criteria.serialize``) nothing is rounded or dropped. Written field by field: this
    runs for every read x criterion of a trial and a generic dataclass walk is 4x slower."""
    prog, dor = result.progression, result.dor
    out: dict[str, Any] = {
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
    if result.extra:  # criterion-specific fields (itRECIST's injected / non-injected BOR)
        out["extra"] = {k: extra_to_json(v) for k, v in result.extra.items()}
    return out


def _date_or_none(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _decimal_or_none(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def result_from_json(data: Mapping[str, Any]) -> CriterionResult:
    """Inverse of :func:`result_to_json`."""

    def tp(t: Mapping[str, Any]) -> TimepointResult:
        date = _date_or_none(t["date"])
        assert date is not None
        return TimepointResult(
            date=date,
            target=t["target"],
            non_target=t["non_target"],
            new_lesions=t["new_lesions"],
            overall=t["overall"],
            sum_mm=_decimal_or_none(t["sum_mm"]),
            nadir_ref_mm=_decimal_or_none(t["nadir_ref_mm"]),
            pct_vs_baseline=_decimal_or_none(t["pct_vs_baseline"]),
            pct_vs_nadir=_decimal_or_none(t["pct_vs_nadir"]),
            why=tuple(t["why"]),
            progression_date=_date_or_none(t["progression_date"]),
            scan=ScanKind(t["scan"]),
            extra={k: extra_from_json(v) for k, v in t["extra"].items()},
        )

    pfs_date = _date_or_none(data["pfs"]["date"])
    assert pfs_date is not None
    prog = data.get("progression")
    dor = data.get("dor")
    return CriterionResult(
        criterion=data["criterion"],
        timepoints=tuple(tp(t) for t in data["timepoints"]),
        bor=data["bor"],
        bor_date=_date_or_none(data["bor_date"]),
        bor_confirmed=data["bor_confirmed"],
        pfs=Pfs(event=data["pfs"]["event"], date=pfs_date, reason=data["pfs"]["reason"]),
        progression=Progression(_date_or_none(prog["iupd_date"]), _date_or_none(prog["icpd_date"]))
        if prog
        else None,
        why=tuple(data["why"]),
        bor_confirmed_date=_date_or_none(data["bor_confirmed_date"]),
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
        extra={k: extra_from_json(v) for k, v in data.get("extra", {}).items()},
    )


# --- reading a job's runs ------------------------------------------------------------------


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
    order = {c: i for i, c in enumerate(AVAILABLE)}
    return sorted(runs, key=lambda r: (r.subject.subject_code, order.get(r.criterion, 99)))


def job_analyses(job: EndpointJob) -> list[EndpointAnalysis]:
    """The per-subject analyses of a DONE job (one query; by subject code); none when the
    charter asks for no analysis."""
    rows = [
        row
        for row in EndpointAnalysis.objects.filter(
            trial_id=job.trial_id, charter_id=job.charter_id, algorithm_version=job.algorithm_version
        ).select_related("subject")
        if job.subject_hashes.get(str(row.subject_id)) == row.input_sha256
    ]
    return sorted(rows, key=lambda r: r.subject.subject_code)


def latest_done_job(trial_id: int) -> EndpointJob | None:
    return (
        EndpointJob.objects.filter(trial_id=trial_id, status=JobStatus.DONE)
        .select_related("charter", "trial")
        .order_by("-finished_at", "-pk")
        .first()
    )


# --- analysis flags and their counts ---------------------------------------------------------

#: The subject-level flag of each analysis (``criteria.growth``), ``None`` when undetermined:
#: hyperprogression per definition (``tgr``: ``hyperprogression.<definition>.hpd``),
#: pseudoprogression per criterion (``pseudoprogression.<criterion>.pseudoprogression``),
#: dissociated response (``dissociated_response.dissociated``).
Flags = dict[str, dict[str, bool | None]]


def analysis_flags(analyses: Mapping[str, Any]) -> Flags:
    """One read's subject-level flags, from its analyses (decoded or as stored: the flags
    are JSON booleans or null either way). Keys in the engine's order (definitions as
    ``criteria.growth_input.HPD_DEFINITIONS``, criteria as ``AVAILABLE``), whatever order the
    database gave the stored object's keys in (PostgreSQL's jsonb keeps none)."""
    out: Flags = {}
    tgr = analyses.get("tgr")
    if isinstance(tgr, Mapping):
        out["hyperprogression"] = _in_order(tgr.get("hyperprogression") or {}, "hpd", HPD_DEFINITIONS)
    pseudo = analyses.get("pseudoprogression")
    if isinstance(pseudo, Mapping):
        out["pseudoprogression"] = _in_order(pseudo, "pseudoprogression", AVAILABLE)
    dissociated = analyses.get("dissociated_response")
    if isinstance(dissociated, Mapping):
        out["dissociated_response"] = {"dissociated": _flag(dissociated.get("dissociated"))}
    return out


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _in_order(items: Mapping[str, Any], flag: str, order: Sequence[str]) -> dict[str, bool | None]:
    rank = {name: i for i, name in enumerate(order)}
    names = sorted(
        (k for k, v in items.items() if isinstance(v, Mapping)), key=lambda k: (rank.get(k, len(rank)), k)
    )
    return {name: _flag(items[name].get(flag)) for name in names}


@dataclasses.dataclass(frozen=True)
class FlagCount:
    """How many subjects were flagged (``yes``), ruled out (``no``) or undetermined
    (``unknown``: an input the definition needs is missing) of the ``subjects`` evaluated;
    ``rate`` is ``yes / subjects`` (``None`` without subjects)."""

    yes: int
    no: int
    unknown: int

    @property
    def subjects(self) -> int:
        return self.yes + self.no + self.unknown

    @property
    def rate(self) -> float | None:
        return self.yes / self.subjects if self.subjects else None

    def as_json(self) -> dict[str, Any]:
        return {
            "yes": self.yes,
            "no": self.no,
            "unknown": self.unknown,
            "subjects": self.subjects,
            "rate": self.rate,
        }


def analysis_counts(flags: Sequence[Flags]) -> dict[str, dict[str, FlagCount]]:
    """Counts per analysis and per criterion (pseudoprogression) or definition
    (hyperprogression) over the subjects' flags, keys in the order first seen."""
    tally: dict[str, dict[str, list[int]]] = {}
    for subject in flags:
        for analysis, items in subject.items():
            for key, flag in items.items():
                counts = tally.setdefault(analysis, {}).setdefault(key, [0, 0, 0])
                counts[0 if flag is True else 1 if flag is False else 2] += 1
    return {a: {k: FlagCount(*c) for k, c in items.items()} for a, items in tally.items()}
