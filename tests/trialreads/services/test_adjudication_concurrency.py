"""T-CONC-ADJ: both readers sign the same timepoint at the same instant (barrier, separate
connections). Exactly one adjudication case when the reads disagree, none when they agree,
and exactly one acceptance either way. Runs on SQLite and, with ``DATABASE_URL``, PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import followup_values, make_subject_with_reads, save_baseline, save_followup, sign
from tests.trialreads.services.test_adjudication_service import PD, PR, SD, make_trial
from tests.trialreads.services.test_concurrency import race
from trialreads.choices import AcceptanceBasis, AdjudicationStatus, AuditEventType
from trialreads.models import AcceptedRead, AdjudicationCase, AuditEvent
from trialreads.services.audit import chain_ids, verify_chain

ROUNDS = 4


def _prepare(trial: Any, manager: Any, readers: tuple[Any, Any], code: str,
             a: tuple[str, str, str], b: tuple[str, str, str]) -> Any:
    """Baselines signed one after the other; week 6 saved by both, not yet signed."""
    tw = make_subject_with_reads(trial, manager, readers, code=code, followups=1)
    for read, reader in ((tw.read_a, readers[0]), (tw.read_b, readers[1])):
        save_baseline(tw.tr(read, 0), reader)
        sign(tw.tr(read, 0), reader)
    save_followup(tw.tr(tw.read_a, 1), readers[0], targets=followup_values(*a))
    save_followup(tw.tr(tw.read_b, 1), readers[1], targets=followup_values(*b))
    return tw


def _sign_together(tw: Any, readers: tuple[Any, Any]) -> list[Any]:
    ta, tb = tw.tr(tw.read_a, 1), tw.tr(tw.read_b, 1)
    return race([lambda: sign(ta, readers[0]), lambda: sign(tb, readers[1])])


@pytest.mark.parametrize(("a", "b", "expected_cases"), [(PR, PD, 1), (SD, SD, 0)], ids=["disagree", "agree"])
def test_simultaneous_signing_creates_exactly_one_case_or_none(
    tx_db: None, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any,
    a: tuple[str, str, str], b: tuple[str, str, str], expected_cases: int,
) -> None:
    readers = (reader_a, reader_b)
    rules = {"variables": ["bor", "pd_date"], "bor_confirmed": False}
    trial = make_trial(manager, readers, [adjudicator], rules)
    for i in range(ROUNDS):
        tw = _prepare(trial, manager, readers, f"S-{i}", a, b)
        results = _sign_together(tw, readers)
        assert Counter(type(r).__name__ for r in results) == Counter({"Signature": 2}), results
        cases = list(AdjudicationCase.objects.filter(subject=tw.subject))
        assert len(cases) == expected_cases, cases
        assert all(c.status == AdjudicationStatus.OPEN and c.adjudicator == adjudicator for c in cases)
        accepted = AcceptedRead.objects.get(subject=tw.subject)
        expected_basis = AcceptanceBasis.PENDING if expected_cases else AcceptanceBasis.RULE
        assert accepted.basis == expected_basis
        # The compared state covers both signatures (the later evaluation saw the earlier one).
        assert [row[0] for row in accepted.snapshot] == [tw.timepoints[0].pk, tw.timepoints[1].pk]
    created = AuditEvent.objects.filter(event_type=AuditEventType.ADJUDICATION_CREATED).count()
    assert created == ROUNDS * expected_cases
    for chain in chain_ids():
        assert verify_chain(chain).ok


def test_simultaneous_baseline_signing_accepts_once(
    tx_db: None, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], {"variables": ["bor"]})
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    save_baseline(tw.tr(tw.read_b, 0), reader_b)
    ta, tb = tw.tr(tw.read_a, 0), tw.tr(tw.read_b, 0)
    results = race([lambda: sign(ta, reader_a), lambda: sign(tb, reader_b)])
    assert all(type(r).__name__ == "Signature" for r in results), results
    assert AcceptedRead.objects.filter(subject=tw.subject, basis=AcceptanceBasis.RULE).count() == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.READ_ACCEPTED).count() == 1


def test_racing_evaluations_of_one_state_create_one_case(
    tx_db: None, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The evaluation itself, raced by 8 threads on a state nobody evaluated yet (the sign
    hook is switched off): the subject lock makes every evaluation after the first a no-op,
    without leaning on the audit chain lock that happens to serialise signing too."""
    from trialreads.services import adjudication as adj

    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], {"variables": ["bor"], "bor_confirmed": False})
    from trialreads.services import reads as read_services

    # The sign service's own reference to the hook (imported at module level).
    monkeypatch.setattr(read_services, "adjudication_evaluate_after_sign", lambda **kwargs: None)
    tw = _prepare(trial, manager, readers, "S-EVAL", PR, PD)
    sign(tw.tr(tw.read_a, 1), reader_a)
    sign(tw.tr(tw.read_b, 1), reader_b)
    assert not AcceptedRead.objects.filter(subject=tw.subject).exists()
    results = race([lambda: adj.adjudication_evaluate(subject_id=tw.subject.pk) for _ in range(8)])
    assert all(isinstance(r, AcceptedRead) for r in results), results
    assert AdjudicationCase.objects.filter(subject=tw.subject).count() == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.ADJUDICATION_CREATED).count() == 1
