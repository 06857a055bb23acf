"""The transfer on disk: byte-determinism, manifest integrity, pyreadstat/CSV agreement."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import export_fixtures as fx
import pyreadstat
import pytest
from sas_format import format_parts

from trialreads.exports.datasets import build_all
from trialreads.exports.guide import GUIDE_NAME
from trialreads.exports.package import csv_cell, render_package, write_csv, write_package
from trialreads.exports.spec import Dataset, Value, char
from trialreads.exports.xpt import XportError

CREATED = dt.datetime(2024, 7, 1, 6, 0, 0, tzinfo=dt.UTC)
NAMES = ["adrs", "adsl", "adtte", "rs", "tr", "tu"]


def build(directory: Path, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "created": CREATED,
        "criteria_version": "criteria 0.1.0",
        "charter_version": "CHARTER-2.1",
        "audit_chain_head": "9f2c" * 16,
    }
    options.update(overrides)
    return write_package(directory, fx.study(), **options)


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    build(tmp_path / "a")
    build(tmp_path / "b")
    files_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files_a == sorted(p.name for p in (tmp_path / "b").iterdir())
    # The reviewer's guide joined the transfer (issue 18 item 5).
    expected = [*(f"{n}.csv" for n in NAMES), *(f"{n}.xpt" for n in NAMES), "manifest.json", GUIDE_NAME]
    expected.append("define.xml")  # issue 18 item 5
    assert files_a == sorted(expected)
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_manifest_describes_every_file(tmp_path: Path) -> None:
    manifest = build(tmp_path)
    assert manifest == json.loads((tmp_path / "manifest.json").read_text("ascii"))
    listed = {f["path"]: f for f in manifest["files"]}
    assert sorted(listed) == sorted(p.name for p in tmp_path.iterdir() if p.name != "manifest.json")
    for name, entry in listed.items():
        content = (tmp_path / name).read_bytes()
        assert entry == {"path": name, "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    assert manifest["criteria_algorithm_version"] == "criteria 0.1.0"
    assert manifest["charter_version"] == "CHARTER-2.1"
    assert manifest["audit_chain_head"] == "9f2c" * 16
    assert manifest["export_timestamp"] == "2024-07-01T06:00:00Z"
    assert manifest["data_cutoff"] == "2024-06-30"
    assert manifest["studyid"] == fx.STUDYID
    counts = {d["name"]: d["rows"] for d in manifest["datasets"]}
    built = {d.name: len(d.rows) for d in build_all(fx.study())}
    assert counts == built
    assert [r["cnsr"] for r in manifest["censoring_rules"]] == [5, 4, 0, 0, 2, 3, 1]


def test_manifest_changes_with_versions_and_chain_head(tmp_path: Path) -> None:
    first = build(tmp_path / "a")
    second = build(tmp_path / "b", charter_version="CHARTER-2.2", audit_chain_head=None)
    # datasets do not depend on the metadata (the reviewer's guide and define.xml name the
    # charter version)
    metadata = (GUIDE_NAME, "define.xml")
    assert [f for f in first["files"] if f["path"] not in metadata] == [
        f for f in second["files"] if f["path"] not in metadata
    ]
    assert (tmp_path / "a" / "manifest.json").read_bytes() != (tmp_path / "b" / "manifest.json").read_bytes()
    assert second["audit_chain_head"] is None


def test_csv_is_ascii_with_newline_endings(tmp_path: Path) -> None:
    build(tmp_path)
    for name in NAMES:
        raw = (tmp_path / f"{name}.csv").read_bytes()
        assert raw.isascii() and b"\r" not in raw and raw.endswith(b"\n")


def _expected(value: Value, var_type: str) -> Value:
    """What pyreadstat gives back for a source value."""
    if value is None:
        return "" if var_type == "char" else None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    return value


def test_every_xpt_round_trips_through_pyreadstat(tmp_path: Path) -> None:
    build(tmp_path)
    for ds in build_all(fx.study()):
        data, meta = pyreadstat.read_xport(str(tmp_path / f"{ds.file_stem}.xpt"), output_format="dict")
        assert meta.table_name == ds.name
        assert meta.file_label == ds.label
        assert meta.column_names == [v.name for v in ds.variables]
        assert meta.column_labels == [v.label for v in ds.variables]
        assert meta.number_rows == len(ds.rows)
        for var in ds.variables:
            got = format_parts(meta.original_variable_types[var.name])
            assert got == format_parts(var.format), var.name
            assert list(data[var.name]) == [_expected(row[var.name], var.type) for row in ds.rows], (
                ds.name,
                var.name,
            )
            if var.type == "char":
                longest = max((len(str(row[var.name])) for row in ds.rows if row[var.name]), default=1)
                assert meta.variable_storage_width[var.name] == longest


def test_csv_matches_the_datasets(tmp_path: Path) -> None:
    build(tmp_path)
    for ds in build_all(fx.study()):
        with (tmp_path / f"{ds.file_stem}.csv").open(newline="", encoding="ascii") as handle:
            table = list(csv.reader(handle))
        assert table[0] == [v.name for v in ds.variables]
        assert table[1:] == [[csv_cell(row[v.name]) for v in ds.variables] for row in ds.rows]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("PR", "PR"),
        (dt.date(2024, 4, 2), "2024-04-02"),
        (Decimal("30.0"), "30"),
        (Decimal("17.50"), "17.5"),
        (3, "3"),
        (5.0, "5"),
        (0.1, "0.1"),
    ],
)
def test_csv_cells(value: Value, text: str) -> None:
    assert csv_cell(value) == text


def test_csv_quotes_only_when_needed() -> None:
    ds = Dataset("Q", "Quoting", (char("A", "a"), char("B", "b")), [{"A": "x, y", "B": 'say "hi"'}])
    assert write_csv(ds) == b'A,B\n"x, y","say ""hi"""\n'


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "stale.xpt").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        build(tmp_path)


def test_a_non_conformant_export_writes_nothing(tmp_path: Path) -> None:
    subject = dataclasses.replace(fx.subject(), usubjid="SUBJECT-" + "X" * 200)
    with pytest.raises(XportError) as caught:
        write_package(
            tmp_path / "out",
            fx.study(subject),
            created=CREATED,
            criteria_version="v",
            charter_version="c",
        )
    assert {p.code for p in caught.value.problems} == {"CHAR_LENGTH"}
    assert {p.dataset for p in caught.value.problems} == {"TU", "TR", "RS", "ADSL", "ADRS", "ADTTE"}
    assert not (tmp_path / "out").exists()


def test_render_checks_cross_links() -> None:
    datasets = list(build_all(fx.study()))
    tu = datasets[0]
    datasets[0] = dataclasses.replace(tu, rows=[r for r in tu.rows if r["TULNKID"] != "R1-T01"])
    with pytest.raises(XportError, match="LINK_TRLNKID"):
        render_package(datasets, created=CREATED, criteria_version="v", charter_version="c", studyid="S")


def test_aware_and_naive_utc_timestamps_give_the_same_bytes() -> None:
    datasets = build_all(fx.study())
    common: dict[str, Any] = {"criteria_version": "v", "charter_version": "c", "studyid": "S"}
    aware = render_package(datasets, created=CREATED, **common)
    naive = render_package(datasets, created=CREATED.replace(tzinfo=None), **common)
    shifted = render_package(
        datasets, created=CREATED.astimezone(dt.timezone(dt.timedelta(hours=2))), **common
    )
    assert aware == naive == shifted
