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
import json
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

from criteria.rounding import CONTEXT, QUANTUM, to_display
from criteria.types import CriterionResult, ExtraValue, SubjectResult, TimepointResult

JsonObject = dict[str, Any]


def number(value: Decimal | None) -> float | None:
    """A Decimal as a JSON number rounded to one decimal (``-0.0`` written as ``0.0``).

    The float carries the exact one-decimal value: ``repr`` of a float gives back the
    shortest string that round-trips, so 28.6 is written as 28.6.
    """
    if value is None:
        return None
    return float(to_display(value)) or 0.0  # -0.0 is falsy: written as 0.0


def plain(value: ExtraValue) -> Any:
    """An optional output field's value as a JSON value (see ``types.ExtraValue``)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return {key: plain(item) for key, item in value.items()}


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
            out[key] = number(value) if isinstance(value, Decimal) else plain(value)
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
    for key, value in result.extra.items():
        out[key] = plain(value)
    if explain:
        out["why"] = list(result.why)
        out["defaults"] = list(result.defaults)
    return out


def subject_json(result: SubjectResult, explain: bool = False) -> JsonObject:
    """One subject's result object: ``{"subject": ..., "results": {criterion: ...}}``."""
    shown: dict[int, tuple[object, Any]] = {}  # this subject's numbers and date texts (timepoint_json)
    criteria = {name: criterion_json(r, explain, shown) for name, r in result.results.items()}
    out: JsonObject = {"subject": result.subject, "results": criteria}
    if result.analyses:  # growth family: optional top-level analyses
        out["analyses"] = {name: plain(value) for name, value in result.analyses.items()}
    return out


# --- JSON text ---------------------------------------------------------------------------
#
# The command line and the benchmark write results as JSON text. json.dumps of the dicts above
# spends most of its time on what is the same for every subject (escaping the same keys and
# codes again, a float through text and back for every number); _Writer writes the same bytes
# directly: keys are literal, strings go through json's own escaping (memoised for this one
# output), numbers are the rounded Decimal's text, which is the float's repr (see _Writer.num).


class _Writer:
    """``json.dumps(value, indent=indent)`` of :func:`subject_json` values, for one output.

    ``indent`` is None (json's compact default: ``", "`` and ``": "``) or a number of
    spaces (then ``","``, ``": "`` and one member per line, as json writes it). The memos
    live with the writer, i.e. with one call of :func:`results_text`.
    """

    __slots__ = ("code_members", "dates", "explain", "indent", "pads", "strings")

    def __init__(self, explain: bool, indent: int | None) -> None:
        self.explain = explain
        self.indent = indent
        self.strings: dict[str, str] = {}  # text -> its JSON string literal
        self.dates: dict[dt.date, str] = {}  # date -> its JSON string
        self.pads: dict[int, tuple[str, str, str]] = {}  # level -> (open, separator, close)
        # (target, non_target, new_lesions, overall, separator) -> those members' text
        self.code_members: dict[tuple[str, str, str, str, str], str] = {}

    def layout(self, level: int) -> tuple[str, str, str]:
        """What goes after ``{``/``[``, between members and before ``}``/``]`` at ``level``."""
        hit = self.pads.get(level)
        if hit is None:
            if self.indent is None:
                hit = ("", ", ", "")
            else:
                inner = "\n" + " " * (self.indent * (level + 1))
                hit = (inner, "," + inner, "\n" + " " * (self.indent * level))
            self.pads[level] = hit
        return hit

    def string(self, value: str) -> str:
        text = self.strings.get(value)
        if text is None:
            text = self.strings[value] = json_string(value)
        return text

    def optional_string(self, value: str | None) -> str:
        return "null" if value is None else self.string(value)

    def strings_list(self, values: tuple[str, ...], level: int) -> str:
        if not values:
            return "[]"
        o, sep, c = self.layout(level)
        return f"[{o}{sep.join([self.string(v) for v in values])}{c}]"

    def members(self, members: list[str], level: int) -> str:
        """An object of ``'"key": value'`` members at ``level``."""
        if not members:
            return "{}"
        o, sep, c = self.layout(level)
        return f"{{{o}{sep.join(members)}{c}}}"

    @staticmethod
    def num(value: Decimal) -> str:
        """The text json.dumps writes for :func:`number` (``value``)."""
        shown = value.quantize(QUANTUM, ROUND_HALF_UP, CONTEXT)
        # At most 15 significant digits, one of them after the point: the float nearest to this
        # decimal has it as its shortest repr, and str writes it in plain notation with that one
        # decimal, as repr does below 1e16. Longer: through the float. -0.0 is written as 0.0.
        text = str(shown) if shown.adjusted() <= 13 else repr(float(shown))
        return "0.0" if text == "-0.0" else text

    def number(self, value: Decimal, shown: dict[int, str]) -> str:
        """:meth:`num` (inlined: this runs for most numbers of a subject), remembered in
        ``shown`` by identity: ``shown`` lives while one subject's result is written, and
        every number it keys is held by that (frozen) result, so no id is reused meanwhile."""
        rounded = value.quantize(QUANTUM, ROUND_HALF_UP, CONTEXT)
        text = str(rounded) if rounded.adjusted() <= 13 else repr(float(rounded))
        if text == "-0.0":
            text = "0.0"
        shown[id(value)] = text
        return text

    def codes(self, tp: TimepointResult, sep: str) -> str:
        """The members ``"target"`` to ``"overall"`` of a timepoint (remembered: a batch has
        few combinations of the four codes)."""
        key = (tp.target, tp.non_target, tp.new_lesions, tp.overall, sep)
        text = self.code_members.get(key)
        if text is None:
            string = self.string
            text = self.code_members[key] = (
                f'"target": {string(tp.target)}{sep}"non_target": {string(tp.non_target)}{sep}'
                f'"new_lesions": {string(tp.new_lesions)}{sep}"overall": {string(tp.overall)}')
        return text

    def timepoint(self, tp: TimepointResult, layout: tuple[str, str, str], level: int,
                  shown: dict[int, str]) -> str:
        """One timepoint object at ``level`` (``layout``: :meth:`layout` of that level)."""
        o, sep, c = layout
        date = tp.date
        day = self.dates.get(date) or self.date(date)
        if tp.target or tp.non_target or tp.new_lesions:
            # the criteria of a subject share most numbers: by identity from ``shown``
            get = shown.get
            s, n, b, p = tp.sum_mm, tp.nadir_ref_mm, tp.pct_vs_baseline, tp.pct_vs_nadir
            codes = self.code_members.get((tp.target, tp.non_target, tp.new_lesions, tp.overall, sep))
            text = (f'{{{o}"date": {day}{sep}{codes or self.codes(tp, sep)}{sep}"sum_mm": '
                    f'{"null" if s is None else get(id(s)) or self.number(s, shown)}{sep}"nadir_ref_mm": '
                    f'{"null" if n is None else get(id(n)) or self.number(n, shown)}{sep}"pct_vs_baseline": '
                    f'{"null" if b is None else get(id(b)) or self.number(b, shown)}{sep}"pct_vs_nadir": '
                    f'{"null" if p is None else get(id(p)) or self.number(p, shown)}')
        else:
            text = f'{{{o}"date": {day}{sep}"overall": {self.string(tp.overall)}'
        if tp.progression_date is not None and tp.progression_date != date:
            text += f'{sep}"progression_date": {self.date(tp.progression_date)}'
        if tp.extra:
            string = self.string
            for key, item in tp.extra.items():
                if isinstance(item, Decimal):
                    shown_value = self.num(item)
                elif item is None:
                    shown_value = "null"
                elif isinstance(item, str):
                    shown_value = string(item)
                else:
                    shown_value = self.value(item, level + 1)
                text += f"{sep}{string(key)}: {shown_value}"
        if self.explain:
            text += f'{sep}"why": {self.strings_list(tp.why, level + 1)}'
        return text + c + "}"

    def value(self, item: ExtraValue, level: int) -> str:
        """An optional output field's value as a member at ``level`` (rare: json.dumps of
        :func:`plain`, its continuation lines indented as the nesting requires)."""
        text = json.dumps(plain(item), indent=self.indent)
        if self.indent is None:
            return text
        return text.replace("\n", "\n" + " " * (self.indent * level))

    def date(self, value: dt.date | None) -> str:
        """A date's JSON string (remembered by value: equal dates, the same text)."""
        if value is None:
            return "null"
        text = self.dates.get(value)
        if text is None:
            text = self.dates[value] = f'"{value.isoformat()}"'  # digits and hyphens: no escapes
        return text

    def criterion(self, result: CriterionResult, level: int, shown: dict[int, str]) -> str:
        inner = level + 1
        o, sep, c = self.layout(level)
        io, isep, ic = self.layout(inner)
        timepoints = result.timepoints
        if timepoints:
            at, layout = inner + 1, self.layout(inner + 1)
            listed = f"[{io}{isep.join([self.timepoint(tp, layout, at, shown) for tp in timepoints])}{ic}]"
        else:
            listed = "[]"
        pfs = result.pfs
        date, optional = self.date, self.optional_string
        text = (f'{{{o}"timepoints": {listed}{sep}"bor": {optional(result.bor)}{sep}"bor_date": '
                f'{date(result.bor_date)}{sep}"bor_confirmed": {optional(result.bor_confirmed)}{sep}'
                f'"bor_confirmed_date": {date(result.bor_confirmed_date)}{sep}"pfs": {{{io}"event": '
                f'{"true" if pfs.event else "false"}{isep}"date": {date(pfs.date)}{isep}"reason": '
                f'{self.string(pfs.reason)}{ic}}}')
        progression = result.progression
        if progression is not None:
            text += (f'{sep}"progression": {{{io}"iupd_date": {date(progression.iupd_date)}{isep}'
                     f'"icpd_date": {date(progression.icpd_date)}{ic}}}')
        dor = result.dor
        if dor is not None:
            text += (f'{sep}"dor": {{{io}"start": {date(dor.start)}{isep}"end": {date(dor.end)}{isep}'
                     f'"days": {int(dor.days)}{isep}"event": {"true" if dor.event else "false"}{isep}'
                     f'"reason": {self.string(dor.reason)}{ic}}}')
        for key, item in result.extra.items():
            text += f"{sep}{self.string(key)}: {self.value(item, inner)}"
        if self.explain:
            text += (f'{sep}"why": {self.strings_list(result.why, inner)}'
                     f'{sep}"defaults": {self.strings_list(result.defaults, inner)}')
        return text + c + "}"

    def subject(self, result: SubjectResult, level: int) -> str:
        shown: dict[int, str] = {}  # this subject's number texts, by identity (see number)
        inner = level + 1
        criteria = self.members([f"{self.string(name)}: {self.criterion(r, inner + 1, shown)}"
                                 for name, r in result.results.items()], inner)
        members = [f'"subject": {self.string(result.subject)}', f'"results": {criteria}']
        if result.analyses:  # growth family: optional top-level analyses
            members.append(f'"analyses": {self.value(dict(result.analyses), inner)}')
        return self.members(members, level)


def json_string(value: str) -> str:
    """A str as json.dumps writes it by default (ASCII only, escaped)."""
    return encode_basestring_ascii(value)


def results_text(results: SubjectResult | Sequence[SubjectResult], explain: bool = False,
                 indent: int | None = None) -> str:
    """``json.dumps(x, indent=indent)`` where ``x`` is :func:`subject_json` of ``results``
    (a list of them for a sequence), written directly: the same text (tests/criteria/
    test_serialize_text.py)."""
    writer = _Writer(explain, indent)
    if isinstance(results, SubjectResult):
        return writer.subject(results, 0)
    if not results:
        return "[]"
    o, sep, c = writer.layout(0)
    return f"[{o}{sep.join([writer.subject(r, 1) for r in results])}{c}]"
