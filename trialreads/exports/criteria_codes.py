"""The transfer's vocabulary per criterion and per measurement, held as data.

One row per criterion the engine evaluates (``criteria.evaluate.AVAILABLE``, in that order):
its ``RSCAT`` (also ADaM ``PARCAT1``), the suffix of its ADaM parameter codes, the names of
its parameters, the timepoint codes that are a progression (PFS censoring,
:mod:`trialreads.exports.censoring`), and the tests and parameters of its own (itRECIST's
injected / non-injected responses). The builders in :mod:`trialreads.exports.datasets` look
everything up here; none of them branches on a criterion.

Sources (CDISC Controlled Terminology, SDTM package 2025-03-25, as published by NCI EVS and
packaged by the ``sdtm.terminology`` R package; check against the CT version of the data
transfer agreement, cdisc-export.md):

* ``RSCAT``: codelist C124298 "Category of Oncology Response Assessment" (extensible) has
  ``RECIST 1.1`` (C124415), ``iRECIST`` (C136711), ``PERCIST`` (C126039), ``itRECIST
  GOLDMACHER 2020`` (C179781, synonym "Intratumoral RECIST") and ``WOLCHOK SOLID TUMORS
  2009`` (C126051, synonyms irRC; irRECIST). irRC takes the Wolchok term. irRECIST (Bohnsack
  2014 / Nishino 2013: unidimensional, its own timepoint responses) is listed there only as a
  synonym of Wolchok 2009, and one RS dataset needs one category per criterion, so it gets the
  sponsor-extended ``irRECIST``; ``imRECIST``, ``iPERCIST``, ``imPERCIST5`` and ``PERCIMT``
  have no term and are sponsor extensions too (cdisc-export.md §3.6), named as the criteria.
* Timepoint codes are the engine's (``RSORRES``/``RSSTRESC``); C96785 "Oncology Response
  Assessment Result" has the RECIST, iRECIST, irRC (irCR, irPR, irSD, irPD) and PERCIST
  (CMR, PMR, SMD, PMD) codes; irNN, UPMD and CPMD are sponsor extensions.
* TR test codes: codelist C96779 "Tumor or Lesion Properties Test Code" (extensible):
  ``LDIAM`` Longest Diameter (C96684), ``LPERP`` Longest Perpendicular (C96685, synonym
  "Short Axis Diameter"), ``SUMDIAM`` Sum of Diameter (C96631), ``TUMSTATE`` (C96643),
  ``SULPEAK`` (C181547), ``SULMAX`` (C181545) and ``SULMEAN`` (C181546), the SUV corrected
  for lean body mass. CT has no code for total lesion glycolysis nor for the standard
  deviation of a reference region's SUL: ``TLG`` and ``SULSD`` are sponsor extensions.
  A node's long axis is its longest diameter (``LDIAM``), its short axis ``LPERP`` (as the
  RECIST supplement's examples); a non-nodal lesion's perpendicular diameter (irRC) is
  ``LPERP`` beside its ``LDIAM``.
* Units (C71620): ``mm``; ``g`` for TLG (SUL x mL). SUL is written ``g/mL`` (the usual unit
  of an SUV), a sponsor extension: CT has the equivalent ``g/cm3`` but no ``g/mL``.
* TU: a PET lesion seen at baseline is ``MEASURED`` ("present at baseline and will be
  quantifiably measured"), one first seen later ``NEW``, and the PET reference region (liver,
  or the blood pool when the liver is abnormal) ``LOCATION OF INTEREST`` (all C123650) with
  ``TULOC`` ``LIVER`` or ``DESCENDING AORTA`` (C74456; PERCIST measures the blood pool in the
  descending thoracic aorta). Its mean and SD are TR records linked to that TU record.
* The itRECIST injected flag has no TU/TR test in CT: it is a supplemental qualifier
  (SDTMIG §8.4): ``SUPPTU`` ``QNAM=INJECTED`` ("Y"/"N") on each baseline lesion of a read with
  the classification, ``SUPPTR`` ``QNAM=INJFIRST`` ("Y") on the TR records of a lesion at the
  visit it was first injected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from criteria.types import (
    IMPERCIST5,
    IMRECIST,
    IPERCIST,
    IRECIST,
    IRRC,
    IRRECIST,
    ITRECIST,
    PERCIMT,
    PERCIST,
    RECIST11,
)

#: Progression codes of the vocabularies (criteria.endpoints).
_RECIST_PD = frozenset({"PD"})
_IRECIST_PD = frozenset({"iUPD", "iCPD"})
_IR_PD = frozenset({"irPD"})
_PERCIST_PD = frozenset({"PMD"})
_IPERCIST_PD = frozenset({"UPMD", "CPMD"})


@dataclass(frozen=True)
class ExtraTest:
    """An RS test of a criterion's own, taken from each timepoint result's ``extra[key]``, and
    the ADRS timepoint parameter (``paramcd``/``param``) that analyses its accepted records."""

    testcd: str
    test: str
    key: str
    paramcd: str
    param: str


@dataclass(frozen=True)
class ExtraBest:
    """An ADRS subject-level parameter of a criterion's own, from the criterion result's
    ``extra[key]`` (its date ``extra[date_key]``); no record when the result has no such key."""

    paramcd: str
    param: str
    key: str
    date_key: str


@dataclass(frozen=True)
class CriterionCodes:
    """One criterion's names in the transfer. ``ct_code`` is the NCI code of ``rscat`` in
    C124298, empty for a sponsor extension. ADaM codes are stem + ``suffix`` (``OVR``,
    ``BOR``, ``CBOR``, ``PFS``, ``PSPD``)."""

    criterion: str
    rscat: str
    ct_code: str
    suffix: str
    response: str  # PARAM of OVR (BOR and CBOR: "Best ..." / "Confirmed Best ...")
    pfs: str  # PARAM of PFS
    progression: frozenset[str]
    extra_tests: tuple[ExtraTest, ...] = ()
    extra_best: tuple[ExtraBest, ...] = ()


_OVERALL = "Overall Response"
_METABOLIC = "Overall Metabolic Response"
_IMMUNE = "Immune-Related Overall Response"
_PFS = "Progression-Free Survival"
_METABOLIC_PFS = "Metabolic Progression-Free Survival"
_IMMUNE_PFS = "Immune-Related Progression-Free Survival"

_ITRECIST_TESTS = (
    ExtraTest("INJRESP", "Injected Lesions Overall Response", "injected_response", "OVRINJ",
              "Overall Response of Injected Lesions by BICR, itRECIST"),
    ExtraTest("NINJRESP", "Non-injected Lesions Overall Response", "non_injected_response", "OVRNINJ",
              "Overall Response of Non-injected Lesions by BICR, itRECIST"),
)
_ITRECIST_BEST = (
    ExtraBest("BORINJ", "Best Overall Response of Injected Lesions by BICR, itRECIST", "injected_bor",
              "injected_bor_date"),
    ExtraBest("BORNINJ", "Best Overall Response of Non-injected Lesions by BICR, itRECIST",
              "non_injected_bor", "non_injected_bor_date"),
)

#: criterion -> its codes, in the engine's order (``criteria.evaluate.AVAILABLE``).
CRITERIA_CODES: Mapping[str, CriterionCodes] = MappingProxyType({
    c.criterion: c
    for c in (
        CriterionCodes(RECIST11, "RECIST 1.1", "C124415", "", _OVERALL, _PFS, _RECIST_PD),
        CriterionCodes(IRECIST, "iRECIST", "C136711", "I", _OVERALL, _PFS, _IRECIST_PD),
        CriterionCodes(IMRECIST, "imRECIST", "", "IM", _OVERALL, _PFS, _RECIST_PD),
        CriterionCodes(PERCIST, "PERCIST", "C126039", "PC", _METABOLIC, _METABOLIC_PFS, _PERCIST_PD),
        CriterionCodes(IPERCIST, "iPERCIST", "", "IPC", _METABOLIC, _METABOLIC_PFS, _IPERCIST_PD),
        CriterionCodes(IMPERCIST5, "imPERCIST5", "", "IMPC", _METABOLIC, _METABOLIC_PFS, _PERCIST_PD),
        CriterionCodes(PERCIMT, "PERCIMT", "", "PMT", _METABOLIC, _METABOLIC_PFS, _PERCIST_PD),
        CriterionCodes(IRRC, "WOLCHOK SOLID TUMORS 2009", "C126051", "IRC", _IMMUNE, _IMMUNE_PFS, _IR_PD),
        CriterionCodes(IRRECIST, "irRECIST", "", "IRR", _IMMUNE, _IMMUNE_PFS, _IR_PD),
        # assessed by iRECIST (default) or RECIST 1.1 (setting itrecist_overall_basis)
        CriterionCodes(ITRECIST, "itRECIST GOLDMACHER 2020", "C179781", "IT", _OVERALL, _PFS,
                       _RECIST_PD | _IRECIST_PD, _ITRECIST_TESTS, _ITRECIST_BEST),
    )
})

#: Responses dated at the latest image of the visit (complete and partial responses of every
#: vocabulary); all others at the earliest (cdisc-export.md §3.3).
LATEST_DATE_CODES = frozenset({"CR", "PR", "iCR", "iPR", "irCR", "irPR", "CMR", "PMR"})


@dataclass(frozen=True)
class TestCode:
    """A TR test: ``TRTESTCD``, ``TRTEST`` (at most 40 characters) and the unit, empty for a
    qualitative result."""

    testcd: str
    test: str
    unit: str = ""


LDIAM = TestCode("LDIAM", "Longest Diameter", "mm")
LPERP = TestCode("LPERP", "Longest Perpendicular", "mm")
SUMDIAM = TestCode("SUMDIAM", "Sum of Diameter", "mm")
TUMSTATE = TestCode("TUMSTATE", "Tumor State")
SULPEAK = TestCode("SULPEAK", "SUV Peak Corrected for Lean Body Mass", "g/mL")
SULMAX = TestCode("SULMAX", "SUV Maximum Corrected for Lean Body Mass", "g/mL")
TLG = TestCode("TLG", "Total Lesion Glycolysis", "g")  # sponsor extension
SULMEAN = TestCode("SULMEAN", "SUV Mean Corrected for Lean Body Mass", "g/mL")
SULSD = TestCode("SULSD", "SUV SD Corrected for Lean Body Mass", "g/mL")  # sponsor extension

#: PET reference site (``choices.PetReferenceSite`` values) -> ``TULOC``.
REFERENCE_LOCATION: Mapping[str, str] = MappingProxyType({"liver": "LIVER", "blood_pool": "DESCENDING AORTA"})

#: Supplemental qualifiers of the itRECIST classification: (QNAM, QLABEL).
SUPP_INJECTED = ("INJECTED", "Injected Lesion at Baseline")
SUPP_INJECTED_FIRST = ("INJFIRST", "Lesion First Injected at This Visit")

# --- the growth family's subject-level flags (ADRS) ---------------------------------------

#: Hyperprogression definitions (``criteria.growth``, setting ``hyperprogression_definitions``)
#: -> (PARAMCD, PARAM).
HYPERPROGRESSION_PARAMS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "champiat2017": ("HPDCHAMP", "Hyperprogression by BICR, Champiat 2017"),
    "saada_bouzid2017": ("HPDSAADA", "Hyperprogression by BICR, Saada-Bouzid 2017"),
    "ferrara2018": ("HPDFERRA", "Hyperprogression by BICR, Ferrara 2018"),
    "kas2020": ("HPDKAS", "Hyperprogression by BICR, Kas 2020"),
    "kato2017": ("HPDKATO", "Hyperprogression by BICR, Kato 2017"),
    "lo_russo2019": ("HPDLORUS", "Hyperprogression by BICR, Lo Russo 2019"),
})
#: ``PARCAT1`` of the hyperprogression and dissociated-response flags: they rest on the
#: RECIST 1.1 target sums (and the pre-baseline scans).
GROWTH_PARCAT = "TUMOR GROWTH KINETICS"
PSEUDOPROGRESSION_STEM = ("PSPD", "Pseudoprogression by BICR")
DISSOCIATED_PARAM = ("DISSRESP", "Dissociated Response by BICR")
#: A flag's ``AVALC`` (C66742 No Yes Response): undetermined (an input is missing) is ``U``.
FLAG_VALUE: Mapping[bool | None, str] = MappingProxyType({True: "Y", False: "N", None: "U"})
