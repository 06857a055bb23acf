"""A reader's work: saving baseline and follow-up assessments, signing, and unlocking.

Lock order (PostgreSQL; SQLite's IMMEDIATE transactions serialise every writer anyway):
Subject, then Read, then TimepointRead, all FOR UPDATE, and the audit ChainHead last (taken
by ``audit_record``). ``timepoint_create`` and the adjudication trigger (run inside
``timepoint_read_sign``) lock the Subject first as well, so no two services wait on each
other in opposite orders. Locking the read serialises the sequential-signing checks of its
timepoints (sign of visit 2 vs unlock of visit 1). Access is checked before the
transaction opens so that denials stay recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from trialreads import access, conf, mappers, validation
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import (
    AuditEventType,
    LesionKind,
    MeasurementState,
    NonTargetStatus,
    ReadStatus,
    TimepointReadStatus,
)
from trialreads.errors import Conflict, FieldProblem, ValidationError
from trialreads.inputs import NewLesionInput as NewLesionInput  # re-exported: the callers' import
from trialreads.inputs import NonTargetInput as NonTargetInput
from trialreads.inputs import TargetInput as TargetInput
from trialreads.inputs import TargetValueInput as TargetValueInput
from trialreads.models import (
    Lesion,
    Measurement,
    NonTargetRating,
    Read,
    Signature,
    Subject,
    TimepointRead,
)
from trialreads.models import read as read_models
from trialreads.services.adjudication import adjudication_evaluate_after_sign
from trialreads.services.audit import audit_record
from trialreads.services.auth import signature_reauthenticate
from trialreads.services.confirmation import confirmation_windows_reconcile
from trialreads.services.queue import endpoints_recompute_on_commit

MM_PLACES = read_models.MM_PLACES
#: Target states whose value is the reader's own measurement (the others are derived: 5 mm, a sum).
_COLLECTED_STATES = frozenset({MeasurementState.MEASURED, MeasurementState.COALESCED})

#: Allowed read status moves; every change goes through :func:`_set_read_status`.
READ_TRANSITIONS: dict[str, frozenset[str]] = {
    ReadStatus.ASSIGNED: frozenset({ReadStatus.IN_PROGRESS, ReadStatus.COMPLETED}),
    ReadStatus.IN_PROGRESS: frozenset({ReadStatus.COMPLETED}),
    ReadStatus.COMPLETED: frozenset({ReadStatus.IN_PROGRESS}),
}


# --- content and hashing ------------------------------------------------------------------


#: The columns the signed content is built from, fetched as plain rows (values_list) so that
#: one timepoint read (``timepoint_read_content``) and thousands at once
#: (``content_sha256_by_timepoint_read``, for ``verify_audit``) go through the same builder.
_LESION_COLUMNS = (
    "lesion__lesion_code",
    "lesion__kind",
    "lesion__organ",
    "lesion__is_node",
    "lesion__injected",
    "lesion__measurable",
)
_MEASUREMENT_COLUMNS = (
    "timepoint_read_id",
    *_LESION_COLUMNS,
    "state",
    "value_mm",
    "fragments_mm",
    "coalesced_with",
    "coalesced_into",
    "equivocal",
    "collected",
)
_RATING_COLUMNS = ("timepoint_read_id", *_LESION_COLUMNS, "status")


def _lesion_part(row: Sequence[Any]) -> dict[str, Any]:
    code, kind, organ, is_node, injected, measurable = row[1:7]
    return {
        "code": code,
        "kind": kind,
        "organ": organ,
        "is_node": is_node,
        "injected": injected,
        "measurable": measurable,
    }


def _content(
    pk: int, read_id: int, timepoint_id: int, measurements: Sequence[Any], ratings: Sequence[Any]
) -> dict[str, Any]:
    def measurement(row: Sequence[Any]) -> dict[str, Any]:
        state, value_mm, fragments_mm, coalesced_with, coalesced_into, equivocal, collected = row[7:]
        # The collected text is signed with the value; absent when empty, so the content (and
        # hash) of every read entered in the system is what it was before the field existed.
        return ({"collected": collected} if collected else {}) | {
            **_lesion_part(row),
            "state": state,
            "value_mm": value_mm,
            "fragments_mm": fragments_mm,
            "coalesced_with": coalesced_with,
            "coalesced_into": coalesced_into,
            "equivocal": equivocal,
        }

    return {
        "timepoint_read": pk,
        "read": read_id,
        "timepoint": timepoint_id,
        "measurements": sorted((measurement(m) for m in measurements), key=lambda d: d["code"]),
        "ratings": sorted(({**_lesion_part(r), "status": r[7]} for r in ratings), key=lambda d: d["code"]),
    }


def timepoint_read_content(tr: TimepointRead) -> dict[str, Any]:
    """The canonical content of a timepoint read: what a signature's hash covers."""
    measurements = Measurement._base_manager.filter(timepoint_read_id=tr.pk)
    ratings = NonTargetRating._base_manager.filter(timepoint_read_id=tr.pk)
    return _content(
        tr.pk,
        tr.read_id,
        tr.timepoint_id,
        list(measurements.values_list(*_MEASUREMENT_COLUMNS)),
        list(ratings.values_list(*_RATING_COLUMNS)),
    )


def content_sha256(tr: TimepointRead) -> str:
    return sha256_hex(canonical_json(timepoint_read_content(tr)))


def content_sha256_by_timepoint_read(timepoint_reads: QuerySet[TimepointRead]) -> dict[int, str]:
    """:func:`content_sha256` of every timepoint read in ``timepoint_reads``, in three
    queries however many there are (the queryset is used as a subquery)."""
    ids = timepoint_reads.values("pk")
    measurements: dict[int, list[Any]] = {}
    for row in Measurement._base_manager.filter(timepoint_read_id__in=ids).values_list(*_MEASUREMENT_COLUMNS):
        measurements.setdefault(row[0], []).append(row)
    ratings: dict[int, list[Any]] = {}
    for row in NonTargetRating._base_manager.filter(timepoint_read_id__in=ids).values_list(*_RATING_COLUMNS):
        ratings.setdefault(row[0], []).append(row)
    return {
        pk: sha256_hex(
            canonical_json(_content(pk, read_id, timepoint_id, measurements.get(pk, ()), ratings.get(pk, ())))
        )
        for pk, read_id, timepoint_id in timepoint_reads.values_list("pk", "read_id", "timepoint_id")
    }


# --- shared steps ----------------------------------------------------------------------------


def _own_timepoint_read(actor: Any, timepoint_read_id: int, capability: str) -> TimepointRead:
    tr = access.access_timepoint_read_for(actor, timepoint_read_id)
    trial_id = tr.read.subject.trial_id
    access.require_capability(actor, trial_id, capability, "timepoint_read", tr.pk)
    if tr.read.reader_id != actor.pk:
        access.deny_permission(actor, "timepoint_read", tr.pk, "own read")
    return tr


def _lock(timepoint_read_id: int) -> tuple[Read, TimepointRead]:
    read_id, subject_id = (
        TimepointRead.objects.filter(pk=timepoint_read_id).values_list("read_id", "read__subject_id").get()
    )
    Subject.objects.select_for_update().values_list("pk", flat=True).get(pk=subject_id)
    read = Read.objects.select_for_update().select_related("subject__trial").get(pk=read_id)
    tr = TimepointRead.objects.select_for_update().select_related("timepoint").get(pk=timepoint_read_id)
    return read, tr


def _check_editable(read: Read, tr: TimepointRead, expected_version: int | None) -> None:
    if tr.locked:
        raise Conflict("This timepoint read is signed and locked.")
    if expected_version is not None and tr.version != expected_version:
        raise Conflict(f"Stale version {expected_version}; the current version is {tr.version}.")
    earlier_unsigned = (
        TimepointRead.objects.unsigned()
        .filter(read=read, timepoint__sequence__lt=tr.timepoint.sequence)
        .exists()
    )
    if earlier_unsigned:
        raise Conflict("Sign every earlier timepoint of this read first (sequential reading).")


def _set_read_status(read: Read, status: str) -> None:
    if read.status == status:
        return
    if status not in READ_TRANSITIONS[read.status]:
        raise Conflict(f"Read cannot go from {read.status} to {status}.")
    read.status = status
    read.save(update_fields=["status"])


def _finish_write(read: Read, tr: TimepointRead, before: dict[str, Any], actor: Any, *, kind: str) -> None:
    tr.version += 1
    tr.saved_at = timezone.now()
    tr.content_sha256 = content_sha256(tr)
    tr.save(update_fields=["version", "saved_at", "content_sha256"])
    _set_read_status(read, ReadStatus.IN_PROGRESS if read.status == ReadStatus.ASSIGNED else read.status)
    audit_record(
        chain_id=read.subject.trial.chain_id,
        event_type=AuditEventType.TIMEPOINT_READ_SAVED,
        actor=actor,
        object_type="timepoint_read",
        object_id=tr.pk,
        before=before,
        after={
            "kind": kind,
            "version": tr.version,
            "content": timepoint_read_content(tr),
            "content_sha256": tr.content_sha256,
        },
    )


def _raise_if_any(problems: list[FieldProblem]) -> None:
    if problems:
        raise ValidationError(problems)


# --- baseline -----------------------------------------------------------------------------------


def timepoint_read_save_baseline(
    *,
    timepoint_read_id: int,
    targets: Sequence[TargetInput],
    non_targets: Sequence[NonTargetInput],
    expected_version: int | None,
    actor: Any,
) -> TimepointRead:
    """Save the reader's baseline: target lesions with their diameters, and non-target
    lesions (present by definition). Replaces the draft's previous content."""
    _own_timepoint_read(actor, timepoint_read_id, access.EDIT_OWN_READ)
    _raise_if_any(validation.baseline_problems(targets, non_targets))
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if not tr.timepoint.is_baseline:
            raise Conflict("This timepoint is a follow-up; use the follow-up form.")
        _check_editable(read, tr, expected_version)
        wanted = {t.code for t in targets} | {n.code for n in non_targets}
        clashing = Lesion.objects.filter(read=read, kind=LesionKind.NEW, lesion_code__in=wanted)
        if clashing.exists():
            raise ValidationError(f"{clashing.first()} is already a new lesion code in this read", "targets")
        before = timepoint_read_content(tr)
        for m in list(tr.measurements.all()):
            m.delete()
        for r in list(tr.ratings.all()):
            r.delete()
        existing = {
            lesion.lesion_code: lesion
            for lesion in Lesion.objects.filter(
                read=read, kind__in=[LesionKind.TARGET, LesionKind.NON_TARGET]
            )
        }
        for code, lesion in existing.items():
            if code not in wanted:
                lesion.delete()  # cascades to its values in later (draft) timepoint reads
        for kind, items in ((LesionKind.TARGET, targets), (LesionKind.NON_TARGET, non_targets)):
            for item in items:
                lesion = existing.get(item.code) or Lesion(read=read, lesion_code=item.code)
                lesion.kind, lesion.organ, lesion.is_node = kind, item.organ.strip(), item.is_node
                lesion.injected, lesion.measurable, lesion.first_timepoint = item.injected, True, tr.timepoint
                lesion.save()
                if kind == LesionKind.TARGET:
                    assert isinstance(item, TargetInput)
                    # a transcribed value keeps its collected precision (issue 18 item 6)
                    value = item.value_mm
                    if not item.collected:
                        value = value.quantize(validation.ONE_DECIMAL)
                    Measurement(
                        timepoint_read=tr, lesion=lesion, value_mm=value, collected=item.collected
                    ).save()
                else:
                    NonTargetRating(timepoint_read=tr, lesion=lesion, status=NonTargetStatus.PRESENT).save()
        _finish_write(read, tr, before, actor, kind="baseline")
    return tr


# --- follow-up -------------------------------------------------------------------------------------


def timepoint_read_save_followup(
    *,
    timepoint_read_id: int,
    targets: Sequence[TargetValueInput],
    non_targets: Mapping[str, str],
    new_lesions: Sequence[NewLesionInput],
    expected_version: int | None,
    actor: Any,
) -> TimepointRead:
    """Save a follow-up: a value for every baseline target, a rating for every baseline
    non-target, and the new lesions seen at this timepoint. Replaces the draft's content."""
    _own_timepoint_read(actor, timepoint_read_id, access.EDIT_OWN_READ)
    _raise_if_any(validation.followup_problems(targets, non_targets, new_lesions))
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if tr.timepoint.is_baseline:
            raise Conflict("This timepoint is the baseline; use the baseline form.")
        _check_editable(read, tr, expected_version)
        lesions = {lesion.lesion_code: lesion for lesion in Lesion.objects.filter(read=read)}
        baseline_tr = (
            TimepointRead.objects.filter(read=read, timepoint__is_baseline=True)
            .select_related("timepoint")
            .prefetch_related("measurements__lesion", "ratings__lesion")
            .get()
        )
        recorded = {  # the new lesions given that the read already holds (one query each, as before)
            n.code: validation.RecordedLesion(
                kind=known.kind,
                organ=known.organ,
                is_node=known.is_node,
                first_sequence=known.first_timepoint.sequence,
            )
            for n in new_lesions
            if (known := lesions.get(n.code)) is not None and known.kind == LesionKind.NEW
        }
        against = validation.FollowupContext(
            baseline=mappers.baseline_from_timepoint_read(baseline_tr),
            date=tr.timepoint.scan_date_latest,
            sequence=tr.timepoint.sequence,
            recorded=recorded,
        )
        _raise_if_any(validation.followup_problems(targets, non_targets, new_lesions, against))

        before = timepoint_read_content(tr)
        for m in list(tr.measurements.all()):
            m.delete()
        for r in list(tr.ratings.all()):
            r.delete()
        wanted_new = {n.code for n in new_lesions}
        for lesion in Lesion.objects.filter(read=read, kind=LesionKind.NEW, first_timepoint=tr.timepoint):
            if lesion.lesion_code not in wanted_new:
                lesion.delete()
        for t in targets:
            Measurement(
                timepoint_read=tr,
                lesion=lesions[t.code],
                state=t.state,
                value_mm=validation.target_stored_mm(t),
                fragments_mm=[str(f.quantize(validation.ONE_DECIMAL)) for f in t.fragments_mm],
                coalesced_with=list(t.coalesced_with),
                coalesced_into=t.coalesced_into,
                collected=t.collected if t.state in _COLLECTED_STATES else "",
            ).save()
        for code, status in non_targets.items():
            NonTargetRating(timepoint_read=tr, lesion=lesions[code], status=status).save()
        for n in new_lesions:
            known = lesions.get(n.code)
            lesion = known or Lesion(
                read=read, lesion_code=n.code, kind=LesionKind.NEW, first_timepoint=tr.timepoint
            )
            if known is None or known.first_timepoint_id == tr.timepoint_id:
                lesion.organ, lesion.is_node, lesion.measurable = n.organ.strip(), n.is_node, n.measurable
                lesion.save()
            Measurement(
                timepoint_read=tr,
                lesion=lesion,
                state=MeasurementState.MEASURED if n.value_mm is not None else MeasurementState.NOT_ASSESSED,
                value_mm=n.value_mm,
                equivocal=n.equivocal,
                collected=n.collected if n.value_mm is not None else "",
            ).save()
        _finish_write(read, tr, before, actor, kind="followup")
    return tr


# --- signing -------------------------------------------------------------------------------------


def timepoint_read_sign(
    *,
    timepoint_read_id: int,
    password: str,
    printed_name: str,
    actor: Any,
    meaning: str = "",
    expected_version: int | None = None,
) -> Signature:
    """Sign a saved timepoint read (21 CFR 11.50/11.200): re-enter the password, give the
    printed name and the meaning; the signature covers the SHA-256 of the canonical content
    and locks the timepoint read. Five failures within 15 minutes lock signing out."""
    tr = _own_timepoint_read(actor, timepoint_read_id, access.SIGN)
    _raise_if_any(validation.signature_problems(printed_name, meaning))
    meaning = meaning.strip() if isinstance(meaning, str) else ""
    signature_reauthenticate(
        actor=actor,
        password=password,
        chain_id=tr.read.subject.trial.chain_id,
        object_type="timepoint_read",
        object_id=tr.pk,
    )
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        _check_editable(read, tr, expected_version)
        if tr.saved_at is None:
            raise Conflict("Nothing to sign: save the assessment first.")
        digest = content_sha256(tr)
        signature = Signature(
            timepoint_read=tr,
            signer=actor,
            printed_name=printed_name.strip(),
            meaning=meaning or conf.get("DEFAULT_SIGNATURE_MEANING"),
            signed_at=timezone.now(),
            content_sha256=digest,
        )
        signature.save()
        tr.status, tr.locked, tr.version, tr.content_sha256 = (
            TimepointReadStatus.SIGNED,
            True,
            tr.version + 1,
            digest,
        )
        tr.save(update_fields=["status", "locked", "version", "content_sha256"])
        all_signed = not TimepointRead.objects.unsigned().filter(read=read).exists()
        _set_read_status(read, ReadStatus.COMPLETED if all_signed else ReadStatus.IN_PROGRESS)
        audit_record(
            chain_id=read.subject.trial.chain_id,
            event_type=AuditEventType.TIMEPOINT_READ_SIGNED,
            actor=actor,
            object_type="timepoint_read",
            object_id=tr.pk,
            after={
                "signature_id": signature.pk,
                "printed_name": signature.printed_name,
                "meaning": signature.meaning,
                "signed_at": signature.signed_at,
                "content_sha256": digest,
                "version": tr.version,
            },
        )
        # Adjudication trigger (2+1): compare the two reads once both have signed the same
        # timepoints, in this transaction so that a signature never exists without its
        # evaluation (see services.adjudication for the simultaneous-signing race).
        adjudication_evaluate_after_sign(subject_id=read.subject_id, actor=actor)
        # Confirmation windows (iUPD, irPD, UPMD): opened or closed by this signature, in
        # this transaction, so that a window never lags its read (services.confirmation).
        confirmation_windows_reconcile(subject_id=read.subject_id, actor=actor)
        endpoints_recompute_on_commit(trial_id=read.subject.trial_id, actor=actor)
    return signature


def timepoint_read_unlock(*, timepoint_read_id: int, reason: str, actor: Any) -> TimepointRead:
    """Reopen a signed timepoint read (read manager only, with a reason): the signature is
    voided, not deleted. Only the latest signed timepoint of a read can be reopened, so the
    sequential rule (earlier timepoints signed before later ones) keeps holding."""
    tr = access.access_timepoint_read_for(actor, timepoint_read_id)
    access.require_capability(actor, tr.read.subject.trial_id, access.UNLOCK, "timepoint_read", tr.pk)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a reason is required to unlock a signed record", "reason")
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if not tr.locked:
            raise Conflict("This timepoint read is not signed.")
        if (
            TimepointRead.objects.signed()
            .filter(read=read, timepoint__sequence__gt=tr.timepoint.sequence)
            .exists()
        ):
            raise Conflict("A later timepoint of this read is signed; unlock that one first.")
        signature = Signature.objects.get(timepoint_read=tr, voided_at__isnull=True)
        before = {"version": tr.version, "content_sha256": tr.content_sha256, "signature_id": signature.pk}
        # Flip the flag first: the database triggers let exactly this change through.
        tr.locked, tr.status, tr.version = False, TimepointReadStatus.DRAFT, tr.version + 1
        tr.save(update_fields=["locked", "status", "version"])
        signature.voided_at, signature.voided_by, signature.void_reason = (
            timezone.now(),
            actor,
            reason.strip(),
        )
        signature.save(update_fields=["voided_at", "voided_by", "void_reason"])
        _set_read_status(read, ReadStatus.IN_PROGRESS)
        audit_record(
            chain_id=read.subject.trial.chain_id,
            event_type=AuditEventType.TIMEPOINT_READ_UNLOCKED,
            actor=actor,
            object_type="timepoint_read",
            object_id=tr.pk,
            before=before,
            after={"version": tr.version, "signature_voided": signature.pk},
            reason=reason.strip(),
        )
        # A window this timepoint read opened or closed rests on it no more (withdrawn or
        # reopened; re-signing the same content restores it without a duplicate).
        confirmation_windows_reconcile(subject_id=read.subject_id, actor=actor)
    return tr
