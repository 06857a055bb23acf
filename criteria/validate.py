"""Validity rules for a subject's read history, on the typed inputs of ``criteria.types``.

``criteria.parse`` turns JSON into types and rejects what cannot be typed (a string where a
number belongs, an unknown status word); the rules here judge typed values, so the Django
app can run the very same checks on what it builds from the database
(``validate_baseline_targets(targets)`` before a read is signed, ``validate_subject``
before an endpoint computation). Each rule returns :class:`Problem` values naming the field
in the contract's JSON shape (``timepoints[2].targets.T3``); nothing here raises.

Sources: R11-MEAS / R11-NODE (measurability at baseline), R11-TGT-SEL with
FAQ-PAIRED-ORGANS and FAQ-NODES-ONE-ORGAN (5 targets, 2 per organ), criteria-rules.md §3.1.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from criteria.types import (
    IRECIST_CODES,
    RECIST_CODES,
    Baseline,
    BaselineNonTarget,
    BaselineTarget,
    NewLesion,
    Settings,
    Subject,
    TargetKind,
    Timepoint,
)

#: R11-TGT-SEL: at most 5 target lesions in total and 2 per organ.
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
#: R11-MEAS: a non-nodal lesion is measurable from 10 mm longest diameter (CT, caliper).
MIN_MEASURABLE_MM = Decimal(10)
#: R11-NODE: a node is measurable (target-eligible) from 15 mm short axis.
MIN_MEASURABLE_NODE_MM = Decimal(15)
#: Plausibility bound: no human lesion diameter reaches a metre; larger values are typos
#: (a value entered in micrometres, a missing decimal point).
MAX_DIAMETER_MM = Decimal(1000)
_ZERO = Decimal(0)

#: Codes that belong to both vocabularies and say nothing about which one is in use.
SHARED_CODES = frozenset({"NE", "NA"})
RECIST_ONLY_CODES = RECIST_CODES - SHARED_CODES
IRECIST_ONLY_CODES = IRECIST_CODES - SHARED_CODES


@dataclass(frozen=True)
class Problem:
    """One validity problem: the field path in the contract's JSON shape and what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# --- organ grouping ----------------------------------------------------------------

#: Words naming a side or a part of an organ, not another organ ("left lobe of liver",
#: "liver, right lobe", "adrenal gland, left"): dropped wherever they stand.
_ORGAN_PART_WORDS = frozenset({"left", "right", "bilateral", "l", "r", "lobe", "lobes", "of", "the"})
#: "segment 7", "segments ii-iii", "seg s4": the word and the segment ids after it.
_SEGMENT_WORDS = frozenset({"segment", "segments", "seg"})
_SEGMENT_ID = re.compile(r"^(?:s?\d+[a-z]?|[ivx]+)$")
#: Dropped only before the organ ("upper lobe of lung"): elsewhere they can name another
#: site ("soft tissue of upper limb" is not the lower limb).
_ORGAN_SIDE_WORDS = ("upper ", "lower ", "middle ")


def organ_group(organ: str, node: bool) -> str:
    """The organ a lesion counts against for the 2-per-organ rule (R11-TGT-SEL).

    FAQ-PAIRED-ORGANS: lung, kidney and ovaries are one organ whatever their parts
    ("left lung", "right lower lobe of lung" are both "lung"). FAQ-NODES-ONE-ORGAN: all
    lymph nodes, in whatever chain, are one organ; every ``node`` lesion counts as
    "lymph node" whatever organ text it carries. Any other organ is one organ whatever its
    side or part too: "liver left lobe", "left lobe of liver" and "liver, segment VII" are
    all "liver" (the limit is per organ, not per lobe or segment).
    """
    if node:
        return "lymph node"
    if organ.isascii() and organ.isalpha() and organ.islower():
        text = organ  # one plain lower-case word: the normalisation below would give it back
    else:
        text = " ".join(organ.lower().replace("_", " ").replace("-", " ").replace(",", " ").split())
    if "lymph" in text or text in {"node", "nodes", "nodal"}:
        return "lymph node"
    if "lung" in text or "pulmonary" in text:
        return "lung"
    if "kidney" in text or "renal" in text.split():  # a word: "adrenal" is not the kidney
        return "kidney"
    if "ovar" in text:
        return "ovaries"
    if " " not in text:
        return text  # one word: a side, part or segment word alone is kept as it is (below)
    words: list[str] = []
    segment = False
    for word in text.split():
        if word in _SEGMENT_WORDS:
            segment = True
            continue
        if segment and _SEGMENT_ID.match(word):
            continue
        segment = False
        if word not in _ORGAN_PART_WORDS:
            words.append(word)
    grouped = " ".join(words)
    for word in _ORGAN_SIDE_WORDS:
        if grouped.startswith(word):
            grouped = grouped[len(word):]
    return grouped or text


# --- single values -------------------------------------------------------------------

def _fmt(value: Decimal) -> str:
    return format(value, "f") if value.is_finite() else str(value)


def diameter_problem(field: str, value: Decimal | None) -> Problem | None:
    """A diameter must be a finite, non-negative number of mm no larger than 1000."""
    if value is None:
        return None
    if not value.is_finite():
        return Problem(field, f"not a finite number: {value}")
    if value < 0:
        return Problem(field, f"negative diameter {_fmt(value)}")
    if value > MAX_DIAMETER_MM:
        return Problem(field, f"implausible diameter {_fmt(value)} mm (more than {MAX_DIAMETER_MM} mm)")
    return None


def is_measurable_size(mm: Decimal, node: bool) -> bool:
    """R11-MEAS / R11-NODE: non-nodal >= 10 mm longest diameter, node >= 15 mm short axis."""
    return mm >= (MIN_MEASURABLE_NODE_MM if node else MIN_MEASURABLE_MM)


# --- baseline ------------------------------------------------------------------------

def _target_id_and_diameter_problems(
    field: str, target: BaselineTarget, seen: set[str]
) -> tuple[list[Problem], bool]:
    """A baseline target's id (not empty, not seen before; added to ``seen``) and diameter
    (:func:`diameter_problem`): the problems, and whether the diameter is usable."""
    problems: list[Problem] = []
    if not target.id:
        problems.append(Problem(f"{field}.id", "empty lesion id"))
    elif target.id in seen:
        problems.append(Problem(f"{field}.id", f"duplicate target id {target.id}"))
    seen.add(target.id)
    size = diameter_problem(f"{field}.mm", target.mm)
    if size is not None:
        problems.append(size)
    return problems, size is None


def validate_baseline_targets(
    targets: Sequence[BaselineTarget], prefix: str = "baseline.targets", max_targets: int = MAX_TARGETS,
) -> list[Problem]:
    """Problems with a set of baseline target lesions (R11-TGT-SEL, R11-MEAS, R11-NODE).

    Checks unique ids, each diameter (finite, >= 0, <= 1000 mm), measurability (non-nodal
    >= 10 mm, nodal short axis >= 15 mm), at most 5 targets and at most 2 per organ with
    the paired-organ and one-lymph-node-organ grouping of :func:`organ_group`.
    """
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, target in enumerate(targets):
        mm = target.mm
        if (target.id and target.id not in seen and mm.is_finite() and _ZERO <= mm <= MAX_DIAMETER_MM
                and is_measurable_size(mm, target.node)):
            seen.add(target.id)
            continue  # the common case, without building field paths
        field = f"{prefix}[{i}]"
        found, sized = _target_id_and_diameter_problems(field, target, seen)
        problems += found
        if sized and not is_measurable_size(target.mm, target.node):
            if target.node:
                problems.append(Problem(
                    f"{field}.mm",
                    f"node target {target.id} short axis {_fmt(target.mm)} mm is not measurable "
                    f"(needs >= {MIN_MEASURABLE_NODE_MM} mm, R11-NODE)"))
            else:
                problems.append(Problem(
                    f"{field}.mm",
                    f"target {target.id} longest diameter {_fmt(target.mm)} mm is not measurable "
                    f"(needs >= {MIN_MEASURABLE_MM} mm, R11-MEAS)"))
    if len(targets) > max_targets:
        rule = "R11-TGT-SEL" if max_targets == MAX_TARGETS else "ITR-CLASS"
        problems.append(Problem(prefix, f"{len(targets)} target lesions: at most {max_targets} "
                                        f"({rule})"))
    per_organ: dict[str, list[str]] = {}
    for target in targets:
        per_organ.setdefault(organ_group(target.organ, target.node), []).append(target.id)
    for organ, ids in per_organ.items():
        if len(ids) > MAX_TARGETS_PER_ORGAN:
            problems.append(Problem(
                prefix, f"{len(ids)} target lesions in organ {organ!r} ({', '.join(ids)}): at most "
                        f"{MAX_TARGETS_PER_ORGAN} per organ (R11-TGT-SEL)"))
    return problems


def validate_baseline_non_targets(
    non_targets: Sequence[BaselineNonTarget], target_ids: Iterable[str] = (),
    prefix: str = "baseline.non_targets",
) -> list[Problem]:
    """Problems with baseline non-target lesions: empty or duplicate ids, ids reused from targets."""
    problems: list[Problem] = []
    targets = set(target_ids)
    seen: set[str] = set()
    for i, lesion in enumerate(non_targets):
        field = f"{prefix}[{i}].id"
        if not lesion.id:
            problems.append(Problem(field, "empty lesion id"))
        elif lesion.id in targets:
            problems.append(Problem(field, f"id {lesion.id} is already a target lesion id"))
        elif lesion.id in seen:
            problems.append(Problem(field, f"duplicate non-target id {lesion.id}"))
        seen.add(lesion.id)
    return problems


def validate_baseline(baseline: Baseline, max_targets: int = MAX_TARGETS) -> list[Problem]:
    """Problems with a whole baseline (targets and non-targets); ``max_targets`` is 10 for an
    itRECIST baseline (ITR-CLASS).

    A bidimensional (irRC) baseline has its selection rules checked per criterion when it is
    evaluated (:func:`selection_problems`): here only ids, diameters and their pairing."""
    if is_bidimensional(baseline):
        problems = bidimensional_baseline_problems(baseline.targets)
    else:
        problems = validate_baseline_targets(baseline.targets, max_targets=max_targets)
    problems += validate_baseline_non_targets(baseline.non_targets, (t.id for t in baseline.targets))
    return problems


# --- follow-up -----------------------------------------------------------------------

def _validate_new_lesions(
    lesions: Sequence[NewLesion], baseline_ids: set[str], prefix: str
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, lesion in enumerate(lesions):
        field = f"{prefix}[{i}]"
        if not lesion.id:
            problems.append(Problem(f"{field}.id", "empty lesion id"))
        elif lesion.id in baseline_ids:
            problems.append(Problem(f"{field}.id", f"new lesion id {lesion.id} is a baseline lesion id"))
        elif lesion.id in seen:
            problems.append(Problem(f"{field}.id", f"duplicate new lesion id {lesion.id}"))
        seen.add(lesion.id)
        size = diameter_problem(f"{field}.mm", lesion.mm)
        if size is not None:
            problems.append(size)
    return problems


def validate_timepoint_lesions(
    timepoint: Timepoint, baseline: Baseline, prefix: str = "timepoints[0]"
) -> list[Problem]:
    """Problems with one follow-up's lesion values against the baseline.

    Every target and non-target id must be a baseline id of that kind; diameters (also
    fragments) finite, non-negative and at most 1000 mm; coalescence partners must be
    targets; new-lesion ids unique and different from every baseline id.
    """
    target_ids = {t.id for t in baseline.targets}
    non_target_ids = {n.id for n in baseline.non_targets}
    return _timepoint_lesion_problems(timepoint, target_ids, non_target_ids, target_ids | non_target_ids,
                                      prefix)


def _timepoint_lesion_problems(
    timepoint: Timepoint, target_ids: set[str], non_target_ids: set[str], baseline_ids: set[str],
    prefix: str,
) -> list[Problem]:
    """:func:`validate_timepoint_lesions` with the baseline's id sets given (built once per subject)."""
    problems: list[Problem] = []
    for lesion_id, value in timepoint.targets.items():
        mm = value.mm
        if (lesion_id in target_ids and not value.fragments_mm and not value.coalesced_with
                and value.coalesced_into is None
                and (mm is None or (mm.is_finite() and _ZERO <= mm <= MAX_DIAMETER_MM))):
            continue  # the common case, without building field paths
        field = f"{prefix}.targets.{lesion_id}"
        if lesion_id not in target_ids:
            what = "a non-target id" if lesion_id in non_target_ids else "not a baseline target id"
            problems.append(Problem(field, f"unknown target lesion {lesion_id} ({what})"))
            continue
        size = diameter_problem(field, mm)
        if size is not None:
            problems.append(size)
        for k, fragment in enumerate(value.fragments_mm):
            size = diameter_problem(f"{field}.fragments_mm[{k}]", fragment)
            if size is not None:
                problems.append(size)
        for other in value.coalesced_with:
            if other not in target_ids or other == lesion_id:
                problems.append(Problem(f"{field}.coalesced_with",
                                        f"{other} is not another baseline target id"))
        if value.kind is TargetKind.COALESCED_INTO and (
                value.coalesced_into not in target_ids or value.coalesced_into == lesion_id):
            problems.append(Problem(f"{field}.coalesced_into",
                                    f"{value.coalesced_into} is not another baseline target id"))
    for lesion_id in timepoint.non_targets:
        if lesion_id not in non_target_ids:
            what = "a target id" if lesion_id in target_ids else "not a baseline non-target id"
            problems.append(Problem(f"{prefix}.non_targets.{lesion_id}",
                                    f"unknown non-target lesion {lesion_id} ({what})"))
    if timepoint.new_lesions:
        problems += _validate_new_lesions(timepoint.new_lesions, baseline_ids, f"{prefix}.new_lesions")
    return problems


def _plain_follow_up(timepoint: Timepoint, target_ids: set[str], non_target_ids: set[str]) -> bool:
    """Whether a follow-up has nothing :func:`_timepoint_lesion_problems` or
    :func:`bidimensional_timepoint_problems` could report: known ids only, every target value
    a single diameter in range (or not assessed), no new lesion."""
    if timepoint.new_lesions:
        return False
    for lesion_id, value in timepoint.targets.items():
        mm = value.mm
        if not (lesion_id in target_ids and not value.fragments_mm and not value.coalesced_with
                and value.coalesced_into is None and value.perp_mm is None and value.long_mm is None
                and not value.fragments_perp_mm
                and (mm is None or (mm.is_finite() and _ZERO <= mm <= MAX_DIAMETER_MM))):
            return False
    return non_target_ids.issuperset(timepoint.non_targets)


def validate_dates(subject: Subject) -> list[Problem]:
    """Follow-ups strictly after the baseline (or, at response level, not before the
    reference date) and strictly in date order; death not before the last assessment."""
    problems: list[Problem] = []
    if subject.baseline is not None:
        floor, floor_name = subject.baseline.date, "baseline date"
    else:
        floor, floor_name = subject.reference_date, "reference_date"
    previous: dt.date | None = None
    for i, tp in enumerate(subject.timepoints):
        if (tp.date > floor if subject.baseline is not None else tp.date >= floor) and (
                previous is None or tp.date > previous) and not tp.scan_dates:
            previous = tp.date
            continue  # the common case, without building field paths
        field = f"timepoints[{i}].date"
        if subject.baseline is not None and tp.date <= floor:
            problems.append(Problem(field, f"follow-up {tp.date} is not after the {floor_name} {floor}"))
        elif subject.baseline is None and tp.date < floor:
            problems.append(Problem(field, f"assessment {tp.date} is before the {floor_name} {floor}"))
        elif previous is not None and tp.date <= previous:
            problems.append(Problem(field, f"dates out of order: {tp.date} is not after {previous}"))
        for k, scan_date in enumerate(tp.scan_dates):
            if scan_date < floor or (subject.baseline is not None and scan_date == floor):
                problems.append(Problem(f"timepoints[{i}].scan_dates[{k}]",
                                        f"scan {scan_date} is not after the {floor_name} {floor}"))
        previous = tp.date
    if subject.death_date is not None:
        if subject.death_date < subject.reference_date:
            problems.append(Problem("death_date", f"death {subject.death_date} is before the "
                                                  f"reference_date {subject.reference_date}"))
        elif previous is not None and subject.death_date < previous:
            problems.append(Problem("death_date", f"death {subject.death_date} is before the last "
                                                  f"assessment {previous}"))
    if (subject.last_contact_date is not None
            and subject.last_contact_date < subject.reference_date):
        problems.append(Problem("last_contact_date", f"last contact {subject.last_contact_date} is "
                                                     f"before the reference_date {subject.reference_date}"))
    return problems


def response_vocabulary(codes: Sequence[str | None]) -> str | None:
    """Which criterion's vocabulary response-level codes belong to.

    ``"recist"`` (RECIST 1.1 / imRECIST codes), ``"irecist"``, or ``None`` when only the
    shared codes NE / NA occur. Mixed or unknown codes are reported by
    :func:`validate_response_codes`.
    """
    for code in codes:
        if code in RECIST_ONLY_CODES:
            return "recist"
        if code in IRECIST_ONLY_CODES:
            return "irecist"
    return None


def validate_response_codes(timepoints: Sequence[Timepoint]) -> list[Problem]:
    """Response-level codes: each known, and all of one vocabulary (RECIST 1.1 or iRECIST)."""
    problems: list[Problem] = []
    first: tuple[int, str] | None = None
    for i, tp in enumerate(timepoints):
        field = f"timepoints[{i}].overall"
        code = tp.overall
        if code is None:
            problems.append(Problem(field, "missing overall response (response-level input has no baseline)"))
            continue
        if code not in RECIST_CODES and code not in IRECIST_CODES:
            problems.append(Problem(field, f"unknown response code {code!r} (RECIST 1.1: "
                                           f"{', '.join(sorted(RECIST_CODES))}; iRECIST: "
                                           f"{', '.join(sorted(IRECIST_CODES))})"))
            continue
        if code in SHARED_CODES:
            continue
        if first is None:
            first = (i, code)
        elif (code in IRECIST_ONLY_CODES) != (first[1] in IRECIST_ONLY_CODES):
            problems.append(Problem(field, f"code {code} mixes vocabularies: timepoints[{first[0]}] "
                                           f"is {first[1]} (RECIST 1.1 and iRECIST codes cannot be mixed)"))
    return problems


def validate_settings(settings: Settings) -> list[Problem]:
    """Charter settings must be sensible: non-negative day counts, an ordered window."""
    problems: list[Problem] = []
    for name in ("sd_min_days", "confirm_min_days", "max_ne_between_confirmation",
                 "imrecist_negation_min_days", "irecist_early_scan_tolerance_days"):
        value = getattr(settings, name)
        if value < 0:
            problems.append(Problem(f"settings.{name}", f"must not be negative, got {value}"))
    low, high = settings.irecist_confirm_window_days
    if low < 0 or high < low:
        problems.append(Problem("settings.irecist_confirm_window_days",
                                f"needs 0 <= low <= high, got [{low}, {high}]"))
    return problems


def validate_subject(subject: Subject) -> list[Problem]:
    """Every validity problem of one subject, in input order (settings, baseline, follow-ups)."""
    problems = validate_settings(subject.settings)
    baseline = subject.baseline
    if baseline is not None:
        if subject.injection is None:
            problems += validate_baseline(baseline)
        else:
            problems += validate_baseline(baseline, ITR_MAX_TARGETS) + validate_injection(subject)
        target_ids = {t.id for t in baseline.targets}
        non_target_ids = {n.id for n in baseline.non_targets}
        baseline_ids = target_ids | non_target_ids
        for i, tp in enumerate(subject.timepoints):
            if tp.overall is None and _plain_follow_up(tp, target_ids, non_target_ids):
                continue  # the common case: nothing the checks below could report
            prefix = f"timepoints[{i}]"
            if tp.overall is not None:
                problems.append(Problem(f"{prefix}.overall",
                                        "an overall response is response-level input, which has no "
                                        "baseline; give lesions or drop the baseline"))
            problems += _timepoint_lesion_problems(tp, target_ids, non_target_ids, baseline_ids, prefix)
            problems += bidimensional_timepoint_problems(baseline, tp, prefix)
    else:
        problems += validate_response_codes(subject.timepoints)
    problems += validate_dates(subject)
    return problems


# --- irRC / irRECIST: bidimensional values (issue 14) -------------------------------------
#: IRRC-BURDEN: an index or new lesion is measurable at >= 5 x 5 mm (Wolchok 2009 Table 1).
IRRC_MEASURABLE_MM = Decimal(5)
#: IRRC-BURDEN (Wolchok 2009 Table 1): index lesions per organ, visceral and cutaneous.
IRRC_MAX_PER_ORGAN = 5
IRRC_MAX_VISCERAL = 10
IRRC_MAX_CUTANEOUS = 5


def is_bidimensional(baseline: Baseline) -> bool:
    """Whether any baseline target carries a second diameter (an irRC baseline)."""
    for t in baseline.targets:  # noqa: SIM110 -- a plain loop: any() over a generator costs more
        if t.perp_mm is not None or t.long_mm is not None:
            return True
    return False


def is_cutaneous(organ: str) -> bool:
    """Cutaneous lesions (the irRC "5 cutaneous" limit): an organ naming skin or cutaneous
    (not subcutaneous) tissue."""
    text = organ.strip().lower()
    return "skin" in text or text.startswith(("cutaneous", "dermal"))


def _pair_problems(field: str, lesion_id: str, node: bool, mm: Decimal | None, perp: Decimal | None,
                   long: Decimal | None) -> list[Problem]:
    """A lesion's second diameter: ``perp_mm`` (non-nodal, <= mm) or ``long_mm`` (node, >= mm)."""
    checks = (diameter_problem(f"{field}.perp_mm", perp), diameter_problem(f"{field}.long_mm", long))
    problems = [p for p in checks if p is not None]
    if problems:
        return problems
    if node and perp is not None:
        return [Problem(f"{field}.perp_mm", f"node {lesion_id}: mm is the short axis, give the long axis "
                                            "as long_mm (the WHO product is long axis x short axis)")]
    if not node and long is not None:
        return [Problem(f"{field}.long_mm", f"lesion {lesion_id} is not a node: mm is the longest diameter, "
                                            "give the perpendicular diameter as perp_mm")]
    if mm is not None and mm.is_finite():
        if perp is not None and perp > mm:
            return [Problem(f"{field}.perp_mm", f"perpendicular diameter {_fmt(perp)} mm is larger than the "
                                                f"longest diameter {_fmt(mm)} mm of {lesion_id}")]
        if long is not None and long < mm:
            return [Problem(f"{field}.long_mm", f"long axis {_fmt(long)} mm is shorter than the short axis "
                                                f"{_fmt(mm)} mm of node {lesion_id}")]
    return []


def bidimensional_baseline_problems(
    targets: Sequence[BaselineTarget], prefix: str = "baseline.targets"
) -> list[Problem]:
    """A bidimensional baseline's targets: ids, diameters and each second diameter
    (``perp_mm`` <= ``mm`` for a non-nodal lesion, ``long_mm`` >= ``mm`` for a node)."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, target in enumerate(targets):
        field = f"{prefix}[{i}]"
        problems += _target_id_and_diameter_problems(field, target, seen)[0]
        problems += _pair_problems(field, target.id, target.node, target.mm, target.perp_mm, target.long_mm)
    return problems


def bidimensional_timepoint_problems(baseline: Baseline, tp: Timepoint, prefix: str) -> list[Problem]:
    """A follow-up's second diameters (targets, split fragments, new lesions), as
    :func:`bidimensional_baseline_problems` checks the baseline's."""
    problems: list[Problem] = []
    nodes: dict[str, bool] | None = None
    for lesion_id, m in tp.targets.items():
        if m.perp_mm is None and m.long_mm is None and not m.fragments_perp_mm:
            continue  # the common case, a single diameter: nothing to check (no field path built)
        if nodes is None:
            nodes = {t.id: t.node for t in baseline.targets}
        field = f"{prefix}.targets.{lesion_id}"
        if m.perp_mm is not None or m.long_mm is not None:
            problems += _pair_problems(field, lesion_id, nodes.get(lesion_id, False), m.mm, m.perp_mm,
                                       m.long_mm)
        for k, (frag, perp) in enumerate(zip(m.fragments_mm, m.fragments_perp_mm, strict=False)):
            size = diameter_problem(f"{field}.fragments_perp_mm[{k}]", perp)
            if size is not None:
                problems.append(size)
            elif perp > frag:
                problems.append(Problem(f"{field}.fragments_perp_mm[{k}]",
                                        f"perpendicular diameter {_fmt(perp)} mm is larger than the "
                                        f"fragment's longest diameter {_fmt(frag)} mm"))
        if m.fragments_perp_mm and nodes.get(lesion_id, False):
            problems.append(Problem(f"{field}.fragments_perp_mm",
                                    "bidimensional fragments of a node are not supported"))
    for k, lesion in enumerate(tp.new_lesions):
        if lesion.perp_mm is not None or lesion.long_mm is not None:
            problems += _pair_problems(f"{prefix}.new_lesions[{k}]", lesion.id, lesion.node, lesion.mm,
                                       lesion.perp_mm, lesion.long_mm)
    return problems


def selection_problems(baseline: Baseline, criterion: str) -> list[Problem]:
    """The baseline selection rules of ``criterion`` for a bidimensional baseline (deferred
    from :func:`validate_baseline`): irRC index lesions >= 5 x 5 mm, at most 5 per organ,
    10 visceral and 5 cutaneous (IRRC-BURDEN); every other criterion RECIST 1.1's."""
    if criterion != "irrc":
        return validate_baseline_targets(baseline.targets)
    problems: list[Problem] = []
    prefix = "baseline.targets"
    for i, t in enumerate(baseline.targets):
        second = t.long_mm if t.node else t.perp_mm
        field = f"{prefix}[{i}].{'long_mm' if t.node else 'perp_mm'}"
        if second is None:
            problems.append(Problem(field, f"irRC needs the bidimensional measurement of index lesion "
                                           f"{t.id}"))
        elif min(t.mm, second) < IRRC_MEASURABLE_MM:
            problems.append(Problem(f"{prefix}[{i}]",
                                    f"index lesion {t.id} {_fmt(t.mm)} x {_fmt(second)} mm is not measurable "
                                    f"(needs >= {IRRC_MEASURABLE_MM} x {IRRC_MEASURABLE_MM} mm, "
                                    "IRRC-BURDEN)"))
    per_organ: dict[str, list[str]] = {}
    cutaneous = [t.id for t in baseline.targets if is_cutaneous(t.organ)]
    visceral = [t.id for t in baseline.targets if not is_cutaneous(t.organ)]
    for t in baseline.targets:
        per_organ.setdefault(organ_group(t.organ, t.node), []).append(t.id)
    for organ, ids in per_organ.items():
        if len(ids) > IRRC_MAX_PER_ORGAN:
            problems.append(Problem(prefix, f"{len(ids)} index lesions in organ {organ!r}: at most "
                                            f"{IRRC_MAX_PER_ORGAN} per organ (IRRC-BURDEN)"))
    if len(visceral) > IRRC_MAX_VISCERAL:
        problems.append(Problem(prefix, f"{len(visceral)} visceral index lesions: at most "
                                        f"{IRRC_MAX_VISCERAL} (IRRC-BURDEN)"))
    if len(cutaneous) > IRRC_MAX_CUTANEOUS:
        problems.append(Problem(prefix, f"{len(cutaneous)} cutaneous index lesions: at most "
                                        f"{IRRC_MAX_CUTANEOUS} (IRRC-BURDEN)"))
    return problems


# --- itRECIST (GOL20) ------------------------------------------------------------------

#: ITR-CLASS: 1-5 target injected, 1-5 target non-injected, at most 10 targets.
ITR_MAX_TARGETS = 10
ITR_GROUP_TARGETS = (1, 5)


def validate_injection(subject: Subject) -> list[Problem]:
    """ITR-CLASS: between 1 and 5 targets injected and between 1 and 5 not injected at baseline
    (the other limits, measurability and 2 per organ, as RECIST 1.1)."""
    injection, baseline = subject.injection, subject.baseline
    if injection is None or baseline is None:
        return []
    problems: list[Problem] = []
    low, high = ITR_GROUP_TARGETS
    for flag, name in ((True, "injected"), (False, "non-injected")):
        ids = [t.id for t in baseline.targets if injection.baseline.get(t.id) is flag]
        if not low <= len(ids) <= high:
            problems.append(Problem("baseline.targets", f"{len(ids)} {name} target lesions at baseline: "
                                                        f"itRECIST needs {low} to {high} (ITR-CLASS)"))
    return problems
