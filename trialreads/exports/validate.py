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
  date format, so a SAS date is never written as a bare day count;
* the values of the code variables (``--TESTCD``, ``PARAMCD``, ``QNAM``, ``IDVAR``) follow the
  variable-name rule (1-8 characters ``[A-Z][A-Z0-9_]*``: SDTMIG, ADaMIG) and the names of
  tests (``--TEST``) and qualifiers (``QLABEL``) are at most 40 characters;
* a supplemental qualifier dataset (``SUPP--``) points at records of its parent domain:
  ``RDOMAIN`` its name's tail, ``IDVAR`` the parent's ``--SEQ``, ``IDVARVAL`` a sequence number
  the parent has for that subject, one ``QNAM`` per parent record;
* an ADaM record's source is delivered (:func:`check_sources`): ``SRCDOM`` a dataset of the
  transfer (ADTTE's ``ADSL``), ``SRCVAR`` one of its variables, ``SRCSEQ`` one of its records.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from itertools import compress
from pathlib import PurePath

from trialreads.exports.spec import Dataset, Value, Variable, parse_format
from trialreads.exports.table import Table, tabulate

NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
MAX_LABEL = 40
MAX_CHAR_BYTES = 200
MAX_VARIABLES = 9999
#: IBM doubles hold magnitudes in [16**-65, 16**63): the bound is exclusive (the largest IBM
#: value, 16**63 * (1 - 2**-56), rounds to 2**252 as a float, which no longer fits).
IBM_LIMIT = math.ldexp(1.0, 252)
IBM_MIN = math.ldexp(1.0, -260)
DATE_FORMATS = frozenset({"DATE", "E8601DA", "YYMMDD", "MMDDYY", "DDMMYY"})
#: Variables whose values are names (test codes, parameter codes, qualifier names).
CODE_VARIABLES = frozenset({"TUTESTCD", "TRTESTCD", "RSTESTCD", "PARAMCD", "QNAM", "IDVAR"})
#: Variables whose values are test or qualifier labels (at most 40 characters).
LABEL_VARIABLES = frozenset({"TUTEST", "TRTEST", "RSTEST", "QLABEL"})


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


def _char_column_clean(types: AbstractSet[type], distinct: AbstractSet[Value]) -> bool:
    """True when every value of a character column passes :func:`_check_char`, decided on
    its distinct values: strings or None, printable ASCII (so bytes = characters), at most
    200 bytes, no trailing blank."""
    if not types <= {str, type(None)}:
        return False
    values: list[str] = [v for v in distinct if isinstance(v, str)]
    text = "".join(values)
    if not (text.isascii() and text.isprintable()):
        return False
    # "\n" is not printable, so it cannot occur inside a value: " \n" marks a trailing blank.
    return max(map(len, values), default=0) <= MAX_CHAR_BYTES and " \n" not in "\n".join(values) + "\n"


def _num_column_clean(types: AbstractSet[type], distinct: AbstractSet[Value], var: Variable) -> bool:
    """True when every value of a numeric column passes :func:`_check_num`, decided on its
    distinct values: finite int/float/Decimal numbers in the IBM range, or dates under a
    date format. ``types`` comes from every cell, since a set of values keeps one of ``1``
    and ``True``."""
    types = types - {type(None)}
    if not types:
        return True
    if types == {dt.date}:
        fmt = parse_format(var.format)
        return fmt is not None and fmt.name in DATE_FORMATS
    if not types <= {int, float, Decimal}:
        return False  # bool, str, datetime ...: the cell checks name them
    numbers = [v for v in distinct if v is not None]
    try:
        magnitudes = [abs(f) for f in map(float, numbers) if f]  # type: ignore[arg-type]  # numbers only
    except (OverflowError, ValueError):
        return False
    if any(map(math.isnan, magnitudes)):
        return False
    return not magnitudes or (min(magnitudes) >= IBM_MIN and max(magnitudes) < IBM_LIMIT)


def clean_columns(dataset: Dataset, table: Table | None) -> list[bool]:
    """Per variable: does every cell of its column pass the cell checks (column-wise)?
    Without a table (rows with missing or extra keys) the columns are read with ``get``."""
    out = []
    for index, var in enumerate(dataset.variables):
        types: AbstractSet[type]
        distinct: AbstractSet[Value]
        try:
            if table is not None:
                types, distinct = table.types(index), table.distinct(index)
            else:
                column = dataset.column(var.name)
                types, distinct = set(map(type, column)), set(column)
        except TypeError:  # an unhashable cell (or a signalling NaN): the cell checks name it
            out.append(False)
            continue
        if var.type == "char":
            out.append(_char_column_clean(types, distinct))
        else:
            out.append(_num_column_clean(types, distinct, var))
    return out


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
    except ValueError:  # Decimal("sNaN") refuses float()
        number = math.nan
    if math.isnan(number) or math.isinf(number):
        return [Problem(ds, "NUM_RANGE", f"{value!r} is not finite (use None for missing)", var.name, row)]
    if number != 0.0 and not IBM_MIN <= abs(number) < IBM_LIMIT:
        return [Problem(ds, "NUM_RANGE", f"{value!r} is outside the IBM double range", var.name, row)]
    return []


def validate_dataset(
    dataset: Dataset, file_name: str | None = None, *, table: Table | None = None
) -> list[Problem]:
    """Every v5 / FDA TCG problem of ``dataset`` (empty list = conformant).

    ``file_name``, when given, must be ``<name lower>.xpt`` (dataset name = file name).
    ``table``: the dataset's :func:`~trialreads.exports.table.tabulate`, when the caller has it.
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
    all_char = all(var.type == "char" for var in dataset.variables)
    if table is None:
        table = tabulate(dataset)
    clean = clean_columns(dataset, table)
    out += _check_code_values(dataset, table)
    if table is not None and not all_char and all(clean):
        return out  # every row has exactly the declared variables and every column is clean
    # Row by row, naming the offending rows: cell checks only for the columns that fail the
    # column-wise checks (an export holds millions of cells).
    expected = set(names)
    checks = [
        (var, _check_num if var.type == "num" else _check_char)
        for var, ok in zip(dataset.variables, clean, strict=True)
        if not ok
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


def _code_problem(variable: str, value: str) -> str | None:
    """Why ``value`` may not be a value of ``variable``, or ``None``."""
    if variable in CODE_VARIABLES and not NAME_RE.match(value):
        return f"{value!r} must be 1-8 characters [A-Z][A-Z0-9_]* (a name)"
    if variable in LABEL_VARIABLES and len(value) > MAX_LABEL:
        return f"{value!r} is {len(value)} characters (max {MAX_LABEL})"
    return None


def _check_code_values(dataset: Dataset, table: Table | None) -> list[Problem]:
    """The name and label rules on the values of :data:`CODE_VARIABLES` and
    :data:`LABEL_VARIABLES`, decided on each column's distinct values; the rows of a bad
    value are named."""
    out: list[Problem] = []
    for index, var in enumerate(dataset.variables):
        if var.name not in CODE_VARIABLES | LABEL_VARIABLES:
            continue
        column: Sequence[Value] = table.columns[index] if table is not None else dataset.column(var.name)
        try:
            distinct = table.distinct(index) if table is not None else frozenset(column)
        except TypeError:  # an unhashable cell: the cell checks name it
            continue
        bad = {
            value: why
            for value in distinct
            if isinstance(value, str) and (why := _code_problem(var.name, value)) is not None
        }
        if not bad:
            continue
        for row, value in enumerate(column, start=1):
            if isinstance(value, str) and value in bad:
                out.append(Problem(dataset.name, "VALUE_NAME", bad[value], var.name, row))
    return out


# --- supplemental qualifiers -----------------------------------------------------------


def check_supp_links(
    supp: Dataset, parent: Dataset, tables: Mapping[str, Table | None] | None = None
) -> list[Problem]:
    """A ``SUPP--`` dataset's records point at records of ``parent`` (module docstring)."""
    column = _column_reader(tables)
    rdomain = supp.name[4:]
    seq_var = f"{rdomain}SEQ"
    out: list[Problem] = []
    if parent.name != rdomain:
        return [Problem(supp.name, "SUPP_PARENT", f"parent {parent.name} is not {rdomain}")]
    seqs = (
        set(zip(column(parent, "USUBJID"), map(str, column(parent, seq_var)), strict=True))
        if seq_var in {v.name for v in parent.variables}
        else set()
    )
    seen: Counter[tuple[Value, ...]] = Counter()
    names = ("USUBJID", "RDOMAIN", "IDVAR", "IDVARVAL", "QNAM")
    for index, (usubjid, rdom, idvar, idvarval, qnam) in enumerate(
        zip(*(column(supp, name) for name in names), strict=True), start=1
    ):
        if rdom != rdomain:
            why = f"RDOMAIN {rdom!r} is not {rdomain!r}"
            out.append(Problem(supp.name, "SUPP_RDOMAIN", why, "RDOMAIN", index))
        if idvar != seq_var:
            why = f"IDVAR {idvar!r} is not {seq_var!r}"
            out.append(Problem(supp.name, "SUPP_IDVAR", why, "IDVAR", index))
        elif (usubjid, idvarval) not in seqs:
            why = f"{usubjid} has no {rdomain} record with {seq_var} {idvarval}"
            out.append(Problem(supp.name, "SUPP_LINK", why, "IDVARVAL", index))
        seen[(usubjid, idvar, idvarval, qnam)] += 1
    for key, count in sorted(seen.items(), key=repr):
        if count > 1:
            why = f"{key[0]} {key[1]} {key[2]}: QNAM {key[3]!r} given {count} times (one per parent record)"
            out.append(Problem(supp.name, "SUPP_DUPLICATE", why, "QNAM"))
    return out


# --- TU / TR / RS cross-links (reliability-tests §10.8) ----------------------------


def check_links(
    tu: Dataset, tr: Dataset, rs: Dataset, tables: Mapping[str, Table | None] | None = None
) -> list[Problem]:
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
    out = check_tumour_links(tu, tr, tables)
    out += check_group_links(rs, link_groups(tr, "TRLNKGRP", tables), tables)
    out += check_accepted_flags(rs, tables)
    return out


def _column_reader(tables: Mapping[str, Table | None] | None) -> Callable[[Dataset, str], Sequence[Value]]:
    """Read a column from the dataset's table when there is one, else row by row."""
    known = tables or {}

    def column(ds: Dataset, name: str) -> Sequence[Value]:
        table = known.get(ds.name)
        if table is not None and name in table.names:
            return table.columns[table.names.index(name)]
        return ds.column(name)

    return column


def check_tumour_links(
    tu: Dataset, tr: Dataset, tables: Mapping[str, Table | None] | None = None
) -> list[Problem]:
    """Every ``TRLNKID`` has a ``TULNKID`` for the same subject (part of :func:`check_links`)."""
    column = _column_reader(tables)
    tu_ids = set(zip(column(tu, "USUBJID"), column(tu, "TULNKID"), strict=True))
    subjects, links = column(tr, "USUBJID"), column(tr, "TRLNKID")
    out: list[Problem] = []
    if set(compress(zip(subjects, links, strict=True), links)) - tu_ids:
        for index, (usubjid, link) in enumerate(zip(subjects, links, strict=True), start=1):
            if link and (usubjid, link) not in tu_ids:
                why = f"TRLNKID {link!r} has no TU record"
                out.append(Problem("TR", "LINK_TRLNKID", why, "TRLNKID", index))
    return out


def link_groups(
    ds: Dataset, variable: str, tables: Mapping[str, Table | None] | None = None
) -> set[tuple[Value, Value]]:
    """(USUBJID, link group) of every record with a group in ``variable``."""
    column = _column_reader(tables)
    groups = column(ds, variable)
    return set(compress(zip(column(ds, "USUBJID"), groups, strict=True), groups))


def check_group_links(
    rs: Dataset, tr_groups: set[tuple[Value, Value]], tables: Mapping[str, Table | None] | None = None
) -> list[Problem]:
    """Every ``RSLNKGRP`` has TR records with that ``TRLNKGRP`` for the same subject."""
    out: list[Problem] = []
    if link_groups(rs, "RSLNKGRP", tables) <= tr_groups:
        return out
    column = _column_reader(tables)
    pairs = zip(column(rs, "USUBJID"), column(rs, "RSLNKGRP"), strict=True)
    for index, (usubjid, group) in enumerate(pairs, start=1):
        if group and (usubjid, group) not in tr_groups:
            why = f"RSLNKGRP {group!r} has no TR records"
            out.append(Problem("RS", "LINK_RSLNKGRP", why, "RSLNKGRP", index))
    return out


def check_accepted_flags(rs: Dataset, tables: Mapping[str, Table | None] | None = None) -> list[Problem]:
    """Exactly one ``RSACPTFL="Y"`` per subject × visit × test × category (see :func:`check_links`)."""
    column = _column_reader(tables)
    return _check_accepted_flags(
        *(column(rs, name) for name in ("USUBJID", "VISITNUM", "RSTESTCD", "RSCAT", "RSEVALID", "RSACPTFL"))
    )


def _check_accepted_flags(
    subjects: Sequence[Value],
    visits: Sequence[Value],
    tests: Sequence[Value],
    cats: Sequence[Value],
    evaluators: Sequence[Value],
    flags: Sequence[Value],
) -> list[Problem]:
    """The ``RSACPTFL`` rule of :func:`check_links`, over RS columns. Counted with C-level
    set and Counter operations; only the groups without a flag are looked at one by one."""
    keys = list(zip(subjects, visits, tests, cats, strict=True))
    flagged = [flag == "Y" for flag in flags]
    counts = Counter(compress(keys, flagged))
    chosen: defaultdict[tuple[Value, Value], set[Value]] = defaultdict(set)
    for usubjid, cat, evaluator in set(compress(zip(subjects, cats, evaluators, strict=True), flagged)):
        chosen[(usubjid, cat)].add(evaluator)
    records = set(zip(keys, evaluators, strict=True))
    bad = [key for key, count in counts.items() if count != 1]
    for key in set(keys) - counts.keys():
        # No flag is right only where the subject has an accepted evaluator and it has no
        # record in this group (its assessment ended earlier, at PD).
        accepted_here = chosen.get((key[0], key[3]), set())
        if not accepted_here or any((key, evaluator) in records for evaluator in accepted_here):
            bad.append(key)
    if not bad:
        return []
    rows: defaultdict[tuple[Value, Value, Value, Value], list[int]] = defaultdict(list)
    wanted = set(bad)
    for index, (key, flag) in enumerate(zip(keys, flagged, strict=True), start=1):
        if flag and key in wanted:
            rows[key].append(index)
    out = []
    for key in sorted(bad, key=repr):
        usubjid, visitnum, testcd, cat = key
        out.append(
            Problem(
                "RS",
                "ACCEPTED_FLAG",
                f"{usubjid} visit {visitnum} {testcd} {cat}: {len(rows[key])} records with RSACPTFL='Y' "
                f"(rows {rows[key]}); exactly one expected",
                "RSACPTFL",
            )
        )
    return out


# --- ADaM traceability: SRCDOM / SRCVAR / SRCSEQ name what is delivered -------------


def check_sources(
    datasets: Sequence[Dataset], tables: Mapping[str, Table | None] | None = None
) -> list[Problem]:
    """Every ADaM record's source is in the transfer: ``SRCDOM`` names a delivered dataset,
    ``SRCVAR`` one of its variables, and ``SRCSEQ`` (where given) a ``--SEQ`` the subject has
    there; a subject-level source (no ``SRCSEQ``, e.g. ADSL RANDDT) has the subject's record.
    Only datasets with ``SRCDOM`` are looked at (ADRS, ADTTE)."""
    column = _column_reader(tables)
    by_name = {ds.name: ds for ds in datasets}
    variables = {ds.name: {var.name for var in ds.variables} for ds in datasets}
    records: dict[str, set[tuple[Value, Value]]] = {}  # dataset -> (USUBJID, --SEQ or None)

    def records_of(name: str) -> set[tuple[Value, Value]]:
        if name not in records:
            ds, seq = by_name[name], f"{name}SEQ"
            subjects = column(ds, "USUBJID")
            found = set(zip(subjects, column(ds, seq), strict=True)) if seq in variables[name] else set()
            records[name] = found | {(usubjid, None) for usubjid in subjects}
        return records[name]

    def problem(usubjid: Value, srcdom: Value, srcvar: Value, srcseq: Value) -> tuple[str, str, str] | None:
        if srcdom is None:
            return None
        if srcdom not in by_name:
            return "SOURCE_DOMAIN", f"SRCDOM {srcdom!r} is not in the transfer", "SRCDOM"
        if srcvar not in variables[str(srcdom)]:
            return "SOURCE_VARIABLE", f"SRCVAR {srcvar!r} is not a variable of {srcdom}", "SRCVAR"
        if (usubjid, srcseq) not in records_of(str(srcdom)):
            sequence = f" with sequence {srcseq}" if srcseq is not None else ""
            return "SOURCE_RECORD", f"{srcdom} has no record of {usubjid}{sequence}", "SRCSEQ"
        return None

    out: list[Problem] = []
    for ds in datasets:
        if "SRCDOM" not in variables[ds.name]:
            continue
        names = ("USUBJID", "SRCDOM", "SRCVAR", "SRCSEQ")
        sources = list(zip(*(column(ds, name) for name in names), strict=True))
        if not any(problem(*source) for source in set(sources)):
            continue
        for index, source in enumerate(sources, start=1):
            found = problem(*source)
            if found is not None:
                code, message, variable = found
                out.append(Problem(ds.name, code, message, variable, index))
    return out


def check_all(
    datasets: Sequence[Dataset], tables: Mapping[str, Table | None] | None = None
) -> list[Problem]:
    """:func:`validate_dataset` over all, plus :func:`check_links` when TU, TR and RS are present
    and :func:`check_supp_links` for each ``SUPP--`` dataset whose parent is present.
    ``tables``: dataset name -> its :func:`~trialreads.exports.table.tabulate`, when known."""
    out: list[Problem] = []
    by_name = {ds.name: ds for ds in datasets}
    for ds in datasets:
        table = tables.get(ds.name) if tables is not None else None
        out += validate_dataset(ds, f"{ds.file_stem}.xpt", table=table)
    if {"TU", "TR", "RS"} <= by_name.keys():
        out += check_links(by_name["TU"], by_name["TR"], by_name["RS"], tables)
    for ds in datasets:
        if ds.name.startswith("SUPP") and ds.name[4:] in by_name:
            out += check_supp_links(ds, by_name[ds.name[4:]], tables)
    out += check_sources(datasets, tables)
    return out
