"""SDTM TU/TR/RS and ADaM ADRS/ADTTE builders on the hand-built two-reader subject."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from decimal import Decimal

import export_fixtures as fx
import pytest

from criteria.types import IMRECIST, RECIST11, CriterionResult, Pfs
from trialreads.exports.datasets import (
    ExportInputError,
    ExportLesion,
    LesionResult,
    MeasurementStatus,
    ReaderRead,
    ReaderTimepoint,
    build_adrs,
    build_adtte,
    build_all,
    build_rs,
    build_tr,
    build_tu,
    natural_key,
)
from trialreads.exports.spec import Dataset, Value
from trialreads.exports.validate import check_all, check_links

S1 = fx.USUBJID


def rows(ds: Dataset, **where: Value) -> list[dict[str, Value]]:
    return [row for row in ds.rows if all(row[k] == v for k, v in where.items())]


def one(ds: Dataset, **where: Value) -> dict[str, Value]:
    found = rows(ds, **where)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def datasets() -> dict[str, Dataset]:
    return {ds.name: ds for ds in build_all(fx.study())}


# --- column layout ------------------------------------------------------------------

# Headers of pharmaversesdtm's tu_onco_recist / tr_onco_recist / rs_onco_recist (Apache-2.0).
PHARMAVERSE_COLUMNS = {
    "TU": "DOMAIN STUDYID USUBJID VISIT VISITNUM TULOC TUTESTCD TUTEST TUORRES TUSTRESC TUMETHOD TULNKID "
    "TUEVAL TUEVALID TUACPTFL TUSEQ",
    "TR": "DOMAIN STUDYID USUBJID TRGRPID TRLNKID TRTESTCD TRTEST TRORRES TRORRESU TRSTRESC TRSTRESN "
    "TRSTRESU VISITNUM VISIT TREVAL TREVALID TRACPTFL TRDTC TRSEQ",
    "RS": "DOMAIN STUDYID USUBJID VISITNUM VISIT RSTESTCD RSTEST RSORRES RSSTRESC RSEVAL RSEVALID RSACPTFL "
    "RSDTC RSSEQ",
}


@pytest.mark.parametrize("name", ["TU", "TR", "RS"])
def test_columns_cover_the_pharmaverse_layout(datasets: dict[str, Dataset], name: str) -> None:
    ours = {var.name for var in datasets[name].variables}
    assert set(PHARMAVERSE_COLUMNS[name].split()) <= ours


def test_identifier_variables_lead(datasets: dict[str, Dataset]) -> None:
    for name in ("TU", "TR", "RS"):
        assert [v.name for v in datasets[name].variables][:4] == [
            "STUDYID",
            "DOMAIN",
            "USUBJID",
            f"{name}SEQ",
        ]
    for name in ("ADRS", "ADTTE"):
        assert [v.name for v in datasets[name].variables][:3] == ["STUDYID", "USUBJID", "ASEQ"]


def test_all_datasets_conform(datasets: dict[str, Dataset]) -> None:
    assert check_all(list(datasets.values())) == []


# --- TU -----------------------------------------------------------------------------


def test_tu_one_record_per_lesion_per_reader_with_prefixed_link_ids(datasets: dict[str, Dataset]) -> None:
    tu = datasets["TU"]
    assert [r["TULNKID"] for r in rows(tu, USUBJID=S1)] == [
        "R1-T01",
        "R1-T02",
        "R1-NT01",
        "R1-NEW01",
        "R2-T01",
        "R2-T02",
        "R2-NT01",
    ]
    t02 = one(tu, USUBJID=S1, TULNKID="R1-T02")
    assert (t02["TUTESTCD"], t02["TUORRES"], t02["TUSTRESC"], t02["TULOC"], t02["TULAT"]) == (
        "TUMIDENT",
        "TARGET",
        "TARGET",
        "LYMPH NODE",
        "LEFT",
    )
    assert (t02["TUEVAL"], t02["TUEVALID"], t02["TUACPTFL"]) == ("INDEPENDENT ASSESSOR", "RADIOLOGIST 1", "Y")
    assert one(tu, USUBJID=S1, TULNKID="R2-T02")["TUACPTFL"] is None
    assert one(tu, USUBJID=S1, TULNKID="R1-T01")["TUREFID"] == "IMG-1001"
    assert one(tu, USUBJID=S1, TULNKID="R1-NT01")["TUMETHOD"] == "MRI"


def test_tu_new_lesion_is_identified_at_the_visit_it_first_appears(datasets: dict[str, Dataset]) -> None:
    new = one(datasets["TU"], USUBJID=S1, TULNKID="R1-NEW01")
    assert (new["TUORRES"], new["VISITNUM"], new["VISIT"], new["TUDTC"]) == (
        "NEW",
        3,
        "WEEK 12",
        "2024-04-03",
    )
    baseline = one(datasets["TU"], USUBJID=S1, TULNKID="R1-T01")
    assert (baseline["VISIT"], baseline["TUDTC"]) == ("SCREENING", "2024-01-05")


# --- TR -----------------------------------------------------------------------------


def test_nodal_target_is_lperp_and_other_targets_ldiam(datasets: dict[str, Dataset]) -> None:
    tr = datasets["TR"]
    assert {r["TRTESTCD"] for r in rows(tr, TRLNKID="R1-T01")} == {"LDIAM"}
    assert {r["TRTESTCD"] for r in rows(tr, TRLNKID="R1-T02")} == {"LPERP"}
    assert one(tr, USUBJID=S1, TRLNKID="R1-T02", VISITNUM=1)["TRTEST"] == "Longest Perpendicular"
    assert one(tr, USUBJID=S1, TRLNKID="R1-T01", VISITNUM=1)["TRTEST"] == "Longest Diameter"


def test_measured_values_original_and_standard(datasets: dict[str, Dataset]) -> None:
    row = one(datasets["TR"], USUBJID=S1, TRLNKID="R2-T02", VISITNUM=1)
    assert (row["TRORRES"], row["TRORRESU"], row["TRSTRESC"], row["TRSTRESN"], row["TRSTRESU"]) == (
        "17.5",
        "mm",
        "17.5",
        Decimal("17.5"),
        "mm",
    )
    whole = one(datasets["TR"], USUBJID=S1, TRLNKID="R1-T01", VISITNUM=1)
    assert (whole["TRORRES"], whole["TRSTRESC"]) == ("30.0", "30")


def test_too_small_to_measure_is_standardised_to_5mm(datasets: dict[str, Dataset]) -> None:
    row = one(datasets["TR"], USUBJID=S1, TRLNKID="R1-T02", VISITNUM=2)
    assert (row["TRORRES"], row["TRORRESU"], row["TRSTRESC"], row["TRSTRESN"], row["TRSTRESU"]) == (
        "TOO SMALL TO MEASURE",
        None,
        "5",
        Decimal(5),
        "mm",
    )
    total = one(datasets["TR"], USUBJID=S1, TRLNKGRP="R1-A2", TRTESTCD="SUMDIAM")
    assert total["TRSTRESN"] == Decimal(25)  # 20 + 5


def test_not_done_measurement_and_its_sum(datasets: dict[str, Dataset]) -> None:
    row = one(datasets["TR"], USUBJID=S1, TRLNKID="R2-T02", VISITNUM=3)
    assert (row["TRSTAT"], row["TRREASND"], row["TRORRES"], row["TRSTRESN"]) == (
        "NOT DONE",
        "IMAGE ARTEFACT",
        None,
        None,
    )
    total = one(datasets["TR"], USUBJID=S1, TRLNKGRP="R2-A3", TRTESTCD="SUMDIAM")
    assert (total["TRSTAT"], total["TRSTRESN"]) == ("NOT DONE", None)


def test_sumdiam_rows_have_no_date_method_or_lesion(datasets: dict[str, Dataset]) -> None:
    sums = rows(datasets["TR"], USUBJID=S1, TRTESTCD="SUMDIAM")
    assert len(sums) == 6  # 2 readers x 3 visits
    assert all(r["TRDTC"] is None and r["TRMETHOD"] is None and r["TRLNKID"] is None for r in sums)
    assert one(datasets["TR"], USUBJID=S1, TRLNKGRP="R2-A1", TRTESTCD="SUMDIAM")["TRSTRESN"] == Decimal(
        "48.5"
    )


def test_non_target_and_new_lesions_are_tumour_states(datasets: dict[str, Dataset]) -> None:
    nt = one(datasets["TR"], USUBJID=S1, TRLNKID="R1-NT01", VISITNUM=2)
    assert (nt["TRTESTCD"], nt["TRTEST"], nt["TRORRES"], nt["TRSTRESC"], nt["TRORRESU"]) == (
        "TUMSTATE",
        "Tumor State",
        "PRESENT",
        "PRESENT",
        None,
    )
    new = one(datasets["TR"], USUBJID=S1, TRLNKID="R1-NEW01")
    assert (new["TRGRPID"], new["TRTESTCD"], new["TRORRES"]) == ("NEW", "TUMSTATE", "PRESENT")


def test_trdtc_is_the_image_date(datasets: dict[str, Dataset]) -> None:
    assert one(datasets["TR"], USUBJID=S1, TRLNKID="R1-T01", VISITNUM=2)["TRDTC"] == "2024-02-20"
    assert one(datasets["TR"], USUBJID=S1, TRLNKID="R1-T02", VISITNUM=2)["TRDTC"] == "2024-02-21"


def test_link_group_numbers_the_visit_the_same_for_both_readers(datasets: dict[str, Dataset]) -> None:
    groups = {(r["TREVALID"], r["VISITNUM"], r["TRLNKGRP"]) for r in rows(datasets["TR"], USUBJID=S1)}
    assert groups == {
        (evalid, visit, f"{prefix}-A{visit}")
        for evalid, prefix in (("RADIOLOGIST 1", "R1"), ("RADIOLOGIST 2", "R2"))
        for visit in (1, 2, 3)
    }


def test_new_lesion_with_a_size_gets_a_diameter_record() -> None:
    read = fx.reader1()
    week12 = read.timepoints[2]
    sized = dataclasses.replace(
        week12,
        results=(*week12.results[:3], LesionResult("NEW01", mm=Decimal("11.0"), state="PRESENT")),
    )
    read = dataclasses.replace(read, timepoints=(*read.timepoints[:2], sized))
    subject = dataclasses.replace(fx.subject(), reads=(read, fx.reader2()))
    tr = build_tr(fx.study(subject))
    assert [r["TRTESTCD"] for r in rows(tr, TRLNKID="R1-NEW01")] == ["LDIAM", "TUMSTATE"]
    # new lesions are not part of the target sum
    assert one(tr, TRLNKGRP="R1-A3", TRTESTCD="SUMDIAM")["TRSTRESN"] == Decimal(37)


# --- RS -----------------------------------------------------------------------------


def test_rs_tests_and_categories(datasets: dict[str, Dataset]) -> None:
    rs = datasets["RS"]
    visit = rows(rs, USUBJID=S1, RSEVALID="RADIOLOGIST 1", VISITNUM=3, RSCAT="RECIST 1.1")
    assert [(r["RSTESTCD"], r["RSTEST"], r["RSORRES"]) for r in visit] == [
        ("TRGRESP", "Target Response", "SD"),
        ("NTRGRESP", "Non-target Response", "NON-CR/NON-PD"),
        ("NEWLPROG", "New Lesion Progression", "Y"),
        ("OVRLRESP", "Overall Response", "PD"),
    ]
    assert {r["RSCAT"] for r in rows(rs, USUBJID=S1)} == {"RECIST 1.1", "iRECIST"}
    assert (
        one(rs, USUBJID=S1, RSEVALID="RADIOLOGIST 1", VISITNUM=3, RSCAT="iRECIST", RSTESTCD="OVRLRESP")[
            "RSSTRESC"
        ]
        == "iUPD"
    )
    assert all(r["RSEVAL"] == "INDEPENDENT ASSESSOR" for r in rs.rows)


def test_bestresp_once_per_reader_and_criterion(datasets: dict[str, Dataset]) -> None:
    best = rows(datasets["RS"], USUBJID=S1, RSTESTCD="BESTRESP")
    assert [(r["RSEVALID"], r["RSCAT"], r["RSORRES"], r["VISITNUM"], r["RSLNKGRP"]) for r in best] == [
        ("RADIOLOGIST 1", "RECIST 1.1", "PR", None, None),
        ("RADIOLOGIST 1", "iRECIST", "iPR", None, None),
        ("RADIOLOGIST 2", "RECIST 1.1", "PR", None, None),
        ("RADIOLOGIST 2", "iRECIST", "iPR", None, None),
    ]


def test_bestresp_can_be_left_out() -> None:
    study = dataclasses.replace(fx.study(), include_bestresp=False)
    assert rows(build_rs(study), RSTESTCD="BESTRESP") == []


def test_rsdtc_pd_at_earliest_image_and_pr_at_latest(datasets: dict[str, Dataset]) -> None:
    rs = datasets["RS"]
    pd = one(rs, USUBJID=S1, RSEVALID="RADIOLOGIST 1", VISITNUM=3, RSCAT="RECIST 1.1", RSTESTCD="OVRLRESP")
    pr = one(rs, USUBJID=S1, RSEVALID="RADIOLOGIST 1", VISITNUM=2, RSCAT="RECIST 1.1", RSTESTCD="OVRLRESP")
    assert pd["RSDTC"] == fx.WEEK12_FIRST_IMAGE.isoformat()
    assert pr["RSDTC"] == fx.WEEK6.isoformat()


def test_rsacptfl_exactly_one_y_per_subject_visit_test_and_category(datasets: dict[str, Dataset]) -> None:
    rs = datasets["RS"]
    keys = Counter((r["USUBJID"], r["VISITNUM"], r["RSTESTCD"], r["RSCAT"]) for r in rs.rows)
    accepted = Counter(
        (r["USUBJID"], r["VISITNUM"], r["RSTESTCD"], r["RSCAT"]) for r in rs.rows if r["RSACPTFL"] == "Y"
    )
    assert set(accepted) == set(keys)
    assert set(accepted.values()) == {1}
    # and they are the accepted evaluator's: reader 1 for subject 1, reader 2 for subject 2
    assert {r["RSEVALID"] for r in rows(rs, USUBJID=S1, RSACPTFL="Y")} == {"RADIOLOGIST 1"}
    assert {r["RSEVALID"] for r in rows(rs, USUBJID="TR-ONC-001-0002", RSACPTFL="Y")} == {"RADIOLOGIST 2"}


def test_accepted_flag_is_the_same_reader_in_every_domain(datasets: dict[str, Dataset]) -> None:
    for name, flag, evalid in (("TU", "TUACPTFL", "TUEVALID"), ("TR", "TRACPTFL", "TREVALID")):
        flagged = {(r["USUBJID"], r[evalid]) for r in datasets[name].rows if r[flag] == "Y"}
        assert flagged == {(S1, "RADIOLOGIST 1"), ("TR-ONC-001-0002", "RADIOLOGIST 2")}


def test_cross_links_hold(datasets: dict[str, Dataset]) -> None:
    tu, tr, rs = datasets["TU"], datasets["TR"], datasets["RS"]
    tu_ids = {(r["USUBJID"], r["TULNKID"]) for r in tu.rows}
    assert {(r["USUBJID"], r["TRLNKID"]) for r in tr.rows if r["TRLNKID"]} <= tu_ids
    tr_groups = {(r["USUBJID"], r["TRLNKGRP"]) for r in tr.rows}
    rs_groups = {(r["USUBJID"], r["RSLNKGRP"]) for r in rs.rows if r["RSLNKGRP"]}
    assert rs_groups and rs_groups <= tr_groups
    assert check_links(tu, tr, rs) == []


def test_check_links_catches_broken_links(datasets: dict[str, Dataset]) -> None:
    tu, tr, rs = datasets["TU"], datasets["TR"], datasets["RS"]
    tu_missing = dataclasses.replace(tu, rows=[r for r in tu.rows if r["TULNKID"] != "R1-T02"])
    tr_missing = dataclasses.replace(tr, rows=[r for r in tr.rows if r["TRLNKGRP"] != "R2-A3"])
    doubled = dataclasses.replace(rs, rows=[{**r, "RSACPTFL": "Y"} for r in rs.rows])
    unflagged = dataclasses.replace(rs, rows=[{**r, "RSACPTFL": None} for r in rs.rows])
    assert {p.code for p in check_links(tu_missing, tr, rs)} == {"LINK_TRLNKID"}
    assert {p.code for p in check_links(tu, tr_missing, rs)} == {"LINK_RSLNKGRP"}
    assert {p.code for p in check_links(tu, tr, doubled)} == {"ACCEPTED_FLAG"}
    problems = check_links(tu, tr, unflagged)
    assert problems and all("0 records" in p.message for p in problems)


def test_check_links_allows_no_accepted_record_after_the_accepted_reader_progressed(
    datasets: dict[str, Dataset],
) -> None:
    # RECIST 1.1 assessment ends at the first PD: when the accepted reader progressed earlier,
    # the other reader's later records have no accepted counterpart and carry no flag. Take
    # the accepted reader's last visit away: its group keeps only unflagged rows of the other.
    rs = datasets["RS"]
    accepted_reader = next(r["RSEVALID"] for r in rs.rows if r["RSACPTFL"] == "Y")
    last_visit = max(
        r["VISITNUM"] for r in rs.rows if r["RSEVALID"] == accepted_reader and r["VISITNUM"] is not None
    )
    ended = dataclasses.replace(
        rs,
        rows=[r for r in rs.rows if not (r["RSEVALID"] == accepted_reader and r["VISITNUM"] == last_visit)],
    )
    assert [p for p in check_links(datasets["TU"], datasets["TR"], ended) if p.code == "ACCEPTED_FLAG"] == []
    # ... but an accepted reader's record left unflagged is still caught.
    dropped = next(i for i, r in enumerate(rs.rows) if r["RSACPTFL"] == "Y")
    unflagged_one = dataclasses.replace(
        rs, rows=[{**r, "RSACPTFL": None} if i == dropped else r for i, r in enumerate(rs.rows)]
    )
    assert {p.code for p in check_links(datasets["TU"], datasets["TR"], unflagged_one)} == {"ACCEPTED_FLAG"}


def test_rs_skips_not_applicable_components_and_links_only_to_existing_tr() -> None:
    # A reader with non-target disease only: no TRGRESP (NA) and no SUMDIAM; a visit
    # without any TR record gets no RSLNKGRP.
    lesions = (ExportLesion("NT01", fx.NON_TARGET, "BONE"),)
    timepoints = (
        ReaderTimepoint(1, "SCREENING", fx.BASELINE, (fx.state("NT01", "PRESENT"),), baseline=True),
        ReaderTimepoint(2, "WEEK 6", fx.WEEK6, (fx.state("NT01", "ABSENT"),)),
        ReaderTimepoint(3, "WEEK 12", fx.WEEK12, ()),
    )
    result = CriterionResult(
        criterion=RECIST11,
        timepoints=(
            fx.tpr(fx.WEEK6, "NA", "CR", "NO", "CR"),
            fx.tpr(fx.WEEK12, "NA", "NE", "NE", "NE"),
        ),
        bor="CR",
        bor_date=fx.WEEK6,
        bor_confirmed=None,
        pfs=Pfs(False, fx.WEEK6, "censored"),
    )
    read = ReaderRead(fx.R1, lesions, timepoints, {RECIST11: result})
    subject = dataclasses.replace(fx.subject(), reads=(read,))
    ds = {d.name: d for d in build_all(fx.study(subject))}
    assert rows(ds["TR"], TRTESTCD="SUMDIAM") == []
    assert rows(ds["RS"], RSTESTCD="TRGRESP") == []
    assert {r["RSLNKGRP"] for r in rows(ds["RS"], VISITNUM=2)} == {"R1-A2"}
    assert {r["RSLNKGRP"] for r in rows(ds["RS"], VISITNUM=3)} == {None}
    assert check_all(list(ds.values())) == []


# --- ordering and numbering ----------------------------------------------------------


def test_seq_is_numbered_per_subject(datasets: dict[str, Dataset]) -> None:
    for name, seq in (("TU", "TUSEQ"), ("TR", "TRSEQ"), ("RS", "RSSEQ"), ("ADRS", "ASEQ"), ("ADTTE", "ASEQ")):
        for usubjid in (S1, "TR-ONC-001-0002"):
            numbers = [r[seq] for r in rows(datasets[name], USUBJID=usubjid)]
            assert numbers == list(range(1, len(numbers) + 1)), name


def _scrambled(read: ReaderRead) -> ReaderRead:
    return dataclasses.replace(
        read,
        lesions=tuple(reversed(read.lesions)),
        timepoints=tuple(
            dataclasses.replace(tp, results=tuple(reversed(tp.results))) for tp in reversed(read.timepoints)
        ),
    )


def test_order_does_not_depend_on_input_order() -> None:
    s1 = fx.subject(fx.R1)
    s2 = fx.subject(fx.R2, usubjid="TR-ONC-001-0002")
    scrambled = [
        dataclasses.replace(s, reads=tuple(_scrambled(r) for r in reversed(s.reads))) for s in (s2, s1)
    ]
    assert build_all(fx.study(s1, s2)) == build_all(fx.study(*scrambled))


def test_natural_lesion_order() -> None:
    assert sorted(["T10", "T2", "T01", "NT1"], key=natural_key) == ["NT1", "T01", "T2", "T10"]


# --- ADRS / ADTTE --------------------------------------------------------------------


def test_adrs_takes_only_accepted_records_and_traces_them(datasets: dict[str, Dataset]) -> None:
    adrs, rs = datasets["ADRS"], datasets["RS"]
    assert [(r["PARAMCD"], r["AVALC"]) for r in rows(adrs, USUBJID=S1)] == [
        ("OVR", "PR"),
        ("OVR", "PD"),
        ("BOR", "PR"),
        ("CBOR", "SD"),
        ("OVRI", "iPR"),
        ("OVRI", "iUPD"),
        ("BORI", "iPR"),
        ("CBORI", "iSD"),
    ]
    for rec in rows(adrs, USUBJID=S1):
        if rec["SRCSEQ"] is None:
            continue
        source = one(rs, USUBJID=S1, RSSEQ=rec["SRCSEQ"])
        assert (rec["SRCDOM"], source["RSACPTFL"], source["RSSTRESC"]) == ("RS", "Y", rec["AVALC"])
        assert source["RSTESTCD"] == "OVRLRESP" and source["RSCAT"] == rec["PARCAT1"]
    pd = one(adrs, USUBJID=S1, PARAMCD="OVR", AVALC="PD")
    assert (pd["ADT"], pd["AVISIT"], pd["AVISITN"], pd["ANL01FL"]) == (
        fx.WEEK12_FIRST_IMAGE,
        "WEEK 12",
        3,
        "Y",
    )


def test_adrs_flags_only_records_up_to_the_cutoff() -> None:
    adrs = build_adrs(fx.study(cutoff=dt.date(2024, 3, 1)), build_rs(fx.study()))
    flags = [(r["AVISITN"], r["ANL01FL"]) for r in rows(adrs, USUBJID=S1, PARAMCD="OVR")]
    assert flags == [(2, "Y"), (3, None)]


def test_adtte_one_record_per_criterion_with_aval_from_dates(datasets: dict[str, Dataset]) -> None:
    adtte, rs = datasets["ADTTE"], datasets["RS"]
    pfs = one(adtte, USUBJID=S1, PARAMCD="PFS")
    assert (pfs["STARTDT"], pfs["ADT"], pfs["CNSR"], pfs["EVNTDESC"], pfs["CNSDTDSC"]) == (
        fx.RANDOMISED,
        fx.WEEK12_FIRST_IMAGE,
        0,
        "DISEASE PROGRESSION",
        None,
    )
    assert pfs["AVAL"] == (fx.WEEK12_FIRST_IMAGE - fx.RANDOMISED).days + 1 == 86
    source = one(rs, USUBJID=S1, RSSEQ=pfs["SRCSEQ"])
    assert (source["RSTESTCD"], source["RSSTRESC"], source["RSACPTFL"]) == ("OVRLRESP", "PD", "Y")
    assert one(adtte, USUBJID=S1, PARAMCD="PFSI")["PARCAT1"] == "iRECIST"
    censored = one(adtte, USUBJID="TR-ONC-001-0002", PARAMCD="PFS")
    assert (censored["ADT"], censored["AVAL"], censored["CNSR"]) == (fx.WEEK6, 45, 1)


def test_adtte_uses_the_accepted_evaluator() -> None:
    # Same reads, reader 2 accepted: no progression, censored at reader 2's last adequate scan.
    adtte = build_adtte(fx.study(fx.subject(fx.R2)), build_rs(fx.study(fx.subject(fx.R2))))
    assert [(r["PARAMCD"], r["CNSR"], r["ADT"]) for r in adtte.rows] == [
        ("PFS", 1, fx.WEEK6),
        ("PFSI", 1, fx.WEEK6),
    ]


def test_imrecist_parameters_carry_the_im_suffix() -> None:
    read = fx.reader1()
    imrecist = dataclasses.replace(read.criteria[RECIST11], criterion=IMRECIST)
    read = dataclasses.replace(read, criteria={**read.criteria, IMRECIST: imrecist})
    subject = dataclasses.replace(fx.subject(), reads=(read, fx.reader2()))
    ds = {d.name: d for d in build_all(fx.study(subject))}
    assert {r["PARAMCD"] for r in ds["ADTTE"].rows} == {"PFS", "PFSI", "PFSIM"}
    assert {"OVRIM", "BORIM", "CBORIM"} <= {r["PARAMCD"] for r in ds["ADRS"].rows}
    assert "imRECIST" in {r["RSCAT"] for r in ds["RS"].rows}
    assert all(len(str(r["PARAMCD"])) <= 8 for r in ds["ADRS"].rows)


def test_adtte_death_from_subject_data() -> None:
    subject = fx.subject(fx.R2, death_date=dt.date(2024, 3, 15))
    adtte = build_adtte(fx.study(subject), build_rs(fx.study(subject)))
    pfs = one(adtte, PARAMCD="PFS")
    assert (pfs["CNSR"], pfs["EVNTDESC"], pfs["ADT"], pfs["SRCDOM"], pfs["SRCVAR"]) == (
        0,
        "DEATH",
        dt.date(2024, 3, 15),
        "ADSL",
        "DTHDT",
    )


# --- input errors --------------------------------------------------------------------


def test_accepted_evaluator_must_have_a_read() -> None:
    subject = dataclasses.replace(fx.subject(), accepted=fx.ADJ)
    with pytest.raises(ExportInputError, match="accepted evaluator ADJUDICATOR"):
        build_tu(fx.study(subject))


def test_result_for_unknown_lesion() -> None:
    read = fx.reader1()
    bad = dataclasses.replace(read.timepoints[1], results=(fx.measured("T99", "1.0"),))
    read = dataclasses.replace(read, timepoints=(read.timepoints[0], bad, read.timepoints[2]))
    with pytest.raises(ExportInputError, match="unknown lesion T99"):
        build_tr(fx.study(dataclasses.replace(fx.subject(), reads=(read,))))


def test_measured_target_needs_mm() -> None:
    read = fx.reader1()
    bad = dataclasses.replace(read.timepoints[1], results=(LesionResult("T01", MeasurementStatus.MEASURED),))
    read = dataclasses.replace(read, timepoints=(read.timepoints[0], bad, read.timepoints[2]))
    with pytest.raises(ExportInputError, match="has no mm"):
        build_tr(fx.study(dataclasses.replace(fx.subject(), reads=(read,))))


def test_unknown_tumour_state() -> None:
    read = fx.reader1()
    bad = dataclasses.replace(read.timepoints[1], results=(fx.state("NT01", "BIGGER"),))
    read = dataclasses.replace(read, timepoints=(read.timepoints[0], bad, read.timepoints[2]))
    with pytest.raises(ExportInputError, match="BIGGER"):
        build_tr(fx.study(dataclasses.replace(fx.subject(), reads=(read,))))


def test_engine_timepoint_must_match_a_visit_date() -> None:
    read = fx.reader1()
    moved = dataclasses.replace(read.timepoints[2], date=dt.date(2024, 4, 4))
    read = dataclasses.replace(read, timepoints=(*read.timepoints[:2], moved))
    with pytest.raises(ExportInputError, match="0 visits dated 2024-04-03"):
        build_rs(fx.study(dataclasses.replace(fx.subject(), reads=(read,))))


def test_one_read_per_evaluator() -> None:
    subject = dataclasses.replace(fx.subject(), reads=(fx.reader1(), fx.reader1()))
    with pytest.raises(ExportInputError, match="more than one read"):
        build_tu(fx.study(subject))


def test_bestresp_is_dated_like_its_visit(datasets: dict[str, Dataset]) -> None:
    rs = datasets["RS"]
    for evalid in ("RADIOLOGIST 1", "RADIOLOGIST 2"):
        best = one(rs, USUBJID=S1, RSEVALID=evalid, RSCAT="RECIST 1.1", RSTESTCD="BESTRESP")
        source = one(rs, USUBJID=S1, RSEVALID=evalid, RSCAT="RECIST 1.1", RSTESTCD="OVRLRESP", VISITNUM=2)
        assert best["RSDTC"] == source["RSDTC"] == fx.WEEK6.isoformat()
