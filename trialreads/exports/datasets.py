"""SDTM TU/TR/RS and ADaM ADRS/ADTTE builders for a BICR data transfer.

Input is a tree of frozen dataclasses (:class:`ExportStudy` → :class:`ExportSubject` →
:class:`ReaderRead` → :class:`ReaderTimepoint` → :class:`LesionResult`) that the Django side
fills from the ORM; responses are the criteria engine's own :class:`criteria.types.CriterionResult`
per reader and criterion. Output is one :class:`~trialreads.exports.spec.Dataset` per domain
with a fixed column order, labels and types (cdisc-export.md §3.1–3.4).

Conventions (cdisc-export.md; SDTM RECIST 1.1 supplement):

* Link ids carry the reader: ``TULNKID``/``TRLNKID`` ``R1-T01``; ``TRLNKGRP``/``RSLNKGRP``
  ``R1-A2`` = reader 1, assessment 2, where the assessment number is the position of the visit
  among *all* visits of the subject (by ``VISITNUM``), so the same visit has the same number
  for every reader.
* Nodal targets are measured as ``LPERP`` (short axis), other targets as ``LDIAM``; "too small
  to measure" is standardised to 5 mm; a not-done measurement has ``TRSTAT="NOT DONE"``.
* ``SUMDIAM`` is the sum of the reader's standardised target values at the visit, or
  ``NOT DONE`` when a target was not assessed; summary rows carry no ``TRDTC``/``TRMETHOD``.
* ``--ACPTFL="Y"`` marks every record of the accepted evaluator (``ExportSubject.accepted``),
  except, for an adjudicated subject, its OVRLRESP/BESTRESP records: those are repeated as
  the adjudicator's (``RSEVALID="ADJUDICATOR"``, the chosen reader's ``RSLNKGRP``), which carry
  the flag; ADaM then names the adjudicator's records as the source.
* ``RSDTC``: CR/PR are dated at the latest image date of the visit, everything else (PD, SD,
  NE…) at the earliest (§3.3).
* Partial dates: a visit collected as ``2014-02`` keeps that text in ``TUDTC``/``TRDTC``/
  ``RSDTC``; ADRS ``ADT`` is the imputed date the engine used (by the rule the import named,
  :mod:`trialreads.exports.dates`) with ``ADTF`` ``D`` (day) or ``M`` (month and day); ADTTE
  takes its dates from the same imputed dates.
* ADRS ``ANL01FL="Y"``: timepoint responses (``OVR*``) dated on or before the data cut-off,
  and every ``BOR*``/``CBOR*`` record; ADRS takes the accepted evaluator's records only.
* ADaM parameter codes: criterion suffix ``""`` (RECIST 1.1), ``I`` (iRECIST), ``IM``
  (imRECIST), e.g. ``OVR``/``OVRI``/``OVRIM``, ``PFS``/``PFSI``/``PFSIM``; ``PARCAT1`` holds
  the criterion as in ``RSCAT``.

Row order and ``--SEQ`` (numbered 1… per ``USUBJID``; subjects by ``USUBJID``):

* TU: evaluator (R1, R2, ADJ), lesion role (TARGET, NON-TARGET, NEW), lesion id (natural order);
* TR: evaluator, ``VISITNUM``, role, lesion id, test (diameter before state), ``SUMDIAM`` last;
* RS: evaluator, criterion (RECIST 1.1, iRECIST, imRECIST), ``VISITNUM``, test (TRGRESP,
  NTRGRESP, NEWLPROG, OVRLRESP), ``BESTRESP`` after the criterion's visits;
* ADRS: criterion, parameter (OVR, BOR, CBOR), ``AVISITN``; ADTTE: criterion. ``ASEQ`` 1… per
  subject.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from criteria.lesions import TSTM_MM
from criteria.types import CRITERIA, IMRECIST, IRECIST, RECIST11, CriterionResult, TimepointResult
from trialreads.exports.censoring import Assessment, PfsInput, PfsOutcome, censor_pfs
from trialreads.exports.dates import imputation_flag
from trialreads.exports.spec import Dataset, Value, Variable, char, date_num, num


class ExportInputError(ValueError):
    """The input tree is inconsistent (unknown lesion, unmatched timepoint, …)."""


class Evaluator(str, Enum):
    """``--EVALID`` of a BICR evaluator; the value is the CDISC text."""

    RADIOLOGIST_1 = "RADIOLOGIST 1"
    RADIOLOGIST_2 = "RADIOLOGIST 2"
    ADJUDICATOR = "ADJUDICATOR"

    @property
    def prefix(self) -> str:
        return _PREFIX[self]


_PREFIX = {Evaluator.RADIOLOGIST_1: "R1", Evaluator.RADIOLOGIST_2: "R2", Evaluator.ADJUDICATOR: "ADJ"}
_EVALUATOR_ORDER = {e: i for i, e in enumerate(Evaluator)}


class LesionRole(str, Enum):
    """``TUORRES`` (Oncology CT)."""

    TARGET = "TARGET"
    NON_TARGET = "NON-TARGET"
    NEW = "NEW"


_ROLE_ORDER = {r: i for i, r in enumerate(LesionRole)}


class MeasurementStatus(str, Enum):
    MEASURED = "measured"
    TOO_SMALL = "too_small"  # "TOO SMALL TO MEASURE" -> standardised 5 mm
    NOT_DONE = "not_done"  # TRSTAT NOT DONE + TRREASND


#: Value a "too small to measure" target is standardised to (RECIST 1.1 §4.3; sponsor method).
TOO_SMALL_MM = TSTM_MM  # R11-TSTM: the criteria engine's value
TOO_SMALL_TEXT = "TOO SMALL TO MEASURE"
#: Tumour states for non-target and new lesions (TRTESTCD TUMSTATE).
TUMOR_STATES = frozenset({"PRESENT", "ABSENT", "UNEQUIVOCAL PROGRESSION", "EQUIVOCAL", "NOT EVALUABLE"})

EVAL = "INDEPENDENT ASSESSOR"
RSCAT = {RECIST11: "RECIST 1.1", IRECIST: "iRECIST", IMRECIST: "imRECIST"}
PARAM_SUFFIX = {RECIST11: "", IRECIST: "I", IMRECIST: "IM"}
#: Criterion-level new-lesion codes -> NEWLPROG result.
NEWLPROG_VALUE = {"YES": "Y", "NO": "N", "EQUIVOCAL": "EQUIVOCAL", "NE": "NE"}
#: Responses dated at the latest image of the visit; all others at the earliest (§3.3).
LATEST_DATE_CODES = frozenset({"CR", "PR", "iCR", "iPR"})
RS_TESTS: tuple[tuple[str, str], ...] = (
    ("TRGRESP", "Target Response"),
    ("NTRGRESP", "Non-target Response"),
    ("NEWLPROG", "New Lesion Progression"),
    ("OVRLRESP", "Overall Response"),
)


# --- input ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportLesion:
    """A lesion as identified by one evaluator (one TU record).

    ``lesion_id`` is reader-local (``T01``, ``NT01``, ``NEW01``); the export prefixes it with
    the evaluator (``R1-T01``). ``location`` is ``TULOC`` (CDISC LOC codelist, upper case).
    """

    lesion_id: str
    role: LesionRole
    location: str
    nodal: bool = False
    laterality: str | None = None
    method: str = "CT SCAN"
    refid: str | None = None  # TUREFID: image/series id


@dataclass(frozen=True)
class LesionResult:
    """One lesion at one visit (one or two TR records).

    Targets: ``mm`` (longest diameter, or short axis when nodal) with ``MEASURED``; or
    ``TOO_SMALL``; or ``NOT_DONE`` with ``reason_not_done``. Non-target and new lesions:
    ``state`` (:data:`TUMOR_STATES`); a new lesion may also carry ``mm`` (imRECIST adds
    measurable new lesions to the sum). ``image_date`` defaults to the visit date.
    ``collected`` is the result text as collected (``TRORRES``, e.g. ``21`` for a value
    transcribed from a source); empty for values entered in the system, whose ``TRORRES`` is
    the value as entered.
    """

    lesion_id: str
    status: MeasurementStatus = MeasurementStatus.MEASURED
    mm: Decimal | None = None
    state: str | None = None
    reason_not_done: str | None = None
    image_date: dt.date | None = None
    collected: str = ""


@dataclass(frozen=True)
class ReaderTimepoint:
    """One visit as read by one evaluator.

    ``date`` must equal the ``criteria.types.Timepoint.date`` given to the engine, since the
    engine's :class:`TimepointResult` values are matched on it. ``baseline`` visits have TU/TR
    records but no responses. ``scan_dates`` are the visit's image dates when they are known
    for the visit but not per lesion (earliest and latest scan): RS then dates CR/PR at the
    latest and anything else at the earliest (§3.3), like the engine's progression date.
    ``dtc`` is the visit's date as collected when it was partial (``2014-02``): SDTM ``--DTC``
    of the visit write it as collected, while ``date``/``scan_dates`` are the imputed dates the
    engine used, which ADaM writes as ``ADT`` with ``ADTF`` (:mod:`trialreads.exports.dates`).
    """

    visitnum: int | Decimal
    visit: str
    date: dt.date
    results: tuple[LesionResult, ...] = ()
    baseline: bool = False
    scan_dates: tuple[dt.date, ...] = ()
    dtc: str = ""


@dataclass(frozen=True)
class ReaderRead:
    """One evaluator's complete read of a subject and the engine's results on it.

    ``criteria`` maps a criterion id (``criteria.types.RECIST11``, ``IRECIST``, ``IMRECIST``)
    to the engine's result for this read.
    """

    evaluator: Evaluator
    lesions: tuple[ExportLesion, ...]
    timepoints: tuple[ReaderTimepoint, ...]
    criteria: Mapping[str, CriterionResult] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportSubject:
    """A subject of the transfer; ``accepted`` is the evaluator whose read is the BICR result
    (the concordant reader or the adjudicator's choice). ``adjudicated``: the adjudicator
    chose it, so RS also carries the adjudicator's records (:func:`build_rs`)."""

    usubjid: str
    randomisation_date: dt.date
    reads: tuple[ReaderRead, ...]
    accepted: Evaluator
    death_date: dt.date | None = None
    new_therapy_date: dt.date | None = None  # start of new anticancer therapy, if known
    adjudicated: bool = False


@dataclass(frozen=True)
class ExportStudy:
    """The whole transfer. ``assessment_interval_days``/``window_days`` define "missed
    assessments" for PFS censoring; ``data_cutoff`` truncates ADTTE and limits ``ANL01FL``."""

    studyid: str
    subjects: tuple[ExportSubject, ...]
    assessment_interval_days: int
    window_days: int = 0
    data_cutoff: dt.date | None = None
    include_bestresp: bool = True


# --- variable metadata ------------------------------------------------------------

TU_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("DOMAIN", "Domain Abbreviation"),
    char("USUBJID", "Unique Subject Identifier"),
    num("TUSEQ", "Sequence Number"),
    char("TUREFID", "Reference ID"),
    char("TULNKID", "Link ID"),
    char("TUTESTCD", "Tumor/Lesion ID Short Name"),
    char("TUTEST", "Tumor/Lesion ID Test Name"),
    char("TUORRES", "Tumor/Lesion ID Result"),
    char("TUSTRESC", "Tumor/Lesion ID Result Std. Format"),
    char("TULOC", "Location of the Tumor/Lesion"),
    char("TULAT", "Laterality"),
    char("TUMETHOD", "Method of Identification"),
    char("TUEVAL", "Evaluator"),
    char("TUEVALID", "Evaluator Identifier"),
    char("TUACPTFL", "Accepted Record Flag"),
    num("VISITNUM", "Visit Number"),
    char("VISIT", "Visit Name"),
    char("TUDTC", "Date/Time of Tumor/Lesion Identification"),
)

TR_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("DOMAIN", "Domain Abbreviation"),
    char("USUBJID", "Unique Subject Identifier"),
    num("TRSEQ", "Sequence Number"),
    char("TRGRPID", "Group ID"),
    char("TRLNKGRP", "Link Group ID"),
    char("TRLNKID", "Link ID"),
    char("TRTESTCD", "Tumor/Lesion Assessment Short Name"),
    char("TRTEST", "Tumor/Lesion Assessment Test Name"),
    char("TRORRES", "Result or Finding in Original Units"),
    char("TRORRESU", "Original Units"),
    char("TRSTRESC", "Character Result/Finding in Std Format"),
    num("TRSTRESN", "Numeric Result/Finding in Standard Units"),
    char("TRSTRESU", "Standard Units"),
    char("TRSTAT", "Completion Status"),
    char("TRREASND", "Reason Not Done"),
    char("TRMETHOD", "Method Used to Identify the Tumor/Lesion"),
    char("TREVAL", "Evaluator"),
    char("TREVALID", "Evaluator Identifier"),
    char("TRACPTFL", "Accepted Record Flag"),
    num("VISITNUM", "Visit Number"),
    char("VISIT", "Visit Name"),
    char("TRDTC", "Date/Time of Tumor/Lesion Measurement"),
)

RS_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("DOMAIN", "Domain Abbreviation"),
    char("USUBJID", "Unique Subject Identifier"),
    num("RSSEQ", "Sequence Number"),
    char("RSLNKGRP", "Link Group ID"),
    char("RSTESTCD", "Assessment Short Name"),
    char("RSTEST", "Assessment Name"),
    char("RSCAT", "Category for Assessment"),
    char("RSORRES", "Result or Finding in Original Units"),
    char("RSSTRESC", "Character Result/Finding in Std Format"),
    char("RSEVAL", "Evaluator"),
    char("RSEVALID", "Evaluator Identifier"),
    char("RSACPTFL", "Accepted Record Flag"),
    num("VISITNUM", "Visit Number"),
    char("VISIT", "Visit Name"),
    char("RSDTC", "Date/Time of Assessment"),
)

ADRS_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("USUBJID", "Unique Subject Identifier"),
    num("ASEQ", "Analysis Sequence Number"),
    char("PARAMCD", "Parameter Code"),
    char("PARAM", "Parameter"),
    char("PARCAT1", "Parameter Category 1"),
    char("AVALC", "Analysis Value (C)"),
    date_num("ADT", "Analysis Date"),
    char("ADTF", "Analysis Date Imputation Flag"),
    char("AVISIT", "Analysis Visit"),
    num("AVISITN", "Analysis Visit (N)"),
    char("ANL01FL", "Analysis Flag 01"),
    char("SRCDOM", "Source Data"),
    char("SRCVAR", "Source Variable"),
    num("SRCSEQ", "Source Sequence Number"),
)

ADTTE_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("USUBJID", "Unique Subject Identifier"),
    num("ASEQ", "Analysis Sequence Number"),
    char("PARAMCD", "Parameter Code"),
    char("PARAM", "Parameter"),
    char("PARCAT1", "Parameter Category 1"),
    date_num("STARTDT", "Time-to-Event Origin Date for Subject"),
    date_num("ADT", "Analysis Date"),
    num("AVAL", "Analysis Value"),
    num("CNSR", "Censor"),
    char("EVNTDESC", "Event or Censoring Description"),
    char("CNSDTDSC", "Censor Date Description"),
    char("SRCDOM", "Source Data"),
    char("SRCVAR", "Source Variable"),
    num("SRCSEQ", "Source Sequence Number"),
)

DATASET_LABELS = {
    "TU": "Tumor/Lesion Identification",
    "TR": "Tumor/Lesion Results",
    "RS": "Disease Response and Clin Classification",
    "ADRS": "Response Analysis Dataset",
    "ADTTE": "Time-to-Event Analysis Dataset",
}

#: ADaM parameters: (PARAMCD stem, PARAM text) — PARAMCD = stem + criterion suffix.
ADRS_PARAMS: tuple[tuple[str, str], ...] = (
    ("OVR", "Overall Response by BICR"),
    ("BOR", "Best Overall Response by BICR"),
    ("CBOR", "Confirmed Best Overall Response by BICR"),
)
ADTTE_PARAM = ("PFS", "Progression-Free Survival by BICR")


def paramcd(stem: str, criterion: str) -> str:
    return stem + PARAM_SUFFIX[criterion]


_T = TypeVar("_T")

# --- helpers ----------------------------------------------------------------------

#: All-None rows of the module's datasets, by identity of their variable tuple (constants).
_TEMPLATES: dict[int, dict[str, Value]] = {
    id(variables): dict.fromkeys(var.name for var in variables)
    for variables in (TU_VARS, TR_VARS, RS_VARS, ADRS_VARS, ADTTE_VARS)
}


@functools.lru_cache(maxsize=1 << 16)  # lesion ids repeat on every visit of every read
def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """``T2`` < ``T10``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", text))


@functools.lru_cache(maxsize=1 << 16)  # exact: equal values have one text (below)
def decimal_text(value: Decimal) -> str:
    """Standardised text of a number: no exponent, no trailing zeros (``15.0`` -> ``15``),
    and one text per value (``-0`` -> ``0``), so equal values always read the same."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def iso(date: dt.date | None) -> str | None:
    return date.isoformat() if date is not None else None


def _flag(yes: bool) -> str | None:
    return "Y" if yes else None


def _number(rows: list[dict[str, Value]], seq_var: str) -> list[dict[str, Value]]:
    """Assign ``--SEQ`` 1… per USUBJID in the rows' (already sorted) order."""
    counters: dict[Value, int] = {}
    for row in rows:
        counters[row["USUBJID"]] = counters.get(row["USUBJID"], 0) + 1
        row[seq_var] = counters[row["USUBJID"]]
    return rows


def _ordered(variables: Sequence[Variable], row: Mapping[str, Value]) -> dict[str, Value]:
    """The row with exactly the dataset's variables, in their order (missing ones None).

    Merged onto a template of all-None keys (a C-level copy and update, about three times
    faster than a comprehension over the names; the export builds hundreds of thousands of
    rows); a row with an undeclared key takes the slow path, which drops it."""
    template = _TEMPLATES.get(id(variables))
    if template is None or len(template) != len(variables):
        template = dict.fromkeys(var.name for var in variables)
    out = {**template, **row}
    if len(out) != len(template):
        out = {name: row.get(name) for name in template}
    return out


def _check_subject(subject: ExportSubject) -> None:
    evaluators = [read.evaluator for read in subject.reads]
    if len(set(evaluators)) != len(evaluators):
        raise ExportInputError(f"{subject.usubjid}: an evaluator has more than one read")
    if subject.accepted not in evaluators:
        raise ExportInputError(f"{subject.usubjid}: accepted evaluator {subject.accepted.value} has no read")
    for read in subject.reads:
        ids = [lesion.lesion_id for lesion in read.lesions]
        if len(set(ids)) != len(ids):
            raise ExportInputError(f"{subject.usubjid} {read.evaluator.value}: duplicate lesion id")
        visits = [tp.visitnum for tp in read.timepoints]
        if len(set(visits)) != len(visits):
            raise ExportInputError(f"{subject.usubjid} {read.evaluator.value}: duplicate VISITNUM")
        known = set(ids)
        for tp in read.timepoints:
            for result in tp.results:
                if result.lesion_id not in known:
                    raise ExportInputError(
                        f"{subject.usubjid} {read.evaluator.value} visit {tp.visit}: "
                        f"result for unknown lesion {result.lesion_id}"
                    )


def _lesion_order(lesion: ExportLesion) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    return (_ROLE_ORDER[lesion.role], natural_key(lesion.lesion_id))


def _reads(subject: ExportSubject) -> list[ReaderRead]:
    return sorted(subject.reads, key=lambda read: _EVALUATOR_ORDER[read.evaluator])


def _assessment_numbers(subject: ExportSubject) -> dict[int | Decimal, int]:
    visits = sorted({tp.visitnum for read in subject.reads for tp in read.timepoints})
    return {visitnum: index for index, visitnum in enumerate(visits, start=1)}


def _link_group(read: ReaderRead, numbers: Mapping[int | Decimal, int], tp: ReaderTimepoint) -> str:
    return f"{read.evaluator.prefix}-A{numbers[tp.visitnum]}"


def _lesion_link(read: ReaderRead, lesion_id: str) -> str:
    return f"{read.evaluator.prefix}-{lesion_id}"


def _timepoints(read: ReaderRead) -> list[ReaderTimepoint]:
    return sorted(read.timepoints, key=lambda tp: tp.visitnum)


def _image_dates(tp: ReaderTimepoint) -> list[dt.date]:
    return sorted({r.image_date or tp.date for r in tp.results} | set(tp.scan_dates) or {tp.date})


# --- TU ---------------------------------------------------------------------------


def _lesion_image_date(tp: ReaderTimepoint | None, lesion: ExportLesion) -> dt.date | None:
    if tp is None:
        return None
    return next((r.image_date for r in tp.results if r.lesion_id == lesion.lesion_id), None)


def _identifying_visit(
    read: ReaderRead, lesion: ExportLesion
) -> tuple[ReaderTimepoint | None, dt.date | None]:
    """Baseline visit for targets/non-targets; first visit with a result for new lesions."""
    tps = _timepoints(read)
    if lesion.role is not LesionRole.NEW:
        base = next((tp for tp in tps if tp.baseline), tps[0] if tps else None)
        found = base
    else:
        found = next((tp for tp in tps if any(r.lesion_id == lesion.lesion_id for r in tp.results)), None)
    if found is None:
        return None, None
    result = next((r for r in found.results if r.lesion_id == lesion.lesion_id), None)
    return found, (result.image_date if result and result.image_date else found.date)


def _dtc(tp: ReaderTimepoint | None, image_date: dt.date | None, date: dt.date | None) -> str | None:
    """SDTM ``--DTC``: a lesion's own image date, else the visit's collected partial date,
    else ``date``."""
    if image_date is None and tp is not None and tp.dtc:
        return tp.dtc
    return iso(image_date or date)


def build_tu(study: ExportStudy) -> Dataset:
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        _check_subject(subject)
        for read in _reads(subject):
            accepted = read.evaluator is subject.accepted
            for lesion in sorted(read.lesions, key=_lesion_order):
                tp, date = _identifying_visit(read, lesion)
                rows.append(
                    _ordered(
                        TU_VARS,
                        {
                            "STUDYID": study.studyid,
                            "DOMAIN": "TU",
                            "USUBJID": subject.usubjid,
                            "TUREFID": lesion.refid,
                            "TULNKID": _lesion_link(read, lesion.lesion_id),
                            "TUTESTCD": "TUMIDENT",
                            "TUTEST": "Tumor Identification",
                            "TUORRES": lesion.role.value,
                            "TUSTRESC": lesion.role.value,
                            "TULOC": lesion.location,
                            "TULAT": lesion.laterality,
                            "TUMETHOD": lesion.method,
                            "TUEVAL": EVAL,
                            "TUEVALID": read.evaluator.value,
                            "TUACPTFL": _flag(accepted),
                            "VISITNUM": tp.visitnum if tp else None,
                            "VISIT": tp.visit if tp else None,
                            "TUDTC": _dtc(tp, _lesion_image_date(tp, lesion), date),
                        },
                    )
                )
    return Dataset("TU", DATASET_LABELS["TU"], TU_VARS, _number(rows, "TUSEQ"))


# --- TR ---------------------------------------------------------------------------


def _diameter_test(lesion: ExportLesion) -> tuple[str, str]:
    return ("LPERP", "Longest Perpendicular") if lesion.nodal else ("LDIAM", "Longest Diameter")


def _measurement_values(result: LesionResult, where: str) -> dict[str, Value]:
    if result.status is MeasurementStatus.NOT_DONE:
        return {"TRSTAT": "NOT DONE", "TRREASND": result.reason_not_done}
    if result.status is MeasurementStatus.TOO_SMALL:
        return {
            "TRORRES": TOO_SMALL_TEXT,
            "TRSTRESC": decimal_text(TOO_SMALL_MM),
            "TRSTRESN": TOO_SMALL_MM,
            "TRSTRESU": "mm",
        }
    if result.mm is None:
        raise ExportInputError(f"{where}: measured lesion {result.lesion_id} has no mm")
    return {
        "TRORRES": result.collected or str(result.mm),
        "TRORRESU": "mm",
        "TRSTRESC": decimal_text(result.mm),
        "TRSTRESN": result.mm,
        "TRSTRESU": "mm",
    }


def _state_values(result: LesionResult, where: str) -> dict[str, Value]:
    if result.status is MeasurementStatus.NOT_DONE:
        return {"TRSTAT": "NOT DONE", "TRREASND": result.reason_not_done}
    if result.state not in TUMOR_STATES:
        raise ExportInputError(
            f"{where}: lesion {result.lesion_id} state {result.state!r} not in {sorted(TUMOR_STATES)}"
        )
    return {"TRORRES": result.state, "TRSTRESC": result.state}


def _standard_mm(result: LesionResult | None) -> Decimal | None:
    if result is None or result.status is MeasurementStatus.NOT_DONE:
        return None
    return TOO_SMALL_MM if result.status is MeasurementStatus.TOO_SMALL else result.mm


def _tr_rows_for_visit(
    study: ExportStudy,
    subject: ExportSubject,
    read: ReaderRead,
    tp: ReaderTimepoint,
    group: str,
) -> list[dict[str, Value]]:
    where = f"{subject.usubjid} {read.evaluator.value} {tp.visit}"
    lesions = {lesion.lesion_id: lesion for lesion in read.lesions}
    common: dict[str, Value] = {
        "STUDYID": study.studyid,
        "DOMAIN": "TR",
        "USUBJID": subject.usubjid,
        "TRLNKGRP": group,
        "TREVAL": EVAL,
        "TREVALID": read.evaluator.value,
        "TRACPTFL": _flag(read.evaluator is subject.accepted),
        "VISITNUM": tp.visitnum,
        "VISIT": tp.visit,
    }
    rows: list[dict[str, Value]] = []
    ordered = sorted(
        tp.results,
        key=lambda r: (_ROLE_ORDER[lesions[r.lesion_id].role], natural_key(r.lesion_id)),
    )
    for result in ordered:
        lesion = lesions[result.lesion_id]
        base = {
            **common,
            "TRGRPID": lesion.role.value,
            "TRLNKID": _lesion_link(read, lesion.lesion_id),
            "TRMETHOD": lesion.method,
            "TRDTC": _dtc(tp, result.image_date, tp.date),
        }
        if lesion.role is LesionRole.TARGET:
            code, name = _diameter_test(lesion)
            rows.append({**base, "TRTESTCD": code, "TRTEST": name, **_measurement_values(result, where)})
            continue
        if lesion.role is LesionRole.NEW and result.mm is not None:
            code, name = _diameter_test(lesion)
            rows.append({**base, "TRTESTCD": code, "TRTEST": name, **_measurement_values(result, where)})
        rows.append({**base, "TRTESTCD": "TUMSTATE", "TRTEST": "Tumor State", **_state_values(result, where)})
    targets = [lesion for lesion in read.lesions if lesion.role is LesionRole.TARGET]
    if targets:
        by_id = {r.lesion_id: r for r in tp.results}
        values = [_standard_mm(by_id.get(lesion.lesion_id)) for lesion in targets]
        summary: dict[str, Value] = {
            **common,
            "TRGRPID": "TARGET",
            "TRTESTCD": "SUMDIAM",
            "TRTEST": "Sum of Diameter",
        }
        if all(v is not None for v in values):
            total = sum((v for v in values if v is not None), Decimal(0))
            summary |= {
                "TRORRES": str(total),
                "TRORRESU": "mm",
                "TRSTRESC": decimal_text(total),
                "TRSTRESN": total,
                "TRSTRESU": "mm",
            }
        else:
            summary |= {"TRSTAT": "NOT DONE", "TRREASND": "NOT ALL TARGET LESIONS ASSESSED"}
        rows.append(summary)
    return [_ordered(TR_VARS, row) for row in rows]


def build_tr(study: ExportStudy) -> Dataset:
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        _check_subject(subject)
        numbers = _assessment_numbers(subject)
        for read in _reads(subject):
            for tp in _timepoints(read):
                rows += _tr_rows_for_visit(study, subject, read, tp, _link_group(read, numbers, tp))
    return Dataset("TR", DATASET_LABELS["TR"], TR_VARS, _number(rows, "TRSEQ"))


# --- RS ---------------------------------------------------------------------------


def by_date_convention(code: str, earliest: _T, latest: _T) -> _T:
    """CR/PR at the latest image date of the visit, anything else at the earliest (§3.3)."""
    return latest if code in LATEST_DATE_CODES else earliest


def response_date(code: str, tp: ReaderTimepoint) -> dt.date:
    """The date of response ``code`` at visit ``tp`` (:func:`by_date_convention`)."""
    dates = _image_dates(tp)
    return by_date_convention(code, dates[0], dates[-1])


def _match_timepoint(read: ReaderRead, result: TimepointResult, where: str) -> ReaderTimepoint:
    matches = [tp for tp in read.timepoints if tp.date == result.date and not tp.baseline]
    if len(matches) != 1:
        raise ExportInputError(f"{where}: {len(matches)} visits dated {result.date} for a timepoint result")
    return matches[0]


#: RS tests the adjudicator decides (the overall response of each visit, and the best response):
#: the adjudicator chooses a read, so its records repeat the chosen reader's for these tests.
ADJUDICATED_TESTS = frozenset({"OVRLRESP", "BESTRESP"})


def _adjudicator_records(subject: ExportSubject, rows: Sequence[dict[str, Value]]) -> list[dict[str, Value]]:
    """The adjudicator's RS records: a copy of each of the chosen reader's OVRLRESP and
    BESTRESP records with ``RSEVALID="ADJUDICATOR"`` and the chosen reader's ``RSLNKGRP`` (the
    TR records the decision rests on), flagged ``RSACPTFL="Y"``, which the chosen reader's
    copies then no longer carry (one accepted record per visit and test, SDTM RECIST
    supplement Example 4). The other RS tests stay accepted on the chosen reader."""
    out: list[dict[str, Value]] = []
    for row in rows:
        if row["RSEVALID"] == subject.accepted.value and row["RSTESTCD"] in ADJUDICATED_TESTS:
            out.append({**row, "RSEVALID": Evaluator.ADJUDICATOR.value, "RSACPTFL": "Y"})
            row["RSACPTFL"] = None
    return out


def build_rs(study: ExportStudy) -> Dataset:
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        _check_subject(subject)
        numbers = _assessment_numbers(subject)
        first = len(rows)
        for read in _reads(subject):
            accepted = _flag(read.evaluator is subject.accepted)
            # RSLNKGRP only where TR has that group: a visit with results, or any visit of a
            # reader with targets (it always gets a SUMDIAM record).
            has_targets = any(lesion.role is LesionRole.TARGET for lesion in read.lesions)
            grouped = {tp.visitnum for tp in read.timepoints if tp.results or has_targets}
            for criterion in (c for c in CRITERIA if c in read.criteria):
                result = read.criteria[criterion]
                common: dict[str, Value] = {
                    "STUDYID": study.studyid,
                    "DOMAIN": "RS",
                    "USUBJID": subject.usubjid,
                    "RSCAT": RSCAT[criterion],
                    "RSEVAL": EVAL,
                    "RSEVALID": read.evaluator.value,
                    "RSACPTFL": accepted,
                }
                where = f"{subject.usubjid} {read.evaluator.value} {RSCAT[criterion]}"
                tps = sorted(
                    ((_match_timepoint(read, r, where), r) for r in result.timepoints),
                    key=lambda pair: pair[0].visitnum,
                )
                for tp, tpr in tps:
                    values = {
                        "TRGRESP": tpr.target,
                        "NTRGRESP": tpr.non_target,
                        "NEWLPROG": NEWLPROG_VALUE.get(tpr.new_lesions, tpr.new_lesions),
                        "OVRLRESP": tpr.overall,
                    }
                    group = _link_group(read, numbers, tp) if tp.visitnum in grouped else None
                    dates = _image_dates(tp)  # response_date()'s dates, once per visit
                    earliest, latest = iso(dates[0]), iso(dates[-1])
                    for testcd, test in RS_TESTS:
                        code = values[testcd]
                        if code == "NA":  # not applicable (e.g. no target lesions): no record
                            continue
                        rows.append(
                            _ordered(
                                RS_VARS,
                                {
                                    **common,
                                    "RSLNKGRP": group,
                                    "RSTESTCD": testcd,
                                    "RSTEST": test,
                                    "RSORRES": code,
                                    "RSSTRESC": code,
                                    "VISITNUM": tp.visitnum,
                                    "VISIT": tp.visit,
                                    "RSDTC": tp.dtc or by_date_convention(code, earliest, latest),
                                },
                            )
                        )
                if study.include_bestresp and result.bor is not None:
                    # Dated like the visit it comes from (same convention as its OVRLRESP).
                    bor_tp = next((tp for tp, tpr in tps if tpr.date == result.bor_date), None)
                    bor_dtc = response_date(result.bor, bor_tp) if bor_tp else result.bor_date
                    rows.append(
                        _ordered(
                            RS_VARS,
                            {
                                **common,
                                "RSTESTCD": "BESTRESP",
                                "RSTEST": "Best Overall Response",
                                "RSORRES": result.bor,
                                "RSSTRESC": result.bor,
                                "RSDTC": bor_tp.dtc if bor_tp and bor_tp.dtc else iso(bor_dtc),
                            },
                        )
                    )
        if subject.adjudicated:
            rows += _adjudicator_records(subject, rows[first:])
    return Dataset("RS", DATASET_LABELS["RS"], RS_VARS, _number(rows, "RSSEQ"))


# --- ADaM -------------------------------------------------------------------------


def _accepted_overall(rs: Dataset, usubjid: str, criterion: str) -> list[dict[str, Value]]:
    """The accepted evaluator's OVRLRESP records of one criterion, in visit order."""
    return [
        row
        for row in rs.rows
        if row["USUBJID"] == usubjid
        and row["RSTESTCD"] == "OVRLRESP"
        and row["RSCAT"] == RSCAT[criterion]
        and row["RSACPTFL"] == "Y"
    ]


def _date(value: Value) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


def _analysis_date(read: ReaderRead, rec: Mapping[str, Value]) -> tuple[dt.date | None, str | None]:
    """``ADT`` and ``ADTF`` of an RS record: its ``RSDTC`` when a full date, else the imputed
    date the engine used for that visit (by the same date convention) with the flag of what
    was imputed (:func:`trialreads.exports.dates.imputation_flag`)."""
    dtc = rec["RSDTC"]
    if not isinstance(dtc, str) or len(dtc) >= 10:
        return _date(dtc), None
    tp = next((t for t in read.timepoints if t.visitnum == rec["VISITNUM"] and not t.baseline), None)
    if tp is None:
        raise ExportInputError(f"{rec['USUBJID']}: RSDTC {dtc!r} of no visit of {read.evaluator.value}")
    return response_date(str(rec["RSSTRESC"]), tp), imputation_flag(dtc) or None


def _accepted_read(subject: ExportSubject) -> ReaderRead:
    return next(read for read in subject.reads if read.evaluator is subject.accepted)


def _overall_record_at(
    read: ReaderRead, result: CriterionResult, overall: Sequence[dict[str, Value]], date: dt.date | None
) -> dict[str, Value] | None:
    """The OVRLRESP record of the engine timepoint dated ``date`` (timepoint date, not RSDTC)."""
    tpr = next((t for t in result.timepoints if t.date == date), None)
    if tpr is None:
        return None
    tp = _match_timepoint(read, tpr, read.evaluator.value)
    return next((r for r in overall if r["VISITNUM"] == tp.visitnum), None)


def build_adrs(study: ExportStudy, rs: Dataset) -> Dataset:
    """OVR/BOR/CBOR per criterion from the accepted evaluator only (RSACPTFL="Y")."""
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        read = _accepted_read(subject)
        for criterion in (c for c in CRITERIA if c in read.criteria):
            result = read.criteria[criterion]
            common: dict[str, Value] = {
                "STUDYID": study.studyid,
                "USUBJID": subject.usubjid,
                "PARCAT1": RSCAT[criterion],
            }
            overall = _accepted_overall(rs, subject.usubjid, criterion)
            (ovr, ovr_text), (bor, bor_text), (cbor, cbor_text) = ADRS_PARAMS
            for rec in overall:
                adt, adtf = _analysis_date(read, rec)
                in_cut = study.data_cutoff is None or (adt is not None and adt <= study.data_cutoff)
                rows.append(
                    {
                        **common,
                        "PARAMCD": paramcd(ovr, criterion),
                        "PARAM": f"{ovr_text}, {RSCAT[criterion]}",
                        "AVALC": rec["RSSTRESC"],
                        "ADT": adt,
                        "ADTF": adtf,
                        "AVISIT": rec["VISIT"],
                        "AVISITN": rec["VISITNUM"],
                        "ANL01FL": _flag(in_cut),
                        "SRCDOM": "RS",
                        "SRCVAR": "RSSTRESC",
                        "SRCSEQ": rec["RSSEQ"],
                    }
                )
            # BOR/CBOR: the visit the engine dated them at (CBOR without a date: the first
            # visit with that response). ADT is that visit's RSDTC, so BOR and OVR share one
            # date convention (§3.3).
            bor_rec = _overall_record_at(read, result, overall, result.bor_date)
            bor_adt, bor_adtf = _analysis_date(read, bor_rec) if bor_rec else (result.bor_date, None)
            cbor_rec = _overall_record_at(read, result, overall, result.bor_confirmed_date) or next(
                (r for r in overall if r["RSSTRESC"] == result.bor_confirmed), None
            )
            cbor_adt, cbor_adtf = (
                _analysis_date(read, cbor_rec) if cbor_rec else (result.bor_confirmed_date, None)
            )
            derived: tuple[
                tuple[str, str, str | None, dt.date | None, str | None, dict[str, Value] | None], ...
            ] = (
                (bor, bor_text, result.bor, bor_adt, bor_adtf, bor_rec),
                (cbor, cbor_text, result.bor_confirmed, cbor_adt, cbor_adtf, cbor_rec),
            )
            for stem, text, value, adt, adtf, source in derived:
                rows.append(
                    {
                        **common,
                        "PARAMCD": paramcd(stem, criterion),
                        "PARAM": f"{text}, {RSCAT[criterion]}",
                        "AVALC": value,
                        "ADT": adt,
                        "ADTF": adtf,
                        "ANL01FL": "Y",
                        "SRCDOM": "RS" if source else None,
                        "SRCVAR": "RSSTRESC" if source else None,
                        "SRCSEQ": source["RSSEQ"] if source else None,
                    }
                )
    ordered = [_ordered(ADRS_VARS, row) for row in rows]
    return Dataset("ADRS", DATASET_LABELS["ADRS"], ADRS_VARS, _number(ordered, "ASEQ"))


def pfs_input(study: ExportStudy, subject: ExportSubject, criterion: str, rs: Dataset) -> PfsInput:
    """The censoring input for one subject × criterion (accepted evaluator's responses)."""
    read = _accepted_read(subject)
    assessments = []
    for rec in _accepted_overall(rs, subject.usubjid, criterion):
        date, _ = _analysis_date(read, rec)
        seq = rec["RSSEQ"]
        assert date is not None and isinstance(seq, int)
        assessments.append(Assessment(date=date, response=str(rec["RSSTRESC"]), seq=seq))
    return PfsInput(
        randomisation_date=subject.randomisation_date,
        pfs=read.criteria[criterion].pfs,
        assessments=tuple(assessments),
        assessment_interval_days=study.assessment_interval_days,
        window_days=study.window_days,
        death_date=subject.death_date,
        new_therapy_date=subject.new_therapy_date,
        data_cutoff=study.data_cutoff,
    )


def build_adtte(study: ExportStudy, rs: Dataset) -> Dataset:
    """One PFS record per subject × criterion (PFS, PFSI, PFSIM); AVAL = ADT − STARTDT + 1."""
    rows: list[dict[str, Value]] = []
    stem, text = ADTTE_PARAM
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        read = _accepted_read(subject)
        for criterion in (c for c in CRITERIA if c in read.criteria):
            outcome: PfsOutcome = censor_pfs(pfs_input(study, subject, criterion, rs))
            rows.append(
                _ordered(
                    ADTTE_VARS,
                    {
                        "STUDYID": study.studyid,
                        "USUBJID": subject.usubjid,
                        "PARAMCD": paramcd(stem, criterion),
                        "PARAM": f"{text}, {RSCAT[criterion]} (days)",
                        "PARCAT1": RSCAT[criterion],
                        "STARTDT": subject.randomisation_date,
                        "ADT": outcome.adt,
                        "AVAL": (outcome.adt - subject.randomisation_date).days + 1,
                        "CNSR": outcome.cnsr,
                        "EVNTDESC": outcome.evntdesc,
                        "CNSDTDSC": outcome.cnsdtdsc,
                        "SRCDOM": outcome.srcdom,
                        "SRCVAR": outcome.srcvar,
                        "SRCSEQ": outcome.srcseq,
                    },
                )
            )
    return Dataset("ADTTE", DATASET_LABELS["ADTTE"], ADTTE_VARS, _number(rows, "ASEQ"))


def build_all(study: ExportStudy) -> tuple[Dataset, ...]:
    """TU, TR, RS, ADRS, ADTTE in that order."""
    rs = build_rs(study)
    return (build_tu(study), build_tr(study), rs, build_adrs(study, rs), build_adtte(study, rs))


# --- the transfer in two independent halves ----------------------------------------


def build_tumour_domains(study: ExportStudy) -> tuple[Dataset, Dataset]:
    """TU and TR, as in :func:`build_all` (neither looks across subjects)."""
    return build_tu(study), build_tr(study)


def build_response_domains(study: ExportStudy) -> tuple[Dataset, Dataset, Dataset]:
    """RS, ADRS and ADTTE, as in :func:`build_all`, built one subject at a time.

    The ADaM builders look up a subject's RS records by scanning the RS rows, which over the
    whole study is quadratic (minutes at 2000 subjects). Every builder sorts by USUBJID and
    numbers ``--SEQ`` per USUBJID (``SRCSEQ`` points into the subject's own RS records), so
    the per-subject datasets, in USUBJID order, concatenate to the whole-study ones.
    """
    subjects = sorted(study.subjects, key=lambda s: s.usubjid)
    if len(subjects) < 2:
        rs = build_rs(study)
        return rs, build_adrs(study, rs), build_adtte(study, rs)
    rs_rows: list[dict[str, Value]] = []
    adrs_rows: list[dict[str, Value]] = []
    adtte_rows: list[dict[str, Value]] = []
    for subject in subjects:
        one = replace(study, subjects=(subject,))
        rs = build_rs(one)
        rs_rows += rs.rows
        adrs_rows += build_adrs(one, rs).rows
        adtte_rows += build_adtte(one, rs).rows
    return (
        Dataset("RS", DATASET_LABELS["RS"], RS_VARS, rs_rows),
        Dataset("ADRS", DATASET_LABELS["ADRS"], ADRS_VARS, adrs_rows),
        Dataset("ADTTE", DATASET_LABELS["ADTTE"], ADTTE_VARS, adtte_rows),
    )


def build_transfer(study: ExportStudy) -> tuple[Dataset, ...]:
    """The same datasets as :func:`build_all`, linear in the number of subjects."""
    return build_tumour_domains(study) + build_response_domains(study)
