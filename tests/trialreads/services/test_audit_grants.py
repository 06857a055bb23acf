"""``manage.py harden_audit_grants`` (issue 13 item 6): on PostgreSQL the application role
loses UPDATE/DELETE/TRUNCATE on the audit table (and TRUNCATE where row triggers cannot
guard) and keeps what the services need; refused on SQLite, for superusers and owners.

The PostgreSQL tests create their role inside the test transaction, so it is rolled back
with everything else (role names carry the process id: the cluster is shared).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from tests.conftest import save_baseline
from trialreads.choices import AuditEventType
from trialreads.services.audit import audit_record, verify_chain

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="roles and grants exist on PostgreSQL only (set DATABASE_URL)"
)


def _run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("harden_audit_grants", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def _sql(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None


def _can(role: str, table: str, privilege: str) -> bool:
    return bool(_sql("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])[0])


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite refusal; this run is PostgreSQL")
def test_refused_on_sqlite() -> None:
    code, output = _run("--role", "app")
    assert code == 2 and "this database is sqlite, which has no roles or grants" in output


@pytest.fixture
def app_role() -> Iterator[str]:
    """A non-owner role with every table privilege, as a careless deployment grants them."""
    role = f"tr_app_{os.getpid()}"
    _sql(f'CREATE ROLE "{role}" NOLOGIN')
    _sql(f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO "{role}"')
    _sql(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    yield role
    _sql("RESET ROLE")


def _refused_as(role: str, sql: str) -> str:
    _sql(f'SET ROLE "{role}"')
    try:
        with pytest.raises(DatabaseError) as caught, transaction.atomic():
            _sql(sql)
    finally:
        _sql("RESET ROLE")
    return str(caught.value)


@on_postgres
def test_revokes_and_the_application_still_works(app_role: str, trial_with_reads: Any, reader_a: Any) -> None:
    code, output = _run("--role", app_role)
    assert code == 0, output
    assert f'ran: REVOKE UPDATE, DELETE, TRUNCATE ON TABLE "trialreads_auditevent" FROM {app_role}' in output
    assert output.rstrip().endswith(f"OK   {app_role}: hardened")
    # Refused by privilege (not by a trigger): "permission denied".
    for sql in (
        "UPDATE trialreads_auditevent SET reason = 'x'",
        "DELETE FROM trialreads_auditevent",
        "TRUNCATE trialreads_auditevent",
        "TRUNCATE trialreads_measurement",
        "TRUNCATE trialreads_timepointread CASCADE",
        "DELETE FROM trialreads_signature",
        "DELETE FROM trialreads_chainhead",
    ):
        assert "permission denied" in _refused_as(app_role, sql), sql
    # INSERT and SELECT still work, and so do the services (drafts are deleted row by row).
    chain = trial_with_reads.trial.chain_id
    _sql(f'SET ROLE "{app_role}"')
    try:
        with transaction.atomic():
            audit_record(
                chain_id=chain, event_type=AuditEventType.AUDIT_VERIFIED, actor=reader_a, reason="as app"
            )
        tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
        save_baseline(tr, reader_a)
        save_baseline(tr, reader_a)  # replaces the draft's rows: DELETE on measurements is kept
        assert _sql("SELECT count(*) FROM trialreads_auditevent WHERE reason = 'as app'")[0] == 1
        assert verify_chain(chain).ok
    finally:
        _sql("RESET ROLE")


@on_postgres
def test_dry_run_changes_nothing(app_role: str) -> None:
    code, output = _run("--role", app_role, "--dry-run")
    assert code == 0
    assert 'would run: REVOKE UPDATE, DELETE, TRUNCATE ON TABLE "trialreads_auditevent"' in output
    assert "granted now: TRUNCATE on trialreads_auditevent" in output
    assert _can(app_role, "trialreads_auditevent", "TRUNCATE")


@on_postgres
def test_refuses_the_owner(app_role: str) -> None:
    _sql(f'ALTER TABLE trialreads_signature OWNER TO "{app_role}"')
    code, output = _run("--role", app_role)
    assert code == 2 and f"{app_role} owns trialreads_signature" in output
    assert "can always grant itself the privileges back" in output
    assert _can(app_role, "trialreads_auditevent", "UPDATE")  # nothing done


@on_postgres
def test_refuses_superusers_and_unknown_roles() -> None:
    current = _sql("SELECT current_user")[0]
    code, output = _run("--role", current)
    assert code == 2 and "is a superuser" in output
    code, output = _run("--role", "no_such_role_trialreads")
    assert code == 2 and "no role 'no_such_role_trialreads'" in output


@on_postgres
def test_privilege_left_through_public_rolls_back(app_role: str) -> None:
    _sql("GRANT UPDATE ON trialreads_auditevent TO PUBLIC")
    code, output = _run("--role", app_role)
    assert code == 1
    assert "still granted: UPDATE on trialreads_auditevent" in output and "rolled back" in output
    assert _can(app_role, "trialreads_measurement", "TRUNCATE")  # its own grant: not revoked
