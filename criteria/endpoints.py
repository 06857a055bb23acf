"""Sequence-level endpoints from timepoint responses: BOR, confirmed BOR, PFS, DoR.

Everything here reads only the ``overall`` codes and dates of a criterion's timepoint
results, so it serves both measurement-level results (from the engines) and response-level
input (an investigator's RS data). Each criterion has its vocabulary (CDISC controlled
terminology) and its own rules:

* RECIST 1.1: R11-BOR, R11-SD-MIN, R11-BOR-CONF (Table 3) as implemented by admiralonco
  (AO-BOR, AO-CBOR); assessments after the first PD do not count. PFS per R11-PFS.
* iRECIST: IR-BOR (Table 3, admiralonco AO-IR ranking), iPFS dated at the first iUPD of the
  block later confirmed as iCPD (IR-PFS / AO-IR-PD-DATE), A3 for unconfirmed iUPD.
* imRECIST: IM-PFS (a PD negated by the next evaluable assessment >= 4 weeks later showing
  non-PD is no event), IM-BOR (responses after PD count, A8).

Dates: a timepoint counts at its assessment ``date``; a progression counts from its
``progression_date`` (earliest scan, or an equivocal new lesion's first scan) when the
engine set one. Source sections refer to ``reference/criteria-rules.md``.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from criteria.lesions import SENTENCES
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
    PET_CRITERIA,
    RECIST11,
    DurationOfResponse,
    Pfs,
    Progression,
    Settings,
    TimepointResult,
    fast_init,
)

NE = "NE"
NA = "NA"
#: Codes that say nothing about disease: not an adequate assessment.
NOT_EVALUABLE = frozenset({NE, NA})

PD_NEGATED = "negated"
PD_CONFIRMED = "confirmed"
PD_STANDS = "stands"

REASON_PD = "PD"
REASON_DEATH = "death"
REASON_LAST_ADEQUATE = "last adequate assessment"
REASON_NO_ADEQUATE = "no adequate post-baseline assessment"
REASON_ICPD = "iUPD confirmed as iCPD"
REASON_UNCONFIRMED_IUPD = "unconfirmed iUPD"


@dataclass(frozen=True)
class Vocabulary:
    """One criterion's response codes; ``pd`` is ranked best-first for BOR (iCPD > iUPD)."""

    cr: str
    pr: str
    sd: str
    non_cr_non_pd: str
    pd: tuple[str, ...]

    @property
    def stable_codes(self) -> frozenset[str]:
        """Codes that qualify as SD once the minimum SD duration is met (AO-BOR bor_sd)."""
        return frozenset({self.cr, self.pr, self.sd})


RECIST_VOCABULARY = Vocabulary("CR", "PR", "SD", "NON-CR/NON-PD", ("PD",))
IRECIST_VOCABULARY = Vocabulary("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", ("iCPD", "iUPD"))
# PERCIST family: no non-CMR/non-PMD category exists (the placeholder code is never produced).
PERCIST_VOCABULARY = Vocabulary("CMR", "PMR", "SMD", "NON-CMR/NON-PMD", ("PMD",))
IPERCIST_VOCABULARY = Vocabulary("CMR", "PMR", "SMD", "NON-CMR/NON-PMD", ("CPMD", "UPMD"))
#: ``stable_codes`` of each vocabulary, built once (the property builds a new set per call).
#: irRC and irRECIST (irNN, non-target disease only, arises under irRECIST alone).
IR_VOCABULARY = Vocabulary("irCR", "irPR", "irSD", "irNN", ("irPD",))
_STABLE = MappingProxyType({RECIST_VOCABULARY.cr: RECIST_VOCABULARY.stable_codes,
                            IRECIST_VOCABULARY.cr: IRECIST_VOCABULARY.stable_codes,
                            PERCIST_VOCABULARY.cr: PERCIST_VOCABULARY.stable_codes,
                            IR_VOCABULARY.cr: IR_VOCABULARY.stable_codes})
#: ``frozenset({voc.sd})`` of each vocabulary: the stable codes of the unconfirmed BOR.
_SD_ONLY = MappingProxyType({voc.cr: frozenset({voc.sd}) for voc in
                             (RECIST_VOCABULARY, IRECIST_VOCABULARY, PERCIST_VOCABULARY, IR_VOCABULARY)})
_IR = frozenset({IRRC, IRRECIST})


#: The rule ids a criterion's BOR, confirmed BOR and PFS sentences cite.
BOR_RULES = MappingProxyType({
    RECIST11: "R11-BOR, AO-BOR", IRECIST: "IR-BOR, AO-IR", IMRECIST: "IM-BOR, AO-BOR",
    PERCIST: "PERC-BOR", IPERCIST: "IPERC-BOR", IMPERCIST5: "IMPERC5-BOR", PERCIMT: "PERCIMT-BOR",
    IRRC: "IRRC-BOR", IRRECIST: "IRREC-BOR",
})
CONFIRMED_RULES = MappingProxyType({
    RECIST11: "R11-BOR-CONF, AO-CBOR", IRECIST: "R11-BOR-CONF via IR-BASE, AO-CBOR",
    IMRECIST: "R11-BOR-CONF via IM-BASE, AO-CBOR",
    PERCIST: "R11-BOR-CONF via PERC-BOR", IPERCIST: "R11-BOR-CONF via IPERC-BOR",
    IMPERCIST5: "R11-BOR-CONF via IMPERC5-BOR", PERCIMT: "R11-BOR-CONF via PERCIMT-BOR",
    IRRC: "IRRC-CR, IRRC-PR, IRRC-CONF", IRRECIST: "IRREC-CONF, R11-BOR-CONF",
})
PFS_RULES = MappingProxyType({
    RECIST11: "R11-PFS", IRECIST: "IR-PFS, AO-IR-PD-DATE", IMRECIST: "IM-PFS",
    PERCIST: "PERC-PFS", IPERCIST: "IPERC-PFS", IMPERCIST5: "IMPERC5-PFS", PERCIMT: "PERCIMT-PFS",
    IRRC: "IRRC-PFS, IRRC-CONF, I1, I2", IRRECIST: "IRREC-PFS, IRREC-CONF, I1, I2",
    # itRECIST: PFS of the overall response, by its basis (T1)
    ITRECIST: "ITR-OVERALL: IR-PFS, or R11-PFS with itrecist_overall_basis",
})
#: The vocabularies other than RECIST 1.1's (which every other criterion uses, imRECIST too).
_VOCABULARIES = MappingProxyType({
    IRECIST: IRECIST_VOCABULARY, **dict.fromkeys(PET_CRITERIA, PERCIST_VOCABULARY),
    IPERCIST: IPERCIST_VOCABULARY, **dict.fromkeys(_IR, IR_VOCABULARY),
})


def vocabulary(criterion: str) -> Vocabulary:
    """The code vocabulary of ``criterion`` (imRECIST uses the RECIST 1.1 codes)."""
    return _VOCABULARIES.get(criterion, RECIST_VOCABULARY)


@fast_init
@dataclass(frozen=True)
class Best:
    """A best-response derivation: the code, the date of the assessment it rests on, and why."""

    code: str | None
    date: dt.date | None
    why: str


_OVERALL = operator.attrgetter("overall")


def _days(later: dt.date, earlier: dt.date) -> int:
    return (later - earlier).days


def _pd_date(tp: TimepointResult) -> dt.date:
    return tp.progression_date or tp.date


def _first(timepoints: Sequence[TimepointResult], code: str, other: str | None = None) -> int | None:
    """The index of the first timepoint whose overall response is ``code`` (or ``other``;
    None: none)."""
    for i, tp in enumerate(timepoints):  # a plain loop: next() over a generator costs twice as much
        if tp.overall == code or tp.overall == other:
            return i
    return None


# --- imRECIST PD status ---------------------------------------------------------------------

def imrecist_pd_status(timepoints: Sequence[TimepointResult], settings: Settings) -> tuple[str | None, ...]:
    """IM-PFS: the fate of each PD timepoint (``None`` for non-PD timepoints).

    "An imPD is not an event if the next assessment >= 4 weeks later shows non-PD": the
    later evaluable (not NE) assessments are read in order, and the first that decides wins.
    ``confirmed``: a PD comes first (E4: with ``imrecist_early_pd_confirms`` False only a PD
    at least ``imrecist_negation_min_days`` later). ``negated``: a non-PD (CR, PR, SD, NON-CR/NON-PD) at
    least ``imrecist_negation_min_days`` after the PD comes first. A non-PD earlier than
    that decides nothing and is passed over (an extra reassuring scan must not turn a
    non-event into an event). ``stands``: nothing decides (no later evaluable assessment,
    or only early non-PD ones); the PD is an event.
    """
    statuses: list[str | None] = []
    for i, tp in enumerate(timepoints):
        if tp.overall != "PD":
            statuses.append(None)
            continue
        status = PD_STANDS
        for later in timepoints[i + 1:]:
            if later.overall in NOT_EVALUABLE:
                continue
            in_time = _days(later.date, tp.date) >= settings.imrecist_negation_min_days
            if later.overall == "PD":
                if in_time or settings.imrecist_early_pd_confirms:
                    status = PD_CONFIRMED
                    break
                continue  # E4 off: an early PD decides nothing, like an early non-PD
            if in_time:
                status = PD_NEGATED
                break
        statuses.append(status)
    return tuple(statuses)


def _first_event(statuses: Sequence[str | None]) -> int | None:
    """The index of the first imRECIST PD that is not negated (None: none)."""
    for i, status in enumerate(statuses):
        if status is not None and status != PD_NEGATED:
            return i
    return None


def _pd_statuses(timepoints: Sequence[TimepointResult], settings: Settings) -> tuple[str | None, ...]:
    # Prefer statuses already attached (evaluate.py attaches them); compute otherwise.
    attached: list[str | None] = []
    for tp in timepoints:
        status = tp.extra.get("pd_status") if tp.extra else None
        if (status is None) != (tp.overall != "PD"):
            return imrecist_pd_status(timepoints, settings)
        attached.append(status if isinstance(status, str) else None)
    return tuple(attached)


# --- which assessments count -------------------------------------------------------------

def assessments_for_bor(
    timepoints: Sequence[TimepointResult], settings: Settings, criterion: str
) -> tuple[TimepointResult, ...]:
    """The assessments a criterion's BOR looks at.

    RECIST 1.1: up to and including the first PD (R11-BOR: "assessments after PD do not
    count"; admiralonco filter_pd). iRECIST: up to and including the first iCPD (Table 3
    T3-EX6: "iUPD, iCPD, any -> iCPD"). imRECIST: all (IM-BOR), or with
    ``imrecist_bor_after_pd`` False (A8) up to the first PD that is not negated.
    """
    if criterion in _IR:
        pairs = ir_pd_pairs(timepoints, settings)[1]
        stop = min(pairs.values()) if pairs else None
    elif criterion == RECIST11:
        stop = _first(timepoints, "PD")
    elif criterion in PET_CRITERIA:  # PERC-BOR: up to the first PMD (iPERCIST: CPMD)
        stop = _first(timepoints, "CPMD" if criterion == IPERCIST else "PMD")
    elif criterion == IRECIST:
        stop = _first(timepoints, "iCPD")
    elif settings.imrecist_bor_after_pd:
        stop = None
    else:
        stop = _first_event(_pd_statuses(timepoints, settings))
    return tuple(timepoints) if stop is None else tuple(timepoints[: stop + 1])


# --- BOR ------------------------------------------------------------------------------------

def non_target_only(seq: Sequence[TimepointResult], voc: Vocabulary) -> bool:
    """Whether a sequence of overall codes shows non-target-only disease: some
    NON-CR/NON-PD and never PR or SD (those need measurable disease; RECIST 1.1 Table 2)."""
    codes = {tp.overall for tp in seq}
    return voc.non_cr_non_pd in codes and not codes & {voc.pr, voc.sd}


def _stable_fallback(
    seq: Sequence[TimepointResult], reference_date: dt.date, settings: Settings, voc: Vocabulary,
    stable: frozenset[str], nt_only: bool = False,
) -> Best:
    """AO-BOR below the responses: SD (>= sd_min_days), NON-CR/NON-PD, PD, then NE.

    With non-target-only disease (``nt_only``) the stable category is NON-CR/NON-PD, never
    SD (RECIST 1.1 Table 2 and its footnote; T3-NOTE-NT-ONLY): an unconfirmed CR at the SD
    minimum then counts as NON-CR/NON-PD. The sentence is built only when sentences are
    wanted (:data:`criteria.lesions.SENTENCES`); the code and date never depend on it."""
    sd_min = settings.sd_min_days
    explain = SENTENCES.get()
    if not nt_only:
        for tp in seq:
            if tp.overall in stable and (tp.date - reference_date).days >= sd_min:
                if not explain:
                    return Best(voc.sd, tp.date, "")
                return Best(voc.sd, tp.date, f"{tp.overall} on {tp.date} is {_days(tp.date, reference_date)} "
                                             f"days after the reference date: stable disease (needs >= "
                                             f"{sd_min} days, R11-SD-MIN)")
    non_cr_non_pd = voc.non_cr_non_pd
    for tp in seq:
        code = tp.overall
        if (code == non_cr_non_pd or (nt_only and code in stable)) and (
                tp.date - reference_date).days >= sd_min:
            if not explain:
                return Best(non_cr_non_pd, tp.date, "")
            return Best(non_cr_non_pd, tp.date,
                        f"{code} on {tp.date} at >= {sd_min} days, non-target disease "
                        f"only: {non_cr_non_pd}, not {voc.sd} (R11-SD-MIN; RECIST 1.1 Table 2, "
                        "T3-NOTE-NT-ONLY)")
    early_note = ""
    if explain:
        early = [tp for tp in seq if tp.overall in stable or tp.overall == non_cr_non_pd]
        if early:
            early_note = (f"; {early[0].overall} on {early[0].date} came before day {sd_min} "
                          "(R11-SD-MIN)")
    for code in voc.pd:
        for tp in seq:
            if tp.overall == code:
                if not explain:
                    return Best(code, tp.date, "")
                return Best(code, tp.date, f"no response and no stable disease long enough: {code} on "
                                           f"{tp.date}{early_note}")
    if seq:
        first = seq[0]
        return Best(NE, first.date,
                    f"no evaluable response, stable disease or progression{early_note}" if explain else "")
    if settings.bor_without_assessments == "ne":
        return Best(NE, None, "no post-baseline assessment: NE (E5, setting bor_without_assessments, "
                              "admiralonco missing_as_ne)")
    return Best(None, None, "no post-baseline assessment: no BOR (E5 default; setting "
                            "bor_without_assessments)")


def derive_bor(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    criterion: str = RECIST11, assessments: Sequence[TimepointResult] | None = None,
) -> Best:
    """Best overall response without confirmation (R11-BOR, AO-BOR, IR-BOR, IM-BOR).

    Order: CR > PR > SD (at >= ``sd_min_days`` after ``reference_date``) > NON-CR/NON-PD
    (same minimum) > PD > NE; iRECIST ranks iCPD above iUPD (AO-IR). An SD too early counts
    as NE, so "SD too early, then PD" is PD and "SD too early, then nothing" is NE
    (R11-SD-MIN). The date is that of the first assessment with the best code.
    ``assessments`` may pass :func:`assessments_for_bor`'s result when already computed.
    """
    voc = vocabulary(criterion)
    seq = assessments if assessments is not None else assessments_for_bor(timepoints, settings, criterion)
    cr, pr = voc.cr, voc.pr
    hit: TimepointResult | None = None  # the first CR, else the first PR (one pass)
    for tp in seq:
        code = tp.overall
        if code == cr:
            hit = tp
            break
        if code == pr and hit is None:
            hit = tp
    explain = SENTENCES.get()
    if hit is not None:
        why = f"best response {hit.overall} first on {hit.date} ({BOR_RULES[criterion]})" if explain else ""
        return Best(hit.overall, hit.date, why)
    fallback = _stable_fallback(seq, reference_date, settings, voc, _SD_ONLY[voc.cr])
    if not explain:
        return fallback
    return Best(fallback.code, fallback.date, f"{fallback.why} ({BOR_RULES[criterion]})")


def _confirming_index(
    seq: Sequence[TimepointResult], i: int, settings: Settings, voc: Vocabulary, want_cr: bool,
) -> int | None:
    """Index of the assessment confirming ``seq[i]`` (R11-BOR-CONF, AO-CBOR), or None.

    CR: a later CR at >= ``confirm_min_days`` with only CR/NE between. PR: a later CR/PR at
    >= ``confirm_min_days`` with only CR/PR/NE between (and one SD when
    ``accept_sd_between_pr_confirmation``) and no PR after a CR (unless A12
    ``cr_then_pr_confirmed_as`` is "pr"). At most ``max_ne_between_confirmation`` NE between.
    """
    start = seq[i]
    confirming = {voc.cr} if want_cr else {voc.cr, voc.pr}
    between = {voc.cr} if want_cr else {voc.cr, voc.pr}
    if not want_cr and settings.accept_sd_between_pr_confirmation:
        between = between | {voc.sd}
    ne_count = sd_count = 0
    seen_cr = start.overall == voc.cr
    for j in range(i + 1, len(seq)):
        code = seq[j].overall
        if not want_cr and code == voc.pr and seen_cr and settings.cr_then_pr_confirmed_as == "sd":
            return None
        if code in confirming and _days(seq[j].date, start.date) >= settings.confirm_min_days:
            return j
        if code in NOT_EVALUABLE:
            ne_count += 1
            if ne_count > settings.max_ne_between_confirmation:
                return None
        elif code not in between:
            return None
        elif code == voc.sd:
            sd_count += 1  # admiralonco accept_sd: one SD assessment is accepted, not more
            if sd_count > 1:
                return None
        seen_cr = seen_cr or code == voc.cr
    return None


def derive_confirmed_bor(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    criterion: str = RECIST11, assessments: Sequence[TimepointResult] | None = None,
    nt_only: bool | None = None,
) -> Best:
    """Best overall response with CR/PR confirmation (R11-BOR-CONF Table 3, AO-CBOR).

    A confirmed CR beats a confirmed PR; without either, the subject is SD when any CR, PR
    or SD assessment falls at >= ``sd_min_days`` (Table 3: "SD if minimum SD duration
    met"), else NON-CR/NON-PD on the same rule, else PD if progression was seen, else NE.
    A12: CR followed by PR is not a confirmed response by default
    (``cr_then_pr_confirmed_as="sd"``, as admiralonco); "pr" reads the CR as doubtful and
    lets it open a PR confirmation. Under the default the CR is taken as real, so (Table 3
    footnote a) disease seen after it, PR or SD, "makes the disease PD at that point": when
    the SD minimum is not met either, the rows "CR | PR" and "CR | SD" give PD, not NE.
    Non-target-only disease (``nt_only``; None: read from the codes, :func:`non_target_only`)
    falls back to NON-CR/NON-PD (NON-iCR/NON-iUPD), not SD.
    """
    voc = vocabulary(criterion)
    seq = assessments if assessments is not None else assessments_for_bor(timepoints, settings, criterion)
    codes = set(map(_OVERALL, seq))  # {tp.overall for tp in seq} without a Python frame
    if voc.cr in codes or voc.pr in codes:  # else nothing to confirm: straight to the fallback
        confirmed = _confirmed_response(seq, settings, criterion, voc)
        if confirmed is not None:
            return confirmed
    if criterion in _IR:
        return _ir_confirmed_fallback(seq, reference_date, settings, voc, codes, nt_only, criterion)
    if nt_only is None:  # non_target_only(seq, voc), on the codes already collected
        nt_only = voc.non_cr_non_pd in codes and voc.pr not in codes and voc.sd not in codes
    fallback = _stable_fallback(seq, reference_date, settings, voc, _STABLE[voc.cr], nt_only)
    if fallback.code == NE:  # with a recorded PD the answer is PD already (dated at that PD)
        reappeared = _disease_after_cr(seq, settings, criterion)
        if reappeared is not None:
            return Best(voc.pd[0], reappeared.date,
                        f"no confirmed response and no stable disease long enough; {reappeared.overall} "
                        f"on {reappeared.date} after a CR is disease reappearing: PD at that point "
                        "(R11-BOR-CONF Table 3, footnote a; A12)")
    if not SENTENCES.get():
        return fallback
    rules = CONFIRMED_RULES[criterion]
    if voc.cr in codes or voc.pr in codes:
        return Best(fallback.code, fallback.date, f"no confirmed response; {fallback.why} ({rules})")
    return Best(fallback.code, fallback.date, f"{fallback.why} ({rules})")


def _confirmed_response(
    seq: Sequence[TimepointResult], settings: Settings, criterion: str, voc: Vocabulary
) -> Best | None:
    """The confirmed CR, else the confirmed PR, of :func:`derive_confirmed_bor` (None: neither).
    The sentence is built only when sentences are wanted (:data:`criteria.lesions.SENTENCES`)."""
    explain = SENTENCES.get()
    for i, tp in enumerate(seq):
        if tp.overall == voc.cr:
            j = _confirming_index(seq, i, settings, voc, want_cr=True)
            if j is not None:
                if not explain:
                    return Best(voc.cr, tp.date, "")
                return Best(voc.cr, tp.date, f"{voc.cr} on {tp.date} confirmed by {seq[j].overall} on "
                                             f"{seq[j].date} ({_days(seq[j].date, tp.date)} days later, "
                                             f"needs >= {settings.confirm_min_days}; "
                                             f"{CONFIRMED_RULES[criterion]})")
    pr_starts = {voc.pr, voc.cr} if settings.cr_then_pr_confirmed_as == "pr" else {voc.pr}
    for i, tp in enumerate(seq):
        if tp.overall in pr_starts:
            j = _confirming_index(seq, i, settings, voc, want_cr=False)
            if j is not None:
                if not explain:
                    return Best(voc.pr, tp.date, "")
                return Best(voc.pr, tp.date, f"{tp.overall} on {tp.date} confirmed as {voc.pr} by "
                                             f"{seq[j].overall} on {seq[j].date} "
                                             f"({_days(seq[j].date, tp.date)} days later, needs >= "
                                             f"{settings.confirm_min_days}; {CONFIRMED_RULES[criterion]})")
    return None


def _disease_after_cr(
    seq: Sequence[TimepointResult], settings: Settings, criterion: str
) -> TimepointResult | None:
    """The first PR or SD after an (unconfirmed) CR, under A12's "the CR was real" reading.

    RECIST 1.1 only: Table 3 is RECIST's, and iRECIST/imRECIST codes after an iCR/CR are
    governed by their own progression rules.
    """
    if criterion != RECIST11 or settings.cr_then_pr_confirmed_as != "sd":
        return None
    seen_cr = False
    for tp in seq:
        if seen_cr and tp.overall in ("PR", "SD"):
            return tp
        seen_cr = seen_cr or tp.overall == "CR"
    return None


# --- PFS ------------------------------------------------------------------------------------

def _last_adequate(timepoints: Sequence[TimepointResult]) -> TimepointResult | None:
    for tp in reversed(timepoints):
        if tp.overall not in NOT_EVALUABLE:
            return tp
    return None


def _pfs(
    event_date: dt.date | None, event_reason: str, death_date: dt.date | None,
    censor_from: Sequence[TimepointResult], reference_date: dt.date,
) -> Pfs:
    """Earliest of the progression event and death; otherwise censored at the last adequate
    assessment of ``censor_from``, or at ``reference_date`` when there is none (R11-PFS,
    admiralonco lasta_censor / rand_censor)."""
    # Pfs(event, date, reason)
    if event_date is not None and (death_date is None or event_date <= death_date):
        return Pfs(True, event_date, event_reason)
    if death_date is not None:
        return Pfs(True, death_date, REASON_DEATH)
    last = _last_adequate(censor_from)
    if last is None:
        return Pfs(False, reference_date, REASON_NO_ADEQUATE)
    return Pfs(False, last.date, REASON_LAST_ADEQUATE)


def recist_pfs(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, death_date: dt.date | None = None,
) -> Pfs:
    """R11-PFS: the first PD (dated at its progression date) or death, whichever first;
    otherwise censored at the last adequate (not NE) assessment before any PD."""
    first_pd = _first(timepoints, "PD")
    if first_pd is None:
        return _pfs(None, REASON_PD, death_date, timepoints, reference_date)
    return _pfs(_pd_date(timepoints[first_pd]), REASON_PD, death_date, timepoints[:first_pd], reference_date)


def irecist_progression_block(timepoints: Sequence[TimepointResult]) -> tuple[int | None, int | None]:
    """(index of the iUPD opening the progression block, index of its iCPD).

    A block opens at an iUPD and is reset by iCR, iPR, iSD or NON-iCR/NON-iUPD (IR-RESET);
    NE and further iUPD keep it open. The first block confirmed by an iCPD is returned; if
    none is confirmed, a block still open at the end is returned with iCPD ``None``
    (unconfirmed iUPD, A3). ``(None, None)`` when there is no such block. An iCPD with no
    open block opens and confirms its own.
    """
    start: int | None = None
    for i, tp in enumerate(timepoints):
        code = tp.overall
        if code == "iUPD":
            if start is None:
                start = i
        elif code == "iCPD":
            return (i if start is None else start), i
        elif code not in NOT_EVALUABLE:
            start = None
    return start, None


def irecist_progression(timepoints: Sequence[TimepointResult]) -> Progression:
    """iRECIST progression dates: the iUPD opening the confirmed (or still open) block and its iCPD."""
    start, confirm = irecist_progression_block(timepoints)
    return Progression(
        iupd_date=None if start is None else _pd_date(timepoints[start]),
        icpd_date=None if confirm is None else timepoints[confirm].date,
    )


def irecist_pfs(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    death_date: dt.date | None = None,
) -> Pfs:
    """iPFS (IR-PFS, AO-IR-PD-DATE): event at the first iUPD of the block later confirmed as
    iCPD ("SD, SD, iUPD, PR, PR, iUPD, iCPD" -> the second iUPD), or death.

    A3, an iUPD never confirmed (only iUPD / NE / nothing after it, or death first):
    ``irecist_unconfirmed_iupd="event"`` (default) dates the event at that iUPD;
    ``"censor"`` censors at the last adequate assessment before it (death stays an event).
    An iUPD followed by iSD, iPR, iCR or NON-iCR/NON-iUPD was reset and is no event.
    """
    start, confirm = irecist_progression_block(timepoints)
    if start is None:
        return _pfs(None, REASON_ICPD, death_date, timepoints, reference_date)
    if confirm is not None:
        return _pfs(_pd_date(timepoints[start]), REASON_ICPD, death_date, timepoints[:start], reference_date)
    if settings.irecist_unconfirmed_iupd == "event":
        return _pfs(_pd_date(timepoints[start]), REASON_UNCONFIRMED_IUPD, death_date,
                    timepoints[:start], reference_date)
    return _pfs(None, REASON_UNCONFIRMED_IUPD, death_date, timepoints[:start], reference_date)


def imrecist_pfs(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    death_date: dt.date | None = None,
) -> Pfs:
    """imPFS (IM-PFS): the first PD that is not negated (its status ``confirmed`` or
    ``stands``), or death; a negated PD is no event. Otherwise censored at the last
    adequate assessment."""
    first = _first_event(_pd_statuses(timepoints, settings))
    if first is None:
        return _pfs(None, REASON_PD, death_date, timepoints, reference_date)
    return _pfs(_pd_date(timepoints[first]), REASON_PD, death_date, timepoints[:first], reference_date)


# --- irRC / irRECIST (issue 14): irPD confirmation, confirmed BOR fallback, irPFS ----------

IRPD_CONFIRMED = "confirmed"
IRPD_NOT_CONFIRMED = "not_confirmed"
IRPD_UNCONFIRMED = "unconfirmed"
REASON_CONFIRMED_IRPD = "confirmed irPD"
REASON_UNCONFIRMED_IRPD = "unconfirmed irPD"


def ir_pd_pairs(
    timepoints: Sequence[TimepointResult], settings: Settings
) -> tuple[tuple[str | None, ...], dict[int, int]]:
    """IRRC-CONF / IRREC-CONF: each irPD's fate and the confirmed pairs (first -> confirming index).

    The later evaluable (not NE) assessments are read in order. An irPD at least
    ``confirm_min_days`` later confirms it (and, with ``ir_confirm_max_days`` > 0, at most that
    many days later, I4); an earlier irPD is passed over (the two observations must be 4 weeks
    apart). Any other response first means the progression was not sustained:
    ``not_confirmed`` (a later irPD beyond the I4 window likewise). Nothing deciding:
    ``unconfirmed``. Both members of a confirmed pair are ``confirmed``.
    """
    statuses: list[str | None] = [None if tp.overall != "irPD" else IRPD_UNCONFIRMED for tp in timepoints]
    pairs: dict[int, int] = {}
    low, high = settings.confirm_min_days, settings.ir_confirm_max_days
    for i, tp in enumerate(timepoints):
        if tp.overall != "irPD":
            continue
        for j in range(i + 1, len(timepoints)):
            later = timepoints[j]
            if later.overall in NOT_EVALUABLE:
                continue
            days = _days(later.date, tp.date)
            if later.overall != "irPD" and days < low and not settings.ir_early_non_pd_refutes:
                continue  # I8 off: an early non-irPD decides nothing
            if later.overall != "irPD" or (high and days > high):
                if statuses[i] != IRPD_CONFIRMED:
                    statuses[i] = IRPD_NOT_CONFIRMED
                break
            if days >= low:
                pairs[i] = j
                statuses[i] = statuses[j] = IRPD_CONFIRMED
                break
    return tuple(statuses), pairs


def ir_pd_status(timepoints: Sequence[TimepointResult], settings: Settings) -> tuple[str | None, ...]:
    """The ``pd_status`` of each irRC / irRECIST timepoint (None for non-irPD ones)."""
    return ir_pd_pairs(timepoints, settings)[0]


def _ir_confirmed_fallback(
    seq: Sequence[TimepointResult], reference_date: dt.date, settings: Settings, voc: Vocabulary,
    codes: set[str], nt_only: bool | None, criterion: str,
) -> Best:
    """Confirmed irBOR below the confirmed responses: irSD (>= ``sd_min_days``), irNN, then
    irPD only when confirmed (Wolchok Table 2 footnote: irPD is assessed on confirmation),
    else NE."""
    if nt_only is None:
        nt_only = voc.non_cr_non_pd in codes and voc.pr not in codes and voc.sd not in codes
    fallback = _stable_fallback(seq, reference_date, settings, voc, _STABLE[voc.cr], nt_only)
    rules = CONFIRMED_RULES[criterion]
    if fallback.code == "irPD":
        pairs = ir_pd_pairs(seq, settings)[1]
        if not pairs:
            return Best(NE, seq[0].date if seq else None,
                        f"no confirmed response, no stable disease long enough and no confirmed irPD: NE "
                        f"({rules})")
        first = seq[min(pairs)]
        return Best("irPD", first.date, f"no confirmed response or stable disease; irPD on {first.date} "
                                        f"confirmed on {seq[pairs[min(pairs)]].date} ({rules})")
    return Best(fallback.code, fallback.date, f"no confirmed response; {fallback.why} ({rules})"
                if voc.cr in codes or voc.pr in codes else f"{fallback.why} ({rules})")


def ir_pfs(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    death_date: dt.date | None = None,
) -> Pfs:
    """irPFS (IRRC-PFS / IRREC-PFS): the first irPD that is confirmed (dated at that irPD, or
    at the confirming assessment with ``ir_pd_date="confirming"``, I1), or left unconfirmed
    with nothing after it (an event at its date by default; censored before it with
    ``ir_unconfirmed_pd="censor"``, I2), or death. An irPD not confirmed is no event."""
    statuses, pairs = ir_pd_pairs(timepoints, settings)
    for i, status in enumerate(statuses):
        if i in pairs:
            confirming = settings.ir_pd_date == "confirming"
            date = timepoints[pairs[i]].date if confirming else _pd_date(timepoints[i])
            return _pfs(date, REASON_CONFIRMED_IRPD, death_date, timepoints[:i], reference_date)
        if status == IRPD_UNCONFIRMED:
            if settings.ir_unconfirmed_pd == "event":
                return _pfs(_pd_date(timepoints[i]), REASON_UNCONFIRMED_IRPD, death_date, timepoints[:i],
                            reference_date)
            return _pfs(None, REASON_UNCONFIRMED_IRPD, death_date, timepoints[:i], reference_date)
    return _pfs(None, REASON_CONFIRMED_IRPD, death_date, timepoints, reference_date)


def criterion_pfs(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    criterion: str = RECIST11, death_date: dt.date | None = None,
) -> Pfs:
    """PFS (iPFS, imPFS) of ``criterion``; see :func:`recist_pfs`, :func:`irecist_pfs`,
    :func:`imrecist_pfs`. Death is an event whenever it is recorded (no "two missed
    assessments" rule; see AMBIGUITIES.md)."""
    if criterion == RECIST11:
        return recist_pfs(timepoints, reference_date, death_date)
    if criterion == IRECIST:
        return irecist_pfs(timepoints, reference_date, settings, death_date)
    if criterion == IMRECIST:
        return imrecist_pfs(timepoints, reference_date, settings, death_date)
    if criterion in PET_CRITERIA:
        return pet_pfs(timepoints, reference_date, settings, criterion, death_date)
    if criterion in _IR:
        return ir_pfs(timepoints, reference_date, settings, death_date)
    return recist_pfs(timepoints, reference_date, death_date)


# --- PERCIST family: metabolic PFS ---------------------------------------------------------

REASON_PMD = "PMD"
REASON_CPMD = "UPMD confirmed as CPMD"
REASON_UNCONFIRMED_UPMD = "unconfirmed UPMD"


def pet_pfs(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    criterion: str, death_date: dt.date | None = None,
) -> Pfs:
    """Metabolic PFS (PERC-PFS, IMPERC5-PFS, PERCIMT-PFS): the first PMD or death; otherwise
    censored at the last adequate scan before it. iPERCIST (IPERC-PFS): the UPMD that a CPMD
    confirmed dates the event (as iRECIST dates iPFS at the iUPD); a UPMD reset by CMR/PMR/SMD
    is no event; a UPMD never confirmed (P5 ``ipercist_unconfirmed_upmd``) is an event at its
    date ("event", default) or censored at the last adequate scan before it ("censor")."""
    if criterion != IPERCIST:
        first = _first(timepoints, "PMD")
        if first is None:
            return _pfs(None, REASON_PMD, death_date, timepoints, reference_date)
        return _pfs(_pd_date(timepoints[first]), REASON_PMD, death_date, timepoints[:first], reference_date)
    start: int | None = None
    for i, tp in enumerate(timepoints):
        if tp.overall == "UPMD" and start is None:
            start = i
        elif tp.overall == "CPMD":
            begin = i if start is None else start
            return _pfs(_pd_date(timepoints[begin]), REASON_CPMD, death_date, timepoints[:begin],
                        reference_date)
        elif tp.overall not in NOT_EVALUABLE and tp.overall != "UPMD":
            start = None  # reset by CMR / PMR / SMD
    if start is None:
        return _pfs(None, REASON_CPMD, death_date, timepoints, reference_date)
    if settings.ipercist_unconfirmed_upmd == "event":
        return _pfs(_pd_date(timepoints[start]), REASON_UNCONFIRMED_UPMD, death_date, timepoints[:start],
                    reference_date)
    return _pfs(None, REASON_UNCONFIRMED_UPMD, death_date, timepoints[:start], reference_date)


# --- duration of response ------------------------------------------------------------------

def derive_dor(
    timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
    criterion: str = RECIST11, death_date: dt.date | None = None,
    assessments: Sequence[TimepointResult] | None = None,
) -> DurationOfResponse | None:
    """Duration of response (RECIST 1.1 §4.6.2; iDOR for iRECIST): from the first CR/PR to
    the criterion's next progression event (or death), else censored at the last adequate
    assessment. ``None`` when there is no CR/PR. Unconfirmed responses count; a trial
    that requires confirmation restricts DoR to confirmed responders downstream."""
    voc = vocabulary(criterion)
    seq = assessments if assessments is not None else assessments_for_bor(timepoints, settings, criterion)
    start = _first(seq, voc.cr, voc.pr)
    if start is None:
        return None
    begin = seq[start].date
    # seq is normally a prefix of timepoints (assessments_for_bor): then the index is start
    # (tuple.index would compare the dataclasses field by field before reaching it)
    at = start if start < len(timepoints) and timepoints[start] is seq[start] else None
    if at is None:
        at = timepoints.index(seq[start])
    rest = tuple(timepoints[at:])
    pfs = criterion_pfs(rest, begin, settings, criterion, death_date)
    # DurationOfResponse(start, end, days, event, reason)
    return DurationOfResponse(begin, pfs.date, (pfs.date - begin).days, pfs.event, pfs.reason)


# --- criterion-named entry points (the names the SAP and admiralonco use) ------------------

def derive_ibor(timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings) -> Best:
    """iBOR (IR-BOR, iRECIST Table 3): :func:`derive_bor` with the iRECIST ranking
    iCR > iPR > iSD > NON-iCR/NON-iUPD > iCPD > iUPD > NE, up to the first iCPD."""
    return derive_bor(timepoints, reference_date, settings, IRECIST)


def derive_ipfs(timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
                death_date: dt.date | None = None) -> Pfs:
    """iPFS: :func:`irecist_pfs`."""
    return irecist_pfs(timepoints, reference_date, settings, death_date)


def derive_imbor(timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings) -> Best:
    """imBOR (IM-BOR): :func:`derive_bor` over all assessments, responses after PD included (A8)."""
    return derive_bor(timepoints, reference_date, settings, IMRECIST)


def derive_impfs(timepoints: Sequence[TimepointResult], reference_date: dt.date, settings: Settings,
                 death_date: dt.date | None = None) -> Pfs:
    """imPFS: :func:`imrecist_pfs`."""
    return imrecist_pfs(timepoints, reference_date, settings, death_date)
