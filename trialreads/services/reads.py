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

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from criteria import validate as rules
from criteria.types import Baseline
from trialreads import access, conf, mappers, validators
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import (
    AuditEventType,
    LesionKind,
    MeasurementState,
    NonTargetStatus,
    ReadStatus,
    TimepointReadStatus,
)
from trialreads.errors import Conflict, ValidationError
from trialreads.models import (
    Lesion,
    Measurement,
    NonTargetRating,
    Read,
    Signature,
    Subject,
    TimepointRead,
)
from trialreads.services.adjudication import adjudication_evaluate_after_sign
from trialreads.services.audit import audit_record
from trialreads.services.auth import signature_reauthenticate
from trialreads.services.queue import endpoints_recompute_on_commit

_LESION_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_ONE_DP = Decimal("0.1")
TOO_SMALL_MM = Decimal("5.0")  # R11-TSTM: present but too small to measure counts as 5 mm

#: Allowed read status moves; every change goes through :func:`_set_read_status`.
READ_TRANSITIONS: dict[str, frozenset[str]] = {
    ReadStatus.ASSIGNED: frozenset({ReadStatus.IN_PROGRESS, ReadStatus.COMPLETED}),
    ReadStatus.IN_PROGRESS: frozenset({ReadStatus.COMPLETED}),
    ReadStatus.COMPLETED: frozenset({ReadStatus.IN_PROGRESS}),
}


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetInput:
    """A baseline target lesion: longest diameter (short axis for a node) in mm."""

    code: str
    organ: str
    value_mm: Decimal
    is_node: bool = False
    injected: bool = False


@dataclass(frozen=True)
class NonTargetInput:
    code: str
    organ: str
    is_node: bool = False
    injected: bool = False


@dataclass(frozen=True)
class TargetValueInput:
    """A baseline target's value at a follow-up (``state`` is a ``MeasurementState``)."""

    code: str
    state: str = MeasurementState.MEASURED
    value_mm: Decimal | None = None
    fragments_mm: tuple[Decimal, ...] = ()
    coalesced_with: tuple[str, ...] = ()
    coalesced_into: str = ""


@dataclass(frozen=True)
class NewLesionInput:
    code: str
    organ: str
    value_mm: Decimal | None = None
    is_node: bool = False
    measurable: bool = True
    equivocal: bool = False


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _check_mm(errors: _Errors, field: str, value: object, *, required: bool = True) -> Decimal | None:
    """A diameter: a ``Decimal`` (never float/bool/str), finite, unsigned, one decimal at most,
    0–1000 mm."""
    if value is None:
        if required:
            errors.add(field, "required")
        return None
    if not isinstance(value, Decimal):
        errors.add(field, "must be a decimal number of millimetres")
        return None
    if not value.is_finite():
        errors.add(field, "must be a finite number")
        return None
    if value.is_signed():
        errors.add(field, "must not be negative")
        return None
    try:
        quantized = value.quantize(_ONE_DP)
    except InvalidOperation:
        errors.add(field, "out of range")
        return None
    if quantized != value:
        errors.add(field, "at most one decimal place (0.1 mm)")
        return None
    if quantized > rules.MAX_DIAMETER_MM:
        errors.add(field, f"implausible diameter (more than {rules.MAX_DIAMETER_MM} mm)")
        return None
    return quantized


def _check_text(errors: _Errors, field: str, value: object, *, max_len: int = 60) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "required")
    elif len(value) > max_len or not value.isascii() or any(ord(c) < 32 for c in value):
        errors.add(field, f"at most {max_len} printable ASCII characters")


def _check_code(errors: _Errors, field: str, code: object, seen: set[str]) -> None:
    if not isinstance(code, str) or not _LESION_CODE_RE.match(code):
        errors.add(field, "1-20 ASCII letters, digits, '_' or '-'")
    elif code in seen:
        errors.add(field, f"duplicate lesion code {code}")
    else:
        seen.add(code)


def _add_problems(errors: _Errors, problems: Sequence[rules.Problem], field_map: Mapping[str, str]) -> None:
    for problem in problems:
        field = problem.field
        for prefix, replacement in field_map.items():
            if field.startswith(prefix):
                field = replacement + field[len(prefix) :]
        field = re.sub(r"\.mm(?=$|[.\[])", ".value_mm", field)
        errors.add(field, problem.message)


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
        state, value_mm, fragments_mm, coalesced_with, coalesced_into, equivocal = row[7:]
        return {
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


# --- baseline -----------------------------------------------------------------------------------


def _validate_baseline(targets: Sequence[TargetInput], non_targets: Sequence[NonTargetInput]) -> None:
    errors = _Errors()
    seen: set[str] = set()
    for i, t in enumerate(targets):
        _check_code(errors, f"targets[{i}].code", t.code, seen)
        _check_text(errors, f"targets[{i}].organ", t.organ)
        _check_mm(errors, f"targets[{i}].value_mm", t.value_mm)
    for i, n in enumerate(non_targets):
        _check_code(errors, f"non_targets[{i}].code", n.code, seen)
        _check_text(errors, f"non_targets[{i}].organ", n.organ)
    errors.raise_if_any()
    # The criteria package's own rules: measurability, 5 targets, 2 per organ (grouped).
    baseline = Baseline(
        date=dt.date.min,
        targets=mappers.baseline_targets_from_input(targets),
        non_targets=mappers.baseline_non_targets_from_input(non_targets),
    )
    _add_problems(
        errors,
        rules.validate_baseline(baseline),
        {"baseline.targets": "targets", "baseline.non_targets": "non_targets"},
    )
    errors.raise_if_any()


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
    _validate_baseline(targets, non_targets)
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
                    value = item.value_mm.quantize(_ONE_DP)  # type: ignore[union-attr]
                    Measurement(timepoint_read=tr, lesion=lesion, value_mm=value).save()
                else:
                    NonTargetRating(timepoint_read=tr, lesion=lesion, status=NonTargetStatus.PRESENT).save()
        _finish_write(read, tr, before, actor, kind="baseline")
    return tr


# --- follow-up -------------------------------------------------------------------------------------


def _validate_followup_shapes(
    targets: Sequence[TargetValueInput], non_targets: Mapping[str, str], new_lesions: Sequence[NewLesionInput]
) -> None:
    errors = _Errors()
    seen: set[str] = set()
    for i, t in enumerate(targets):
        field = f"targets[{i}]"
        _check_code(errors, f"{field}.code", t.code, seen)
        if t.state not in MeasurementState.values:
            errors.add(f"{field}.state", f"one of {', '.join(MeasurementState.values)}")
            continue
        state = MeasurementState(t.state)
        if state == MeasurementState.MEASURED:
            _check_mm(errors, f"{field}.value_mm", t.value_mm)
        elif state == MeasurementState.TOO_SMALL:
            if t.value_mm is not None:
                value = _check_mm(errors, f"{field}.value_mm", t.value_mm)
                if value is not None and value != TOO_SMALL_MM:
                    errors.add(f"{field}.value_mm", "too small to measure counts as 5 mm; leave it empty")
        elif state == MeasurementState.NOT_ASSESSED:
            if t.value_mm is not None:
                errors.add(f"{field}.value_mm", "must be empty when not assessed")
        elif state == MeasurementState.SPLIT:
            if len(t.fragments_mm) < 2:
                errors.add(f"{field}.fragments_mm", "a split lesion has at least two fragments")
            for k, fragment in enumerate(t.fragments_mm):
                _check_mm(errors, f"{field}.fragments_mm[{k}]", fragment)
            if t.value_mm is not None:
                errors.add(f"{field}.value_mm", "computed from the fragments; leave it empty")
        elif state == MeasurementState.COALESCED:
            _check_mm(errors, f"{field}.value_mm", t.value_mm)
            if not t.coalesced_with:
                errors.add(f"{field}.coalesced_with", "name the lesions that coalesced into this one")
        elif state == MeasurementState.COALESCED_INTO:
            _check_mm(errors, f"{field}.value_mm", t.value_mm, required=False)
            if not t.coalesced_into:
                errors.add(f"{field}.coalesced_into", "name the lesion this one coalesced into")
    for code, status in non_targets.items():
        if status not in NonTargetStatus.values:
            errors.add(f"non_targets.{code}", f"one of {', '.join(NonTargetStatus.values)}")
    for i, n in enumerate(new_lesions):
        field = f"new_lesions[{i}]"
        _check_code(errors, f"{field}.code", n.code, seen)
        _check_text(errors, f"{field}.organ", n.organ)
        _check_mm(errors, f"{field}.value_mm", n.value_mm, required=n.measurable and not n.equivocal)
    errors.raise_if_any()


def _target_value(t: TargetValueInput) -> Decimal | None:
    if t.state == MeasurementState.TOO_SMALL:
        return TOO_SMALL_MM
    if t.state == MeasurementState.SPLIT:
        return sum(t.fragments_mm, Decimal("0.0")).quantize(_ONE_DP)
    if t.state == MeasurementState.COALESCED_INTO and t.value_mm is None:
        return Decimal("0.0")
    return t.value_mm


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
    _validate_followup_shapes(targets, non_targets, new_lesions)
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
        baseline = mappers.baseline_from_timepoint_read(baseline_tr)
        errors = _Errors()
        given = {t.code for t in targets}
        for code in sorted({t.id for t in baseline.targets} - given):
            errors.add(f"targets.{code}", "missing: every baseline target needs a value")
        for code in sorted({n.id for n in baseline.non_targets} - set(non_targets)):
            errors.add(f"non_targets.{code}", "missing: every baseline non-target needs a rating")
        # The criteria package's checks: unknown ids, coalescence partners, id clashes.
        timepoint = mappers.timepoint_from_input(
            tr.timepoint.scan_date_latest, targets, non_targets, new_lesions
        )
        field_map = {f"@.targets.{t.code}": f"targets[{i}]" for i, t in enumerate(targets)}
        field_map["@."] = ""
        _add_problems(errors, rules.validate_timepoint_lesions(timepoint, baseline, prefix="@"), field_map)
        for i, n in enumerate(new_lesions):
            known = lesions.get(n.code)
            if known is None:
                continue
            if known.kind != LesionKind.NEW:
                continue  # reported above as a clash with a baseline id
            first_seq = known.first_timepoint.sequence
            if first_seq > tr.timepoint.sequence:
                errors.add(f"new_lesions[{i}].code", f"{n.code} is first recorded at a later timepoint")
            elif (known.organ, known.is_node) != (
                n.organ.strip(),
                n.is_node,
            ) and first_seq < tr.timepoint.sequence:
                errors.add(f"new_lesions[{i}].organ", f"{n.code} was recorded earlier in another organ")
        errors.raise_if_any()

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
                value_mm=_target_value(t),
                fragments_mm=[str(f.quantize(_ONE_DP)) for f in t.fragments_mm],
                coalesced_with=list(t.coalesced_with),
                coalesced_into=t.coalesced_into,
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
    errors = _Errors()
    name_problem = validators.printed_name_error(printed_name)
    if name_problem:
        errors.add("printed_name", name_problem)
    meaning = meaning.strip() if isinstance(meaning, str) else ""
    if len(meaning) > 300:
        errors.add("meaning", "at most 300 characters")
    errors.raise_if_any()
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
    return tr
