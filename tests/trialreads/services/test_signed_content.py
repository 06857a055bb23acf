"""Tamper evidence that cannot be rewritten (issue 13 item 2, T-SIG-LINK): ``verify_audit``
compares signed content with the hash in the chained TIMEPOINT_READ_SIGNED event, not with
the editable ``content_sha256`` columns. Each attack below is what someone with database
access would do: drop the lock triggers (migration 0002), change the signed data with raw SQL,
rewrite the stored hashes to match, put the triggers back. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.conftest import (
    drop_triggers,
    install_triggers,
    make_subject_with_reads,
    save_baseline,
    save_followup,
    sign,
)
from tests.factories import PASSWORD
from tests.trialreads.services.test_adjudication_service import PD, PR, both, make_trial
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import AuditEventType, TimepointReadStatus
from trialreads.models import AdjudicationCase, AuditEvent, Lesion, Measurement, Signature, TimepointRead
from trialreads.services import adjudication as adj
from trialreads.services import reads as svc
from trialreads.services.audit import audit_record
from trialreads.services.signed_content import (
    NO_CHAINED_HASH,
    decision_problems,
    signature_verify,
    signed_content_problems,
)

pytestmark = pytest.mark.django_db


def _verify() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def _as_attacker(*statements: tuple[str, list[Any]]) -> None:
    """Raw SQL with the lock and append-only triggers out of the way, as a DBA could."""
    drop_triggers()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    finally:
        install_triggers()


def _rewrite_stored_hashes(tr: TimepointRead) -> str:
    """Make both editable hash columns agree with the content as it is now."""
    digest = svc.content_sha256(tr)
    _as_attacker(
        ("UPDATE trialreads_signature SET content_sha256 = %s WHERE timepoint_read_id = %s", [digest, tr.pk]),
        ("UPDATE trialreads_timepointread SET content_sha256 = %s WHERE id = %s", [digest, tr.pk]),
    )
    return digest


def _copy_row(model: Any, pk: int, **changes: Any) -> None:
    """INSERT a copy of one row with some columns changed (plain SQL, every concrete column)."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = model._meta.db_table
    select = ", ".join("%s" if c in changes else quote(c) for c in columns)
    params = [changes[c] for c in columns if c in changes]
    _as_attacker(
        (
            f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT {select} FROM {table} WHERE id = %s",
            [*params, pk],
        )
    )


@pytest.fixture
def signed(trial_with_reads: Any, reader_a: Any) -> TimepointRead:
    """Reader A's baseline (3 targets, 1 non-target), saved and signed through the services."""
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    tr.refresh_from_db()
    assert _verify()[0] == 0
    return tr


def _change_value(tr: TimepointRead) -> None:
    _as_attacker(("UPDATE trialreads_measurement SET value_mm = 49.0 WHERE timepoint_read_id = %s", [tr.pk]))


def _add_lesion(tr: TimepointRead) -> None:
    t1 = Measurement.objects.select_related("lesion").get(timepoint_read=tr, lesion__lesion_code="T1")
    _copy_row(Lesion, t1.lesion_id, lesion_code="T9")
    new = Lesion._base_manager.get(read_id=tr.read_id, lesion_code="T9")
    _copy_row(Measurement, t1.pk, lesion_id=new.pk)


def _change_rating(tr: TimepointRead) -> None:
    _as_attacker(
        ("UPDATE trialreads_nontargetrating SET status = 'absent' WHERE timepoint_read_id = %s", [tr.pk])
    )


@pytest.mark.parametrize(
    "tamper", [_change_value, _add_lesion, _change_rating], ids=["value", "lesion-added", "rating"]
)
def test_content_changed_with_its_stored_hashes_is_detected(
    signed: TimepointRead, tamper: Callable[[TimepointRead], None], reader_a: Any
) -> None:
    signature = Signature.objects.get(timepoint_read=signed)
    chained = signed.content_sha256
    assert signature_verify(user=reader_a, timepoint_read_id=signed.pk)["valid"] is True
    tamper(signed)
    forged = _rewrite_stored_hashes(signed)
    assert forged != chained
    # What the old check compared: stored content and both stored hashes agree.
    signature.refresh_from_db()
    signed.refresh_from_db()
    assert signature.content_sha256 == signed.content_sha256 == svc.content_sha256(signed) == forged
    code, output = _verify()
    assert code == 1, output
    assert f"FAIL signature {signature.pk} (timepoint read {signed.pk}): stored content {forged}" in output
    assert f"differs from the hash chained at {signed.read.subject.trial.chain_id} seq" in output
    assert "1 signed record(s) do not match the hashes signed in the audit chain" in output
    # The API's verifier (GET .../signature/verify/) is not fooled either.
    report = signature_verify(user=reader_a, timepoint_read_id=signed.pk)
    assert report == {**report, "signed": True, "valid": False, "content_sha256": forged}


def test_deleted_signature_is_detected(signed: TimepointRead) -> None:
    signature = Signature.objects.get(timepoint_read=signed)
    _as_attacker(("DELETE FROM trialreads_signature WHERE id = %s", [signature.pk]))
    code, output = _verify()
    assert code == 1
    assert f"FAIL signature {signature.pk} (timepoint read {signed.pk}): signed at " in output
    assert "but that signature is gone" in output


def test_deleted_signature_and_unlocked_record_is_detected(signed: TimepointRead) -> None:
    """Hiding the signature entirely: row deleted, record unlocked (the triggers allow that flip;
    the signed-state constraint makes the attacker set DRAFT with it, as an unlock does)."""
    signature = Signature.objects.get(timepoint_read=signed)
    _as_attacker(
        ("DELETE FROM trialreads_signature WHERE id = %s", [signature.pk]),
        (
            "UPDATE trialreads_timepointread SET locked = %s, status = %s WHERE id = %s",
            [False, "DRAFT", signed.pk],
        ),
    )
    code, output = _verify()
    assert code == 1 and "but the record is not locked" in output and "that signature is gone" in output


def test_rewritten_sign_event_breaks_the_chain(signed: TimepointRead) -> None:
    """Rewriting the chained hash too: the event no longer matches its own hash."""
    event = AuditEvent.objects.get(event_type=AuditEventType.TIMEPOINT_READ_SIGNED, object_id=str(signed.pk))
    _change_value(signed)
    forged = _rewrite_stored_hashes(signed)
    after = {**event.after, "content_sha256": forged}
    _as_attacker(("UPDATE trialreads_auditevent SET after = %s WHERE id = %s", [json.dumps(after), event.pk]))
    assert signed_content_problems() == []  # the content now matches the (forged) payload...
    code, output = _verify()  # ...which the chain refuses
    assert code == 1
    assert f"audit trail broken: {event.chain_id} seq {event.seq}" in output
    assert f"first bad seq {event.seq}: seq {event.seq} content does not match its hash" in output


def test_locked_record_without_a_sign_event_is_detected(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    # A lock is a plain UPDATE the triggers let through (unlocked rows are editable).
    TimepointRead._base_manager.filter(pk=tr.pk).update(locked=True, status=TimepointReadStatus.SIGNED)
    code, output = _verify()
    assert code == 1
    expected = (
        f"FAIL timepoint read {tr.pk}: locked without a chained sign event (no sign event in the chain)"
    )
    assert expected in output


def test_signature_without_a_sign_event_is_detected(signed: TimepointRead, reader_a: Any) -> None:
    """A signature row forged onto a draft: no chained event names it."""
    draft = TimepointRead.objects.get(read=signed.read, timepoint__sequence=2)
    original = Signature.objects.get(timepoint_read=signed)
    _copy_row(Signature, original.pk, timepoint_read_id=draft.pk)
    forged = Signature.objects.get(timepoint_read=draft)
    code, output = _verify()
    assert code == 1
    assert f"FAIL signature {forged.pk} (timepoint read {draft.pk}): live signature without" in output


def test_unlock_then_resign_counts_the_latest_sign_event(
    signed: TimepointRead, reader_a: Any, manager: Any, trial_with_reads: Any
) -> None:
    """After unlock and re-sign the latest sign event counts: restoring the first signed
    content with the first signature's hash (which is in the chain) is still detected."""
    first = Signature.objects.get(timepoint_read=signed)
    svc.timepoint_read_unlock(timepoint_read_id=signed.pk, reason="correction", actor=manager)
    signed.refresh_from_db()
    svc.timepoint_read_save_baseline(
        timepoint_read_id=signed.pk,
        targets=(svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("51.0")),),
        non_targets=(),
        expected_version=signed.version,
        actor=reader_a,
    )
    second = sign(signed, reader_a)
    assert _verify()[0] == 0
    assert signed_content_problems() == []
    # The voided signature is checked too.
    _as_attacker(("UPDATE trialreads_signature SET content_sha256 = %s WHERE id = %s", ["f" * 64, first.pk]))
    code, output = _verify()
    assert code == 1 and f"FAIL signature {first.pk} (timepoint read {signed.pk}): voided" in output
    restore = "UPDATE trialreads_signature SET content_sha256 = %s WHERE id = %s"
    _as_attacker((restore, [first.content_sha256, first.pk]))
    assert _verify()[0] == 0
    # Put the first content back (one target) together with the first hash everywhere.
    t1 = Measurement.objects.get(timepoint_read=signed)
    _as_attacker(("UPDATE trialreads_measurement SET value_mm = 50.0 WHERE id = %s", [t1.pk]))
    _rewrite_stored_hashes(signed)
    code, output = _verify()
    assert code == 1 and f"FAIL signature {second.pk} (timepoint read {signed.pk}): stored content" in output


def test_sign_event_without_a_hash_is_reported_not_passed(signed: TimepointRead, reader_a: Any) -> None:
    """As an older writer would have left it: a sign event whose payload has no content hash."""
    signature = Signature.objects.get(timepoint_read=signed)
    with transaction.atomic():
        audit_record(
            chain_id=signed.read.subject.trial.chain_id,
            event_type=AuditEventType.TIMEPOINT_READ_SIGNED,
            actor=reader_a,
            object_type="timepoint_read",
            object_id=signed.pk,
            after={"signature_id": signature.pk, "printed_name": "Ada Reader"},
        )
    problems = signed_content_problems()
    assert [(p.kind, p.signature_id) for p in problems] == [(NO_CHAINED_HASH, signature.pk)]
    code, output = _verify()
    assert code == 1
    assert f"NOHASH signature {signature.pk} (timepoint read {signed.pk}): its sign event" in output
    assert "records no content hash (the stored columns agree" in output
    assert "0 signed record(s) do not match" in output and "1 sign event(s) with no chained hash" in output


def test_verification_takes_a_fixed_number_of_queries(
    signed: TimepointRead, reader_a: Any, reader_b: Any, trial_with_reads: Any
) -> None:
    with CaptureQueriesContext(connection) as one:
        assert signed_content_problems() == []
    tr_a1 = trial_with_reads.tr(trial_with_reads.read_a, 1)
    new_lesion = svc.NewLesionInput(code="N1", organ="liver", value_mm=Decimal("12.0"))
    save_followup(tr_a1, reader_a, new_lesions=(new_lesion,))
    sign(tr_a1, reader_a)
    tr_b0 = trial_with_reads.tr(trial_with_reads.read_b, 0)
    save_baseline(tr_b0, reader_b)
    sign(tr_b0, reader_b)
    with CaptureQueriesContext(connection) as three:
        assert signed_content_problems() == []
    assert len(one) == len(three) == 6
    # The bulk hash is the service's hash (what the signature was computed with).
    bulk = svc.content_sha256_by_timepoint_read(TimepointRead.objects.filter(locked=True))
    assert bulk == {tr.pk: svc.content_sha256(tr) for tr in TimepointRead.objects.filter(locked=True)}
    assert len(bulk) == 3


def test_adjudication_decision_rewritten_with_its_hash_is_detected(
    manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    """The other e-signature: the adjudicator's choice flipped, the rationale and the stored
    hash rewritten to match (the case table has no trigger; plain SQL suffices)."""
    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], {"variables": ["bor"], "bor_confirmed": False})
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    case = AdjudicationCase.objects.get(subject=tw.subject)
    adj.adjudication_decide(
        case_id=case.pk,
        chosen="A",
        rationale="A measured T1 correctly.",
        password=PASSWORD,
        printed_name=adjudicator.get_full_name(),
        actor=adjudicator,
    )
    with CaptureQueriesContext(connection) as queries:
        assert decision_problems() == []
    assert len(queries) == 2
    assert _verify()[0] == 0
    case.refresh_from_db()
    case.chosen_slot = case.slot_for_label("B")
    case.rationale = "B measured T1 correctly."
    forged = sha256_hex(canonical_json(adj.decision_content(case)))
    _as_attacker(
        (
            "UPDATE trialreads_adjudicationcase SET chosen_slot = %s, rationale = %s, content_sha256 = %s"
            " WHERE id = %s",
            [case.chosen_slot, case.rationale, forged, case.pk],
        )
    )
    code, output = _verify()
    assert code == 1
    assert (
        f"FAIL adjudication case {case.pk}: stored decision {forged} differs from the hash chained" in output
    )
    assert "1 signed record(s) do not match" in output
