"""T-BLIND-ADJ at the selector/service layer, the side-by-side view, and the reader metrics
computed from the database (hand-computed values, fixed query count)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import make_subject_with_reads
from tests.factories import UserFactory
from tests.trialreads.services.test_adjudication_service import PD, PR, SD, both, cases, decide, make_trial
from trialreads.choices import AuditEventType, TrialRole
from trialreads.errors import NotFound, PermissionDenied
from trialreads.models import AdjudicationCase, AuditEvent
from trialreads.selectors import adjudication as sel
from trialreads.selectors import reads as read_selectors
from trialreads.services import adjudication as adj
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db

RULES = {"variables": ["bor", "pd_date"], "bor_confirmed": False, "pd_date_tolerance_days": 7,
         "criteria": ["recist1.1"]}


@pytest.fixture
def team(manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any) -> dict[str, Any]:
    trial = make_trial(manager, (reader_a, reader_b), [adjudicator], RULES)
    trial_services.membership_add(trial_id=trial.pk, user_id=sponsor.pk, role=TrialRole.SPONSOR_VIEWER,
                                  actor=manager)
    return {"trial": trial, "readers": (reader_a, reader_b)}


def subject(team: dict[str, Any], manager: Any, code: str, a: Any, b: Any) -> Any:
    tw = make_subject_with_reads(team["trial"], manager, team["readers"], code=code, followups=1)
    both(tw, team["readers"], 0)
    both(tw, team["readers"], 1, a, b)
    return tw


# --- blinding ------------------------------------------------------------------------------------

def test_readers_sponsor_and_other_adjudicators_never_see_the_case(
    team: dict[str, Any], manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any
) -> None:
    tw = subject(team, manager, "S-1", PR, PD)
    [case] = cases(tw)
    other_adjudicator = UserFactory(username="adjudicator2")
    trial_services.membership_add(trial_id=tw.trial.pk, user_id=other_adjudicator.pk,
                                  role=TrialRole.ADJUDICATOR, actor=manager)
    missing = AdjudicationCase.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    denials = []
    for user in (reader_a, reader_b, sponsor, other_adjudicator):
        assert list(sel.adjudication_case_list(user=user)) == []
        for case_id in (case.pk, missing):
            with pytest.raises(NotFound) as err:
                sel.adjudication_side_by_side(user=user, case_id=case_id)
            # Same message for "exists but not yours" and "does not exist".
            assert str(err.value) == "Not found."
            denials.append(err.value.denial)
    # Each refusal carries its denial for the request's boundary to record (the gate writes none).
    expected = [("adjudication_case", case_id) for case_id in (case.pk, missing)] * 4
    assert [(d.object_type, d.object_id) for d in denials] == expected
    assert not AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED).exists()
    # The assigned adjudicator and the manager see it.
    assert list(sel.adjudication_case_list(user=adjudicator)) == [case]
    assert list(sel.adjudication_case_list(user=manager, trial_id=tw.trial.pk)) == [case]


def test_readers_never_see_the_other_read_or_the_outcome(
    team: dict[str, Any], manager: Any, reader_a: Any, adjudicator: Any
) -> None:
    tw = subject(team, manager, "S-1", PR, PD)
    [case] = cases(tw)
    decide(case, adjudicator, "A")
    assert [r.pk for r in read_selectors.read_list(user=reader_a)] == [tw.read_a.pk]
    with pytest.raises(NotFound):
        read_selectors.read_get(user=reader_a, read_id=tw.read_b.pk)
    with pytest.raises(PermissionDenied):
        sel.accepted_read_list(user=reader_a, trial_id=tw.trial.pk)
    with pytest.raises(PermissionDenied):
        sel.reader_metrics(user=reader_a, trial_id=tw.trial.pk)
    with pytest.raises(PermissionDenied):
        sel.reader_metrics(user=adjudicator, trial_id=tw.trial.pk)


def test_side_by_side_is_labelled_and_carries_no_reader_identity(
    team: dict[str, Any], manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    tw = subject(team, manager, "S-1", PR, PD)
    [case] = cases(tw)
    view = sel.adjudication_side_by_side(user=adjudicator, case_id=case.pk)
    assert [r["label"] for r in view["reads"]] == ["Read A", "Read B"]
    # Read A is the a_slot read: its week-6 T1 is the one that reader measured.
    t1 = {1: "30.0", 2: "70.0"}
    week6 = view["reads"][0]["timepoints"][1]
    assert str(week6["targets"][0]["value_mm"]) == t1[case.a_slot]
    assert view["reads"][0]["results"]["recist1.1"]["timepoints"][0]["overall"] == (
        "PR" if case.a_slot == 1 else "PD"
    )
    assert view["reads"][0]["results"]["recist1.1"]["timepoints"][0]["sum_mm"] is not None
    assert view["reads"][0]["results"]["recist1.1"]["why"]
    assert view["case"]["disagreements"] == case.disagreements
    text = json.dumps(view, default=str)
    for user in (reader_a, reader_b):
        for secret in (user.username, user.first_name, user.last_name, user.get_full_name()):
            assert secret not in text
    for key in ("read_id", "read", "reader", "reader_id", "slot", "a_slot", "chosen_slot", "arm", "signer"):
        assert f'"{key}"' not in text
    assert "EXPERIMENTAL" not in text  # the arm
    # After the decision, the view names the choice by label only.
    decide(case, adjudicator, "B")
    decided = sel.adjudication_side_by_side(user=manager, case_id=case.pk)
    assert decided["case"]["decision"]["chosen"] == "B"
    assert "chosen_slot" not in json.dumps(decided, default=str)


def test_side_by_side_shows_only_timepoints_both_readers_signed(
    team: dict[str, Any], manager: Any, adjudicator: Any
) -> None:
    tw = subject(team, manager, "S-1", PR, PD)
    [case] = cases(tw)
    from tests.trialreads.services.test_adjudication_service import unlock

    unlock(tw, tw.read_a, 1, manager)
    view = sel.adjudication_side_by_side(user=adjudicator, case_id=case.pk)
    assert [len(r["timepoints"]) for r in view["reads"]] == [1, 1]  # baseline only


# --- metrics ------------------------------------------------------------------------------------

def build_metrics_trial(team: dict[str, Any], manager: Any, adjudicator: Any, n_extra: int = 0) -> None:
    """S-1 concordant (SD/SD), S-2 PR vs PD decided for slot 1, S-3 PR vs SD open; plus
    ``n_extra`` concordant subjects (for the query-count check)."""
    subject(team, manager, "S-1", SD, SD)
    tw2 = subject(team, manager, "S-2", PR, PD)
    case2 = cases(tw2)[0]
    decide(case2, adjudicator, case2.label_for_slot(1))
    subject(team, manager, "S-3", PR, SD)
    for i in range(n_extra):
        subject(team, manager, f"S-X{i}", SD, SD)


def test_reader_metrics_by_hand(team: dict[str, Any], manager: Any, reader_a: Any, reader_b: Any,
                                adjudicator: Any) -> None:
    build_metrics_trial(team, manager, adjudicator)
    trial = team["trial"]
    adj.investigator_assessments_import(
        trial_id=trial.pk, source="EDC extract 2025-03", actor=manager,
        rows=[adj.InvestigatorRow("S-1", None), adj.InvestigatorRow("S-2", trial.subjects.get(
            subject_code="S-2").timepoints.get(sequence=2).scan_date_earliest, "PD"),
              adj.InvestigatorRow("S-3", None)],
    )
    m = sel.reader_metrics(user=manager, trial_id=trial.pk)
    assert m["compared_subjects"] == 3
    assert m["adjudication_rate"] == {"numerator": 2, "denominator": 3, "value": 2 / 3}
    # BOR pairs (slot 1, slot 2): S-1 (NE, NE) -- SD before 42 days is NE --, S-2 (PR, PD),
    # S-3 (PR, NE). po = 1/3; slot-1 margins NE 1, PR 2; slot-2 margins NE 2, PD 1;
    # pe = (1*2 + 2*0 + 0*1)/9 = 2/9; kappa = (3/9 - 2/9)/(7/9) = 1/7.
    assert m["kappa_bor"]["kappa"] == pytest.approx(1 / 7)
    assert m["kappa_bor"]["n"] == 3
    assert m["median_abs_pd_date_difference_days"] is None  # no subject with PD on both reads
    ra, rb = m["readers"]
    assert (ra["username"], rb["username"]) == (reader_a.username, reader_b.username)
    assert ra["adjudicator_agreement_rate"] == {"numerator": 1, "denominator": 1, "value": 1.0}
    assert ra["reader_disagreement_index"] == {"numerator": 0, "denominator": 3, "value": 0.0}
    assert rb["adjudicator_agreement_rate"] == {"numerator": 0, "denominator": 1, "value": 0.0}
    assert rb["reader_disagreement_index"] == {"numerator": 1, "denominator": 3, "value": 1 / 3}
    assert len(m["drift"]) == 1 and m["drift"][0]["compared"] == 3
    # Site vs central over accepted reads (S-3 is pending): S-1 neither (d); S-2 investigator
    # PD, accepted central read (slot 1, PR) none (b). EDR = (b + a3)/(a + b) = 1/1;
    # LDR = (c + a2)/(b + c + a2 + a3) = 0/1.
    site = m["site_vs_central"]
    assert (site["a1"], site["a2"], site["a3"], site["b"], site["c"], site["d"]) == (0, 0, 0, 1, 0, 1)
    assert site["edr"]["value"] == 1.0 and site["ldr"]["value"] == 0.0
    assert AuditEvent.objects.filter(event_type=AuditEventType.INVESTIGATOR_ASSESSMENTS_IMPORTED).count() == 1


def test_reader_metrics_query_count_does_not_grow(
    team: dict[str, Any], manager: Any, adjudicator: Any
) -> None:
    build_metrics_trial(team, manager, adjudicator)
    trial = team["trial"]
    with CaptureQueriesContext(connection) as small:
        sel.reader_metrics(user=manager, trial_id=trial.pk)
    for i in range(3):
        subject(team, manager, f"S-Y{i}", SD, SD)
    with CaptureQueriesContext(connection) as large:
        m = sel.reader_metrics(user=manager, trial_id=trial.pk)
    assert m["compared_subjects"] == 6
    assert len(large.captured_queries) == len(small.captured_queries) <= 10


def test_investigator_import_validation(team: dict[str, Any], manager: Any, reader_a: Any) -> None:
    from trialreads.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        adj.investigator_assessments_import(
            trial_id=team["trial"].pk, rows=[adj.InvestigatorRow("NOPE", None)], source="x", actor=manager
        )
    assert "rows[0].subject_code" in err.value.errors
    with pytest.raises(PermissionDenied):
        adj.investigator_assessments_import(trial_id=team["trial"].pk, rows=[], source="x", actor=reader_a)


def test_anonymous_sees_no_case(team: dict[str, Any], manager: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    from trialreads import access

    subject(team, manager, "S-1", PR, PD)
    assert AdjudicationCase.objects.count() == 1
    assert not access.visible_adjudication_cases(AnonymousUser()).exists()
    assert not access.visible_adjudication_cases(None).exists()
