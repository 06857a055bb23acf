"""Races with real threads and separate connections (T-CONC-READS, T-CONC-SIGN), both DBs.

Each thread opens its own connection (Django connections are per thread) and closes it at
the end. SQLite serialises writers (IMMEDIATE transactions, 20 s busy timeout); PostgreSQL
serialises per read with SELECT … FOR UPDATE. The outcome must be the same on both.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import connection

from tests.conftest import followup_values, make_subject_with_reads, save_baseline, sign
from tests.factories import PASSWORD
from trialreads.choices import AuditEventType
from trialreads.errors import Conflict
from trialreads.models import AuditEvent, Measurement, Signature, TimepointRead
from trialreads.services import reads as svc
from trialreads.services.audit import chain_ids, verify_chain

THREADS = 16


def race(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job at the same instant (barrier); return each one's result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def outcome(results: list[Any]) -> Counter[str]:
    return Counter("ok" if not isinstance(r, Exception) else type(r).__name__ for r in results)


def _all_chains_verify() -> None:
    for chain in chain_ids():
        report = verify_chain(chain)
        assert report.ok, report


def test_racing_saves_of_the_same_timepoint_read(tx_db: None, trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    events_before = AuditEvent.objects.count()

    def job(i: int) -> Callable[[], Any]:
        targets = (svc.TargetInput(code="T1", organ="liver", value_mm=Decimal(20 + i)),)
        return lambda: svc.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk, targets=targets, non_targets=(), expected_version=1, actor=reader_a
        )

    results = race([job(i) for i in range(THREADS)])
    assert outcome(results) == Counter({"ok": 1, "Conflict": THREADS - 1}), results
    winner = next(r for r in results if not isinstance(r, Exception))
    tr.refresh_from_db()
    assert tr.version == 2 == winner.version
    # The winner's content is exactly what is stored, and exactly one save was audited.
    assert Measurement.objects.get(timepoint_read=tr).value_mm == winner.measurements.get().value_mm
    saved = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED)
    assert saved.count() == 1 and AuditEvent.objects.count() == events_before + 1
    _all_chains_verify()


def test_racing_signatures_of_the_same_timepoint_read(
    tx_db: None, trial_with_reads: Any, reader_a: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    job = lambda: svc.timepoint_read_sign(  # noqa: E731
        timepoint_read_id=tr.pk, password=PASSWORD, printed_name="Ada Reader", actor=reader_a
    )
    results = race([job] * THREADS)
    assert outcome(results) == Counter({"ok": 1, "Conflict": THREADS - 1}), results
    assert Signature.objects.filter(timepoint_read=tr).count() == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SIGNED).count() == 1
    _all_chains_verify()


def test_many_readers_saving_distinct_reads_lose_nothing(
    tx_db: None, trial: Any, manager: Any, reader_a: Any, reader_b: Any
) -> None:
    """16 writers on 16 different timepoint reads (8 subjects x 2 readers), each saving
    twice and signing: every write persists exactly once, in order, and is audited once."""
    worlds = [
        make_subject_with_reads(trial, manager, (reader_a, reader_b), code=f"S-{i:03d}", followups=0)
        for i in range(THREADS // 2)
    ]
    trs = [
        (w.tr(read, 0), user) for w in worlds for read, user in ((w.read_a, reader_a), (w.read_b, reader_b))
    ]
    saved_before = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED).count()

    def job(tr: TimepointRead, user: Any, n: int) -> Callable[[], Any]:
        def work() -> Any:
            for version, mm in ((1, 30 + n), (2, 130 + n)):
                targets = (svc.TargetInput(code="T1", organ="liver", value_mm=Decimal(mm)),)
                svc.timepoint_read_save_baseline(
                    timepoint_read_id=tr.pk,
                    targets=targets,
                    non_targets=(),
                    expected_version=version,
                    actor=user,
                )
            return svc.timepoint_read_sign(
                timepoint_read_id=tr.pk, password=PASSWORD, printed_name=user.get_full_name(), actor=user
            )

        return work

    results = race([job(tr, user, n) for n, (tr, user) in enumerate(trs)])
    assert outcome(results) == Counter({"ok": THREADS}), results
    for n, (tr, _user) in enumerate(trs):
        tr.refresh_from_db()
        assert tr.locked and tr.version == 4
        assert Measurement.objects.get(timepoint_read=tr).value_mm == Decimal(130 + n)
        assert Signature.objects.get(timepoint_read=tr).content_sha256 == svc.content_sha256(tr)
    saved = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED).count()
    assert saved == saved_before + 2 * THREADS
    assert AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SIGNED).count() == THREADS
    _all_chains_verify()


def test_sign_versus_edit_never_leaves_a_stale_signature(
    tx_db: None, trial_with_reads: Any, reader_a: Any, manager: Any
) -> None:
    """T-CONC-SIGN: either the sign wins (the edit then gets 409) or the edit wins (the
    signature covers the edited content). Never a signature over content that is not stored."""
    read = trial_with_reads.read_a
    baseline, week6 = trial_with_reads.tr(read, 0), trial_with_reads.tr(read, 1)
    save_baseline(baseline, reader_a)
    sign(baseline, reader_a)
    seen: Counter[str] = Counter()
    for round_ in range(6):
        week6.refresh_from_db()
        if week6.locked:
            svc.timepoint_read_unlock(timepoint_read_id=week6.pk, reason=f"round {round_}", actor=manager)
            week6.refresh_from_db()
        version = week6.version
        if week6.saved_at is None:
            svc.timepoint_read_save_followup(
                timepoint_read_id=week6.pk,
                targets=followup_values(),
                non_targets={"NT1": "present"},
                new_lesions=(),
                expected_version=version,
                actor=reader_a,
            )
            version += 1

        def edit(version: int = version, round_: int = round_) -> Any:
            return svc.timepoint_read_save_followup(
                timepoint_read_id=week6.pk,
                targets=followup_values(t1=f"{41 + round_}.0"),
                non_targets={"NT1": "present"},
                new_lesions=(),
                expected_version=version,
                actor=reader_a,
            )

        def do_sign() -> Any:
            return svc.timepoint_read_sign(
                timepoint_read_id=week6.pk, password=PASSWORD, printed_name="Ada Reader", actor=reader_a
            )

        edit_result, sign_result = race([edit, do_sign])
        assert not isinstance(sign_result, Exception), sign_result
        if isinstance(edit_result, Conflict):
            seen["sign-first"] += 1
        else:
            assert not isinstance(edit_result, Exception), edit_result
            seen["edit-first"] += 1
        week6.refresh_from_db()
        live = Signature.objects.get(timepoint_read=week6, voided_at__isnull=True)
        assert live.content_sha256 == svc.content_sha256(week6) == week6.content_sha256
    assert sum(seen.values()) == 6
    _all_chains_verify()
