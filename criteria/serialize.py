"""Results -> the contract's JSON shape (``docs/criteria-cli.md``, Output).

Numbers are rounded here and only here, to one decimal half away from zero
(:func:`criteria.rounding.to_display`), and written as JSON numbers. ``why`` sentences and
the ambiguity ``defaults`` appear only with ``explain``. Optional fields beyond the
contract (allowed: "extend it only by adding optional fields"): ``bor_confirmed_date``,
``dor``, per-timepoint ``progression_date`` (when it differs from ``date``) and the
engines' ``extra`` fields (imRECIST ``pd_status``, iRECIST ``nlt_sum_mm`` ...).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from criteria.rounding import CONTEXT, QUANTUM, to_display
from criteria.types import CriterionResult, SubjectResult, TimepointResult

JsonObject = dict[str, Any]


def number(value: Decimal | None) -> float | None:
    """A Decimal as a JSON number rounded to one decimal (``-0.0`` written as ``0.0``).

    The float carries the exact one-decimal value: ``repr`` of a float gives back the
    shortest string that round-trips, so 28.6 is written as 28.6.
    """
    if value is None:
        return None
    return float(to_display(value)) or 0.0  # -0.0 is falsy: written as 0.0


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _shown(value: Decimal, shown: dict[int, tuple[object, Any]]) -> float:
    """:func:`number` of ``value`` (not None), remembered in ``shown`` by identity."""
    hit = shown.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]  # type: ignore[no-any-return]
    x = float(value.quantize(QUANTUM, ROUND_HALF_UP, CONTEXT)) or 0.0
    shown[id(value)] = (value, x)
    return x


def timepoint_json(tp: TimepointResult, explain: bool = False,
                   shown: dict[int, tuple[object, Any]] | None = None) -> JsonObject:
    """One timepoint result. Response-level timepoints (no category codes) carry only
    ``date`` and ``overall`` (plus extras such as ``pd_status``).

    ``shown`` may carry the numbers and dates already written for this subject, by
    identity with the object they came from (see :func:`subject_json`): the criteria of a
    subject share their dates, sums and percentages, and converting each costs a quantize
    and a float through text (a date: its isoformat)."""
    if shown is None:
        shown = {}
    out: JsonObject
    date = tp.date
    hit = shown.get(id(date))
    if hit is not None and hit[0] is date:
        day = hit[1]
    else:
        day = date.isoformat()
        shown[id(date)] = (date, day)
    if tp.target or tp.non_target or tp.new_lesions:
        # number() inlined: the same rounding, -0.0 written as 0.0; one dict display, keys in
        # the contract's order
        s, n, b, p = tp.sum_mm, tp.nadir_ref_mm, tp.pct_vs_baseline, tp.pct_vs_nadir
        out = {
            "date": day,
            "target": tp.target,
            "non_target": tp.non_target,
            "new_lesions": tp.new_lesions,
            "overall": tp.overall,
            "sum_mm": None if s is None else _shown(s, shown),
            "nadir_ref_mm": None if n is None else _shown(n, shown),
            "pct_vs_baseline": None if b is None else _shown(b, shown),
            "pct_vs_nadir": None if p is None else _shown(p, shown),
        }
    else:
        out = {"date": day, "overall": tp.overall}
    if tp.progression_date is not None and tp.progression_date != date:
        out["progression_date"] = tp.progression_date.isoformat()
    if tp.extra:
        for key, value in tp.extra.items():
            out[key] = number(value) if isinstance(value, Decimal) else value
    if explain:
        out["why"] = list(tp.why)
    return out


def criterion_json(result: CriterionResult, explain: bool = False,
                   shown: dict[int, tuple[object, Any]] | None = None) -> JsonObject:
    """One criterion's block: timepoints, bor, bor_date, bor_confirmed, pfs (+ progression
    for iRECIST, dor when there was a response). ``shown``: as for :func:`timepoint_json`."""
    if shown is None:
        shown = {}
    out: JsonObject = {
        "timepoints": [timepoint_json(tp, explain, shown) for tp in result.timepoints],
        "bor": result.bor,
        "bor_date": _date(result.bor_date),
        "bor_confirmed": result.bor_confirmed,
        "bor_confirmed_date": _date(result.bor_confirmed_date),
        "pfs": {"event": result.pfs.event, "date": result.pfs.date.isoformat(), "reason": result.pfs.reason},
    }
    if result.progression is not None:
        out["progression"] = {"iupd_date": _date(result.progression.iupd_date),
                              "icpd_date": _date(result.progression.icpd_date)}
    if result.dor is not None:
        out["dor"] = {"start": result.dor.start.isoformat(), "end": result.dor.end.isoformat(),
                      "days": result.dor.days, "event": result.dor.event, "reason": result.dor.reason}
    if explain:
        out["why"] = list(result.why)
        out["defaults"] = list(result.defaults)
    return out


def subject_json(result: SubjectResult, explain: bool = False) -> JsonObject:
    """One subject's result object: ``{"subject": ..., "results": {criterion: ...}}``."""
    shown: dict[int, tuple[object, Any]] = {}  # this subject's numbers and date texts (timepoint_json)
    return {"subject": result.subject,
            "results": {name: criterion_json(r, explain, shown) for name, r in result.results.items()}}
