"""Racing HTTP submissions with real threads and separate connections, both databases
(T-CONC-READS through the API, T-CONC-ETAG under load): one winner per race, the losers
answered 409/412, never 5xx, nothing lost, and the audit chains still verify."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection

from tests.api.conftest import API, BASELINE_BODY, client_for, etag_of
from tests.conftest import make_subject_with_reads, save_baseline
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, Signature, TimepointRead
from trialreads.services.audit import chain_ids, verify_chain

THREADS = 16


def race(jobs: list[Callable[[], Any]]) -> list[int]:
    """Start every job at the same instant (barrier); return each one's HTTP status."""
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = [0] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait()
            statuses[i] = jobs[i]().status_code
        except Exception:  # an exception escaping the view is a 500 as far as a client knows
            statuses[i] = 500
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses


def _chains_verify() -> None:
    for chain in chain_ids():
        report = verify_chain(chain)
        assert report.ok, report


def test_racing_puts_one_winner(tx_db: None, trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    clients = [client_for(reader_a) for _ in range(THREADS)]
    tag = etag_of(clients[0], tr.pk)
    url = f"{API}/timepoint-reads/{tr.pk}/baseline/"

    def job(i: int) -> Callable[[], Any]:
        body = {"targets": [{"code": "T1", "organ": "liver", "value_mm": 20 + i}], "non_targets": []}
        return lambda: clients[i].put(url, body, format="json", HTTP_IF_MATCH=tag)

    statuses = race([job(i) for i in range(THREADS)])
    count = Counter(statuses)
    assert count[200] == 1 and count[409] + count[412] == THREADS - 1, statuses
    tr.refresh_from_db()
    assert tr.version == 2
    assert AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED).count() == 1
    _chains_verify()


def test_racing_signatures_one_winner(
    tx_db: None, trial_with_reads: Any, reader_a: Any, password: str
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    clients = [client_for(reader_a) for _ in range(THREADS)]
    tag = etag_of(clients[0], tr.pk)
    url = f"{API}/timepoint-reads/{tr.pk}/sign/"
    body = {"password": password, "printed_name": "Ada Reader"}
    statuses = race([lambda c=c: c.post(url, body, format="json", HTTP_IF_MATCH=tag) for c in clients])
    count = Counter(statuses)
    assert count[200] == 1 and count[409] + count[412] == THREADS - 1, statuses
    assert Signature.objects.filter(timepoint_read=tr).count() == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SIGNED).count() == 1
    tr.refresh_from_db()
    assert tr.locked and tr.content_sha256 == Signature.objects.get(timepoint_read=tr).content_sha256
    _chains_verify()


def test_distinct_submissions_all_persist(
    tx_db: None, trial: Any, manager: Any, reader_a: Any, reader_b: Any
) -> None:
    """16 different timepoint reads saved at once (8 subjects x 2 readers): all 200, each
    stored exactly once and audited exactly once."""
    jobs, ids = [], []
    for n in range(THREADS // 2):
        twr = make_subject_with_reads(trial, manager, (reader_a, reader_b), code=f"S-{n:03d}", followups=0)
        for read, user in ((twr.read_a, reader_a), (twr.read_b, reader_b)):
            tr = twr.tr(read, 0)
            client = client_for(user)
            tag = etag_of(client, tr.pk)
            url = f"{API}/timepoint-reads/{tr.pk}/baseline/"
            jobs.append(
                lambda c=client, u=url, t=tag: c.put(u, BASELINE_BODY, format="json", HTTP_IF_MATCH=t)
            )
            ids.append(tr.pk)
    statuses = race(jobs)
    assert statuses == [200] * THREADS
    assert set(TimepointRead.objects.filter(pk__in=ids).values_list("version", flat=True)) == {2}
    saved = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED)
    assert sorted(int(i) for i in saved.values_list("object_id", flat=True)) == sorted(ids)
    _chains_verify()


def test_sign_versus_edit_race(tx_db: None, trial_with_reads: Any, reader_a: Any, password: str) -> None:
    """T-CONC-SIGN over HTTP: one session signs while another saves, both from the same
    ETag. Exactly one wins; a signature, if any, covers exactly the stored content."""
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    signer, editor = client_for(reader_a), client_for(reader_a)
    tag = etag_of(signer, tr.pk)
    edited = {**BASELINE_BODY, "targets": [{"code": "T1", "organ": "liver", "value_mm": 44.4}]}
    statuses = race(
        [
            lambda: signer.post(
                f"{API}/timepoint-reads/{tr.pk}/sign/",
                {"password": password, "printed_name": "Ada Reader"},
                format="json",
                HTTP_IF_MATCH=tag,
            ),
            lambda: editor.put(
                f"{API}/timepoint-reads/{tr.pk}/baseline/", edited, format="json", HTTP_IF_MATCH=tag
            ),
        ]
    )
    assert sorted(statuses) in ([200, 409], [200, 412]), statuses
    tr.refresh_from_db()
    signature = Signature.objects.filter(timepoint_read=tr).first()
    if statuses[0] == 200:
        assert signature is not None and tr.locked
        assert signature.content_sha256 == tr.content_sha256
        verify = signer.get(f"{API}/timepoint-reads/{tr.pk}/signature/verify/").json()
        assert verify["valid"] is True
    else:
        assert signature is None and not tr.locked
    _chains_verify()
