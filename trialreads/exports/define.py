"""Define-XML 2.1 of the transfer (``define.xml``, issue 18 item 5).

Generated from the datasets the writers write (their :class:`~trialreads.exports.spec.Dataset`
variables, and the values: lengths as the XPT writer sizes them, data types, the codelists of
the values used), so the metadata cannot drift from the files. It holds:

* ``def:Standards``: SDTMIG 3.4 for TU/TR/RS/SUPP--, ADaMIG 1.3 for ADSL/ADRS/ADTTE, and the
  CDISC/NCI SDTM CT package named in the reviewer's guide;
* one ``ItemGroupDef`` per dataset (class, structure, keys, its file as ``def:leaf``) and one
  ``ItemDef`` per variable with its origin (:func:`origin`): collected by the independent
  review (the readers' measurements, dates, locations) or from the sponsor (ADSL's dates),
  assigned, derived by a method, or a predecessor;
* value-level metadata (:data:`VALUE_LEVELS`): TR results per test code (data type, unit,
  the states of ``TUMSTATE``), RS results per category and test, ADRS ``AVALC`` per
  parameter, SUPP-- ``QVAL`` per qualifier, each with the codelist of its values;
* codelists of the coded variables (:data:`CODED`), with the NCI codes
  :mod:`trialreads.exports.criteria_codes` documents; sponsor extensions are marked
  ``def:ExtendedValue``;
* methods (:func:`methods`): the criteria engine's algorithm version, the charter version,
  the criteria and the engine settings behind every response; the date convention; the
  imputation rule behind ``ADT``/``ADTF``; the censoring table behind ADTTE; study days and
  epochs when present; and the reviewer's guide as supplemental document.

One file for both standards (a BICR transfer is merged into the sponsor's packages, whose
own define.xml files separate tabulation and analysis). Written with the standard library
(``xml.etree``); the tests validate it against CDISC's Define-XML 2.1 schema. Pure Python.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from trialreads.exports.censoring import describe_rules
from trialreads.exports.criteria_codes import CRITERIA_CODES
from trialreads.exports.dates import IMPUTATION_RULES
from trialreads.exports.spec import Dataset, Value
from trialreads.exports.table import Table, tabulate
from trialreads.exports.timing import EPOCH_RULES
from trialreads.exports.xpt import variable_lengths

DEFINE_NAME = "define.xml"
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
ET.register_namespace("", ODM_NS)
ET.register_namespace("def", DEF_NS)
ET.register_namespace("xlink", XLINK_NS)

SDTMIG = ("STD.SDTMIG", "SDTMIG", "IG", "3.4", "")
ADAMIG = ("STD.ADAMIG", "ADaMIG", "IG", "1.3", "")
SDTM_CT = ("STD.CT.SDTM", "CDISC/NCI", "CT", "2025-03-25", "SDTM")
GUIDE_LEAF = "LF.GUIDE"


# --- what is taken from the datasets ---------------------------------------------------------


@dataclass(frozen=True)
class ValueFacts:
    """The values of one variable (or of one value level of it)."""

    data_type: str  # text, integer, float, date, partialDate
    length: int | None
    significant_digits: int | None
    values: tuple[str, ...]  # the distinct values, for a codelist (coded text only)


@dataclass(frozen=True)
class VariableFacts:
    name: str
    label: str
    format: str
    facts: ValueFacts


@dataclass(frozen=True)
class ValueLevel:
    """One value level: ``variable`` where every (key variable, value) of ``where`` holds."""

    variable: str
    where: tuple[tuple[str, str], ...]
    facts: ValueFacts
    unit: str = ""


@dataclass(frozen=True)
class DatasetFacts:
    name: str
    label: str
    file_stem: str
    variables: tuple[VariableFacts, ...]
    value_levels: tuple[ValueLevel, ...]


#: Character variables whose values are listed as codelists (controlled or sponsor terms).
CODED = frozenset(
    {
        "DOMAIN",
        "RDOMAIN",
        "TUTESTCD",
        "TUTEST",
        "TUORRES",
        "TUSTRESC",
        "TULOC",
        "TULAT",
        "TUMETHOD",
        "TUEVAL",
        "TUEVALID",
        "TUACPTFL",
        "TRTESTCD",
        "TRTEST",
        "TRGRPID",
        "TRORRESU",
        "TRSTRESU",
        "TRSTAT",
        "TRREASND",
        "TRMETHOD",
        "TREVAL",
        "TREVALID",
        "TRACPTFL",
        "RSTESTCD",
        "RSTEST",
        "RSCAT",
        "RSEVAL",
        "RSEVALID",
        "RSACPTFL",
        "EPOCH",
        "IDVAR",
        "QNAM",
        "QLABEL",
        "QORIG",
        "QEVAL",
        "DTHFL",
        "PARAMCD",
        "PARCAT1",
        "ADTF",
        "ANL01FL",
        "SRCDOM",
        "SRCVAR",
        "EVNTDESC",
        "CNSDTDSC",
        "CNSR",
    }
)
#: dataset -> (key variables, variables described per key value): value-level metadata.
VALUE_LEVELS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "TR": (("TRTESTCD",), ("TRORRES", "TRSTRESC", "TRSTRESN")),
    "RS": (("RSCAT", "RSTESTCD"), ("RSSTRESC",)),
    "ADRS": (("PARAMCD",), ("AVALC",)),
    "SUPPTU": (("QNAM",), ("QVAL",)),
    "SUPPTR": (("QNAM",), ("QVAL",)),
}
#: A text value level lists its values as a codelist when it has at most this many.
MAX_LISTED = 60
_UNIT = {"TR": "TRSTRESU"}
_DATE_VARIABLES = frozenset({"TUDTC", "TRDTC", "RSDTC", "RFSTDTC"})


def _digits(value: Value) -> tuple[int, int]:
    """(digits, decimals) of a number as written (``Decimal('32.32')`` -> (4, 2))."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return 0, 0
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    _sign, digits, exponent = number.normalize().as_tuple()
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    whole = len(digits) + (exponent if isinstance(exponent, int) and exponent > 0 else 0)
    return max(whole, decimals + 1, 1), decimals


def value_facts(
    name: str, var_type: str, fmt: str, values: Sequence[Value] | frozenset[Value], length: int | None
) -> ValueFacts:
    present = [v for v in values if v is not None]
    if var_type == "num":
        if fmt.startswith("DATE"):
            return ValueFacts("integer", 5, None, ())  # SAS dates (days since 1960), DATE9.
        shapes = [_digits(v) for v in present]
        digits = max((d for d, _ in shapes), default=1)
        decimals = max((p for _, p in shapes), default=0)
        if decimals:
            return ValueFacts("float", digits, decimals, ())
        listed = tuple(sorted({str(int(v)) for v in present})) if name in CODED else ()  # type: ignore[arg-type]
        return ValueFacts("integer", digits, None, listed)
    texts = sorted({str(v) for v in present})
    if name in _DATE_VARIABLES:
        return ValueFacts("partialDate" if any(len(t) < 10 for t in texts) else "date", None, None, ())
    return ValueFacts("text", length or 1, None, tuple(texts) if name in CODED else ())


def _column(ds: Dataset, table: Table | None, name: str) -> Sequence[Value]:
    if table is not None and name in table.names:
        return table.columns[table.names.index(name)]
    return ds.column(name)


def dataset_facts(ds: Dataset, table: Table | None = None) -> DatasetFacts:
    """What define.xml says of ``ds``: taken from its variables and values (``table``: its
    :func:`~trialreads.exports.table.tabulate`, when the caller has it)."""
    table = table if table is not None else tabulate(ds)
    lengths = variable_lengths(ds, table)
    variables = []
    for index, (var, length) in enumerate(zip(ds.variables, lengths, strict=True)):
        distinct = table.distinct(index) if table is not None else frozenset(ds.column(var.name))
        facts = value_facts(var.name, var.type, var.format, distinct, length)
        variables.append(VariableFacts(var.name, var.label, var.format, facts))
    return DatasetFacts(ds.name, ds.label, ds.file_stem, tuple(variables), _value_levels(ds, table))


def _value_levels(ds: Dataset, table: Table | None) -> tuple[ValueLevel, ...]:
    spec = VALUE_LEVELS.get(ds.name)
    if spec is None or not ds.rows:
        return ()
    keys, targets = spec
    types = {var.name: var for var in ds.variables}
    key_columns = list(zip(*(_column(ds, table, k) for k in keys), strict=True))
    unit_of: dict[tuple[Value, ...], set[Value]] = defaultdict(set)
    if ds.name in _UNIT:
        for key, unit in set(zip(key_columns, _column(ds, table, _UNIT[ds.name]), strict=True)):
            if unit is not None:
                unit_of[key].add(unit)
    out: list[ValueLevel] = []
    for target in targets:
        var = types[target]
        by_key: dict[tuple[Value, ...], set[Value]] = defaultdict(set)
        for key, value in set(zip(key_columns, _column(ds, table, target), strict=True)):
            by_key[key].add(value)
        for key in sorted(by_key, key=lambda k: tuple(str(v) for v in k)):
            present = {v for v in by_key[key] if v is not None}
            if not present or any(v is None for v in key):
                continue
            length = max(len(str(v)) for v in present) if var.type == "char" else None
            facts = value_facts(target, var.type, var.format, frozenset(present), length)
            if facts.data_type == "text":
                listed = tuple(sorted(str(v) for v in present)) if len(present) <= MAX_LISTED else ()
                facts = ValueFacts(facts.data_type, facts.length, None, listed)
            unit = "/".join(sorted(str(u) for u in unit_of.get(key, ()))) if var.type == "num" else ""
            where = tuple((k, str(v)) for k, v in zip(keys, key, strict=True))
            out.append(ValueLevel(target, where, facts, unit))
    return tuple(out)


# --- what is said about them -------------------------------------------------------------------


@dataclass(frozen=True)
class DefineContext:
    """The transfer's facts the methods and the study header name."""

    studyid: str
    created: dt.datetime
    criteria_version: str
    charter_version: str
    criteria: tuple[str, ...]
    settings: tuple[tuple[str, str], ...]
    date_imputation: str
    epoch_rule: str
    data_cutoff: dt.date | None


#: dataset -> (Purpose, def:Class, def:SubClass, def:Structure, key variables, standard).
DATASETS: Mapping[str, tuple[str, str, str, str, tuple[str, ...], tuple[str, ...]]] = {
    "TU": (
        "Tabulation",
        "FINDINGS",
        "",
        "One record per identified lesion per evaluator",
        ("STUDYID", "USUBJID", "TUEVALID", "TULNKID"),
        SDTMIG,
    ),
    "TR": (
        "Tabulation",
        "FINDINGS",
        "",
        "One record per lesion measurement or assessment per visit per evaluator",
        ("STUDYID", "USUBJID", "TREVALID", "VISITNUM", "TRGRPID", "TRLNKID", "TRTESTCD"),
        SDTMIG,
    ),
    "RS": (
        "Tabulation",
        "FINDINGS",
        "",
        "One record per response assessment per visit per category per evaluator",
        ("STUDYID", "USUBJID", "RSEVALID", "RSCAT", "VISITNUM", "RSTESTCD"),
        SDTMIG,
    ),
    "SUPPTU": (
        "Tabulation",
        "RELATIONSHIP",
        "",
        "One record per supplemental qualifier per TU record",
        ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),
        SDTMIG,
    ),
    "SUPPTR": (
        "Tabulation",
        "RELATIONSHIP",
        "",
        "One record per supplemental qualifier per TR record",
        ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),
        SDTMIG,
    ),
    "ADSL": (
        "Analysis",
        "SUBJECT LEVEL ANALYSIS DATASET",
        "",
        "One record per subject",
        ("STUDYID", "USUBJID"),
        ADAMIG,
    ),
    "ADRS": (
        "Analysis",
        "BASIC DATA STRUCTURE",
        "",
        "One record per subject per parameter per analysis visit",
        ("STUDYID", "USUBJID", "PARAMCD", "AVISITN"),
        ADAMIG,
    ),
    "ADTTE": (
        "Analysis",
        "BASIC DATA STRUCTURE",
        "TIME-TO-EVENT",
        "One record per subject per parameter",
        ("STUDYID", "USUBJID", "PARAMCD"),
        ADAMIG,
    ),
}

#: Variables recorded by the independent review (Origin Collected, Source Vendor), per dataset.
COLLECTED: Mapping[str, frozenset[str]] = {
    "TU": frozenset(
        {"TUREFID", "TULNKID", "TUORRES", "TULOC", "TULAT", "TUMETHOD", "VISITNUM", "VISIT", "TUDTC"}
    ),
    "TR": frozenset(
        {"TRLNKID", "TRORRES", "TRORRESU", "TRSTAT", "TRREASND", "TRMETHOD", "VISITNUM", "VISIT", "TRDTC"}
    ),
    "RS": frozenset({"VISITNUM", "VISIT"}),
    "SUPPTU": frozenset({"QVAL"}),
    "SUPPTR": frozenset({"QVAL"}),
}
#: The trial's subject dates, given by the sponsor (Origin Collected, Source Sponsor).
FROM_SPONSOR: Mapping[str, frozenset[str]] = {
    "ADSL": frozenset({"RFSTDTC", "RANDDT", "TRTSDT", "DTHDT", "LSTALVDT"})
}
#: (dataset, variable) -> the predecessor it is copied from.
PREDECESSORS: Mapping[tuple[str, str], str] = {
    ("ADRS", "AVISIT"): "RS.VISIT",
    ("ADRS", "AVISITN"): "RS.VISITNUM",
    ("ADTTE", "STARTDT"): "ADSL.RANDDT",
}
#: (dataset or "*", variable) -> the method deriving it (:func:`methods`).
METHOD_OF: Mapping[tuple[str, str], str] = {
    ("*", "TUSEQ"): "MT.SEQ",
    ("*", "TRSEQ"): "MT.SEQ",
    ("*", "RSSEQ"): "MT.SEQ",
    ("*", "ASEQ"): "MT.SEQ",
    ("TU", "TUSTRESC"): "MT.TU.TUSTRESC",
    ("TU", "TUACPTFL"): "MT.ACPTFL",
    ("TR", "TRSTRESC"): "MT.TR.STRES",
    ("TR", "TRSTRESN"): "MT.TR.STRES",
    ("TR", "TRACPTFL"): "MT.ACPTFL",
    ("RS", "RSORRES"): "MT.RS.RESPONSE",
    ("RS", "RSSTRESC"): "MT.RS.RESPONSE",
    ("RS", "RSDTC"): "MT.RS.RSDTC",
    ("RS", "RSACPTFL"): "MT.ACPTFL",
    ("*", "TUDY"): "MT.DY",
    ("*", "TRDY"): "MT.DY",
    ("*", "RSDY"): "MT.DY",
    ("*", "EPOCH"): "MT.EPOCH",
    ("ADSL", "DTHFL"): "MT.ADSL.DTHFL",
    ("ADRS", "AVALC"): "MT.ADRS.AVALC",
    ("ADRS", "ADT"): "MT.ADT",
    ("ADRS", "ADTF"): "MT.ADTF",
    ("ADRS", "ANL01FL"): "MT.ADRS.ANL01FL",
    ("ADRS", "SRCDOM"): "MT.SRC",
    ("ADRS", "SRCVAR"): "MT.SRC",
    ("ADRS", "SRCSEQ"): "MT.SRC",
    ("ADTTE", "ADT"): "MT.ADTTE.CNSR",
    ("ADTTE", "CNSR"): "MT.ADTTE.CNSR",
    ("ADTTE", "EVNTDESC"): "MT.ADTTE.CNSR",
    ("ADTTE", "CNSDTDSC"): "MT.ADTTE.CNSR",
    ("ADTTE", "AVAL"): "MT.ADTTE.AVAL",
    ("ADTTE", "SRCDOM"): "MT.SRC",
    ("ADTTE", "SRCVAR"): "MT.SRC",
    ("ADTTE", "SRCSEQ"): "MT.SRC",
}


def method_of(dataset: str, variable: str) -> str | None:
    return METHOD_OF.get((dataset, variable)) or METHOD_OF.get(("*", variable))


def origin(dataset: str, variable: str) -> tuple[str, str | None, str | None]:
    """(def:Origin Type, Source, description) of a variable."""
    if variable in COLLECTED.get(dataset, ()):
        return "Collected", "Vendor", None
    if variable in FROM_SPONSOR.get(dataset, ()):
        return "Collected", "Sponsor", "The trial's subject record (the sponsor's data, e.g. DM / DS)"
    if (dataset, variable) in PREDECESSORS:
        return "Predecessor", None, PREDECESSORS[(dataset, variable)]
    if method_of(dataset, variable) is not None:
        return "Derived", "Vendor", None
    return "Assigned", "Vendor", None


def methods(ctx: DefineContext) -> dict[str, tuple[str, str]]:
    """Method id -> (Type, description)."""
    criteria = ", ".join(f"{CRITERIA_CODES[c].rscat} ({c})" for c in ctx.criteria) or "none"
    settings = "; ".join(f"{name}={value}" for name, value in ctx.settings) or "the engine's defaults"
    rule = next((r for r in IMPUTATION_RULES if r.name == ctx.date_imputation), None)
    epoch = EPOCH_RULES.get(ctx.epoch_rule)
    censoring = " ".join(
        f"{r['order']}. CNSR {r['cnsr']} {r['evntdesc']}: {r['description']}" for r in describe_rules()
    )
    engine = (
        f"trialreads criteria engine, algorithm version {ctx.criteria_version}, under imaging review "
        f"charter version {ctx.charter_version}"
    )
    return {
        "MT.SEQ": (
            "Computation",
            "1, 2, ... per USUBJID in the dataset's sort order (see the reviewer's guide).",
        ),
        "MT.TU.TUSTRESC": ("Computation", "TUSTRESC = TUORRES."),
        "MT.TR.STRES": (
            "Computation",
            "The standardised value the criteria engine decided on, in the unit of TRSTRESU at the "
            "collected precision (never rounded); TOO SMALL TO MEASURE is 5 mm; SUMDIAM is the sum of "
            "the evaluator's standardised target values at the visit (NOT DONE when a target was not "
            "assessed, or the sum read at a pre-baseline scan).",
        ),
        "MT.ACPTFL": (
            "Computation",
            "Y on the records of the accepted evaluator: the concordant read (charter rule) or the "
            "adjudicator's choice; for an adjudicated subject the OVRLRESP and BESTRESP records are "
            "repeated as RSEVALID = ADJUDICATOR, which carry the flag.",
        ),
        "MT.RS.RESPONSE": (
            "Computation",
            f"Target, non-target, new-lesion, overall and best overall responses per RSCAT by the "
            f"{engine}, from the evaluator's TR records; criteria: {criteria}; engine settings: "
            f"{settings}.",
        ),
        "MT.RS.RSDTC": (
            "Computation",
            "CR/PR (and iCR/iPR, irCR/irPR, CMR/PMR) at the latest image date of the visit, any other "
            "response at the earliest (SDTM RECIST 1.1 supplement); a visit collected as a partial "
            "date keeps it as collected.",
        ),
        "MT.DY": (
            "Computation",
            "--DY = --DTC - RFSTDTC + 1 on or after the reference start date (ADSL RFSTDTC), --DTC - RFSTDTC "
            "before it; none for a partial --DTC or a subject without a reference start date.",
        ),
        "MT.EPOCH": (
            "Computation",
            f"Charter epoch rule {epoch.name}: {epoch.description}; a partial date straddling the "
            "reference start date has none; SUMDIAM takes its visit's date."
            if epoch is not None
            else "Not derived (no epochs given).",
        ),
        "MT.ADSL.DTHFL": ("Computation", "Y when the subject has a date of death (DTHDT)."),
        "MT.ADRS.AVALC": (
            "Computation",
            f"OVR* = the accepted RSSTRESC of the visit (SRCSEQ); BOR*/CBOR* = the best and "
            f"confirmed best overall response by the {engine}; settings: {settings}; growth-family "
            "flags Y/N/U from the engine's analyses.",
        ),
        "MT.ADT": (
            "Imputation",
            f"The date the engine used: RSDTC when a full date; a partial date imputed by the charter's "
            f"rule {ctx.date_imputation}"
            + (f" ({rule.description})" if rule else "")
            + " or the rule recorded on the visit by its import, no earlier than the day after the "
            "previous visit.",
        ),
        "MT.ADTF": (
            "Imputation",
            "D when the day was imputed (collected YYYY-MM), M when month and day were "
            "(collected YYYY); empty for a full date.",
        ),
        "MT.ADRS.ANL01FL": (
            "Computation",
            "Y on timepoint responses dated on or before the data cut-off "
            f"({ctx.data_cutoff.isoformat() if ctx.data_cutoff else 'none'}) and on every "
            "subject-level parameter.",
        ),
        "MT.SRC": ("Computation", "The delivered record the value comes from (dataset, variable, --SEQ)."),
        "MT.ADTTE.CNSR": (
            "Computation",
            "Each criterion's PFS by the censoring table, first rule that holds (its own "
            f"progression event from the {engine}): {censoring}",
        ),
        "MT.ADTTE.AVAL": ("Computation", "AVAL = ADT - STARTDT + 1 (days)."),
    }


# --- writing ---------------------------------------------------------------------------------------


def _q(name: str, ns: str = ODM_NS) -> str:
    return f"{{{ns}}}{name}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    translated = ET.SubElement(element, _q("TranslatedText"), {f"{{{XML_NS}}}lang": "en"})
    translated.text = text
    return element


def _item_attrs(oid: str, name: str, facts: ValueFacts, fmt: str) -> dict[str, str]:
    attrs = {"OID": oid, "Name": name, "DataType": facts.data_type}
    if facts.length is not None:
        attrs["Length"] = str(facts.length)
    if facts.significant_digits is not None:
        attrs["SignificantDigits"] = str(facts.significant_digits)
    attrs["SASFieldName"] = name
    if fmt:
        attrs[_q("DisplayFormat", DEF_NS)] = fmt
    return attrs


def _origin(parent: ET.Element, kind: str, source: str | None, description: str | None) -> None:
    attrs = {"Type": kind} | ({"Source": source} if source else {})
    element = ET.SubElement(parent, _q("Origin", DEF_NS), attrs)
    if description:
        _text(element, "Description", description)


#: NCI codes of codelists and terms the transfer uses (criteria_codes' sources).
CODELIST_CT: Mapping[str, str] = {
    "RSCAT": "C124298",
    "TRTESTCD": "C96779",
    "TUORRES": "C123650",
    "TUSTRESC": "C123650",
    "TRORRESU": "C71620",
    "TRSTRESU": "C71620",
    "RSSTRESC": "C96785",
    "TUACPTFL": "C66742",
    "TRACPTFL": "C66742",
    "RSACPTFL": "C66742",
    "DTHFL": "C66742",
    "ANL01FL": "C66742",
}
TERM_CT: Mapping[tuple[str, str], str] = {
    **{("RSCAT", c.rscat): c.ct_code for c in CRITERIA_CODES.values() if c.ct_code},
    ("TRTESTCD", "LDIAM"): "C96684",
    ("TRTESTCD", "LPERP"): "C96685",
    ("TRTESTCD", "SUMDIAM"): "C96631",
    ("TRTESTCD", "TUMSTATE"): "C96643",
    ("TRTESTCD", "SULPEAK"): "C181547",
    ("TRTESTCD", "SULMAX"): "C181545",
    ("TRTESTCD", "SULMEAN"): "C181546",
}


def _codelist(parent_list: list[ET.Element], oid: str, name: str, variable: str, facts: ValueFacts) -> None:
    attrs = {"OID": oid, "Name": name, "DataType": "integer" if facts.data_type == "integer" else "text"}
    code = CODELIST_CT.get(variable)
    if code is None:
        attrs[_q("IsNonStandard", DEF_NS)] = "Yes"
    else:
        attrs[_q("StandardOID", DEF_NS)] = SDTM_CT[0]
    element = ET.Element(_q("CodeList"), attrs)
    for order, value in enumerate(facts.values, start=1):
        item_attrs = {"CodedValue": value, "OrderNumber": str(order)}
        term = TERM_CT.get((variable, value))
        if code is not None and term is None and variable in ("RSCAT", "TRTESTCD"):
            item_attrs[_q("ExtendedValue", DEF_NS)] = "Yes"  # a sponsor extension of the codelist
        item = ET.SubElement(element, _q("EnumeratedItem"), item_attrs)
        if term is not None:
            ET.SubElement(item, _q("Alias"), {"Context": "nci:ExtCodeID", "Name": term})
    if code is not None:
        ET.SubElement(element, _q("Alias"), {"Context": "nci:ExtCodeID", "Name": code})
    parent_list.append(element)


def define_xml(datasets: Sequence[DatasetFacts], ctx: DefineContext) -> bytes:
    """The transfer's define.xml (UTF-8 bytes, ASCII content; deterministic)."""
    stamp = ctx.created.astimezone(dt.UTC).replace(tzinfo=None) if ctx.created.tzinfo else ctx.created
    root = ET.Element(
        _q("ODM"),
        {
            "ODMVersion": "1.3.2",
            "FileOID": f"{ctx.studyid}.BICR.define",
            "FileType": "Snapshot",
            "CreationDateTime": stamp.isoformat(timespec="seconds"),
            "Originator": "trialreads (blinded independent central review)",
            "SourceSystem": "trialreads",
            "SourceSystemVersion": ctx.criteria_version,
            _q("Context", DEF_NS): "Submission",
        },
    )
    study = ET.SubElement(root, _q("Study"), {"OID": f"STDY.{ctx.studyid}"})
    globals_ = ET.SubElement(study, _q("GlobalVariables"))
    for tag, text in (
        ("StudyName", ctx.studyid),
        ("StudyDescription", f"{ctx.studyid}: blinded independent central review data transfer"),
        ("ProtocolName", ctx.studyid),
    ):
        ET.SubElement(globals_, _q(tag)).text = text
    mdv = ET.SubElement(
        study,
        _q("MetaDataVersion"),
        {
            "OID": f"MDV.{ctx.studyid}.BICR",
            "Name": f"{ctx.studyid} BICR transfer, charter version {ctx.charter_version}",
            "Description": "SDTM TU/TR/RS and ADaM ADSL/ADRS/ADTTE of the independent review, "
            f"criteria algorithm version {ctx.criteria_version}",
            _q("DefineVersion", DEF_NS): "2.1.0",
        },
    )
    used = {DATASETS[ds.name][5] for ds in datasets if ds.name in DATASETS} | {SDTMIG, SDTM_CT}
    standards = ET.SubElement(mdv, _q("Standards", DEF_NS))
    for oid, name, kind, version, publishing in (s for s in (SDTMIG, ADAMIG, SDTM_CT) if s in used):
        attrs = {"OID": oid, "Name": name, "Type": kind, "Version": version, "Status": "Final"}
        if publishing:
            attrs["PublishingSet"] = publishing
        ET.SubElement(standards, _q("Standard", DEF_NS), attrs)
    supplemental = ET.SubElement(mdv, _q("SupplementalDoc", DEF_NS))
    ET.SubElement(supplemental, _q("DocumentRef", DEF_NS), {"leafID": GUIDE_LEAF})

    value_lists: list[ET.Element] = []
    where_clauses: list[ET.Element] = []
    groups: list[ET.Element] = []
    items: list[ET.Element] = []
    codelists: list[ET.Element] = []
    used_methods: set[str] = set()
    for ds in datasets:
        purpose, klass, subclass, structure, keys, standard = DATASETS.get(
            ds.name, ("Tabulation", "FINDINGS", "", "One record per record", ("STUDYID", "USUBJID"), SDTMIG)
        )
        group = ET.Element(
            _q("ItemGroupDef"),
            {
                "OID": f"IG.{ds.name}",
                "Name": ds.name,
                "Repeating": "No" if ds.name == "ADSL" else "Yes",
                "IsReferenceData": "No",
                "SASDatasetName": ds.name,
                "Purpose": purpose,
                _q("Structure", DEF_NS): structure,
                _q("ArchiveLocationID", DEF_NS): f"LF.{ds.name}",
                _q("StandardOID", DEF_NS): standard[0],
            },
        )
        _text(group, "Description", ds.label)
        levels: dict[str, list[ValueLevel]] = defaultdict(list)
        for level in ds.value_levels:
            levels[level.variable].append(level)
        for order, var in enumerate(ds.variables, start=1):
            oid = f"IT.{ds.name}.{var.name}"
            ref = {
                "ItemOID": oid,
                "OrderNumber": str(order),
                "Mandatory": "Yes" if var.name in keys else "No",
            }
            if var.name in keys:
                ref["KeySequence"] = str(keys.index(var.name) + 1)
            method = method_of(ds.name, var.name)
            if method is not None:
                ref["MethodOID"] = method
                used_methods.add(method)
            ET.SubElement(group, _q("ItemRef"), ref)
            item = ET.Element(_q("ItemDef"), _item_attrs(oid, var.name, var.facts, var.format))
            _text(item, "Description", var.label)
            if var.facts.values:
                ET.SubElement(item, _q("CodeListRef"), {"CodeListOID": f"CL.{ds.name}.{var.name}"})
                _codelist(codelists, f"CL.{ds.name}.{var.name}", f"{ds.name} {var.name}", var.name, var.facts)
            _origin(item, *origin(ds.name, var.name))
            if levels.get(var.name):
                ET.SubElement(item, _q("ValueListRef", DEF_NS), {"ValueListOID": f"VL.{ds.name}.{var.name}"})
                value_lists.append(
                    _value_list(ds, var.name, levels[var.name], where_clauses, items, codelists, used_methods)
                )
            items.append(item)
        klass_element = ET.SubElement(group, _q("Class", DEF_NS), {"Name": klass})
        if subclass:
            ET.SubElement(klass_element, _q("SubClass", DEF_NS), {"Name": subclass})
        leaf_attrs = {"ID": f"LF.{ds.name}", _q("href", XLINK_NS): f"{ds.file_stem}.xpt"}
        leaf = ET.SubElement(group, _q("leaf", DEF_NS), leaf_attrs)
        ET.SubElement(leaf, _q("title", DEF_NS)).text = f"{ds.file_stem}.xpt"
        groups.append(group)
    mdv.extend(value_lists)
    mdv.extend(where_clauses)
    mdv.extend(groups)
    mdv.extend(items)
    mdv.extend(codelists)
    described = methods(ctx)
    for oid in sorted(used_methods):
        kind, description = described[oid]
        method_def = ET.SubElement(
            mdv, _q("MethodDef"), {"OID": oid, "Name": oid.removeprefix("MT."), "Type": kind}
        )
        _text(method_def, "Description", description)
    guide_attrs = {"ID": GUIDE_LEAF, _q("href", XLINK_NS): "reviewers-guide.txt"}
    guide = ET.SubElement(mdv, _q("leaf", DEF_NS), guide_attrs)
    ET.SubElement(guide, _q("title", DEF_NS)).text = "Reviewer's guide"
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("ascii", "xmlcharrefreplace")


def _value_list(
    ds: DatasetFacts,
    variable: str,
    levels: Sequence[ValueLevel],
    where_clauses: list[ET.Element],
    items: list[ET.Element],
    codelists: list[ET.Element],
    used_methods: set[str],
) -> ET.Element:
    value_list = ET.Element(_q("ValueListDef", DEF_NS), {"OID": f"VL.{ds.name}.{variable}"})
    method = method_of(ds.name, variable)
    kind, source, description = origin(ds.name, variable)
    for order, level in enumerate(levels, start=1):
        oid = f"{ds.name}.{variable}.{order}"
        ref = {"ItemOID": f"IT.{oid}", "OrderNumber": str(order), "Mandatory": "No"}
        if method is not None:
            ref["MethodOID"] = method
            used_methods.add(method)
        item_ref = ET.SubElement(value_list, _q("ItemRef"), ref)
        ET.SubElement(item_ref, _q("WhereClauseRef", DEF_NS), {"WhereClauseOID": f"WC.{oid}"})
        clause = ET.Element(_q("WhereClauseDef", DEF_NS), {"OID": f"WC.{oid}"})
        for key, value in level.where:
            check = ET.SubElement(
                clause,
                _q("RangeCheck"),
                {
                    "Comparator": "EQ",
                    "SoftHard": "Soft",
                    _q("ItemOID", DEF_NS): f"IT.{ds.name}.{key}",
                },
            )
            ET.SubElement(check, _q("CheckValue")).text = value
        where_clauses.append(clause)
        where = ", ".join(f"{k} = {v}" for k, v in level.where)
        item = ET.Element(_q("ItemDef"), _item_attrs(f"IT.{oid}", variable, level.facts, ""))
        _text(
            item, "Description", f"{variable} where {where}" + (f" (in {level.unit})" if level.unit else "")
        )
        if level.facts.values:
            ET.SubElement(item, _q("CodeListRef"), {"CodeListOID": f"CL.{oid}"})
            _codelist(codelists, f"CL.{oid}", f"{variable} where {where}", variable, level.facts)
        _origin(item, kind, source, description)
        items.append(item)
    return value_list
