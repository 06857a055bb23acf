"""API fixtures: token clients for each persona and helpers for the If-Match dance."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import (
    TrialWithReads,
    built_once_per_module,
    make_subject_with_reads,
    personas,
    save_baseline,
    save_followup,
    sign,
)
from tests.trialreads.services.test_adjudication_service import PD, PR, both
from trialreads.models import (
    AdjudicationCase,
    AuditEvent,
    Lesion,
    Measurement,
    NonTargetRating,
    Signature,
    TimepointRead,
)
from trialreads.models.endpoint import EndpointJob
from trialreads.services import confirmation as confirmation_services
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services

API = "/api"
COMMITTED_SCHEMA = Path(__file__).resolve().parents[3] / "trialreads" / "api" / "openapi.yaml"


def client_for(user: Any | None) -> APIClient:
    """A client authenticated with the user's API token (anonymous when ``user`` is None)."""
    client = APIClient()
    if user is not None:
        _, key = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
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


def build_base(twr: TrialWithReads, reader_a: Any, reader_b: Any) -> dict[str, Any]:
    for read, user in ((twr.read_a, reader_a), (twr.read_b, reader_b)):
        tr = twr.tr(read, 0)
        save_baseline(tr, user)
        sign(tr, user)
    save_followup(twr.tr(twr.read_b, 1), reader_b)
    return {
        "trial": twr.trial,
        "subject": twr.subject,
        "read_a": twr.read_a,
        "read_b": twr.read_b,
        "tr_a0": twr.tr(twr.read_a, 0),
        "tr_b0": twr.tr(twr.read_b, 0),
        "tr_a1": twr.tr(twr.read_a, 1),
        "tr_b1": twr.tr(twr.read_b, 1),
        "twr": twr,
    }


@pytest.fixture(scope="module")
def _module_base(
    request: pytest.FixtureRequest, _module_trial_with_reads: TrialWithReads | None
) -> dict[str, Any] | None:
    if _module_trial_with_reads is None:
        return None

    def build() -> dict[str, Any]:
        users = personas()
        return build_base(copy.deepcopy(_module_trial_with_reads), users["reader_a"], users["reader_b"])

    return built_once_per_module(request, "base", build)


@pytest.fixture
def base(
    _module_base: dict[str, Any] | None, trial_with_reads: TrialWithReads, reader_a: Any, reader_b: Any
) -> dict[str, Any]:
    """S-001: both readers signed the baseline; B saved (not signed) week 6."""
    if _module_base is not None:
        return copy.deepcopy(_module_base)
    return build_base(trial_with_reads, reader_a, reader_b)


def build_world(base: dict[str, Any], reader_a: Any, reader_b: Any, manager: Any) -> dict[str, Any]:
    adj = make_subject_with_reads(base["trial"], manager, (reader_a, reader_b), code="S-ADJ", followups=1)
    both(adj, (reader_a, reader_b), 0)
    both(adj, (reader_a, reader_b), 1, PR, PD)
    # A finished endpoint computation and a built export batch (run in-process: the test
    # transaction never commits, so on-commit enqueueing would not fire).
    endpoint_services.endpoints_compute(trial_id=base["trial"].pk, task_id="fixture")
    batch = export_services.export_request(trial_id=base["trial"].pk, actor=manager)
    export_services.export_build(batch_id=batch.pk, task_id="fixture")
    contact = confirmation_services.sponsor_contact_create(
        trial_id=base["trial"].pk, name="Sponsor desk", email="desk@sponsor.example", actor=manager
    )
    return {
        **base,
        "case": AdjudicationCase.objects.get(subject=adj.subject),
        "job": EndpointJob.objects.get(trial=base["trial"]),
        "batch": batch,
        "contact": contact,
    }


@pytest.fixture(scope="module")
def _module_world(
    request: pytest.FixtureRequest,
    _module_base: dict[str, Any] | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], Path] | None:
    """``world`` built once for the module, its export files in a module folder that each
    test gets a copy of (files are not rolled back with the rows)."""
    if _module_base is None:
        return None
    media = tmp_path_factory.mktemp("world-media")

    def build() -> dict[str, Any]:
        users = personas()
        with override_settings(MEDIA_ROOT=str(media)):
            return build_world(
                copy.deepcopy(_module_base), users["reader_a"], users["reader_b"], users["manager"]
            )

    built = built_once_per_module(request, "world", build)
    return None if built is None else (built, media)


@pytest.fixture
def world(
    _module_world: tuple[dict[str, Any], Path] | None,
    base: dict[str, Any],
    reader_a: Any,
    reader_b: Any,
    manager: Any,
    settings: Any,
    tmp_path: Path,
) -> dict[str, Any]:
    """``base`` plus S-ADJ: both readers signed baseline and week 6 (PR vs PD), so an
    adjudication case is open and assigned to the adjudicator."""
    settings.MEDIA_ROOT = str(tmp_path)
    if _module_world is not None:
        built, media = _module_world
        shutil.copytree(media, tmp_path, dirs_exist_ok=True)
        return copy.deepcopy(built)
    return build_world(base, reader_a, reader_b, manager)
