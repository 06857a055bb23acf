"""End to end with the real criteria engine: the export consumes ``criteria.evaluate`` output.

This pins the one assumption the export makes about the engine: a ``TimepointResult`` carries
the ``Timepoint.date`` it was computed from, so it can be matched to the reader's visit.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import export_fixtures as fx

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
from trialreads.exports.datasets import build_all
from trialreads.exports.validate import check_all


def reader1_engine_input() -> Subject:
    """Reader 1's read of the fixture as the engine sees it."""
    return Subject(
        subject=fx.USUBJID,
        reference_date=fx.RANDOMISED,
        baseline=Baseline(
            date=fx.BASELINE,
            targets=(
                BaselineTarget("T01", "LIVER", False, Decimal("30.0")),
                BaselineTarget("T02", "LYMPH NODE", True, Decimal("18.0")),
            ),
            non_targets=(BaselineNonTarget("NT01", "BONE", False),),
        ),
        timepoints=(
            Timepoint(
                date=fx.WEEK6,
                scan_dates=(fx.WEEK6_FIRST_IMAGE, fx.WEEK6),
                targets={
                    "T01": TargetMeasurement(TargetKind.MEASURED, Decimal("20.0")),
                    "T02": TargetMeasurement(TargetKind.TOO_SMALL, Decimal(5), raw="TSTM"),
                },
                non_targets={"NT01": NonTargetStatus.PRESENT},
            ),
            Timepoint(
                date=fx.WEEK12,
                scan_dates=(fx.WEEK12_FIRST_IMAGE, fx.WEEK12),
                targets={
                    "T01": TargetMeasurement(TargetKind.MEASURED, Decimal("25.0")),
                    "T02": TargetMeasurement(TargetKind.MEASURED, Decimal("12.0")),
                },
                non_targets={"NT01": NonTargetStatus.PRESENT},
                new_lesions=(NewLesion("NEW01", "LUNG", False, None, measurable=False),),
            ),
        ),
    )


def test_engine_results_flow_into_rs_adrs_and_adtte() -> None:
    results = evaluate(reader1_engine_input(), (RECIST11, IRECIST)).results
    read = dataclasses.replace(fx.reader1(), criteria=dict(results))
    subject = dataclasses.replace(fx.subject(fx.R1), reads=(read, fx.reader2()))
    datasets = {ds.name: ds for ds in build_all(fx.study(subject))}
    assert check_all(list(datasets.values())) == []

    overall = {
        (r["RSCAT"], r["VISITNUM"]): r["RSSTRESC"]
        for r in datasets["RS"].rows
        if r["RSTESTCD"] == "OVRLRESP" and r["RSEVALID"] == "RADIOLOGIST 1"
    }
    engine = {
        criterion: [tp.overall for tp in results[criterion].timepoints] for criterion in (RECIST11, IRECIST)
    }
    assert [overall[("RECIST 1.1", 2)], overall[("RECIST 1.1", 3)]] == engine[RECIST11]
    assert [overall[("iRECIST", 2)], overall[("iRECIST", 3)]] == engine[IRECIST]
    assert engine[RECIST11][-1] == "PD" and engine[IRECIST][-1] == "iUPD"

    pfs = next(r for r in datasets["ADTTE"].rows if r["PARAMCD"] == "PFS")
    assert (pfs["CNSR"], pfs["ADT"]) == (0, results[RECIST11].pfs.date)
    # The engine dates PD at the earliest scan of the visit, as the RS record does (§3.3).
    assert pfs["ADT"] == fx.WEEK12_FIRST_IMAGE
