"""Typed, frozen inputs and outputs of the criteria engine.

The JSON of ``docs/criteria-cli.md`` is parsed into these types by
``criteria.parse`` (which also validates), the engines (``recist11``, ``irecist``,
``imrecist``) turn a :class:`Subject` into timepoint results, and ``criteria.endpoints``
derives BOR, confirmed BOR and PFS from those. Django code builds the same types in
``trialreads/mappers.py``; nothing here knows about Django.

All lengths are ``Decimal`` millimetres; dates are ``datetime.date``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, TypeVar

_T = TypeVar("_T")

#: A value of an optional output field (``TimepointResult.extra``, ``CriterionResult.extra``):
#: written as JSON by ``criteria.serialize`` (a Decimal as a number rounded to one decimal, a
#: date as its ISO text, tuples and lists as arrays, mappings as objects, in their order).
ExtraValue = (str | Decimal | int | bool | dt.date | None | tuple["ExtraValue", ...]
              | list["ExtraValue"] | Mapping[str, "ExtraValue"])


def fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen dataclass an ``__init__`` that fills the instance in one step.

    A frozen dataclass's generated ``__init__`` sets every field through
    ``object.__setattr__`` (the class's own ``__setattr__`` refuses), one slow call per field:
    a 13-field result costs about four times a plain object. The engine builds hundreds of
    thousands of inputs and results per batch, so the classes on that path take this one
    instead: the same parameters, defaults and default factories, in the same order, writing
    the instance ``__dict__`` directly (a copy of the defaults, then the arguments given).
    Instances stay frozen (assignment still raises
    ``FrozenInstanceError``) and compare, hash and print as before. Only plain fields are
    supported (no ``kw_only``, ``InitVar``, ``init=False`` or ``__post_init__``); anything
    else is a ``TypeError`` at import time rather than a silently different constructor.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or getattr(cls, "__slots__", None) is not None:
        raise TypeError(f"fast_init needs a frozen dataclass without slots, got {cls.__name__}")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"fast_init: {cls.__name__} has __post_init__")
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cls)  # type: ignore[arg-type]
    # The instance dict starts as a copy of ``_template`` (every field, defaults filled in: a
    # copy of a dict is one block copy, cheaper than building one key by key); then each
    # argument that is not its field's default object is stored over its entry. The template
    # lives in the generated function's own namespace and is never changed.
    template: dict[str, Any] = {}
    namespace: dict[str, Any] = {"_MISSING": dataclasses.MISSING, "_template": template}
    arguments: list[str] = []
    stores: list[str] = []
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} is not a plain positional field")
        if f.default is not dataclasses.MISSING:
            template[f.name] = namespace[f"_default_{f.name}"] = f.default
            arguments.append(f"{f.name}=_default_{f.name}")
            stores.append(f"    if {f.name} is not _default_{f.name}:\n"
                          f"        fields[{f.name!r}] = {f.name}\n")
        elif f.default_factory is not dataclasses.MISSING:
            template[f.name] = None  # always stored below: a fresh default per instance
            namespace[f"_factory_{f.name}"] = f.default_factory
            arguments.append(f"{f.name}=_MISSING")
            stores.append(f"    fields[{f.name!r}] = _factory_{f.name}() if {f.name} is _MISSING "
                          f"else {f.name}\n")
        else:
            template[f.name] = None  # always stored below
            arguments.append(f.name)
            stores.append(f"    fields[{f.name!r}] = {f.name}\n")
    source = (f"def __init__(self, {', '.join(arguments)}):\n    fields = self.__dict__\n"
              "    fields.update(_template)\n" + "".join(stores))
    exec(source, namespace)  # noqa: S102 -- code built above from the field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    init.__signature__ = inspect.signature(cls.__init__)  # shows "<factory>" as dataclasses does
    type.__setattr__(cls, "__init__", init)
    return cls

# --- criteria and code vocabularies (CDISC controlled terminology) -----------------

RECIST11 = "recist1.1"
IRECIST = "irecist"
IMRECIST = "imrecist"
# --- PERCIST family (criterion names) ---
PERCIST = "percist"
IPERCIST = "ipercist"
IMPERCIST5 = "impercist5"
PERCIMT = "percimt"
#: The PET criteria (criteria.percist), evaluated on the subject's ``pet`` input.
PET_CRITERIA: tuple[str, ...] = (PERCIST, IPERCIST, IMPERCIST5, PERCIMT)
#: Criteria the engine evaluates today on CT/MRI input, in output order (the PET criteria
#: are ``PET_CRITERIA``).
CRITERIA: tuple[str, ...] = (RECIST11, IRECIST, IMRECIST)

#: RECIST 1.1 and imRECIST timepoint codes.
RECIST_CODES = frozenset({"CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "NA"})
#: iRECIST timepoint codes.
IRECIST_CODES = frozenset({"iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "NE", "NA"})
#: New-lesion category codes.
NEW_LESION_CODES = frozenset({"YES", "NO", "EQUIVOCAL", "NE"})


class ScanKind(str, Enum):
    """Why a timepoint's imaging was done (contract field ``scan``)."""

    SCHEDULED = "scheduled"
    NOT_DONE = "not_done"
    UNSCHEDULED_SYMPTOM_DRIVEN = "unscheduled_symptom_driven"
    UNSCHEDULED_NOT_SYMPTOM_DRIVEN = "unscheduled_not_symptom_driven"


class NonTargetStatus(str, Enum):
    """A non-target lesion's rating at a follow-up (contract field ``non_targets``).

    ``FURTHER_INCREASE`` is any increase since the previous assessment (iRECIST FAQ code
    INCLA); under RECIST 1.1 it is not progression by itself.
    """

    PRESENT = "present"
    ABSENT = "absent"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    FURTHER_INCREASE = "further_increase"
    NOT_EVALUATED = "not_evaluated"


class TargetKind(str, Enum):
    """How a target lesion's value at a follow-up was recorded."""

    MEASURED = "measured"            # a number of mm (0 = disappeared)
    TOO_SMALL = "too_small"          # "TSTM": present, too small to measure -> 5 mm (R11-TSTM)
    NOT_ASSESSED = "not_assessed"    # null: not assessed at this timepoint
    SPLIT = "split"                  # fragments: sum of the fragments' longest diameters
    COALESCED = "coalesced"          # carries the coalesced lesion's diameter (coalesced_with)
    COALESCED_INTO = "coalesced_into"  # absorbed into another target (usually 0 mm)


# --- settings (charter options and the documented ambiguity defaults) -------------

@dataclass(frozen=True)
class Settings:
    """Charter options and ambiguity settings; every default is documented in
    ``criteria/AMBIGUITIES.md`` and echoed by ``--explain``.

    The first six are the contract's ``settings``; the rest select the other reading of an
    ambiguity listed in ``criteria-rules.md`` §13 (A-numbers in the comments).
    """

    sd_min_days: int = 42
    confirm_min_days: int = 28
    max_ne_between_confirmation: int = 1
    accept_sd_between_pr_confirmation: bool = False
    irecist_confirm_window_days: tuple[int, int] = (28, 56)
    imrecist_negation_min_days: int = 28
    # A1: after PR is assigned, later timepoints stay PR until PD (EORTC FAQ) -- True -- or
    # are judged against baseline literally (RECIST 1.1 §4.3.1) -- False.
    pr_continues_until_pd: bool = True
    # A2: a target lesion that reappears (node >= 10 mm SA, other lesions > 0 mm) after an
    # overall CR is PD (EORTC FAQ) -- True -- or only the sum rule decides -- False.
    reappearance_after_cr_is_pd: bool = True
    # A3: an iUPD never confirmed (no later scan, or death first) is an iPFS event at the
    # iUPD date -- "event" -- or censored at the last adequate assessment before it -- "censor".
    irecist_unconfirmed_iupd: Literal["event", "censor"] = "event"
    # A4: a scan later than the window's upper bound may still confirm iCPD -- True -- or is
    # not a confirmatory scan -- False.
    irecist_late_scan_confirms: bool = True
    # FAQ-IR-EARLY-SCAN: the protocol variance allowed below the window's lower bound.
    irecist_early_scan_tolerance_days: int = 2
    # A5: after a new-lesion-driven iUPD, targets that shrink further to iPR/iCR while the new
    # lesions persist unchanged give iPR (iRECIST FAQ scenario B) -- True -- or the
    # persisting new lesions keep iUPD (Table 2 lists iPR only with "new lesions: no") -- False.
    irecist_nl_iupd_allows_ipr: bool = True
    # A6: cap on new measurable lesions joining the imRECIST sum: "recist" = 5 total,
    # 2 per organ; "irrc" = 5 per organ, 10 total.
    imrecist_new_lesion_cap: Literal["recist", "irrc"] = "recist"
    # A7: imRECIST PD needs the 5 mm absolute increase as well as +20% -- True -- or not.
    imrecist_pd_requires_5mm: bool = True
    # A8: imBOR counts responses after a PD that stands (un-negated) -- True -- or stops at it.
    imrecist_bor_after_pd: bool = True
    # A11: a confirmed equivocal new lesion backdates the PD *date* only -- False -- or also
    # turns the earlier timepoint's response into PD -- True.
    equivocal_backdates_response: bool = False
    # A12: CR followed by PR under confirmation is "sd" (not a confirmed response; SD or PD
    # or NE by the SD rule, as admiralonco) or "pr" (the CR was doubtful: confirmed PR).
    cr_then_pr_confirmed_as: Literal["sd", "pr"] = "sd"
    # E1: an early scan (before the iRECIST window less the tolerance) that meets iSD/iPR/iCR
    # resets the iUPD -- True (SEY17: iUPD followed by iSD/iPR/iCR resets; FAQ-IR-EARLY-SCAN
    # bars early scans only from defining iCPD) -- or is disregarded altogether, the iUPD
    # standing -- False (FAQ: "otherwise the early scan is disregarded").
    irecist_early_scan_resets: bool = True
    # E2: an equivocal new lesion confirmed at an iUPD dates the iUPD (and so iPFS) back to
    # the scan where it was first seen, even before the first iUPD -- True (R11-EQUIVOCAL via
    # IR-BASE) -- or the iUPD is dated at its own scan -- False.
    irecist_equivocal_backdates_ipfs: bool = True
    # E3: imRECIST CR with an equivocal new lesion present: allowed -- False (an equivocal
    # lesion is not yet a lesion, R11-EQUIVOCAL read as under RECIST 1.1) -- or the equivocal
    # lesion rules out CR like a non-measurable new lesion (IM-CR "all lesions gone") -- True.
    imrecist_equivocal_blocks_cr: bool = False
    # E4: an imRECIST PD followed by a PD fewer than imrecist_negation_min_days later is
    # confirmed -- True -- or that early PD decides nothing, like an early non-PD -- False.
    imrecist_early_pd_confirms: bool = True
    # E5: BOR and confirmed BOR of a subject with no post-baseline assessment: none
    # ("missing", admiralonco without missing_as_ne) or "ne" (admiralonco missing_as_ne).
    bor_without_assessments: Literal["missing", "ne"] = "missing"
    # --- PERCIST family (criteria.percist; AMBIGUITIES.md P1-P6) ---
    # P1: a follow-up scan failing the PERCIST comparability checks (uptake time within 15
    # min of baseline, liver reference within 20% and 0.3 SUL) is reported in a warning
    # -- False -- or is not evaluable (NE) -- True.
    percist_quality_failure_ne: bool = False
    # P2 (A10): imPERCIST5 PMD threshold on the SULpeak sum: "30" (Ito 2019 abstract,
    # >= 30%) or "20" (JNCCN360 summary, > 20%).
    impercist5_pmd_threshold: Literal["30", "20"] = "30"
    # P3 (A10): new lesions' SULpeak may join the imPERCIST5 sum (hottest five, two per
    # organ) -- True -- or the sum keeps the pre-existing lesions only -- False.
    impercist5_new_lesions_in_sum: bool = True
    # P4: iPERCIST confirmation window after a UPMD, days (GOLF19 4 weeks; review 4-8).
    ipercist_confirm_window_days: tuple[int, int] = (28, 56)
    # P5: an iPERCIST UPMD never confirmed is a metabolic PFS event at its date -- "event"
    # -- or censored at the last adequate scan before it -- "censor".
    ipercist_unconfirmed_upmd: Literal["event", "censor"] = "event"
    # P6: PERCIMT's "4 new lesions" count: every new lesion -- "any" (Anwar 2018 abstract:
    # "a threshold of four newly emerged lesions") -- or only those < 1.0 cm -- "small".
    percimt_four_count: Literal["any", "small"] = "any"
    # --- irRC / irRECIST (issue 14 items 1, 2; criteria/AMBIGUITIES.md I1-I4) ---
    # I1: the date of a confirmed irPD (irPFS): the first irPD of the confirmed pair --
    # "first" (Wolchok: progression "at any single time point", confirmed later) -- or the
    # confirming assessment -- "confirming".
    ir_pd_date: Literal["first", "confirming"] = "first"
    # I2: an irPD never confirmed nor refuted (no later evaluable assessment, or death first)
    # is an irPFS event at its date -- "event" (as A3) -- or censored before it -- "censor".
    ir_unconfirmed_pd: Literal["event", "censor"] = "event"
    # I3: irRECIST irPD needs +5 mm absolute over the nadir as well as +20% -- True
    # (Bohnsack 2014, as RECIST 1.1) -- or +20% only -- False (Nishino 2013).
    irrecist_pd_requires_5mm: bool = True
    # I4: the latest day after an irRECIST irPD at which an assessment still confirms it:
    # 0 = no upper bound (default: ">= 4 weeks", Nishino/Bohnsack); 84 = the "4 to 12 weeks"
    # reading of one review. Applies to irRC too (Wolchok gives no upper bound either).
    ir_confirm_max_days: int = 0
    # I7: irRECIST unequivocal progression of non-target lesions is irPD -- True (Bohnsack
    # 2014, PMC5994498 table) -- or only rules out irCR -- False (Nishino 2013 as tabulated
    # in PMC6942076: non-target lesions "only to define irCR").
    irrecist_nt_progression_is_pd: bool = True
    # I8: a non-irPD assessment fewer than confirm_min_days after an irPD means the irPD is
    # not confirmed -- True (Wolchok: two *consecutive* observations) -- or is passed over,
    # the next assessment >= 4 weeks later deciding -- False (review tables: "negated by a
    # subsequent non-PD assessment >= 4 weeks", PMC6942076).
    ir_early_non_pd_refutes: bool = True
    # --- itRECIST (GOL20) ---
    # T1: the overall itRECIST response follows iRECIST (unconfirmed / confirmed PD, GOL20
    # "aligns with RECIST 1.1 and iRECIST", continued assessment after initial progression)
    # -- "irecist" -- or RECIST 1.1 (assessment ends at the first PD) -- "recist1.1". The
    # injected and non-injected responses use the same basis.
    itrecist_overall_basis: Literal["irecist", "recist1.1"] = "irecist"
    # T2: a baseline non-injected lesion injected after baseline moves to the injected group
    # from that timepoint on, both groups' baseline and nadir recomputed with the new
    # membership -- "move" -- or stays in its baseline group, flagged -- "keep".
    itrecist_post_baseline_injection: Literal["move", "keep"] = "move"
    # --- growth family (tumour growth rate, hyperprogression, dissociated response) ---
    # A14: the month of TG/TGR/TGK, in days (365.25 / 12; some papers use 30).
    tgr_month_days: Decimal = Decimal("30.4375")
    # G5: the hyperprogression definitions evaluated (criteria.growth.HPD_DEFINITIONS).
    hyperprogression_definitions: tuple[str, ...] = (
        "champiat2017", "saada_bouzid2017", "ferrara2018", "kas2020", "kato2017", "lo_russo2019")
    # G1 (A14): a ratio definition whose reference rate is <= 0 (tumour stable or shrinking
    # before treatment): "undefined" (flag null, reported) / "product" (TGR_exp >= 2 x TGR_ref
    # read as an inequality) / "false" (no acceleration of a growing tumour: not HPD).
    hpd_nonpositive_reference: Literal["undefined", "product", "false"] = "undefined"
    # G2: Kato 2017's "progression pace": sum change per month (TGK) or TGR.
    kato_pace: Literal["tgk", "tgr"] = "tgk"
    # G3: dissociated response (Tazdait 2018): per-lesion shrink / growth thresholds (%), and
    # whether growth is measured against the lesion's baseline or its own nadir.
    dissociated_shrink_pct: int = 30
    dissociated_grow_pct: int = 20
    dissociated_growth_reference: Literal["baseline", "nadir"] = "baseline"


# --- input ------------------------------------------------------------------------

@fast_init
@fast_init
@dataclass(frozen=True)
class BaselineTarget:
    id: str
    organ: str
    node: bool
    mm: Decimal  # longest diameter; short axis when ``node``
    # irRC (bidimensional, optional): the longest diameter perpendicular to ``mm`` (non-nodal
    # lesions); for a node, whose ``mm`` is the short axis, the long axis (``long_mm``).
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None


@fast_init
@fast_init
@dataclass(frozen=True)
class BaselineNonTarget:
    id: str
    organ: str
    node: bool


@fast_init
@dataclass(frozen=True)
class Baseline:
    date: dt.date
    targets: tuple[BaselineTarget, ...]
    non_targets: tuple[BaselineNonTarget, ...]


@fast_init
@dataclass(frozen=True)
class TargetMeasurement:
    """One target lesion's value at a follow-up.

    ``mm`` is the value that enters the sum (TSTM -> 5, split -> sum of fragments, the
    absorbed side of a coalescence -> its given mm, normally 0); ``None`` when not assessed.
    ``raw`` keeps the original text where it was not a number (``"TSTM"``).
    """

    kind: TargetKind
    mm: Decimal | None
    fragments_mm: tuple[Decimal, ...] = ()
    coalesced_with: tuple[str, ...] = ()
    coalesced_into: str | None = None
    raw: str | None = None
    # irRC (bidimensional, optional): the second diameter of the WHO product (see
    # BaselineTarget); per fragment for a split lesion.
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None
    fragments_perp_mm: tuple[Decimal, ...] = ()


@fast_init
@dataclass(frozen=True)
class NewLesion:
    """A new lesion as seen at one timepoint (current size; mm 0 = resolved)."""

    id: str
    organ: str
    node: bool
    mm: Decimal | None
    measurable: bool
    equivocal: bool = False
    # irRC (bidimensional, optional): as BaselineTarget; ``measurable_stated`` is the
    # ``measurable`` key as given (None: not given, ``measurable`` then follows RECIST size).
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None
    measurable_stated: bool | None = None


@fast_init
@dataclass(frozen=True)
class Timepoint:
    """One follow-up assessment.

    Measurement level: ``targets``, ``non_targets``, ``new_lesions``. Response level: only
    ``overall`` (a code of one criterion's vocabulary). ``date`` is the assessment date:
    results are reported (and matched) on it. ``scan_dates`` are the image dates of the
    assessment (optional contract extension; defaults to ``(date,)``): the engine dates a
    progression at the earliest (``progression_date``, PFS); the sponsor export dates RS
    records of CR and PR at the latest and all others at the earliest (CDISC RECIST
    supplement, cdisc-export §3.3).
    """

    date: dt.date
    scan: ScanKind = ScanKind.SCHEDULED
    targets: Mapping[str, TargetMeasurement] = field(default_factory=dict)
    non_targets: Mapping[str, NonTargetStatus] = field(default_factory=dict)
    new_lesions: tuple[NewLesion, ...] = ()
    overall: str | None = None
    scan_dates: tuple[dt.date, ...] = ()

    @property
    def earliest_date(self) -> dt.date:
        return min(self.scan_dates) if self.scan_dates else self.date

    @property
    def latest_date(self) -> dt.date:
        return max(self.scan_dates) if self.scan_dates else self.date


# --- growth family: input (pre-baseline scans, clinical items of the HPD definitions) ---

@fast_init
@dataclass(frozen=True)
class PrebaselineScan:
    """A scan before the baseline (contract ``prebaseline[]``): the baseline targets'
    values (``targets``, same ids; a missing id is not assessed) or, when only the sum is
    known, ``sum_mm``. Exactly one of the two is given."""

    date: dt.date
    targets: Mapping[str, Decimal | None] = field(default_factory=dict)
    sum_mm: Decimal | None = None


@fast_init
@dataclass(frozen=True)
class Clinical:
    """Clinical items of the hyperprogression definitions (contract ``clinical``): the date
    treatment failed (any cause; Kato 2017 / Lo Russo 2019 time to treatment failure) and
    whether ECOG performance status worsened to >= 2 within the first 2 months (Lo Russo)."""

    treatment_failure_date: dt.date | None = None
    ecog_deterioration_2_months: bool | None = None


@fast_init
@dataclass(frozen=True)
class Subject:
    """One subject's read history: the unit the engine evaluates."""

    subject: str
    reference_date: dt.date
    timepoints: tuple[Timepoint, ...]
    baseline: Baseline | None = None  # None at response level
    settings: Settings = field(default_factory=Settings)
    death_date: dt.date | None = None
    last_contact_date: dt.date | None = None
    pet: PetStudy | None = None  # PERCIST family input (optional)
    # itRECIST: the injected / non-injected classification (None: the input carries none).
    injection: Injection | None = None
    # growth family: pre-baseline scans (oldest first) and clinical inputs (optional)
    prebaseline: tuple[PrebaselineScan, ...] = ()
    clinical: Clinical | None = None

    @property
    def response_level(self) -> bool:
        return self.baseline is None


# --- PERCIST family input (criteria.percist) -------------------------------------------

@dataclass(frozen=True)
class PetReference:
    """The normal-tissue reference of one PET scan (PERC-MEAS): liver SUL mean and SD in a 3 cm
    right-lobe region, or the blood pool (descending aorta) when the liver is abnormal."""

    site: Literal["liver", "blood_pool"]
    mean: Decimal
    sd: Decimal


@dataclass(frozen=True)
class PetLesion:
    """One FDG-avid lesion at one PET scan: SULpeak (1 cm^3 sphere), optional SULmax and TLG;
    ``new`` marks a lesion absent at baseline; ``mm`` its functional diameter (PERCIMT)."""

    id: str
    organ: str
    sul_peak: Decimal
    sul_max: Decimal | None = None
    tlg: Decimal | None = None
    new: bool = False
    mm: Decimal | None = None


@dataclass(frozen=True)
class PetScan:
    """One PET scan (baseline or follow-up). ``lesions`` lists every FDG-avid lesion read
    (a baseline lesion no longer visible is simply absent, or given with its SULpeak);
    ``unequivocal_progression`` is the reader's call of unequivocal progression of
    non-target lesions (PERC-PMD); ``not_done`` marks a missed scan (NE)."""

    date: dt.date
    reference: PetReference | None
    lesions: tuple[PetLesion, ...] = ()
    uptake_min: Decimal | None = None
    unequivocal_progression: bool = False
    not_done: bool = False


@dataclass(frozen=True)
class PetStudy:
    """A subject's PET assessments: the tracer, the baseline scan and the follow-ups."""

    tracer: str
    baseline: PetScan
    timepoints: tuple[PetScan, ...]


# --- output -----------------------------------------------------------------------

@fast_init
@fast_init
@dataclass(frozen=True)
class TimepointResult:
    """One criterion's response at one timepoint, with the numbers and sentences behind it.

    ``sum_mm`` is the sum the criterion uses (imRECIST: targets plus measurable new lesions);
    ``nadir_ref_mm`` the smallest sum before this timepoint; percentages are exact and rounded
    only on output. ``progression_date`` is the date a progression at this timepoint counts
    from (earliest scan date, or the earlier scan of a confirmed equivocal new lesion).
    ``extra`` holds criterion-specific optional output fields (e.g. iRECIST ``nlt_sum_mm``,
    imRECIST ``pd_status``), emitted as additional JSON fields.
    """

    date: dt.date
    target: str
    non_target: str
    new_lesions: str
    overall: str
    sum_mm: Decimal | None = None
    nadir_ref_mm: Decimal | None = None
    pct_vs_baseline: Decimal | None = None
    pct_vs_nadir: Decimal | None = None
    why: tuple[str, ...] = ()
    progression_date: dt.date | None = None
    scan: ScanKind = ScanKind.SCHEDULED
    extra: Mapping[str, ExtraValue] = field(default_factory=dict)


@fast_init
@dataclass(frozen=True)
class Pfs:
    event: bool
    date: dt.date
    reason: str


@fast_init
@dataclass(frozen=True)
class Progression:
    """iRECIST progression dates: the iUPD that opened the confirmed block, and its iCPD."""

    iupd_date: dt.date | None
    icpd_date: dt.date | None


@fast_init
@dataclass(frozen=True)
class DurationOfResponse:
    """Duration of response (RECIST 1.1 §4.6.2): from the first date CR/PR criteria are met
    (``start``) to the progression event of the criterion or death (``event`` True), else to
    the censoring date (``event`` False). ``days`` = ``end - start``."""

    start: dt.date
    end: dt.date
    days: int
    event: bool
    reason: str


@fast_init
@dataclass(frozen=True)
class CriterionResult:
    criterion: str
    timepoints: tuple[TimepointResult, ...]
    bor: str | None
    bor_date: dt.date | None
    bor_confirmed: str | None
    pfs: Pfs
    progression: Progression | None = None
    why: tuple[str, ...] = ()
    # Added (optional): the confirmed BOR's date, duration of response (None without a
    # CR/PR), and the ambiguity defaults / settings this result relied on (--explain).
    bor_confirmed_date: dt.date | None = None
    dor: DurationOfResponse | None = None
    defaults: tuple[str, ...] = ()
    # Criterion-specific optional output fields after the standard ones (e.g. itRECIST's
    # injected and non-injected responses), written in this order.
    extra: Mapping[str, ExtraValue] = field(default_factory=dict)


@fast_init
@fast_init
@dataclass(frozen=True)
class SubjectResult:
    subject: str
    results: Mapping[str, CriterionResult]
    # growth family: the analyses asked for (``--analyses``), JSON-shaped, written as the
    # top-level ``analyses`` object (absent when empty)
    analyses: Mapping[str, ExtraValue] = field(default_factory=dict)


# --- irRC / irRECIST (issue 14 items 1, 2) ------------------------------------------

IRRC = "irrc"
IRRECIST = "irrecist"
#: irRC timepoint codes (Wolchok 2009); NE when the tumour burden is incomplete.
IRRC_CODES = frozenset({"irCR", "irPR", "irSD", "irPD", "NE", "NA"})
#: irRECIST timepoint codes (Bohnsack 2014; irNN: non-target disease only, non-irCR/non-irPD).
IRRECIST_CODES = frozenset({"irCR", "irPR", "irSD", "irNN", "irPD", "NE", "NA"})


# --- itRECIST (Goldmacher et al. 2020, GOL20) ----------------------------------------

ITRECIST = "itrecist"


@dataclass(frozen=True)
class Injection:
    """itRECIST classification of a measurement-level input (ITR-CLASS).

    ``baseline``: every baseline lesion id (targets and non-targets) -> injected at
    baseline. ``later``: one entry per timepoint (same order), the baseline lesion ids
    first injected at that timepoint (non-injected -> injected only; target / non-target
    status never changes). A lesion injected once stays injected.
    """

    baseline: Mapping[str, bool]
    later: tuple[tuple[str, ...], ...]

    def injected_by(self, index: int) -> frozenset[str]:
        """The lesion ids injected at or before timepoint ``index`` (baseline included)."""
        ids = {lesion for lesion, injected in self.baseline.items() if injected}
        for ids_then in self.later[: index + 1]:
            ids.update(ids_then)
        return frozenset(ids)
