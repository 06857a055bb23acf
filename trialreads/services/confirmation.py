"""The confirmation workflow of unconfirmed progression (issue 15 item 4): windows, sponsor
contacts and their notifications. The rules (which code opens, confirms or resets, the window
dates, what a notification says) are :mod:`trialreads.confirmation_rules`.

When. :func:`confirmation_windows_reconcile` runs inside the transaction that signs a
timepoint read (``services.reads.timepoint_read_sign``), that unlocks one
(``timepoint_read_unlock``) and that accepts a read (``services.adjudication``, by rule or by
the adjudicator). It evaluates every read of the subject under the charter's criteria that
have an unconfirmed state (:mod:`trialreads.snapshot` -> ``criteria.evaluate``, signed
timepoint reads only) and brings the subject's windows in line with the results, so running
it twice changes nothing (idempotent; re-signing unchanged content opens no second window):

* a read whose latest signed result is an unconfirmed progression opens a window for the
  subject and criterion unless one is open already (at most one; the partial unique
  constraint is the backstop) or a later scan has already settled the progression (a reader
  lagging behind the other does not reopen it); another read showing the same progression at
  the same timepoint is added to the window's sources;
* a later signed result of a read that showed the progression, confirming it (iCPD,
  confirmed irPD, CPMD) or resetting it (any evaluable non-progression), closes the window
  (outcome CONFIRMED or RESET) with that timepoint read as the closing one;
* a read that does not show the progression at the window's timepoint (a discordant read)
  changes nothing: the window stays while any read shows it; adjudication decides the
  endpoints, and the lab still needs the scan that the other read asks for.

Unlocking (documented choice): a source timepoint read that is no longer signed is removed
from its window, and a window left without sources is closed as WITHDRAWN; re-signing the
same result reopens that very row (audited), so no duplicate and no second notification. A
window whose closing timepoint read is unlocked is reopened (the decision it rested on is
gone), unless another window of the subject and criterion is open by then. The sequential
rule (only a read's latest signed timepoint can be unlocked) keeps both cases simple.

Failures of the criteria engine must not fail (or inform) the signing reader: they are logged
and audited (CONFIRMATION_EVALUATION_FAILED) for the read manager, as adjudication does.

Notifications. Opening a window (not reopening it) and the overdue check
(:func:`confirmation_windows_overdue_notify`, run by the ``trialreads.
confirmation_windows_check_overdue`` task on a beat schedule) create one
:class:`~trialreads.models.ConfirmationNotification` per active contact and channel (email,
and the webhook when the contact has one) and enqueue its sending once the transaction
commits. :func:`confirmation_notification_send` sends one and marks it SENT: a redelivered
task finds it SENT and sends nothing. The content is ``confirmation_rules.notification_payload``
only: no measurement, no reader, no read, no arm.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.core.validators import EmailValidator, URLValidator
from django.db import DatabaseError, transaction
from django.utils import timezone

from criteria.errors import CriteriaError
from criteria.evaluate import evaluate
from criteria.types import PET_CRITERIA, TimepointResult
from trialreads import access, confirmation_rules
from trialreads.choices import (
    AuditEventType,
    ConfirmationOutcome,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from trialreads.errors import ValidationError
from trialreads.models import (
    Charter,
    ConfirmationNotification,
    ConfirmationWindow,
    SponsorContact,
    Subject,
    Trial,
)
from trialreads.services.audit import audit_context, audit_record, subject_failure_record
from trialreads.services.queue import enqueue_confirmation_notification
from trialreads.snapshot import (
    ReadRow,
    SubjectSnapshot,
    TimepointReadRow,
    TrialSnapshot,
    engine_subject,
    has_engine_input,
    scope_from_charter,
    settings_from_charter,
)

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:confirmation"
#: Seconds a webhook POST may take before it counts as failed (and is retried by the task).
WEBHOOK_TIMEOUT_SECONDS = 10


class NotificationFailed(Exception):
    """Sending failed (recorded as FAILED on the notification); the task retries."""


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadProgress:
    """One read's signed follow-ups (in visit order) and each criterion's results for them:
    a PET criterion's for the follow-ups with a PET scan (``assessed``), the others' for all."""

    followups: tuple[TimepointReadRow, ...]
    results: Mapping[str, tuple[TimepointResult, ...]]
    failed: Mapping[str, str]  # criterion -> why the engine could not evaluate this read
    assessed: Mapping[str, tuple[TimepointReadRow, ...]]  # criterion -> its follow-ups, in order

    def index_of(self, criterion: str, timepoint_id: int) -> int | None:
        return next(
            (i for i, tr in enumerate(self.assessed[criterion]) if tr.timepoint.id == timepoint_id), None
        )


def _read_progress(
    state: SubjectSnapshot, read: ReadRow, charter: Charter, criteria: Sequence[str]
) -> ReadProgress | None:
    followups = tuple(
        tr for tr in read.timepoint_reads if not tr.timepoint.is_baseline and not tr.timepoint.is_prebaseline
    )
    if not followups:
        return None
    engine_input = engine_subject(
        state, read, settings_from_charter(charter), scope=scope_from_charter(charter)
    )
    if not has_engine_input(engine_input):
        return None
    results: dict[str, tuple[TimepointResult, ...]] = {}
    failed: dict[str, str] = {}
    assessed: dict[str, tuple[TimepointReadRow, ...]] = {}
    for criterion in criteria:
        its = tuple(tr for tr in followups if tr.pet is not None) if criterion in PET_CRITERIA else followups
        # One criterion at a time: one the stored reads cannot serve (PET criteria before the
        # snapshot carries PET input) must not stop the windows of the others.
        try:
            timepoints = evaluate(engine_input, [criterion]).results[criterion].timepoints
        except CriteriaError as exc:
            failed[criterion] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        # One result per signed follow-up, in order (the engines report every timepoint).
        if len(timepoints) != len(its):
            failed[criterion] = f"{len(timepoints)} results for {len(its)} signed follow-ups"
            continue
        results[criterion], assessed[criterion] = timepoints, its
    return ReadProgress(followups, results, failed, assessed)


def _signed_ids(progress: Sequence[ReadProgress]) -> set[int]:
    return {tr.id for p in progress for tr in p.followups}


# --- window writes (each audited) ------------------------------------------------------------


def _window_json(window: ConfirmationWindow) -> dict[str, Any]:
    return {
        "subject_id": window.subject_id,
        "criterion": window.criterion,
        "timepoint_id": window.timepoint_id,
        "scan_date": window.scan_date,
        "window_start": window.window_start,
        "window_end": window.window_end,
        "window_min_days": window.window_min_days,
        "window_max_days": window.window_max_days,
        "charter_version": window.charter_version,
        "outcome": window.outcome,
        "closing_timepoint_read_id": window.closing_timepoint_read_id,
    }


def _record(window: ConfirmationWindow, subject: Subject, event: str, **extra: Any) -> None:
    audit_record(
        chain_id=subject.trial.chain_id,
        event_type=event,
        actor=None,
        object_type="confirmation_window",
        object_id=window.pk,
        after={**_window_json(window), **extra},
    )


def _add_source(window: ConfirmationWindow, subject: Subject, timepoint_read_id: int) -> None:
    if window.source_timepoint_reads.filter(pk=timepoint_read_id).exists():
        return
    window.source_timepoint_reads.add(timepoint_read_id)
    _record(
        window, subject, AuditEventType.CONFIRMATION_WINDOW_SOURCE_ADDED, timepoint_read_id=timepoint_read_id
    )


def _close(window: ConfirmationWindow, subject: Subject, outcome: str, closing_id: int | None) -> None:
    window.outcome, window.closed_at, window.closing_timepoint_read_id = outcome, timezone.now(), closing_id
    window.save(update_fields=["outcome", "closed_at", "closing_timepoint_read"])
    _record(window, subject, AuditEventType.CONFIRMATION_WINDOW_CLOSED, closed_at=window.closed_at)


def _reopen(window: ConfirmationWindow, subject: Subject, why: str) -> None:
    before = window.outcome
    window.outcome, window.closed_at, window.closing_timepoint_read_id = "", None, None
    window.save(update_fields=["outcome", "closed_at", "closing_timepoint_read"])
    _record(window, subject, AuditEventType.CONFIRMATION_WINDOW_REOPENED, previous_outcome=before, why=why)


def _settled_later(subject: Subject, criterion: str, sequence: int) -> bool:
    """A progression at or after a later timepoint is tracked already, or a later scan decided
    one: a read lagging behind must not reopen what is settled."""
    windows = ConfirmationWindow.objects.filter(subject=subject, criterion=criterion)
    return (
        windows.filter(timepoint__sequence__gt=sequence).exists()
        or windows.filter(closing_timepoint_read__timepoint__sequence__gt=sequence).exists()
    )


def _open(
    subject: Subject, criterion: str, tr: TimepointReadRow, result: TimepointResult, charter: Charter
) -> ConfirmationWindow | None:
    if _settled_later(subject, criterion, tr.timepoint.sequence):
        return None
    existing = ConfirmationWindow.objects.filter(
        subject=subject, criterion=criterion, timepoint_id=tr.timepoint.id
    ).first()
    if existing is not None:
        if existing.outcome != ConfirmationOutcome.WITHDRAWN:
            return None  # decided already (a later scan closed it): nothing to reopen
        _reopen(existing, subject, "the timepoint read was signed again with the same progression")
        _add_source(existing, subject, tr.id)
        return existing
    low, high = charter.irecist_window_min_days, charter.irecist_window_max_days
    start, end = confirmation_rules.window_dates(result.date, low, high)
    window = ConfirmationWindow(
        subject=subject,
        criterion=criterion,
        timepoint_id=tr.timepoint.id,
        scan_date=result.date,
        window_min_days=low,
        window_max_days=high,
        window_start=start,
        window_end=end,
        charter_version=charter.version,
        opened_at=timezone.now(),
    )
    window.save()
    window.source_timepoint_reads.add(tr.id)
    _record(window, subject, AuditEventType.CONFIRMATION_WINDOW_OPENED, source_timepoint_read_ids=[tr.id])
    _notify(window, subject, NotificationKind.OPENED)
    return window


def _step(
    subject: Subject,
    criterion: str,
    progress: ReadProgress,
    window: ConfirmationWindow | None,
    charter: Charter,
) -> ConfirmationWindow | None:
    """One read against the subject's open window of ``criterion``: returns the open window after."""
    results = progress.results[criterion]
    followups = progress.assessed[criterion]
    latest = len(results) - 1
    if latest < 0:
        return window  # no follow-up this criterion assesses (a PET criterion before a PET scan)
    if window is not None:
        k = progress.index_of(criterion, window.timepoint_id)
        if k is None:
            return window  # this read has not signed that timepoint (yet)
        fate = confirmation_rules.fate(criterion, results, k)
        if fate == confirmation_rules.UNCONFIRMED:
            _add_source(window, subject, followups[k].id)
            return window
        if fate is None or latest <= k:
            return window  # a discordant read: the window stays while another read shows it
        outcome = (
            ConfirmationOutcome.CONFIRMED
            if fate == confirmation_rules.CONFIRMED
            else ConfirmationOutcome.RESET
        )
        # Reconciled at every signature, the latest signed result is the deciding one.
        _close(window, subject, outcome, followups[latest].id)
    if confirmation_rules.opens_window(criterion, results):
        return _open(subject, criterion, followups[latest], results[latest], charter)
    return None


def _drop_unsigned(subject: Subject, signed: set[int]) -> None:
    """Unlocking: a window closed by a timepoint read no longer signed is reopened; sources no
    longer signed leave their window, and an open window left without any is WITHDRAWN."""
    windows = list(ConfirmationWindow.objects.select_for_update().filter(subject=subject).order_by("pk"))
    for window in windows:
        closing = window.closing_timepoint_read_id
        if closing is not None and closing not in signed:
            other_open = ConfirmationWindow.objects.filter(
                subject=subject, criterion=window.criterion, closed_at__isnull=True
            ).exists()
            if not other_open:
                _reopen(window, subject, "the closing timepoint read was unlocked")
    for window in windows:
        sources = set(window.source_timepoint_reads.values_list("pk", flat=True))
        for pk in sorted(sources - signed):
            window.source_timepoint_reads.remove(pk)
            _record(window, subject, AuditEventType.CONFIRMATION_WINDOW_SOURCE_REMOVED, timepoint_read_id=pk)
        if window.closed_at is None and not sources & signed:
            _close(window, subject, ConfirmationOutcome.WITHDRAWN, None)


def _reconcile(subject: Subject) -> None:
    charter = Charter.objects.get(trial_id=subject.trial_id, is_current=True)
    criteria = confirmation_rules.criteria_with_confirmation(list(charter.criteria or ()))
    if not criteria:
        return
    [state] = TrialSnapshot.load(subject.trial_id, subject_id=subject.pk).subjects
    progress = [
        p
        for slot in sorted(state.reads)
        if (p := _read_progress(state, state.reads[slot], charter, criteria))
    ]
    _drop_unsigned(subject, _signed_ids(progress))
    for criterion in criteria:
        failures = [p.failed[criterion] for p in progress if criterion in p.failed]
        if failures:
            # Its windows are left as they are (no decision on part of the reads), and the
            # read manager is told; the next signature or acceptance evaluates it again.
            audit_record(
                chain_id=subject.trial.chain_id,
                event_type=AuditEventType.CONFIRMATION_EVALUATION_FAILED,
                actor=None,
                object_type="subject",
                object_id=subject.pk,
                after={"criterion": criterion, "errors": failures},
            )
            continue
        window = (
            ConfirmationWindow.objects.select_for_update()
            .filter(subject=subject, criterion=criterion, closed_at__isnull=True)
            .first()
        )
        # Twice over the reads: a window opened by the second read gains the first as a source.
        for p in (*progress, *progress):
            window = _step(subject, criterion, p, window, charter)


def confirmation_windows_reconcile(*, subject_id: int, actor: Any = None) -> None:
    """Open, extend, close or withdraw the subject's confirmation windows from its signed reads
    (see the module docstring). Runs inside the caller's transaction; locks the subject."""
    with audit_context(actor_label=SYSTEM_ACTOR, triggered_by=getattr(actor, "pk", None)):
        try:
            with transaction.atomic():
                subject = Subject.objects.select_for_update().select_related("trial").get(pk=subject_id)
                _reconcile(subject)
        except DatabaseError:
            raise
        except Exception as exc:
            logger.exception("confirmation window evaluation failed for subject %s", subject_id)
            failed = AuditEventType.CONFIRMATION_EVALUATION_FAILED
            subject_failure_record(subject_id=subject_id, event_type=failed, exc=exc)


# --- notifications ---------------------------------------------------------------------------------


def _notify(window: ConfirmationWindow, subject: Subject, kind: str) -> list[ConfirmationNotification]:
    """One notification per active contact and channel (once: the unique key), each sent by
    the task once this transaction commits."""
    made = []
    for contact in SponsorContact.objects.filter(trial_id=subject.trial_id, active=True).order_by("pk"):
        channels = [NotificationChannel.EMAIL] + (
            [NotificationChannel.WEBHOOK] if contact.webhook_url else []
        )
        for channel in channels:
            if ConfirmationNotification.objects.filter(
                window=window, contact=contact, kind=kind, channel=channel
            ).exists():
                continue
            notification = ConfirmationNotification(
                window=window, contact=contact, kind=kind, channel=channel
            )
            notification.save()
            made.append(notification)
            enqueue_confirmation_notification(notification.pk)
    return made


def confirmation_windows_overdue_notify(*, today: dt.date | None = None) -> int:
    """Periodic: every open window past its last day gets its overdue notice queued, once
    (``overdue_notified_at``); returns how many windows turned overdue now. Idempotent."""
    today = today or timezone.now().date()
    count = 0
    with audit_context(actor_label="system:trialreads.confirmation_windows_check_overdue"):
        ids = list(
            ConfirmationWindow.objects.filter(
                closed_at__isnull=True, overdue_notified_at__isnull=True, window_end__lt=today
            ).values_list("pk", flat=True)
        )
        for pk in ids:
            with transaction.atomic():
                window = (
                    ConfirmationWindow.objects.select_for_update().select_related("subject__trial").get(pk=pk)
                )
                if window.closed_at is not None or window.overdue_notified_at is not None:
                    continue  # closed or noticed meanwhile
                window.overdue_notified_at = timezone.now()
                window.save(update_fields=["overdue_notified_at"])
                _record(window, window.subject, AuditEventType.CONFIRMATION_WINDOW_OVERDUE, as_of=today)
                _notify(window, window.subject, NotificationKind.OVERDUE)
                count += 1
    return count


def notification_payload(notification: ConfirmationNotification, *, sent_at: dt.datetime) -> dict[str, str]:
    window = notification.window
    status = confirmation_rules.window_status(window.outcome, window.window_end, sent_at.date())
    return confirmation_rules.notification_payload(
        event=notification.kind,
        trial_code=window.subject.trial.code,
        subject_code=window.subject.subject_code,
        criterion=window.criterion,
        scan_date=window.scan_date,
        window_start=window.window_start,
        window_end=window.window_end,
        status=status,
        sent_at=sent_at.isoformat(),
    )


Opener = Callable[..., Any]


def _send_email(notification: ConfirmationNotification, payload: Mapping[str, str]) -> None:
    message = EmailMessage(
        subject=confirmation_rules.email_subject(payload),
        body=confirmation_rules.email_body(payload),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.contact.email],
        headers={"X-Trialreads-Notification": str(notification.pk)},
    )
    message.send(fail_silently=False)


def _send_webhook(notification: ConfirmationNotification, payload: Mapping[str, str], opener: Opener) -> None:
    body = json.dumps({"notification": notification.pk, **payload}, sort_keys=True).encode()
    request = urllib.request.Request(  # noqa: S310 (https only: sponsor_contact_* refuse any other scheme)
        notification.contact.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            confirmation_rules.SIGNATURE_HEADER: confirmation_rules.webhook_signature(
                notification.contact.webhook_secret, body
            ),
            confirmation_rules.TIMESTAMP_HEADER: payload["sent_at"],
        },
    )
    with opener(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        code = getattr(response, "status", 200)
        if not 200 <= int(code) < 300:
            raise OSError(f"webhook answered HTTP {code}")


def confirmation_notification_send(*, notification_id: int, opener: Opener | None = None) -> str:
    """Send one notification (email or webhook) unless it was sent already; returns its status.
    ``opener`` (tests) replaces ``urllib.request.urlopen``. A failure is recorded (FAILED,
    audited) and raised as :class:`NotificationFailed` for the task to retry.

    The send happens outside any transaction (no lock held over the network); two deliveries
    racing inside the send itself may both send, which the receiver sees as the same
    ``notification`` id (at least once; a delivery after the first success sends nothing)."""
    notification = (
        ConfirmationNotification.objects.select_related("window__subject__trial", "contact")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.status == NotificationStatus.SENT:
        return NotificationStatus.SENT if notification else "missing"
    trial = notification.window.subject.trial
    if not notification.contact.active:
        return notification.status  # deactivated since: nothing sent
    sent_at = timezone.now().replace(microsecond=0)
    payload = notification_payload(notification, sent_at=sent_at)
    try:
        if notification.channel == NotificationChannel.EMAIL:
            _send_email(notification, payload)
        else:
            _send_webhook(notification, payload, opener or urllib.request.urlopen)
    except Exception as exc:
        with transaction.atomic():
            locked = ConfirmationNotification.objects.select_for_update().get(pk=notification_id)
            locked.status, locked.attempts = NotificationStatus.FAILED, locked.attempts + 1
            locked.last_error = f"{type(exc).__name__}: {exc}"[:500]
            locked.save(update_fields=["status", "attempts", "last_error"])
            _record_notification(
                trial, locked, AuditEventType.CONFIRMATION_NOTIFICATION_FAILED, error=locked.last_error
            )
        raise NotificationFailed(str(exc)) from exc
    with transaction.atomic():
        locked = ConfirmationNotification.objects.select_for_update().get(pk=notification_id)
        if locked.status != NotificationStatus.SENT:
            locked.status, locked.attempts, locked.sent_at = (
                NotificationStatus.SENT,
                locked.attempts + 1,
                sent_at,
            )
            locked.save(update_fields=["status", "attempts", "sent_at"])
            _record_notification(
                trial, locked, AuditEventType.CONFIRMATION_NOTIFICATION_SENT, payload=payload
            )
    return NotificationStatus.SENT


def _record_notification(
    trial: Trial, notification: ConfirmationNotification, event: str, **extra: Any
) -> None:
    audit_record(
        chain_id=trial.chain_id,
        event_type=event,
        actor=None,
        object_type="confirmation_notification",
        object_id=notification.pk,
        after={
            "window_id": notification.window_id,
            "contact_id": notification.contact_id,
            "kind": notification.kind,
            "channel": notification.channel,
            "status": notification.status,
            "attempts": notification.attempts,
            **extra,
        },
    )


# --- sponsor contacts -----------------------------------------------------------------------------

_EMAIL = EmailValidator()
_HTTPS = URLValidator(schemes=["https"])
_TEXT_FIELDS = {"name": 200, "email": 254, "webhook_url": 500, "webhook_secret": 200}


def _contact_problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, limit in _TEXT_FIELDS.items():
        if name in values and (not isinstance(values[name], str) or len(values[name]) > limit):
            errors[name] = [f"a text of at most {limit} characters"]
    if "name" in values and "name" not in errors and not values["name"].strip():
        errors["name"] = ["a name is required"]
    if "email" in values and "email" not in errors:
        try:
            _EMAIL(values["email"])
        except DjangoValidationError:
            errors["email"] = ["a valid email address is required"]
    if values.get("webhook_url") and "webhook_url" not in errors:
        try:
            _HTTPS(values["webhook_url"])
        except DjangoValidationError:
            errors["webhook_url"] = ["an https:// URL is required"]
    if "active" in values and not isinstance(values["active"], bool):
        errors["active"] = ["true or false"]
    return errors


def _contact_json(contact: SponsorContact) -> dict[str, Any]:
    # The secret itself never enters the audit trail: only whether one is set.
    return {
        "trial_id": contact.trial_id,
        "name": contact.name,
        "email": contact.email,
        "webhook_url": contact.webhook_url,
        "webhook_secret_set": bool(contact.webhook_secret),
        "active": contact.active,
    }


def _contact_trial(
    actor: Any, trial_id: object, object_type: str = "trial", object_id: object = None
) -> Trial:
    trial = access.access_trial_for(actor, trial_id)
    access.require_capability(actor, trial.pk, access.MANAGE, object_type, object_id or trial.pk)
    return trial


def sponsor_contact_create(
    *,
    trial_id: object,
    name: str,
    email: str,
    actor: Any,
    webhook_url: str = "",
    webhook_secret: str = "",
    active: bool = True,
) -> SponsorContact:
    """Read manager: add who the sponsor wants told about confirmation windows."""
    trial = _contact_trial(actor, trial_id)
    values = {
        "name": name,
        "email": email,
        "webhook_url": webhook_url,
        "webhook_secret": webhook_secret,
        "active": active,
    }
    errors = _contact_problems(values)
    if not errors and webhook_url and not webhook_secret:
        errors["webhook_secret"] = ["a secret is required to sign the webhook's requests"]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if SponsorContact.objects.filter(trial=trial, email__iexact=email.strip()).exists():
            raise ValidationError("this trial already has a contact with this email", "email")
        contact = SponsorContact(
            trial=trial,
            name=name.strip(),
            email=email.strip(),
            webhook_url=webhook_url.strip(),
            webhook_secret=webhook_secret,
            active=active,
        )
        contact.save()
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.SPONSOR_CONTACT_CREATED,
            actor=actor,
            object_type="sponsor_contact",
            object_id=contact.pk,
            after=_contact_json(contact),
        )
    return contact


def sponsor_contact_update(*, contact_id: object, changes: Mapping[str, Any], actor: Any) -> SponsorContact:
    """Read manager: change a contact (name, email, webhook URL and secret, active)."""
    contact = access.access_sponsor_contact_for(actor, contact_id)
    trial = _contact_trial(actor, contact.trial_id, "sponsor_contact", contact.pk)
    unknown = sorted(set(changes) - {*_TEXT_FIELDS, "active"})
    errors = {name: ["not a field of a sponsor contact"] for name in unknown} | _contact_problems(changes)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        contact = SponsorContact.objects.select_for_update().get(pk=contact.pk)
        before = _contact_json(contact)
        for name, value in changes.items():
            setattr(contact, name, value.strip() if name in ("name", "email", "webhook_url") else value)
        if contact.webhook_url and not contact.webhook_secret:
            raise ValidationError("a secret is required to sign the webhook's requests", "webhook_secret")
        clash = SponsorContact.objects.filter(trial=trial, email__iexact=contact.email).exclude(pk=contact.pk)
        if clash.exists():
            raise ValidationError("this trial already has a contact with this email", "email")
        contact.save()
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.SPONSOR_CONTACT_UPDATED,
            actor=actor,
            object_type="sponsor_contact",
            object_id=contact.pk,
            before=before,
            after=_contact_json(contact),
        )
    return contact
