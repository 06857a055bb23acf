"""The charter's criteria on one read, each on its own: a criterion whose input the read does
not carry (irRC without perpendicular diameters, the PERCIST family without PET, itRECIST
without injected flags) is reported as not evaluable, and the other criteria still are.

Pure Python (no Django). ``criteria.evaluate.evaluate`` stops at the first criterion that
cannot be evaluated (:class:`~criteria.errors.InputError`); the common case, every criterion
evaluable, still takes one call (one shared lesion cache); only a failure is retried
criterion by criterion, so the results of the evaluable criteria are exactly what the single
call would give.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from criteria.errors import CriteriaError
from criteria.evaluate import evaluate, run_analyses
from criteria.types import CriterionResult, ExtraValue, Subject


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """``results``: the criteria that were evaluated, in the order asked; ``errors``: the
    engine's message for each one that was not; ``analyses``: the growth-family analyses
    asked for, on the evaluated criteria (``analyses_error`` when they could not run)."""

    results: Mapping[str, CriterionResult]
    errors: Mapping[str, str]
    analyses: Mapping[str, ExtraValue] = dataclasses.field(default_factory=dict)
    analyses_error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.analyses_error)


def evaluate_each(subject: Subject, criteria: Sequence[str], analyses: Sequence[str] = ()) -> Evaluation:
    """Every criterion of ``criteria`` that ``subject`` can be evaluated under, and the
    ``analyses`` (none by default: an empty tuple, never the engine's input-driven default)."""
    try:
        result = evaluate(subject, criteria, analyses=tuple(analyses))
    except CriteriaError:
        pass  # some criterion (or analysis) cannot be evaluated: find which, below
    else:
        return Evaluation(dict(result.results), {}, dict(result.analyses))
    results: dict[str, CriterionResult] = {}
    errors: dict[str, str] = {}
    for criterion in criteria:
        try:
            results[criterion] = evaluate(subject, [criterion], analyses=()).results[criterion]
        except CriteriaError as exc:
            errors[criterion] = str(exc)
    if not analyses:
        return Evaluation(results, errors)
    try:
        return Evaluation(results, errors, run_analyses(subject, tuple(analyses), results, None))
    except CriteriaError as exc:
        return Evaluation(results, errors, {}, str(exc))
