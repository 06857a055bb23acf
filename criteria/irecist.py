"""iRECIST timepoint responses from lesion measurements (rules §4: SEY17 and the EORTC FAQ).

The measurement rules are RECIST 1.1 (IR-BASE, :mod:`criteria.lesions`); what iRECIST adds is
a small state machine over the timepoints:

* **no open progression**: a RECIST 1.1 progression in any category (target sum, unequivocal
  non-target progression, new lesions) is *unconfirmed* progression, iUPD, and opens a
  *block* that remembers which categories were progressing and their sizes at that point;
* **iUPD block open**: the next assessment confirms (iCPD) on a further increase in a
  category already progressing or on RECIST progression newly met in another (IR-CONF),
  keeps iUPD while the iUPD criteria still hold, or resets to iSD / iPR / iCR (IR-RESET);
* **iCPD**: confirmed progression is final: later timepoints stay iCPD (a scan not done is
  still NE). Treatment normally stops at iCPD; no later response undoes a confirmation.

New lesions: measurable ones (non-nodal >= 10 mm, nodal >= 15 mm SA), up to 5 in total and
2 per organ, taken timepoint by timepoint and largest first (R11-TGT-SEL "selection is by
size"; never by input order or id), are new-lesion targets (NLT) with their own sum
(``extra["nlt_sum_mm"]``), never added to the target sum; the rest are NLNT (IR-NEW). A
lesion is classified when first seen; an NLNT that grows later stays NLNT (its growth is
"any increase in NLNT" and confirms). NLNT carry only a size in the contract, so "any
increase" is read from their mm; the "unequivocal progression" of a pre-existing NLNT after
a reset cannot be expressed and is never assumed.

Readings chosen where the sources leave room (each stated in ``why`` when it decides):

* After a non-target-driven iUPD the contract's ratings map to the FAQ's CRF codes
  (FAQ-IR-NT-DRIVEN): ``unequivocal_progression`` again is "no change since the iUPD"
  (NCLA: iUPD stands), ``further_increase`` is an increase since the last assessment
  (INCLA: confirms, iCPD), ``present`` is non-iCR/non-iUPD, an improvement: the non-targets
  no longer hold the iUPD, and the iUPD is reset when the rest meets iSD / iPR / iCR
  (IR-RESET, SEY17 "iUPD followed by iSD, iPR or iCR resets the bar").
* An early scan (FAQ-IR-EARLY-SCAN) cannot confirm unless symptom-driven with an additional
  new lesion; it can still reset the iUPD when iSD / iPR / iCR criteria are met (the FAQ
  only bars it from defining iCPD). An early scan that does neither is disregarded: its new
  lesions stay "additional" for the confirmatory scan, and the window counts on from the
  first iUPD.
* The 4-8 week window's upper bound counts from the latest iUPD assessment of the block, so
  iUPD, iUPD, iCPD at 6-week intervals is in time; later scans confirm by default (A4).
* A5: after a new-lesion iUPD, targets that shrink further (below the previous sum) to iPR
  or iCR with the new lesions unchanged give iPR (scenario B); unchanged measurements keep
  iUPD (scenario F). ``irecist_nl_iupd_allows_ipr=False`` keeps iUPD in both.
* A1 continued PR ends at an iUPD: after a reset a new iPR is needed for it to apply again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from criteria.lesions import (
    MIN_INCREASE_MM,
    RECIST_CAP,
    NewLesionView,
    NonTargetAssessment,
    SubjectCache,
    SumAssessment,
    SumLesion,
    allocate_new_targets,
    meets_pd,
    mm_text,
    new_target_lesions,
    require_baseline,
)
from criteria.recist11 import new_lesion_sentences, not_done_result
from criteria.types import Baseline, ScanKind, Subject, Timepoint, TimepointResult

ICR = "iCR"
IPR = "iPR"
ISD = "iSD"
IUPD = "iUPD"
ICPD = "iCPD"
NON_ICR_NON_IUPD = "NON-iCR/NON-iUPD"
NE = "NE"
NA = "NA"

#: No NLT / NLNT values at a timepoint (frozen: one instance serves every timepoint).
_NO_NLT: Mapping[str, Decimal] = MappingProxyType({})
_NO_NLNT: Mapping[str, Decimal | None] = MappingProxyType({})
_NO_IDS: frozenset[str] = frozenset()
_TARGET_CODES = MappingProxyType({"CR": ICR, "PR": IPR, "SD": ISD, "PD": IUPD, "NE": NE, "NA": NA})
_NON_TARGET_CODES = MappingProxyType(
    {"CR": ICR, "NON-CR/NON-PD": NON_ICR_NON_IUPD, "PD": IUPD, "NE": NE, "NA": NA}
)


@dataclass(slots=True)
class _Block:
    """An open iUPD: what was progressing and how big it was at the iUPD (IR-CONF).

    ``start`` is the date of the block's first iUPD (FAQ-IR-EARLY-SCAN counts from it);
    ``last`` the latest iUPD assessment that counted (the 4-8 week window's upper bound,
    A4, counts from it). The references stay those of the iUPD that made each category
    progress, so sequential increases add up (FAQ-IR-NL-PROG: +4 mm then +2 mm confirms).
    They are kept per lesion (the lesions assessed at the iUPD) so that a lesion not
    assessed on one of the two scans cannot pass for growth (:func:`_rise`).
    """

    start: dt.date
    last: dt.date
    target_ref: dict[str, Decimal] | None
    nontarget: bool
    new: bool
    nlt_ref: dict[str, Decimal]
    nlnt_ref: dict[str, Decimal | None] = field(default_factory=dict)
    new_ids: frozenset[str] = frozenset()  # new lesions present at a new-lesion iUPD


@dataclass(slots=True)
class _State:
    baseline_mm: Decimal
    nadir: Decimal
    known_new: set[str] = field(default_factory=set)
    nlt_nadir: Decimal | None = None
    nlt_nadir_ids: frozenset[str] = frozenset()
    block: _Block | None = None
    confirmed: dt.date | None = None
    responded: bool = False  # A1: iPR/iCR since the last iUPD
    previous: str | None = None  # overall at the previous evaluable assessment (A2)
    last_target_mm: Decimal | None = None  # scenario B: "further shrinkage"


@dataclass(slots=True)
class _Now:
    """Everything measured at one evaluable timepoint (never changed once built; not frozen
    only because a frozen dataclass is slower to build, once per timepoint)."""

    tp: Timepoint
    view: NewLesionView
    targets: SumAssessment | None
    non_targets: NonTargetAssessment
    added: tuple[str, ...]  # unequivocal new lesions not seen before
    nlt_mm: Decimal | None  # NLT sum of measures (assessed NLT only); None without NLT
    lesions: tuple[SumLesion, ...]  # the baseline targets' values
    nlt_values: Mapping[str, Decimal]  # assessed NLT
    nlt_ids: frozenset[str]
    nlt_complete: bool
    nlnt_mm: Mapping[str, Decimal | None]  # NLNT present now, with their size

    @property
    def target_values(self) -> dict[str, Decimal]:
        """The assessed targets' values (read only at an iUPD and in its block)."""
        return {x.id: x.mm for x in self.lesions if x.mm is not None}

    @property
    def target_pd(self) -> bool:
        return self.targets is not None and self.targets.code == "PD"

    @property
    def non_target_pd(self) -> bool:
        return self.non_targets.code == "PD"


def timepoint_responses(subject: Subject, cache: SubjectCache | None = None) -> tuple[TimepointResult, ...]:
    """iRECIST responses, one per timepoint (IR-TPR-T2, IR-CONF, IR-RESET; rules §4).

    The walk goes on through every timepoint; see the module docstring for the states.
    """
    baseline = require_baseline(subject)
    cache = cache or SubjectCache(subject)
    views = cache.views
    nlt_chosen = (allocate_new_targets(subject, views, cap=RECIST_CAP, promote=False)
                  if cache.any_new else {})
    base_mm = cache.baseline_mm
    state = _State(baseline_mm=base_mm, nadir=base_mm)
    explain = cache.explain
    results: list[TimepointResult] = []
    for i, (tp, view) in enumerate(zip(subject.timepoints, views, strict=True)):
        if tp.scan is ScanKind.NOT_DONE:
            results.append(not_done_result(baseline, tp))
            continue
        now = _measure(cache, subject, baseline, tp, view, i, nlt_chosen, state)
        results.append(_step(subject, now, state, explain, cache.new_codes[i]))
    return tuple(results)


def _measure(
    cache: SubjectCache,
    subject: Subject,
    baseline: Baseline,
    tp: Timepoint,
    view: NewLesionView,
    index: int,
    nlt_chosen: dict[str, int],
    state: _State,
) -> _Now:
    """The RECIST 1.1 categories (IR-BASE) and the new-lesion bookkeeping (IR-NEW) of one
    evaluable timepoint; A2 applies after an overall iCR at the previous assessment."""
    after_cr = subject.settings.reappearance_after_cr_is_pd and state.previous == ICR
    targets = None
    lesions = cache.lesions[index]
    if baseline.targets:
        targets = cache.assess_sum(index, lesions, state.nadir, after_cr)
    non_targets = cache.assess_nontargets_after_cr(index) if after_cr else cache.nontargets[index]
    present = view.present
    nlnt_mm: Mapping[str, Decimal | None] = _NO_NLNT
    added: tuple[str, ...] = ()
    if present:
        known = state.known_new
        added = tuple(x.id for x in present if x.id not in known)
        by_id = {x.id: x for x in tp.new_lesions}
        nlnt_mm = {x.id: by_id[x.id].mm for x in present if x.id not in nlt_chosen}
    nlt = new_target_lesions(tp, nlt_chosen, index) if nlt_chosen else ()
    if nlt:
        return _Now(
            tp, view, targets, non_targets, added,
            nlt_mm=sum((x.mm for x in nlt if x.mm is not None), Decimal(0)),
            lesions=lesions,
            nlt_values={x.id: x.mm for x in nlt if x.mm is not None},
            nlt_ids=frozenset(x.id for x in nlt),
            nlt_complete=all(x.mm is not None for x in nlt),
            nlnt_mm=nlnt_mm,
        )
    return _Now(tp, view, targets, non_targets, added, None, lesions, _NO_NLT, _NO_IDS, True, nlnt_mm)


def _step(subject: Subject, now: _Now, state: _State, explain: bool = True,
          new_lesions: str | None = None) -> TimepointResult:
    """Decide one evaluable timepoint and move the state on (IR-TPR-T2, IR-CONF, IR-RESET).

    With iCPD confirmed the response stays iCPD; with no iUPD open a RECIST 1.1 progression
    opens one (iUPD, dated at the earliest scan or an equivocal lesion's first scan,
    R11-EQUIVOCAL); with an iUPD open :func:`_in_block` decides. Without ``explain`` (see
    :data:`criteria.lesions.SENTENCES`) the result carries no sentences; nothing else changes.
    ``new_lesions`` is ``now.view.code`` when the caller has it already.
    """
    nadir_before = state.nadir
    # A1 (FAQ-IR-MANAGING-PR): iPR/iCR since the last iUPD, so target iSD reads as iPR.
    continue_pr = state.responded and subject.settings.pr_continues_until_pd
    why: list[str] = []
    if explain:
        if now.targets is not None:
            why.extend(_i_codes(w) for w in now.targets.why)
        why.extend(_i_codes(w) for w in now.non_targets.why)
        why.extend(new_lesion_sentences(now.view))
        if now.nlt_mm is not None:
            nlt = ", ".join(sorted(now.nlt_ids))
            why.append(f"new-lesion targets {nlt}: sum of measures {mm_text(now.nlt_mm)} "
                       "(NLT, not in the target sum; IR-NEW)")
    targets = now.targets
    extra: dict[str, str | Decimal | None] = (
        {} if targets is None or not targets.missing else {"partial_sum_mm": targets.available_mm})
    if now.nlt_mm is not None:
        extra["nlt_sum_mm"] = now.nlt_mm
    progression_date = None
    disregarded = False

    if state.confirmed is not None:
        overall = ICPD
        if explain:
            why.append(f"iCPD: progression was confirmed on {state.confirmed.isoformat()}; "
                       "confirmed progression stands at later timepoints (IR-CONF)")
    elif state.block is None:
        if ((targets is not None and targets.code == "PD") or now.non_targets.code == "PD" or now.added
                or (now.nlt_mm is not None and _nlt_pd(now, state))):  # _fresh_progression's criteria
            overall = IUPD
            if explain:
                why.extend(_fresh_progression(now, state))
            progression_date = _iupd_date(now, subject.settings.irecist_equivocal_backdates_ipfs)
            state.block = _open_block(now, bool(now.added) or _nlt_pd(now, state))
            state.responded = False
        else:
            overall, sentence = _non_progression(now, continue_pr)
            why.extend(sentence)
    else:
        decision = _in_block(subject, now, state, state.block)
        overall, disregarded = decision.overall, decision.disregarded
        why.extend(decision.why)
        if overall == ICPD:
            progression_date = now.tp.earliest_date
            extra["icpd_reason"] = decision.icpd_reason
            state.confirmed = now.tp.date
            state.block = None
        elif overall == IUPD:
            progression_date = _iupd_date(now, subject.settings.irecist_equivocal_backdates_ipfs)

    _advance(now, state, overall, disregarded)
    target = _TARGET_CODES[targets.code] if targets is not None else NA
    if target == ISD and continue_pr:
        # As under RECIST 1.1 (A1), the target category carries the continued iPR too,
        # whatever the overall response (a new lesion can still make it iUPD).
        target = IPR
        if overall != IPR:
            why.append("target iPR continues: iPR was assigned earlier and the target sum does "
                       "not meet iUPD (A1, FAQ-IR-MANAGING-PR; setting pr_continues_until_pd)")
    tp = now.tp
    if targets is None:
        return TimepointResult(tp.date, target, _NON_TARGET_CODES[now.non_targets.code],
                               now.view.code if new_lesions is None else new_lesions, overall, None, None,
                               None, None, tuple(why) if explain else (), progression_date, tp.scan, extra)
    return TimepointResult(tp.date, target, _NON_TARGET_CODES[now.non_targets.code],
                           now.view.code if new_lesions is None else new_lesions, overall,
                           None if targets.missing else targets.available_mm, nadir_before,
                           targets.pct_vs_baseline, targets.pct_vs_nadir, tuple(why) if explain else (),
                           progression_date, tp.scan, extra)


_I_PREFIXES = (
    ("PD: ", "target iUPD criteria (RECIST 1.1 PD): "),
    ("PR: ", "target iPR: "),
    ("SD: ", "target iSD: "),
    ("CR: ", "target iCR: "),
    ("NE: ", "target NE: "),
    ("non-target PD: ", "non-target iUPD criteria (RECIST 1.1 PD): "),
    ("non-target CR: ", "non-target iCR: "),
    ("non-target NON-CR/NON-PD: ", "non-target NON-iCR/NON-iUPD: "),
)


def _i_codes(sentence: str) -> str:
    """IR-BASE: the shared RECIST 1.1 sentences, with iRECIST's category names."""
    for old, new in _I_PREFIXES:
        if sentence.startswith(old):
            return new + sentence[len(old):]
    return sentence


def _fresh_progression(now: _Now, state: _State) -> list[str]:
    """iUPD criteria with no iUPD open (IR-BASE: RECIST 1.1 PD; IR-RESET after a reset).

    Target PD against the nadir, unequivocal non-target progression, or new lesions. New
    lesions already seen before a reset count again only if further new lesions appear
    or the NLT sum meets RECIST PD against its own nadir (IR-RESET).
    """
    out = []
    if now.target_pd:
        out.append("iUPD: target sum meets RECIST 1.1 PD against the nadir (IR-BASE)")
    if now.non_target_pd:
        out.append("iUPD: non-target progression (IR-BASE)")
    if now.added:
        out.append(f"iUPD: new lesion(s) {', '.join(now.added)} (IR-NEW)")
    elif _nlt_pd(now, state):
        out.append(
            f"iUPD: NLT sum {mm_text(now.nlt_mm or Decimal(0))} meets RECIST PD against its nadir "
            f"{mm_text(state.nlt_nadir or Decimal(0))} (IR-RESET)"
        )
    return out


def _nlt_pd(now: _Now, state: _State) -> bool:
    """IR-RESET: pre-existing NLT meet PD (>= 20% and >= 5 mm over their own nadir)."""
    return (
        now.nlt_mm is not None
        and state.nlt_nadir is not None
        and now.nlt_ids == state.nlt_nadir_ids
        and meets_pd(now.nlt_mm, state.nlt_nadir)
    )


def _iupd_date(now: _Now, backdate: bool = True) -> dt.date:
    """R11-EQUIVOCAL via IR-BASE: an equivocal new lesion confirmed now dates the iUPD back
    (E2: not with ``irecist_equivocal_backdates_ipfs`` False)."""
    backdated = now.view.backdated_date(now.added) if now.added and backdate else None
    earliest = now.tp.earliest_date
    return backdated if backdated is not None and backdated < earliest else earliest


def _open_block(now: _Now, new: bool) -> _Block:
    """Remember what progressed at this iUPD, and how big it was (IR-CONF)."""
    return _Block(
        start=now.tp.date,
        last=now.tp.date,
        target_ref=dict(now.target_values) if now.target_pd else None,
        nontarget=now.non_target_pd,
        new=new,
        nlt_ref=dict(now.nlt_values),
        nlnt_ref=dict(now.nlnt_mm),
        new_ids=frozenset(x.id for x in now.view.present) if new else frozenset(),
    )


@dataclass(frozen=True)
class _Decision:
    overall: str
    why: list[str]
    disregarded: bool = False  # an early scan that neither confirmed nor reset
    icpd_reason: str | None = None  # comma-separated codes of what confirmed


def _in_block(subject: Subject, now: _Now, state: _State, block: _Block) -> _Decision:
    """The assessment after an iUPD: confirm (iCPD), keep iUPD, or reset (IR-CONF, IR-RESET).

    An early scan that neither confirms nor resets is ``disregarded``: its new lesions are
    not yet "previously identified" for the confirmatory scan (FAQ-IR-EARLY-SCAN).

    Not confirmed, the iUPD remains while a progressing category still meets the iUPD
    criteria (IR-CONF, IR-TPR-T2); a category that cannot be evaluated -- targets NE,
    non-targets NE, a new lesion of a new-lesion iUPD missing from the list -- makes the
    assessment NE with the iUPD still open rather than a reset, since IR-RESET needs the
    iSD / iPR / iCR criteria to be met (R11-MISSING).
    """
    settings = subject.settings
    why: list[str] = []
    notes: list[str] = []
    reasons = _confirming_increases(now, state, block, notes)
    low, high = settings.irecist_confirm_window_days
    since_start = (now.tp.date - block.start).days
    since_last = (now.tp.date - block.last).days
    early = since_start < low - settings.irecist_early_scan_tolerance_days
    late = since_last > high
    if early:
        symptom = now.tp.scan is ScanKind.UNSCHEDULED_SYMPTOM_DRIVEN
        can_confirm = symptom and bool(now.added)
        if can_confirm:
            reasons = [r for r in reasons if r[0] == "new_lesions_added"]
            why.append(f"scan {since_start} days after the first iUPD is early, but symptom-driven with an "
                       "additional new lesion: it may confirm (FAQ-IR-EARLY-SCAN)")
        elif reasons:
            why.append(f"scan {since_start} days after the first iUPD is earlier than the "
                       f"{low}-day window less {settings.irecist_early_scan_tolerance_days} days and not a "
                       "symptom-driven scan with an additional new lesion: it cannot confirm iCPD "
                       "(FAQ-IR-EARLY-SCAN)")
    elif late and not settings.irecist_late_scan_confirms:
        can_confirm = False
        if reasons:
            why.append(f"scan {since_last} days after the iUPD is later than the {high}-day window and "
                       "late scans do not confirm (A4; setting irecist_late_scan_confirms)")
    else:
        can_confirm = True
        if late:
            why.append(f"scan {since_last} days after the iUPD is later than the {high}-day window; "
                       "it still confirms (A4 default)")
    if can_confirm and reasons:
        return _Decision(
            ICPD, [*why, *(sentence for _, sentence in reasons)],
            icpd_reason=",".join(code for code, _ in reasons),
        )
    why.extend(notes)

    holding = [sentence for _, sentence in reasons]
    unknown = []
    if block.target_ref is not None:
        if now.target_pd:
            holding.append("target sum still meets PD against the nadir")
        elif now.targets is not None and now.targets.code == "NE":
            unknown.append("targets")
    if block.nontarget:
        code = now.non_targets.code
        if code == "NE":
            unknown.append("non-targets")
        elif now.non_targets.unequivocal:
            # unequivocal progression rated again: no change since the iUPD (FAQ code NCLA);
            # "present" is an improvement and "absent" CR: neither holds the iUPD.
            holding.append(
                f"non-target {', '.join(now.non_targets.unequivocal)} rated unequivocal progression "
                "again, no change since the iUPD (NCLA; FAQ-IR-NT-DRIVEN)"
            )
    if block.new:
        # A new lesion of the iUPD left off this scan's list is not assessed (as for NLT in
        # lesions.new_target_lesions, and under imRECIST), not resolved: resolution is mm 0
        # (or a node < 10 mm). The new-lesion progression is then neither shown to persist
        # nor shown to be gone, so it cannot reset (IR-RESET needs iSD/iPR/iCR criteria met;
        # R11-MISSING): NE unless something else holds or confirms the iUPD.
        listed = {x.id for x in now.tp.new_lesions}
        omitted = sorted(i for i in block.new_ids if i not in listed)
        if omitted:
            unknown.append(f"new lesion(s) {', '.join(omitted)} (not on this scan's list)")
    if block.new and now.view.present:
        if not holding and not unknown and _scenario_b(subject, now, state):
            why.append(
                "new lesions persist unchanged while the targets shrank further to iPR/iCR: iPR "
                "(FAQ-IR-SCEN-BDF scenario B; A5, setting irecist_nl_iupd_allows_ipr)"
            )
        else:
            holding.append("new lesions persist without further increase (FAQ-IR-SCEN-BDF scenario F)")
    if holding:
        why.append("iUPD remains: " + "; ".join(holding) + " (IR-CONF, IR-TPR-T2)")
        if not early:
            block.last = now.tp.date
        return _Decision(IUPD, why, disregarded=early)
    if unknown:
        why.append(f"NE: {' and '.join(unknown)} not evaluable, so iUPD can be neither confirmed "
                   "nor reset; iUPD stays open (IR-CONF, IR-RESET, R11-MISSING)")
        return _Decision(NE, why, disregarded=early)
    overall, sentences = _non_progression(now, responded=False)
    if early and overall != NE and not settings.irecist_early_scan_resets:
        why.append(f"scan {since_start} days after the first iUPD is early: disregarded, so its "
                   f"{overall} criteria do not reset the iUPD, which remains (FAQ-IR-EARLY-SCAN; E1, "
                   "setting irecist_early_scan_resets)")
        return _Decision(IUPD, why, disregarded=True)
    why.extend(sentences)
    if overall == NE:
        why.append("iUPD stays open: the assessment is NE (IR-RESET needs iSD/iPR/iCR met; R11-MISSING)")
        return _Decision(NE, why, disregarded=early)
    why.append(f"reset: {overall} criteria met after iUPD; a later progression needs iUPD again "
               "against the nadir (IR-RESET)")
    state.block = None
    return _Decision(overall, why)


def _further_increase(now: _Now) -> tuple[str, ...]:
    """Non-targets rated ``further_increase`` (an increase since the last assessment, INCLA)."""
    unequivocal = now.non_targets.unequivocal
    return tuple(i for i in now.non_targets.increased if i not in unequivocal)


def _confirming_increases(
    now: _Now, state: _State, block: _Block, notes: list[str] | None = None
) -> list[tuple[str, str]]:
    """IR-CONF: (a) further increase in a category already progressing, (b) RECIST PD newly
    met in another category, or additional new lesions. Returns (code, sentence) pairs; the
    codes, free of lesion ids, make ``extra["icpd_reason"]``.

    A sum of measures (target SOM, NLT SOM) confirms only if its rise is *proven* to be at
    least 5 mm (:func:`_rise`, R11-MISSING); ``notes`` collects why a rise seen on some
    lesions does not count."""
    out: list[tuple[str, str]] = []
    targets = now.targets
    if block.target_ref is not None and targets is not None:
        rise = _rise(block.target_ref, now.target_values)
        if rise.proves(MIN_INCREASE_MM):
            out.append((
                "target_increase",
                f"iCPD: {rise.text('target sum')} (>= 5 mm, increases add up; IR-CONF a, "
                "FAQ-IR-NL-PROG, A9)",
            ))
        elif notes is not None and (note := rise.unproven_note("target sum")):
            notes.append(note)
    elif now.target_pd:
        out.append(("target_pd", "iCPD: target PD newly met in a category not progressing before "
                                 "(IR-CONF b)"))
    further = _further_increase(now)
    if block.nontarget and further:
        out.append((
            "non_target_increase",
            f"iCPD: non-target {', '.join(further)} rated further increase since the last "
            "assessment after a non-target iUPD (INCLA; IR-CONF a, FAQ-IR-NT-DRIVEN)",
        ))
    elif not block.nontarget and now.non_target_pd:
        out.append(("non_target_pd", "iCPD: unequivocal non-target progression newly met (IR-CONF b)"))
    if now.added:
        out.append(("new_lesions_added", f"iCPD: additional new lesion(s) {', '.join(now.added)} (IR-CONF)"))
    if block.new:
        nlt_rise = _rise(block.nlt_ref, now.nlt_values)
        if nlt_rise.proves(MIN_INCREASE_MM):
            out.append((
                "nlt_increase",
                f"iCPD: {nlt_rise.text('NLT sum')} (>= 5 mm; IR-CONF a, FAQ-IR-NL-PROG)",
            ))
        elif notes is not None and (note := nlt_rise.unproven_note("NLT sum")):
            notes.append(note)
        grown = [
            lesion_id
            for lesion_id, ref in block.nlnt_ref.items()
            if ref is not None and (mm := now.nlnt_mm.get(lesion_id)) is not None and mm > ref
        ]
        if grown:
            out.append((
                "nlnt_increase", f"iCPD: new non-target lesion(s) {', '.join(grown)} increased (IR-CONF a)"
            ))
    elif _nlt_pd(now, state):
        out.append(("nlt_pd", "iCPD: NLT sum meets RECIST PD against its nadir (IR-CONF b)"))
    return out


@dataclass(frozen=True)
class _Rise:
    """How much a sum of measures rose since the iUPD, as far as the scans prove it.

    ``ref_sum`` adds the iUPD values of the reference lesions, ``now_known`` the current
    values of those assessed now; ``missing_now`` are the reference lesions not assessed now.
    """

    ref_sum: Decimal
    now_known: Decimal
    missing_now: tuple[str, ...]

    @property
    def lower(self) -> Decimal:
        """The smallest rise the scans allow (R11-MISSING): a lesion not assessed now may
        have shrunk to 0 mm, so it counts 0 -- the changes of the lesions measured at both
        scans minus the iUPD values of the missing ones."""
        return self.now_known - self.ref_sum

    def proves(self, threshold: Decimal) -> bool:
        return self.lower >= threshold

    def text(self, label: str) -> str:
        """The sentence for a proven rise."""
        if not self.missing_now:
            return (f"{label} {mm_text(self.now_known)} is {mm_text(self.lower)} above "
                    f"{mm_text(self.ref_sum)} at the iUPD")
        return (f"{label} at least {mm_text(self.now_known)} ({', '.join(self.missing_now)} not "
                f"assessed, counted as 0 mm: R11-MISSING) is at least {mm_text(self.lower)} above "
                f"{mm_text(self.ref_sum)} at the iUPD")

    def unproven_note(self, label: str) -> str | None:
        """Why a rise is not proven when reference lesions are not assessed now (else None)."""
        if not self.missing_now:
            return None
        return (f"{label} rise since the iUPD not proven: {', '.join(self.missing_now)} not "
                f"assessed now and may have shrunk to 0 mm, so the sum is at least "
                f"{mm_text(self.now_known)} against {mm_text(self.ref_sum)} at the iUPD "
                "(IR-CONF a needs +5 mm; R11-MISSING)")


def _rise(reference: Mapping[str, Decimal], current: Mapping[str, Decimal]) -> _Rise:
    """The rise of a sum of measures since the iUPD (IR-CONF a: target SOM / NLT SOM up
    >= 5 mm over the iUPD assessment; additive per FAQ-IR-NL-PROG).

    ``reference`` holds the lesions assessed at the iUPD. R11-MISSING logic: a rise confirms
    only if proven, so its lower bound is taken -- the changes of the lesions measured at
    both scans minus the iUPD values of those not assessed now (they may have shrunk to
    0 mm). T1 40 + T2 40 at the iUPD, then T1 46 with T2 not assessed: at least 46 against
    80, not "+6 mm". A lesion not assessed at the iUPD has no reference value and is left
    out; lesions first measured after the iUPD (new NLT) are "additional new lesions", not
    growth of the iUPD's sum."""
    missing_now = tuple(k for k in reference if k not in current)
    ref_sum = sum(reference.values(), Decimal(0))
    now_known = sum((current[k] for k in reference if k in current), Decimal(0))
    return _Rise(ref_sum, now_known, missing_now)


def _scenario_b(subject: Subject, now: _Now, state: _State) -> bool:
    """A5 / FAQ-IR-SCEN-BDF scenario B: after a new-lesion iUPD the targets shrink further
    and meet iPR (or iCR) while the new lesions persist unchanged: iPR.

    Default on (``irecist_nl_iupd_allows_ipr``); off, persisting new lesions keep iUPD
    (Table 2 lists iPR only with "new lesions: no").
    """
    targets = now.targets
    return (
        subject.settings.irecist_nl_iupd_allows_ipr
        and targets is not None
        and targets.code in ("CR", "PR")
        and targets.total_mm is not None
        and state.last_target_mm is not None
        and targets.total_mm < state.last_target_mm
    )


def _non_progression(now: _Now, responded: bool) -> tuple[str, list[str]]:
    """iCR / iPR / iSD / NON-iCR/NON-iUPD / NE by Table 2's first rows (IR-TPR-T2, R11-TPR-T1/T2).

    New lesions still present without counting as progression (after a reset, IR-RESET, or
    scenario B) preclude iCR. A1 continued PR applies as under RECIST 1.1 (FAQ-IR-MANAGING-PR)
    until the next iUPD.
    """
    targets = now.targets
    nt = now.non_targets.code
    persisting = bool(now.view.present)
    if targets is None:
        if nt == "CR" and not persisting:
            return ICR, ["overall iCR: non-target iCR, no new lesion (non-target-only disease)"]
        if nt == "NE":
            return NE, ["overall NE: non-targets not all evaluated (non-target-only disease; R11-MISSING)"]
        return NON_ICR_NON_IUPD, ["overall NON-iCR/NON-iUPD: non-target disease only (T3-NOTE-NT-ONLY)"]
    code = targets.code
    if code == "NE":
        return NE, ["overall NE: targets not all evaluated and no progression (R11-MISSING, IR-TPR-T2)"]
    if code == "CR":
        if nt in ("CR", "NA") and not persisting:
            return ICR, ["overall iCR: target and non-target iCR, no new lesion (IR-TPR-T2)"]
        return IPR, ["overall iPR: target iCR with non-target or new lesions remaining (IR-TPR-T2)"]
    if code == "PR":
        return IPR, ["overall iPR: target iPR, no progression (IR-TPR-T2)"]
    if responded:
        return IPR, ["iPR continues: iPR was assigned earlier and iUPD is not met (A1, FAQ-IR-MANAGING-PR)"]
    return ISD, ["overall iSD: target iSD, no progression (IR-TPR-T2)"]


def _advance(now: _Now, state: _State, overall: str, disregarded: bool) -> None:
    """Carry nadir, known new lesions, NLT nadir and response history to the next timepoint."""
    targets = now.targets
    if targets is not None and not targets.missing:  # a complete sum: total_mm
        total = targets.available_mm
        if total < state.nadir:  # min(state.nadir, total)
            state.nadir = total
        state.last_target_mm = total
    if not disregarded and now.view.present:
        # FAQ-IR-EARLY-SCAN: an early scan that was disregarded leaves its new lesions
        # "additional" for the confirmatory scan.
        state.known_new.update(x.id for x in now.view.present)
    if now.nlt_mm is not None and now.nlt_complete:
        if state.nlt_nadir is None or now.nlt_ids != state.nlt_nadir_ids:
            state.nlt_nadir, state.nlt_nadir_ids = now.nlt_mm, now.nlt_ids
        else:
            state.nlt_nadir = min(state.nlt_nadir, now.nlt_mm)
    if overall != NE:
        state.previous = overall
    if overall in (IPR, ICR):
        state.responded = True
