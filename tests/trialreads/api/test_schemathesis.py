"""Schemathesis over the committed OpenAPI schema against the live WSGI app (10.3): every
operation, with generated parameters and bodies, as a read manager (who may call the most
operations) and as reader A. Checks: no 5xx, and every documented response body conforms
to its schema. Path ids are drawn half the time from the fixture's real objects, so the
generated requests reach the services and not only the 404 gate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from tests.trialreads.api.conftest import COMMITTED_SCHEMA

#: Examples per operation and role: about 31 operations x (10 + 5) requests in CI.
EXAMPLES = {"manager": 10, "reader_a": 5}
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _keep_test_connection() -> Iterator[None]:
    """The raw WSGI app closes the database connection at the end of each request (as in
    production); inside a test transaction that would close the test database. Django's own
    test client disconnects the same handlers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


CHECKS = (not_a_server_error, response_schema_conformance)


def _schema() -> Any:
    return schemathesis.from_dict(yaml.safe_load(COMMITTED_SCHEMA.read_text()), app=application)


def _real_ids(world: dict[str, Any]) -> list[int]:
    return sorted({obj.pk for key, obj in world.items() if hasattr(obj, "pk")})


@pytest.mark.parametrize("role", ["manager", "reader_a"])
def test_schemathesis_no_server_errors(role: str, world: dict[str, Any], request: Any) -> None:
    user = request.getfixturevalue(role)
    _, key = AuthToken.objects.create(user=user)
    headers = {"Authorization": f"Token {key}"}
    ids = _real_ids(world)
    schema = _schema()
    failures: list[str] = []
    operations = 0
    # The logouts revoke the token every other operation uses: they run last.
    ordered = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: "/auth/logout" in op.path)
    for operation in ordered:
        operations += 1
        _fuzz_operation(operation, ids, headers, failures, EXAMPLES[role])
    assert operations >= 25
    assert not failures, "\n".join(sorted(set(failures))[:20])


def _fuzz_operation(
    operation: Any, ids: list[int], headers: dict[str, str], failures: list[str], examples: int
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), real=st.one_of(st.none(), st.sampled_from(ids)))
    def run(case: Any, real: int | None) -> None:
        if real is not None and case.path_parameters and "id" in case.path_parameters:
            case.path_parameters["id"] = real
        response = case.call_wsgi(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # collect, then report every operation at once
            text = str(exc)
            first = " | ".join(text.strip().splitlines()[:6]) if text.strip() else type(exc).__name__
            curl = next((line.strip() for line in text.splitlines() if line.strip().startswith("curl")), "")
            failures.append(f"{operation.verbose_name}: {first} [{response.status_code}] {curl[:300]}")

    run()
