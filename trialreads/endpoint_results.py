"""Endpoint results: the lossless JSON codec of a :class:`~criteria.types.CriterionResult`
(what an :class:`~trialreads.models.EndpointRun` stores) and reading a DONE job's runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from criteria.types import (
    CRITERIA,
    CriterionResult,
    DurationOfResponse,
    ExtraValue,
    Pfs,
    Progression,
    ScanKind,
    TimepointResult,
)
from trialreads.models.endpoint import EndpointJob, EndpointRun, JobStatus

#: CDISC evaluator id (``--EVALID``) of each read slot.
EVALUATOR_BY_SLOT: Mapping[int, str] = {1: "RADIOLOGIST 1", 2: "RADIOLOGIST 2"}


def _decimal_text(value: Decimal | None) -> str | None:
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
        "sum_mm": _decimal_text(t.sum_mm),
        "nadir_ref_mm": _decimal_text(t.nadir_ref_mm),
        "pct_vs_baseline": _decimal_text(t.pct_vs_baseline),
        "pct_vs_nadir": _decimal_text(t.pct_vs_nadir),
        "why": list(t.why),
        "progression_date": _iso(t.progression_date),
        "scan": t.scan.value,
        "extra": {k: _extra_json(v) for k, v in t.extra.items()},
    }


def _extra_json(value: Any) -> Any:
    """An ``ExtraValue`` as JSON: Decimals and dates tagged (``{"$d": "1.5"}``,
    ``{"$date": "2025-03-01"}``) so they come back as such, tuples and lists as arrays,
    mappings as objects; text, numbers, booleans and null as they are."""
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_extra_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _extra_json(v) for k, v in value.items()}
    return value


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
        "extra": {k: _extra_json(v) for k, v in result.extra.items()},
    }


def _date_or_none(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _decimal_or_none(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _extra_value(value: Any) -> ExtraValue:
    """Inverse of :func:`_extra_json` (an array comes back as a tuple, as the engine writes
    them)."""
    if isinstance(value, dict):
        if set(value) == {"$d"}:
            return Decimal(value["$d"])
        if set(value) == {"$date"}:
            return dt.date.fromisoformat(value["$date"])
        return {k: _extra_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_extra_value(v) for v in value)
    return value  # type: ignore[no-any-return]


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
            extra={k: _extra_value(v) for k, v in t["extra"].items()},
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
        # Runs written before the criterion-level extras were stored have none.
        extra={k: _extra_value(v) for k, v in data.get("extra", {}).items()},
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
    order = {c: i for i, c in enumerate(CRITERIA)}
    return sorted(runs, key=lambda r: (r.subject.subject_code, order.get(r.criterion, 99)))


def latest_done_job(trial_id: int) -> EndpointJob | None:
    return (
        EndpointJob.objects.filter(trial_id=trial_id, status=JobStatus.DONE)
        .select_related("charter", "trial")
        .order_by("-finished_at", "-pk")
        .first()
    )
