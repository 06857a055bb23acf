"""SDTM TU/TR/RS (and SUPPTU/SUPPTR) and ADaM ADRS/ADTTE builders for a BICR data transfer.

Input is a tree of frozen dataclasses (:class:`ExportStudy` → :class:`ExportSubject` →
:class:`ReaderRead` → :class:`ReaderTimepoint` → :class:`LesionResult`) that the Django side
fills from the ORM; responses are the criteria engine's own :class:`criteria.types.CriterionResult`
per reader and criterion. Output is one :class:`~trialreads.exports.spec.Dataset` per domain
with a fixed column order, labels and types (cdisc-export.md §3.1–3.4). What each criterion
and measurement is called (RSCAT, parameter codes, test codes, units) is the data of
:mod:`trialreads.exports.criteria_codes`, with its CDISC CT sources.

Conventions (cdisc-export.md; SDTM RECIST 1.1 supplement):

* Link ids carry the reader: ``TULNKID``/``TRLNKID`` ``R1-T01``; ``TRLNKGRP``/``RSLNKGRP``
  ``R1-A2`` = reader 1, assessment 2, where the assessment number is the position of the visit
  among *all* visits of the subject (by ``VISITNUM``), so the same visit has the same number
  for every reader.
* Nodal targets are measured as ``LPERP`` (short axis), other targets as ``LDIAM``; the second
  diameter of a bidimensional read (irRC) is a record of its own: ``LPERP`` (perpendicular) of
  a non-nodal lesion, ``LDIAM`` (long axis) of a node, the longest diameter first. "Too small
  to measure" is standardised to 5 mm; a not-done measurement has ``TRSTAT="NOT DONE"``.
* PET lesions have ``SULPEAK`` (and ``SULMAX``, ``TLG``, their CT size as ``LDIAM`` where
  recorded); the scan's reference region is a TU record of its own (``LOCATION OF
  INTEREST``, ``TULOC`` liver or descending aorta) with ``SULMEAN`` and ``SULSD`` records.
* ``SUMDIAM`` is the sum of the reader's standardised target values at the visit, or
  ``NOT DONE`` when a target was not assessed; at a pre-baseline scan read as a sum only
  (tumour growth rate) it is that sum. Summary rows carry no ``TRDTC``/``TRMETHOD``.
  Pre-baseline scans are TR visits of their own (before the baseline) and have no RS records.
* itRECIST: ``SUPPTU`` ``INJECTED`` (Y/N) on every baseline lesion of a read classified
  injected / non-injected, ``SUPPTR`` ``INJFIRST`` (Y) on the TR records of a lesion at the
  visit it was first injected; RS adds the injected and non-injected responses (``INJRESP``,
  ``NINJRESP``). Both SUPP datasets are only in a transfer that has such records.
* ``--ACPTFL="Y"`` marks every record of the accepted evaluator (``ExportSubject.accepted``),
  except, for an adjudicated subject, its OVRLRESP/BESTRESP records: those are repeated as
  the adjudicator's (``RSEVALID="ADJUDICATOR"``, the chosen reader's ``RSLNKGRP``), which carry
  the flag; ADaM then names the adjudicator's records as the source.
* ``RSDTC``: CR/PR (and iCR/iPR, irCR/irPR, CMR/PMR) are dated at the latest image date of
  the visit, everything else (PD, SD, NE…) at the earliest (§3.3).
* Partial dates: a visit collected as ``2014-02`` keeps that text in ``TUDTC``/``TRDTC``/
  ``RSDTC``; ADRS ``ADT`` is the imputed date the engine used (by the rule the import named,
  :mod:`trialreads.exports.dates`) with ``ADTF`` ``D`` (day) or ``M`` (month and day); ADTTE
  takes its dates from the same imputed dates.
* ADRS ``ANL01FL="Y"``: timepoint responses (``OVR*``) dated on or before the data cut-off,
  and every ``BOR*``/``CBOR*`` record; ADRS takes the accepted evaluator's records only.
* ADaM parameter codes: stem + criterion suffix (``criteria_codes.CRITERIA_CODES``): ``""``
  (RECIST 1.1), ``I`` (iRECIST), ``IM`` (imRECIST), ``PC``/``IPC``/``IMPC``/``PMT`` (PERCIST,
  iPERCIST, imPERCIST5, PERCIMT), ``IRC``/``IRR`` (irRC, irRECIST), ``IT`` (itRECIST), e.g.
  ``OVRIRC``, ``CBORPC``, ``PFSIPC``; ``PARCAT1`` holds the criterion as in ``RSCAT``. The
  growth family's subject-level flags are ADRS parameters with ``AVALC`` Y/N/U: hyperprogression
  per definition (``HPDCHAMP`` …), pseudoprogression per criterion (``PSPDI``, ``PSPDIRC`` …)
  and dissociated response (``DISSRESP``), from the accepted read's analyses when the
  endpoint results carry them (:attr:`ReaderRead.analyses`).

Row order and ``--SEQ`` (numbered 1… per ``USUBJID``; subjects by ``USUBJID``):

* TU: evaluator (R1, R2, ADJ), lesion role (TARGET, NON-TARGET, NEW, MEASURED, LOCATION OF
  INTEREST), lesion id (natural order);
* TR: evaluator, ``VISITNUM``, role, lesion id, test (diameters before state), ``SUMDIAM`` last;
* RS: evaluator, criterion (the engine's order), ``VISITNUM``, test (TRGRESP, NTRGRESP,
  NEWLPROG, OVRLRESP, then the criterion's own), ``BESTRESP`` after the criterion's visits;
* ADRS: criterion, parameter (OVR, the criterion's own timepoint parameters, BOR, CBOR, its
  own best responses, PSPD), ``AVISITN``; then the subject's growth flags; ADTTE: criterion.
  ``ASEQ`` 1… per subject.
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
from criteria.types import CriterionResult, ExtraValue, TimepointResult
from trialreads.exports import criteria_codes as codes
from trialreads.exports.censoring import PFS_RULES, Assessment, PfsInput, PfsOutcome, censor_pfs
from trialreads.exports.criteria_codes import CRITERIA_CODES, LATEST_DATE_CODES, TestCode
from trialreads.exports.dates import imputation_flag
from trialreads.exports.spec import Dataset, Value, Variable, char, date_num, num
from trialreads.exports.timing import EPOCH_RULES, epoch, study_day


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
    """``TUORRES`` (Oncology CT C123650). ``MEASURED``: a PET lesion present at baseline;
    ``LOCATION_OF_INTEREST``: a PET scan's reference region (not a lesion)."""

    TARGET = "TARGET"
    NON_TARGET = "NON-TARGET"
    NEW = "NEW"
    MEASURED = "MEASURED"
    LOCATION_OF_INTEREST = "LOCATION OF INTEREST"


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
#: criterion -> RSCAT / PARCAT1, and -> the suffix of its ADaM parameter codes.
RSCAT: Mapping[str, str] = {c: entry.rscat for c, entry in CRITERIA_CODES.items()}
PARAM_SUFFIX: Mapping[str, str] = {c: entry.suffix for c, entry in CRITERIA_CODES.items()}
#: Criterion-level new-lesion codes -> NEWLPROG result.
NEWLPROG_VALUE = {"YES": "Y", "NO": "N", "EQUIVOCAL": "EQUIVOCAL", "NE": "NE"}
#: Timepoint codes with no RS record (not applicable; PET criteria have no non-target response).
NO_RECORD_CODES = frozenset({"NA", ""})
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
    #: itRECIST: injected at baseline (True/False) for a read classified injected /
    #: non-injected (SUPPTU ``INJECTED``); None for a read without the classification.
    injected: bool | None = None


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

    Bidimensional reads (irRC): ``perp_mm`` the perpendicular diameter of a non-nodal lesion,
    ``long_mm`` a node's long axis. PET lesions: ``sul_peak`` (``sul_max``, ``tlg``; ``mm``
    their CT size); a reference region: ``sul_mean`` and ``sul_sd``. ``newly_injected``: the
    lesion was first injected at this visit (itRECIST, SUPPTR ``INJFIRST``).
    """

    lesion_id: str
    status: MeasurementStatus = MeasurementStatus.MEASURED
    mm: Decimal | None = None
    state: str | None = None
    reason_not_done: str | None = None
    image_date: dt.date | None = None
    collected: str = ""
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None
    sul_peak: Decimal | None = None
    sul_max: Decimal | None = None
    tlg: Decimal | None = None
    sul_mean: Decimal | None = None
    sul_sd: Decimal | None = None
    newly_injected: bool = False


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
    ``prebaseline``: a scan before the baseline (tumour growth rate), with TR records only;
    ``sum_mm`` its target sum when it was read as a sum alone (``SUMDIAM``).
    """

    visitnum: int | Decimal
    visit: str
    date: dt.date
    results: tuple[LesionResult, ...] = ()
    baseline: bool = False
    scan_dates: tuple[dt.date, ...] = ()
    dtc: str = ""
    prebaseline: bool = False
    sum_mm: Decimal | None = None
    #: the rule that imputed ``date`` from ``dtc`` (``trialreads.exports.dates``), when partial
    imputation: str = ""


@dataclass(frozen=True)
class ReaderRead:
    """One evaluator's complete read of a subject and the engine's results on it.

    ``criteria`` maps a criterion id (``criteria.types.RECIST11``, ``IRRC``, ``PERCIST`` …,
    any of ``criteria_codes.CRITERIA_CODES``) to the engine's result for this read;
    ``analyses`` the growth family's analyses of the read as the engine gives them
    (``criteria.types.SubjectResult.analyses``: ``tgr``, ``pseudoprogression``,
    ``dissociated_response``), empty when the endpoint results carry none.
    """

    evaluator: Evaluator
    lesions: tuple[ExportLesion, ...]
    timepoints: tuple[ReaderTimepoint, ...]
    criteria: Mapping[str, CriterionResult] = field(default_factory=dict)
    analyses: Mapping[str, ExtraValue] = field(default_factory=dict)


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
    #: The sponsor's subject dates (ADSL): first dose (TRTSDT), last contact (LSTALVDT), the
    #: reference start date (RFSTDTC: day 1 of --DY, the boundary of the epochs).
    first_dose_date: dt.date | None = None
    last_contact_date: dt.date | None = None
    reference_start_date: dt.date | None = None


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
    #: the charter's rule for partial dates (``Charter.date_imputation``), for the metadata
    date_imputation: str = "nominal"
    #: the charter's epochs (``Charter.epoch_rule``, :data:`trialreads.exports.timing.EPOCH_RULES`;
    #: ``""``: none given, no EPOCH)
    epoch_rule: str = ""
    #: the engine settings the responses were evaluated with (name, value), for define.xml's methods
    settings: tuple[tuple[str, str], ...] = ()
    #: ``--DY`` in TU/TR/RS: ``None`` derives it (some subject has a reference start date);
    #: set once for the whole study before it is split by subject (:func:`build_response_domains`)
    study_days: bool | None = None


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

#: The subject-level dates the BICR derivations use (ADaM ADSL variables), one record per
#: subject of the transfer: the source ADTTE's SRCDOM/SRCVAR name (RANDDT, DTHDT).
ADSL_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("USUBJID", "Unique Subject Identifier"),
    char("RFSTDTC", "Subject Reference Start Date/Time"),
    date_num("RANDDT", "Date of Randomization"),
    date_num("TRTSDT", "Date of First Exposure to Treatment"),
    date_num("DTHDT", "Date of Death"),
    char("DTHFL", "Subject Death Flag"),
    date_num("LSTALVDT", "Date Last Known Alive"),
)

#: SUPPTU / SUPPTR (SDTMIG §8.4, supplemental qualifiers).
SUPP_VARS: tuple[Variable, ...] = (
    char("STUDYID", "Study Identifier"),
    char("RDOMAIN", "Related Domain Abbreviation"),
    char("USUBJID", "Unique Subject Identifier"),
    char("IDVAR", "Identifying Variable"),
    char("IDVARVAL", "Identifying Variable Value"),
    char("QNAM", "Qualifier Variable Name"),
    char("QLABEL", "Qualifier Variable Label"),
    char("QVAL", "Data Value"),
    char("QORIG", "Origin"),
    char("QEVAL", "Evaluator"),
)

DATASET_LABELS = {
    "TU": "Tumor/Lesion Identification",
    "TR": "Tumor/Lesion Results",
    "SUPPTU": "Supplemental Qualifiers for TU",
    "SUPPTR": "Supplemental Qualifiers for TR",
    "RS": "Disease Response and Clin Classification",
    "ADSL": "Subject-Level Analysis Dataset",
    "ADRS": "Response Analysis Dataset",
    "ADTTE": "Time-to-Event Analysis Dataset",
}

#: ADaM parameter stems: PARAMCD = stem + criterion suffix; PARAM = the text with the
#: criterion's response name (``CriterionCodes.response``, e.g. "Overall Metabolic Response").
OVR, BOR, CBOR, PFS = "OVR", "BOR", "CBOR", "PFS"


def paramcd(stem: str, criterion: str) -> str:
    return stem + PARAM_SUFFIX[criterion]


def criterion_codes(criterion: str) -> codes.CriterionCodes:
    """The criterion's names in the transfer; :class:`ExportInputError` for a criterion the
    table does not know (it could not be categorised in RS)."""
    found = CRITERIA_CODES.get(criterion)
    if found is None:
        raise ExportInputError(f"criterion {criterion!r} has no RSCAT (not in criteria_codes.CRITERIA_CODES)")
    return found


def ordered_criteria(results: Mapping[str, object]) -> list[str]:
    """The criteria of ``results`` in the transfer's order (the engine's: ``CRITERIA_CODES``)."""
    for criterion in results:
        criterion_codes(criterion)
    return [c for c in CRITERIA_CODES if c in results]


_T = TypeVar("_T")

# --- helpers ----------------------------------------------------------------------

#: All-None rows of the module's datasets, by identity of their variable tuple (constants).
_TEMPLATES: dict[int, dict[str, Value]] = {
    id(variables): dict.fromkeys(var.name for var in variables)
    for variables in (TU_VARS, TR_VARS, SUPP_VARS, RS_VARS, ADSL_VARS, ADRS_VARS, ADTTE_VARS)
}


# --- study days and epochs (when the sponsor gives the reference start date) ---------------


def has_study_days(study: ExportStudy) -> bool:
    """Whether TU/TR/RS carry ``--DY``: some subject has a reference start date."""
    if study.study_days is not None:
        return study.study_days
    return any(s.reference_start_date is not None for s in study.subjects)


def has_epochs(study: ExportStudy) -> bool:
    """Whether TU/TR/RS carry ``EPOCH``: the charter names epochs and ``--DY`` is there."""
    return study.epoch_rule in EPOCH_RULES and has_study_days(study)


@functools.lru_cache(maxsize=32)
def _timed(variables: tuple[Variable, ...], domain: str, days: bool, epochs: bool) -> tuple[Variable, ...]:
    """``variables`` with ``EPOCH`` after ``VISIT`` and ``--DY`` after ``--DTC`` (SDTMIG timing order)."""
    out: list[Variable] = []
    for var in variables:
        out.append(var)
        if var.name == "VISIT" and epochs:
            out.append(char("EPOCH", "Epoch"))
        if var.name == f"{domain}DTC" and days:
            out.append(num(f"{domain}DY", DAY_LABELS[domain]))
    return tuple(out)


DAY_LABELS = {
    "TU": "Study Day of Tumor/Lesion Identification",
    "TR": "Study Day of Tumor/Lesion Measurement",
    "RS": "Study Day of Assessment",
}


def domain_variables(study: ExportStudy, domain: str) -> tuple[Variable, ...]:
    """The variables of TU, TR or RS in this transfer (with ``--DY`` / ``EPOCH`` when given)."""
    base = {"TU": TU_VARS, "TR": TR_VARS, "RS": RS_VARS}[domain]
    return _timed(base, domain, has_study_days(study), has_epochs(study))


def _add_timing(
    study: ExportStudy, subject: ExportSubject, domain: str, rows: Sequence[dict[str, Value]],
    visit_dtc: Mapping[tuple[Value, Value], str | None] | None = None,
) -> None:  # fmt: skip
    """Set ``--DY`` and ``EPOCH`` on the subject's ``rows`` (when the transfer has them): from
    the record's ``--DTC``, or for a record without one (``SUMDIAM``) EPOCH from its visit's
    date (``visit_dtc``: (evaluator, VISITNUM) -> the visit's ``--DTC``)."""
    days, epochs = has_study_days(study), has_epochs(study)
    if not (days or epochs):
        return
    reference, dtc_var = subject.reference_start_date, f"{domain}DTC"
    for row in rows:
        dtc = row[dtc_var]
        text = dtc if isinstance(dtc, str) else None
        if days:
            row[f"{domain}DY"] = study_day(text, reference)
        if epochs:
            if text is None and visit_dtc is not None:
                text = visit_dtc.get((row[f"{domain}EVALID"], row["VISITNUM"]))
            row["EPOCH"] = epoch(text, reference, study.epoch_rule)


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


_BASELINE_ROLES = frozenset({LesionRole.TARGET, LesionRole.NON_TARGET, LesionRole.MEASURED})


def _lesion_image_date(tp: ReaderTimepoint | None, lesion: ExportLesion) -> dt.date | None:
    if tp is None:
        return None
    return next((r.image_date for r in tp.results if r.lesion_id == lesion.lesion_id), None)


def _identifying_visit(
    read: ReaderRead, lesion: ExportLesion
) -> tuple[ReaderTimepoint | None, dt.date | None]:
    """Baseline visit for targets, non-targets and PET lesions measured at baseline; first
    visit with a result for new lesions and for a reference region."""
    tps = _timepoints(read)
    if lesion.role in _BASELINE_ROLES:
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
        first = len(rows)
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
        _add_timing(study, subject, "TU", rows[first:])
    return Dataset("TU", DATASET_LABELS["TU"], domain_variables(study, "TU"), _number(rows, "TUSEQ"))


# --- TR ---------------------------------------------------------------------------


def _diameter_test(lesion: ExportLesion) -> TestCode:
    """The test of a lesion's primary value: a node's short axis, another lesion's longest diameter."""
    return codes.LPERP if lesion.nodal else codes.LDIAM


def _number_values(value: Decimal, unit: str, collected: str = "") -> dict[str, Value]:
    """A numeric result: ``TRORRES`` as collected (or as entered), standardised text and number."""
    return {
        "TRORRES": collected or str(value),
        "TRORRESU": unit,
        "TRSTRESC": decimal_text(value),
        "TRSTRESN": value,
        "TRSTRESU": unit,
    }


def _not_done(result: LesionResult) -> dict[str, Value]:
    return {"TRSTAT": "NOT DONE", "TRREASND": result.reason_not_done}


def _measurement_values(result: LesionResult, where: str) -> dict[str, Value]:
    if result.status is MeasurementStatus.NOT_DONE:
        return _not_done(result)
    if result.status is MeasurementStatus.TOO_SMALL:
        return {
            "TRORRES": TOO_SMALL_TEXT,
            "TRSTRESC": decimal_text(TOO_SMALL_MM),
            "TRSTRESN": TOO_SMALL_MM,
            "TRSTRESU": "mm",
        }
    if result.mm is None:
        raise ExportInputError(f"{where}: measured lesion {result.lesion_id} has no mm")
    return _number_values(result.mm, "mm", result.collected)


def _state_values(result: LesionResult, where: str) -> dict[str, Value]:
    if result.status is MeasurementStatus.NOT_DONE:
        return _not_done(result)
    if result.state not in TUMOR_STATES:
        raise ExportInputError(
            f"{where}: lesion {result.lesion_id} state {result.state!r} not in {sorted(TUMOR_STATES)}"
        )
    return {"TRORRES": result.state, "TRSTRESC": result.state}


Record = tuple[TestCode, dict[str, Value]]


def _diameter_records(lesion: ExportLesion, result: LesionResult, where: str) -> list[Record]:
    """The primary value, with the second diameter of a bidimensional read (irRC) beside it:
    a node's long axis (``LDIAM``) before its short axis, a non-nodal lesion's perpendicular
    (``LPERP``) after its longest diameter."""
    primary = (_diameter_test(lesion), _measurement_values(result, where))
    if result.status is not MeasurementStatus.MEASURED:
        return [primary]
    if lesion.nodal:
        second = result.long_mm
        return [(codes.LDIAM, _number_values(second, "mm")), primary] if second is not None else [primary]
    if result.perp_mm is not None:
        return [primary, (codes.LPERP, _number_values(result.perp_mm, "mm"))]
    return [primary]


def _pet_records(result: LesionResult, where: str) -> list[Record]:
    """A PET lesion: SULpeak (SULmax, TLG where recorded) and its CT size (``LDIAM``)."""
    if result.status is MeasurementStatus.NOT_DONE:
        return [(codes.SULPEAK, _not_done(result))]
    if result.sul_peak is None:
        raise ExportInputError(f"{where}: PET lesion {result.lesion_id} has no SULpeak")
    out: list[Record] = [(codes.SULPEAK, _number_values(result.sul_peak, codes.SULPEAK.unit))]
    for test, value in ((codes.SULMAX, result.sul_max), (codes.TLG, result.tlg), (codes.LDIAM, result.mm)):
        if value is not None:
            out.append((test, _number_values(value, test.unit)))
    return out


def _reference_records(result: LesionResult, where: str) -> list[Record]:
    """A PET scan's reference region: its SUL mean and standard deviation."""
    if result.status is MeasurementStatus.NOT_DONE:
        return [(codes.SULMEAN, _not_done(result))]
    if result.sul_mean is None:
        raise ExportInputError(f"{where}: reference region {result.lesion_id} has no SUL mean")
    out: list[Record] = [(codes.SULMEAN, _number_values(result.sul_mean, codes.SULMEAN.unit))]
    if result.sul_sd is not None:
        out.append((codes.SULSD, _number_values(result.sul_sd, codes.SULSD.unit)))
    return out


def _lesion_records(lesion: ExportLesion, result: LesionResult, where: str) -> list[Record]:
    """The TR records of one lesion at one visit, in order (diameters before the state)."""
    role = lesion.role
    if role is LesionRole.TARGET:
        return _diameter_records(lesion, result, where)
    if role is LesionRole.NON_TARGET:
        return [(codes.TUMSTATE, _state_values(result, where))]
    if role is LesionRole.LOCATION_OF_INTEREST:
        return _reference_records(result, where)
    if role is LesionRole.MEASURED or result.sul_peak is not None:
        return _pet_records(result, where)
    out = _diameter_records(lesion, result, where) if result.mm is not None else []  # a new lesion
    return [*out, (codes.TUMSTATE, _state_values(result, where))]


def _standard_mm(result: LesionResult | None) -> Decimal | None:
    if result is None or result.status is MeasurementStatus.NOT_DONE:
        return None
    return TOO_SMALL_MM if result.status is MeasurementStatus.TOO_SMALL else result.mm


def _sum_values(tp: ReaderTimepoint, targets: Sequence[ExportLesion]) -> dict[str, Value]:
    """``SUMDIAM``'s result: the sum read at a pre-baseline scan, else the sum of the targets'
    standardised values, ``NOT DONE`` when one was not assessed."""
    if tp.sum_mm is not None:
        return _number_values(tp.sum_mm, "mm")
    by_id = {r.lesion_id: r for r in tp.results}
    values = [_standard_mm(by_id.get(lesion.lesion_id)) for lesion in targets]
    if all(v is not None for v in values):
        total = sum((v for v in values if v is not None), Decimal(0))
        return _number_values(total, "mm")
    return {"TRSTAT": "NOT DONE", "TRREASND": "NOT ALL TARGET LESIONS ASSESSED"}


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
        for test, values in _lesion_records(lesion, result, where):
            rows.append({**base, "TRTESTCD": test.testcd, "TRTEST": test.test, **values})
    targets = [lesion for lesion in read.lesions if lesion.role is LesionRole.TARGET]
    if targets or tp.sum_mm is not None:
        rows.append(
            {
                **common,
                "TRGRPID": "TARGET",
                "TRTESTCD": codes.SUMDIAM.testcd,
                "TRTEST": codes.SUMDIAM.test,
                **_sum_values(tp, targets),
            }
        )
    return [_ordered(TR_VARS, row) for row in rows]


def build_tr(study: ExportStudy) -> Dataset:
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        _check_subject(subject)
        numbers = _assessment_numbers(subject)
        first = len(rows)
        for read in _reads(subject):
            for tp in _timepoints(read):
                rows += _tr_rows_for_visit(study, subject, read, tp, _link_group(read, numbers, tp))
        _add_timing(study, subject, "TR", rows[first:], _visit_dtc(subject))
    return Dataset("TR", DATASET_LABELS["TR"], domain_variables(study, "TR"), _number(rows, "TRSEQ"))


def _visit_dtc(subject: ExportSubject) -> dict[tuple[Value, Value], str | None]:
    """(evaluator, VISITNUM) -> the visit's date as SDTM writes it (collected partial, else its date)."""
    return {
        (read.evaluator.value, tp.visitnum): tp.dtc or iso(tp.date)
        for read in subject.reads
        for tp in read.timepoints
    }


# --- SUPPTU / SUPPTR: the itRECIST classification -----------------------------------


def _supp_row(
    study: ExportStudy, rdomain: str, parent: Mapping[str, Value], qualifier: tuple[str, str], value: str
) -> dict[str, Value]:
    qnam, qlabel = qualifier
    seq_var = f"{rdomain}SEQ"
    return {
        "STUDYID": study.studyid,
        "RDOMAIN": rdomain,
        "USUBJID": parent["USUBJID"],
        "IDVAR": seq_var,
        "IDVARVAL": str(parent[seq_var]),
        "QNAM": qnam,
        "QLABEL": qlabel,
        "QVAL": value,
        "QORIG": "CRF",
        "QEVAL": EVAL,
    }


def build_supptu(study: ExportStudy, tu: Dataset) -> Dataset:
    """``INJECTED`` (Y/N) on the TU record of every lesion classified injected / non-injected
    (itRECIST), in TU order."""
    flags: dict[tuple[Value, Value], bool] = {
        (subject.usubjid, _lesion_link(read, lesion.lesion_id)): lesion.injected
        for subject in study.subjects
        for read in subject.reads
        for lesion in read.lesions
        if lesion.injected is not None
    }
    rows = [
        _supp_row(study, "TU", row, codes.SUPP_INJECTED, "Y" if injected else "N")
        for row in tu.rows
        if (injected := flags.get((row["USUBJID"], row["TULNKID"]))) is not None
    ]
    return Dataset("SUPPTU", DATASET_LABELS["SUPPTU"], SUPP_VARS, rows)


def build_supptr(study: ExportStudy, tr: Dataset) -> Dataset:
    """``INJFIRST`` = Y on every TR record of a lesion at the visit it was first injected
    (itRECIST), in TR order."""
    first: set[tuple[Value, Value, Value]] = {
        (subject.usubjid, _lesion_link(read, result.lesion_id), tp.visitnum)
        for subject in study.subjects
        for read in subject.reads
        for tp in read.timepoints
        for result in tp.results
        if result.newly_injected
    }
    rows = [
        _supp_row(study, "TR", row, codes.SUPP_INJECTED_FIRST, "Y")
        for row in (tr.rows if first else ())
        if (row["USUBJID"], row["TRLNKID"], row["VISITNUM"]) in first
    ]
    return Dataset("SUPPTR", DATASET_LABELS["SUPPTR"], SUPP_VARS, rows)


# --- RS ---------------------------------------------------------------------------


def by_date_convention(code: str, earliest: _T, latest: _T) -> _T:
    """CR/PR at the latest image date of the visit, anything else at the earliest (§3.3)."""
    return latest if code in LATEST_DATE_CODES else earliest


def response_date(code: str, tp: ReaderTimepoint) -> dt.date:
    """The date of response ``code`` at visit ``tp`` (:func:`by_date_convention`)."""
    dates = _image_dates(tp)
    return by_date_convention(code, dates[0], dates[-1])


def _match_timepoint(read: ReaderRead, result: TimepointResult, where: str) -> ReaderTimepoint:
    matches = [tp for tp in read.timepoints if tp.date == result.date and not (tp.baseline or tp.prebaseline)]
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
            for criterion in ordered_criteria(read.criteria):
                result = read.criteria[criterion]
                entry = CRITERIA_CODES[criterion]
                common: dict[str, Value] = {
                    "STUDYID": study.studyid,
                    "DOMAIN": "RS",
                    "USUBJID": subject.usubjid,
                    "RSCAT": entry.rscat,
                    "RSEVAL": EVAL,
                    "RSEVALID": read.evaluator.value,
                    "RSACPTFL": accepted,
                }
                where = f"{subject.usubjid} {read.evaluator.value} {entry.rscat}"
                tps = sorted(
                    ((_match_timepoint(read, r, where), r) for r in result.timepoints),
                    key=lambda pair: pair[0].visitnum,
                )
                tests = (*RS_TESTS, *((x.testcd, x.test) for x in entry.extra_tests))
                for tp, tpr in tps:
                    values = {
                        "TRGRESP": tpr.target,
                        "NTRGRESP": tpr.non_target,
                        "NEWLPROG": NEWLPROG_VALUE.get(tpr.new_lesions, tpr.new_lesions),
                        "OVRLRESP": tpr.overall,
                    }
                    for extra in entry.extra_tests:  # the criterion's own (itRECIST's groups)
                        found = tpr.extra.get(extra.key)
                        values[extra.testcd] = found if isinstance(found, str) else ""
                    group = _link_group(read, numbers, tp) if tp.visitnum in grouped else None
                    dates = _image_dates(tp)  # response_date()'s dates, once per visit
                    earliest, latest = iso(dates[0]), iso(dates[-1])
                    for testcd, test in tests:
                        code = values[testcd]
                        if code in NO_RECORD_CODES:  # not applicable (e.g. no target lesions): no record
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
        _add_timing(study, subject, "RS", rows[first:])
    return Dataset("RS", DATASET_LABELS["RS"], domain_variables(study, "RS"), _number(rows, "RSSEQ"))


# --- ADaM -------------------------------------------------------------------------


def _accepted_overall(
    rs: Dataset, usubjid: str, criterion: str, testcd: str = "OVRLRESP"
) -> list[dict[str, Value]]:
    """The accepted evaluator's ``testcd`` records of one criterion, in visit order."""
    return [
        row
        for row in rs.rows
        if row["USUBJID"] == usubjid
        and row["RSTESTCD"] == testcd
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


def _timepoint_params(
    study: ExportStudy,
    read: ReaderRead,
    common: Mapping[str, Value],
    records: Sequence[dict[str, Value]],
    code: str,
    param: str,
) -> list[dict[str, Value]]:
    """One ADRS record per accepted RS timepoint record (OVR and the criterion's own)."""
    rows: list[dict[str, Value]] = []
    for rec in records:
        adt, adtf = _analysis_date(read, rec)
        in_cut = study.data_cutoff is None or (adt is not None and adt <= study.data_cutoff)
        rows.append(
            {
                **common,
                "PARAMCD": code,
                "PARAM": param,
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
    return rows


def _best_params(
    read: ReaderRead,
    criterion: str,
    result: CriterionResult,
    overall: Sequence[dict[str, Value]],
    common: Mapping[str, Value],
) -> list[dict[str, Value]]:
    """BOR and CBOR: the visit the engine dated them at (CBOR without a date: the first visit
    with that response). ADT is that visit's RSDTC, so BOR and OVR share one date convention
    (§3.3)."""
    entry = CRITERIA_CODES[criterion]
    bor_rec = _overall_record_at(read, result, overall, result.bor_date)
    bor_adt, bor_adtf = _analysis_date(read, bor_rec) if bor_rec else (result.bor_date, None)
    cbor_rec = _overall_record_at(read, result, overall, result.bor_confirmed_date) or next(
        (r for r in overall if r["RSSTRESC"] == result.bor_confirmed), None
    )
    cbor_adt, cbor_adtf = _analysis_date(read, cbor_rec) if cbor_rec else (result.bor_confirmed_date, None)
    derived: tuple[tuple[str, str, str | None, dt.date | None, str | None, dict[str, Value] | None], ...] = (
        (BOR, f"Best {entry.response} by BICR", result.bor, bor_adt, bor_adtf, bor_rec),
        (CBOR, f"Confirmed Best {entry.response} by BICR", result.bor_confirmed, cbor_adt, cbor_adtf,
         cbor_rec),
    )
    return [
        {
            **common,
            "PARAMCD": paramcd(stem, criterion),
            "PARAM": f"{text}, {entry.rscat}",
            "AVALC": value,
            "ADT": adt,
            "ADTF": adtf,
            "ANL01FL": "Y",
            "SRCDOM": "RS" if source else None,
            "SRCVAR": "RSSTRESC" if source else None,
            "SRCSEQ": source["RSSEQ"] if source else None,
        }
        for stem, text, value, adt, adtf, source in derived
    ]


def _extra_best_params(
    criterion: str, result: CriterionResult, common: Mapping[str, Value]
) -> list[dict[str, Value]]:
    """The criterion's own best responses (itRECIST's injected / non-injected BOR), from the
    result's ``extra``; none when the result does not carry them."""
    rows: list[dict[str, Value]] = []
    for best in CRITERIA_CODES[criterion].extra_best:
        if best.key not in result.extra:
            continue
        value, date = result.extra[best.key], result.extra.get(best.date_key)
        rows.append(
            {
                **common,
                "PARAMCD": best.paramcd,
                "PARAM": best.param,
                "AVALC": value if isinstance(value, str) else None,
                "ADT": date if isinstance(date, dt.date) else None,
                "ANL01FL": "Y",
            }
        )
    return rows


def _flag_row(common: Mapping[str, Value], code: str, param: str, flag: object) -> dict[str, Value]:
    value = flag if isinstance(flag, bool) else None
    return {**common, "PARAMCD": code, "PARAM": param, "AVALC": codes.FLAG_VALUE[value], "ANL01FL": "Y"}


def _pseudoprogression_params(
    analyses: Mapping[str, ExtraValue], criterion: str, common: Mapping[str, Value]
) -> list[dict[str, Value]]:
    """PSPD + suffix: whether the criterion's progression was negated (a pseudoprogression,
    ``criteria.growth.pseudoprogression``), when the read's analyses carry it."""
    block = analyses.get("pseudoprogression")
    item = block.get(criterion) if isinstance(block, Mapping) else None
    if not isinstance(item, Mapping):
        return []
    stem, text = codes.PSEUDOPROGRESSION_STEM
    entry = CRITERIA_CODES[criterion]
    flag = item.get("pseudoprogression")
    return [_flag_row(common, paramcd(stem, criterion), f"{text}, {entry.rscat}", flag)]


def _growth_params(study: ExportStudy, subject: ExportSubject, analyses: Mapping[str, ExtraValue]) -> list[
    dict[str, Value]
]:
    """Hyperprogression per definition and dissociated response (the read's ``tgr`` and
    ``dissociated_response`` analyses), ``PARCAT1`` :data:`~criteria_codes.GROWTH_PARCAT`."""
    common: dict[str, Value] = {
        "STUDYID": study.studyid,
        "USUBJID": subject.usubjid,
        "PARCAT1": codes.GROWTH_PARCAT,
    }
    rows: list[dict[str, Value]] = []
    tgr = analyses.get("tgr")
    definitions = tgr.get("hyperprogression") if isinstance(tgr, Mapping) else None
    for name, item in (definitions.items() if isinstance(definitions, Mapping) else ()):
        known = codes.HYPERPROGRESSION_PARAMS.get(str(name))
        if known is None:
            why = f"hyperprogression definition {name!r} has no parameter"
            raise ExportInputError(f"{subject.usubjid}: {why}")
        flag = item.get("hpd") if isinstance(item, Mapping) else None
        rows.append(_flag_row(common, *known, flag))
    dissociated = analyses.get("dissociated_response")
    if isinstance(dissociated, Mapping):
        rows.append(_flag_row(common, *codes.DISSOCIATED_PARAM, dissociated.get("dissociated")))
    return rows


def build_adsl(study: ExportStudy) -> Dataset:
    """One record per subject of the transfer with the subject-level dates of the trial
    (randomisation, first dose, death, last contact, the reference start date): the dataset
    ADTTE's ``SRCDOM = "ADSL"`` names (STARTDT from RANDDT, a death event from DTHDT)."""
    rows = [
        _ordered(
            ADSL_VARS,
            {
                "STUDYID": study.studyid,
                "USUBJID": subject.usubjid,
                "RFSTDTC": iso(subject.reference_start_date),
                "RANDDT": subject.randomisation_date,
                "TRTSDT": subject.first_dose_date,
                "DTHDT": subject.death_date,
                "DTHFL": _flag(subject.death_date is not None),
                "LSTALVDT": subject.last_contact_date,
            },
        )
        for subject in sorted(study.subjects, key=lambda s: s.usubjid)
    ]
    return Dataset("ADSL", DATASET_LABELS["ADSL"], ADSL_VARS, rows)


def build_adrs(study: ExportStudy, rs: Dataset) -> Dataset:
    """Per criterion OVR (and its own timepoint parameters), BOR, CBOR (and its own best
    responses) and the pseudoprogression flag; then the subject's growth flags; from the
    accepted evaluator only (RSACPTFL="Y")."""
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        read = _accepted_read(subject)
        for criterion in ordered_criteria(read.criteria):
            result = read.criteria[criterion]
            entry = CRITERIA_CODES[criterion]
            common: dict[str, Value] = {
                "STUDYID": study.studyid,
                "USUBJID": subject.usubjid,
                "PARCAT1": entry.rscat,
            }
            overall = _accepted_overall(rs, subject.usubjid, criterion)
            ovr_param = f"{entry.response} by BICR, {entry.rscat}"
            rows += _timepoint_params(study, read, common, overall, paramcd(OVR, criterion), ovr_param)
            for extra in entry.extra_tests:
                own = _accepted_overall(rs, subject.usubjid, criterion, extra.testcd)
                rows += _timepoint_params(study, read, common, own, extra.paramcd, extra.param)
            rows += _best_params(read, criterion, result, overall, common)
            rows += _extra_best_params(criterion, result, common)
            rows += _pseudoprogression_params(read.analyses, criterion, common)
        rows += _growth_params(study, subject, read.analyses)
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
        progression_codes=criterion_codes(criterion).progression,
    )


def build_adtte(study: ExportStudy, rs: Dataset) -> Dataset:
    """One PFS record per subject × criterion (PFS, PFSI, PFSIM, PFSIRC, PFSPC …), each by its
    criterion's censoring table (``censoring.PFS_RULES``); AVAL = ADT − STARTDT + 1."""
    rows: list[dict[str, Value]] = []
    for subject in sorted(study.subjects, key=lambda s: s.usubjid):
        read = _accepted_read(subject)
        for criterion in ordered_criteria(read.criteria):
            entry = CRITERIA_CODES[criterion]
            outcome: PfsOutcome = censor_pfs(pfs_input(study, subject, criterion, rs), PFS_RULES[criterion])
            rows.append(
                _ordered(
                    ADTTE_VARS,
                    {
                        "STUDYID": study.studyid,
                        "USUBJID": subject.usubjid,
                        "PARAMCD": paramcd(PFS, criterion),
                        "PARAM": f"{entry.pfs} by BICR, {entry.rscat} (days)",
                        "PARCAT1": entry.rscat,
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
    """TU, TR, SUPPTU and SUPPTR (when they have records: itRECIST), RS, ADSL, ADRS, ADTTE in
    that order."""
    rs = build_rs(study)
    return (*_tumour_domains(study), rs, build_adsl(study), build_adrs(study, rs), build_adtte(study, rs))


def _tumour_domains(study: ExportStudy) -> tuple[Dataset, ...]:
    tu, tr = build_tu(study), build_tr(study)
    supp = (build_supptu(study, tu), build_supptr(study, tr))
    return (tu, tr, *(ds for ds in supp if ds.rows))


# --- the transfer in two independent halves ----------------------------------------


def build_tumour_domains(study: ExportStudy) -> tuple[Dataset, ...]:
    """TU, TR and their supplemental qualifiers, as in :func:`build_all` (none looks across
    subjects)."""
    return _tumour_domains(study)


def build_response_domains(study: ExportStudy) -> tuple[Dataset, Dataset, Dataset, Dataset]:
    """RS, ADSL, ADRS and ADTTE, as in :func:`build_all`, built one subject at a time.

    The ADaM builders look up a subject's RS records by scanning the RS rows, which over the
    whole study is quadratic (minutes at 2000 subjects). Every builder sorts by USUBJID and
    numbers ``--SEQ`` per USUBJID (``SRCSEQ`` points into the subject's own RS records), so
    the per-subject datasets, in USUBJID order, concatenate to the whole-study ones.
    """
    subjects = sorted(study.subjects, key=lambda s: s.usubjid)
    study = replace(study, study_days=has_study_days(study))  # one set of variables for all
    adsl = build_adsl(study)
    if len(subjects) < 2:
        rs = build_rs(study)
        return rs, adsl, build_adrs(study, rs), build_adtte(study, rs)
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
        Dataset("RS", DATASET_LABELS["RS"], domain_variables(study, "RS"), rs_rows),
        adsl,
        Dataset("ADRS", DATASET_LABELS["ADRS"], ADRS_VARS, adrs_rows),
        Dataset("ADTTE", DATASET_LABELS["ADTTE"], ADTTE_VARS, adtte_rows),
    )


def build_transfer(study: ExportStudy) -> tuple[Dataset, ...]:
    """The same datasets as :func:`build_all`, linear in the number of subjects."""
    return build_tumour_domains(study) + build_response_domains(study)
