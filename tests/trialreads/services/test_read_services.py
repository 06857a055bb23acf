"""Reader workflow services: baseline, follow-up, sequential signing, sign, unlock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import BASELINE_TARGETS, save_baseline, save_followup, sign
from tests.factories import PASSWORD
from trialreads.choices import AuditEventType, LesionKind, ReadStatus, TimepointReadStatus
from trialreads.errors import Conflict, PermissionDenied, ValidationError
from trialreads.models import AuditEvent, Lesion, Measurement, NonTargetRating, Signature
from trialreads.services import reads as svc
from trialreads.services.audit import verify_chain

pytestmark = pytest.mark.django_db


def _events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind).order_by("chain_id", "seq"))


def test_baseline_save_writes_lesions_values_and_audit(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    saved = save_baseline(tr, reader_a)

    assert saved.version == 2 and saved.saved_at is not None and len(saved.content_sha256) == 64
    codes = dict(Lesion.objects.filter(read=tr.read).values_list("lesion_code", "kind"))
    assert codes == {
        "T1": LesionKind.TARGET,
        "T2": LesionKind.TARGET,
        "T3": LesionKind.TARGET,
        "NT1": LesionKind.NON_TARGET,
    }
    values = dict(
        Measurement.objects.filter(timepoint_read=tr).values_list("lesion__lesion_code", "value_mm")
    )
    assert values == {"T1": Decimal("50.0"), "T2": Decimal("30.0"), "T3": Decimal("20.0")}
    assert NonTargetRating.objects.get(timepoint_read=tr).status == "present"
    event = _events(AuditEventType.TIMEPOINT_READ_SAVED)[-1]
    assert event.actor_username == "reader_a" and event.object_id == str(tr.pk)
    assert event.after["content_sha256"] == saved.content_sha256
    trial_with_reads.read_a.refresh_from_db()
    assert trial_with_reads.read_a.status == ReadStatus.IN_PROGRESS
    assert verify_chain(trial_with_reads.trial.chain_id).ok


def test_resave_replaces_draft_content(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    fewer = (svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("51.5")),)
    save_baseline(tr, reader_a, targets=fewer, non_targets=())
    assert list(Lesion.objects.filter(read=tr.read).values_list("lesion_code", flat=True)) == ["T1"]
    assert Measurement.objects.get(timepoint_read=tr).value_mm == Decimal("51.5")


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ((svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("9.9")),), "targets[0].value_mm"),
        (
            (svc.TargetInput(code="T1", organ="node", value_mm=Decimal("14.9"), is_node=True),),
            "targets[0].value_mm",
        ),
        ((svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("-0.0")),), "targets[0].value_mm"),
        ((svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("12.25")),), "targets[0].value_mm"),
        ((svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("1000.1")),), "targets[0].value_mm"),
        ((svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("NaN")),), "targets[0].value_mm"),
        ((svc.TargetInput(code="T1", organ="liver", value_mm=12.0),), "targets[0].value_mm"),  # type: ignore[arg-type]
        (
            (
                svc.TargetInput(code="T1", organ="liver", value_mm=Decimal("20")),
                svc.TargetInput(code="T1", organ="spleen", value_mm=Decimal("20")),
            ),
            "targets[1].code",
        ),
        ((svc.TargetInput(code="T 1", organ="liver", value_mm=Decimal("20")),), "targets[0].code"),
        ((svc.TargetInput(code="T1", organ="Leber\u00e9", value_mm=Decimal("20")),), "targets[0].organ"),
        (
            tuple(
                svc.TargetInput(code=f"T{i}", organ=o, value_mm=Decimal("20"))
                for i, o in enumerate(["liver", "lung", "spleen", "brain", "kidney", "adrenal"], 1)
            ),
            "targets",
        ),
        (
            tuple(
                svc.TargetInput(code=f"T{i}", organ=o, value_mm=Decimal("20"))
                for i, o in enumerate(["left lung", "right lung", "lung"], 1)
            ),
            "targets",
        ),
        (
            tuple(
                svc.TargetInput(code=f"T{i}", organ=o, value_mm=Decimal("20"), is_node=True)
                for i, o in enumerate(["axillary", "mediastinal", "inguinal"], 1)
            ),
            "targets",
        ),
    ],
    ids=[
        "lt10mm",
        "node-lt15mm",
        "minus-zero",
        "two-decimals",
        "gt1000",
        "nan",
        "float",
        "duplicate",
        "bad-code",
        "non-ascii-organ",
        "six-targets",
        "three-lung",
        "three-nodes",
    ],
)
def test_invalid_baseline_changes_nothing(
    trial_with_reads: Any, reader_a: Any, targets: Any, field: str
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    counts = (Lesion.objects.count(), Measurement.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as exc:
        save_baseline(tr, reader_a, targets=targets, non_targets=())
    assert field in exc.value.errors, exc.value.errors
    assert (Lesion.objects.count(), Measurement.objects.count(), AuditEvent.objects.count()) == counts
    tr.refresh_from_db()
    assert tr.version == 1


def test_stale_version_is_a_conflict(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    with pytest.raises(Conflict):
        svc.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk,
            targets=BASELINE_TARGETS,
            non_targets=(),
            expected_version=1,
            actor=reader_a,
        )


def test_followup_needs_signed_baseline_then_saves(trial_with_reads: Any, reader_a: Any) -> None:
    read = trial_with_reads.read_a
    baseline, week6 = trial_with_reads.tr(read, 0), trial_with_reads.tr(read, 1)
    save_baseline(baseline, reader_a)
    with pytest.raises(Conflict, match="sequential"):
        save_followup(week6, reader_a)
    sign(baseline, reader_a)
    new = (svc.NewLesionInput(code="N1", organ="liver", value_mm=Decimal("11.0")),)
    saved = save_followup(week6, reader_a, new_lesions=new)
    assert saved.version == 2
    values = dict(
        Measurement.objects.filter(timepoint_read=week6).values_list("lesion__lesion_code", "value_mm")
    )
    assert values == {
        "T1": Decimal("40.0"),
        "T2": Decimal("25.0"),
        "T3": Decimal("12.0"),
        "N1": Decimal("11.0"),
    }
    assert Lesion.objects.get(read=read, lesion_code="N1").kind == LesionKind.NEW


def test_followup_validation(trial_with_reads: Any, reader_a: Any) -> None:
    read = trial_with_reads.read_a
    baseline, week6 = trial_with_reads.tr(read, 0), trial_with_reads.tr(read, 1)
    save_baseline(baseline, reader_a)
    sign(baseline, reader_a)
    before = AuditEvent.objects.count(), Measurement.objects.count()
    cases = [
        ({"targets": followup_subset()}, "targets.T3"),
        ({"non_targets": {}}, "non_targets.NT1"),
        ({"non_targets": {"NT1": "bigger"}}, "non_targets.NT1"),
        (
            {"new_lesions": (svc.NewLesionInput(code="T1", organ="liver", value_mm=Decimal("12")),)},
            "new_lesions[0].code",
        ),
        (
            {
                "targets": (
                    *followup_subset(),
                    svc.TargetValueInput(code="T3", state="SPLIT", fragments_mm=(Decimal("3"),)),
                )
            },
            "targets[2].fragments_mm",
        ),
        (
            {
                "targets": (
                    *followup_subset(),
                    svc.TargetValueInput(code="T3", state="COALESCED_INTO", coalesced_into="T9"),
                )
            },
            "targets[2].coalesced_into",
        ),
        (
            {"targets": (*followup_subset(), svc.TargetValueInput(code="T3", state="MEASURED"))},
            "targets[2].value_mm",
        ),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as exc:
            save_followup(week6, reader_a, **kwargs)
        assert field in exc.value.errors, (field, exc.value.errors)
    assert (AuditEvent.objects.count(), Measurement.objects.count()) == before


def followup_subset() -> tuple[Any, ...]:
    return (
        svc.TargetValueInput(code="T1", value_mm=Decimal("40")),
        svc.TargetValueInput(code="T2", value_mm=Decimal("25")),
    )


def test_followup_states_store_what_enters_the_sum(trial_with_reads: Any, reader_a: Any) -> None:
    read = trial_with_reads.read_a
    baseline, week6 = trial_with_reads.tr(read, 0), trial_with_reads.tr(read, 1)
    save_baseline(baseline, reader_a)
    sign(baseline, reader_a)
    targets = (
        svc.TargetValueInput(code="T1", state="SPLIT", fragments_mm=(Decimal("20.5"), Decimal("10.0"))),
        svc.TargetValueInput(code="T2", state="TOO_SMALL"),
        svc.TargetValueInput(code="T3", state="NOT_ASSESSED"),
    )
    save_followup(week6, reader_a, targets=targets)
    rows = {
        m.lesion.lesion_code: m
        for m in Measurement.objects.filter(timepoint_read=week6).select_related("lesion")
    }
    assert rows["T1"].value_mm == Decimal("30.5") and rows["T1"].fragments_mm == ["20.5", "10.0"]
    assert rows["T2"].value_mm == Decimal("5.0")
    assert rows["T3"].value_mm is None


def test_sign_locks_and_records_signature(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    signature = sign(tr, reader_a)
    tr.refresh_from_db()
    assert tr.locked and tr.status == TimepointReadStatus.SIGNED
    assert signature.content_sha256 == tr.content_sha256 == svc.content_sha256(tr)
    assert signature.printed_name == "Ada Reader" and signature.meaning
    assert signature.signed_at.utcoffset().total_seconds() == 0
    event = _events(AuditEventType.TIMEPOINT_READ_SIGNED)[-1]
    assert event.after["content_sha256"] == signature.content_sha256
    with pytest.raises(Conflict):
        save_baseline(tr, reader_a)
    with pytest.raises(Conflict):
        sign(tr, reader_a)


def test_sign_requires_saved_content(trial_with_reads: Any, reader_a: Any) -> None:
    with pytest.raises(Conflict, match="save"):
        sign(trial_with_reads.tr(trial_with_reads.read_a, 0), reader_a)


def test_signing_a_later_timepoint_first_is_refused(trial_with_reads: Any, reader_a: Any) -> None:
    week6 = trial_with_reads.tr(trial_with_reads.read_a, 1)
    with pytest.raises(Conflict, match="sequential"):
        sign(week6, reader_a)


def test_all_signed_completes_the_read(trial_with_reads: Any, reader_a: Any) -> None:
    read = trial_with_reads.read_a
    save_baseline(trial_with_reads.tr(read, 0), reader_a)
    sign(trial_with_reads.tr(read, 0), reader_a)
    for i in (1, 2):
        save_followup(trial_with_reads.tr(read, i), reader_a)
        sign(trial_with_reads.tr(read, i), reader_a)
    read.refresh_from_db()
    assert read.status == ReadStatus.COMPLETED


def test_wrong_password_is_refused_audited_and_locks_out(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    for _ in range(5):
        with pytest.raises(PermissionDenied, match="Re-authentication"):
            sign(tr, reader_a, password="wrong")
    assert len(_events(AuditEventType.SIGN_FAILED)) == 5
    # Sixth attempt, even with the right password: locked out, and audited.
    with pytest.raises(PermissionDenied, match="locked"):
        sign(tr, reader_a, password=PASSWORD)
    assert len(_events(AuditEventType.SIGN_FAILED)) == 6
    tr.refresh_from_db()
    assert not tr.locked and not Signature.objects.exists()


def test_sign_needs_printed_name(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    with pytest.raises(ValidationError) as exc:
        svc.timepoint_read_sign(timepoint_read_id=tr.pk, password=PASSWORD, printed_name=" ", actor=reader_a)
    assert "printed_name" in exc.value.errors


def test_unlock_requires_manager_and_reason_then_voids(
    trial_with_reads: Any, reader_a: Any, manager: Any, adjudicator: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    signature = sign(tr, reader_a)
    with pytest.raises(PermissionDenied):
        svc.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="typo", actor=reader_a)
    with pytest.raises(ValidationError) as exc:
        svc.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="  ", actor=manager)
    assert exc.value.field == "reason"
    tr.refresh_from_db()
    assert tr.locked

    svc.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="T2 measured on wrong series", actor=manager)
    tr.refresh_from_db()
    signature.refresh_from_db()
    assert not tr.locked and tr.status == TimepointReadStatus.DRAFT
    assert signature.voided_at is not None and signature.void_reason == "T2 measured on wrong series"
    event = _events(AuditEventType.TIMEPOINT_READ_UNLOCKED)[-1]
    assert event.reason == "T2 measured on wrong series" and event.actor_username == "manager"

    save_baseline(tr, reader_a)  # editable again
    second = sign(tr, reader_a)  # re-sign creates a new signature
    assert second.pk != signature.pk
    assert Signature.objects.filter(timepoint_read=tr).count() == 2
    assert verify_chain(trial_with_reads.trial.chain_id).ok


def test_unlock_only_latest_signed_timepoint(trial_with_reads: Any, reader_a: Any, manager: Any) -> None:
    read = trial_with_reads.read_a
    save_baseline(trial_with_reads.tr(read, 0), reader_a)
    sign(trial_with_reads.tr(read, 0), reader_a)
    save_followup(trial_with_reads.tr(read, 1), reader_a)
    sign(trial_with_reads.tr(read, 1), reader_a)
    with pytest.raises(Conflict, match="later"):
        svc.timepoint_read_unlock(
            timepoint_read_id=trial_with_reads.tr(read, 0).pk, reason="x", actor=manager
        )
    with pytest.raises(Conflict, match="not signed"):
        svc.timepoint_read_unlock(
            timepoint_read_id=trial_with_reads.tr(read, 2).pk, reason="x", actor=manager
        )


def test_every_stored_datetime_is_aware_utc(trial_with_reads: Any, reader_a: Any, manager: Any) -> None:
    """T-UTC over the core models after a save, a signature and an unlock."""
    from django.apps import apps
    from django.db import models

    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    svc.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="check", actor=manager)
    checked = 0
    for model in apps.get_app_config("trialreads").get_models():
        fields = [f.name for f in model._meta.get_fields() if isinstance(f, models.DateTimeField)]
        for row in model._base_manager.values(*fields) if fields else ():
            for value in row.values():
                if value is not None:
                    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0
                    checked += 1
    assert checked > 20
