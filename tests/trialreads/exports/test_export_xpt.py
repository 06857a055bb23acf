"""SAS XPORT v5 writer: IBM float encoding, record layout, determinism, pyreadstat round trip.

pyreadstat (ReadStat) is the independent reading oracle; our writer never uses it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from decimal import Decimal
from pathlib import Path

import pyreadstat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sas_format import format_parts

from trialreads.exports.spec import Dataset, Variable, char, date_num, num
from trialreads.exports.xpt import (
    MISSING,
    XportError,
    ibm_to_ieee,
    ieee_to_ibm,
    sas_date,
    sas_datetime,
    write_xport,
    write_xport_file,
)

STAMP = dt.datetime(2024, 6, 30, 23, 59, 58)


def ibm(hex_word: str) -> bytes:
    return bytes.fromhex(hex_word)


# --- IBM float -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0000000000000000"),
        (-0.0, "0000000000000000"),
        (1.0, "4110000000000000"),
        (-1.0, "C110000000000000"),
        (0.5, "4080000000000000"),
        (16.0, "4210000000000000"),
        (100.0, "4264000000000000"),
        (-118.625, "C276A00000000000"),  # the classic IBM example: -118.625 = -0x76.A
        (0.1, "401999999999999A"),
    ],
)
def test_ieee_to_ibm_known_words(value: float, expected: str) -> None:
    assert ieee_to_ibm(value) == ibm(expected)


def test_one_tenth_keeps_all_53_bits() -> None:
    # IEEE 0.1 = 0x1.999999999999Ap-4; hex-normalised, the significand is shifted, not rounded.
    assert ibm_to_ieee(ieee_to_ibm(0.1)) == 0.1


@pytest.mark.parametrize(
    "value",
    [1e-5, -1e-5, 5.0, 12.3, 48.5, 123456789.125, 1e75, 7.2e75, -7.2e75, 6e-79, 2.0**-260, 23380.0],
)
def test_round_trip_is_exact(value: float) -> None:
    assert ibm_to_ieee(ieee_to_ibm(value)) == value


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-7.2e75, max_value=7.2e75))
def test_round_trip_property(value: float) -> None:
    if value != 0.0 and abs(value) < 2.0**-260:
        with pytest.raises(ValueError, match="too small"):
            ieee_to_ibm(value)
        return
    assert ibm_to_ieee(ieee_to_ibm(value)) == value


@pytest.mark.parametrize(
    ("value", "message"), [(1e76, "too large"), (-1e76, "too large"), (1e-80, "too small")]
)
def test_out_of_ibm_range_raises(value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ieee_to_ibm(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="None for a missing value"):
        ieee_to_ibm(value)


def test_missing_value_bytes() -> None:
    assert MISSING == b".\x00\x00\x00\x00\x00\x00\x00"
    assert ibm_to_ieee(MISSING) is None
    assert ibm_to_ieee(b"A\x00\x00\x00\x00\x00\x00\x00") is None  # special missing .A


@pytest.mark.parametrize(
    ("date", "days"),
    [
        (dt.date(1960, 1, 1), 0),
        (dt.date(1959, 12, 31), -1),
        (dt.date(2000, 1, 1), 14610),
        (dt.date(2024, 2, 29), 23435),
    ],
)
def test_sas_dates(date: dt.date, days: int) -> None:
    assert sas_date(date) == days
    assert ibm_to_ieee(ieee_to_ibm(float(days))) == days


def test_datetime_is_not_a_sas_date() -> None:
    with pytest.raises(TypeError):
        sas_date(dt.datetime(2024, 1, 1, 12, 0))


def test_header_timestamp_does_not_depend_on_locale() -> None:
    assert sas_datetime(STAMP) == b"30JUN24:23:59:58"


# --- layout ------------------------------------------------------------------------


def small() -> Dataset:
    return Dataset(
        "ADTTE",
        "Time-to-Event Analysis Dataset",
        (
            char("USUBJID", "Unique Subject Identifier"),
            num("AVAL", "Analysis Value"),
            date_num("ADT", "Analysis Date"),
            char("EVNTDESC", "Event or Censoring Description"),
            Variable("PCT", "Percent change", "num", "8.2"),
        ),
        [
            {
                "USUBJID": "S-0001",
                "AVAL": 86,
                "ADT": dt.date(2024, 4, 2),
                "EVNTDESC": "DISEASE PROGRESSION",
                "PCT": Decimal("-33.3"),
            },
            {"USUBJID": "S-0002", "AVAL": None, "ADT": None, "EVNTDESC": None, "PCT": 1e-5},
            {"USUBJID": "S-0003", "AVAL": -1.5, "ADT": dt.date(1959, 12, 31), "EVNTDESC": "", "PCT": 0},
        ],
    )


def test_record_layout() -> None:
    raw = write_xport(small(), STAMP)
    records = [raw[i : i + 80] for i in range(0, len(raw), 80)]
    assert len(raw) % 80 == 0
    assert records[0] == b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"0" * 30 + b"  "
    assert records[1][:24] == b"SAS     SAS     SASLIB  "
    assert records[1][64:] == b"30JUN24:23:59:58"
    assert records[3] == b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140  "
    assert records[5][8:16] == b"ADTTE   "
    assert records[6][32:72] == b"Time-to-Event Analysis Dataset".ljust(40)
    assert records[7][:58] == b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!0000000005"
    # 5 namestrs x 140 = 700 bytes -> 9 records (720), blank padded
    namestrs = b"".join(records[8:17])
    assert namestrs[700:] == b" " * 20
    first = namestrs[:140]
    assert struct.unpack(">hhhh", first[:8]) == (2, 0, 6, 1)  # char, length 6, varnum 1
    assert first[8:16] == b"USUBJID "
    adt = namestrs[280:420]
    assert struct.unpack(">hhhh", adt[:8]) == (1, 0, 8, 3)
    assert adt[56:64] == b"DATE    " and struct.unpack(">hh", adt[64:68]) == (9, 0)
    assert struct.unpack(">i", adt[84:88]) == (6 + 8,)  # npos
    assert records[17].startswith(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!")
    # observation length 6 + 8 + 8 + 19 + 8 = 49; 3 rows = 147 bytes -> 2 records
    obs = b"".join(records[18:])
    assert len(records) == 20
    assert obs[:6] == b"S-0001"
    assert obs[49 + 6 : 49 + 14] == MISSING
    assert obs[147:] == b" " * 13


def test_lengths_are_longest_actual_value_at_least_one() -> None:
    ds = Dataset("T", "t", (char("A", "a"), char("B", "b")), [{"A": "xyz", "B": None}, {"A": "x", "B": ""}])
    raw = write_xport(ds, STAMP)
    namestrs = raw[8 * 80 : 8 * 80 + 280]
    assert struct.unpack(">h", namestrs[4:6]) == (3,)
    assert struct.unpack(">h", namestrs[144:146]) == (1,)


def test_bytes_are_deterministic_and_only_the_stamp_varies() -> None:
    first, second = write_xport(small(), STAMP), write_xport(small(), STAMP)
    assert first == second
    later = write_xport(small(), STAMP + dt.timedelta(days=1))
    differing = [i for i, (a, b) in enumerate(zip(first, later, strict=True)) if a != b]
    assert differing and all(i < 8 * 80 for i in differing)


def test_writer_refuses_with_every_problem() -> None:
    ds = Dataset(
        "bad name",
        "x" * 41,
        (char("USUBJID", "Unique Subject Identifier"),),
        [{"USUBJID": "é"}, {"USUBJID": "A" * 201}],
    )
    with pytest.raises(XportError) as caught:
        write_xport(ds, STAMP)
    codes = sorted(p.code for p in caught.value.problems)
    assert codes == ["CHAR_ASCII", "CHAR_LENGTH", "DS_LABEL", "DS_NAME"]
    assert "row 2" in str(caught.value)


# --- pyreadstat round trip ----------------------------------------------------------


def test_round_trip_through_pyreadstat(tmp_path: Path) -> None:
    ds = small()
    path = write_xport_file(tmp_path, ds, STAMP)
    assert path.name == "adtte.xpt"
    data, meta = pyreadstat.read_xport(str(path), output_format="dict")
    assert meta.table_name == "ADTTE"
    assert meta.file_label == "Time-to-Event Analysis Dataset"
    assert meta.column_names == [v.name for v in ds.variables]
    assert meta.column_labels == [v.label for v in ds.variables]
    assert {name: format_parts(fmt) for name, fmt in meta.original_variable_types.items()} == {
        "USUBJID": None,
        "AVAL": None,
        "ADT": ("DATE", "9", ""),
        "EVNTDESC": None,
        "PCT": ("", "8", "2"),
    }
    assert meta.variable_storage_width == {"USUBJID": 6, "AVAL": 8, "ADT": 8, "EVNTDESC": 19, "PCT": 8}
    assert meta.creation_time == STAMP and meta.modification_time == STAMP
    assert list(data["USUBJID"]) == ["S-0001", "S-0002", "S-0003"]
    assert list(data["AVAL"]) == [86.0, None, -1.5]
    assert list(data["ADT"]) == [dt.date(2024, 4, 2), None, dt.date(1959, 12, 31)]
    assert list(data["EVNTDESC"]) == ["DISEASE PROGRESSION", "", ""]
    assert list(data["PCT"]) == [-33.3, 1e-5, 0.0]


def test_empty_dataset_round_trips(tmp_path: Path) -> None:
    ds = Dataset("EMPTY", "No rows", (char("A", "A variable"), num("N", "A number")), [])
    path = write_xport_file(tmp_path, ds, STAMP)
    data, meta = pyreadstat.read_xport(str(path), output_format="dict")
    assert meta.number_rows == 0
    assert meta.column_names == ["A", "N"]
    assert {k: len(v) for k, v in data.items()} == {"A": 0, "N": 0}


def test_golden_sha256() -> None:
    """Pins the writer's bytes: a change here is a change to every sponsor transfer.

    If it is intended (e.g. a new header field), re-derive the hash, check the file still
    round-trips through pyreadstat, and say so in the commit message.
    """
    digest = hashlib.sha256(write_xport(small(), STAMP)).hexdigest()
    assert digest == "c50421917fd9abf5d3fa7a41042111a4aecd70bbd3f98087b498df298ff1ee49"
