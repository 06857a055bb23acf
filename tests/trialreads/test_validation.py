"""``trialreads.validation``: one path format from the shape rules and from criteria's rules,
written one way (``path_text``) and placed on the web form one way (``field_id``). No database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from criteria.lesions import TSTM_MM
from criteria.types import Baseline, BaselineNonTarget, BaselineTarget
from trialreads import validation
from trialreads.errors import FieldProblem, ValidationError, path_text
from trialreads.services.reads import NewLesionInput, NonTargetInput, TargetInput, TargetValueInput
from trialreads.web.forms import NON_FIELD, BaselineForm, FollowupForm

D = Decimal


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("targets", 2, "value_mm"), "targets[2].value_mm"),
        (("targets", 0, "fragments_mm", 1), "targets[0].fragments_mm[1]"),
        (("non_targets", "NT1"), "non_targets.NT1"),
        (("targets",), "targets"),
        ((), "non_field_errors"),
    ],
)
def test_path_text(path: tuple[str | int, ...], text: str) -> None:
    assert path_text(path) == text


@pytest.mark.parametrize(
    ("field", "index", "path"),
    [
        ("@.targets[2].mm", None, ("targets", 2, "value_mm")),
        ("@.non_targets[0].id", None, ("non_targets", 0, "code")),
        ("@.targets", None, ("targets",)),
        ("@.targets.T2", {"T1": 0, "T2": 1}, ("targets", 1)),
        ("@.targets.T2.fragments_mm[1]", {"T2": 1}, ("targets", 1, "fragments_mm", 1)),
        ("@.targets.T9", {"T1": 0}, ("targets", "T9")),  # not submitted: keyed by its code
        ("@.non_targets.NT2", {"T1": 0}, ("non_targets", "NT2")),
        ("@.new_lesions[0].id", {}, ("new_lesions", 0, "code")),
    ],
)
def test_criteria_paths_become_product_paths(
    field: str, index: dict[str, int] | None, path: tuple[str | int, ...]
) -> None:
    assert validation._from_criteria_field(field, index) == path


def test_too_small_to_measure_is_the_engines_value() -> None:
    assert validation.TOO_SMALL_MM == TSTM_MM == D("5.0")
    stored = validation.target_stored_mm(TargetValueInput(code="T1", state="TOO_SMALL"))
    assert str(stored) == "5.0"
    [problem] = validation.followup_problems(
        [TargetValueInput(code="T1", state="TOO_SMALL", value_mm=D("4.0"))], {}, []
    )
    message = "too small to measure counts as 5 mm; leave it empty"
    assert problem == FieldProblem(("targets", 0, "value_mm"), message)


def test_baseline_shape_and_selection_problems_together() -> None:
    problems = validation.baseline_problems(
        [
            TargetInput(code="T1", organ="liver", value_mm=D("8")),
            TargetInput(code="T2", organ="liver", value_mm=D("20.0")),
            TargetInput(code="T3", organ="liver", value_mm=D("20.0")),
        ],
        [NonTargetInput(code="T1", organ="bone")],
    )
    by_path = {p.path: p.message for p in problems}
    assert by_path[("non_targets", 0, "code")] == "duplicate lesion code T1"  # once, not twice
    assert [p.path for p in problems].count(("non_targets", 0, "code")) == 1
    assert "8.0 mm is not measurable" in by_path[("targets", 0, "value_mm")]  # as stored (0.1 mm)
    assert "at most 2 per organ" in by_path[("targets",)]


def test_a_bad_diameter_holds_back_the_selection_rules() -> None:
    problems = validation.baseline_problems(
        [TargetInput(code="T1", organ="liver", value_mm=D("8.25"))], []
    )
    assert problems == [FieldProblem(("targets", 0, "value_mm"), "at most one decimal place (0.1 mm)")]


def _context(recorded: dict[str, validation.RecordedLesion] | None = None) -> validation.FollowupContext:
    baseline = Baseline(
        date=dt.date(2025, 1, 1),
        targets=(
            BaselineTarget("T1", "liver", False, D("50.0")),
            BaselineTarget("T2", "lung", False, D("30.0")),
        ),
        non_targets=(BaselineNonTarget("NT1", "bone", False),),
    )
    return validation.FollowupContext(baseline, dt.date(2025, 3, 1), sequence=2, recorded=recorded or {})


def test_followup_against_the_baseline() -> None:
    problems = validation.followup_problems(
        [TargetValueInput(code="T1", value_mm=D("40.0")), TargetValueInput(code="T9", value_mm=D("4.0"))],
        {},
        [NewLesionInput(code="N1", organ="liver", value_mm=D("10.0"))],
        _context({"N1": validation.RecordedLesion("NEW", "liver", False, first_sequence=3)}),
    )
    assert [(p.field, p.message) for p in problems] == [
        ("targets.T2", "missing: every baseline target needs a value"),
        ("non_targets.NT1", "missing: every baseline non-target needs a rating"),
        ("targets[1]", "unknown target lesion T9 (not a baseline target id)"),
        ("new_lesions[0].code", "N1 is first recorded at a later timepoint"),
    ]


def test_followup_without_context_is_the_shape_rules_only() -> None:
    targets = [TargetValueInput(code="T9", value_mm=D("4.0"))]
    assert validation.followup_problems(targets, {}, []) == []
    assert validation.followup_problems(targets, {}, [], _context()) != []


def test_new_lesion_kept_in_its_organ() -> None:
    recorded = {"N1": validation.RecordedLesion("NEW", "liver", False, first_sequence=1)}
    problems = validation.followup_problems(
        [TargetValueInput(code="T1", value_mm=D("40.0")), TargetValueInput(code="T2", value_mm=D("20.0"))],
        {"NT1": "present"},
        [NewLesionInput(code="N1", organ="lung", value_mm=D("10.0"))],
        _context(recorded),
    )
    assert problems == [FieldProblem(("new_lesions", 0, "organ"), "N1 was recorded earlier in another organ")]


def test_validation_error_carries_the_problems_and_the_written_paths() -> None:
    code = ("targets", 1, "code")
    error = ValidationError([FieldProblem(code, "a"), FieldProblem(code, "b")])
    assert error.errors == {"targets[1].code": ["a", "b"]}
    assert error.field == "targets[1].code" and str(error) == "targets[1].code: a"
    assert ValidationError("no", "reason").problems == (FieldProblem(("reason",), "no"),)
    with pytest.raises(ValueError):
        ValidationError([])


def test_form_field_ids() -> None:
    form = BaselineForm({})
    form.rows = {"targets": [0, 2], "non_targets": [1]}  # blank rows skipped when parsing
    assert form.field_id(("targets", 1, "value_mm")) == "targets-2-value_mm"
    assert form.field_id(("non_targets", 0, "code")) == "non_targets-1-code"
    assert form.field_id(("targets",)) == "targets"
    follow = FollowupForm({}, ["T1", "T2"], ["NT1"])
    assert follow.field_id(("targets", "T2")) == "targets-1-value_mm"
    assert follow.field_id(("targets", 1)) == "targets-1-code"  # the row itself (an unknown id)
    assert follow.field_id(("targets", 1, "fragments_mm", 0)) == "targets-1-fragments_mm"
    assert follow.field_id(("non_targets", "NT1")) == "non_targets-NT1"
    follow.place([FieldProblem(("targets", 0, "fragments_mm", 0), "x"), FieldProblem((), "y")])
    assert follow.errors[NON_FIELD] == ["targets[0].fragments_mm[0]: x", "y"]


def test_the_baseline_target_limit_follows_the_charter() -> None:
    """Without a charter RECIST 1.1's five (it was itRECIST's ten: six targets passed)."""
    charters = ((), ("recist1.1", "itrecist"), ("itrecist",), ("irrc",))
    assert [validation.baseline_target_limit(c) for c in charters] == [5, 5, 10, 15]
    six = [TargetInput(code=f"T{i}", organ=f"organ {i}", value_mm=Decimal("20.0")) for i in range(6)]
    assert [p.path for p in validation.baseline_problems(six, [])] == [("targets",)]
