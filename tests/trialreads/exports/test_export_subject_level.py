"""Issue 18 items 3 and 4: the transfer's subject-level dataset (ADSL: the dates ADTTE's
SRCDOM names) and SDTM --DY / EPOCH when the sponsor gives the reference start date and epochs.

Before: ADTTE named SRCDOM = ADSL (RANDDT, DTHDT) with no ADSL delivered, and TU/TR/RS had
neither --DY nor EPOCH. Now ADSL is delivered and checked as ADTTE's source; --DY and EPOCH are
there exactly when the sponsor's dates and epochs are, and the reviewer's guide says which."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import export_fixtures as fx
import pyreadstat

from trialreads.exports.datasets import build_all, build_transfer
from trialreads.exports.guide import GUIDE_NAME
from trialreads.exports.package import render_study
from trialreads.exports.timing import epoch, study_day
from trialreads.exports.validate import check_all, check_sources

CREATED = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)
FIRST_DOSE = dt.date(2024, 1, 9)  # after the baseline scan (2024-01-05) and randomisation (01-08)


def _by_name(study: object) -> dict[str, object]:
    return {ds.name: ds for ds in build_all(study)}  # type: ignore[arg-type]


def test_adsl_holds_the_trials_subject_dates_and_is_adttes_source() -> None:
    one = fx.subject(fx.R1, first_dose_date=FIRST_DOSE, last_contact_date=dt.date(2024, 6, 1),
                     reference_start_date=FIRST_DOSE)  # fmt: skip
    # Reader 2 has no progression: died after the last adequate assessment, within the window.
    dead = fx.subject(fx.R2, usubjid="TR-ONC-001-0002", death_date=dt.date(2024, 3, 20))
    datasets = build_all(fx.study(one, dead))
    by_name = {ds.name: ds for ds in datasets}
    assert [ds.name for ds in datasets] == ["TU", "TR", "RS", "ADSL", "ADRS", "ADTTE"]
    adsl = by_name["ADSL"]
    assert adsl.rows == [
        {"STUDYID": fx.STUDYID, "USUBJID": fx.USUBJID, "RFSTDTC": "2024-01-09", "RANDDT": fx.RANDOMISED,
         "TRTSDT": FIRST_DOSE, "DTHDT": None, "DTHFL": None, "LSTALVDT": dt.date(2024, 6, 1)},
        {"STUDYID": fx.STUDYID, "USUBJID": "TR-ONC-001-0002", "RFSTDTC": None, "RANDDT": fx.RANDOMISED,
         "TRTSDT": None, "DTHDT": dt.date(2024, 3, 20), "DTHFL": "Y", "LSTALVDT": None},
    ]  # fmt: skip
    sources = {(r["SRCDOM"], r["SRCVAR"]) for r in by_name["ADTTE"].rows}
    assert ("ADSL", "DTHDT") in sources
    for row in by_name["ADTTE"].rows:
        if row["SRCDOM"] == "ADSL":
            record = next(r for r in adsl.rows if r["USUBJID"] == row["USUBJID"])
            assert record[row["SRCVAR"]] == row["ADT"]
    assert check_all(list(datasets)) == []
    # Without ADSL the same ADTTE names a dataset that is not delivered: refused.
    missing = check_sources([ds for ds in datasets if ds.name != "ADSL"])
    assert {(p.dataset, p.code) for p in missing} == {("ADTTE", "SOURCE_DOMAIN")}


def test_adsl_is_in_the_files_the_manifest_and_reads_back(tmp_path: Path) -> None:
    subject = fx.subject(fx.R1, first_dose_date=FIRST_DOSE, death_date=dt.date(2024, 5, 2))
    files = render_study(fx.study(subject), created=CREATED, criteria_version="v", charter_version="1")
    assert {"adsl.xpt", "adsl.csv"} <= set(files)
    (tmp_path / "adsl.xpt").write_bytes(files["adsl.xpt"])
    data, meta = pyreadstat.read_xport(str(tmp_path / "adsl.xpt"), output_format="dict")
    assert meta.table_name == "ADSL" and list(data) == [
        "STUDYID", "USUBJID", "RFSTDTC", "RANDDT", "TRTSDT", "DTHDT", "DTHFL", "LSTALVDT",
    ]  # fmt: skip
    assert (data["RANDDT"][0], data["TRTSDT"][0], data["DTHDT"][0]) == (
        fx.RANDOMISED, FIRST_DOSE, dt.date(2024, 5, 2)
    )
    assert files["adsl.csv"].decode().splitlines()[1].startswith(f"{fx.STUDYID},{fx.USUBJID},,2024-01-08,")
    assert render_study(fx.study(subject), created=CREATED, criteria_version="v", charter_version="1",
                        parallel=True) == files  # fmt: skip


def test_study_day_and_epoch_rules() -> None:
    ref = dt.date(2024, 1, 9)
    days = [study_day(d, ref) for d in ("2024-01-09", "2024-01-10", "2024-01-08", "2024-01-05")]
    assert days == [1, 2, -1, -4]
    assert study_day("2024-02", ref) is None and study_day("2024-01-09", None) is None
    rule = "screening_treatment"
    assert epoch("2024-01-08", ref, rule) == "SCREENING" and epoch("2024-01-09", ref, rule) == "TREATMENT"
    assert epoch("2024-02", ref, rule) == "TREATMENT"  # the whole month lies after
    assert epoch("2024-01", ref, rule) is None  # straddles the reference start date
    assert epoch("2023-12", ref, rule) == "SCREENING"
    assert epoch("2024-01-08", ref, "") is None and epoch("2024-01-08", None, rule) is None


def test_without_the_sponsors_dates_dy_and_epoch_are_left_out_and_the_guide_says_so() -> None:
    study = dataclasses.replace(fx.study(), epoch_rule="screening_treatment")  # epochs, no RFSTDTC
    for ds in build_all(study):
        names = {var.name for var in ds.variables}
        assert "EPOCH" not in names and not {"TUDY", "TRDY", "RSDY"} & names, ds.name
    files = render_study(study, created=CREATED, criteria_version="v", charter_version="1")
    guide = files[GUIDE_NAME].decode()
    assert "--DY: left out, the sponsor's reference start date (RFSTDTC) was not provided." in guide
    assert "EPOCH: left out" in guide


def test_with_the_reference_start_date_and_epochs_tu_tr_rs_have_dy_and_epoch(tmp_path: Path) -> None:
    # Reader 1's week 6 collected as a partial date: no study day, its epoch from the month.
    subject = fx.subject(fx.R1, reference_start_date=FIRST_DOSE)
    read = subject.reads[0]
    week6 = dataclasses.replace(read.timepoints[1], dtc="2024-02")
    read = dataclasses.replace(read, timepoints=(read.timepoints[0], week6, *read.timepoints[2:]))
    subject = dataclasses.replace(subject, reads=(read, *subject.reads[1:]))
    other = fx.subject(fx.R2, usubjid="TR-ONC-001-0002")  # no reference start date
    study = dataclasses.replace(fx.study(subject, other), epoch_rule="screening_treatment")
    datasets = build_all(study)
    by_name = {ds.name: ds for ds in datasets}
    assert check_all(list(datasets)) == []
    assert build_transfer(study) == datasets  # the per-subject build has the same variables and rows
    tu_names = [var.name for var in by_name["TU"].variables]
    assert tu_names[-4:] == ["VISIT", "EPOCH", "TUDTC", "TUDY"]
    assert [v.name for v in by_name["TR"].variables][-4:] == ["VISIT", "EPOCH", "TRDTC", "TRDY"]
    assert [v.name for v in by_name["RS"].variables][-4:] == ["VISIT", "EPOCH", "RSDTC", "RSDY"]

    tr = [r for r in by_name["TR"].rows if r["USUBJID"] == fx.USUBJID and r["TREVALID"] == "RADIOLOGIST 1"]
    baseline = next(r for r in tr if r["VISIT"] == "SCREENING" and r["TRTESTCD"] == "LDIAM")
    assert (baseline["TRDTC"], baseline["TRDY"], baseline["EPOCH"]) == ("2024-01-05", -4, "SCREENING")
    partial = next(r for r in tr if r["VISIT"] == "WEEK 6" and r["TRLNKID"] == "R1-T02")  # no own image date
    assert (partial["TRDTC"], partial["TRDY"], partial["EPOCH"]) == ("2024-02", None, "TREATMENT")
    week12 = next(r for r in tr if r["VISIT"] == "WEEK 12" and r["TRLNKID"] == "R1-T01")
    assert (week12["TRDTC"], week12["TRDY"], week12["EPOCH"]) == ("2024-04-02", 85, "TREATMENT")
    summary = next(r for r in tr if r["VISIT"] == "SCREENING" and r["TRTESTCD"] == "SUMDIAM")
    assert (summary["TRDTC"], summary["TRDY"], summary["EPOCH"]) == (None, None, "SCREENING")
    rs = [r for r in by_name["RS"].rows if r["USUBJID"] == fx.USUBJID and r["RSTESTCD"] == "OVRLRESP"]
    assert {(r["VISIT"], r["RSDY"], r["EPOCH"]) for r in rs} >= {("WEEK 12", 85, "TREATMENT")}
    # The subject without a reference start date has neither.
    assert all(r["TRDY"] is None and r["EPOCH"] is None
               for r in by_name["TR"].rows if r["USUBJID"] == "TR-ONC-001-0002")  # fmt: skip

    files = render_study(study, created=CREATED, criteria_version="v", charter_version="1")
    guide = files[GUIDE_NAME].decode()
    assert "--DY (TUDY, TRDY, RSDY) count from the subject's reference start date" in guide
    assert "(1 in this transfer)" in guide and "EPOCH (charter epoch rule screening_treatment)" in guide
    (tmp_path / "tr.xpt").write_bytes(files["tr.xpt"])
    data, _ = pyreadstat.read_xport(str(tmp_path / "tr.xpt"), output_format="dict")
    rows = zip(data["USUBJID"], data["TRSEQ"], strict=True)
    index = next(i for i, key in enumerate(rows) if key == (fx.USUBJID, week12["TRSEQ"]))
    assert (data["TRDY"][index], data["EPOCH"][index]) == (85, "TREATMENT")
