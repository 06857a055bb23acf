"""Adjudication through the real services: triggers per charter variable, agreement,
re-triggering after unlock, assignment, the signed decision and the accepted read.

Responses used (baseline sum 100 mm: T1 50, T2 30, node T3 20):
SD = 77 mm (-23 %), PR = 60 mm (-40 %), PD = 125 mm (+25 %, +25 mm), PD2 = 135 mm.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import (
    followup_values,
    make_subject_with_reads,
    save_baseline,
    save_followup,
    sign,
)
from tests.factories import PASSWORD, UserFactory
from trialreads.choices import AcceptanceBasis, AdjudicationStatus, AuditEventType, TrialRole
from trialreads.errors import Conflict, NotFound, PermissionDenied, ValidationError
from trialreads.models import AcceptedRead, AdjudicationCase, AuditEvent, Read, Trial
from trialreads.services import adjudication as adj
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services
from trialreads.services.audit import verify_chain

pytestmark = pytest.mark.django_db

SD = ("40.0", "25.0", "12.0")
PR = ("30.0", "20.0", "10.0")
PD = ("70.0", "35.0", "20.0")
PD2 = ("75.0", "40.0", "20.0")


def make_trial(
    manager: Any, readers: tuple[Any, Any], adjudicators: list[Any], rules: dict[str, Any],
    code: str = "ADJ-001", criteria: tuple[str, ...] = ("recist1.1", "irecist", "imrecist"),
) -> Trial:
    trial = trial_services.trial_create(
        code=code, title="Adjudication trial", actor=manager,
        charter={"criteria": list(criteria), "adjudication_rules": rules},
        effective_from=dt.date(2025, 1, 1),
    )
    for role, users in ((TrialRole.READER, readers), (TrialRole.ADJUDICATOR, adjudicators)):
        for user in users:
            trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=manager)
    return trial


def step(tw: Any, read: Read, actor: Any, index: int, values: tuple[str, str, str] = SD,
         new_lesion: bool = False) -> None:
    """Save and sign timepoint ``index`` of ``read`` (0 = baseline)."""
    tr = tw.tr(read, index)
    if index == 0:
        save_baseline(tr, actor)
    else:
        new = (read_services.NewLesionInput(code=f"N{index}", organ="liver", value_mm=None,
                                            measurable=False),) if new_lesion else ()
        save_followup(tr, actor, targets=followup_values(*values), new_lesions=new)
    sign(tw.tr(read, index), actor)


def both(tw: Any, readers: tuple[Any, Any], index: int, a: tuple[str, str, str] = SD,
         b: tuple[str, str, str] = SD) -> None:
    step(tw, tw.read_a, readers[0], index, a)
    step(tw, tw.read_b, readers[1], index, b)


def cases(tw: Any) -> list[AdjudicationCase]:
    return list(AdjudicationCase.objects.filter(subject=tw.subject).order_by("cycle"))


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return reader_a, reader_b


def setup(manager: Any, readers: tuple[Any, Any], adjudicator: Any, rules: dict[str, Any],
          followups: int = 2) -> Any:
    trial = make_trial(manager, readers, [adjudicator], rules)
    return make_subject_with_reads(trial, manager, readers, followups=followups)


# --- triggers ----------------------------------------------------------------------------------

def test_agreement_opens_no_case_and_accepts_read_1_by_rule(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor", "pd_date", "icpd_date", "impfs_event"]})
    both(tw, readers, 0)
    both(tw, readers, 1, SD, SD)
    both(tw, readers, 2, SD, SD)
    assert cases(tw) == []
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.RULE and accepted.read == tw.read_a
    assert accepted.summary["1"]["bor"] == "SD" == accepted.summary["2"]["bor"]
    # One acceptance event (baseline comparison); later concordant comparisons change nothing.
    assert AuditEvent.objects.filter(event_type=AuditEventType.READ_ACCEPTED).count() == 1


def test_no_comparison_until_both_signed_the_same_timepoints(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"], "bor_confirmed": False})
    step(tw, tw.read_a, readers[0], 0)
    assert not AcceptedRead.objects.filter(subject=tw.subject).exists()
    step(tw, tw.read_b, readers[1], 0)
    step(tw, tw.read_a, readers[0], 1, PR)  # A is one timepoint ahead: no comparison yet
    assert cases(tw) == []
    step(tw, tw.read_b, readers[1], 1, SD)
    [case] = cases(tw)
    assert case.variables == ["bor"]


def test_bor_trigger(manager: Any, readers: tuple[Any, Any], adjudicator: Any) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"], "bor_confirmed": False})
    both(tw, readers, 0)
    both(tw, readers, 1, PR, SD)
    [case] = cases(tw)
    assert case.status == AdjudicationStatus.OPEN and case.cycle == 1
    # Slot 1 read PR; slot 2 read SD at week 6, which is 38 days after randomisation, short
    # of the 42-day SD minimum, so its BOR is NE. Every charter criterion disagrees.
    by_label = {case.label_for_slot(1): "PR", case.label_for_slot(2): "NE"}
    assert [(d["criterion"], d["variable"], d["value_a"], d["value_b"]) for d in case.disagreements] == [
        ("recist1.1", "bor", by_label["A"], by_label["B"]),
        ("irecist", "bor", "i" + by_label["A"] if by_label["A"] == "PR" else "NE",
         "i" + by_label["B"] if by_label["B"] == "PR" else "NE"),
        ("imrecist", "bor", by_label["A"], by_label["B"]),
    ]
    assert case.adjudicator == adjudicator and case.assigned_at is not None
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.PENDING and accepted.read is None and accepted.case == case
    created = AuditEvent.objects.get(event_type=AuditEventType.ADJUDICATION_CREATED)
    # Attributed to the system, not to the reader whose signature triggered it.
    assert created.actor_id is None and created.actor_username == adj.SYSTEM_ACTOR
    assert AuditEvent.objects.filter(event_type=AuditEventType.ADJUDICATION_ASSIGNED).count() == 1


def test_confirmed_bor_is_compared_when_the_charter_requires_confirmation(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    # Week 6: A PR, B SD. Neither is confirmed and SD is not yet 42 days from randomisation,
    # so both confirmed BORs are NE: no case. Week 12 confirms A's PR: case.
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PR, SD)
    assert cases(tw) == []
    both(tw, readers, 2, PR, SD)
    [case] = cases(tw)
    assert {case.disagreements[0]["value_a"], case.disagreements[0]["value_b"]} == {"PR", "SD"}
    assert case.disagreements[0]["detail"].startswith("confirmed best overall response")


def test_pd_date_trigger_and_supersession_when_the_disagreement_changes(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["pd_date"], "pd_date_tolerance_days": 7,
                                               "criteria": ["recist1.1"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PD, SD)  # PD on slot 1 only
    [first] = cases(tw)
    [d] = first.disagreements
    assert d["variable"] == "pd_date"
    assert d["detail"] == f"progression on Read {first.label_for_slot(1)} only"
    # Week 12: B progresses too, 42 days later than A: a different disagreement -> new case.
    both(tw, readers, 2, PD2, PD)
    first.refresh_from_db()
    assert first.status == AdjudicationStatus.VOIDED
    assert first.void_reason.startswith("superseded")
    second = cases(tw)[1]
    assert second.cycle == 2 and second.status == AdjudicationStatus.OPEN
    [d2] = second.disagreements
    assert d2["detail"] == "progression dates differ by 42 days (tolerance 7)"


def test_pd_date_within_tolerance_is_agreement(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    # Both progress at week 6 (same scans): 0 days apart.
    tw = setup(manager, readers, adjudicator, {"variables": ["pd_date"], "pd_date_tolerance_days": 0})
    both(tw, readers, 0)
    both(tw, readers, 1, PD, PD2)
    assert cases(tw) == []


def test_icpd_date_trigger(manager: Any, readers: tuple[Any, Any], adjudicator: Any) -> None:
    # Both iUPD at week 6 (+25 %); at week 12 A sees a further +10 mm (iCPD), B no change.
    tw = setup(manager, readers, adjudicator, {"variables": ["icpd_date"], "criteria": ["irecist"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PD, PD)
    assert cases(tw) == []
    both(tw, readers, 2, PD2, PD)
    [case] = cases(tw)
    [d] = case.disagreements
    assert (d["criterion"], d["variable"]) == ("irecist", "icpd_date")
    assert d["detail"] == f"iCPD on Read {case.label_for_slot(1)} only"


def test_impfs_event_trigger(manager: Any, readers: tuple[Any, Any], adjudicator: Any) -> None:
    # Both PD at week 6; at week 12 (42 days later) A's PD is confirmed, B's is negated by SD.
    tw = setup(manager, readers, adjudicator, {"variables": ["impfs_event"], "criteria": ["imrecist"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PD, PD)
    assert cases(tw) == []
    both(tw, readers, 2, PD2, SD)
    [case] = cases(tw)
    [d] = case.disagreements
    assert (d["criterion"], d["variable"]) == ("imrecist", "impfs_event")
    by_slot = {case.a_slot: d["value_a"], case.b_slot: d["value_b"]}
    assert by_slot == {1: "Y", 2: "N"}


def test_same_disagreement_at_a_later_timepoint_keeps_the_open_case(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"], "bor_confirmed": False,
                                               "criteria": ["recist1.1"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    both(tw, readers, 2, PR, PD2)  # still PR vs PD
    [case] = cases(tw)
    assert case.status == AdjudicationStatus.OPEN


def test_charter_rules_are_validated_at_publish(manager: Any) -> None:
    with pytest.raises(ValidationError) as err:
        trial_services.trial_create(
            code="BAD-1", title="t", actor=manager, charter={"adjudication_rules": {"variables": ["orr"]}}
        )
    assert err.value.field == "adjudication_rules.variables"


# --- decision ----------------------------------------------------------------------------------

@pytest.fixture
def open_case(manager: Any, readers: tuple[Any, Any], adjudicator: Any) -> tuple[Any, AdjudicationCase]:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"], "bor_confirmed": False,
                                               "criteria": ["recist1.1"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PR, SD)
    return tw, cases(tw)[0]


def decide(case: AdjudicationCase, actor: Any, chosen: str = "A", password: str = PASSWORD,
           rationale: str = "Target T1 remeasured: the decrease is real.") -> AdjudicationCase:
    return adj.adjudication_decide(case_id=case.pk, chosen=chosen, rationale=rationale, password=password,
                                   printed_name=actor.get_full_name(), actor=actor)


def test_decide_signs_and_sets_the_accepted_read(open_case: Any, adjudicator: Any) -> None:
    tw, case = open_case
    decided = decide(case, adjudicator, "B")
    assert decided.status == AdjudicationStatus.DECIDED
    assert decided.chosen_slot == case.b_slot and decided.signed_at is not None
    assert len(decided.content_sha256) == 64
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.ADJUDICATION
    assert accepted.read.slot == case.b_slot and accepted.case == decided
    event = AuditEvent.objects.get(event_type=AuditEventType.ADJUDICATION_DECIDED)
    assert event.actor_id == adjudicator.pk and event.after["chosen"] == "B"
    assert verify_chain(tw.trial.chain_id).ok
    with pytest.raises(Conflict):
        decide(case, adjudicator, "A")


def test_decide_wrong_password_is_refused_and_audited(open_case: Any, adjudicator: Any) -> None:
    _, case = open_case
    with pytest.raises(PermissionDenied):
        decide(case, adjudicator, password="wrong")
    failed = AuditEvent.objects.get(event_type=AuditEventType.SIGN_FAILED)
    assert failed.object_type == "adjudication_case" and failed.reason == "wrong password"
    case.refresh_from_db()
    assert case.status == AdjudicationStatus.OPEN


def test_decide_lockout_after_repeated_failures(open_case: Any, adjudicator: Any) -> None:
    _, case = open_case
    for _ in range(5):
        with pytest.raises(PermissionDenied):
            decide(case, adjudicator, password="wrong")
    with pytest.raises(PermissionDenied, match="locked"):
        decide(case, adjudicator)


def test_decide_validation(open_case: Any, adjudicator: Any) -> None:
    _, case = open_case
    with pytest.raises(ValidationError) as err:
        decide(case, adjudicator, chosen="C", rationale=" ")
    assert set(err.value.errors) == {"chosen", "rationale"}


def test_only_the_assigned_adjudicator_decides(
    open_case: Any, manager: Any, reader_a: Any
) -> None:
    tw, case = open_case
    other = UserFactory(username="adjudicator2")
    trial_services.membership_add(trial_id=tw.trial.pk, user_id=other.pk, role=TrialRole.ADJUDICATOR,
                                  actor=manager)
    with pytest.raises(NotFound):  # not their case: invisible
        decide(case, other)
    with pytest.raises(PermissionDenied):  # the manager sees it but may not adjudicate
        decide(case, manager)
    with pytest.raises(NotFound):
        decide(case, reader_a)
    # The manager reassigns it; now the second adjudicator decides.
    adj.adjudication_assign(case_id=case.pk, adjudicator_id=other.pk, actor=manager)
    assert decide(case, other).status == AdjudicationStatus.DECIDED


def test_assignment_never_picks_a_reader_and_balances_load(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    second = UserFactory(username="adjudicator2")
    trial = make_trial(manager, readers, [adjudicator, second], {"variables": ["bor"], "bor_confirmed": False,
                                                                 "criteria": ["recist1.1"]})
    assigned = []
    for code in ("S-1", "S-2", "S-3"):
        tw = make_subject_with_reads(trial, manager, readers, code=code, followups=1)
        both(tw, readers, 0)
        both(tw, readers, 1, PR, SD)
        assigned.append(cases(tw)[0].adjudicator_id)
    lo, hi = sorted([adjudicator.pk, second.pk])
    assert assigned == [lo, hi, lo]
    case = AdjudicationCase.objects.first()
    assert case is not None
    with pytest.raises(ValidationError):
        adj.adjudication_assign(case_id=case.pk, adjudicator_id=readers[0].pk, actor=manager)


def test_no_adjudicator_leaves_the_case_unassigned(manager: Any, readers: tuple[Any, Any]) -> None:
    trial = make_trial(manager, readers, [], {"variables": ["bor"], "bor_confirmed": False})
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, SD)
    [case] = cases(tw)
    assert case.adjudicator is None


# --- unlock and re-trigger -------------------------------------------------------------------------

def unlock(tw: Any, read: Read, index: int, manager: Any) -> None:
    read_services.timepoint_read_unlock(timepoint_read_id=tw.tr(read, index).pk, reason="query from QC",
                                        actor=manager)


def test_retrigger_after_unlock_and_change(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"], "bor_confirmed": False,
                                               "criteria": ["recist1.1"]})
    both(tw, readers, 0)
    both(tw, readers, 1, SD, SD)
    assert cases(tw) == []
    unlock(tw, tw.read_b, 1, manager)
    step(tw, tw.read_b, readers[1], 1, PR)  # B changes its week-6 read to PR and re-signs
    [case] = cases(tw)
    assert case.status == AdjudicationStatus.OPEN
    assert AcceptedRead.objects.get(subject=tw.subject).basis == AcceptanceBasis.PENDING


def test_unlock_and_resign_unchanged_keeps_the_case(
    open_case: Any, manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw, case = open_case
    unlock(tw, tw.read_a, 1, manager)
    # While the read is open, the adjudicator cannot decide on it.
    with pytest.raises(Conflict, match="reopened"):
        decide(case, adjudicator)
    sign(tw.tr(tw.read_a, 1), readers[0])  # re-signed without change
    assert cases(tw) == [case]
    case.refresh_from_db()
    assert case.status == AdjudicationStatus.OPEN
    assert decide(case, adjudicator).status == AdjudicationStatus.DECIDED


def test_change_after_decision_voids_it_and_reevaluates(
    open_case: Any, manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw, case = open_case
    decide(case, adjudicator, "A")
    unlock(tw, tw.read_b, 1, manager)
    step(tw, tw.read_b, readers[1], 1, PR)  # B now agrees with A
    case.refresh_from_db()
    assert case.status == AdjudicationStatus.VOIDED
    assert case.void_reason == "a compared read was unlocked and changed"
    assert case.chosen_slot is not None  # the voided decision keeps what was decided
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.RULE and accepted.read == tw.read_a
    voided = AuditEvent.objects.get(event_type=AuditEventType.ADJUDICATION_VOIDED)
    assert voided.before["status"] == AdjudicationStatus.DECIDED
    assert verify_chain(tw.trial.chain_id).ok


def test_change_after_decision_with_a_new_disagreement_opens_cycle_2(
    open_case: Any, manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw, case = open_case
    decide(case, adjudicator, "A")
    unlock(tw, tw.read_b, 1, manager)
    step(tw, tw.read_b, readers[1], 1, PD)
    first, second = cases(tw)
    assert first.status == AdjudicationStatus.VOIDED
    assert (second.cycle, second.status) == (2, AdjudicationStatus.OPEN)


def test_decided_disagreement_persisting_at_the_next_timepoint_keeps_the_decision(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"], "bor_confirmed": False,
                                               "criteria": ["recist1.1"]})
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    [case] = cases(tw)
    decide(case, adjudicator, "A")
    both(tw, readers, 2, PR, PD2)  # still PR vs PD: already adjudicated
    assert cases(tw) == [case]
    assert AcceptedRead.objects.get(subject=tw.subject).basis == AcceptanceBasis.ADJUDICATION


def test_decided_case_cannot_be_edited_or_deleted(open_case: Any, adjudicator: Any) -> None:
    _, case = open_case
    decided = decide(case, adjudicator)
    decided.rationale = "changed my mind"
    with pytest.raises(Conflict):
        decided.save()
    with pytest.raises(Conflict):
        decided.delete()


def test_engine_failure_does_not_fail_the_signature(
    manager: Any, readers: tuple[Any, Any], adjudicator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = setup(manager, readers, adjudicator, {"variables": ["bor"]})
    step(tw, tw.read_a, readers[0], 0)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine exploded on the other read")

    monkeypatch.setattr(adj, "evaluate_each", boom)
    step(tw, tw.read_b, readers[1], 0)  # no exception reaches reader B
    assert tw.tr(tw.read_b, 0).locked
    failed = AuditEvent.objects.get(event_type=AuditEventType.ADJUDICATION_EVALUATION_FAILED)
    assert failed.after["error"] == "RuntimeError"
    monkeypatch.undo()
    # The manager re-runs the evaluation.
    state = adj.adjudication_reevaluate(subject_id=tw.subject.pk, actor=manager)
    assert state is not None and state.basis == AcceptanceBasis.RULE
    with pytest.raises(PermissionDenied):
        adj.adjudication_reevaluate(subject_id=tw.subject.pk, actor=adjudicator)


def test_charter_change_then_reevaluation_applies_the_new_rules(
    open_case: Any, manager: Any
) -> None:
    tw, case = open_case  # PR vs NE on BOR
    trial_services.charter_publish(
        trial_id=tw.trial.pk, changes={"adjudication_rules": {"variables": ["pd_date"]}},
        effective_from=dt.date(2025, 6, 1), reason="BOR no longer adjudicated", actor=manager,
    )
    state = adj.adjudication_reevaluate(subject_id=tw.subject.pk, actor=manager)
    assert state is not None and state.basis == AcceptanceBasis.RULE
    case.refresh_from_db()
    assert case.status == AdjudicationStatus.VOIDED and case.void_reason == "the reads are now concordant"
    voided = AuditEvent.objects.get(event_type=AuditEventType.ADJUDICATION_VOIDED)
    assert voided.actor_id == manager.pk
    # Re-running on the same state and charter changes nothing.
    events = AuditEvent.objects.count()
    adj.adjudication_reevaluate(subject_id=tw.subject.pk, actor=manager)
    assert AuditEvent.objects.count() == events
