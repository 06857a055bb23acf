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
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from criteria.types import PET_CRITERIA
from trialreads import access, conf, mappers, snapshot, validation
from trialreads.canonical import canonical_json, sha256_hex
from trialreads.choices import (
    AuditEventType,
    LesionKind,
    MeasurementState,
    Modality,
    NonTargetStatus,
    ReadStatus,
    TimepointReadStatus,
)
from trialreads.errors import Conflict, FieldProblem, ValidationError
from trialreads.inputs import NewLesionInput as NewLesionInput  # re-exported: the callers' import
from trialreads.inputs import NonTargetInput as NonTargetInput
from trialreads.inputs import PetLesionInput as PetLesionInput
from trialreads.inputs import PetScanInput as PetScanInput
from trialreads.inputs import PrebaselineInput as PrebaselineInput
from trialreads.inputs import TargetInput as TargetInput
from trialreads.inputs import TargetValueInput as TargetValueInput
from trialreads.models import (
    Charter,
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
    # issue 15: the inputs of the other criteria, in the content only when set
    "perp_mm",
    "long_mm",
    "fragments_perp_mm",
    "newly_injected",
    "sul_peak",
    "sul_max",
    "tlg",
)
_RATING_COLUMNS = ("timepoint_read_id", *_LESION_COLUMNS, "status", "newly_injected")
#: The timepoint read's own columns the content covers (the PET scan, a pre-baseline sum).
_TIMEPOINT_READ_COLUMNS = ("pk", "read_id", "timepoint_id", *snapshot.PET_COLUMNS, "prebaseline_sum_mm")
#: Measurement columns written into the content only when they hold a value, so that the
#: content (and hash) of every read saved before they existed is what it was.
_OPTIONAL_MEASUREMENT_KEYS = (
    "perp_mm", "long_mm", "fragments_perp_mm", "newly_injected", "sul_peak", "sul_max", "tlg"
)


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


def _set_only(keys: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    return {
        key: _number(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None and value is not False and value != [] and value != ""
    }


def _number(value: Any) -> Any:
    """A decimal column's value at its own precision (``2.1000`` and ``2.1`` are one value:
    the instance a service holds and the row read back must hash alike)."""
    return read_models.mm_at_own_precision(value) if isinstance(value, Decimal) else value


def _content(tr_row: Sequence[Any], measurements: Sequence[Any], ratings: Sequence[Any]) -> dict[str, Any]:
    pk, read_id, timepoint_id, site, mean, sd, uptake, unequivocal, not_done, prebaseline_sum = tr_row

    def measurement(row: Sequence[Any]) -> dict[str, Any]:
        state, value_mm, fragments_mm, coalesced_with, coalesced_into, equivocal, collected = row[7:14]
        # The collected text is signed with the value; absent when empty, so the content (and
        # hash) of every read entered in the system is what it was before the field existed.
        return ({"collected": collected} if collected else {}) | _set_only(
            _OPTIONAL_MEASUREMENT_KEYS, row[14:]
        ) | {
            **_lesion_part(row),
            "state": state,
            "value_mm": value_mm,
            "fragments_mm": fragments_mm,
            "coalesced_with": coalesced_with,
            "coalesced_into": coalesced_into,
            "equivocal": equivocal,
        }

    def rating(row: Sequence[Any]) -> dict[str, Any]:
        return {**_lesion_part(row), "status": row[7]} | ({"newly_injected": True} if row[8] else {})

    content: dict[str, Any] = {
        "timepoint_read": pk,
        "read": read_id,
        "timepoint": timepoint_id,
        "measurements": sorted((measurement(m) for m in measurements), key=lambda d: d["code"]),
        "ratings": sorted((rating(r) for r in ratings), key=lambda d: d["code"]),
    }
    if site or not_done:
        content["pet"] = {
            "reference_site": site,
            "reference_mean": _number(mean),
            "reference_sd": _number(sd),
            "uptake_min": _number(uptake),
            "unequivocal_progression": unequivocal,
            "not_done": not_done,
        }
    if prebaseline_sum is not None:
        content["prebaseline_sum_mm"] = _number(prebaseline_sum)
    return content


def timepoint_read_content(tr: TimepointRead) -> dict[str, Any]:
    """The canonical content of a timepoint read: what a signature's hash covers."""
    measurements = Measurement._base_manager.filter(timepoint_read_id=tr.pk)
    ratings = NonTargetRating._base_manager.filter(timepoint_read_id=tr.pk)
    return _content(
        tuple(getattr(tr, column) for column in _TIMEPOINT_READ_COLUMNS),
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
    hashes: dict[int, str] = {}
    for row in timepoint_reads.values_list(*_TIMEPOINT_READ_COLUMNS):
        content = _content(row, measurements.get(row[0], []), ratings.get(row[0], []))
        hashes[row[0]] = sha256_hex(canonical_json(content))
    return hashes


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
    if tr.timepoint.is_prebaseline:
        # A pre-baseline scan is read for the baseline's targets: after the baseline is saved,
        # outside the follow-ups' order.
        if not TimepointRead.objects.filter(
            read=read, timepoint__is_baseline=True, saved_at__isnull=False
        ).exists():
            raise Conflict("Save the baseline first: a pre-baseline scan is read for its targets.")
        return
    earlier_unsigned = (
        TimepointRead.objects.unsigned()
        .filter(read=read, timepoint__sequence__lt=tr.timepoint.sequence, timepoint__is_prebaseline=False)
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


def _charter_criteria(trial_id: int) -> tuple[str, ...]:
    """The current charter's criteria (what a read must carry for them); none without one."""
    criteria = Charter.objects.filter(trial_id=trial_id, is_current=True).values_list("criteria", flat=True)
    return tuple(next(iter(criteria), ()) or ())


def _clear_values(tr: TimepointRead, *, pet: bool) -> None:
    """Delete the timepoint read's PET values (``pet``) or its CT values and ratings: the
    two forms of a PET/CT timepoint are saved apart and never clear each other's."""
    measurements = tr.measurements.filter(lesion__kind=LesionKind.PET) if pet else (
        tr.measurements.exclude(lesion__kind=LesionKind.PET)
    )
    for m in list(measurements):
        m.delete()
    if not pet:
        for r in list(tr.ratings.all()):
            r.delete()


def _invalid(path: tuple[str | int, ...], message: str) -> ValidationError:
    return ValidationError([FieldProblem(path, message)])


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
    own = _own_timepoint_read(actor, timepoint_read_id, access.EDIT_OWN_READ)
    criteria = _charter_criteria(own.read.subject.trial_id)
    _raise_if_any(validation.baseline_problems(targets, non_targets, criteria))
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if not tr.timepoint.is_baseline:
            raise Conflict("This timepoint is a follow-up; use the follow-up form.")
        _check_editable(read, tr, expected_version)
        wanted = {t.code for t in targets} | {n.code for n in non_targets}
        # A code the read holds for a new lesion or a PET lesion (a PET/CT timepoint's PET
        # form is saved apart) cannot become a baseline lesion's: named at its item.
        clashing = dict(
            Lesion.objects.filter(
                read=read, kind__in=[LesionKind.NEW, LesionKind.PET], lesion_code__in=wanted
            ).values_list("lesion_code", "kind")
        )
        groups: tuple[tuple[str, Sequence[TargetInput | NonTargetInput]], ...] = (
            ("targets", targets),
            ("non_targets", non_targets),
        )
        for group, items in groups:
            for i, item in enumerate(items):
                if item.code in clashing:
                    what = "a new lesion" if clashing[item.code] == LesionKind.NEW else "a PET lesion"
                    raise _invalid((group, i, "code"), f"{item.code} is already {what} code in this read")
        before = timepoint_read_content(tr)
        _clear_values(tr, pet=False)
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
                        timepoint_read=tr,
                        lesion=lesion,
                        value_mm=value,
                        collected=item.collected,
                        perp_mm=_tenths(item.perp_mm),
                        long_mm=_tenths(item.long_mm),
                    ).save()
                else:
                    NonTargetRating(timepoint_read=tr, lesion=lesion, status=NonTargetStatus.PRESENT).save()
        _finish_write(read, tr, before, actor, kind="baseline")
    return tr


def _tenths(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(validation.ONE_DECIMAL)


# --- follow-up -------------------------------------------------------------------------------------


def timepoint_read_save_followup(
    *,
    timepoint_read_id: int,
    targets: Sequence[TargetValueInput],
    non_targets: Mapping[str, str],
    new_lesions: Sequence[NewLesionInput],
    expected_version: int | None,
    actor: Any,
    injected: Sequence[str] = (),
) -> TimepointRead:
    """Save a follow-up: a value for every baseline target, a rating for every baseline
    non-target, and the new lesions seen at this timepoint. Replaces the draft's content.
    ``injected``: the baseline lesions first injected at this timepoint (itRECIST)."""
    own = _own_timepoint_read(actor, timepoint_read_id, access.EDIT_OWN_READ)
    criteria = _charter_criteria(own.read.subject.trial_id)
    _raise_if_any(validation.followup_problems(targets, non_targets, new_lesions, injected=injected))
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if tr.timepoint.is_baseline:
            raise Conflict("This timepoint is the baseline; use the baseline form.")
        if tr.timepoint.is_prebaseline:
            raise Conflict("This timepoint is before the baseline; use the pre-baseline form.")
        _check_editable(read, tr, expected_version)
        lesions = {lesion.lesion_code: lesion for lesion in Lesion.objects.filter(read=read)}
        baseline_tr = (
            TimepointRead.objects.filter(read=read, timepoint__is_baseline=True)
            .select_related("timepoint")
            .prefetch_related("measurements__lesion", "ratings__lesion")
            .get()
        )
        for i, n in enumerate(new_lesions):
            if (known := lesions.get(n.code)) is not None and known.kind == LesionKind.PET:
                raise _invalid(("new_lesions", i, "code"), f"{n.code} is a PET lesion code in this read")
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
            criteria=criteria,
            injected_before=_injected_before(read, tr) if injected else frozenset(),
        )
        _raise_if_any(validation.followup_problems(targets, non_targets, new_lesions, against, injected))

        before = timepoint_read_content(tr)
        _clear_values(tr, pet=False)
        now_injected = set(injected)
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
                perp_mm=_tenths(t.perp_mm),
                long_mm=_tenths(t.long_mm),
                fragments_perp_mm=[str(f.quantize(validation.ONE_DECIMAL)) for f in t.fragments_perp_mm],
                newly_injected=t.code in now_injected,
            ).save()
        for code, status in non_targets.items():
            NonTargetRating(
                timepoint_read=tr, lesion=lesions[code], status=status, newly_injected=code in now_injected
            ).save()
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
                perp_mm=_tenths(n.perp_mm),
                long_mm=_tenths(n.long_mm),
            ).save()
        _finish_write(read, tr, before, actor, kind="followup")
    return tr


def _injected_before(read: Read, tr: TimepointRead) -> frozenset[str]:
    """The read's baseline lesions injected before this timepoint: at baseline, or first
    injected at an earlier follow-up (itRECIST: a lesion is injected once)."""
    codes = set(Lesion.objects.filter(read=read, injected=True).values_list("lesion_code", flat=True))
    earlier = {"timepoint_read__read": read, "timepoint_read__timepoint__sequence__lt": tr.timepoint.sequence}
    for model in (Measurement, NonTargetRating):
        codes.update(
            model.objects.filter(newly_injected=True, **earlier).values_list("lesion__lesion_code", flat=True)
        )
    return frozenset(codes)


# --- PET scan (PERCIST family) ----------------------------------------------------------------

#: Decimal places of the stored PET values (``Measurement.sul_peak`` etc.).
_PET_QUANTUM = validation.PET_PLACES


def _pet_value(value: Decimal | None, quantum: Decimal = _PET_QUANTUM) -> Decimal | None:
    return None if value is None else value.quantize(quantum)


def timepoint_read_save_pet(
    *, timepoint_read_id: int, scan: PetScanInput, expected_version: int | None, actor: Any
) -> TimepointRead:
    """Save the PET scan of a PET/CT timepoint: the reference region, uptake time, the
    lesions' SULpeak (SULmax, TLG, CT size where recorded) and the reader's unequivocal
    progression, or that the scan was not done. Replaces the draft's PET content only (the
    CT form of the same timepoint is saved apart). A lesion first recorded at a follow-up is
    new (PERCIST 1.0); a code keeps the organ it was first recorded with."""
    own = _own_timepoint_read(actor, timepoint_read_id, access.EDIT_OWN_READ)
    _raise_if_any(validation.pet_problems(scan, _charter_criteria(own.read.subject.trial_id)))
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if tr.timepoint.modality != Modality.PET_CT:
            raise ValidationError("this timepoint is not a PET/CT scan", "modality")
        if tr.timepoint.is_prebaseline:
            raise Conflict("A pre-baseline timepoint is read for its CT targets only.")
        _check_editable(read, tr, expected_version)
        lesions = {lesion.lesion_code: lesion for lesion in Lesion.objects.filter(read=read)}
        for i, item in enumerate(scan.lesions):
            known = lesions.get(item.code)
            if known is None:
                continue
            if known.kind != LesionKind.PET:
                raise _invalid(("lesions", i, "code"), f"{item.code} is a CT lesion code in this read")
            if known.first_timepoint.sequence > tr.timepoint.sequence:
                raise _invalid(("lesions", i, "code"), f"{item.code} is first recorded at a later timepoint")
            if known.first_timepoint_id != tr.timepoint_id and known.organ != item.organ.strip():
                raise _invalid(("lesions", i, "organ"), f"{item.code} was recorded earlier in another organ")
        before = timepoint_read_content(tr)
        _clear_values(tr, pet=True)
        wanted = {item.code for item in scan.lesions}
        for lesion in Lesion.objects.filter(read=read, kind=LesionKind.PET, first_timepoint=tr.timepoint):
            if lesion.lesion_code not in wanted:
                lesion.delete()
                lesions.pop(lesion.lesion_code, None)
        tr.pet_reference_site = scan.reference_site if not scan.not_done else ""
        tr.pet_reference_mean = _pet_value(scan.reference_mean)
        tr.pet_reference_sd = _pet_value(scan.reference_sd)
        tr.pet_uptake_min = _pet_value(scan.uptake_min, validation.UPTAKE_PLACES)
        tr.pet_unequivocal_progression = scan.unequivocal_progression and not scan.not_done
        tr.pet_not_done = scan.not_done
        tr.save(update_fields=[*snapshot.PET_COLUMNS])
        for item in scan.lesions:
            lesion = lesions.get(item.code) or Lesion(
                read=read, lesion_code=item.code, kind=LesionKind.PET, first_timepoint=tr.timepoint
            )
            if lesion.pk is None or lesion.first_timepoint_id == tr.timepoint_id:
                lesion.organ, lesion.is_node, lesion.measurable = item.organ.strip(), False, True
                lesion.save()
            Measurement(
                timepoint_read=tr,
                lesion=lesion,
                state=MeasurementState.MEASURED,
                value_mm=_tenths(item.value_mm),
                sul_peak=_pet_value(item.sul_peak),
                sul_max=_pet_value(item.sul_max),
                tlg=_pet_value(item.tlg, validation.TLG_PLACES),
            ).save()
        _finish_write(read, tr, before, actor, kind="pet")
    return tr


# --- pre-baseline scan (tumour growth rate) --------------------------------------------------------


def timepoint_read_save_prebaseline(
    *, timepoint_read_id: int, scan: PrebaselineInput, expected_version: int | None, actor: Any
) -> TimepointRead:
    """Save a pre-baseline scan: the baseline targets' values there (measured or not
    assessed) or only their sum. Checked against this read's saved baseline."""
    _own_timepoint_read(actor, timepoint_read_id, access.EDIT_OWN_READ)
    with transaction.atomic():
        read, tr = _lock(timepoint_read_id)
        if not tr.timepoint.is_prebaseline:
            raise Conflict("This timepoint is not a pre-baseline scan.")
        _check_editable(read, tr, expected_version)
        baseline_tr = (
            TimepointRead.objects.filter(read=read, timepoint__is_baseline=True)
            .select_related("timepoint")
            .prefetch_related("measurements__lesion", "ratings__lesion")
            .get()
        )
        baseline = mappers.baseline_from_timepoint_read(baseline_tr)
        charter = Charter.objects.filter(trial_id=read.subject.trial_id, is_current=True).first()
        analyses = charter.analyses if charter is not None else []
        date = tr.timepoint.scan_date_latest
        _raise_if_any(validation.prebaseline_problems(scan, baseline, date, analyses))
        before = timepoint_read_content(tr)
        _clear_values(tr, pet=False)
        targets = {
            lesion.lesion_code: lesion for lesion in Lesion.objects.filter(read=read, kind=LesionKind.TARGET)
        }
        for t in scan.targets:
            Measurement(
                timepoint_read=tr,
                lesion=targets[t.code],
                state=t.state,
                value_mm=_tenths(t.value_mm),
            ).save()
        tr.prebaseline_sum_mm = _tenths(scan.sum_mm)
        tr.save(update_fields=["prebaseline_sum_mm"])
        _finish_write(read, tr, before, actor, kind="prebaseline")
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
        _require_every_form(tr, _charter_criteria(read.subject.trial_id))
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


def _require_every_form(tr: TimepointRead, criteria: Sequence[str]) -> None:
    """A signature covers every form the charter asks of the timepoint: a PET/CT timepoint's
    PET scan when the charter names a PET criterion, and the CT assessment (lesions and
    ratings) when it names any other; a pre-baseline scan is its CT values or its sum."""
    pet_named = any(c in PET_CRITERIA for c in criteria)
    ct_named = not criteria or any(c not in PET_CRITERIA for c in criteria)
    pet_scan = tr.timepoint.modality == Modality.PET_CT and not tr.timepoint.is_prebaseline
    if pet_named and pet_scan and not tr.has_pet:
        raise Conflict("Save the PET scan of this PET/CT timepoint first: the charter names a PET criterion.")
    if ct_named:
        ct_values = tr.measurements.exclude(lesion__kind=LesionKind.PET).exists() or tr.ratings.exists()
        if not ct_values and tr.prebaseline_sum_mm is None:
            raise Conflict("Save the CT assessment of this timepoint first (the charter names CT criteria).")


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
            .filter(
                read=read,
                timepoint__sequence__gt=tr.timepoint.sequence,
                timepoint__is_prebaseline=tr.timepoint.is_prebaseline,
            )
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
