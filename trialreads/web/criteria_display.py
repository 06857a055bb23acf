"""How the pages show each criterion: its label, a timepoint result as a table cell (the
response, the numbers it rests on, the criterion's extras and the engine's sentences), and
the quantity its plots draw (the target sum, irRC's tumour burden, PERCIST's SULpeak).

One place for every criterion of ``criteria.evaluate.AVAILABLE`` (a criterion added to the
engine without a label here fails ``tests/trialreads/web/test_criteria_display.py``).
Presentation only: the values are the engine's, formatted for reading, never recomputed
except the PET percentages, which are taken from the exact SUL values the engine reports.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from criteria.types import (
    IMPERCIST5,
    IMRECIST,
    IPERCIST,
    IRECIST,
    IRRC,
    IRRECIST,
    ITRECIST,
    PERCIMT,
    PERCIST,
    RECIST11,
    ExtraValue,
    ScanKind,
    Settings,
    TimepointResult,
)

#: The display name of every criterion the engine evaluates.
CRITERIA_LABELS: Mapping[str, str] = {
    RECIST11: "RECIST 1.1",
    IRECIST: "iRECIST",
    IMRECIST: "imRECIST",
    PERCIST: "PERCIST 1.0",
    IPERCIST: "iPERCIST",
    IMPERCIST5: "imPERCIST5",
    PERCIMT: "PERCIMT",
    IRRC: "irRC",
    IRRECIST: "irRECIST",
    ITRECIST: "itRECIST",
}


def label(criterion: str) -> str:
    return CRITERIA_LABELS.get(criterion, criterion)


def labelled(criteria: Sequence[str]) -> list[tuple[str, str]]:
    """``[(criterion, label), ...]`` in the order given (the charter's)."""
    return [(c, label(c)) for c in criteria]


#: Labels of the extras the engines write (``TimepointResult.extra``,
#: ``CriterionResult.extra``). An extra not listed is shown under its own key.
EXTRA_LABELS: Mapping[str, str] = {
    # iRECIST / imRECIST / irRECIST
    "nlt_sum_mm": "new-lesion target sum (mm)",
    "icpd_reason": "iCPD reason",
    "pd_status": "PD status",
    "partial_sum_mm": "sum of the lesions assessed (mm)",
    "new_measurable_sum_mm": "new measurable lesions in the sum (mm)",
    # irRC
    "index_spd_mm2": "index lesions, sum of products (mm²)",
    "new_measurable_spd_mm2": "new measurable lesions, sum of products (mm²)",
    # itRECIST
    "injected_lesions": "injected lesions",
    "injected_after_baseline": "injected after baseline",
    "injected_bor": "injected lesions: best response",
    "injected_bor_date": "injected lesions: best response date",
    "non_injected_bor": "non-injected lesions: best response",
    "non_injected_bor_date": "non-injected lesions: best response date",
    # PERCIST family
    "measurability_threshold": "measurability threshold (SUL)",
    "sul_peak_baseline": "hottest SULpeak at baseline",
    "hottest_lesion_baseline": "hottest lesion at baseline",
    "sul_peak": "hottest SULpeak",
    "hottest_lesion": "hottest lesion",
    "sul_change": "SULpeak change (SUL)",
    "tlg_baseline": "TLG at baseline",
    "tlg": "TLG",
    "quality": "comparability checks",
    "upmd_status": "UPMD",
    "upmd_date": "UPMD confirmed from",
    "sul_peak_sum_baseline": "SULpeak sum at baseline",
    "sul_peak_sum": "SULpeak sum",
    "lesions_summed": "lesions summed",
    "new_lesions_count": "new lesions",
    "new_lesions_over_10mm": "new lesions > 1.0 cm",
    "new_lesions_over_15mm": "new lesions > 1.5 cm",
    "resolved_lesions": "resolved baseline lesions",
}
_GROUPS = ("injected", "non_injected")
_GROUP_KEYS = frozenset(
    f"{g}_{k}"
    for g in _GROUPS
    for k in ("response", "target", "non_target", "new_lesions", "sum_mm", "nadir_ref_mm")
)


# --- values as text ---------------------------------------------------------------------------

_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def mm(value: Any) -> str:
    """A length, area or sum to one decimal (the engine's display rounding)."""
    number = _decimal(value)
    return "—" if number is None else f"{number.quantize(Decimal('0.1')):,}"


def pct(value: Any) -> str:
    number = _decimal(value)
    return "—" if number is None else f"{number:+.1f}%"


def _trimmed(digits: str) -> str:
    """``6.5000`` -> ``6.5``, ``7.000`` -> ``7.0`` (stored SUL values carry four places)."""
    whole, _, fraction = digits.partition(".")
    return f"{whole}.{fraction.rstrip('0') or '0'}"


def text(value: ExtraValue | Any) -> str:
    """Any extra as text: lists joined, dates ISO, decimals as the engine wrote them less
    their trailing zeros."""
    if isinstance(value, Decimal):
        value = f"{value:f}"
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return _trimmed(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return ", ".join(text(v) for v in value) if value else "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {text(v)}" for k, v in value.items())
    if isinstance(value, str) and value.islower() and "_" in value:
        return value.replace("_", " ")  # a code such as not_confirmed, target_increase
    return str(value)


def _signed(value: Any) -> str:
    number = _decimal(value)
    return text(value) if number is None else ("+" if number >= 0 else "") + text(number)


def extra_details(extra: Mapping[str, Any], skip: frozenset[str] = frozenset()) -> tuple[Detail, ...]:
    """The extras not already shown, labelled, in the engine's order."""
    return tuple(
        Detail(EXTRA_LABELS.get(k, k.replace("_", " ")), text(v)) for k, v in extra.items() if k not in skip
    )


def pct_change(now: Any, before: Any) -> Decimal | None:
    """Exact percentage change (``None`` without both values or from zero)."""
    a, b = _decimal(now), _decimal(before)
    if a is None or b is None or b == 0:
        return None
    return (a - b) * 100 / b


# --- one timepoint result as a cell --------------------------------------------------------------


@dataclass(frozen=True)
class Detail:
    label: str
    value: str


@dataclass(frozen=True)
class Cell:
    """One criterion at one timepoint: the response, its components, the numbers it rests on
    (``lines``, shown), the other extras (``details``) and the engine's sentences (``why``)."""

    criterion: str
    overall: str
    components: str
    lines: tuple[str, ...]
    details: tuple[Detail, ...]
    why: tuple[str, ...]
    scan: str = ""


def _components(tp: TimepointResult, criterion: str) -> str:
    if criterion in (PERCIST, IPERCIST, IMPERCIST5, PERCIMT):
        names = (("metabolic", tp.target), ("non-target", tp.non_target), ("new", tp.new_lesions))
    else:
        names = (("T", tp.target), ("NT", tp.non_target), ("NL", tp.new_lesions))
    return " · ".join(f"{n} {v}" for n, v in names if v)


def _changes(tp: TimepointResult) -> str:
    parts = []
    if tp.pct_vs_baseline is not None:
        parts.append(f"{pct(tp.pct_vs_baseline)} vs baseline")
    if tp.pct_vs_nadir is not None:
        parts.append(f"{pct(tp.pct_vs_nadir)} vs nadir")
    return ", ".join(parts)


def _sum_line(tp: TimepointResult, name: str = "Σ", unit: str = "mm") -> list[str]:
    if tp.sum_mm is None:
        return []
    changes = _changes(tp)
    return [f"{name} {mm(tp.sum_mm)} {unit}" + (f", {changes}" if changes else "")]


def _recist_lines(tp: TimepointResult, extra: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    lines = _sum_line(tp)
    used: set[str] = set()
    if extra.get("nlt_sum_mm") is not None:
        lines.append(f"new-lesion target sum {mm(extra['nlt_sum_mm'])} mm (not in Σ)")
        used.add("nlt_sum_mm")
    if (_decimal(extra.get("new_measurable_sum_mm")) or 0) > 0:
        lines.append(f"Σ includes new measurable lesions {mm(extra['new_measurable_sum_mm'])} mm")
        used.add("new_measurable_sum_mm")
    return lines, used


def _irrc_lines(tp: TimepointResult, extra: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    lines = _sum_line(tp, "tumour burden", "mm² (sum of products)")
    index, new = extra.get("index_spd_mm2"), extra.get("new_measurable_spd_mm2")
    if index is not None:
        lines.append(f"index lesions {mm(index)} mm² + new measurable lesions {mm(new or 0)} mm²")
    elif tp.sum_mm is None:
        lines.append("tumour burden incomplete")
    return lines, {"index_spd_mm2", "new_measurable_spd_mm2"}


def _itrecist_lines(tp: TimepointResult, extra: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    lines, used = _recist_lines(tp, extra)
    members = extra.get("injected_lesions")
    for group, name in (("injected", "injected"), ("non_injected", "non-injected")):
        response = extra.get(f"{group}_response")
        if response is None:
            lines.append(f"{name} lesions: none")
            continue
        sums, nadir = extra.get(f"{group}_sum_mm"), extra.get(f"{group}_nadir_ref_mm")
        codes = f"T {extra.get(f'{group}_target') or '—'}, NT {extra.get(f'{group}_non_target') or '—'}"
        if extra.get(f"{group}_new_lesions"):
            codes += f", NL {extra[f'{group}_new_lesions']}"
        if sums is not None:
            codes += f", Σ {mm(sums)} mm" + (f", nadir {mm(nadir)} mm" if nadir is not None else "")
        who = f" ({text(members)})" if group == "injected" and members else ""
        lines.append(f"{name}{who}: {response} ({codes})")
    return lines, used | _GROUP_KEYS | {"injected_lesions"}


def _percist_lines(tp: TimepointResult, extra: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    lines: list[str] = []
    if extra.get("sul_peak") is not None and extra.get("sul_peak_baseline") is not None:
        change = pct_change(extra["sul_peak"], extra["sul_peak_baseline"])
        lines.append(
            f"SULpeak {text(extra['sul_peak'])} ({text(extra.get('hottest_lesion'))}) vs "
            f"{text(extra['sul_peak_baseline'])} ({text(extra.get('hottest_lesion_baseline'))}) at baseline"
            + (f": {pct(change)}" if change is not None else "")
            + (f", {_signed(extra['sul_change'])} SUL" if extra.get("sul_change") is not None else "")
        )
    if extra.get("tlg") is not None:
        lines.append(f"TLG {text(extra['tlg'])} vs {text(extra.get('tlg_baseline'))} at baseline")
    used = {"sul_peak", "hottest_lesion", "sul_peak_baseline", "hottest_lesion_baseline", "sul_change"}
    return lines, used | {"tlg", "tlg_baseline"}


def _impercist5_lines(tp: TimepointResult, extra: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    if extra.get("sul_peak_sum") is None:
        return [], set()
    change = pct_change(extra["sul_peak_sum"], extra.get("sul_peak_sum_baseline"))
    line = (
        f"SULpeak sum {text(extra['sul_peak_sum'])} ({text(extra.get('lesions_summed'))}) vs "
        f"{text(extra.get('sul_peak_sum_baseline'))} at baseline"
        + (f": {pct(change)}" if change is not None else "")
    )
    return [line], {"sul_peak_sum", "sul_peak_sum_baseline", "lesions_summed"}


def _percimt_lines(tp: TimepointResult, extra: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    if "new_lesions_count" not in extra:
        return [], set()
    over_10, over_15 = text(extra.get("new_lesions_over_10mm")), text(extra.get("new_lesions_over_15mm"))
    lines = [f"new lesions {text(extra['new_lesions_count'])} ({over_10} > 1.0 cm, {over_15} > 1.5 cm)"]
    if "resolved_lesions" in extra:
        lines.append(f"resolved baseline lesions: {text(extra['resolved_lesions'])}")
    return lines, {"new_lesions_count", "new_lesions_over_10mm", "new_lesions_over_15mm", "resolved_lesions"}


_LINES: Mapping[str, Callable[[TimepointResult, Mapping[str, Any]], tuple[list[str], set[str]]]] = {
    IRRC: _irrc_lines,
    ITRECIST: _itrecist_lines,
    PERCIST: _percist_lines,
    IPERCIST: _percist_lines,
    IMPERCIST5: _impercist5_lines,
    PERCIMT: _percimt_lines,
}


def cell(criterion: str, tp: TimepointResult) -> Cell:
    """A criterion's timepoint result as the pages show it."""
    lines, used = _LINES.get(criterion, _recist_lines)(tp, tp.extra)
    scan = "" if tp.scan == ScanKind.SCHEDULED else tp.scan.value.replace("_", " ")
    return Cell(
        criterion=criterion,
        overall=tp.overall,
        components=_components(tp, criterion),
        lines=tuple(lines),
        details=extra_details(tp.extra, frozenset(used)),
        why=tp.why,
        scan=scan,
    )


_STANDARD = frozenset(
    {
        "date",
        "target",
        "non_target",
        "new_lesions",
        "overall",
        "sum_mm",
        "nadir_ref_mm",
        "pct_vs_baseline",
        "pct_vs_nadir",
        "why",
        "progression_date",
    }
)


def timepoint_from_json(data: Mapping[str, Any]) -> TimepointResult:
    """A timepoint of the contract's display JSON (``criteria.serialize.timepoint_json``, what
    the adjudication view carries) back as a :class:`TimepointResult` for :func:`cell`."""

    def value(v: Any) -> Any:
        if isinstance(v, float):
            return Decimal(str(v))
        if isinstance(v, list):
            return tuple(value(x) for x in v)
        return v

    return TimepointResult(
        date=dt.date.fromisoformat(data["date"]),
        target=data.get("target", ""),
        non_target=data.get("non_target", ""),
        new_lesions=data.get("new_lesions", ""),
        overall=data["overall"],
        sum_mm=_decimal(data.get("sum_mm")),
        nadir_ref_mm=_decimal(data.get("nadir_ref_mm")),
        pct_vs_baseline=_decimal(data.get("pct_vs_baseline")),
        pct_vs_nadir=_decimal(data.get("pct_vs_nadir")),
        why=tuple(data.get("why", ())),
        extra={k: value(v) for k, v in data.items() if k not in _STANDARD},
    )


# --- what the plots draw -------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """The quantity a criterion's waterfall and spider plots draw, as a percentage change
    from baseline per timepoint (``change``) with the value behind it (``note``), and the
    criterion's response thresholds as reference lines."""

    what: str
    references: tuple[tuple[Decimal, str], ...]
    change: Callable[[TimepointResult], Decimal | None]
    note: Callable[[TimepointResult], str]


def _sum_note(unit: str, name: str = "Σ") -> Callable[[TimepointResult], str]:
    return lambda tp: f"{name} {mm(tp.sum_mm)} {unit}" if tp.sum_mm is not None else ""


def _sul_change(now: str, before: str) -> Callable[[TimepointResult], Decimal | None]:
    return lambda tp: pct_change(tp.extra.get(now), tp.extra.get(before))


def _sul_note(now: str, before: str, name: str) -> Callable[[TimepointResult], str]:
    return lambda tp: f"{name} {text(tp.extra.get(now))} vs {text(tp.extra.get(before))}"


def _refs(up: int, up_code: str, down: int, down_code: str) -> tuple[tuple[Decimal, str], ...]:
    return ((Decimal(up), f"+{up}% ({up_code})"), (Decimal(-down), f"−{down}% ({down_code})"))


def measure(criterion: str, settings: Settings | None = None) -> Measure | None:
    """What the criterion's plots draw; ``None`` when it has no continuous quantity (PERCIMT
    counts new and resolved lesions)."""
    settings = settings or Settings()
    if criterion == PERCIMT:
        return None
    if criterion == IRRC:
        return Measure(
            "the tumour burden (sum of products)",
            _refs(25, "irPD", 50, "irPR"),
            lambda tp: tp.pct_vs_baseline,
            _sum_note("mm²", "burden"),
        )
    if criterion in (PERCIST, IPERCIST):
        code = "UPMD" if criterion == IPERCIST else "PMD"
        return Measure(
            "the hottest lesion's SULpeak",
            _refs(30, code, 30, "PMR"),
            _sul_change("sul_peak", "sul_peak_baseline"),
            _sul_note("sul_peak", "sul_peak_baseline", "SULpeak"),
        )
    if criterion == IMPERCIST5:
        return Measure(
            "the SULpeak sum (five hottest lesions)",
            _refs(int(settings.impercist5_pmd_threshold), "PMD", 30, "PMR"),
            _sul_change("sul_peak_sum", "sul_peak_sum_baseline"),
            _sul_note("sul_peak_sum", "sul_peak_sum_baseline", "SULpeak sum"),
        )
    codes = {IRECIST: ("iUPD", "iPR"), IRRECIST: ("irPD", "irPR")}.get(criterion, ("PD", "PR"))
    return Measure(
        "the target sum", _refs(20, codes[0], 30, codes[1]), lambda tp: tp.pct_vs_baseline, _sum_note("mm")
    )


#: Why a criterion without a continuous quantity has no waterfall or spider plot.
NO_MEASURE = (
    "{label} has no continuous measure (its response counts new and resolved lesions): see the swimmer plot."
)
