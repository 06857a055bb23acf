"""Issue 15 item 3 (exports): a trial per criterion family, built through the services (read
entry, signature, endpoint computation, export), read back from CSV and XPT (pyreadstat).

* irRC: bidimensional reads (a non-nodal lesion's perpendicular diameter, a node's long
  axis) -> TR ``LDIAM`` and ``LPERP`` per lesion; RS ``WOLCHOK SOLID TUMORS 2009``; irPFS.
* itRECIST: injected flags at baseline and at a follow-up -> SUPPTU / SUPPTR; RS
  ``itRECIST GOLDMACHER 2020`` with the injected / non-injected responses.
* PERCIST / iPERCIST: PET/CT timepoints with SUL values and the liver reference region ->
  TR ``SULPEAK``/``SULMAX``/``TLG``/``SULMEAN``/``SULSD``, TU ``LOCATION OF INTEREST``;
  RS ``PERCIST``/``iPERCIST``; metabolic PFS.
* RECIST 1.1 with a pre-baseline scan: its target values (reader 1) or its sum (reader 2)
  are TR records at the pre-baseline visit, without RS records.

(Built here rather than in ``tests/trialreads/exports``, which holds the builders' tests
without a database, tests/README.md.)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyreadstat
import pytest

from tests.conftest import (
    BASELINE_NON_TARGETS,
    BASELINE_TARGETS,
    followup_values,
    save_baseline,
    save_followup,
    sign,
)
from trialreads.choices import Modality, TrialRole
from trialreads.models import ImagingTimepoint, Read, TimepointRead, Trial
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as svc
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

D = Decimal
BASELINE = dt.date(2025, 1, 5)
TargetValue = read_services.TargetValueInput


def _trial(
    code: str, criteria: Sequence[str], manager: Any, readers: Sequence[Any], analyses: Sequence[str] = ()
) -> Trial:
    trial = trial_services.trial_create(
        code=code,
        title=f"Trial {code}",
        actor=manager,
        charter={"criteria": list(criteria), "primary_criterion": criteria[0], "analyses": list(analyses)},
        effective_from=dt.date(2025, 1, 1),
    )
    for user in readers:
        trial_services.membership_add(
            trial_id=trial.pk, user_id=user.pk, role=TrialRole.READER, actor=manager
        )
    return trial


def _timepoints(
    trial: Trial, manager: Any, readers: Sequence[Any], followups: int, modality: str = Modality.CT
) -> tuple[list[ImagingTimepoint], Read, Read]:
    site = trial_services.site_create(trial_id=trial.pk, code="SITE01", name="Site one", actor=manager)
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code="S-001",
        randomisation_date=dt.date(2025, 1, 10),
        arm="EXPERIMENTAL",
        actor=manager,
    )
    timepoints = [
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="BASELINE",
            visit_number=1,
            scan_date_earliest=BASELINE,
            is_baseline=True,
            modality=modality,
            actor=manager,
        )
    ]
    for week in range(1, followups + 1):
        day = BASELINE + dt.timedelta(weeks=8 * week)
        timepoints.append(
            trial_services.timepoint_create(
                subject_id=subject.pk,
                visit_label=f"WEEK{8 * week}",
                visit_number=week + 1,
                scan_date_earliest=day,
                modality=modality,
                actor=manager,
            )
        )
    read_a, read_b = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[u.pk for u in readers], actor=manager
    )
    return timepoints, read_a, read_b


def _tr(read: Read, timepoint: ImagingTimepoint) -> TimepointRead:
    tr = TimepointRead.objects.get(read=read, timepoint=timepoint)
    return tr


def _export(trial: Trial, tmp_path: Path) -> Path:
    job = endpoint_services.endpoints_compute(trial_id=trial.pk).job
    assert job is not None and job.status == "DONE"
    out = tmp_path / "out"
    svc.export_write(job, out)
    return out


def _csv(directory: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((directory / f"{name}.csv").read_text())))


def _xpt(directory: Path, name: str) -> list[dict[str, Any]]:
    data, meta = pyreadstat.read_xport(str(directory / f"{name}.xpt"), output_format="dict")
    return [dict(zip(meta.column_names, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _both(directory: Path, name: str) -> list[dict[str, str]]:
    """The CSV rows, after checking the XPT holds the same records (numbers as text)."""
    rows, xpt = _csv(directory, name), _xpt(directory, name)
    assert len(rows) == len(xpt)
    for text, sas in zip(rows, xpt, strict=True):
        for key, value in text.items():
            cell = sas[key]
            if isinstance(cell, float):
                assert value == "" if cell != cell else D(value) == D(repr(cell)), (name, key)
            elif isinstance(cell, dt.date):
                assert value == cell.isoformat(), (name, key)
            else:
                assert value == (cell or ""), (name, key)
    return rows


# --- irRC: bidimensional reads ---------------------------------------------------------------

IRRC_BASELINE = (
    read_services.TargetInput(code="T1", organ="liver", value_mm=D("50.0"), perp_mm=D("40.0")),
    read_services.TargetInput(code="T2", organ="left lung", value_mm=D("30.0"), perp_mm=D("20.0")),
    read_services.TargetInput(
        code="T3", organ="mediastinal lymph node", value_mm=D("20.0"), is_node=True, long_mm=D("30.0")
    ),
)
#: per follow-up: (T1 long, T1 perp), (T2 long, T2 perp), (T3 short axis, T3 long axis)
IRRC_FOLLOWUPS = (
    (("30.0", "25.0"), ("20.0", "10.0"), ("12.0", "18.0")),
    (("28.0", "22.0"), ("18.0", "10.0"), ("9.0", "15.0")),
)


def test_irrc_bidimensional_reads(manager: Any, reader_a: Any, reader_b: Any, tmp_path: Path) -> None:
    trial = _trial("IRRC-001", ["recist1.1", "irrc"], manager, (reader_a, reader_b))
    timepoints, read_a, read_b = _timepoints(trial, manager, (reader_a, reader_b), len(IRRC_FOLLOWUPS))
    for read, reader in ((read_a, reader_a), (read_b, reader_b)):
        tr = _tr(read, timepoints[0])
        read_services.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk,
            targets=IRRC_BASELINE,
            non_targets=(read_services.NonTargetInput(code="NT1", organ="bone"),),
            expected_version=tr.version,
            actor=reader,
        )
        sign(_tr(read, timepoints[0]), reader)
        for index, ((t1, p1), (t2, p2), (t3, l3)) in enumerate(IRRC_FOLLOWUPS, start=1):
            tr = _tr(read, timepoints[index])
            read_services.timepoint_read_save_followup(
                timepoint_read_id=tr.pk,
                targets=(
                    TargetValue(code="T1", value_mm=D(t1), perp_mm=D(p1)),
                    TargetValue(code="T2", value_mm=D(t2), perp_mm=D(p2)),
                    TargetValue(code="T3", value_mm=D(t3), long_mm=D(l3)),
                ),
                non_targets={"NT1": "present"},
                new_lesions=(),
                expected_version=tr.version,
                actor=reader,
            )
            sign(_tr(read, timepoints[index]), reader)

    out = _export(trial, tmp_path)

    tr_rows = _both(out, "tr")
    r1 = [r for r in tr_rows if r["TREVALID"] == "RADIOLOGIST 1"]

    def tests(link: str, visit: str) -> list[tuple[str, str]]:
        return [(r["TRTESTCD"], r["TRSTRESC"]) for r in r1 if r["TRLNKID"] == link and r["VISIT"] == visit]

    assert tests("R1-T1", "BASELINE") == [("LDIAM", "50"), ("LPERP", "40")]
    assert tests("R1-T3", "BASELINE") == [("LDIAM", "30"), ("LPERP", "20")]  # node: long axis, short axis
    assert tests("R1-T1", "WEEK8") == [("LDIAM", "30"), ("LPERP", "25")]
    assert tests("R1-T3", "WEEK16") == [("LDIAM", "15"), ("LPERP", "9")]
    assert {r["TRTEST"] for r in r1 if r["TRTESTCD"] == "LPERP"} == {"Longest Perpendicular"}
    # SUMDIAM stays the RECIST sum of the primary values (T1 + T2 + T3 short axis).
    assert [r["TRSTRESC"] for r in r1 if r["TRTESTCD"] == "SUMDIAM"] == ["100", "62", "55"]

    rs = _both(out, "rs")
    assert {r["RSCAT"] for r in rs} == {"RECIST 1.1", "WOLCHOK SOLID TUMORS 2009"}
    irrc = [
        r["RSSTRESC"]
        for r in rs
        if r["RSCAT"] == "WOLCHOK SOLID TUMORS 2009" and r["RSTESTCD"] == "OVRLRESP" and r["RSACPTFL"] == "Y"
    ]
    # SPD 2000 + 600 + 600 = 3200; week 8: 750 + 200 + 216 = 1166 (-64%), week 16: 616 + 180 + 135 = 931.
    assert irrc == ["irPR", "irPR"]
    adrs = {r["PARAMCD"] for r in _both(out, "adrs")}
    assert {"OVR", "BOR", "CBOR", "OVRIRC", "BORIRC", "CBORIRC"} <= adrs
    adtte = _both(out, "adtte")
    assert [(r["PARAMCD"], r["PARCAT1"]) for r in adtte] == [
        ("PFS", "RECIST 1.1"),
        ("PFSIRC", "WOLCHOK SOLID TUMORS 2009"),
    ]
    assert adtte[1]["PARAM"] == (
        "Immune-Related Progression-Free Survival by BICR, WOLCHOK SOLID TUMORS 2009 (days)"
    )


# --- itRECIST: injected flags -------------------------------------------------------------------


def test_itrecist_injected_flags(manager: Any, reader_a: Any, reader_b: Any, tmp_path: Path) -> None:
    trial = _trial("ITR-001", ["recist1.1", "itrecist"], manager, (reader_a, reader_b))
    timepoints, read_a, read_b = _timepoints(trial, manager, (reader_a, reader_b), 2)
    baseline = (
        read_services.TargetInput(code="T1", organ="skin", value_mm=D("40.0"), injected=True),
        read_services.TargetInput(code="T2", organ="liver", value_mm=D("30.0")),
        read_services.TargetInput(code="T3", organ="left lung", value_mm=D("20.0")),
    )
    followups = (("20.0", "20.0", "15.0"), ("15.0", "18.0", "14.0"))
    for read, reader in ((read_a, reader_a), (read_b, reader_b)):
        tr = _tr(read, timepoints[0])
        read_services.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk,
            targets=baseline,
            non_targets=(read_services.NonTargetInput(code="NT1", organ="bone"),),
            expected_version=tr.version,
            actor=reader,
        )
        sign(_tr(read, timepoints[0]), reader)
        for index, values in enumerate(followups, start=1):
            tr = _tr(read, timepoints[index])
            read_services.timepoint_read_save_followup(
                timepoint_read_id=tr.pk,
                targets=tuple(
                    TargetValue(code=code, value_mm=D(v))
                    for code, v in zip(("T1", "T2", "T3"), values, strict=True)
                ),
                non_targets={"NT1": "present"},
                new_lesions=(),
                injected=("T2",) if index == 1 else (),  # T2 first injected at week 8
                expected_version=tr.version,
                actor=reader,
            )
            sign(_tr(read, timepoints[index]), reader)

    out = _export(trial, tmp_path)

    supptu = _both(out, "supptu")
    tu = {r["TUSEQ"]: r for r in _both(out, "tu")}
    flags = {
        (r["USUBJID"], tu[r["IDVARVAL"]]["TULNKID"]): r["QVAL"]
        for r in supptu
        if r["QNAM"] == "INJECTED" and r["IDVAR"] == "TUSEQ"
    }
    assert flags == {
        ("S-001", f"{prefix}-{code}"): value
        for prefix in ("R1", "R2")
        for code, value in (("T1", "Y"), ("T2", "N"), ("T3", "N"), ("NT1", "N"))
    }
    assert {(r["RDOMAIN"], r["QLABEL"], r["QORIG"]) for r in supptu} == {
        ("TU", "Injected Lesion at Baseline", "CRF")
    }
    supptr = _both(out, "supptr")
    tr_rows = {r["TRSEQ"]: r for r in _both(out, "tr")}
    parents = [tr_rows[r["IDVARVAL"]] for r in supptr]
    first = sorted((p["TRLNKID"], p["VISIT"], p["TRTESTCD"]) for p in parents)
    assert first == [("R1-T2", "WEEK8", "LDIAM"), ("R2-T2", "WEEK8", "LDIAM")]
    assert {r["QNAM"] for r in supptr} == {"INJFIRST"} and {r["QVAL"] for r in supptr} == {"Y"}

    rs = _both(out, "rs")
    cat = "itRECIST GOLDMACHER 2020"
    assert {r["RSCAT"] for r in rs} == {"RECIST 1.1", cat}
    accepted = [r for r in rs if r["RSCAT"] == cat and r["RSACPTFL"] == "Y"]
    by_test = {(r["RSTESTCD"], r["VISIT"]): r["RSSTRESC"] for r in accepted}
    # itRECIST assessed by iRECIST (default basis): 90 -> 55 mm (-39%) iPR.
    assert by_test[("OVRLRESP", "WEEK8")] == "iPR"
    assert {("INJRESP", "WEEK8"), ("NINJRESP", "WEEK8"), ("INJRESP", "WEEK16")} <= by_test.keys()
    adrs = _both(out, "adrs")
    assert {"OVRIT", "BORIT", "CBORIT", "OVRINJ", "OVRNINJ"} <= {r["PARAMCD"] for r in adrs}
    ovrinj = [r for r in adrs if r["PARAMCD"] == "OVRINJ"]
    assert [r["AVISIT"] for r in ovrinj] == ["WEEK8", "WEEK16"] and {r["SRCDOM"] for r in ovrinj} == {"RS"}
    assert [r["PARAMCD"] for r in _both(out, "adtte")] == ["PFS", "PFSIT"]

    # As of a cut-off the best responses are the engine's on the reads then, the groups' too:
    # at week 8 the injected lesions (T1, and T2 injected there: 70 -> 40 mm) are in iPR, the
    # non-injected one (T3, 20 -> 15 mm) in iSD.
    job = endpoint_services.endpoints_compute(trial_id=trial.pk).job
    svc.export_write(job, tmp_path / "cut", data_cutoff=BASELINE + dt.timedelta(weeks=9))
    best = {
        r["PARAMCD"]: r["AVALC"]
        for r in _both(tmp_path / "cut", "adrs")
        if r["PARAMCD"] in ("BORINJ", "BORNINJ")
    }
    assert best == {"BORINJ": "iPR", "BORNINJ": "iSD"}


# --- PERCIST / iPERCIST: PET reads -------------------------------------------------------------


def _pet(lesions: Sequence[tuple[str, str, str]], mean: str = "2.0", uptake: str = "60") -> Any:
    return read_services.PetScanInput(
        reference_site="liver",
        reference_mean=D(mean),
        reference_sd=D("0.3"),
        uptake_min=D(uptake),
        lesions=tuple(
            read_services.PetLesionInput(code=code, organ=organ, sul_peak=D(peak))
            for code, organ, peak in lesions
        ),
    )


def test_percist_pet_reads(manager: Any, reader_a: Any, reader_b: Any, tmp_path: Path) -> None:
    trial = _trial("PET-001", ["percist", "ipercist"], manager, (reader_a, reader_b))
    timepoints, read_a, read_b = _timepoints(trial, manager, (reader_a, reader_b), 4, Modality.PET_CT)
    baseline = read_services.PetScanInput(
        reference_site="liver",
        reference_mean=D("2.0"),
        reference_sd=D("0.3"),
        uptake_min=D("60"),
        lesions=(
            read_services.PetLesionInput(
                code="L1",
                organ="lung",
                sul_peak=D("8.0"),
                sul_max=D("10.5"),
                tlg=D("120.5"),
                value_mm=D("25.0"),
            ),
            read_services.PetLesionInput(code="L2", organ="liver", sul_peak=D("5.0")),
        ),
    )
    # PERCIST: 5.2 (-35%) PMR; 11.0 (+37.5%) PMD; 11.5 PMD; not done, NE. iPERCIST: PMR, UPMD,
    # CPMD, NE.
    scans = (
        baseline,
        _pet((("L1", "lung", "5.2"), ("L2", "liver", "1.9")), mean="2.1", uptake="65"),
        _pet((("L1", "lung", "11.0"), ("L2", "liver", "4.0"))),
        _pet((("L1", "lung", "11.5"), ("L2", "liver", "4.0")), uptake="58"),
        read_services.PetScanInput(not_done=True),
    )
    for read, reader in ((read_a, reader_a), (read_b, reader_b)):
        for timepoint, scan in zip(timepoints, scans, strict=True):
            tr = _tr(read, timepoint)
            read_services.timepoint_read_save_pet(
                timepoint_read_id=tr.pk, scan=scan, expected_version=tr.version, actor=reader
            )
            sign(_tr(read, timepoint), reader)

    out = _export(trial, tmp_path)

    tu = [r for r in _both(out, "tu") if r["TUEVALID"] == "RADIOLOGIST 1"]
    assert [(r["TULNKID"], r["TUORRES"], r["TULOC"], r["TUMETHOD"]) for r in tu] == [
        ("R1-L1", "MEASURED", "LUNG", "PET/CT SCAN"),
        ("R1-L2", "MEASURED", "LIVER", "PET/CT SCAN"),
        ("R1-REF.LIVER", "LOCATION OF INTEREST", "LIVER", "PET/CT SCAN"),
    ]
    tr_rows = [r for r in _both(out, "tr") if r["TREVALID"] == "RADIOLOGIST 1"]
    base = [
        (r["TRLNKID"], r["TRTESTCD"], r["TRSTRESC"], r["TRSTRESU"])
        for r in tr_rows
        if r["VISIT"] == "BASELINE"
    ]
    assert base == [
        ("R1-L1", "SULPEAK", "8", "g/mL"),
        ("R1-L1", "SULMAX", "10.5", "g/mL"),
        ("R1-L1", "TLG", "120.5", "g"),
        ("R1-L1", "LDIAM", "25", "mm"),
        ("R1-L2", "SULPEAK", "5", "g/mL"),
        ("R1-REF.LIVER", "SULMEAN", "2", "g/mL"),
        ("R1-REF.LIVER", "SULSD", "0.3", "g/mL"),
    ]
    names = {r["TRTEST"] for r in tr_rows if r["TRTESTCD"] == "SULPEAK"}
    assert names == {"SUV Peak Corrected for Lean Body Mass"}
    week8 = {(r["TRLNKID"], r["TRTESTCD"]): r["TRSTRESC"] for r in tr_rows if r["VISIT"] == "WEEK8"}
    assert week8[("R1-L1", "SULPEAK")] == "5.2" and week8[("R1-REF.LIVER", "SULMEAN")] == "2.1"
    assert "SUMDIAM" not in {r["TRTESTCD"] for r in tr_rows}  # no CT targets
    week32 = [
        (r["TRLNKID"], r["TRTESTCD"], r["TRSTAT"], r["TRREASND"]) for r in tr_rows if r["VISIT"] == "WEEK32"
    ]
    assert week32 == [
        ("R1-L1", "SULPEAK", "NOT DONE", "SCAN NOT PERFORMED"),
        ("R1-L2", "SULPEAK", "NOT DONE", "SCAN NOT PERFORMED"),
    ]

    rs = _both(out, "rs")
    overall = {
        (r["RSCAT"], r["VISIT"]): r["RSSTRESC"]
        for r in rs
        if r["RSTESTCD"] == "OVRLRESP" and r["RSEVALID"] == "RADIOLOGIST 1"
    }
    assert overall == {
        ("PERCIST", "WEEK8"): "PMR",
        ("PERCIST", "WEEK16"): "PMD",
        ("PERCIST", "WEEK24"): "PMD",
        ("iPERCIST", "WEEK8"): "PMR",
        ("iPERCIST", "WEEK16"): "UPMD",
        ("iPERCIST", "WEEK24"): "CPMD",
        ("PERCIST", "WEEK32"): "NE",
        ("iPERCIST", "WEEK32"): "NE",
    }
    assert "NTRGRESP" not in {r["RSTESTCD"] for r in rs}  # PET criteria have no non-target response
    adrs = _both(out, "adrs")
    params = {r["PARAMCD"]: r["PARAM"] for r in adrs}
    assert params["OVRPC"] == "Overall Metabolic Response by BICR, PERCIST"
    assert params["CBORIPC"] == "Confirmed Best Overall Metabolic Response by BICR, iPERCIST"
    adtte = {r["PARAMCD"]: r for r in _both(out, "adtte")}
    assert sorted(adtte) == ["PFSIPC", "PFSPC"]
    for code in ("PFSPC", "PFSIPC"):  # the first PMD / the UPMD, week 16
        assert adtte[code]["CNSR"] == "0" and adtte[code]["EVNTDESC"] == "METABOLIC PROGRESSION"
        assert adtte[code]["ADT"] == (BASELINE + dt.timedelta(weeks=16)).isoformat()


# --- RECIST 1.1 with pre-baseline scans -----------------------------------------------------------


def test_prebaseline_scans(manager: Any, reader_a: Any, reader_b: Any, tmp_path: Path) -> None:
    trial = _trial("TGR-001", ["recist1.1"], manager, (reader_a, reader_b), analyses=["tgr"])
    timepoints, read_a, read_b = _timepoints(trial, manager, (reader_a, reader_b), 2)
    for read, reader in ((read_a, reader_a), (read_b, reader_b)):
        save_baseline(_tr(read, timepoints[0]), reader, BASELINE_TARGETS, BASELINE_NON_TARGETS)
        sign(_tr(read, timepoints[0]), reader)
    prebaseline = trial_services.timepoint_create(
        subject_id=read_a.subject_id,
        visit_label="PRE-BASELINE",
        visit_number=0,
        scan_date_earliest=BASELINE - dt.timedelta(weeks=10),
        is_prebaseline=True,
        actor=manager,
    )
    scans = {
        read_a.pk: read_services.PrebaselineInput(
            targets=(
                TargetValue(code="T1", value_mm=D("40.0")),
                TargetValue(code="T2", value_mm=D("25.0")),
                TargetValue(code="T3", value_mm=D("15.0")),
            )
        ),
        read_b.pk: read_services.PrebaselineInput(sum_mm=D("78.0")),
    }
    for read, reader in ((read_a, reader_a), (read_b, reader_b)):
        tr = _tr(read, prebaseline)
        read_services.timepoint_read_save_prebaseline(
            timepoint_read_id=tr.pk, scan=scans[read.pk], expected_version=tr.version, actor=reader
        )
        sign(_tr(read, prebaseline), reader)
        for index, values in enumerate((("40.0", "25.0", "12.0"), ("30.0", "20.0", "8.0")), start=1):
            save_followup(_tr(read, timepoints[index]), reader, targets=followup_values(*values))
            sign(_tr(read, timepoints[index]), reader)

    out = _export(trial, tmp_path)

    tr_rows = [r for r in _both(out, "tr") if r["VISIT"] == "PRE-BASELINE"]
    assert [(r["TREVALID"], r["TRLNKID"], r["TRTESTCD"], r["TRSTRESC"]) for r in tr_rows] == [
        ("RADIOLOGIST 1", "R1-T1", "LDIAM", "40"),
        ("RADIOLOGIST 1", "R1-T2", "LDIAM", "25"),
        ("RADIOLOGIST 1", "R1-T3", "LPERP", "15"),
        ("RADIOLOGIST 1", "", "SUMDIAM", "80"),
        ("RADIOLOGIST 2", "", "SUMDIAM", "78"),
    ]
    assert {r["VISITNUM"] for r in tr_rows} == {"0"}
    rs = _both(out, "rs")
    assert "PRE-BASELINE" not in {r["VISIT"] for r in rs} and {r["RSCAT"] for r in rs} == {"RECIST 1.1"}
    # the first visit's TRLNKGRP numbers the pre-baseline visit first (assessment 1)
    assert {r["TRLNKGRP"] for r in tr_rows} == {"R1-A1", "R2-A1"}
    assert [r["PARAMCD"] for r in _both(out, "adtte")] == ["PFS"]
