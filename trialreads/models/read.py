"""The read aggregate: one reader's read of one subject, its timepoint reads, lesions,
measurements, non-target ratings and signatures.

One signed state: a timepoint read is signed exactly when ``locked`` is true and ``status`` is
``SIGNED`` (the two move together, in one UPDATE, in ``timepoint_read_sign`` and
``timepoint_read_unlock``); the CHECK constraint ``timepoint_read_signed_iff_locked``
(migration 0011) refuses any row where they disagree, and every query asks for that state
through :meth:`TimepointReadQuerySet.signed` / :func:`signed_q`, never through either field.

Locking: a signed ``TimepointRead`` is ``locked``. Its measurements and ratings, and any
lesion measured or rated in it, refuse ``save()``/``delete()`` here, the audited managers
refuse bulk writes, and database triggers (migration 0002) refuse raw SQL. Unlocking
(``timepoint_read_unlock``) flips ``locked`` first, which is the only change the triggers
let through on a locked row.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from trialreads.choices import (
    LesionKind,
    MeasurementState,
    NonTargetStatus,
    PetReferenceSite,
    ReadStatus,
    TimepointReadStatus,
)
from trialreads.errors import Locked

from .base import AuditedManager, AuditedQuerySet
from .subject import ImagingTimepoint, Subject

MAX_MM = Decimal("1000.0")
#: Decimal places a stored diameter keeps: values transcribed from a source (``import_sdtm``)
#: keep their collected precision (pharmaversesdtm has 32.32 mm); typed entries stay on 0.1 mm.
MM_PLACES = 4


class MillimetreField(models.DecimalField):  # type: ignore[type-arg]
    """A diameter stored with :data:`MM_PLACES` places and read back at its own precision, with
    at least one decimal: ``35.0400`` reads as ``35.04``, ``21.0000`` as ``21.0`` (what the
    0.1 mm column gave), so the engine sees the exact collected value and every value that was
    already on the 0.1 mm quantum reads exactly as before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 4 + MM_PLACES)
        kwargs.setdefault("decimal_places", MM_PLACES)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        return None if value is None else mm_at_own_precision(Decimal(value))


class ReadValueField(MillimetreField):
    """A reader's value other than a diameter (SUL, the reference region's mean and SD), stored
    with :data:`MM_PLACES` places and read back at its own precision as diameters are."""


def mm_at_own_precision(value: Decimal) -> Decimal:
    """``value`` without trailing zeros beyond the first decimal place."""
    tenths = value.quantize(Decimal("0.1"))
    return tenths if tenths == value else value.normalize()


class Read(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="reads")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reads")
    slot = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=ReadStatus.choices, default=ReadStatus.ASSIGNED)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["subject", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "reader"], name="read_one_per_reader_per_subject"),
            models.UniqueConstraint(fields=["subject", "slot"], name="read_one_per_slot_per_subject"),
            models.CheckConstraint(condition=Q(slot__in=[1, 2]), name="read_slot_1_or_2"),
        ]

    def __str__(self) -> str:
        return f"read {self.pk} (subject {self.subject_id}, slot {self.slot})"


def signed_q(prefix: str = "") -> Q:
    """The one definition of "signed" for a timepoint read, as a filter; ``prefix`` is the
    relation path from the queried model (``"timepoint_read"`` from a measurement).

    ``locked`` is the field the lock triggers read; the CHECK constraint makes it equal to
    ``status == SIGNED``, so the choice of field cannot change an answer."""
    return Q(**{f"{prefix}__locked" if prefix else "locked": True})


class TimepointReadQuerySet(AuditedQuerySet["TimepointRead"]):
    def signed(self) -> TimepointReadQuerySet:
        return self.filter(signed_q())

    def unsigned(self) -> TimepointReadQuerySet:
        return self.exclude(signed_q())


TimepointReadManager = models.Manager.from_queryset(TimepointReadQuerySet)


class TimepointRead(models.Model):
    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="timepoint_reads")
    timepoint = models.ForeignKey(ImagingTimepoint, on_delete=models.PROTECT, related_name="timepoint_reads")
    status = models.CharField(
        max_length=10, choices=TimepointReadStatus.choices, default=TimepointReadStatus.DRAFT
    )
    # Optimistic lock for edits over HTTP (ETag / If-Match): bumped by every service write.
    version = models.PositiveIntegerField(default=1)
    content_sha256 = models.CharField(max_length=64, blank=True, default="")
    locked = models.BooleanField(default=False)
    saved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # --- PET scan of the timepoint (PERCIST family; a ``PET_CT`` timepoint), empty otherwise:
    # the reference region (Wahl 2009: liver 3 cm ROI mean and SD, or the blood pool), the
    # uptake time, the reader's unequivocal progression and "scan not done / not evaluable".
    # A PET assessment exists when ``pet_reference_site`` is set or ``pet_not_done``.
    pet_reference_site = models.CharField(
        max_length=12, choices=PetReferenceSite.choices, blank=True, default=""
    )
    pet_reference_mean = ReadValueField(null=True, blank=True)
    pet_reference_sd = ReadValueField(null=True, blank=True)
    pet_uptake_min = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    pet_unequivocal_progression = models.BooleanField(default=False)
    pet_not_done = models.BooleanField(default=False)
    #: A pre-baseline scan read as its sum of diameters only (the targets' values unknown).
    prebaseline_sum_mm = MillimetreField(null=True, blank=True, max_digits=9)

    objects = TimepointReadManager()

    class Meta:
        ordering = ["read", "timepoint__sequence"]
        constraints = [
            models.UniqueConstraint(fields=["read", "timepoint"], name="timepoint_read_unique"),
            # Both ways (issue 11.4): signed <=> locked. The lock triggers (migration 0002)
            # let a locked row change only to locked=false, so an unlock must also set DRAFT.
            models.CheckConstraint(
                condition=Q(locked=True, status=TimepointReadStatus.SIGNED)
                | Q(locked=False, status=TimepointReadStatus.DRAFT),
                name="timepoint_read_signed_iff_locked",
            ),
            models.CheckConstraint(
                condition=(
                    Q(pet_reference_mean__isnull=True)
                    | Q(pet_reference_mean__gt=0, pet_reference_mean__lte=100)
                )
                & (Q(pet_reference_sd__isnull=True) | Q(pet_reference_sd__gte=0, pet_reference_sd__lte=100))
                & (Q(pet_uptake_min__isnull=True) | Q(pet_uptake_min__gte=0, pet_uptake_min__lte=1440))
                & (
                    Q(prebaseline_sum_mm__isnull=True)
                    | Q(prebaseline_sum_mm__gte=0, prebaseline_sum_mm__lte=5000)
                ),
                name="timepoint_read_pet_and_prebaseline_range",
            ),
        ]


    def __str__(self) -> str:
        return f"timepoint read {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The one write allowed on a locked row is unlocking it (locked -> False).
        if self.locked and self._locked_in_db():
            raise Locked()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self._locked_in_db():
            raise Locked()
        return super().delete(*args, **kwargs)

    def _locked_in_db(self) -> bool:
        if self.pk is None:
            return False
        return TimepointRead._base_manager.filter(signed_q(), pk=self.pk).exists()

    @property
    def has_pet(self) -> bool:
        """Whether a PET assessment of the scan was saved (a reference region, or not done)."""
        return bool(self.pet_reference_site) or self.pet_not_done


def _refuse_if_parent_locked(timepoint_read_id: int | None) -> None:
    if (
        timepoint_read_id is not None
        and TimepointRead._base_manager.filter(signed_q(), pk=timepoint_read_id).exists()
    ):
        raise Locked()


class Lesion(models.Model):
    """A lesion identified by one reader. Targets and non-targets come from the baseline;
    new lesions (``kind=NEW``) from the follow-up where they first appear."""

    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="lesions")
    lesion_code = models.CharField(max_length=20)
    kind = models.CharField(max_length=12, choices=LesionKind.choices)
    organ = models.CharField(max_length=60)
    is_node = models.BooleanField(default=False)
    injected = models.BooleanField(default=False)
    measurable = models.BooleanField(default=True)
    first_timepoint = models.ForeignKey(ImagingTimepoint, on_delete=models.PROTECT, related_name="+")

    objects = AuditedManager()

    class Meta:
        ordering = ["read", "kind", "lesion_code"]
        constraints = [
            models.UniqueConstraint(fields=["read", "lesion_code"], name="lesion_unique_code_per_read")
        ]

    def __str__(self) -> str:
        return self.lesion_code

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._used_in_locked():
            raise Locked()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self._used_in_locked():
            raise Locked()
        return super().delete(*args, **kwargs)

    def _used_in_locked(self) -> bool:
        if self.pk is None:
            return False
        return (
            Measurement._base_manager.filter(signed_q("timepoint_read"), lesion_id=self.pk).exists()
            or NonTargetRating._base_manager.filter(signed_q("timepoint_read"), lesion_id=self.pk).exists()
        )


class Measurement(models.Model):
    """A lesion's value at one timepoint read: target diameters (longest; short axis for
    nodes) and new-lesion sizes. ``value_mm`` is what enters the sum (TSTM: 5, split: the
    fragments' sum), NULL only when not assessed (or an unmeasured new lesion)."""

    timepoint_read = models.ForeignKey(TimepointRead, on_delete=models.CASCADE, related_name="measurements")
    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="measurements")
    state = models.CharField(
        max_length=16, choices=MeasurementState.choices, default=MeasurementState.MEASURED
    )
    value_mm = MillimetreField(null=True, blank=True)
    #: The result as collected (``TRORRES``) when the value was transcribed from a source
    #: (``21``, ``32.32``); empty for values entered in the system.
    collected = models.CharField(max_length=40, blank=True, default="")
    fragments_mm = models.JSONField(default=list, blank=True)
    coalesced_with = models.JSONField(default=list, blank=True)
    coalesced_into = models.CharField(max_length=20, blank=True, default="")
    equivocal = models.BooleanField(default=False)
    # --- bidimensional criteria (irRC, WHO products): the second diameter. Non-nodal lesion:
    # ``perp_mm``, the longest diameter perpendicular to ``value_mm``; node: ``long_mm``, the
    # long axis (``value_mm`` stays the short axis). A split lesion: one per fragment.
    perp_mm = MillimetreField(null=True, blank=True)
    long_mm = MillimetreField(null=True, blank=True)
    fragments_perp_mm = models.JSONField(default=list, blank=True)
    # --- itRECIST: a baseline lesion first injected at this follow-up (ITR-CLASS).
    newly_injected = models.BooleanField(default=False)
    # --- PET lesion (``Lesion.kind`` PET): SULpeak (required), SULmax and TLG where recorded;
    # ``value_mm`` is then the lesion's optional CT size (PERCIMT new-lesion sizes).
    sul_peak = ReadValueField(null=True, blank=True)
    sul_max = ReadValueField(null=True, blank=True)
    tlg = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["timepoint_read", "lesion__lesion_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["timepoint_read", "lesion"], name="measurement_unique_per_timepoint_read"
            ),
            models.CheckConstraint(
                condition=(Q(perp_mm__isnull=True) | Q(perp_mm__gte=0, perp_mm__lte=MAX_MM))
                & (Q(long_mm__isnull=True) | Q(long_mm__gte=0, long_mm__lte=MAX_MM))
                & (Q(sul_peak__isnull=True) | Q(sul_peak__gte=0, sul_peak__lte=100))
                & (Q(sul_max__isnull=True) | Q(sul_max__gte=0, sul_max__lte=100))
                & (Q(tlg__isnull=True) | Q(tlg__gte=0, tlg__lte=1_000_000)),
                name="measurement_second_diameter_and_pet_range",
            ),
            # Upper bound also rejects NaN on PostgreSQL (NaN sorts above every number).
            models.CheckConstraint(
                condition=Q(value_mm__isnull=True) | (Q(value_mm__gte=0) & Q(value_mm__lte=MAX_MM)),
                name="measurement_value_range",
            ),
            # SQLite stores NaN as NULL: a measured value must be present (a PET lesion's is
            # its SULpeak).
            models.CheckConstraint(
                condition=~Q(state=MeasurementState.MEASURED)
                | Q(value_mm__isnull=False)
                | Q(sul_peak__isnull=False),
                name="measurement_measured_has_value",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesion_id}@{self.timepoint_read_id}: {self.value_mm}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _refuse_if_parent_locked(self.timepoint_read_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        _refuse_if_parent_locked(self.timepoint_read_id)
        return super().delete(*args, **kwargs)


class NonTargetRating(models.Model):
    timepoint_read = models.ForeignKey(TimepointRead, on_delete=models.CASCADE, related_name="ratings")
    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="ratings")
    status = models.CharField(max_length=30, choices=NonTargetStatus.choices)
    #: itRECIST: this baseline non-target was first injected at this follow-up (ITR-CLASS).
    newly_injected = models.BooleanField(default=False)

    objects = AuditedManager()

    class Meta:
        ordering = ["timepoint_read", "lesion__lesion_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["timepoint_read", "lesion"], name="rating_unique_per_timepoint_read"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesion_id}@{self.timepoint_read_id}: {self.status}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _refuse_if_parent_locked(self.timepoint_read_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        _refuse_if_parent_locked(self.timepoint_read_id)
        return super().delete(*args, **kwargs)


class Signature(models.Model):
    """An electronic signature (21 CFR 11.50/11.70): who, printed name, meaning, when (UTC),
    and the SHA-256 of the canonical content it covers. Never deleted; unlocking voids it."""

    timepoint_read = models.ForeignKey(TimepointRead, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=200)
    meaning = models.CharField(max_length=300)
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    void_reason = models.TextField(blank=True, default="")

    objects = AuditedManager()

    class Meta:
        ordering = ["timepoint_read", "signed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["timepoint_read"],
                condition=Q(voided_at__isnull=True),
                name="signature_one_live_per_timepoint_read",
            ),
        ]

    def __str__(self) -> str:
        return f"signature {self.pk} by {self.printed_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Only voiding is allowed after creation, and only once.
        if (
            self.pk is not None
            and Signature._base_manager.filter(pk=self.pk, voided_at__isnull=False).exists()
        ):
            raise Locked("A voided signature cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise Locked("Signatures are never deleted; unlock voids them.")
