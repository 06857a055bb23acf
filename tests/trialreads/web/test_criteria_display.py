"""How the pages show each criterion (``trialreads.web.criteria_display``): a label for every
criterion the engine evaluates, each criterion family's cell and plot quantity, on the
engine's own results for the contract examples (docs/contract/examples)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from criteria.evaluate import AVAILABLE, evaluate
from criteria.parse import load_json, parse_payload
from criteria.serialize import criterion_json
from criteria.types import CriterionResult, Settings, Subject
from trialreads.web import criteria_display as display

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "contract" / "examples"


def _results(example: str, criteria: list[str]) -> dict[str, CriterionResult]:
    subject = parse_payload(load_json((EXAMPLES / f"{example}.json").read_text()))
    assert isinstance(subject, Subject)
    return dict(evaluate(subject, criteria).results)


def test_every_criterion_the_engine_evaluates_has_one_label() -> None:
    assert set(display.CRITERIA_LABELS) == set(AVAILABLE)
    assert len(set(display.CRITERIA_LABELS.values())) == len(AVAILABLE)
    assert display.labelled(["irrc", "percist"]) == [("irrc", "irRC"), ("percist", "PERCIST 1.0")]


def test_irrc_shows_the_tumour_burden_and_plots_its_change() -> None:
    result = _results("irrc-pseudoprogression", ["irrc"])["irrc"]
    first = result.timepoints[0]
    cell = display.cell("irrc", first)
    assert cell.overall == "irPD"
    assert cell.lines[0] == "tumour burden 1,155.0 mm² (sum of products), +28.3% vs baseline, +28.3% vs nadir"
    assert ("PD status", "not confirmed") in [(d.label, d.value) for d in cell.details]
    measure = display.measure("irrc")
    assert measure is not None and measure.change(first) == first.pct_vs_baseline
    assert measure.note(first) == "burden 1,155.0 mm²"
    assert [label for _, label in measure.references] == ["+25% (irPD)", "−50% (irPR)"]


def test_percist_shows_the_hottest_sulpeak_and_plots_its_exact_change() -> None:
    results = _results("percist-ipercist", ["percist", "ipercist", "impercist5", "percimt"])
    first = results["percist"].timepoints[0]
    cell = display.cell("percist", first)
    assert cell.lines == ("SULpeak 5.2 (L1) vs 8.0 (L1) at baseline: -35.0%, -2.8 SUL",)
    assert cell.components == "metabolic PMR · new NO"
    assert [(d.label, d.value) for d in cell.details] == [("measurability threshold (SUL)", "3.6")]
    percist = display.measure("percist")
    assert percist is not None
    # (5.2 - 8) / 8, (11 - 8) / 8, (11.5 - 8) / 8
    expected = [Decimal(-35), Decimal("37.5"), Decimal("43.75")]
    assert [percist.change(tp) for tp in results["percist"].timepoints] == expected
    assert percist.note(first) == "SULpeak 5.2 vs 8.0"
    # iPERCIST: the confirmation shows among the extras; imPERCIST5 plots the sum's change.
    confirmed = display.cell("ipercist", results["ipercist"].timepoints[2])
    assert confirmed.overall == "CPMD" and ("UPMD confirmed from", "2024-04-22") in [
        (d.label, d.value) for d in confirmed.details
    ]
    sums = display.measure("impercist5")
    assert sums is not None and sums.change(results["impercist5"].timepoints[0]) == (
        (Decimal("7.1") - 13) * 100 / 13
    )
    line = display.cell("impercist5", results["impercist5"].timepoints[0]).lines[0]
    assert line == "SULpeak sum 7.1 (L1, L2) vs 13.0 at baseline: -45.4%"
    # PERCIMT counts lesions: no plotted quantity, its counts in the cell.
    assert display.measure("percimt") is None
    assert display.cell("percimt", results["percimt"].timepoints[0]).lines == (
        "new lesions 0 (0 > 1.0 cm, 0 > 1.5 cm)",
        "resolved baseline lesions: L2",
    )


def test_impercist5_threshold_follows_the_charter_setting() -> None:
    measure = display.measure("impercist5", Settings(impercist5_pmd_threshold="20"))
    assert measure is not None and measure.references[0] == (Decimal(20), "+20% (PMD)")


def test_itrecist_shows_the_injected_and_non_injected_responses() -> None:
    result = _results("itrecist-recategorised", ["itrecist"])["itrecist"]
    cell = display.cell("itrecist", result.timepoints[1])
    assert cell.lines == (
        "Σ 82.0 mm, -18.0% vs baseline, +2.5% vs nadir",
        "injected (T1, T3): iPR (T iPR, NT NA, Σ 42.0 mm, nadir 50.0 mm)",
        "non-injected: iUPD (T iUPD, NT NON-iCR/NON-iUPD, NL NO, Σ 40.0 mm, nadir 30.0 mm)",
    )
    assert [(d.label, d.value) for d in cell.details] == [("injected after baseline", "T3")]
    # criterion level: each group's best response
    details = {d.label: d.value for d in display.extra_details(result.extra)}
    assert details["injected lesions: best response"] == "iPR"
    assert details["non-injected lesions: best response"] == "iSD"


@pytest.mark.parametrize("criterion", ["recist1.1", "irecist", "imrecist"])
def test_the_recist_family_shows_the_target_sum(criterion: str) -> None:
    result = _results("measurement-level", ["recist1.1", "irecist", "imrecist"])[criterion]
    cell = display.cell(criterion, result.timepoints[0])
    assert cell.lines[0] == "Σ 42.0 mm, -32.3% vs baseline, -32.3% vs nadir"
    measure = display.measure(criterion)
    assert measure is not None and measure.what == "the target sum"
    assert measure.change(result.timepoints[0]) == result.timepoints[0].pct_vs_baseline


def test_every_extra_is_shown_somewhere() -> None:
    """No extra the engine writes is dropped: each is a line or a labelled detail."""
    examples = {
        "irrc-pseudoprogression": ["irrc", "irrecist"],
        "irrecist-new-lesion-tmtb": ["irrecist"],
        "percist-ipercist": ["percist", "ipercist", "impercist5", "percimt"],
        "percist-new-lesions": ["percist", "ipercist", "impercist5", "percimt"],
        "itrecist-new-lesion": ["itrecist"],
        "measurement-level": ["recist1.1", "irecist", "imrecist"],
    }
    for example, criteria in examples.items():
        for name, result in _results(example, criteria).items():
            for tp in result.timepoints:
                cell = display.cell(name, tp)
                shown = " ".join(cell.lines) + " " + " ".join(f"{d.label} {d.value}" for d in cell.details)
                for key, value in tp.extra.items():
                    label = display.EXTRA_LABELS.get(key, key.replace("_", " "))
                    forms = {display.text(value)} | (
                        {display.mm(value)} if isinstance(value, Decimal) else set()
                    )
                    assert label in shown or any(f in shown for f in forms), (example, name, key)


def test_the_adjudication_views_json_gives_the_same_cells() -> None:
    """The side-by-side view carries the display JSON; its cells match the results'."""
    for example, criteria in (
        ("irrc-pseudoprogression", ["irrc"]),
        ("percist-ipercist", ["percist", "ipercist"]),
        ("itrecist-recategorised", ["itrecist"]),
    ):
        for name, result in _results(example, criteria).items():
            data = criterion_json(result, explain=True)
            for tp, json_tp in zip(result.timepoints, data["timepoints"], strict=True):
                assert display.cell(name, display.timepoint_from_json(json_tp)) == display.cell(name, tp)
