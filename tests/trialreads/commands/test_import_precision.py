"""Issue 18 item 6: an import keeps the collected precision, so it never changes a response.

Two subjects, both readers concordant, written as SDTM TU/TR files:

* 1001: one target 50 mm at baseline, 35.04 mm at WEEK 6: -29.92 %, SD (R11 PR needs -30 %);
  rounded to 0.1 mm (35.0, -30 %) it was PR.
* 1002: 50 mm, then 20 mm (PR, the nadir), then 24.95 mm: +24.75 % but +4.95 mm from the nadir,
  so not PD (the +5 mm rule); rounded (25.0, +5.0 mm) it was PD.

Before this change ``import_sdtm`` rounded both and the export said PR and PD.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASELINE_TARGETS, save_baseline
from trialreads.errors import ValidationError
from trialreads.management.commands.import_sdtm import import_sdtm
from trialreads.models import Measurement
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services
from trialreads.services import reads as read_services
from trialreads.services.reads import TargetInput

pytestmark = pytest.mark.django_db

STUDY = "PRECISION01"
READERS = ("RADIOLOGIST 1", "RADIOLOGIST 2")
#: subject -> [(VISITNUM, VISIT, TRDTC, collected TRORRES)]
VISITS = {
    "01-701-1001": [(1, "SCREENING", "2014-01-02", "50"), (2, "WEEK 6", "2014-02-13", "35.04")],
    "01-701-1002": [
        (1, "SCREENING", "2014-01-02", "50"),
        (2, "WEEK 6", "2014-02-13", "20"),
        (3, "WEEK 12", "2014-03-27", "24.95"),
    ],
}


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), quoting=csv.QUOTE_NONNUMERIC)
        writer.writeheader()
        writer.writerows(rows)


def write_sdtm(directory: Path) -> Path:
    tu: list[dict[str, object]] = []
    tr: list[dict[str, object]] = []
    for usubjid, visits in VISITS.items():
        for reader in READERS:
            tu.append({
                "DOMAIN": "TU", "STUDYID": STUDY, "USUBJID": usubjid, "VISIT": "SCREENING", "VISITNUM": 1,
                "TULOC": "LIVER", "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
                "TUORRES": "TARGET", "TUSTRESC": "TARGET", "TUMETHOD": "CT SCAN", "TULNKID": "T01",
                "TUEVAL": "INDEPENDENT ASSESSOR", "TUEVALID": reader, "TUACPTFL": "Y", "TUSEQ": len(tu) + 1,
            })  # fmt: skip
            for number, visit, date, value in visits:
                tr.append({
                    "DOMAIN": "TR", "STUDYID": STUDY, "USUBJID": usubjid, "TRGRPID": "TARGET",
                    "TRLNKID": "T01", "TRTESTCD": "LDIAM", "TRTEST": "Longest Diameter", "TRORRES": value,
                    "TRORRESU": "mm", "TRSTRESC": value, "TRSTRESN": value, "TRSTRESU": "mm",
                    "VISITNUM": number, "VISIT": visit, "TREVAL": "INDEPENDENT ASSESSOR", "TREVALID": reader,
                    "TRACPTFL": "Y", "TRDTC": date, "TRSEQ": len(tr) + 1,
                })  # fmt: skip
    _write(directory / "tu_precision.csv", tu)
    _write(directory / "tr_precision.csv", tr)
    return directory


def test_import_keeps_collected_precision_and_the_responses(tmp_path: Path) -> None:
    trial, summary = import_sdtm(write_sdtm(tmp_path))
    assert summary["values_finer_than_0.1_mm"] == 2 * 2  # 35.04 and 24.95, two readers each
    stored = set(
        Measurement.objects.filter(lesion__read__subject__trial=trial).values_list("value_mm", flat=True)
    )
    assert {Decimal("35.04"), Decimal("24.95"), Decimal("50.0"), Decimal("20.0")} == stored

    job = endpoint_services.endpoints_compute(trial_id=trial.pk, requested_by="test").job
    datasets = {ds.name: ds for ds in export_services.build_datasets(export_services.build_study(job).study)}
    overall = {
        (r["USUBJID"], r["RSEVALID"], r["VISIT"]): r["RSSTRESC"]
        for r in datasets["RS"].rows
        if r["RSCAT"] == "RECIST 1.1" and r["RSTESTCD"] == "OVRLRESP"
    }
    for reader in READERS:
        assert overall[("01-701-1001", reader, "WEEK 6")] == "SD"  # rounded: PR
        assert overall[("01-701-1002", reader, "WEEK 6")] == "PR"
        assert overall[("01-701-1002", reader, "WEEK 12")] == "PR"  # rounded: PD
    adrs = {(r["USUBJID"], r["AVISIT"]): r["AVALC"] for r in datasets["ADRS"].rows if r["PARAMCD"] == "OVR"}
    assert adrs[("01-701-1001", "WEEK 6")] == "SD"
    assert adrs[("01-701-1002", "WEEK 12")] == "PR"

    # TR: TRORRES as collected, TRSTRESC/TRSTRESN standardised.
    diam = {
        (r["USUBJID"], r["TREVALID"], r["VISIT"]): (r["TRORRES"], r["TRSTRESC"], r["TRSTRESN"])
        for r in datasets["TR"].rows
        if r["TRTESTCD"] == "LDIAM"
    }
    assert diam[("01-701-1001", "RADIOLOGIST 1", "SCREENING")] == ("50", "50", Decimal("50"))
    assert diam[("01-701-1001", "RADIOLOGIST 1", "WEEK 6")] == ("35.04", "35.04", Decimal("35.04"))
    assert diam[("01-701-1002", "RADIOLOGIST 2", "WEEK 12")] == ("24.95", "24.95", Decimal("24.95"))


def _baseline(value: str, collected: str = "") -> tuple[TargetInput, ...]:
    return (
        TargetInput(code="T1", organ="liver", value_mm=Decimal(value), collected=collected),
        *BASELINE_TARGETS[1:],
    )


def test_entered_values_keep_the_0_1_mm_rule(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    with pytest.raises(ValidationError) as exc:
        save_baseline(tr, reader_a, targets=_baseline("35.04"))
    assert exc.value.errors == {"targets[0].value_mm": ["at most one decimal place (0.1 mm)"]}


def test_a_collected_text_must_be_the_value(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    with pytest.raises(ValidationError) as exc:
        save_baseline(tr, reader_a, targets=_baseline("35.04", collected="35.05"))
    assert exc.value.errors == {"targets[0].collected": ["'35.05' is not 35.04 mm"]}
    with pytest.raises(ValidationError) as exc:
        save_baseline(tr, reader_a, targets=_baseline("35.00001", collected="35.00001"))
    assert exc.value.errors == {"targets[0].value_mm": ["at most 4 decimal places"]}


def test_transcribed_value_is_stored_signed_and_read_back_exactly(
    trial_with_reads: Any, reader_a: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a, targets=_baseline("35.04", collected="35.040"))
    m = Measurement.objects.get(timepoint_read=tr, lesion__lesion_code="T1")
    assert (m.value_mm, m.collected) == (Decimal("35.04"), "35.040")
    content = read_services.timepoint_read_content(tr)
    t1 = next(x for x in content["measurements"] if x["code"] == "T1")
    t2 = next(x for x in content["measurements"] if x["code"] == "T2")
    # The collected text is signed with the value; an entered value's content is unchanged.
    assert (t1["value_mm"], t1["collected"]) == (Decimal("35.04"), "35.040")
    assert "collected" not in t2 and str(t2["value_mm"]) == "30.0"
