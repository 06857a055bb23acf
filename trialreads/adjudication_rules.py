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
    timepoint whose overall response is a progression code of the criterion
    (:data:`PROGRESSION_CODES`: RECIST 1.1 / imRECIST ``PD``, iRECIST ``iUPD`` or ``iCPD``,
    irRC / irRECIST ``irPD``, PERCIST ``PMD``, iPERCIST ``UPMD`` or ``CPMD``...), dated at
    its ``progression_date`` (earliest scan) or, failing that, its assessment date.
    Progression on one read only is a disagreement; progression on both is a disagreement
    when the dates are *more than* ``pd_date_tolerance_days`` apart (a difference equal to
    the tolerance agrees).
    Death is clinical data shared by both reads, so it never enters this comparison.
``icpd_date``
    iRECIST (and itRECIST assessed by iRECIST) only: the date of the iCPD confirming the
    progression block (``CriterionResult.progression.icpd_date``), same presence/tolerance
    rule with ``icpd_date_tolerance_days`` (defaults to ``pd_date_tolerance_days``).
``impfs_event``
    imRECIST only: whether the read has an imPFS event (``pfs.event``); a PD negated by
    the next assessment is no event (IM-PFS), so two reads can agree on "PD at week 8" and
    still disagree here.

Which criteria each variable is compared under (``criteria`` in the rules JSON):

- absent or ``[]``: every variable under every criterion both reads were evaluated under
  (the charter's criteria);
- a list, ``["irecist", "recist1.1"]``: every variable under these criteria, in this order
  (the original shape, unchanged);
- an object, one entry per variable, naming one criterion or a list of them:
  ``{"bor": "irrc", "pd_date": ["irecist", "recist1.1"]}`` (BOR by irRC, progression
  date by iRECIST and RECIST 1.1); a variable without an entry is compared under every
  criterion, as with no ``criteria`` at all. Each key must be one of ``variables``.

Every criterion of ``criteria.evaluate.AVAILABLE`` may be named; the charter service also
requires it to be one of the charter's criteria (``services.trials``).

Output is deterministic: criteria in the order the list shape gives them, else in the engine's
order (``AVAILABLE``); variables in the fixed order above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from criteria.endpoints import vocabulary
from criteria.evaluate import AVAILABLE
from criteria.types import IMRECIST, IRECIST, ITRECIST, CriterionResult

BOR = "bor"
PD_DATE = "pd_date"
ICPD_DATE = "icpd_date"
IMPFS_EVENT = "impfs_event"
#: Every supported adjudication variable, in the order disagreements are reported.
VARIABLES: tuple[str, ...] = (BOR, PD_DATE, ICPD_DATE, IMPFS_EVENT)
#: Variables that exist for some criteria only (iCPD: the iRECIST progression block, which
#: itRECIST has too when assessed by iRECIST, its default basis).
VARIABLE_CRITERIA: Mapping[str, tuple[str, ...]] = {ICPD_DATE: (IRECIST, ITRECIST), IMPFS_EVENT: (IMRECIST,)}


def _progression_codes(criterion: str) -> frozenset[str]:
    # The engine's own vocabulary (criteria.endpoints.vocabulary): PD (RECIST 1.1, imRECIST),
    # iUPD / iCPD (iRECIST), irPD (irRC, irRECIST), PMD (PERCIST, imPERCIST5, PERCIMT),
    # UPMD / CPMD (iPERCIST). itRECIST reports its basis criterion's codes: iRECIST's by
    # default, RECIST 1.1's with itrecist_overall_basis (criteria.itrecist.basis).
    if criterion == ITRECIST:
        return frozenset(vocabulary(IRECIST).pd) | frozenset(vocabulary("recist1.1").pd)
    return frozenset(vocabulary(criterion).pd)


#: Overall-response codes that mean progression, per criterion (CDISC RS controlled terms),
#: for every criterion the engine evaluates.
PROGRESSION_CODES: Mapping[str, frozenset[str]] = {c: _progression_codes(c) for c in AVAILABLE}
_DEFAULT_PROGRESSION_CODES = frozenset({"PD"})


class RulesError(ValueError):
    """The charter's adjudication rules JSON is malformed (an invalid charter, not a read
    problem). ``field`` is the path of the offending key inside the rules (``criteria.bor``),
    empty for the rules object as a whole."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AdjudicationRules:
    """The machine-readable adjudication part of a charter.

    ``criteria`` (the list shape) empty means "every criterion both reads were evaluated
    under"; ``by_variable`` (the object shape) names the criteria of single variables, the
    others following ``criteria``.
    """

    variables: tuple[str, ...]
    pd_date_tolerance_days: int = 0
    icpd_date_tolerance_days: int = 0
    criteria: tuple[str, ...] = ()
    bor_confirmed: bool = False
    by_variable: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def criteria_for(self, variable: str) -> tuple[str, ...]:
        """The criteria ``variable`` is compared under; ``()`` means every criterion evaluated."""
        return self.by_variable.get(variable, self.criteria)

    @property
    def named_criteria(self) -> tuple[str, ...]:
        """Every criterion the rules name, in the order they are first named."""
        named = [*self.criteria, *(c for v in self.variables for c in self.by_variable.get(v, ()))]
        return tuple(dict.fromkeys(named))

    def named_paths(self) -> list[tuple[str, str]]:
        """(path in the rules JSON, criterion) of every criterion named, for the charter's
        check that each is one of its criteria."""
        out = [(f"criteria[{i}]", c) for i, c in enumerate(self.criteria)]
        for variable, names in self.by_variable.items():
            out += [(f"criteria.{variable}", c) for c in names]
        return out

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
            keys = sorted(unknown_keys)
            raise RulesError(f"unknown adjudication rule keys: {keys}", keys[0])
        variables = raw.get("variables", [])
        if not isinstance(variables, list | tuple) or not all(isinstance(v, str) for v in variables):
            raise RulesError("variables must be a list of strings", "variables")
        unknown = [v for v in variables if v not in VARIABLES]
        if unknown:
            raise RulesError(
                f"unknown adjudication variables: {unknown}; supported: {list(VARIABLES)}", "variables"
            )
        if len(set(variables)) != len(variables):
            raise RulesError("variables must not repeat", "variables")
        criteria, by_variable = _criteria(raw.get("criteria", []), variables)
        for variable, allowed in VARIABLE_CRITERIA.items():
            scope = by_variable.get(variable, criteria)
            if variable in variables and scope and not set(scope) & set(allowed):
                where = f"criteria.{variable}" if variable in by_variable else "criteria"
                needs = " or ".join(allowed)
                raise RulesError(f"{variable} needs {needs} among the adjudicated criteria", where)
        pd_tol = _tolerance(raw, "pd_date_tolerance_days", 0)
        icpd_tol = _tolerance(raw, "icpd_date_tolerance_days", pd_tol)
        bor_confirmed = raw.get("bor_confirmed", bor_confirmed_default)
        if not isinstance(bor_confirmed, bool):
            raise RulesError("bor_confirmed must be true or false", "bor_confirmed")
        # Keep VARIABLES order so that output order never depends on how the charter lists them.
        return cls(
            variables=tuple(v for v in VARIABLES if v in variables),
            pd_date_tolerance_days=pd_tol,
            icpd_date_tolerance_days=icpd_tol,
            criteria=criteria,
            bor_confirmed=bor_confirmed,
            by_variable=by_variable,
        )


_CRITERIA_SHAPE = (
    "criteria must be a list of strings, or an object of variable -> criterion (or list of them)"
)


def _criterion_names(value: object, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(c, str) for c in names):
        raise RulesError(_CRITERIA_SHAPE, where)
    bad = [c for c in names if c not in AVAILABLE]
    if bad:
        raise RulesError(f"unknown criteria: {bad}; supported: {list(AVAILABLE)}", where)
    if len(set(names)) != len(names):
        raise RulesError("criteria must not repeat", where)
    return tuple(names)


def _criteria(value: object, variables: Sequence[str]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The ``criteria`` key: a list (every variable) or an object (per variable)."""
    if not isinstance(value, Mapping):
        if isinstance(value, str):
            raise RulesError(_CRITERIA_SHAPE, "criteria")
        return _criterion_names(value, "criteria"), {}
    by_variable: dict[str, tuple[str, ...]] = {}
    for variable, names in value.items():
        where = f"criteria.{variable}"
        if variable not in variables:
            raise RulesError(f"{variable!r} is not one of this charter's adjudication variables", where)
        by_variable[variable] = _criterion_names(names, where)
        if not by_variable[variable]:
            raise RulesError("name at least one criterion (or leave the variable out)", where)
    # VARIABLES order, whatever the order of the JSON object's keys
    return (), {v: by_variable[v] for v in VARIABLES if v in by_variable}


def _tolerance(raw: Mapping[str, Any], key: str, default: int) -> int:
    value: object = raw.get(key, default)
    # bool is an int subclass; "true days" is a charter typo, not a tolerance.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesError(f"{key} must be a non-negative integer number of days", key)
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
) -> list[tuple[str, tuple[str, ...]]]:
    """(criterion, its variables) in report order: the list shape's order, else the engine's
    criterion order (``criteria.evaluate.AVAILABLE``, charter order for the original three)."""
    evaluated = [c for c in AVAILABLE if c in a or c in b]
    scopes = {v: rules.criteria_for(v) or tuple(evaluated) for v in rules.variables}
    order = list(rules.criteria) + [c for c in AVAILABLE if c not in rules.criteria]
    present: list[tuple[str, tuple[str, ...]]] = []
    for criterion in order:
        variables = tuple(v for v in rules.variables if criterion in scopes[v])
        if not variables:
            continue
        in_a, in_b = criterion in a, criterion in b
        if in_a != in_b:
            # Both reads are evaluated under the same charter; a criterion on one side only
            # is a programming error upstream, not a clinical disagreement.
            raise ValueError(f"{criterion} was evaluated for one read only")
        if in_a:
            present.append((criterion, variables))
    return present


def compare_results(
    a: Mapping[str, CriterionResult],
    b: Mapping[str, CriterionResult],
    rules: AdjudicationRules,
) -> list[Disagreement]:
    """Every disagreement between Read A (``a``) and Read B (``b``) on the charter's
    adjudication variables; ``[]`` when the reads are concordant."""
    out: list[Disagreement] = []
    for criterion, variables in _criteria_in_scope(rules, a, b):
        ra, rb = a[criterion], b[criterion]
        for variable in variables:
            if criterion not in VARIABLE_CRITERIA.get(variable, (criterion,)):
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
