"""E1-E5 (criteria/AMBIGUITIES.md): each reading the sources leave open has a setting, and
both of its values are tested; every Settings field is documented as a reading or a charter
option."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from engine_builders import day, new, overall, subject, target, visit

from criteria import endpoints, imrecist, irecist
from criteria.ambiguities import AMBIGUITIES, defaults_used
from criteria.cli import main
from criteria.evaluate import evaluate
from criteria.types import IMRECIST, IRECIST, RECIST11, Settings, TimepointResult

ROOT = Path(__file__).resolve().parents[2]
#: Charter options (A13) rather than readings: protocol-defined numbers.
CHARTER = {
    "sd_min_days", "confirm_min_days", "max_ne_between_confirmation", "accept_sd_between_pr_confirmation",
    "irecist_confirm_window_days", "irecist_early_scan_tolerance_days", "imrecist_negation_min_days",
    "ipercist_confirm_window_days",  # PERCIST family: the iPERCIST window (P4, charter-defined)
}


def test_every_setting_is_a_documented_reading_or_a_charter_option() -> None:
    text = (ROOT / "criteria" / "AMBIGUITIES.md").read_text(encoding="utf-8")
    readings = {a.setting for a in AMBIGUITIES if a.setting is not None}
    for field in dataclasses.fields(Settings):
        assert field.name in CHARTER | readings, f"{field.name}: neither a reading nor a charter option"
        assert f"`{field.name}" in text, f"{field.name} is not in AMBIGUITIES.md"
    for entry in AMBIGUITIES:
        if entry.setting is None:
            continue
        values = {str(getattr(Settings(), entry.setting))}
        assert values <= {value for value, _ in entry.readings}, entry.number
        assert len(entry.readings) >= 2, f"{entry.number}: one reading only"


# --- E1: early scan after an iUPD -------------------------------------------------------

@pytest.mark.parametrize(("resets", "expected"), [
    # iUPD at day 84 (90 over the nadir 70); day 98 is early (14 days): 72 meets iSD.
    # True: reset, so 96 at day 140 is a new iUPD against the nadir. False: day 98 is
    # disregarded (iUPD), and 96 is +6 mm over the iUPD's 90: iCPD.
    (True, ["iPR", "iUPD", "iSD", "iUPD"]),
    (False, ["iPR", "iUPD", "iUPD", "iCPD"]),
])
def test_e1_early_scan_resets_setting(resets: bool, expected: list[str]) -> None:
    s = subject(
        [target("T1", 100, "liver")],
        [visit(d, {"T1": mm}) for d, mm in ((42, 70), (84, 90), (98, 72), (140, 96))],
        irecist_early_scan_resets=resets,
    )
    results = irecist.timepoint_responses(s)
    assert overall(results) == expected
    assert any("E1" in w for w in results[2].why) is (not resets)


# --- E2: equivocal lesion backdating the iUPD -------------------------------------------

@pytest.mark.parametrize(("backdates", "pfs_day"), [(True, 56), (False, 112)])
def test_e2_equivocal_backdates_ipfs_setting(backdates: bool, pfs_day: int) -> None:
    # N1 equivocal at day 56 (iSD), unequivocal at day 112: iUPD, never confirmed (A3 event)
    s = subject(
        [target("T1", 50, "liver")],
        [
            visit(56, {"T1": 45}, new_lesions=[new("N1", 8, equivocal=True)]),
            visit(112, {"T1": 45}, new_lesions=[new("N1", 12)]),
        ],
        irecist_equivocal_backdates_ipfs=backdates,
    )
    result = evaluate(s, [IRECIST, RECIST11]).results
    assert overall(result[IRECIST].timepoints) == ["iSD", "iUPD"]
    assert result[IRECIST].timepoints[1].progression_date == day(pfs_day)
    assert result[IRECIST].pfs.date == day(pfs_day)
    assert result[RECIST11].pfs.date == day(56)  # RECIST 1.1 always backdates (R11-EQUIVOCAL)


# --- E3: imRECIST CR with an equivocal new lesion ---------------------------------------

@pytest.mark.parametrize(("blocks", "expected"), [(False, "CR"), (True, "PR")])
def test_e3_equivocal_blocks_cr_setting(blocks: bool, expected: str) -> None:
    s = subject([target("T1", 30, "liver")],
                [visit(56, {"T1": 0}, new_lesions=[new("N1", 6, equivocal=True)])],
                imrecist_equivocal_blocks_cr=blocks)
    (result,) = imrecist.timepoint_responses(s)
    assert result.overall == expected
    assert ("E3" in result.why[-1]) is blocks


# --- E4: imRECIST PD followed by an early PD ---------------------------------------------

REF = dt.date(2024, 1, 1)


def _seq(*pairs: tuple[int, str]) -> tuple[TimepointResult, ...]:
    return tuple(TimepointResult(date=REF + dt.timedelta(days=d), target="", non_target="", new_lesions="",
                                 overall=code) for d, code in pairs)


@pytest.mark.parametrize(
    ("confirms", "status", "event"), [(True, "confirmed", True), (False, "negated", False)]
)
def test_e4_early_pd_confirms_setting(confirms: bool, status: str, event: bool) -> None:
    # PD day 84, PD day 98 (14 days later), SD day 140 (56 days after the first PD)
    seq = _seq((42, "SD"), (84, "PD"), (98, "PD"), (140, "SD"))
    settings = Settings(imrecist_early_pd_confirms=confirms)
    assert endpoints.imrecist_pd_status(seq, settings)[1] == status
    pfs = endpoints.criterion_pfs(seq, REF, settings, IMRECIST)
    assert pfs.event is event
    assert pfs.date == (REF + dt.timedelta(days=84) if event else REF + dt.timedelta(days=140))


def test_e4_a_pd_at_the_negation_interval_confirms_either_way() -> None:
    seq = _seq((84, "PD"), (112, "PD"))
    for confirms in (True, False):
        statuses = endpoints.imrecist_pd_status(seq, Settings(imrecist_early_pd_confirms=confirms))
        assert statuses[0] == "confirmed"


# --- E5: no post-baseline assessment ------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [("missing", None), ("ne", "NE")])
@pytest.mark.parametrize("criterion", [RECIST11, IRECIST, IMRECIST])
def test_e5_bor_without_assessments_setting(value: Any, expected: str | None, criterion: str) -> None:
    settings = Settings(bor_without_assessments=value)
    assert endpoints.derive_bor((), REF, settings, criterion).code == expected
    assert endpoints.derive_confirmed_bor((), REF, settings, criterion).code == expected
    notes = " | ".join(defaults_used(criterion, settings, True))
    assert f"E5 bor_without_assessments={value} ({'default' if value == 'missing' else 'set'})" in notes


def test_e5_through_the_command_line_and_a_bad_value_names_the_field() -> None:
    payload: dict[str, Any] = {"subject": "E5", "reference_date": "2024-01-01", "timepoints": [],
                               "settings": {"bor_without_assessments": "ne"}}
    out = io.StringIO()
    code = main(["evaluate", "-"], stdin=io.StringIO(json.dumps(payload)), stdout=out, stderr=io.StringIO())
    assert code == 0
    result = json.loads(out.getvalue())["results"]["recist1.1"]
    assert (result["bor"], result["bor_confirmed"]) == ("NE", "NE")
    payload["settings"] = {"bor_without_assessments": "maybe"}
    out, err = io.StringIO(), io.StringIO()
    assert main(["evaluate", "-"], stdin=io.StringIO(json.dumps(payload)), stdout=out, stderr=err) == 2
    assert out.getvalue() == ""
    assert "settings.bor_without_assessments" in err.getvalue()
