"""Charter-driven adjudication triggers: where do two readers' derived results disagree?

Pure Python (no Django): the adjudication service builds each reader's
``dict[str, CriterionResult]`` through ``trialreads.mappers`` + ``criteria.evaluate`` and
asks :func:`compare_results` for the points of disagreement. An empty list means the
subject is concordant and is accepted by rule; a non-empty list opens one adjudication case.

The charter names the *adjudication variables* (FDA 2018 guidance "Clinical Trial Imaging
Endpoint Process Standards" §III.B: the charter pre-specifies which discordances between
the two primary reads are adjudicated). Supported variables:

``bor``
    Best overall response of each criterion in scope (``bor_confirmed`` instead when the
    rules say ``"bor_confirmed": true``, which the service sets from the charter's
    ``confirmation_required`` unless the rules JSON says otherwise).
``pd_date``
    Date of the first radiological progression of each criterion in scope: the first
    timepoint whose overall response is a progression code (RECIST 1.1 / imRECIST ``PD``,
    iRECIST ``iUPD`` or ``iCPD``), dated at its ``progression_date`` (earliest scan) or,
    failing that, its assessment date. Progression on one read only is a disagreement;
    progression on both is a disagreement when the dates are *more than*
    ``pd_date_tolerance_days`` apart (a difference equal to the tolerance agrees).
    Death is clinical data shared by both reads, so it never enters this comparison.
``icpd_date``
    iRECIST only: the date of the iCPD confirming the progression block
    (``CriterionResult.progression.icpd_date``), same presence/tolerance rule with
    ``icpd_date_tolerance_days`` (defaults to ``pd_date_tolerance_days``).
``impfs_event``
    imRECIST only: whether the read has an imPFS event (``pfs.event``); a PD negated by
    the next assessment is no event (IM-PFS), so two reads can agree on "PD at week 8" and
    still disagree here.

Output is deterministic: criteria in charter order, variables in the fixed order above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from criteria.types import CRITERIA, IMRECIST, IRECIST, CriterionResult

BOR = "bor"
PD_DATE = "pd_date"
ICPD_DATE = "icpd_date"
IMPFS_EVENT = "impfs_event"
#: Every supported adjudication variable, in the order disagreements are reported.
VARIABLES: tuple[str, ...] = (BOR, PD_DATE, ICPD_DATE, IMPFS_EVENT)
#: Variables that exist for one criterion only.
VARIABLE_CRITERION: Mapping[str, str] = {ICPD_DATE: IRECIST, IMPFS_EVENT: IMRECIST}

#: Overall-response codes that mean progression, per criterion (CDISC RS controlled terms).
PROGRESSION_CODES: Mapping[str, frozenset[str]] = {
    IRECIST: frozenset({"iUPD", "iCPD"}),
}
_DEFAULT_PROGRESSION_CODES = frozenset({"PD"})


class RulesError(ValueError):
    """The charter's adjudication rules JSON is malformed (an invalid charter, not a read problem)."""


@dataclass(frozen=True)
class AdjudicationRules:
    """The machine-readable adjudication part of a charter.

    ``criteria`` empty means "every criterion both reads were evaluated under".
    """

    variables: tuple[str, ...]
    pd_date_tolerance_days: int = 0
    icpd_date_tolerance_days: int = 0
    criteria: tuple[str, ...] = ()
    bor_confirmed: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], *, bor_confirmed_default: bool = False) -> AdjudicationRules:
        """Validate and parse ``Charter.adjudication_rules``.

        Raises :class:`RulesError` on unknown variables or criteria, negative or non-integer
        tolerances, or a criterion-specific variable whose criterion is excluded by ``criteria``.
        """
        if not isinstance(raw, Mapping):
            raise RulesError("adjudication rules must be a JSON object")
        unknown_keys = set(raw) - {
            "variables",
            "pd_date_tolerance_days",
            "icpd_date_tolerance_days",
            "criteria",
            "bor_confirmed",
        }
        if unknown_keys:
            raise RulesError(f"unknown adjudication rule keys: {sorted(unknown_keys)}")
        variables = raw.get("variables", [])
        if not isinstance(variables, list | tuple) or not all(isinstance(v, str) for v in variables):
            raise RulesError("variables must be a list of strings")
        unknown = [v for v in variables if v not in VARIABLES]
        if unknown:
            raise RulesError(f"unknown adjudication variables: {unknown}; supported: {list(VARIABLES)}")
        if len(set(variables)) != len(variables):
            raise RulesError("variables must not repeat")
        criteria = raw.get("criteria", [])
        if not isinstance(criteria, list | tuple) or not all(isinstance(c, str) for c in criteria):
            raise RulesError("criteria must be a list of strings")
        bad = [c for c in criteria if c not in CRITERIA]
        if bad:
            raise RulesError(f"unknown criteria: {bad}; supported: {list(CRITERIA)}")
        for variable, criterion in VARIABLE_CRITERION.items():
            if variable in variables and criteria and criterion not in criteria:
                raise RulesError(f"{variable} needs {criterion} among the adjudicated criteria")
        pd_tol = _tolerance(raw, "pd_date_tolerance_days", 0)
        icpd_tol = _tolerance(raw, "icpd_date_tolerance_days", pd_tol)
        bor_confirmed = raw.get("bor_confirmed", bor_confirmed_default)
        if not isinstance(bor_confirmed, bool):
            raise RulesError("bor_confirmed must be true or false")
        # Keep VARIABLES order so that output order never depends on how the charter lists them.
        return cls(
            variables=tuple(v for v in VARIABLES if v in variables),
            pd_date_tolerance_days=pd_tol,
            icpd_date_tolerance_days=icpd_tol,
            criteria=tuple(criteria),
            bor_confirmed=bor_confirmed,
        )


def _tolerance(raw: Mapping[str, Any], key: str, default: int) -> int:
    value: object = raw.get(key, default)
    # bool is an int subclass; "true days" is a charter typo, not a tolerance.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesError(f"{key} must be a non-negative integer number of days")
    return value


@dataclass(frozen=True)
class Disagreement:
    """One point of disagreement between Read A and Read B.

    Values are display strings (``None`` when the read has no such value, e.g. no
    progression), so the record is JSON-ready for the case row and the side-by-side view.
    """

    criterion: str
    variable: str
    value_a: str | None
    value_b: str | None
    detail: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "criterion": self.criterion,
            "variable": self.variable,
            "value_a": self.value_a,
            "value_b": self.value_b,
            "detail": self.detail,
        }


def first_progression_date(result: CriterionResult) -> dt.date | None:
    """The date of the first timepoint whose overall response is a progression code."""
    codes = PROGRESSION_CODES.get(result.criterion, _DEFAULT_PROGRESSION_CODES)
    for tp in result.timepoints:
        if tp.overall in codes:
            return tp.progression_date or tp.date
    return None


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


def _compare_dates(
    criterion: str,
    variable: str,
    label: str,
    a: dt.date | None,
    b: dt.date | None,
    tolerance: int,
) -> Disagreement | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        which = "B" if a is None else "A"
        return Disagreement(criterion, variable, _iso(a), _iso(b), f"{label} on Read {which} only")
    days = abs((a - b).days)
    if days <= tolerance:
        return None
    return Disagreement(
        criterion,
        variable,
        _iso(a),
        _iso(b),
        f"{label} dates differ by {days} days (tolerance {tolerance})",
    )


def _criteria_in_scope(
    rules: AdjudicationRules,
    a: Mapping[str, CriterionResult],
    b: Mapping[str, CriterionResult],
) -> list[str]:
    scope = list(rules.criteria) if rules.criteria else [c for c in CRITERIA if c in a or c in b]
    present: list[str] = []
    for criterion in scope:
        in_a, in_b = criterion in a, criterion in b
        if in_a != in_b:
            # Both reads are evaluated under the same charter; a criterion on one side only
            # is a programming error upstream, not a clinical disagreement.
            raise ValueError(f"{criterion} was evaluated for one read only")
        if in_a:
            present.append(criterion)
    return present


def compare_results(
    a: Mapping[str, CriterionResult],
    b: Mapping[str, CriterionResult],
    rules: AdjudicationRules,
) -> list[Disagreement]:
    """Every disagreement between Read A (``a``) and Read B (``b``) on the charter's
    adjudication variables; ``[]`` when the reads are concordant."""
    out: list[Disagreement] = []
    for criterion in _criteria_in_scope(rules, a, b):
        ra, rb = a[criterion], b[criterion]
        for variable in rules.variables:
            if VARIABLE_CRITERION.get(variable, criterion) != criterion:
                continue
            found = _compare_variable(criterion, variable, ra, rb, rules)
            if found is not None:
                out.append(found)
    return out


def _compare_variable(
    criterion: str,
    variable: str,
    ra: CriterionResult,
    rb: CriterionResult,
    rules: AdjudicationRules,
) -> Disagreement | None:
    if variable == BOR:
        field = "bor_confirmed" if rules.bor_confirmed else "bor"
        va, vb = getattr(ra, field), getattr(rb, field)
        if va == vb:
            return None
        kind = "confirmed best overall response" if rules.bor_confirmed else "best overall response"
        return Disagreement(criterion, BOR, va, vb, f"{kind}: {va or 'none'} vs {vb or 'none'}")
    if variable == PD_DATE:
        return _compare_dates(
            criterion,
            PD_DATE,
            "progression",
            first_progression_date(ra),
            first_progression_date(rb),
            rules.pd_date_tolerance_days,
        )
    if variable == ICPD_DATE:
        ia = ra.progression.icpd_date if ra.progression else None
        ib = rb.progression.icpd_date if rb.progression else None
        return _compare_dates(criterion, ICPD_DATE, "iCPD", ia, ib, rules.icpd_date_tolerance_days)
    # IMPFS_EVENT
    ea, eb = ra.pfs.event, rb.pfs.event
    if ea == eb:
        return None
    return Disagreement(
        criterion,
        IMPFS_EVENT,
        _yes_no(ea),
        _yes_no(eb),
        f"imPFS event on Read {'A' if ea else 'B'} only",
    )


def _yes_no(flag: bool) -> str:
    return "Y" if flag else "N"


def variables_of(disagreements: Sequence[Disagreement]) -> list[str]:
    """The distinct triggering variables, in :data:`VARIABLES` order (for case summaries)."""
    seen = {d.variable for d in disagreements}
    return [v for v in VARIABLES if v in seen]
