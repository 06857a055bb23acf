"""Issue 18 item 7: new lesions in the transfer, read back from the XPT files (pyreadstat).

The fixture (``export_fixtures.new_lesion_read``) has every kind: NEW01 equivocal at week 6,
unequivocal and measurable at week 12, grown at the week 18 confirmation; NEW02 non-measurable
from week 12; NEW03 measurable, first seen at week 18. The responses are the real engine's
(RECIST 1.1 and iRECIST). Neither the demo nor the pharmaverse transfer had a new lesion
before, so no read-back test had seen their TU/TR/RS rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import export_fixtures as fx
import pyreadstat

from criteria.evaluate import evaluate
from criteria.types import (
    IRECIST,
    RECIST11,
    Baseline,
    BaselineNonTarget,
    BaselineTarget,
    NewLesion,
    NonTargetStatus,
    Subject,
    TargetKind,
    TargetMeasurement,
    Timepoint,
)
from trialreads.exports.datasets import ExportSubject
from trialreads.exports.package import render_study

CREATED = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)


def _target(mm: str) -> dict[str, TargetMeasurement]:
    return {"T01": TargetMeasurement(TargetKind.MEASURED, Decimal(mm))}


def engine_input() -> Subject:
    """``fx.new_lesion_read`` as the engine takes it."""
    present = {"NT01": NonTargetStatus.PRESENT}
    return Subject(
        subject=fx.NL_USUBJID,
        reference_date=fx.RANDOMISED,
        baseline=Baseline(
            date=fx.BASELINE,
            targets=(BaselineTarget("T01", "LIVER", False, Decimal("40.0")),),
            non_targets=(BaselineNonTarget("NT01", "BONE", False),),
        ),
        timepoints=(
            Timepoint(date=fx.WEEK6, targets=_target("38.0"), non_targets=present, new_lesions=(
                NewLesion("NEW01", "LUNG", False, None, measurable=True, equivocal=True),
            )),
            Timepoint(date=fx.WEEK12, targets=_target("39.0"), non_targets=present, new_lesions=(
                NewLesion("NEW01", "LUNG", False, Decimal("12.0"), measurable=True),
                NewLesion("NEW02", "BONE", False, None, measurable=False),
            )),
            Timepoint(date=fx.WEEK18, targets=_target("41.0"), non_targets=present, new_lesions=(
                NewLesion("NEW01", "LUNG", False, Decimal("17.0"), measurable=True),
                NewLesion("NEW02", "BONE", False, None, measurable=False),
                NewLesion("NEW03", "LIVER", False, Decimal("10.0"), measurable=True),
            )),
        ),
    )  # fmt: skip


def _read_back(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    results = evaluate(engine_input(), (RECIST11, IRECIST)).results
    read = dataclasses.replace(fx.new_lesion_read(), criteria=dict(results))
    subject = ExportSubject(usubjid=fx.NL_USUBJID, randomisation_date=fx.RANDOMISED, reads=(read,),
                            accepted=fx.R1)  # fmt: skip
    files = render_study(fx.study(subject), created=CREATED, criteria_version="v", charter_version="1")
    out = {}
    for name in ("tu", "tr", "rs"):
        (tmp_path / f"{name}.xpt").write_bytes(files[f"{name}.xpt"])
        data, _ = pyreadstat.read_xport(str(tmp_path / f"{name}.xpt"), output_format="dict")
        out[name] = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    return out


def test_new_lesions_have_tu_records_at_the_visit_first_seen(tmp_path: Path) -> None:
    tu = _read_back(tmp_path)["tu"]
    new = {r["TULNKID"]: (r["TUORRES"], r["TUSTRESC"], r["TULOC"], r["VISIT"], r["TUDTC"])
           for r in tu if r["TUORRES"] == "NEW"}  # fmt: skip
    assert new == {
        "R1-NEW01": ("NEW", "NEW", "LUNG", "WEEK 6", fx.WEEK6.isoformat()),  # first seen equivocal
        "R1-NEW02": ("NEW", "NEW", "BONE", "WEEK 12", fx.WEEK12.isoformat()),
        "R1-NEW03": ("NEW", "NEW", "LIVER", "WEEK 18", fx.WEEK18.isoformat()),
    }


def test_new_lesions_tr_records_measurable_not_measurable_and_equivocal(tmp_path: Path) -> None:
    tr = _read_back(tmp_path)["tr"]
    values = ("TRORRES", "TRSTRESC", "TRSTRESN", "TRSTRESU")
    new = {(r["VISIT"], r["TRLNKID"], r["TRTESTCD"]): tuple(r[v] for v in values)
           for r in tr if r["TRGRPID"] == "NEW"}  # fmt: skip
    assert new == {
        ("WEEK 6", "R1-NEW01", "TUMSTATE"): ("EQUIVOCAL", "EQUIVOCAL", None, ""),
        ("WEEK 12", "R1-NEW01", "LDIAM"): ("12.0", "12", 12.0, "mm"),
        ("WEEK 12", "R1-NEW01", "TUMSTATE"): ("PRESENT", "PRESENT", None, ""),
        ("WEEK 12", "R1-NEW02", "TUMSTATE"): ("PRESENT", "PRESENT", None, ""),
        ("WEEK 18", "R1-NEW01", "LDIAM"): ("17.0", "17", 17.0, "mm"),
        ("WEEK 18", "R1-NEW01", "TUMSTATE"): ("PRESENT", "PRESENT", None, ""),
        ("WEEK 18", "R1-NEW02", "TUMSTATE"): ("PRESENT", "PRESENT", None, ""),
        ("WEEK 18", "R1-NEW03", "LDIAM"): ("10.0", "10", 10.0, "mm"),
        ("WEEK 18", "R1-NEW03", "TUMSTATE"): ("PRESENT", "PRESENT", None, ""),
    }
    # New lesions are not in the target sum; their records link to the visit's assessment.
    sums = {r["VISIT"]: r["TRSTRESN"] for r in tr if r["TRTESTCD"] == "SUMDIAM"}
    assert sums == {"SCREENING": 40.0, "WEEK 6": 38.0, "WEEK 12": 39.0, "WEEK 18": 41.0}
    groups = {(r["VISIT"], r["TRLNKGRP"]) for r in tr if r["TRGRPID"] == "NEW"}
    assert groups == {("WEEK 6", "R1-A2"), ("WEEK 12", "R1-A3"), ("WEEK 18", "R1-A4")}


def test_new_lesions_drive_the_rs_records_of_both_criteria(tmp_path: Path) -> None:
    rs = _read_back(tmp_path)["rs"]
    got = {(r["RSCAT"], r["VISIT"], r["RSTESTCD"]): r["RSSTRESC"] for r in rs if r["VISIT"]}
    # RECIST 1.1: equivocal at week 6 (no PD yet), unequivocal at week 12: PD, where it ends.
    assert got[("RECIST 1.1", "WEEK 6", "NEWLPROG")] == "EQUIVOCAL"
    assert got[("RECIST 1.1", "WEEK 6", "OVRLRESP")] == "SD"
    week12 = (got[("RECIST 1.1", "WEEK 12", "NEWLPROG")], got[("RECIST 1.1", "WEEK 12", "OVRLRESP")])
    assert week12 == ("Y", "PD")
    assert ("RECIST 1.1", "WEEK 18", "OVRLRESP") not in got
    # iRECIST: iUPD at week 12, confirmed at week 18 by the new lesions' growth and NEW03.
    assert got[("iRECIST", "WEEK 12", "OVRLRESP")] == "iUPD"
    assert got[("iRECIST", "WEEK 18", "OVRLRESP")] == "iCPD"
    groups = {r["RSLNKGRP"] for r in rs if r["RSCAT"] == "iRECIST" and r["VISIT"] == "WEEK 18"}
    assert groups == {"R1-A4"}
