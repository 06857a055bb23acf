"""The column-wise writers and the two-process transfer give the bytes of the plain ones.

The export's fast paths (``table.py``: columns taken once, each column's distinct values
encoded once; CSV lines joined from quoted fields; ``render_study`` in two forked halves)
must be invisible in the output. Every test here compares a fast path with a reference
that does the same thing the slow, obvious way, cell by cell, or checks that a failure
leaves nothing behind.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gc
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import export_fixtures as fx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialreads.bulk import gc_paused
from trialreads.exports.datasets import build_all, build_transfer, decimal_text
from trialreads.exports.guide import guide_facts
from trialreads.exports.package import csv_cell, render_package, render_study, write_csv, write_files
from trialreads.exports.spec import Dataset, Value, char, date_num, num
from trialreads.exports.table import tabulate
from trialreads.exports.validate import validate_dataset
from trialreads.exports.xpt import (
    XportError,
    _header,
    _pad,
    encode_char,
    encode_numeric,
    encode_validated,
    variable_lengths,
)

CREATED = dt.datetime(2024, 7, 1, 6, 0, 0, tzinfo=dt.UTC)
OPTIONS: dict[str, Any] = {
    "created": CREATED,
    "criteria_version": "criteria 0.1.0",
    "charter_version": "CHARTER-2.1",
    "audit_chain_head": "ab" * 32,
}


def _reference_csv(dataset: Dataset) -> bytes:
    """``csv.writer`` cell by cell: what ``write_csv`` wrote before the column-wise path."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    names = [var.name for var in dataset.variables]
    writer.writerow(names)
    writer.writerows([csv_cell(row[name]) for name in names] for row in dataset.rows)
    return buffer.getvalue().encode("ascii")


def _reference_observations(dataset: Dataset) -> bytes:
    """Cell by cell, row by row, no cache: the XPT observation records."""
    lengths = variable_lengths(dataset)
    out = bytearray()
    for row in dataset.rows:
        for var, length in zip(dataset.variables, lengths, strict=True):
            value = row[var.name]
            out += encode_numeric(value) if var.type == "num" else encode_char(value, length)
    return bytes(out)


# --- CSV ---------------------------------------------------------------------------------

_TEXT = st.one_of(
    st.none(),
    st.sampled_from(["", " x", "a,b", 'say "hi"', '"', ",", "PD", "NON-CR/NON-PD"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(str.rstrip),
)
_NUMBER = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False),
    st.sampled_from([Decimal("-0"), Decimal("0.00"), Decimal("15.0"), Decimal("1E+3")]),
    st.floats(-1e6, 1e6, allow_nan=False).filter(lambda f: f == 0 or abs(f) > 1e-60),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(_TEXT, _TEXT, _NUMBER, st.one_of(st.none(), st.dates(dt.date(1990, 1, 1)))),
        max_size=12,
    )
)
def test_csv_matches_the_csv_module(rows: list[tuple[Value, Value, Value, Value]]) -> None:
    variables = (char("A", "A"), char("B", "B"), num("N", "N"), date_num("D", "D"))
    dataset = Dataset("XX", "Test", variables, [dict(zip("ABND", row, strict=True)) for row in rows])
    assert write_csv(dataset) == _reference_csv(dataset)


def test_csv_one_column_keeps_the_csv_modules_quoted_empty_field() -> None:
    dataset = Dataset("XX", "Test", (char("A", "A"),), [{"A": ""}, {"A": None}, {"A": "x"}])
    assert write_csv(dataset) == _reference_csv(dataset) == b'A\n""\n""\nx\n'


def test_csv_line_breaks_go_through_the_csv_module() -> None:
    dataset = Dataset("XX", "Test", (char("A", "A"), char("B", "B")), [{"A": "two\nlines", "B": "x\ry"}])
    assert write_csv(dataset) == _reference_csv(dataset)


def test_decimal_text_has_one_text_per_value() -> None:
    assert decimal_text(Decimal("-0")) == decimal_text(Decimal("0.000")) == "0"
    assert decimal_text(Decimal("1.50")) == decimal_text(Decimal("1.5")) == "1.5"
    assert decimal_text(Decimal("1E+3")) == "1000"


# --- XPT ---------------------------------------------------------------------------------


def _observation_records(encoded: bytes) -> bytes:
    """The part of a transport file after the OBS header record."""
    return encoded[encoded.index(_header("OBS")) + 80 :]


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(_TEXT, _NUMBER), min_size=1, max_size=12))
def test_xpt_observations_match_cell_by_cell_encoding(rows: list[tuple[Value, Value]]) -> None:
    dataset = Dataset("XX", "Test", (char("A", "A"), num("N", "N")), [{"A": a, "N": n} for a, n in rows])
    if validate_dataset(dataset):
        return  # e.g. a float below the IBM range: never handed to the encoder
    encoded = encode_validated(dataset, CREATED.replace(tzinfo=None))
    assert _observation_records(encoded) == _pad(_reference_observations(dataset))


def test_xpt_equal_numbers_of_different_types_encode_like_each_cell() -> None:
    rows = [{"N": 1}, {"N": 1.0}, {"N": Decimal("1.00")}, {"N": None}, {"N": Decimal("-0.5")}, {"N": -0.5}]
    dataset = Dataset("XX", "Test", (num("N", "N"),), rows)
    encoded = encode_validated(dataset, CREATED.replace(tzinfo=None))
    assert _observation_records(encoded) == _pad(_reference_observations(dataset))


# --- the validator on columns -----------------------------------------------------------


def test_signalling_nan_and_unhashable_cells_are_problems_not_crashes() -> None:
    variables = (char("A", "A"), num("N", "N"))
    rows: list[dict[str, Any]] = [{"A": "x", "N": Decimal("sNaN")}, {"A": ["not", "text"], "N": 1}]
    problems = validate_dataset(Dataset("XX", "Test", variables, rows))
    assert [(p.code, p.variable, p.row) for p in problems] == [("NUM_RANGE", "N", 1), ("CHAR_TYPE", "A", 2)]


def test_rows_with_missing_or_extra_keys_have_no_table_and_are_named() -> None:
    rows: list[dict[str, Value]] = [{"A": "x"}, {"A": "y", "B": "z", "C": "!"}]
    dataset = Dataset("XX", "Test", (char("A", "A"), char("B", "B")), rows)
    assert tabulate(dataset) is None
    problems = validate_dataset(dataset)
    assert [(p.code, p.variable, p.row) for p in problems] == [("ROW_MISSING", "B", 1), ("ROW_EXTRA", "C", 2)]


# --- the whole transfer on two processes --------------------------------------------------


def _many_subjects(count: int) -> tuple[Any, ...]:
    subjects = []
    for i in range(count):
        accepted = fx.R1 if i % 3 else fx.R2
        subjects.append(fx.subject(accepted, usubjid=f"TR-ONC-001-{i + 1:04d}"))
    return tuple(subjects)


def test_transfer_builder_gives_the_whole_study_datasets() -> None:
    study = fx.study(*_many_subjects(5))
    assert [(d.name, d.rows) for d in build_transfer(study)] == [(d.name, d.rows) for d in build_all(study)]


def test_two_process_transfer_is_byte_identical_to_one_process() -> None:
    study = fx.study(*_many_subjects(7))
    serial = render_package(
        build_all(study), studyid=study.studyid, data_cutoff=study.data_cutoff,
        facts=guide_facts(study), **OPTIONS,
    )  # fmt: skip  (a study's transfer has the reviewer's guide, issue 18 item 5)
    assert render_study(study, parallel=True, **OPTIONS) == serial
    assert render_study(study, parallel=False, **OPTIONS) == serial


@pytest.mark.parametrize("half", ["tumour", "response"])
def test_two_process_transfer_reports_exactly_the_one_process_problems(half: str) -> None:
    subjects = list(_many_subjects(3))
    first = subjects[1]
    reads = list(first.reads)
    if half == "tumour":  # a non-ASCII location: TU (and TR's method stays fine)
        lesions = (dataclasses.replace(reads[0].lesions[0], location="FOIE \u00e9"), *reads[0].lesions[1:])
        reads[0] = dataclasses.replace(reads[0], lesions=lesions)
    else:  # an over-long response code: RS
        result = reads[0].criteria[next(iter(reads[0].criteria))]
        timepoints = (dataclasses.replace(result.timepoints[0], overall="X" * 201), *result.timepoints[1:])
        criteria = {**reads[0].criteria, result.criterion: dataclasses.replace(result, timepoints=timepoints)}
        reads[0] = dataclasses.replace(reads[0], criteria=criteria)
    subjects[1] = dataclasses.replace(first, reads=tuple(reads))
    study = fx.study(*subjects)
    with pytest.raises(XportError) as serial:
        render_package(build_all(study), studyid=study.studyid, data_cutoff=study.data_cutoff, **OPTIONS)
    with pytest.raises(XportError) as parallel:
        render_study(study, parallel=True, **OPTIONS)
    assert parallel.value.problems == serial.value.problems
    assert serial.value.problems


def test_a_failing_half_raises_its_error() -> None:
    subjects = list(_many_subjects(2))
    read = subjects[0].reads[0]
    bad = dataclasses.replace(read, lesions=(*read.lesions, read.lesions[0]))
    subjects[0] = dataclasses.replace(subjects[0], reads=(bad, subjects[0].reads[1]))
    with pytest.raises(ValueError, match="duplicate lesion id"):
        render_study(fx.study(*subjects), parallel=True, **OPTIONS)


# --- writing: all files or none ---------------------------------------------------------


def test_write_files_puts_everything_in_place(tmp_path: Path) -> None:
    write_files(tmp_path / "out", {"a.csv": b"1\n", "b.xpt": b"2"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out" / "a.csv").read_bytes() == b"1\n"


def test_write_files_into_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    write_files(tmp_path / "out", {"a.csv": b"1\n"})
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.csv"]


def test_write_files_leaves_nothing_when_a_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Path.write_bytes
    calls = {"n": 0}

    def failing(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        write_files(tmp_path / "out", {"a.csv": b"1", "b.csv": b"2", "c.csv": b"3"})
    assert list(tmp_path.iterdir()) == []


def test_write_files_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.csv").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_files(tmp_path / "out", {"a.csv": b"1"})
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["stale.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --- the collector pause -------------------------------------------------------------------


def test_gc_paused_restores_the_collector_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()
