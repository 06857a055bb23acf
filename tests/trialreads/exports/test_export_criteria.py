"""Issue 15 item 3 (exports): every criterion's names are data (``criteria_codes``), the PFS
censoring table is one per criterion, and the builders carry what only the other criteria
have: itRECIST's own best responses, the growth family's subject-level flags
(hyperprogression, pseudoprogression, dissociated response), and the validator's rules on
the new code values and the supplemental qualifier datasets. The engine's output on the
contract examples is the input (no database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyreadstat
import pytest

from criteria.endpoints import vocabulary
from criteria.evaluate import AVAILABLE, evaluate
from criteria.growth import PSEUDOPROGRESSION_READERS
from criteria.growth_input import HPD_DEFINITIONS
from criteria.parse import parse
from criteria.types import IRECIST, ITRECIST, PERCIST, RECIST11, Pfs, Subject
from trialreads.exports import criteria_codes as codes
from trialreads.exports.censoring import PFS_RULES, RULES, Assessment, PfsInput, censor_pfs, describe_rules
from trialreads.exports.datasets import (
    BOR,
    CBOR,
    OVR,
    PFS,
    Evaluator,
    ExportInputError,
    ExportLesion,
    ExportStudy,
    ExportSubject,
    LesionResult,
    LesionRole,
    ReaderRead,
    ReaderTimepoint,
    build_all,
    paramcd,
)
from trialreads.exports.package import MANIFEST_NAME, render_study
from trialreads.exports.spec import Dataset, char, num
from trialreads.exports.validate import NAME_RE, check_all, check_supp_links, validate_dataset

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "contract" / "examples"
CREATED = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)


def example(name: str) -> Subject:
    subject = parse((EXAMPLES / f"{name}.json").read_text())
    assert isinstance(subject, Subject)
    return subject


def export_read(
    subject: Subject, evaluator: Evaluator, criteria: tuple[str, ...], **evaluate_kwargs: object
) -> ReaderRead:
    """A CT read of the engine input as the export's input, with the engine's results (and
    analyses) on it: targets measured, non-targets and new lesions present."""
    assert subject.baseline is not None
    outcome = evaluate(subject, criteria, **evaluate_kwargs)  # type: ignore[arg-type]
    injected = subject.injection.baseline if subject.injection is not None else {}
    lesions = [
        ExportLesion(t.id, LesionRole.TARGET, t.organ.upper(), nodal=t.node, injected=injected.get(t.id))
        for t in subject.baseline.targets
    ]
    lesions += [
        ExportLesion(n.id, LesionRole.NON_TARGET, n.organ.upper(), injected=injected.get(n.id))
        for n in subject.baseline.non_targets
    ]
    new_ids = {n.id: n for tp in subject.timepoints for n in tp.new_lesions}
    lesions += [ExportLesion(n.id, LesionRole.NEW, n.organ.upper()) for n in new_ids.values()]
    base = ReaderTimepoint(
        1,
        "BASELINE",
        subject.baseline.date,
        tuple(LesionResult(t.id, mm=t.mm) for t in subject.baseline.targets)
        + tuple(LesionResult(n.id, state="PRESENT") for n in subject.baseline.non_targets),
        baseline=True,
    )
    visits = [base]
    later = subject.injection.later if subject.injection is not None else ()
    for index, tp in enumerate(subject.timepoints):
        first = set(later[index]) if index < len(later) else set()
        results = [
            LesionResult(code, mm=m.mm, newly_injected=code in first) for code, m in tp.targets.items()
        ]
        results += [
            LesionResult(code, state="PRESENT", newly_injected=code in first) for code in tp.non_targets
        ]
        results += [
            LesionResult(n.id, mm=n.mm, state="ABSENT" if n.mm == 0 else "PRESENT") for n in tp.new_lesions
        ]
        visits.append(ReaderTimepoint(index + 2, f"VISIT {index + 2}", tp.date, tuple(results)))
    return ReaderRead(evaluator, tuple(lesions), tuple(visits), dict(outcome.results), dict(outcome.analyses))


def one_reader_study(read: ReaderRead, usubjid: str = "S-1") -> ExportStudy:
    subject = ExportSubject(usubjid, dt.date(2024, 1, 1), (read,), read.evaluator)
    return ExportStudy("STUDY", (subject,), assessment_interval_days=56, window_days=7)


# --- the vocabulary table ----------------------------------------------------------------------


def test_every_criterion_of_the_engine_has_its_codes_in_the_engine_order() -> None:
    assert tuple(codes.CRITERIA_CODES) == AVAILABLE
    entries = codes.CRITERIA_CODES.values()
    assert len({e.rscat for e in entries}) == len(AVAILABLE)  # one RSCAT per criterion
    assert len({e.suffix for e in entries}) == len(AVAILABLE)
    for entry in entries:
        for stem in (OVR, BOR, CBOR, PFS, codes.PSEUDOPROGRESSION_STEM[0]):
            assert NAME_RE.match(paramcd(stem, entry.criterion)), (stem, entry.suffix)
        for extra in entry.extra_tests:
            assert NAME_RE.match(extra.testcd) and NAME_RE.match(extra.paramcd) and len(extra.test) <= 40
        assert all(NAME_RE.match(best.paramcd) for best in entry.extra_best)
        # progression codes of the criterion's own vocabulary (itRECIST: either basis)
        known = set(vocabulary(entry.criterion).pd) | (
            set(vocabulary(IRECIST).pd) if entry.criterion == ITRECIST else set()
        )
        assert entry.progression == known, entry.criterion
    # the CDISC CT terms (C124298) the table cites, and the sponsor extensions
    ct = {e.criterion: e.ct_code for e in entries}
    assert ct[RECIST11] == "C124415" and ct["irrc"] == "C126051" and ct["itrecist"] == "C179781"
    assert {c for c, code in ct.items() if not code} == {
        "imrecist",
        "ipercist",
        "impercist5",
        "percimt",
        "irrecist",
    }


def test_every_growth_flag_has_a_parameter() -> None:
    assert tuple(codes.HYPERPROGRESSION_PARAMS) == HPD_DEFINITIONS
    assert all(NAME_RE.match(code) for code, _ in codes.HYPERPROGRESSION_PARAMS.values())
    assert set(PSEUDOPROGRESSION_READERS) <= set(codes.CRITERIA_CODES)


def test_tr_test_names_fit_sdtm() -> None:
    tests = [
        codes.LDIAM,
        codes.LPERP,
        codes.SUMDIAM,
        codes.TUMSTATE,
        codes.SULPEAK,
        codes.SULMAX,
        codes.TLG,
        codes.SULMEAN,
        codes.SULSD,
    ]
    assert all(NAME_RE.match(t.testcd) and len(t.test) <= 40 for t in tests)
    assert {t.testcd: t.unit for t in tests if t.unit} == {
        "LDIAM": "mm",
        "LPERP": "mm",
        "SUMDIAM": "mm",
        "SULPEAK": "g/mL",
        "SULMAX": "g/mL",
        "TLG": "g",
        "SULMEAN": "g/mL",
        "SULSD": "g/mL",
    }


def test_an_unknown_criterion_is_refused_by_name() -> None:
    read = export_read(example("growth-pseudo-dissociated"), Evaluator.RADIOLOGIST_1, (RECIST11,))
    read = dataclasses.replace(read, criteria={"whorecist": read.criteria[RECIST11]})
    with pytest.raises(ExportInputError, match="'whorecist' has no RSCAT"):
        build_all(one_reader_study(read))


# --- censoring per criterion ---------------------------------------------------------------------


def test_each_criterion_has_its_censoring_table_with_its_progression_event() -> None:
    assert set(PFS_RULES) == set(codes.CRITERIA_CODES)
    precedence = [r["cnsr"] for r in describe_rules()]
    for criterion, rules in PFS_RULES.items():
        assert [r.code for r in rules] == precedence, criterion  # the same precedence as RULES
        assert [r.predicate for r in rules] == [r.predicate for r in RULES]
    events = {
        c: next(r.evntdesc for r in rules if r.predicate == "progression") for c, rules in PFS_RULES.items()
    }
    assert events[RECIST11] == events[IRECIST] == "DISEASE PROGRESSION"
    assert {events[c] for c in ("percist", "ipercist", "impercist5", "percimt")} == {"METABOLIC PROGRESSION"}
    assert events["irrc"] == events["irrecist"] == "IMMUNE-RELATED PROGRESSION"


def test_the_progression_codes_trace_the_event_to_its_rs_record() -> None:
    """SRCSEQ names the criterion's progression record: PMD under PERCIST, which the RECIST
    codes would not find."""
    pmd = dt.date(2024, 4, 22)
    inp = PfsInput(
        randomisation_date=dt.date(2024, 1, 1),
        pfs=Pfs(event=True, date=pmd, reason="PMD"),
        assessments=(Assessment(dt.date(2024, 2, 26), "PMR", 7), Assessment(pmd, "PMD", 12)),
        assessment_interval_days=56,
        progression_codes=codes.CRITERIA_CODES[PERCIST].progression,
    )
    outcome = censor_pfs(inp, PFS_RULES[PERCIST])
    assert (outcome.cnsr, outcome.adt, outcome.srcseq, outcome.evntdesc) == (
        0,
        pmd,
        12,
        "METABOLIC PROGRESSION",
    )
    assert censor_pfs(dataclasses.replace(inp, progression_codes=frozenset({"PD"}))).srcseq is None


# --- itRECIST and the growth family in the datasets ------------------------------------------------


def test_itrecist_own_responses_and_supplemental_qualifiers() -> None:
    read = export_read(example("itrecist-recategorised"), Evaluator.RADIOLOGIST_1, (RECIST11, ITRECIST))
    datasets = {ds.name: ds for ds in build_all(one_reader_study(read))}
    assert check_all(list(datasets.values())) == []
    assert list(datasets) == ["TU", "TR", "SUPPTU", "SUPPTR", "RS", "ADSL", "ADRS", "ADTTE"]
    adrs = {r["PARAMCD"]: r for r in datasets["ADRS"].rows}
    result = read.criteria[ITRECIST]
    assert (adrs["BORINJ"]["AVALC"], adrs["BORINJ"]["ADT"]) == (
        result.extra["injected_bor"],
        result.extra["injected_bor_date"],
    )
    assert adrs["BORNINJ"]["AVALC"] == result.extra["non_injected_bor"] == "iSD"
    assert adrs["BORINJ"]["AVALC"] == "iPR" and adrs["BORINJ"]["PARCAT1"] == "itRECIST GOLDMACHER 2020"
    supptr = datasets["SUPPTR"].rows
    tr = {r["TRSEQ"]: r for r in datasets["TR"].rows}
    assert {(tr[int(r["IDVARVAL"])]["TRLNKID"], tr[int(r["IDVARVAL"])]["VISITNUM"]) for r in supptr} == {
        ("R1-T3", 3)
    }
    rs = [r for r in datasets["RS"].rows if r["RSCAT"] == "itRECIST GOLDMACHER 2020"]
    injected = [r["RSSTRESC"] for r in rs if r["RSTESTCD"] == "INJRESP"]
    assert injected == [tp.extra["injected_response"] for tp in result.timepoints]


def test_a_read_without_injected_flags_has_no_supplemental_datasets() -> None:
    read = export_read(example("growth-pseudo-dissociated"), Evaluator.RADIOLOGIST_1, (RECIST11,))
    names = [ds.name for ds in build_all(one_reader_study(read))]
    assert names == ["TU", "TR", "RS", "ADSL", "ADRS", "ADTTE"]


def test_growth_flags_are_adrs_parameters() -> None:
    analyses = ("tgr", "pseudoprogression", "dissociated_response")
    pseudo = export_read(
        example("growth-pseudo-dissociated"),
        Evaluator.RADIOLOGIST_1,
        (RECIST11, IRECIST, "imrecist"),
        analyses=analyses,
    )
    hpd = export_read(example("growth-hpd"), Evaluator.RADIOLOGIST_1, (RECIST11,), analyses=analyses)
    study = dataclasses.replace(
        one_reader_study(pseudo, "S-1"),
        subjects=(*one_reader_study(pseudo, "S-1").subjects, *one_reader_study(hpd, "S-2").subjects),
    )
    adrs = build_all(study)[-2]
    flags = {
        (r["USUBJID"], r["PARAMCD"]): (r["AVALC"], r["PARCAT1"])
        for r in adrs.rows
        if r["PARAMCD"][:3] in ("HPD", "PSP", "DIS")
    }
    assert flags[("S-1", "PSPDI")] == ("Y", "iRECIST") and flags[("S-1", "PSPDIM")] == ("Y", "imRECIST")
    assert flags[("S-1", "DISSRESP")] == ("Y", codes.GROWTH_PARCAT)
    # growth-hpd.expected.json: every rate definition but Lo Russo's flags the subject
    assert [flags[("S-2", code)][0] for code, _ in codes.HYPERPROGRESSION_PARAMS.values()] == [
        "Y",
        "Y",
        "Y",
        "Y",
        "Y",
        "U",
    ]
    assert (
        flags[("S-1", "HPDCHAMP")][0] == "N" and flags[("S-1", "HPDSAADA")][0] == "U"
    )  # no pre-baseline scan
    # after the criterion's own parameters; the growth flags close the subject's records
    s1 = [r["PARAMCD"] for r in adrs.rows if r["USUBJID"] == "S-1"]
    assert s1.index("PSPDI") == s1.index("CBORI") + 1 and s1[-1] == "DISSRESP"


def test_transfer_with_every_new_dataset_reads_back(tmp_path: Path) -> None:
    read = export_read(example("itrecist-recategorised"), Evaluator.RADIOLOGIST_1, (RECIST11, ITRECIST))
    files = render_study(one_reader_study(read), created=CREATED, criteria_version="c", charter_version="1")
    manifest = json.loads(files[MANIFEST_NAME])
    assert [c["rscat"] for c in manifest["criteria"]] == ["RECIST 1.1", "itRECIST GOLDMACHER 2020"]
    itr = manifest["criteria"][1]
    assert (itr["pfs_paramcd"], itr["rscat_ct_code"], itr["own_rs_tests"]) == (
        "PFSIT",
        "C179781",
        ["INJRESP", "NINJRESP"],
    )
    assert [r["cnsr"] for r in itr["censoring_rules"]] == [5, 4, 0, 0, 2, 3, 1]
    guide = files["reviewers-guide.txt"].decode("ascii")
    assert "itRECIST GOLDMACHER 2020 (CDISC CT C179781): OVRIT, BORIT, CBORIT, PFSIT" in guide
    assert "its own: RS INJRESP, NINJRESP; ADRS OVRINJ, OVRNINJ, BORINJ, BORNINJ" in guide
    for name in ("supptu", "supptr"):
        (tmp_path / f"{name}.xpt").write_bytes(files[f"{name}.xpt"])
        data, meta = pyreadstat.read_xport(str(tmp_path / f"{name}.xpt"), output_format="dict")
        assert meta.table_name == name.upper() and meta.column_names[:6] == [
            "STUDYID",
            "RDOMAIN",
            "USUBJID",
            "IDVAR",
            "IDVARVAL",
            "QNAM",
        ]
        assert set(data["QVAL"]) <= {"Y", "N"}


# --- the validator on the new values and datasets -------------------------------------------------


def test_code_values_must_be_names_and_test_names_at_most_40_characters() -> None:
    ds = Dataset(
        "TR",
        "Tumor/Lesion Results",
        (
            char("USUBJID", "Subject"),
            char("TRTESTCD", "Short name"),
            char("TRTEST", "Name"),
            num("TRSEQ", "Seq"),
        ),
        [
            {
                "USUBJID": "S",
                "TRTESTCD": "SULPEAK",
                "TRTEST": "SUV Peak Corrected for Lean Body Mass",
                "TRSEQ": 1,
            },
            {"USUBJID": "S", "TRTESTCD": "sul-peak", "TRTEST": "x" * 41, "TRSEQ": 2},
        ],
    )
    problems = [(p.code, p.variable, p.row) for p in validate_dataset(ds)]
    assert problems == [("VALUE_NAME", "TRTESTCD", 2), ("VALUE_NAME", "TRTEST", 2)]


def test_supplemental_records_must_point_at_parent_records() -> None:
    read = export_read(example("itrecist-recategorised"), Evaluator.RADIOLOGIST_1, (RECIST11, ITRECIST))
    datasets = {ds.name: ds for ds in build_all(one_reader_study(read))}
    supptu, tu = datasets["SUPPTU"], datasets["TU"]
    assert check_supp_links(supptu, tu) == []
    rows = [dict(r) for r in supptu.rows]
    rows[0]["IDVARVAL"] = "999"
    rows[1]["IDVAR"] = "TULNKID"
    rows.append(dict(rows[2]))  # the same qualifier twice on one record
    broken = dataclasses.replace(supptu, rows=rows)
    assert sorted(p.code for p in check_supp_links(broken, tu)) == [
        "SUPP_DUPLICATE",
        "SUPP_IDVAR",
        "SUPP_LINK",
    ]
    assert {p.code for p in check_all([tu, datasets["TR"], broken])} >= {"SUPP_LINK", "SUPP_DUPLICATE"}


def test_pet_lesions_and_the_reference_region_in_tu_and_tr() -> None:
    base, week8 = dt.date(2024, 1, 1), dt.date(2024, 2, 26)
    lesions = (
        ExportLesion("L1", LesionRole.MEASURED, "LUNG", method="PET/CT SCAN"),
        ExportLesion("L9", LesionRole.NEW, "BONE", method="PET/CT SCAN"),
        ExportLesion("REF.LIVER", LesionRole.LOCATION_OF_INTEREST, "LIVER", method="PET/CT SCAN"),
        ExportLesion(
            "REF.BLOODPOOL", LesionRole.LOCATION_OF_INTEREST, "DESCENDING AORTA", method="PET/CT SCAN"
        ),
    )
    visits = (
        ReaderTimepoint(
            1,
            "BASELINE",
            base,
            (
                LesionResult("L1", sul_peak=Decimal("8.0"), sul_max=Decimal("9.25")),
                LesionResult("REF.LIVER", sul_mean=Decimal("2.0"), sul_sd=Decimal("0.3")),
            ),
            baseline=True,
        ),
        ReaderTimepoint(
            2,
            "WEEK 8",
            week8,
            (
                LesionResult("L1", sul_peak=Decimal("5.2")),
                LesionResult("L9", sul_peak=Decimal("4.4")),
                LesionResult("REF.BLOODPOOL", sul_mean=Decimal("1.8")),
            ),
        ),
    )
    read = ReaderRead(Evaluator.RADIOLOGIST_1, lesions, visits)
    tu, tr = build_all(one_reader_study(read))[:2]
    assert [(r["TULNKID"], r["TUORRES"], r["VISITNUM"]) for r in tu.rows] == [
        ("R1-L9", "NEW", 2),
        ("R1-L1", "MEASURED", 1),
        ("R1-REF.BLOODPOOL", "LOCATION OF INTEREST", 2),  # identified at the visit it was first used
        ("R1-REF.LIVER", "LOCATION OF INTEREST", 1),
    ]
    assert [(r["VISITNUM"], r["TRLNKID"], r["TRTESTCD"], r["TRORRES"]) for r in tr.rows] == [
        (1, "R1-L1", "SULPEAK", "8.0"),
        (1, "R1-L1", "SULMAX", "9.25"),
        (1, "R1-REF.LIVER", "SULMEAN", "2.0"),
        (1, "R1-REF.LIVER", "SULSD", "0.3"),
        (2, "R1-L9", "SULPEAK", "4.4"),  # a new PET lesion: no TUMSTATE record
        (2, "R1-L1", "SULPEAK", "5.2"),
        (2, "R1-REF.BLOODPOOL", "SULMEAN", "1.8"),
    ]
    assert check_all([tu, tr]) == []
