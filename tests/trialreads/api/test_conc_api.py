"""Racing HTTP submissions with real threads and separate connections, both databases
(T-CONC-READS through the API, T-CONC-ETAG under load): one winner per race, the losers
answered 409/412, never 5xx, nothing lost, and the audit chains still verify.

The five 16-thread races of issue 13 (same-ETag save, sign, lesion create, timepoint create,
adjudication decide) are all here; ``make test`` runs this file on SQLite and, with
``DATABASE_URL``, on PostgreSQL (tests/trialreads/services/test_concurrency.py races the services).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection

from tests.conftest import make_subject_with_reads, save_baseline, sign
from tests.trialreads.api.conftest import API, BASELINE_BODY, FOLLOWUP_BODY, client_for, etag_of
from tests.trialreads.services.test_adjudication_service import PD, PR, both, make_trial
from trialreads.choices import AcceptanceBasis, AdjudicationStatus, AuditEventType, LesionKind
from trialreads.models import (
    AcceptedRead,
    AdjudicationCase,
    AuditEvent,
    ImagingTimepoint,
    Lesion,
    Signature,
    TimepointRead,
)
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


def test_racing_lesion_creation_one_winner(tx_db: None, trial_with_reads: Any, reader_a: Any) -> None:
    """16 sessions add a new lesion (each its own) to the same follow-up from the same ETag:
    one lesion is created, the others answer 409/412 and leave no lesion behind."""
    twr = trial_with_reads
    save_baseline(twr.tr(twr.read_a, 0), reader_a)
    sign(twr.tr(twr.read_a, 0), reader_a)
    tr = twr.tr(twr.read_a, 1)
    clients = [client_for(reader_a) for _ in range(THREADS)]
    tag = etag_of(clients[0], tr.pk)
    url = f"{API}/timepoint-reads/{tr.pk}/followup/"

    def job(i: int) -> Callable[[], Any]:
        body = {**FOLLOWUP_BODY, "new_lesions": [{"code": f"N{i:02d}", "organ": "liver", "value_mm": 10 + i}]}
        return lambda: clients[i].put(url, body, format="json", HTTP_IF_MATCH=tag)

    statuses = race([job(i) for i in range(THREADS)])
    count = Counter(statuses)
    assert count[200] == 1 and count[409] + count[412] == THREADS - 1, statuses
    winner = statuses.index(200)
    new = Lesion.objects.filter(read=twr.read_a, kind=LesionKind.NEW)
    assert list(new.values_list("lesion_code", flat=True)) == [f"N{winner:02d}"]
    saved = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_SAVED, object_id=str(tr.pk))
    assert saved.count() == 1
    _chains_verify()


def test_racing_timepoint_creation_one_winner(tx_db: None, trial_with_reads: Any, manager: Any) -> None:
    """16 sessions of the read manager add the same next visit at once: one timepoint (with a
    draft per read), the others answer 409."""
    subject = trial_with_reads.subject
    before = ImagingTimepoint.objects.filter(subject=subject).count()
    clients = [client_for(manager) for _ in range(THREADS)]
    body = {"visit_label": "WEEK18", "visit_number": 3, "scan_date_earliest": "2025-05-20"}
    url = f"{API}/subjects/{subject.pk}/timepoints/"
    statuses = race([lambda c=c: c.post(url, body, format="json") for c in clients])
    assert Counter(statuses) == Counter({201: 1, 409: THREADS - 1}), statuses
    created = ImagingTimepoint.objects.filter(subject=subject, visit_label="WEEK18").get()
    assert created.sequence == before + 1 == ImagingTimepoint.objects.filter(subject=subject).count()
    assert TimepointRead.objects.filter(timepoint=created).count() == 2
    assert AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_CREATED).count() == before + 1
    _chains_verify()


def test_racing_adjudication_decisions_one_winner(
    tx_db: None, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, password: str
) -> None:
    """16 sessions of the assigned adjudicator decide the same open case at once (half choose
    A, half B): one decision is signed and accepted, the others answer 409."""
    readers = (reader_a, reader_b)
    trial = make_trial(manager, readers, [adjudicator], {"variables": ["bor"], "bor_confirmed": False})
    tw = make_subject_with_reads(trial, manager, readers, followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    case = AdjudicationCase.objects.get(subject=tw.subject, status=AdjudicationStatus.OPEN)
    clients = [client_for(adjudicator) for _ in range(THREADS)]
    url = f"{API}/adjudications/{case.pk}/decide/"

    def job(i: int) -> Callable[[], Any]:
        body = {
            "chosen": "AB"[i % 2],
            "rationale": f"session {i}",
            "password": password,
            "printed_name": adjudicator.get_full_name(),
        }
        return lambda: clients[i].post(url, body, format="json")

    statuses = race([job(i) for i in range(THREADS)])
    assert Counter(statuses) == Counter({200: 1, 409: THREADS - 1}), statuses
    winner = statuses.index(200)
    case.refresh_from_db()
    assert case.status == AdjudicationStatus.DECIDED and case.rationale == f"session {winner}"
    accepted = AcceptedRead.objects.get(subject=tw.subject)
    assert accepted.basis == AcceptanceBasis.ADJUDICATION and accepted.read.slot == case.chosen_slot
    assert AuditEvent.objects.filter(event_type=AuditEventType.ADJUDICATION_DECIDED).count() == 1
    _chains_verify()
