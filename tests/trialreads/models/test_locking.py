"""Signed data is locked at every layer: services (409), models and managers (T-LOCK-ORM,
T-AUDIT-BYPASS) and database triggers (T-LOCK-DB), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from tests.conftest import save_baseline, sign
from trialreads.errors import AuditBypass, Locked
from trialreads.models import Lesion, Measurement, NonTargetRating, Signature, TimepointRead
from trialreads.services import reads as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(trial_with_reads: Any, reader_a: Any) -> TimepointRead:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    tr.refresh_from_db()
    return tr


def _fingerprint(tr: TimepointRead) -> str:
    return svc.content_sha256(tr)


def test_orm_instance_writes_on_locked_data_raise(signed: TimepointRead) -> None:
    before = _fingerprint(signed)
    m = Measurement.objects.filter(timepoint_read=signed).select_related("lesion").first()
    assert m is not None
    m.value_mm = Decimal("1.0")
    with pytest.raises(Locked):
        m.save()
    with pytest.raises(Locked):
        m.delete()
    rating = NonTargetRating.objects.get(timepoint_read=signed)
    rating.status = "absent"
    with pytest.raises(Locked):
        rating.save()
    lesion = m.lesion
    lesion.organ = "spleen"
    with pytest.raises(Locked):
        lesion.save()
    with pytest.raises(Locked):
        lesion.delete()
    with pytest.raises(Locked):
        Measurement(timepoint_read=signed, lesion=lesion, value_mm=Decimal("3.0")).save()
    signed.content_sha256 = "0" * 64
    with pytest.raises(Locked):
        signed.save()
    with pytest.raises(Locked):
        signed.delete()
    with pytest.raises(Locked):
        Signature.objects.get(timepoint_read=signed).delete()
    assert _fingerprint(signed) == before


@pytest.mark.parametrize(
    "operation",
    [
        lambda tr: Measurement.objects.filter(timepoint_read=tr).update(value_mm=Decimal("1.0")),
        lambda tr: Measurement.objects.filter(timepoint_read=tr).delete(),
        lambda tr: Measurement.objects.bulk_update(
            list(Measurement.objects.filter(timepoint_read=tr)), ["value_mm"]
        ),
        lambda tr: Measurement.objects.bulk_create(
            [Measurement(timepoint_read=tr, lesion=Lesion.objects.first())]
        ),
        lambda tr: tr.measurements.update(value_mm=Decimal("2.0")),
        lambda tr: Lesion.objects.filter(read=tr.read).update(organ="x"),
        lambda tr: TimepointRead.objects.filter(pk=tr.pk).update(locked=False),
        lambda tr: Signature.objects.filter(timepoint_read=tr).update(content_sha256="0" * 64),
        lambda tr: NonTargetRating.objects.filter(timepoint_read=tr).delete(),
    ],
    ids=[
        "update",
        "delete",
        "bulk_update",
        "bulk_create",
        "related-update",
        "lesion-update",
        "unlock-by-update",
        "signature-update",
        "rating-delete",
    ],
)
def test_bulk_writes_on_audited_models_raise(signed: TimepointRead, operation: Any) -> None:
    before = _fingerprint(signed)
    with pytest.raises(AuditBypass):
        operation(signed)
    signed.refresh_from_db()
    assert signed.locked and _fingerprint(signed) == before


def _raw(sql: str, params: list[Any]) -> None:
    # A savepoint, so that PostgreSQL's aborted statement does not poison the test transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    ("sql", "target"),
    [
        ("UPDATE trialreads_measurement SET value_mm = 1.0 WHERE timepoint_read_id = %s", "tr"),
        ("DELETE FROM trialreads_measurement WHERE timepoint_read_id = %s", "tr"),
        ("UPDATE trialreads_nontargetrating SET status = 'absent' WHERE timepoint_read_id = %s", "tr"),
        ("DELETE FROM trialreads_nontargetrating WHERE timepoint_read_id = %s", "tr"),
        ("UPDATE trialreads_timepointread SET content_sha256 = 'x' WHERE id = %s", "tr"),
        ("DELETE FROM trialreads_timepointread WHERE id = %s", "tr"),
        ("UPDATE trialreads_lesion SET organ = 'spleen' WHERE read_id = %s", "read"),
        ("DELETE FROM trialreads_lesion WHERE read_id = %s", "read"),
        ("UPDATE trialreads_signature SET content_sha256 = 'x' WHERE timepoint_read_id = %s", "tr"),
        ("DELETE FROM trialreads_signature WHERE timepoint_read_id = %s", "tr"),
    ],
    ids=[
        "measurement-update",
        "measurement-delete",
        "rating-update",
        "rating-delete",
        "tr-update",
        "tr-delete",
        "lesion-update",
        "lesion-delete",
        "signature-update",
        "signature-delete",
    ],
)
def test_raw_sql_on_locked_data_is_blocked_by_triggers(signed: TimepointRead, sql: str, target: str) -> None:
    before = _fingerprint(signed)
    with pytest.raises(IntegrityError, match="trialreads: s"):
        _raw(sql, [signed.pk if target == "tr" else signed.read_id])
    assert _fingerprint(signed) == before
    assert Signature.objects.get(timepoint_read=signed).content_sha256 == before


def test_raw_insert_into_locked_timepoint_read_is_blocked(signed: TimepointRead) -> None:
    fresh = Lesion(
        read=signed.read, lesion_code="T9", kind="TARGET", organ="spleen", first_timepoint=signed.timepoint
    )
    fresh.save()
    with pytest.raises(IntegrityError, match="locked"):
        _raw(
            "INSERT INTO trialreads_measurement (timepoint_read_id, lesion_id, state, value_mm, fragments_mm,"
            " coalesced_with, coalesced_into, equivocal)"
            " VALUES (%s, %s, 'MEASURED', 2.0, '[]', '[]', '', %s)",
            [signed.pk, fresh.pk, False],
        )
    assert not Measurement.objects.filter(lesion=fresh).exists()


def test_draft_data_is_writable_by_raw_sql(trial_with_reads: Any, reader_a: Any) -> None:
    """The triggers are conditional: a draft is not locked."""
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    _raw("UPDATE trialreads_measurement SET value_mm = 33.0 WHERE timepoint_read_id = %s", [tr.pk])
    assert set(Measurement.objects.filter(timepoint_read=tr).values_list("value_mm", flat=True)) == {
        Decimal("33.0")
    }


def test_unlock_flag_flip_is_the_one_allowed_change(signed: TimepointRead) -> None:
    """What the unlock service relies on; any other column change while locked is refused."""
    _raw(
        "UPDATE trialreads_timepointread SET locked = %s, status = 'DRAFT' WHERE id = %s", [False, signed.pk]
    )
    _raw("UPDATE trialreads_measurement SET value_mm = 44.0 WHERE timepoint_read_id = %s", [signed.pk])
    # The signature no longer covers the content: detected (T-SIG-LINK).
    sig = Signature.objects.get(timepoint_read=signed)
    assert sig.content_sha256 != svc.content_sha256(signed)


def test_check_constraints(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    m = Measurement.objects.filter(timepoint_read=tr).first()
    assert m is not None
    for value in ("1000.1", "-1.0"):
        with pytest.raises(IntegrityError):
            _raw("UPDATE trialreads_measurement SET value_mm = " + value + " WHERE id = %s", [m.pk])
    with pytest.raises(IntegrityError):
        _raw("UPDATE trialreads_measurement SET value_mm = NULL, state = 'MEASURED' WHERE id = %s", [m.pk])
    with pytest.raises(IntegrityError):
        _raw(
            "UPDATE trialreads_lesion SET lesion_code = 'T2' WHERE read_id = %s AND lesion_code = 'T1'",
            [tr.read_id],
        )
