"""The audit trail: immutable (T-AUDIT-IMMUTABLE) and tamper-evident (T-CHAIN)."""

from __future__ import annotations

import itertools
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.conftest import drop_triggers, install_triggers, save_baseline, sign
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import AuditEventType
from trialreads.errors import AuditBypass
from trialreads.models import AuditEvent, ChainHead
from trialreads.services.audit import audit_context, audit_record, event_body, verify_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(trial_with_reads: Any, reader_a: Any) -> str:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    chain_id: str = trial_with_reads.trial.chain_id
    assert AuditEvent.objects.filter(chain_id=chain_id).count() >= 10
    return chain_id


def _raw(sql: str, params: list[Any]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_events_link_and_hash(chain: str) -> None:
    events = list(AuditEvent.objects.filter(chain_id=chain).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == "0" * 64
    for prev, event in itertools.pairwise(events):
        assert event.prev_hash == prev.hash
        assert event.hash == sha256_hex(prev.hash + canonical_json(event_body(event)))
    assert events[-1].ts.utcoffset().total_seconds() == 0
    head = ChainHead.objects.get(chain_id=chain)
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)


def test_orm_cannot_change_events(chain: str) -> None:
    event = AuditEvent.objects.filter(chain_id=chain).first()
    assert event is not None
    event.reason = "tampered"
    with pytest.raises(AuditBypass):
        event.save()
    with pytest.raises(AuditBypass):
        event.delete()
    with pytest.raises(AuditBypass):
        AuditEvent.objects.filter(chain_id=chain).update(reason="x")
    with pytest.raises(AuditBypass):
        AuditEvent.objects.filter(chain_id=chain).delete()
    assert verify_chain(chain).ok


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE trialreads_auditevent SET reason = 'tampered' WHERE chain_id = %s",
        "DELETE FROM trialreads_auditevent WHERE chain_id = %s",
    ],
    ids=["update", "delete"],
)
def test_raw_sql_cannot_change_events(chain: str, sql: str) -> None:
    count = AuditEvent.objects.count()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw(sql, [chain])
    assert AuditEvent.objects.count() == count
    assert verify_chain(chain).ok


def _verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def _forged_insert(chain: str, seq: int, prev_hash: str, hash_: str) -> None:
    _raw(
        "INSERT INTO trialreads_auditevent (chain_id, seq, ts, actor_id, actor_username, event_type,"
        " object_type, object_id, before, after, reason, request_id, context, prev_hash, hash)"
        " VALUES (%s, %s, %s, NULL, 'mallory', 'TIMEPOINT_READ_SIGNED', '', '', NULL, NULL, '', '', '{}',"
        " %s, %s)",
        [chain, seq, timezone.now(), prev_hash, hash_],
    )


def _tamper_edit(chain: str, last: int) -> int:
    _raw(
        "UPDATE trialreads_auditevent SET reason = 'nothing happened' WHERE chain_id = %s AND seq = 3",
        [chain],
    )
    return 3


def _tamper_edit_json(chain: str, last: int) -> int:
    _raw("UPDATE trialreads_auditevent SET after = NULL WHERE chain_id = %s AND seq = 5", [chain])
    return 5


def _tamper_delete(chain: str, last: int) -> int:
    _raw("DELETE FROM trialreads_auditevent WHERE chain_id = %s AND seq = 4", [chain])
    return 4


def _tamper_insert(chain: str, last: int) -> int:
    head = ChainHead.objects.get(chain_id=chain)
    _forged_insert(chain, last + 1, head.hash, "f" * 64)
    return last + 1


def _tamper_insert_consistent(chain: str, last: int) -> int:
    """A forged row with a correct hash: only the chain head disagrees."""
    head = ChainHead.objects.get(chain_id=chain)
    _forged_insert(chain, last + 1, head.hash, "0" * 64)
    forged = AuditEvent.objects.get(chain_id=chain, seq=last + 1)
    good = sha256_hex(head.hash + canonical_json(event_body(forged)))
    _raw("UPDATE trialreads_auditevent SET hash = %s WHERE id = %s", [good, forged.pk])
    return last + 1


def _tamper_reorder(chain: str, last: int) -> int:
    for a, b in ((3, 999_999), (4, 3), (999_999, 4)):
        _raw("UPDATE trialreads_auditevent SET seq = %s WHERE chain_id = %s AND seq = %s", [b, chain, a])
    return 3


def _tamper_truncate(chain: str, last: int) -> int:
    _raw("DELETE FROM trialreads_auditevent WHERE chain_id = %s AND seq > %s", [chain, last - 2])
    return last - 1


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_edit,
        _tamper_edit_json,
        _tamper_delete,
        _tamper_insert,
        _tamper_insert_consistent,
        _tamper_reorder,
        _tamper_truncate,
    ],
    ids=["edit", "edit-json", "delete", "insert", "insert-valid-hash", "reorder", "truncate-tail"],
)
def test_verify_audit_names_first_bad_seq(chain: str, trial_with_reads: Any, tamper: Any) -> None:
    assert _verify("--trial", trial_with_reads.trial.code) == (
        0,
        _verify("--trial", trial_with_reads.trial.code)[1],
    )
    last = AuditEvent.objects.filter(chain_id=chain).count()
    drop_triggers()  # a DBA with DDL rights; the test transaction's rollback restores them
    try:
        bad_seq = tamper(chain, last)
    finally:
        install_triggers()
    code, output = _verify("--trial", trial_with_reads.trial.code)
    assert code == 1
    assert f"first bad seq {bad_seq}:" in output, output
    report = verify_chain(chain)
    assert not report.ok and report.first_bad_seq == bad_seq


def test_truncation_with_rewritten_head_needs_the_anchor(
    chain: str, trial_with_reads: Any, tmp_path: Path
) -> None:
    anchor = tmp_path / "anchor.json"
    assert _verify("--write-anchor", str(anchor))[0] == 0
    anchored = json.loads(anchor.read_text())
    assert anchored[chain]["seq"] == AuditEvent.objects.filter(chain_id=chain).count()
    last = anchored[chain]["seq"]
    drop_triggers()
    try:
        _tamper_truncate(chain, last)
        keep = AuditEvent.objects.get(chain_id=chain, seq=last - 2)
        _raw(
            "UPDATE trialreads_chainhead SET seq = %s, hash = %s WHERE chain_id = %s",
            [keep.seq, keep.hash, chain],
        )
    finally:
        install_triggers()
    assert verify_chain(chain).ok  # undetectable from inside the database alone
    code, output = _verify("--anchor", str(anchor))
    assert code == 1 and f"first bad seq {last - 1}:" in output and "truncated" in output


def test_audit_context_attributes_system_actor(trial_with_reads: Any) -> None:
    with (
        transaction.atomic(),
        audit_context(actor_label="system:trialreads.compute_endpoints", request_id="task-1"),
    ):
        event = audit_record(
            chain_id=trial_with_reads.trial.chain_id,
            event_type=AuditEventType.ENDPOINT_COMPUTED,
            actor=None,
            object_type="subject",
            object_id=1,
            after={"n": 1},
        )
    assert event.actor_username == "system:trialreads.compute_endpoints" and event.actor_id is None
    assert event.request_id == "task-1"
    assert verify_chain(trial_with_reads.trial.chain_id).ok


def test_floats_are_refused_in_audit_json(trial_with_reads: Any) -> None:
    with pytest.raises(TypeError):
        audit_record(
            chain_id="global", event_type=AuditEventType.ENDPOINT_COMPUTED, actor=None, after={"x": 0.1}
        )


def test_verify_is_fast_and_exact_at_scale() -> None:
    """T-CHAIN-PERF, scaled down to keep the suite fast (5k events; the budget is 5 s for
    100k, measured 3.4 s on SQLite): an edit deep in the chain is reported at its exact seq."""
    import datetime as dt
    import time

    from trialreads.services.audit import event_hash

    n, prev, rows = 5_000, "0" * 64, []
    start = timezone.now()
    for seq in range(1, n + 1):
        event = AuditEvent(
            chain_id="perf",
            seq=seq,
            ts=start + dt.timedelta(microseconds=seq),
            actor_id=1,
            actor_username="reader_a",
            event_type="TIMEPOINT_READ_SAVED",
            object_type="timepoint_read",
            object_id=str(seq),
            after={"version": seq, "content_sha256": "a" * 64},
            context={},
            prev_hash=prev,
        )
        event.hash = prev = event_hash(prev, event)
        rows.append(event)
    # Fixture shortcut: the plain base manager inserts in bulk (the audited manager refuses).
    AuditEvent._base_manager.bulk_create(rows, batch_size=5000)
    ChainHead.objects.create(chain_id="perf", seq=n, hash=prev)
    began = time.perf_counter()
    assert verify_chain("perf").ok
    elapsed = time.perf_counter() - began
    assert elapsed < 1.5, elapsed  # 5 s per 100k would be 0.25 s here; generous for loaded CI hosts
    drop_triggers()
    try:
        _raw("UPDATE trialreads_auditevent SET object_id = 'x' WHERE chain_id = 'perf' AND seq = 4321", [])
    finally:
        install_triggers()
    assert verify_chain("perf").first_bad_seq == 4321


def test_verify_audit_reports_signatures_that_no_longer_cover_the_content(
    chain: str, trial_with_reads: Any
) -> None:
    """T-SIG-LINK: content changed behind the services' back (triggers dropped by a DBA)."""
    assert _verify("--trial", trial_with_reads.trial.code)[0] == 0
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    drop_triggers()
    try:
        _raw("UPDATE trialreads_measurement SET value_mm = 99.0 WHERE timepoint_read_id = %s", [tr.pk])
    finally:
        install_triggers()
    code, output = _verify("--trial", trial_with_reads.trial.code)
    assert code == 1 and f"timepoint read {tr.pk}" in output
    assert "do not match the hashes signed in the audit chain" in output
