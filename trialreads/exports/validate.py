"""Conformance checks for SAS XPORT v5 / FDA Study Data Technical Conformance Guide limits.

Our writer (``xpt.py``) refuses to write a dataset with any problem found here, and the
package builder (``package.py``) also runs :func:`check_links` over TU/TR/RS. Nothing raises
here: every check returns :class:`Problem` values naming the dataset, variable and row, so one
run reports everything that is wrong (cdisc-export.md §3.5, reliability-tests.md §10.8).

Limits (FDA TCG §4.1 as summarised by xportr/xportrs; SAS TS-140):

* dataset name ``[A-Z][A-Z0-9_]{0,7}`` and equal to the file name (``ts.xpt`` holds ``TS``);
* variable names: same pattern, unique (SAS names are case-insensitive), ≤ 9999 variables;
* dataset and variable labels: 1–40 characters, printable ASCII;
* character values: ≤ 200 bytes, printable ASCII, no trailing blanks (XPORT pads with blanks,
  so a trailing blank would not survive the round trip);
* no all-blank row in an all-character dataset (indistinguishable from the blank padding);
* numeric values: finite and within the IBM double range; dates only in variables carrying a
  date format, so a SAS date is never written as a bare day count.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from trialreads.exports.spec import Dataset, Value, Variable, parse_format

NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
MAX_LABEL = 40
MAX_CHAR_BYTES = 200
MAX_VARIABLES = 9999
#: IBM doubles hold magnitudes in [16**-65, 16**63): the bound is exclusive (the largest IBM
#: value, 16**63 * (1 - 2**-56), rounds to 2**252 as a float, which no longer fits).
IBM_LIMIT = math.ldexp(1.0, 252)
IBM_MIN = math.ldexp(1.0, -260)
DATE_FORMATS = frozenset({"DATE", "E8601DA", "YYMMDD", "MMDDYY", "DDMMYY"})


@dataclass(frozen=True)
class Problem:
    """One breach. ``row`` is 1-based (the observation number a SAS user would see)."""

    dataset: str
    code: str
    message: str
    variable: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = self.dataset
        if self.variable is not None:
            where += f".{self.variable}"
        if self.row is not None:
            where += f" row {self.row}"
        return f"{where}: [{self.code}] {self.message}"


def _ascii_problem(text: str) -> str | None:
    """Why ``text`` is not printable ASCII, or ``None`` when it is."""
    # Fast path for the common case (exports hold hundreds of thousands of values):
    # isascii() and isprintable() together mean exactly U+0020..U+007E.
    if text.isascii() and text.isprintable():
        return None
    for ch in text:
        if ord(ch) > 0x7E:
            return f"non-ASCII character {ch!r} (U+{ord(ch):04X})"
        if ord(ch) < 0x20:
            return f"control character U+{ord(ch):04X}"
    return None


def _check_name(ds: str, kind: str, name: str, variable: str | None) -> list[Problem]:
    if NAME_RE.match(name):
        return []
    return [
        Problem(
            ds,
            f"{kind}_NAME",
            f"{kind.lower()} name {name!r} must be 1-8 characters [A-Z][A-Z0-9_]*",
            variable,
        )
    ]


def _check_label(ds: str, kind: str, label: str, variable: str | None) -> list[Problem]:
    out = []
    if not label:
        out.append(Problem(ds, f"{kind}_LABEL", "label is empty", variable))
    if len(label) > MAX_LABEL:
        out.append(
            Problem(ds, f"{kind}_LABEL", f"label is {len(label)} characters (max {MAX_LABEL})", variable)
        )
    why = _ascii_problem(label)
    if why:
        out.append(Problem(ds, f"{kind}_LABEL", f"label has a {why}", variable))
    return out


def _check_variable(ds: str, var: Variable) -> list[Problem]:
    out = _check_name(ds, "VAR", var.name, var.name)
    out += _check_label(ds, "VAR", var.label, var.name)
    if var.type not in ("char", "num"):
        out.append(Problem(ds, "VAR_TYPE", f"type {var.type!r} is neither 'char' nor 'num'", var.name))
    fmt = parse_format(var.format)
    if fmt is None:
        out.append(Problem(ds, "VAR_FORMAT", f"format {var.format!r} is not a SAS format", var.name))
    elif var.type == "num" and fmt.name.startswith("$"):
        out.append(Problem(ds, "VAR_FORMAT", f"character format {var.format!r} on a numeric", var.name))
    return out


def _check_char(ds: str, var: Variable, row: int, value: Value) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, str):
        why = f"{type(value).__name__} value in a character variable"
        return [Problem(ds, "CHAR_TYPE", why, var.name, row)]
    out = []
    size = len(value.encode("utf-8"))
    if size > MAX_CHAR_BYTES:
        out.append(
            Problem(ds, "CHAR_LENGTH", f"value is {size} bytes (max {MAX_CHAR_BYTES})", var.name, row)
        )
    not_ascii = _ascii_problem(value)
    if not_ascii:
        out.append(Problem(ds, "CHAR_ASCII", f"value has a {not_ascii}", var.name, row))
    if value != value.rstrip(" "):
        out.append(
            Problem(ds, "CHAR_TRAILING_BLANK", "trailing blanks are lost in XPORT", var.name, row)
        )
    return out


def _char_column_clean(rows: Sequence[dict[str, Value]], name: str) -> bool:
    """True when every value of the column passes :func:`_check_char` (decided in bulk):
    strings or None, printable ASCII (so bytes = characters), at most 200 bytes, no
    trailing blank. Rows without the column are left to the row checks."""
    values = [v for v in [row.get(name) for row in rows] if v is not None]
    try:
        text = "".join(values)  # type: ignore[arg-type]  # TypeError: a non-string value
    except TypeError:
        return False
    if not (text.isascii() and text.isprintable()):
        return False
    # "\n" is not printable, so it cannot occur inside a value: " \n" marks a trailing blank.
    return max(map(len, values), default=0) <= MAX_CHAR_BYTES and " \n" not in "\n".join(values) + "\n"  # type: ignore[arg-type]


def _num_column_clean(rows: Sequence[dict[str, Value]], var: Variable) -> bool:
    """True when every value of the numeric column passes :func:`_check_num` (in bulk):
    finite int/float/Decimal numbers in the IBM range, or dates under a date format."""
    values = [v for v in [row.get(var.name) for row in rows] if v is not None]
    types = set(map(type, values))
    if types == {dt.date}:
        fmt = parse_format(var.format)
        return fmt is not None and fmt.name in DATE_FORMATS
    if not types <= {int, float, Decimal}:
        return False  # bool, str, datetime ...: the cell checks name them
    try:
        magnitudes = [abs(f) for f in map(float, values) if f]  # type: ignore[arg-type]  # numbers only
    except OverflowError:
        return False
    if any(map(math.isnan, magnitudes)):
        return False
    return not magnitudes or (min(magnitudes) >= IBM_MIN and max(magnitudes) < IBM_LIMIT)


def _check_num(ds: str, var: Variable, row: int, value: Value) -> list[Problem]:
    if value is None:
        return []
    if isinstance(value, dt.datetime | str | bool):
        return [Problem(ds, "NUM_TYPE", f"{type(value).__name__} value in a numeric variable", var.name, row)]
    if isinstance(value, dt.date):
        fmt = parse_format(var.format)
        if fmt is None or fmt.name not in DATE_FORMATS:
            why = "date value in a variable without a date format"
            return [Problem(ds, "NUM_DATE_FORMAT", why, var.name, row)]
        return []
    if not isinstance(value, int | float | Decimal):
        return [Problem(ds, "NUM_TYPE", f"{type(value).__name__} value in a numeric variable", var.name, row)]
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isnan(number) or math.isinf(number):
        return [Problem(ds, "NUM_RANGE", f"{value!r} is not finite (use None for missing)", var.name, row)]
    if number != 0.0 and not IBM_MIN <= abs(number) < IBM_LIMIT:
        return [Problem(ds, "NUM_RANGE", f"{value!r} is outside the IBM double range", var.name, row)]
    return []


def validate_dataset(dataset: Dataset, file_name: str | None = None) -> list[Problem]:
    """Every v5 / FDA TCG problem of ``dataset`` (empty list = conformant).

    ``file_name``, when given, must be ``<name lower>.xpt`` (dataset name = file name).
    """
    ds = dataset.name
    out = _check_name(ds, "DS", ds, None)
    out += _check_label(ds, "DS", dataset.label, None)
    if file_name is not None:
        path = PurePath(file_name)
        if path.name != f"{ds.lower()}.xpt":
            out.append(Problem(ds, "DS_FILE", f"file name {path.name!r} must be {ds.lower()!r}.xpt"))
    if not dataset.variables:
        out.append(Problem(ds, "DS_VARIABLES", "dataset has no variables"))
    if len(dataset.variables) > MAX_VARIABLES:
        out.append(Problem(ds, "DS_VARIABLES", f"{len(dataset.variables)} variables (max {MAX_VARIABLES})"))
    counts = Counter(var.name.upper() for var in dataset.variables)
    for name, count in sorted(counts.items()):
        if count > 1:
            out.append(Problem(ds, "VAR_DUPLICATE", f"variable name used {count} times", name))
    for var in dataset.variables:
        out += _check_variable(ds, var)
    names = [var.name for var in dataset.variables]
    expected = set(names)
    all_char = all(var.type == "char" for var in dataset.variables)
    # Cell checks only for the columns that fail the column-wise fast path (an export holds
    # hundreds of thousands of cells; the per-cell pass is what names the offending rows).
    checks = [
        (var, _check_num if var.type == "num" else _check_char)
        for var in dataset.variables
        if not (
            _char_column_clean(dataset.rows, var.name)
            if var.type == "char"
            else _num_column_clean(dataset.rows, var)
        )
    ]
    for index, row in enumerate(dataset.rows, start=1):
        if row.keys() != expected:
            keys = set(row)
            for missing in sorted(expected - keys):
                out.append(Problem(ds, "ROW_MISSING", "row has no value for this variable", missing, index))
            for extra in sorted(keys - expected):
                why = "row has a value for an undeclared variable"
                out.append(Problem(ds, "ROW_EXTRA", why, extra, index))
        for var, check in checks:
            if var.name in row:
                out += check(ds, var, index, row[var.name])
        if all_char and all(row.get(name) in (None, "") for name in names):
            # Only blanks: XPORT pads its last record with blanks, so readers cannot tell
            # such a row from padding and drop it (observed with pyreadstat/ReadStat).
            out.append(Problem(ds, "ROW_BLANK", "row is entirely blank character values", None, index))
    return out


# --- TU / TR / RS cross-links (reliability-tests §10.8) ----------------------------


def _rows(dataset: Dataset) -> Iterable[tuple[int, dict[str, Value]]]:
    return enumerate(dataset.rows, start=1)


def check_links(tu: Dataset, tr: Dataset, rs: Dataset) -> list[Problem]:
    """Referential checks between the SDTM tumour domains.

    * every ``TRLNKID`` has a ``TULNKID`` for the same subject (and evaluator);
    * every ``RSLNKGRP`` has TR records with that ``TRLNKGRP`` for the same subject;
    * exactly one ``RSACPTFL="Y"`` per subject × visit × ``RSTESTCD`` × ``RSCAT`` where the
      accepted evaluator has a record (the accepted record of a multi-reader BICR, SDTM
      RECIST supplement Example 4), and none where it has not: a RECIST 1.1 assessment ends at
      the first PD, so when the accepted reader progressed earlier than the other reader,
      the other reader's later records stand with no accepted counterpart. The accepted
      evaluator of a subject and category is the ``RSEVALID`` of its flagged records.
    """
    out: list[Problem] = []
    tu_ids = {(row["USUBJID"], row["TULNKID"]) for _, row in _rows(tu)}
    for index, row in _rows(tr):
        link = row.get("TRLNKID")
        if link and (row["USUBJID"], link) not in tu_ids:
            out.append(Problem("TR", "LINK_TRLNKID", f"TRLNKID {link!r} has no TU record", "TRLNKID", index))
    tr_groups = {(row["USUBJID"], row["TRLNKGRP"]) for _, row in _rows(tr) if row.get("TRLNKGRP")}
    for index, row in _rows(rs):
        group = row.get("RSLNKGRP")
        if group and (row["USUBJID"], group) not in tr_groups:
            why = f"RSLNKGRP {group!r} has no TR records"
            out.append(Problem("RS", "LINK_RSLNKGRP", why, "RSLNKGRP", index))
    accepted: defaultdict[tuple[Value, Value, Value, Value], list[int]] = defaultdict(list)
    evaluators: defaultdict[tuple[Value, Value, Value, Value], set[Value]] = defaultdict(set)
    accepted_evaluators: defaultdict[tuple[Value, Value], set[Value]] = defaultdict(set)
    for index, row in _rows(rs):
        key = (row["USUBJID"], row.get("VISITNUM"), row["RSTESTCD"], row.get("RSCAT"))
        flagged_rows = accepted[key]  # create the key even when nothing is flagged
        evaluators[key].add(row.get("RSEVALID"))
        if row.get("RSACPTFL") == "Y":
            flagged_rows.append(index)
            accepted_evaluators[(row["USUBJID"], row.get("RSCAT"))].add(row.get("RSEVALID"))
    for key, flagged in sorted(accepted.items(), key=lambda item: repr(item[0])):
        usubjid, visitnum, testcd, cat = key
        chosen = accepted_evaluators.get((usubjid, cat), set())
        # No flag is right only where the subject has an accepted evaluator and it has no
        # record in this group (its assessment ended earlier, at PD).
        unflagged_ok = not flagged and bool(chosen) and not (chosen & evaluators[key])
        if len(flagged) != 1 and not unflagged_ok:
            out.append(
                Problem(
                    "RS",
                    "ACCEPTED_FLAG",
                    f"{usubjid} visit {visitnum} {testcd} {cat}: {len(flagged)} records with RSACPTFL='Y' "
                    f"(rows {list(flagged)}); exactly one expected",
                    "RSACPTFL",
                )
            )
    return out


def check_all(datasets: Sequence[Dataset]) -> list[Problem]:
    """:func:`validate_dataset` over all, plus :func:`check_links` when TU, TR and RS are present."""
    out: list[Problem] = []
    by_name = {ds.name: ds for ds in datasets}
    for ds in datasets:
        out += validate_dataset(ds, f"{ds.file_stem}.xpt")
    if {"TU", "TR", "RS"} <= by_name.keys():
        out += check_links(by_name["TU"], by_name["TR"], by_name["RS"])
    return out
