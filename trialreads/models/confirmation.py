"""The confirmation workflow (issue 15 item 4): windows for the confirmation scan of an
unconfirmed progression, the trial's sponsor contacts, and the notifications sent to them.

Rows are written by ``services.confirmation`` only (audited); the rules are in
``trialreads.confirmation_rules``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from trialreads.choices import ConfirmationOutcome, NotificationChannel, NotificationKind, NotificationStatus

from .base import AuditedManager
from .read import TimepointRead
from .subject import ImagingTimepoint, Subject
from .trial import Trial


class ConfirmationWindow(models.Model):
    """An unconfirmed progression of one subject under one criterion, shown at ``timepoint``,
    that needs a confirmation scan between ``window_start`` and ``window_end``.

    ``source_timepoint_reads`` are the signed timepoint reads that showed it (one per reader
    who did); ``closing_timepoint_read`` the later one that confirmed or reset it. Open while
    ``closed_at`` is NULL (then ``outcome`` is empty); at most one open window per subject and
    criterion. Due / overdue is derived from the date, never stored (``confirmation_rules``)."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="confirmation_windows")
    criterion = models.CharField(max_length=20)
    timepoint = models.ForeignKey(ImagingTimepoint, on_delete=models.PROTECT, related_name="+")
    scan_date = models.DateField()
    window_min_days = models.PositiveIntegerField()
    window_max_days = models.PositiveIntegerField()
    window_start = models.DateField()
    window_end = models.DateField()
    charter_version = models.PositiveIntegerField()
    source_timepoint_reads = models.ManyToManyField(TimepointRead, related_name="+", blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=ConfirmationOutcome.choices, blank=True, default="")
    closing_timepoint_read = models.ForeignKey(
        TimepointRead, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    #: When the overdue notice was queued (once per window: the overdue check is idempotent).
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["subject", "criterion", "scan_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "criterion", "timepoint"], name="confirmation_window_one_per_timepoint"
            ),
            models.UniqueConstraint(
                fields=["subject", "criterion"],
                condition=Q(closed_at__isnull=True),
                name="confirmation_window_one_open",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, outcome="") | Q(closed_at__isnull=False) & ~Q(outcome=""),
                name="confirmation_window_closed_iff_outcome",
            ),
            models.CheckConstraint(
                condition=Q(window_start__lte=F("window_end")), name="confirmation_window_ordered"
            ),
        ]
        indexes = [models.Index(fields=["closed_at", "window_end"], name="confirmation_window_open_end")]

    def __str__(self) -> str:
        return f"{self.subject_id} {self.criterion} @ {self.scan_date}"


class SponsorContact(models.Model):
    """Who the sponsor wants told about confirmation windows: an email address and, optionally,
    an HTTPS webhook whose requests are signed with ``webhook_secret`` (HMAC-SHA256)."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="sponsor_contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    webhook_url = models.URLField(max_length=500, blank=True, default="")
    # Needed in clear to sign; never shown by the API, the admin or the audit trail.
    webhook_secret = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["trial", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "email"], name="sponsor_contact_unique_email"),
            models.CheckConstraint(
                condition=Q(webhook_url="") | ~Q(webhook_secret=""), name="sponsor_contact_webhook_has_secret"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ConfirmationNotification(models.Model):
    """One message to one contact about one window event over one channel: the idempotency
    key of the sending task (a redelivered task finds it SENT and sends nothing)."""

    window = models.ForeignKey(ConfirmationWindow, on_delete=models.PROTECT, related_name="notifications")
    contact = models.ForeignKey(SponsorContact, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=10, choices=NotificationKind.choices)
    channel = models.CharField(max_length=10, choices=NotificationChannel.choices)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedManager()

    class Meta:
        ordering = ["window", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["window", "contact", "kind", "channel"], name="confirmation_notification_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.channel} to {self.contact_id} ({self.status})"
