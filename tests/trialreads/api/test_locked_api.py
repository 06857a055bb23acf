"""T-LOCK-API, T-SIG-REAUTH, T-UNLOCK, T-AUTHZ-ESCALATE over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TrialWithReads, save_baseline, sign
from tests.trialreads.api.conftest import API, BASELINE_BODY, counts, etag_of
from trialreads import conf
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, Signature, TimepointRead

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(trial_with_reads: TrialWithReads, reader_a: Any) -> TimepointRead:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    tr.refresh_from_db()
    return tr


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "baseline/", BASELINE_BODY),
        ("patch", "baseline/", {"targets": [{"code": "T1", "organ": "liver", "value_mm": 10.0}]}),
        (
            "patch",
            "baseline/",
            {"non_targets": [{"code": "NT1", "organ": "bone"}, {"code": "NT2", "organ": "skin"}]},
        ),
        ("put", "followup/", {"targets": []}),
        ("delete", "", None),
        ("delete", "baseline/", None),
        ("put", "", BASELINE_BODY),
        ("patch", "", BASELINE_BODY),
    ],
)
def test_signed_read_refuses_edits(
    method: str, path: str, body: Any, signed: TimepointRead, api: Any
) -> None:
    client = api["reader_a"]
    tag = etag_of(client, signed.pk)
    before = counts()
    response = getattr(client, method)(
        f"{API}/timepoint-reads/{signed.pk}/{path}", body, format="json", HTTP_IF_MATCH=tag
    )
    # Edits through the write endpoints: 409 (locked); the follow-up form on a baseline: 409
    # too; DELETE and writes on the read-only resource: 405 (nothing in the API deletes).
    expected = 405 if method == "delete" or path == "" else 409
    assert response.status_code == expected, response.content
    assert counts() == before
    stored = TimepointRead.objects.get(pk=signed.pk)
    assert stored.content_sha256 == signed.content_sha256 and stored.version == signed.version
    verify = client.get(f"{API}/timepoint-reads/{signed.pk}/signature/verify/").json()
    assert verify == {**verify, "signed": True, "valid": True}


def test_wrong_password_is_refused_and_audited(
    trial_with_reads: TrialWithReads, api: Any, reader_a: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    client = api["reader_a"]
    failures = AuditEvent.objects.filter(event_type=AuditEventType.SIGN_FAILED, actor_id=reader_a.pk)
    response = client.post(
        f"{API}/timepoint-reads/{tr.pk}/sign/",
        {"password": "wrong", "printed_name": "Ada"},
        format="json",
        HTTP_IF_MATCH=etag_of(client, tr.pk),
    )
    assert response.status_code == 403
    assert failures.count() == 1
    assert failures.get().object_id == str(tr.pk)
    tr.refresh_from_db()
    assert not tr.locked and not Signature.objects.filter(timepoint_read=tr).exists()


def test_lockout_after_repeated_failures(
    trial_with_reads: TrialWithReads, api: Any, reader_a: Any, password: str
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    client = api["reader_a"]
    url = f"{API}/timepoint-reads/{tr.pk}/sign/"
    for _ in range(conf.get("SIGN_MAX_FAILURES")):
        r = client.post(
            url,
            {"password": "nope", "printed_name": "Ada"},
            format="json",
            HTTP_IF_MATCH=etag_of(client, tr.pk),
        )
        assert r.status_code == 403
    r = client.post(
        url,
        {"password": password, "printed_name": "Ada"},
        format="json",
        HTTP_IF_MATCH=etag_of(client, tr.pk),
    )
    assert r.status_code == 403 and "locked" in r.json()["detail"]
    assert not TimepointRead.objects.get(pk=tr.pk).locked


def test_sign_with_stale_etag_is_412(
    trial_with_reads: TrialWithReads, api: Any, reader_a: Any, password: str
) -> None:
    """The signature covers the content the signer saw: a changed read cannot be signed blind."""
    client = api["reader_a"]
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    seen = etag_of(client, tr.pk)
    save_baseline(tr, reader_a)  # another session saved meanwhile
    r = client.post(
        f"{API}/timepoint-reads/{tr.pk}/sign/",
        {"password": password, "printed_name": "Ada"},
        format="json",
        HTTP_IF_MATCH=seen,
    )
    assert r.status_code == 412
    assert not Signature.objects.filter(timepoint_read=tr).exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("baseline/", {**BASELINE_BODY, "reader_id": 1}),
        ("baseline/", {**BASELINE_BODY, "status": "SIGNED"}),
        ("baseline/", {**BASELINE_BODY, "locked": True, "version": 99}),
        ("sign/", {"password": "x", "printed_name": "Ada", "signed_by": 1}),
        ("sign/", {"password": "x", "printed_name": "Ada", "signer": 1, "signed_at": "2020-01-01T00:00:00Z"}),
        ("unlock/", {"reason": "r", "actor": 1}),
    ],
)
def test_escalation_fields_are_rejected(
    path: str, body: dict[str, Any], trial_with_reads: TrialWithReads, api: Any
) -> None:
    """T-AUTHZ-ESCALATE: identity and state fields in a payload are errors, named, nothing written."""
    client = api["reader_a"]
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    before = counts()
    r = client.post if path != "baseline/" else client.put
    response = r(
        f"{API}/timepoint-reads/{tr.pk}/{path}", body, format="json", HTTP_IF_MATCH=etag_of(client, tr.pk)
    )
    assert response.status_code in (400, 403)
    if response.status_code == 400:
        extra = set(body) - {"targets", "non_targets", "password", "printed_name", "reason"}
        assert extra <= set(response.json()["errors"])
    assert counts() == before


def test_unlock_rules(signed: TimepointRead, api: Any, manager: Any, reader_a: Any, password: str) -> None:
    """T-UNLOCK: no reason -> 400, reader -> 403; manager with reason: signature voided,
    audited with the reason; signing again makes a new signature."""
    url = f"{API}/timepoint-reads/{signed.pk}/unlock/"
    mgr = api["manager"]
    assert (
        mgr.post(url, {"reason": "  "}, format="json", HTTP_IF_MATCH=etag_of(mgr, signed.pk)).status_code
        == 400
    )
    assert mgr.post(url, {}, format="json", HTTP_IF_MATCH=etag_of(mgr, signed.pk)).status_code == 400
    reader = api["reader_a"]
    assert (
        reader.post(
            url, {"reason": "mine"}, format="json", HTTP_IF_MATCH=etag_of(reader, signed.pk)
        ).status_code
        == 403
    )
    ok = mgr.post(
        url,
        {"reason": "T2 measured on the wrong series"},
        format="json",
        HTTP_IF_MATCH=etag_of(mgr, signed.pk),
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["locked"] is False
    assert ok.json()["signatures"][0]["voided_at"] is not None
    event = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_READ_UNLOCKED).get()
    assert event.reason == "T2 measured on the wrong series" and event.actor_id == manager.pk
    resign = reader.post(
        f"{API}/timepoint-reads/{signed.pk}/sign/",
        {"password": password, "printed_name": "Ada"},
        format="json",
        HTTP_IF_MATCH=etag_of(reader, signed.pk),
    )
    assert resign.status_code == 200, resign.content
    assert Signature.objects.filter(timepoint_read=signed).count() == 2
    assert Signature.objects.filter(timepoint_read=signed, voided_at__isnull=True).count() == 1
