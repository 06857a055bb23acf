"""The adjudication aggregate: cases opened when two reads disagree, the accepted read of
each subject, and investigator (site) progression data for the site-vs-central metrics.

Written only by ``trialreads.services.adjudication``; read through
``trialreads.selectors.adjudication`` behind ``access.access_adjudication_for``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from trialreads.choices import AcceptanceBasis, AdjudicationStatus
from trialreads.errors import Locked

from .base import AuditedManager, date_window
from .read import Read
from .subject import Subject


class AdjudicationCase(models.Model):
    """One adjudication of one subject's two reads.

    ``cycle`` numbers the cases of a subject (1, 2, … as reads change or new disagreements
    appear). The partial unique constraint allows a single OPEN case per subject, so two
    evaluations racing each other (both readers sign at the same instant) cannot open two;
    the service also serialises on the subject row. ``a_slot`` is the read slot shown as
    "Read A", drawn at random so that the label carries no reader identity. ``snapshot``
    lists the compared timepoints and both reads' content hashes at creation; a decision
    is refused once any of them changed.
    """

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="adjudication_cases")
    cycle = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=AdjudicationStatus.choices, default=AdjudicationStatus.OPEN
    )
    a_slot = models.PositiveSmallIntegerField()
    disagreements = models.JSONField(default=list)
    variables = models.JSONField(default=list)
    snapshot = models.JSONField(default=list)
    adjudicator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    chosen_slot = models.PositiveSmallIntegerField(null=True, blank=True)
    rationale = models.TextField(blank=True, default="")
    # Electronic signature of the decision (21 CFR 11.50), as for timepoint reads.
    printed_name = models.CharField(max_length=200, blank=True, default="")
    meaning = models.CharField(max_length=300, blank=True, default="")
    signed_at = models.DateTimeField(null=True, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True, default="")
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["subject", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "cycle"], name="adjudication_unique_cycle"),
            models.UniqueConstraint(
                fields=["subject"],
                condition=Q(status=AdjudicationStatus.OPEN),
                name="adjudication_one_open_per_subject",
            ),
            models.CheckConstraint(condition=Q(a_slot__in=[1, 2]), name="adjudication_a_slot_1_or_2"),
            models.CheckConstraint(
                condition=Q(chosen_slot__isnull=True) | Q(chosen_slot__in=[1, 2]),
                name="adjudication_chosen_slot_1_or_2",
            ),
            models.CheckConstraint(
                condition=~Q(status=AdjudicationStatus.DECIDED)
                | (Q(chosen_slot__isnull=False) & Q(signed_at__isnull=False) & ~Q(rationale="")),
                name="adjudication_decided_is_signed",
            ),
        ]
        indexes = [models.Index(fields=["adjudicator", "status"], name="adjudication_queue")]

    def __str__(self) -> str:
        return f"adjudication {self.pk} (subject {self.subject_id}, cycle {self.cycle}, {self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A signed decision is final; the only later change is voiding it (reads changed).
        if self.pk is not None:
            stored = (
                AdjudicationCase._base_manager.filter(pk=self.pk).values_list("status", flat=True).first()
            )
            if stored == AdjudicationStatus.VOIDED:
                raise Locked("A voided adjudication cannot change.")
            if stored == AdjudicationStatus.DECIDED and self.status != AdjudicationStatus.VOIDED:
                raise Locked("A signed adjudication decision cannot change; it can only be voided.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise Locked("Adjudication cases are never deleted; they are voided.")

    @property
    def b_slot(self) -> int:
        return 3 - self.a_slot

    def slot_for_label(self, label: str) -> int:
        """"A" / "B" -> read slot."""
        return self.a_slot if label == "A" else self.b_slot

    def label_for_slot(self, slot: int) -> str:
        return "A" if slot == self.a_slot else "B"


class AcceptedRead(models.Model):
    """Per subject: the latest comparison of its two reads and the read accepted for the
    endpoints (``RSACPTFL="Y"`` / ``TRACPTFL="Y"`` in exports).

    ``read`` is NULL while an adjudication is open (basis ``PENDING``). ``snapshot`` is the
    compared state (timepoints and content hashes) the row reflects, so a repeated
    evaluation of the same state is a no-op. ``summary`` keeps each slot's derived values
    of the primary criterion (BOR, first progression date) for the reader metrics.
    """

    subject = models.OneToOneField(Subject, on_delete=models.PROTECT, related_name="accepted_read")
    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    basis = models.CharField(max_length=12, choices=AcceptanceBasis.choices)
    case = models.ForeignKey(
        AdjudicationCase, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    snapshot = models.JSONField(default=list)
    summary = models.JSONField(default=dict)
    first_compared_at = models.DateTimeField()
    evaluated_at = models.DateTimeField()

    objects = AuditedManager()

    class Meta:
        ordering = ["subject"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(basis=AcceptanceBasis.PENDING) & Q(read__isnull=True))
                | (~Q(basis=AcceptanceBasis.PENDING) & Q(read__isnull=False)),
                name="accepted_read_present_unless_pending",
            ),
            models.CheckConstraint(
                condition=~Q(basis=AcceptanceBasis.ADJUDICATION) | Q(case__isnull=False),
                name="accepted_read_adjudication_has_case",
            ),
        ]

    def __str__(self) -> str:
        return f"accepted read of subject {self.subject_id}: {self.read_id} ({self.basis})"


class InvestigatorAssessment(models.Model):
    """The investigator's (site's) own assessment of a subject, imported from the EDC:
    first progression date (NULL = no progression) and best overall response. Used only by
    the manager-facing site-vs-central discrepancy metrics (EDR/LDR); never shown to readers
    or adjudicators (it would unblind them to the site's opinion)."""

    subject = models.OneToOneField(Subject, on_delete=models.PROTECT, related_name="investigator_assessment")
    criterion = models.CharField(max_length=20, default="recist1.1")
    pd_date = models.DateField(null=True, blank=True)
    bor = models.CharField(max_length=20, blank=True, default="")
    imported_at = models.DateTimeField()
    source = models.CharField(max_length=200, blank=True, default="")

    objects = AuditedManager()

    class Meta:
        ordering = ["subject"]
        constraints = [
            models.CheckConstraint(
                condition=date_window("pd_date", null=True), name="investigator_pd_date_window"
            ),
        ]

    def __str__(self) -> str:
        return f"investigator assessment of subject {self.subject_id}"
