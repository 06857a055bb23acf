"""PFS event and censoring rules for ADTTE, held as data (cdisc-export.md §3.4).

The SAP's censoring rules are the table :data:`RULES`, not a chain of ``if`` statements, so the
table itself can be shown to the sponsor (``describe_rules()``) and each rule has its own test.
Rules are tried in table order; the first whose predicate holds decides ``CNSR``,
``EVNTDESC``, ``CNSDTDSC`` and which date becomes ``ADT``. ``CNSR`` is 0 for an event and one
positive integer per censoring reason, as the ADaM TTE guidance strongly recommends.

Inputs are the engine's :class:`criteria.types.Pfs` for one criterion (its event date already
follows the "PD at the earliest scan date" convention, §3.3) and the accepted reader's
timepoint responses for that criterion, plus subject dates the engine does not see: death,
start of new anticancer therapy, the data cut-off and the protocol imaging interval.

Every criterion has its own table (:data:`PFS_RULES`, one PFS parameter per criterion: PFS,
iPFS, imPFS, irPFS, metabolic PFS ...): the same precedence, with the criterion's progression
event (its codes in :data:`trialreads.exports.criteria_codes.CRITERIA_CODES`, its event
description, and how the engine dates it) as the event rule. Whether an unconfirmed
progression (iUPD, irPD, UPMD) is an event is the engine's setting (A3, I2, P5), already in
its ``Pfs``; the table names it.

Order of precedence (FDA "Clinical Trial Endpoints for the Approval of Cancer Drugs and
Biologics", PFS censoring table; the sponsor's SAP overrides by editing :data:`RULES`):

1. data after the cut-off does not exist (assessments, PD, death, therapy are dropped first);
2. new anticancer therapy before any event censors at the last adequate assessment on or
   before the therapy start (CNSR 5);
3. PD or death after two or more missed scheduled assessments censors at the last adequate
   assessment before the event (CNSR 4);
4. PD, then death, are events (CNSR 0);
5. no adequate post-baseline assessment censors at randomisation (CNSR 2);
6. an event or assessment ignored because of the cut-off censors at the last adequate
   assessment on or before the cut-off (CNSR 3);
7. otherwise, censored at the last adequate assessment (CNSR 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

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
    Pfs,
)
from trialreads.exports.criteria_codes import CRITERIA_CODES

#: Timepoint responses that are progression under RECIST 1.1 / imRECIST / iRECIST (the
#: default of :class:`PfsInput`; each criterion's own are in ``CRITERIA_CODES``).
PROGRESSION_CODES = frozenset({"PD", "iUPD", "iCPD"})
#: Responses that do not make an assessment "adequate" (evaluable).
NOT_ADEQUATE_CODES = frozenset({"NE", "NA", ""})
#: "two or more missed assessments" (FDA guidance; EMA uses the same convention).
MISSED_ASSESSMENTS = 2

EventKind = Literal["PD", "DEATH"]


@dataclass(frozen=True)
class Assessment:
    """One post-baseline timepoint response of the accepted reader (an RS ``OVRLRESP`` record)."""

    date: dt.date
    response: str
    seq: int | None = None  # RSSEQ, for SRCSEQ traceability

    @property
    def adequate(self) -> bool:
        return self.response not in NOT_ADEQUATE_CODES


@dataclass(frozen=True)
class PfsInput:
    """Everything one subject × criterion PFS derivation needs.

    ``assessment_interval_days`` is the protocol imaging interval and ``window_days`` the visit
    window; an event later than ``last adequate + 2 × interval + window`` follows two missed
    assessments.
    """

    randomisation_date: dt.date
    pfs: Pfs
    assessments: tuple[Assessment, ...]
    assessment_interval_days: int
    window_days: int = 0
    death_date: dt.date | None = None
    new_therapy_date: dt.date | None = None
    data_cutoff: dt.date | None = None
    #: the criterion's timepoint codes that are a progression (traceability of the event)
    progression_codes: frozenset[str] = PROGRESSION_CODES


@dataclass(frozen=True)
class Facts:
    """What the predicates look at, after the data cut-off has been applied."""

    inp: PfsInput
    adequate: tuple[Assessment, ...]  # on or before the cut-off, by date
    event_kind: EventKind | None
    event_date: dt.date | None
    event_seq: int | None
    therapy_date: dt.date | None
    truncated: bool  # an event or an assessment was dropped by the cut-off

    def last_adequate(self, before: dt.date | None = None, *, inclusive: bool = True) -> Assessment | None:
        candidates = [
            a
            for a in self.adequate
            if before is None or (a.date <= before if inclusive else a.date < before)
        ]
        return candidates[-1] if candidates else None


@dataclass(frozen=True)
class CensoringRule:
    """One row of the SAP's censoring table.

    ``predicate`` and ``date_source`` are ids into :data:`PREDICATES` / :data:`DATE_SOURCES`
    so the rule is data (serialisable, listable) and the logic behind each id is one small
    function.
    """

    code: int
    evntdesc: str
    cnsdtdsc: str | None
    description: str
    predicate: str
    date_source: str


@dataclass(frozen=True)
class PfsOutcome:
    """The ADTTE values of one subject × parameter."""

    adt: dt.date
    cnsr: int
    evntdesc: str
    cnsdtdsc: str | None
    rule: CensoringRule
    srcdom: str
    srcvar: str
    srcseq: int | None


RULES: tuple[CensoringRule, ...] = (
    CensoringRule(
        5,
        "NEW ANTICANCER THERAPY BEFORE PD",
        "LAST ADEQUATE ASSESSMENT ON OR BEFORE NEW THERAPY",
        "New anticancer therapy started before PD or death: censored at the last adequate "
        "assessment on or before the start of the therapy (randomisation if none).",
        "new_therapy_before_event",
        "last_adequate_before_therapy",
    ),
    CensoringRule(
        4,
        "PD OR DEATH AFTER 2 OR MORE MISSED ASSESSMENTS",
        "LAST ADEQUATE ASSESSMENT BEFORE MISSED ASSESSMENTS",
        "PD or death later than last adequate assessment + 2 x imaging interval + window: "
        "censored at the last adequate assessment before the event (randomisation if none).",
        "event_after_missed_assessments",
        "last_adequate_before_event",
    ),
    CensoringRule(
        0,
        "DISEASE PROGRESSION",
        None,
        "Progression (PD; iRECIST iUPD later confirmed, per the engine) on or before the "
        "cut-off: event at the progression date (earliest scan date of the timepoint).",
        "progression",
        "event_date",
    ),
    CensoringRule(
        0,
        "DEATH",
        None,
        "Death from any cause without prior progression, on or before the cut-off: event at "
        "the date of death.",
        "death",
        "event_date",
    ),
    CensoringRule(
        2,
        "NO ADEQUATE POST-BASELINE ASSESSMENT",
        "RANDOMIZATION DATE",
        "No adequate post-baseline assessment on or before the cut-off and no event: "
        "censored at randomisation.",
        "no_adequate_assessment",
        "randomisation",
    ),
    CensoringRule(
        3,
        "DATA CUT-OFF",
        "LAST ADEQUATE ASSESSMENT ON OR BEFORE DATA CUT-OFF",
        "An event or assessments after the data cut-off were ignored: censored at the last "
        "adequate assessment on or before the cut-off.",
        "after_cutoff_ignored",
        "last_adequate",
    ),
    CensoringRule(
        1,
        "LAST ADEQUATE ASSESSMENT",
        "LAST ADEQUATE ASSESSMENT",
        "No event: censored at the last adequate assessment.",
        "no_event",
        "last_adequate",
    ),
)

_AT_DATE = "on or before the cut-off: event at the progression date (earliest scan date of the timepoint)."

#: criterion -> (EVNTDESC of its progression event, what the event is): the event rule of
#: its table. The dates and the unconfirmed cases are the engine's (``criteria.endpoints``).
PROGRESSION_EVENTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    RECIST11: ("DISEASE PROGRESSION", f"Progression (PD) {_AT_DATE}"),
    IRECIST: (
        "DISEASE PROGRESSION",
        "Progression (the iUPD of a block confirmed by iCPD; an unconfirmed iUPD by setting A3, "
        f"default event) {_AT_DATE}",
    ),
    IMRECIST: (
        "DISEASE PROGRESSION",
        f"Progression (a PD not negated by the next assessment, IM-PFS) {_AT_DATE}",
    ),
    PERCIST: ("METABOLIC PROGRESSION", f"Metabolic progression (PMD) {_AT_DATE}"),
    IPERCIST: (
        "METABOLIC PROGRESSION",
        "Metabolic progression (UPMD confirmed as CPMD; an unconfirmed UPMD by setting P5, "
        f"default event) {_AT_DATE}",
    ),
    IMPERCIST5: ("METABOLIC PROGRESSION", f"Metabolic progression (PMD on the SULpeak sum) {_AT_DATE}"),
    PERCIMT: ("METABOLIC PROGRESSION", f"Metabolic progression (PMD by the PERCIMT rules) {_AT_DATE}"),
    IRRC: (
        "IMMUNE-RELATED PROGRESSION",
        "Immune-related progression (irPD confirmed at least 4 weeks later, dated by setting I1; an "
        f"unconfirmed irPD by setting I2, default event) {_AT_DATE}",
    ),
    IRRECIST: (
        "IMMUNE-RELATED PROGRESSION",
        "Immune-related progression (irPD confirmed at least 4 weeks later, dated by setting I1; an "
        f"unconfirmed irPD by setting I2, default event) {_AT_DATE}",
    ),
    ITRECIST: (
        "DISEASE PROGRESSION",
        "Progression of all lesions by the itRECIST basis (setting T1: iRECIST by default, iUPD "
        f"confirmed by iCPD; or RECIST 1.1 PD) {_AT_DATE}",
    ),
})


def criterion_rules(criterion: str, rules: tuple[CensoringRule, ...] = RULES) -> tuple[CensoringRule, ...]:
    """``rules`` with the progression rule of ``criterion`` (:data:`PROGRESSION_EVENTS`)."""
    evntdesc, description = PROGRESSION_EVENTS[criterion]
    return tuple(
        replace(rule, evntdesc=evntdesc, description=description) if rule.predicate == "progression" else rule
        for rule in rules
    )


#: criterion -> its PFS censoring table, in precedence order (one ADTTE parameter each).
PFS_RULES: Mapping[str, tuple[CensoringRule, ...]] = MappingProxyType(
    {criterion: criterion_rules(criterion) for criterion in CRITERIA_CODES}
)


# --- predicates and date sources ---------------------------------------------------


def _missed_limit(facts: Facts) -> dt.date | None:
    if facts.event_date is None:
        return None
    last = facts.last_adequate(facts.event_date, inclusive=False)
    reference = last.date if last else facts.inp.randomisation_date
    span = MISSED_ASSESSMENTS * facts.inp.assessment_interval_days + facts.inp.window_days
    return reference + dt.timedelta(days=span)


def _new_therapy_before_event(facts: Facts) -> bool:
    if facts.therapy_date is None:
        return False
    return facts.event_date is None or facts.therapy_date < facts.event_date


def _event_after_missed(facts: Facts) -> bool:
    limit = _missed_limit(facts)
    return limit is not None and facts.event_date is not None and facts.event_date > limit


PREDICATES: dict[str, Callable[[Facts], bool]] = {
    "new_therapy_before_event": _new_therapy_before_event,
    "event_after_missed_assessments": _event_after_missed,
    "progression": lambda f: f.event_kind == "PD",
    "death": lambda f: f.event_kind == "DEATH",
    "no_adequate_assessment": lambda f: not f.adequate,
    "after_cutoff_ignored": lambda f: f.truncated,
    "no_event": lambda f: f.event_kind is None,
}

#: date source id -> (date, SRCDOM, SRCVAR, SRCSEQ)
Source = tuple[dt.date, str, str, int | None]


def _from_assessment(a: Assessment | None, facts: Facts) -> Source:
    if a is None:
        return (facts.inp.randomisation_date, "ADSL", "RANDDT", None)
    return (a.date, "RS", "RSDTC", a.seq)


def _event_source(facts: Facts) -> Source:
    assert facts.event_date is not None
    if facts.event_kind == "DEATH":
        return (facts.event_date, "ADSL", "DTHDT", None)
    return (facts.event_date, "RS", "RSDTC", facts.event_seq)


DATE_SOURCES: dict[str, Callable[[Facts], Source]] = {
    "event_date": _event_source,
    "randomisation": lambda f: (f.inp.randomisation_date, "ADSL", "RANDDT", None),
    "last_adequate": lambda f: _from_assessment(f.last_adequate(), f),
    "last_adequate_before_therapy": lambda f: _from_assessment(f.last_adequate(f.therapy_date), f),
    "last_adequate_before_event": lambda f: _from_assessment(
        f.last_adequate(f.event_date, inclusive=False), f
    ),
}


# --- derivation -------------------------------------------------------------------


def _within(date: dt.date | None, cutoff: dt.date | None) -> dt.date | None:
    return date if date is not None and (cutoff is None or date <= cutoff) else None


def facts_for(inp: PfsInput) -> Facts:
    """Apply the cut-off and work out the first event (PD from the engine, death from input).

    The engine's ``Pfs`` is an event either for progression or for death; it is read as death
    when its date is the death date and no progression response was recorded by then. A tie
    between PD and death on the same day counts as PD.
    """
    cutoff = inp.data_cutoff
    ordered = sorted(inp.assessments, key=lambda a: (a.date, a.seq or 0))
    kept = [a for a in ordered if cutoff is None or a.date <= cutoff]
    progressed_by_death = inp.death_date is not None and any(
        a.response in inp.progression_codes and a.date <= inp.death_date for a in ordered
    )
    pd_date: dt.date | None = None
    if inp.pfs.event and not (inp.pfs.date == inp.death_date and not progressed_by_death):
        pd_date = inp.pfs.date
    truncated = cutoff is not None and (
        len(kept) < len(ordered)
        or (pd_date is not None and pd_date > cutoff)
        or (inp.death_date is not None and inp.death_date > cutoff)
    )
    pd_kept = _within(pd_date, cutoff)
    death_kept = _within(inp.death_date, cutoff)
    event_kind: EventKind | None = None
    event_date: dt.date | None = None
    event_seq: int | None = None
    if pd_kept is not None and (death_kept is None or pd_kept <= death_kept):
        event_kind, event_date = "PD", pd_kept
        # Traceability: the progression timepoint whose response carries this date (the PD
        # date may precede it when an equivocal new lesion is confirmed later).
        source = next((a for a in kept if a.response in inp.progression_codes and a.date >= pd_kept), None)
        event_seq = source.seq if source else None
    elif death_kept is not None:
        event_kind, event_date = "DEATH", death_kept
    adequate = tuple(a for a in kept if a.adequate and (event_date is None or a.date <= event_date))
    return Facts(
        inp=inp,
        adequate=adequate,
        event_kind=event_kind,
        event_date=event_date,
        event_seq=event_seq,
        therapy_date=_within(inp.new_therapy_date, cutoff),
        truncated=truncated,
    )


def censor_pfs(inp: PfsInput, rules: tuple[CensoringRule, ...] = RULES) -> PfsOutcome:
    """The ADTTE PFS record of one subject × criterion: the first matching censoring rule of
    ``rules`` decides ADT, CNSR, EVNTDESC and CNSDTDSC (the engine's own PFS, from
    ``criteria.endpoints.criterion_pfs``, is one of the inputs)."""
    facts = facts_for(inp)
    for rule in rules:
        if PREDICATES[rule.predicate](facts):
            adt, srcdom, srcvar, srcseq = DATE_SOURCES[rule.date_source](facts)
            if adt < inp.randomisation_date:
                raise ValueError(f"ADT {adt} precedes randomisation {inp.randomisation_date}")
            return PfsOutcome(
                adt=adt,
                cnsr=rule.code,
                evntdesc=rule.evntdesc,
                cnsdtdsc=rule.cnsdtdsc,
                rule=rule,
                srcdom=srcdom,
                srcvar=srcvar,
                srcseq=srcseq,
            )
    raise ValueError("no censoring rule matched; the rule table must end with a catch-all")


def describe_rules(rules: tuple[CensoringRule, ...] = RULES) -> list[dict[str, str | int | None]]:
    """The table as plain dicts, in precedence order (for the manifest and the sponsor)."""
    return [
        {
            "order": index,
            "cnsr": rule.code,
            "evntdesc": rule.evntdesc,
            "cnsdtdsc": rule.cnsdtdsc,
            "description": rule.description,
            "predicate": rule.predicate,
            "date_source": rule.date_source,
        }
        for index, rule in enumerate(rules, start=1)
    ]
