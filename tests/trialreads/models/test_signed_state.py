"""One signed state per timepoint read (issue 11.4): ``locked`` and ``status`` agree both ways
in the database, and every query asks for it through ``TimepointRead.objects.signed()`` /
``signed_q`` (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.db import IntegrityError, connection, transaction

from tests.conftest import save_baseline, sign
from trialreads.choices import TimepointReadStatus
from trialreads.models import Measurement, TimepointRead, signed_q
from trialreads.services import endpoints as endpoint_services
from trialreads.services import reads as svc

pytestmark = pytest.mark.django_db

SIGNED, DRAFT = TimepointReadStatus.SIGNED, TimepointReadStatus.DRAFT
CONSTRAINT = "timepoint_read_signed_iff_locked"
MIGRATION = importlib.import_module("trialreads.migrations.0011_signed_state")


def _refused(write: Any) -> None:
    with pytest.raises(IntegrityError) as err, transaction.atomic():
        write()
    assert CONSTRAINT in str(err.value) or "check constraint" in str(err.value).lower()


@pytest.mark.parametrize(("locked", "status"), [(True, DRAFT), (False, SIGNED)])
def test_constraint_refuses_each_inconsistent_update(
    trial_with_reads: Any, reader_a: Any, locked: bool, status: str
) -> None:
    draft = trial_with_reads.tr(trial_with_reads.read_a, 0)
    rows = TimepointRead._base_manager.filter(pk=draft.pk)
    _refused(lambda: rows.update(locked=locked, status=status))
    save_baseline(draft, reader_a)
    sign(draft, reader_a)
    # From the signed state the triggers allow only locked -> false; the constraint then
    # refuses leaving the status SIGNED (an unlock sets DRAFT in the same UPDATE).
    _refused(lambda: rows.update(locked=False))
    assert rows.get().locked is True and rows.get().status == SIGNED


@pytest.mark.parametrize(("locked", "status"), [(True, DRAFT), (False, SIGNED)])
def test_constraint_refuses_each_inconsistent_insert(
    trial_with_reads: Any, locked: bool, status: str
) -> None:
    source = trial_with_reads.tr(trial_with_reads.read_a, 0)
    TimepointRead._base_manager.filter(pk=source.pk).delete()  # unlocked: the triggers allow it
    _refused(
        lambda: TimepointRead._base_manager.create(
            read_id=source.read_id, timepoint_id=source.timepoint_id, locked=locked, status=status
        )
    )


def test_consistent_raw_writes_pass_and_sign_unlock_keep_the_state(
    trial_with_reads: Any, reader_a: Any, manager: Any
) -> None:
    w = trial_with_reads
    tr = w.tr(w.read_a, 0)
    TimepointRead._base_manager.filter(pk=tr.pk).update(locked=True, status=SIGNED)
    TimepointRead._base_manager.filter(pk=tr.pk).update(locked=False, status=DRAFT)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    assert list(TimepointRead.objects.signed().filter(read=w.read_a)) == [tr]
    svc.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="query from QC", actor=manager)
    tr.refresh_from_db()
    assert (tr.locked, tr.status) == (False, DRAFT)
    assert not TimepointRead.objects.signed().filter(read=w.read_a).exists()
    assert TimepointRead.objects.unsigned().filter(read=w.read_a).count() == len(w.timepoints)


def test_signed_is_the_state_every_consumer_reads(trial_with_reads: Any, reader_a: Any, manager: Any) -> None:
    """The endpoint inputs (and the exports, built from the same signed rows) follow
    ``signed()``: a signed baseline is an engine input, an unlocked one is not."""
    w = trial_with_reads
    tr = w.tr(w.read_a, 0)
    save_baseline(tr, reader_a)

    def read_slots() -> set[int]:
        [subject] = endpoint_services.load_trial_inputs(w.trial.pk).subjects
        return set(subject.reads)

    def signed_measurement_trs() -> set[int]:
        rows = Measurement.objects.filter(signed_q("timepoint_read"), timepoint_read__read=w.read_a)
        return set(rows.values_list("timepoint_read_id", flat=True))

    assert read_slots() == set() and signed_measurement_trs() == set()
    sign(tr, reader_a)
    assert read_slots() == {w.read_a.slot} and signed_measurement_trs() == {tr.pk}
    svc.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="query from QC", actor=manager)
    assert read_slots() == set() and signed_measurement_trs() == set()


_LOOKUPS = {"filter", "exclude", "get", "Q"}


def _asks_directly(keyword: ast.keyword) -> bool:
    name = keyword.arg or ""
    if name == "locked" or name.endswith(("timepoint_read__locked", "timepoint_read__status")):
        return True
    if "timepoint_reads__" in name and name.rsplit("__", 1)[-1] in {"locked", "status"}:
        return True
    value = ast.unparse(keyword.value)
    return name.endswith("status") and value.startswith("TimepointReadStatus.")


def test_no_query_asks_for_status_or_locked_directly() -> None:
    """Guard: outside the model module (the one definition) and the migrations, no
    ``filter``/``exclude``/``get``/``Q`` names either field; writes (``tr.locked = ...``, an
    ``update(...)``, a constructor) are not lookups and are not matched."""
    root = Path(__file__).resolve().parents[3] / "trialreads"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts or path == root / "models" / "read.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in _LOOKUPS and any(_asks_directly(k) for k in node.keywords):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


def test_the_guard_catches_each_old_filter() -> None:
    for source in (
        "TimepointRead.objects.filter(read=r, locked=True)",
        "qs.exclude(locked=False)",
        "Measurement.objects.filter(timepoint_read__status=signed)",
        "Q(timepoint_read__locked=True)",
        "TimepointRead.objects.filter(status=TimepointReadStatus.SIGNED)",
        "Read.objects.filter(timepoint_reads__locked=True)",
    ):
        [call] = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
        assert any(_asks_directly(k) for k in call.keywords), source
    other = ast.parse("Read.objects.filter(status=ReadStatus.COMPLETED)")
    [call] = [n for n in ast.walk(other) if isinstance(n, ast.Call)]
    assert not any(_asks_directly(k) for k in call.keywords)


def _drop_constraint() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The fixture's deferred foreign-key checks must run before the table is altered.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE trialreads_timepointread DROP CONSTRAINT {CONSTRAINT}")
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")


def _restore_constraint() -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
    # PostgreSQL: the DROP is undone with the test's transaction.


def test_migration_check_names_inconsistent_rows_and_changes_nothing(trial_with_reads: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    _drop_constraint()
    try:
        TimepointRead._base_manager.filter(pk=tr.pk).update(status=SIGNED)  # SIGNED, unlocked
        editor = type("Editor", (), {"connection": connection})()
        with pytest.raises(RuntimeError) as err:
            MIGRATION.refuse_inconsistent_rows(global_apps, editor)
        assert f"id {tr.pk} (status=SIGNED, locked=False)" in str(err.value)
        assert "nothing was changed" in str(err.value)
        assert TimepointRead._base_manager.get(pk=tr.pk).status == SIGNED
        TimepointRead._base_manager.filter(pk=tr.pk).update(status=DRAFT)
        MIGRATION.refuse_inconsistent_rows(global_apps, editor)  # consistent again: passes
    finally:
        _restore_constraint()
