from __future__ import annotations

from typing import Any

from tests.api.conftest import API, BASELINE_BODY, FOLLOWUP_BODY, etag_of


def test_reader_round_trip(api: dict[str, Any], trial_with_reads: Any, password: str) -> None:
    a = api["reader_a"]
    tr0 = trial_with_reads.tr(trial_with_reads.read_a, 0)
    tag = etag_of(a, tr0.pk)
    r = a.put(f"{API}/timepoint-reads/{tr0.pk}/baseline/", BASELINE_BODY, format="json", HTTP_IF_MATCH=tag)
    assert r.status_code == 200, r.content
    r = a.post(
        f"{API}/timepoint-reads/{tr0.pk}/sign/",
        {"password": password, "printed_name": "Ada Reader"},
        format="json",
        HTTP_IF_MATCH=r["ETag"],
    )
    assert r.status_code == 200, r.content
    tr1 = trial_with_reads.tr(trial_with_reads.read_a, 1)
    r = a.put(
        f"{API}/timepoint-reads/{tr1.pk}/followup/",
        FOLLOWUP_BODY,
        format="json",
        HTTP_IF_MATCH=etag_of(a, tr1.pk),
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["responses"]["recist1.1"]["overall"] == "SD"
