"""CDISC SDTM tumour domains (TU identification, TR results) -> contract input, per reader.

Pure and dependency-free so the Django SDTM import can reuse it: rows are plain mappings
(``csv.DictReader`` rows, with R's ``"NA"`` or ``""`` for missing), the output is the
contract's measurement-level JSON (numbers as exact ``Decimal``) ready for
:func:`criteria.parse.parse_subject`.

Mapping decisions (documented in ``criteria/README.md``):

* One subject per ``USUBJID`` and reader: ``TUEVALID`` / ``TREVALID`` (``"RADIOLOGIST 1"``)
  selects an independent reader; ``None`` selects the rows without an evaluator id (the
  investigator).
* ``TUSTRESC`` TARGET / NON-TARGET / NEW gives the lesion's role; ``TULOC`` the organ; a
  ``TULOC`` containing "LYMPH NODE" makes the lesion a node.
* Targets: ``LDIAM`` for non-nodal lesions, ``LPERP`` (short axis) for nodes (R11-NODE);
  the other diameter and ``SUMDIAM`` rows are ignored (the engine sums). ``TRORRES`` "TOO
  SMALL TO MEASURE" / "TSTM" becomes ``"TSTM"`` (R11-TSTM, CDISC-TSTM); otherwise the
  standardised ``TRSTRESC`` (falling back to ``TRORRES``) is read as an exact decimal. A
  baseline target with no row at a follow-up visit is sent as ``null`` (not assessed).
* Non-targets: ``TUMSTATE`` PRESENT / ABSENT / UNEQUIVOCAL PROGRESSION / NOT EVALUABLE;
  missing rows are ``not_evaluated``.
* Baseline: the first visit (lowest ``VISITNUM``); the reference date is the baseline date
  (TU/TR carry no randomisation date; in pharmaversesdtm TRDTC at screening is DM.RFSTDTC).
* Partial dates ("2014-02"): the nominal visit day (baseline + 7 x n for "WEEK n") when it
  lies inside the partial period, else the first day of the period, in both cases no
  earlier than the day after the previous visit. Imputed dates are listed in the output's
  ``_imputed_dates`` comment field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

Row = Mapping[str, str]

_MISSING = frozenset({"", "NA"})
_WEEK = re.compile(r"WEEK\s+(\d+)", re.IGNORECASE)
_TSTM_TEXTS = frozenset({"TSTM", "TOO SMALL TO MEASURE"})
_NT_STATUS = MappingProxyType({
    "PRESENT": "present",
    "ABSENT": "absent",
    "UNEQUIVOCAL PROGRESSION": "unequivocal_progression",
    "UNEQUIVOCAL": "unequivocal_progression",
    "NOT EVALUABLE": "not_evaluated",
    "NOT EVALUATED": "not_evaluated",
    "NE": "not_evaluated",
})


class SdtmError(ValueError):
    """SDTM rows that cannot be turned into contract input."""


def _value(row: Row, key: str) -> str | None:
    raw = row.get(key)
    return None if raw is None or raw.strip() in _MISSING else raw.strip()


def _reader_matches(row: Row, key: str, reader: str | None) -> bool:
    return _value(row, key) == reader


_ASCII_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?", re.ASCII)


def _number(text: str, where: str) -> Decimal:
    # ASCII only: Decimal() also reads "٣" and "３" as 3.
    if not _ASCII_NUMBER.fullmatch(text):
        raise SdtmError(f"{where}: not a number: {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SdtmError(f"{where}: not a number: {text!r}") from None
    if not value.is_finite():
        raise SdtmError(f"{where}: not a finite number: {text!r}")
    return value


def impute_date(text: str, nominal: dt.date | None, previous: dt.date | None) -> tuple[dt.date, bool]:
    """An ISO date, or a partial one ("YYYY-MM", "YYYY") imputed as described in the module
    docstring. Returns the date and whether it was imputed."""
    day = text[:10]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day, re.ASCII):
            return dt.date.fromisoformat(day), False
        if re.fullmatch(r"\d{4}-\d{2}", day, re.ASCII):
            year, month = int(day[:4]), int(day[5:7])
            first = dt.date(year, month, 1)
            last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1))
        elif re.fullmatch(r"\d{4}", day, re.ASCII):
            first, last = dt.date(int(day), 1, 1), dt.date(int(day), 12, 31)
        else:
            raise SdtmError(f"TRDTC: unreadable date {text!r}")
        floor = previous + dt.timedelta(days=1) if previous is not None else first
    except (ValueError, OverflowError) as exc:  # "2014-13-01", "9999-12" (no next month)
        if isinstance(exc, SdtmError):
            raise
        raise SdtmError(f"TRDTC: not a calendar date {text!r}") from None
    if nominal is not None and first <= nominal <= last and nominal >= floor:
        return nominal, True
    return max(first, floor), True


def readers(tu_rows: Iterable[Row]) -> list[str | None]:
    """The evaluator ids present in TU (``None`` for rows without one), in first-seen order."""
    seen: list[str | None] = []
    for row in tu_rows:
        reader = _value(row, "TUEVALID")
        if reader not in seen:
            seen.append(reader)
    return seen


def subjects_from_sdtm(
    tu_rows: Iterable[Row], tr_rows: Iterable[Row], reader: str | None
) -> list[dict[str, Any]]:
    """Contract input objects, one per subject, from one reader's TU and TR rows.

    Subjects come in first-seen TU order. Each object carries two comment fields the
    engine ignores: ``_visits`` (the VISIT of each timepoint) and ``_imputed_dates``.
    """
    lesions: dict[str, dict[str, tuple[str, str, bool]]] = {}
    for row in tu_rows:
        if not _reader_matches(row, "TUEVALID", reader):
            continue
        subject = _value(row, "USUBJID")
        lesion = _value(row, "TULNKID")
        if subject is None or lesion is None:
            raise SdtmError(f"TU row without USUBJID/TULNKID: {dict(row)}")
        role = (_value(row, "TUSTRESC") or _value(row, "TUORRES") or "").upper()
        organ = _value(row, "TULOC") or "unknown"
        lesions.setdefault(subject, {})[lesion] = (role, organ, "LYMPH NODE" in organ.upper())
    visits: dict[str, dict[Decimal, list[Row]]] = {}
    for row in tr_rows:
        if not _reader_matches(row, "TREVALID", reader):
            continue
        subject = _value(row, "USUBJID")
        visitnum = _value(row, "VISITNUM")
        if subject is None or visitnum is None:
            raise SdtmError(f"TR row without USUBJID/VISITNUM: {dict(row)}")
        visits.setdefault(subject, {}).setdefault(_number(visitnum, f"{subject} VISITNUM"), []).append(row)
    return [_subject(subject, lesions[subject], visits.get(subject, {})) for subject in lesions]


def _visit_date(rows: list[Row]) -> str:
    dates = sorted({d for row in rows if (d := _value(row, "TRDTC")) is not None})
    if not dates:
        raise SdtmError(f"{_value(rows[0], 'USUBJID')} {_value(rows[0], 'VISIT')}: no TRDTC")
    full = [d for d in dates if len(d) >= 10]
    return full[0] if full else dates[0]


def _measurement(row: Row, where: str) -> str | Decimal:
    original = (_value(row, "TRORRES") or "").upper()
    if original in _TSTM_TEXTS:
        return "TSTM"
    column = "TRSTRESC" if _value(row, "TRSTRESC") is not None else "TRORRES"
    text = _value(row, column)
    if text is None:
        raise SdtmError(f"{where}: no result")
    return _number(text, f"{where} {column}")


def _subject(usubjid: str, lesions: dict[str, tuple[str, str, bool]],
             visits: dict[Decimal, list[Row]]) -> dict[str, Any]:
    if not visits:
        raise SdtmError(f"{usubjid}: no TR rows")
    order = sorted(visits)
    targets = {k: v for k, v in lesions.items() if v[0] == "TARGET"}
    non_targets = {k: v for k, v in lesions.items() if v[0] == "NON-TARGET"}
    new = {k: v for k, v in lesions.items() if v[0] == "NEW"}

    def values(rows: list[Row], where: str) -> tuple[dict[str, str | Decimal], dict[str, str]]:
        measured: dict[str, str | Decimal] = {}
        states: dict[str, str] = {}
        for row in rows:
            lesion = _value(row, "TRLNKID")
            test = (_value(row, "TRTESTCD") or "").upper()
            if lesion is None or lesion not in lesions:
                continue
            _, _, node = lesions[lesion]
            if test == "TUMSTATE":
                word = (_value(row, "TRSTRESC") or _value(row, "TRORRES") or "").upper()
                if word not in _NT_STATUS:
                    raise SdtmError(f"{where} {lesion}: unknown TUMSTATE {word!r}")
                states[lesion] = _NT_STATUS[word]
            elif test == ("LPERP" if node else "LDIAM"):
                measured[lesion] = _measurement(row, f"{where} {lesion} {test}")
        return measured, states

    base_rows = visits[order[0]]
    base_date_text = _visit_date(base_rows)
    base_date, _ = impute_date(base_date_text, None, None)
    base_measured, _ = values(base_rows, f"{usubjid} baseline")
    baseline_targets = []
    for lesion, (_, organ, node) in targets.items():
        mm = base_measured.get(lesion)
        if not isinstance(mm, Decimal):
            raise SdtmError(f"{usubjid}: target {lesion} has no baseline measurement")
        baseline_targets.append({"id": lesion, "organ": organ, "node": node, "mm": mm})
    timepoints: list[dict[str, Any]] = []
    visit_names: list[str] = []
    imputed: dict[str, str] = {}
    previous = base_date
    for visitnum in order[1:]:
        rows = visits[visitnum]
        visit = _value(rows[0], "VISIT") or f"VISITNUM {visitnum}"
        text = _visit_date(rows)
        week = _WEEK.search(visit)
        try:
            nominal = base_date + dt.timedelta(weeks=int(week.group(1))) if week else None
        except OverflowError:
            raise SdtmError(f"{usubjid} {visit}: TRDTC: dates out of range ({base_date_text})") from None
        date, was_imputed = impute_date(text, nominal, previous)
        if was_imputed:
            imputed[visit] = f"{text} -> {date.isoformat()}"
        measured, states = values(rows, f"{usubjid} {visit}")
        new_lesions = [
            {"id": lesion, "organ": organ, "node": node,
             "mm": mm if isinstance(mm := measured.get(lesion), Decimal) else None}
            for lesion, (_, organ, node) in new.items() if lesion in measured or lesion in states]
        timepoints.append({
            "date": date.isoformat(),
            "targets": {lesion: measured.get(lesion) for lesion in targets},
            "non_targets": {lesion: states.get(lesion, "not_evaluated") for lesion in non_targets},
            "new_lesions": new_lesions,
        })
        visit_names.append(visit)
        previous = date
    return {
        "subject": usubjid,
        "reference_date": base_date.isoformat(),
        "baseline": {
            "date": base_date.isoformat(),
            "targets": baseline_targets,
            "non_targets": [{"id": lesion, "organ": organ, "node": node}
                            for lesion, (_, organ, node) in non_targets.items()],
        },
        "timepoints": timepoints,
        "_visits": visit_names,
        "_imputed_dates": imputed,
    }
