"""Adjudication triggers per criterion (issue 15 item 2) through the real services: the rules
name a criterion per variable, a charter criterion the reads cannot be evaluated under is
left out (unless the comparison needs it), and the accepted read keeps every criterion's
values for the reader metrics.

Values as in test_adjudication_service: SD = 77 mm (-23 %), PD = 125 mm (+25 %, +25 mm).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import make_subject_with_reads, save_baseline, sign
from tests.trialreads.services.test_adjudication_service import PD, SD, both, cases, make_trial
from trialreads.choices import AcceptanceBasis, AuditEventType
from trialreads.models import AcceptedRead, AuditEvent
from trialreads.selectors.adjudication import adjudication_side_by_side
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return reader_a, reader_b


def _setup(
    manager: Any, readers: Any, adjudicator: Any, rules: dict[str, Any], criteria: tuple[str, ...]
) -> Any:
    trial = make_trial(manager, readers, [adjudicator], rules, criteria=criteria)
    return make_subject_with_reads(trial, manager, readers, followups=1)


def test_each_variable_triggers_under_its_own_criterion(manager: Any, readers: Any, adjudicator: Any) -> None:
    rules = {
        "variables": ["bor", "pd_date"],
        "criteria": {"bor": "irrecist", "pd_date": "irecist"},
        "bor_confirmed": False,
    }
    tw = _setup(manager, readers, adjudicator, rules, ("recist1.1", "irecist", "irrecist"))
    both(tw, readers, 0)
    both(tw, readers, 1, PD, SD)
    [case] = cases(tw)
    # RECIST 1.1 disagrees too (PD vs NE) but the rules do not compare it.
    assert [(d["criterion"], d["variable"]) for d in case.disagreements] == [
        ("irecist", "pd_date"),
        ("irrecist", "bor"),
    ]
    by_slot = {case.label_for_slot(1): "A", case.label_for_slot(2): "B"}
    bor = case.disagreements[1]
    slot1 = bor["value_a"] if by_slot["A"] == "A" else bor["value_b"]
    assert slot1 == "irPD"
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.PENDING
    values = accepted.summary["criteria"]
    assert set(values) == {"recist1.1", "irecist", "irrecist"}
    assert values["irecist"]["1"]["pd_date"] == "2025-02-16" and values["irecist"]["2"]["pd_date"] is None
    assert values["irrecist"]["1"]["bor"] == "irPD"
    # The primary criterion's values stay at the top level (reader metrics, site vs central).
    assert accepted.summary["1"] == values["recist1.1"]["1"]


def _amend(tw: Any, manager: Any, criteria: tuple[str, ...], rules: dict[str, Any] | None = None) -> None:
    """Name irRC once the baselines are in: the read services refuse a baseline without its
    perpendicular diameters while the charter names irRC, so this is how such reads arise."""
    changes: dict[str, Any] = {"criteria": list(criteria)}
    if rules is not None:
        changes["adjudication_rules"] = rules
    trial_services.charter_publish(
        trial_id=tw.trial.pk, changes=changes, effective_from=dt.date(2025, 1, 1), actor=manager
    )


def test_a_criterion_the_reads_cannot_carry_is_left_out_and_named(
    manager: Any, readers: Any, adjudicator: Any
) -> None:
    tw = _setup(manager, readers, adjudicator, {"variables": ["bor", "pd_date"]}, ("recist1.1",))
    both(tw, readers, 0)
    _amend(tw, manager, ("recist1.1", "irrc"))
    both(tw, readers, 1, SD, SD)
    assert cases(tw) == []
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.RULE
    assert set(accepted.summary["criteria"]) == {"recist1.1"}
    assert "irRC needs the bidimensional measurement" in accepted.summary["not_evaluable"]["irrc"]
    assert not AuditEvent.objects.filter(event_type=AuditEventType.ADJUDICATION_EVALUATION_FAILED).exists()


def test_a_criterion_the_rules_name_must_be_evaluable(manager: Any, readers: Any, adjudicator: Any) -> None:
    rules = {"variables": ["bor"], "criteria": {"bor": "irrc"}}
    tw = _setup(manager, readers, adjudicator, {"variables": ["bor"]}, ("recist1.1",))
    save_baseline(tw.tr(tw.read_a, 0), readers[0])
    save_baseline(tw.tr(tw.read_b, 0), readers[1])
    _amend(tw, manager, ("recist1.1", "irrc"), rules)
    sign(tw.tr(tw.read_a, 0), readers[0])
    sign(tw.tr(tw.read_b, 0), readers[1])  # the signature stands; the evaluation failure is audited
    assert tw.tr(tw.read_b, 0).locked
    assert not AcceptedRead.objects.filter(subject=tw.subject).exists()
    failed = AuditEvent.objects.get(event_type=AuditEventType.ADJUDICATION_EVALUATION_FAILED)
    assert failed.after["error"] == "CriterionNotEvaluable"
    assert "irRC needs the bidimensional measurement" in failed.after["message"]


def test_the_side_by_side_view_names_the_criterion_it_cannot_evaluate(
    manager: Any, readers: Any, adjudicator: Any
) -> None:
    rules = {"variables": ["bor"], "bor_confirmed": False}
    tw = _setup(manager, readers, adjudicator, rules, ("recist1.1",))
    both(tw, readers, 0)
    _amend(tw, manager, ("recist1.1", "irrc"))
    both(tw, readers, 1, PD, SD)
    [case] = cases(tw)
    assert [d["criterion"] for d in case.disagreements] == ["recist1.1"]
    view = adjudication_side_by_side(user=adjudicator, case_id=case.pk)
    for read in view["reads"]:
        assert set(read["results"]) == {"recist1.1"}
        assert "irRC needs the bidimensional measurement" in read["not_evaluable"]["irrc"]
