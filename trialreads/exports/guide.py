"""The transfer's short reviewer's guide (``reviewers-guide.txt``, issue 18 item 5).

Plain ASCII text for the sponsor's programmer and validator: what the transfer holds, the
conventions the writers follow, and what it does not hold, each stated from the datasets
themselves (counts of partial dates, imputed ADaM dates and adjudicator records) so that
the text cannot drift from the data it describes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from trialreads.exports.censoring import PFS_RULES, describe_rules
from trialreads.exports.criteria_codes import CRITERIA_CODES, HYPERPROGRESSION_PARAMS
from trialreads.exports.datasets import (
    PFS,
    ExportStudy,
    has_epochs,
    has_study_days,
    ordered_criteria,
    paramcd,
)
from trialreads.exports.dates import IMPUTATION_RULES
from trialreads.exports.timing import EPOCH_RULES

GUIDE_NAME = "reviewers-guide.txt"


@dataclass(frozen=True)
class GuideFacts:
    """What the guide counts, taken from the transfer's input (:func:`guide_facts`)."""

    partial_date_visits: int  # reader visits whose date was collected partial
    adjudicated_subjects: int
    criteria: tuple[str, ...] = ()  # the criteria with results in the transfer, in its order
    prebaseline_visits: int = 0  # reader visits before the baseline (tumour growth rate)
    date_imputation: str = "nominal"  # the charter's rule for partial dates
    study_days: bool = False  # TU/TR/RS carry --DY (some subject has a reference start date)
    epoch_rule: str = ""  # the charter's epochs ("" none); EPOCH is there when study_days too
    subjects_without_reference: int = 0  # subjects without a reference start date
    settings: tuple[tuple[str, str], ...] = ()  # the engine settings the responses were evaluated with
    #: rule -> reader visits whose partial date it imputed (the rule recorded on the visit)
    imputed_by: tuple[tuple[str, int], ...] = ()


def guide_facts(study: ExportStudy) -> GuideFacts:
    present = {c for s in study.subjects for r in s.reads for c in r.criteria}
    rules = Counter(
        tp.imputation or study.date_imputation
        for s in study.subjects for r in s.reads for tp in r.timepoints if tp.dtc
    )  # fmt: skip
    return GuideFacts(
        date_imputation=study.date_imputation,
        study_days=has_study_days(study),
        epoch_rule=study.epoch_rule if has_epochs(study) else "",
        subjects_without_reference=sum(1 for s in study.subjects if s.reference_start_date is None),
        settings=study.settings,
        imputed_by=tuple(sorted(rules.items())),
        partial_date_visits=sum(
            1 for s in study.subjects for r in s.reads for tp in r.timepoints if tp.dtc
        ),
        adjudicated_subjects=sum(1 for s in study.subjects if s.adjudicated),
        criteria=tuple(ordered_criteria(dict.fromkeys(present))),
        prebaseline_visits=sum(
            1 for s in study.subjects for r in s.reads for tp in r.timepoints if tp.prebaseline
        ),
    )


def criteria_metadata(criteria: Sequence[str]) -> list[dict[str, object]]:
    """Per criterion of the transfer: its RSCAT (with the CDISC CT code, or ``null`` for a
    sponsor extension), parameter codes, progression codes and PFS censoring table (for the
    manifest)."""
    out: list[dict[str, object]] = []
    for criterion in criteria:
        entry = CRITERIA_CODES[criterion]
        out.append(
            {
                "criterion": criterion,
                "rscat": entry.rscat,
                "rscat_ct_code": entry.ct_code or None,
                "paramcd_suffix": entry.suffix,
                "pfs_paramcd": paramcd(PFS, criterion),
                "progression_codes": sorted(entry.progression),
                "own_rs_tests": [t.testcd for t in entry.extra_tests],
                "censoring_rules": describe_rules(PFS_RULES[criterion]),
            }
        )
    return out


def _criteria_lines(criteria: Sequence[str]) -> list[str]:
    lines = []
    for criterion in criteria:
        entry = CRITERIA_CODES[criterion]
        source = f"CDISC CT {entry.ct_code}" if entry.ct_code else "sponsor extension of C124298"
        pd = "/".join(sorted(entry.progression))
        lines.append(
            f"   {entry.rscat} ({source}): OVR{entry.suffix}, BOR{entry.suffix}, CBOR{entry.suffix}, "
            f"{paramcd(PFS, criterion)} (progression {pd})"
        )
        if entry.extra_tests:
            own = [t.testcd for t in entry.extra_tests]
            params = [t.paramcd for t in entry.extra_tests] + [b.paramcd for b in entry.extra_best]
            lines.append(f"     its own: RS {', '.join(own)}; ADRS {', '.join(params)}")
    return lines or ["   (no criterion results)"]


def reviewers_guide(
    datasets: Sequence[tuple[str, str, str, int, int]],
    facts: GuideFacts,
    *,
    studyid: str,
    criteria_version: str,
    charter_version: str,
    data_cutoff: dt.date | None,
) -> bytes:
    """The guide's bytes (ASCII, LF line ends); ``datasets`` are (name, label, file stem,
    records, variables) in transfer order."""
    lines = [
        f"Reviewer's guide: blinded independent central review transfer, study {studyid}",
        "",
        f"Criteria algorithm version: {criteria_version}; charter version {charter_version}; "
        f"data cut-off: {data_cutoff.isoformat() if data_cutoff else 'none'}.",
        "",
        "1. Datasets",
        *(f"   {name:<6} {label} ({rows} records, {variables} variables; {stem}.xpt and {stem}.csv)"
          for name, label, stem, rows, variables in datasets),
        f"   {GUIDE_NAME}: this guide. define.xml: Define-XML 2.1 of every dataset (variables, origins,",
        "   codelists of the values used, value-level metadata per test code, parameter and qualifier, the",
        "   methods with the criteria algorithm version and engine settings), one file for SDTM and ADaM.",
        "   manifest.json lists every file with its SHA-256, the censoring rules and the versions.",
        "",
        "2. Evaluators and the accepted read",
        "   Two independent radiologists (RADIOLOGIST 1 / 2, --EVAL INDEPENDENT ASSESSOR); when their",
        "   reads disagree the adjudicator chooses one. --ACPTFL = Y marks the accepted records. For an",
        "   adjudicated subject RS repeats the chosen reader's OVRLRESP and BESTRESP as RSEVALID",
        "   ADJUDICATOR records with the chosen reader's RSLNKGRP; those carry RSACPTFL = Y and ADRS/ADTTE",
        f"   cite them in SRCSEQ. Adjudicated subjects in this transfer: {facts.adjudicated_subjects}.",
        "",
        "3. Results as collected",
        "   TRORRES is the result as collected (a value transcribed from a source keeps its text, e.g. 21",
        "   or 32.32); TRSTRESC/TRSTRESN are the standardised values in mm the criteria engine decided on,",
        "   at their collected precision (never rounded). TOO SMALL TO MEASURE is standardised to 5 mm.",
        "",
        "4. Dates",
        "   SDTM --DTC keep the collected precision: a partial date (YYYY-MM, YYYY) stays partial",
        f"   (reader visits with a partial date in this transfer: {facts.partial_date_visits}). The engine",
        f"   and ADaM use an imputed date, by the charter's rule ({facts.date_imputation}) unless an import",
        "   named another for its visits (recorded on each visit):",
        *(f"     {rule.name:<8} {rule.description}" for rule in IMPUTATION_RULES),
        "   always after the previous visit. Reader visits imputed, by rule: "
        + (", ".join(f"{rule} {count}" for rule, count in facts.imputed_by) or "none") + ".",
        "   ADRS ADT is that date, with ADTF = D (day imputed) or M (month and day imputed); ADTTE",
        "   ADT takes the same dates. RSDTC of a visit is its latest image date for CR/PR and its",
        "   earliest for any other response (SDTM RECIST supplement).",
        "",
        "5. Time to event (ADTTE)",
        "   AVAL = ADT - STARTDT + 1 days; CNSR 0 is an event, each censoring reason has its own code:",
        *(f"     CNSR {rule['cnsr']}: {rule['evntdesc']}" for rule in describe_rules()),
        "   Each criterion has its own PFS parameter and table (manifest.json, criteria): the same",
        "   precedence, with that criterion's progression event (metabolic progression for the PERCIST",
        "   family, immune-related progression for irRC / irRECIST).",
        "",
        "6. Criteria (RSCAT, ADaM PARCAT1 and parameter codes)",
        *_criteria_lines(facts.criteria),
        "   Controlled terminology: SDTM CT 2025-03-25 (check against the CT version of the data transfer",
        "   agreement). TR test codes: LDIAM, LPERP (a node's short axis; a non-nodal lesion's perpendicular",
        "   diameter in a bidimensional read), SUMDIAM, TUMSTATE, SULPEAK, SULMAX, SULMEAN (C96779); TLG",
        "   (total lesion glycolysis, g) and SULSD (SD of a PET reference region's SUL) are sponsor",
        "   extensions, as is the unit g/mL of SUL values. A PET scan's reference region is a TU record",
        "   (TUORRES LOCATION OF INTEREST, TULOC LIVER or DESCENDING AORTA) with its SULMEAN/SULSD in TR.",
        "   itRECIST's injected flags are supplemental qualifiers: SUPPTU INJECTED (Y/N, baseline lesions),",
        "   SUPPTR INJFIRST (Y: first injected at that visit). Growth-family flags, when computed, are ADRS",
        f"   parameters with AVALC Y/N/U: {', '.join(code for code, _ in HYPERPROGRESSION_PARAMS.values())},",
        "   PSPD<suffix>, DISSRESP. Pre-baseline scans (tumour growth rate) are TR visits before the",
        f"   baseline without RS records ({facts.prebaseline_visits} reader visits in this transfer).",
        "",
        "7. Subject-level dates, study days and epochs",
        "   ADSL is a minimal subject-level dataset of the trial's dates the BICR derivations use",
        "   (RANDDT, TRTSDT first dose, DTHDT, LSTALVDT last contact, RFSTDTC), one record per subject:",
        "   ADTTE STARTDT is ADSL RANDDT and SRCDOM/SRCVAR name it; merge it into the sponsor's ADSL.",
        *_timing_lines(facts),
        "",
    ]
    return "\n".join(lines).encode("ascii")


def _timing_lines(facts: GuideFacts) -> list[str]:
    if facts.study_days:
        days = [
            "   --DY (TUDY, TRDY, RSDY) count from the subject's reference start date (RFSTDTC is",
            "   day 1, the day before is day -1, no day 0), from full dates only (a partial --DTC has",
            "   none); subjects without a reference start date have none "
            f"({facts.subjects_without_reference} in this transfer).",
        ]
    else:
        days = ["   --DY: left out, the sponsor's reference start date (RFSTDTC) was not provided."]
    rule = EPOCH_RULES.get(facts.epoch_rule)
    if rule is None:
        return [
            *days,
            "   EPOCH: left out, the sponsor's epochs (charter epoch_rule) and reference start dates",
            "   were not both provided.",
        ]
    return [
        *days,
        f"   EPOCH (charter epoch rule {rule.name}): {rule.description};",
        "   a partial date straddling the reference start date has none; SUMDIAM takes its visit's date.",
    ]
