"""API fixtures: token clients for each persona and helpers for the If-Match dance."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import TrialWithReads, save_baseline, sign
from trialreads.models import AuditEvent, Lesion, Measurement, NonTargetRating, Signature, TimepointRead

API = "/api"


def client_for(user: Any | None) -> APIClient:
    """A client authenticated with the user's API token (anonymous when ``user`` is None)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(
    reader_a: Any, reader_b: Any, adjudicator: Any, manager: Any, sponsor: Any, outsider: Any
) -> dict[str, Any]:
    """Token clients by role name (the roles of the blinding matrix)."""
    return {
        "reader_a": client_for(reader_a),
        "reader_b": client_for(reader_b),
        "adjudicator": client_for(adjudicator),
        "manager": client_for(manager),
        "sponsor": client_for(sponsor),
        "outsider": client_for(outsider),
        "anonymous": client_for(None),
    }


def etag_of(client: APIClient, tr_id: int) -> str:
    response = client.get(f"{API}/timepoint-reads/{tr_id}/")
    assert response.status_code == 200, response.content
    return str(response["ETag"])


def counts() -> dict[str, int]:
    """Rows a rejected write must leave untouched, and the audit trail's length."""
    return {
        "timepoint_read_versions": sum(TimepointRead.objects.values_list("version", flat=True)),
        "lesions": Lesion.objects.count(),
        "measurements": Measurement.objects.count(),
        "ratings": NonTargetRating.objects.count(),
        "signatures": Signature.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


BASELINE_BODY = {
    "targets": [
        {"code": "T1", "organ": "liver", "value_mm": 50.0},
        {"code": "T2", "organ": "left lung", "value_mm": 30.0},
        {"code": "T3", "organ": "mediastinal lymph node", "value_mm": 20.0, "is_node": True},
    ],
    "non_targets": [{"code": "NT1", "organ": "bone"}],
}

FOLLOWUP_BODY = {
    "targets": [
        {"code": "T1", "value_mm": 40.0},
        {"code": "T2", "value_mm": 25.0},
        {"code": "T3", "value_mm": 12.0},
    ],
    "non_targets": [{"code": "NT1", "status": "present"}],
    "new_lesions": [],
}


def signed_baselines(twr: TrialWithReads, reader_a: Any, reader_b: Any) -> None:
    """Both readers saved and signed the baseline (so the adjudicator may see it)."""
    for read, user in ((twr.read_a, reader_a), (twr.read_b, reader_b)):
        tr = twr.tr(read, 0)
        save_baseline(tr, user)
        sign(tr, user)
