"""Our own SAS XPORT (transport) version 5 writer.

Why not ``pyreadstat.write_xport`` (which the tests use as the *reading* oracle)?

* **Deterministic bytes.** The header records carry created/modified datetimes; here they come
  from a parameter (the data cut-off or a fixed export timestamp), never from the wall clock,
  so two exports of the same data are byte-identical and a golden SHA-256 can be pinned.
* **The v5 / FDA limits are enforced, not truncated or let through.** pyreadstat's writer
  lets a 41-character label and a 201-byte value through (reliability-tests §10.8, measured
  on our machines); :func:`write_xport` runs :mod:`trialreads.exports.validate` first and
  refuses to write anything when there is a single problem, listing all of them.
* **No pandas at write time.** Rows are plain dicts; the production image needs neither pandas
  nor polars to produce a sponsor transfer.

Layout (SAS Technical Support TS-140, "The record layout of a data set in SAS transport
(XPORT) format"): 80-byte header records; one 140-byte NAMESTR per variable, concatenated and
blank-padded to a multiple of 80; observations packed back to back and the last 80-byte record
blank-padded. Numerics are 8-byte IBM System/370 hexadecimal floating point (big-endian); the
missing value ``.`` is ``0x2E`` followed by seven zero bytes. Character values are ASCII, padded
with blanks to the variable's length, which is the longest actual value (at least 1; FDA TCG,
P21 rule FDAC036).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from trialreads.exports.spec import Dataset, Value, Variable, parse_format
from trialreads.exports.table import Table, tabulate
from trialreads.exports.validate import Problem, validate_dataset

RECORD = 80
NAMESTR_LENGTH = 140
#: SAS numeric missing value ``.``.
MISSING = b"\x2e" + b"\x00" * 7
SAS_EPOCH = dt.date(1960, 1, 1)
#: Written into the "SAS version" and "operating system" fields of the headers.
SAS_VERSION = "9.4"
WRITER_OS = "PYTHON"

# Month abbreviations are spelled out rather than taken from strftime("%b"), which follows
# the process locale and would make the bytes depend on the machine.
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


class XportError(ValueError):
    """The dataset cannot be written; ``problems`` lists every reason at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} XPT conformance problem(s):\n{lines}")


# --- numbers ----------------------------------------------------------------------


def ieee_to_ibm(value: float) -> bytes:
    """Encode a Python float as an 8-byte IBM System/370 double (big-endian).

    IBM: 1 sign bit, 7-bit base-16 exponent biased by 64, 56-bit fraction in [1/16, 1).
    An IEEE double has a 53-bit significand; hex normalisation needs at most 3 spare leading
    bits, so 53 + 3 = 56 and the conversion is *exact* (no rounding) over IBM's range
    (about 5.4e-79 .. 7.2e75). Outside that range, and for NaN/inf, we raise rather than
    silently flush or clamp: a clinical value must never change on the way out.
    """
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"cannot encode {value!r} as IBM float; use None for a missing value")
    if value == 0.0:
        return b"\x00" * 8  # -0.0 too: IBM has no signed zero worth writing
    sign = 1 if value < 0 else 0
    mantissa, exp2 = math.frexp(abs(value))  # abs(value) = mantissa * 2**exp2, 0.5 <= mantissa < 1
    m53 = int(mantissa * (1 << 53))  # exact: the 53-bit significand as an integer
    exp16 = -(-exp2 // 4)  # ceil(exp2 / 4): abs(value) / 16**exp16 lies in [1/16, 1)
    shift = exp2 + 3 - 4 * exp16  # 0..3
    fraction = m53 << shift  # < 2**56
    biased = exp16 + 64
    if biased > 127:
        raise ValueError(f"{value!r} is too large for an IBM double (max ~7.2e75)")
    if biased < 0:
        raise ValueError(f"{value!r} is too small for an IBM double (min ~5.4e-79)")
    return struct.pack(">Q", (sign << 63) | (biased << 56) | fraction)


def ibm_to_ieee(raw: bytes) -> float | None:
    """Decode an 8-byte IBM double; ``None`` for a missing value (``.``, ``._``, ``.A``-``.Z``)."""
    if len(raw) != 8:
        raise ValueError("an IBM double is 8 bytes")
    if raw[1:] == b"\x00" * 7 and (raw[0] in (0x2E, 0x5F) or 0x41 <= raw[0] <= 0x5A):
        return None
    (word,) = struct.unpack(">Q", raw)
    sign = -1.0 if word >> 63 else 1.0
    biased = (word >> 56) & 0x7F
    fraction = word & ((1 << 56) - 1)
    return sign * math.ldexp(fraction, 4 * (biased - 64) - 56)


def sas_date(value: dt.date) -> int:
    """Days since 1960-01-01 (the SAS date origin)."""
    if isinstance(value, dt.datetime):
        raise TypeError("a datetime is not a SAS date; pass datetime.date")
    return (value - SAS_EPOCH).days


def encode_numeric(value: Value) -> bytes:
    if value is None:
        return MISSING
    if isinstance(value, dt.date):
        return ieee_to_ibm(float(sas_date(value)))
    if isinstance(value, bool | str):
        raise TypeError(f"{value!r} is not a numeric value")
    if isinstance(value, Decimal):
        return ieee_to_ibm(float(value))
    return ieee_to_ibm(float(value))


def encode_char(value: Value, length: int) -> bytes:
    raw = b"" if value is None else str(value).encode("ascii")
    return raw.ljust(length, b" ")


# --- headers ----------------------------------------------------------------------


def sas_datetime(stamp: dt.datetime) -> bytes:
    """``ddMMMyy:hh:mm:ss`` (16 bytes), the header timestamp format."""
    text = (
        f"{stamp.day:02d}{_MONTHS[stamp.month - 1]}{stamp.year % 100:02d}:"
        f"{stamp.hour:02d}:{stamp.minute:02d}:{stamp.second:02d}"
    )
    return text.encode("ascii")


def _field(text: str, width: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > width:
        raise ValueError(f"{text!r} does not fit in {width} bytes")
    return raw.ljust(width, b" ")


def _header(kind: str, tail: str = "0" * 30) -> bytes:
    record = f"HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!{tail}  ".encode("ascii")
    assert len(record) == RECORD, record
    return record


def _pad(block: bytes, fill: bytes = b" ") -> bytes:
    remainder = len(block) % RECORD
    return block if remainder == 0 else block + fill * (RECORD - remainder)


def variable_lengths(dataset: Dataset, table: Table | None = None) -> list[int]:
    """8 for numerics; for characters the longest actual value in bytes, at least 1."""
    lengths = []
    for index, var in enumerate(dataset.variables):
        if var.type == "num":
            lengths.append(8)
            continue
        distinct = table.distinct(index) if table is not None else set(dataset.column(var.name))
        # Validated values are printable ASCII strings: characters = bytes.
        longest = max((len(str(v)) for v in distinct if v is not None), default=0)
        lengths.append(max(longest, 1))
    return lengths


def _namestr(var: Variable, number: int, length: int, position: int) -> bytes:
    fmt = parse_format(var.format)
    assert fmt is not None  # rejected by the validator before we get here
    record = b"".join(
        (
            struct.pack(">hhhh", 1 if var.type == "num" else 2, 0, length, number),
            _field(var.name, 8),
            _field(var.label, 40),
            _field(fmt.name, 8),
            struct.pack(">hhh", fmt.width, fmt.decimals, 0),  # nfl, nfd, nfj (left-justified)
            b"\x00\x00",  # nfill
            _field("", 8),  # niform: no informat
            struct.pack(">hhi", 0, 0, position),  # nifl, nifd, npos
            b"\x00" * 52,  # rest
        )
    )
    assert len(record) == NAMESTR_LENGTH
    return record


def _observations(dataset: Dataset, lengths: Sequence[int], table: Table | None = None) -> bytes:
    """The observation records: each column's distinct values encoded once, mapped over the
    column, and the fixed-width cells joined row by row (all C-level loops). Numeric keys
    merge equal values of different types (``1``, ``1.0``, ``Decimal("1")``), which encode to
    the same IBM bytes; the validator has rejected booleans before we get here."""
    if table is None:
        table = tabulate(dataset)
        if table is None:
            raise ValueError(f"{dataset.name}: rows do not match the declared variables; validate first")
    encoded: list[list[bytes]] = []
    for index, (var, length) in enumerate(zip(dataset.variables, lengths, strict=True)):
        column, distinct = table.columns[index], table.distinct(index)
        if var.type == "num":
            cells = {value: encode_numeric(value) for value in distinct}
        else:
            cells = {value: encode_char(value, length) for value in distinct}
        encoded.append(list(map(cells.__getitem__, column)))
    return b"".join(map(b"".join, zip(*encoded, strict=True)))


def write_xport(dataset: Dataset, created: dt.datetime, modified: dt.datetime | None = None) -> bytes:
    """The complete transport file for one dataset, as bytes.

    ``created``/``modified`` are written into the library and member headers; pass the data
    cut-off or the export's fixed timestamp so the output is reproducible. Raises
    :class:`XportError` with every problem when the dataset breaches a v5 / FDA limit.
    """
    problems = validate_dataset(dataset)
    if problems:
        raise XportError(problems)
    return encode_validated(dataset, created, modified)


def encode_validated(
    dataset: Dataset,
    created: dt.datetime,
    modified: dt.datetime | None = None,
    *,
    table: Table | None = None,
) -> bytes:
    """:func:`write_xport` for a dataset the caller has already validated (the package writer
    runs ``check_all`` over the whole transfer first; validating twice doubled its time).
    ``table``: the dataset's :func:`~trialreads.exports.table.tabulate`, when the caller has it."""
    stamp_created = sas_datetime(created)
    stamp_modified = sas_datetime(modified or created)
    if table is None:
        table = tabulate(dataset)
    lengths = variable_lengths(dataset, table)

    library = (
        _header("LIBRARY")
        + _field("SAS", 8) + _field("SAS", 8) + _field("SASLIB", 8)
        + _field(SAS_VERSION, 8) + _field(WRITER_OS, 8) + b" " * 24 + stamp_created
        + stamp_modified + b" " * 64
    )
    member = (
        _header("MEMBER", "000000000000000001600000000140")
        + _header("DSCRPTR")
        + _field("SAS", 8) + _field(dataset.name, 8) + _field("SASDATA", 8)
        + _field(SAS_VERSION, 8) + _field(WRITER_OS, 8) + b" " * 24 + stamp_created
        + stamp_modified + b" " * 16 + _field(dataset.label, 40) + _field("", 8)
    )
    namestr_header = _header("NAMESTR", f"000000{len(dataset.variables):04d}" + "0" * 20)
    positions = [sum(lengths[:i]) for i in range(len(lengths))]
    namestrs = b"".join(
        _namestr(var, i + 1, lengths[i], positions[i]) for i, var in enumerate(dataset.variables)
    )
    observations = _observations(dataset, lengths, table)
    out = (
        library
        + member
        + namestr_header
        + _pad(namestrs)
        + _header("OBS")
        + _pad(observations)
    )
    assert len(out) % RECORD == 0
    return out


def write_xport_file(directory: Path, dataset: Dataset, created: dt.datetime) -> Path:
    """Write ``<directory>/<name lower>.xpt`` (dataset name = file name, FDA TCG) and return it."""
    path = directory / f"{dataset.file_stem}.xpt"
    path.write_bytes(write_xport(dataset, created))
    return path
