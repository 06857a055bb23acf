"""Sponsor notifications of confirmation windows: queued on commit when a window opens or turns
overdue, sent once (email through Django's mail framework, and a signed webhook), and carrying
nothing blinded: no arm, no reader, no read, no measurement (asserted on the message body and
headers and on the webhook's body and headers)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from email import message_from_bytes
from typing import Any

import pytest
from django.core import mail

from tests.conftest import leaks, read_identifiers
from tests.trialreads.confirmation_helpers import (
    MEASUREMENT_TEXTS,
    PD,
    WINDOW_END,
    irecist_trial,
    step,
)
from trialreads import confirmation_rules
from trialreads.choices import AuditEventType, NotificationStatus
from trialreads.models import AuditEvent, ConfirmationNotification, ConfirmationWindow
from trialreads.services import confirmation as services
from trialreads.tasks import confirmation_windows_check_overdue

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret-for-tests"


class FakeResponse:
    status = 200

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Opener:
    """Stands in for ``urllib.request.urlopen``: records the requests, touches no network."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[urllib.request.Request] = []
        self.fail = fail

    def __call__(self, request: urllib.request.Request, timeout: float) -> FakeResponse:
        self.requests.append(request)
        if self.fail:
            raise OSError("connection refused")
        return FakeResponse()


@pytest.fixture
def opener(monkeypatch: pytest.MonkeyPatch) -> Opener:
    fake = Opener()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return fake


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return reader_a, reader_b


@pytest.fixture
def tw(distinct_ids: None, manager: Any, readers: tuple[Any, Any], sponsor: Any) -> Any:
    tw = irecist_trial(manager, readers, sponsor)
    services.sponsor_contact_create(
        trial_id=tw.trial.pk,
        name="Sponsor safety desk",
        email="safety@sponsor.example",
        webhook_url="https://hooks.sponsor.example/trialreads",
        webhook_secret=SECRET,
        actor=manager,
    )
    for read, reader in ((tw.read_a, readers[0]), (tw.read_b, readers[1])):
        step(tw, read, reader, 0)
    return tw


def _blinded(tw: Any) -> dict[str, str]:
    needles = read_identifiers(tw.subject)
    needles.update(dict.fromkeys(MEASUREMENT_TEXTS, "measurement"))
    needles["EXPERIMENTAL"] = "arm"
    needles["Reader"] = "reader's name"
    return needles


def test_opening_sends_one_email_and_one_signed_webhook_with_nothing_blinded(
    tw: Any, readers: tuple[Any, Any], opener: Opener, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        step(tw, tw.read_a, readers[0], 1, PD)
    window = ConfirmationWindow.objects.get()
    # The email: Django's mail framework (the test backend keeps it in mail.outbox).
    [message] = mail.outbox
    assert message.to == ["safety@sponsor.example"]
    raw = message.message().as_bytes()  # every header and the body, as sent
    parsed = message_from_bytes(raw)
    assert "IO-001" in parsed["Subject"] and "S-001" in parsed["Subject"]
    for text in (
        "Trial: IO-001",
        "Subject: S-001",
        "Criterion: irecist",
        "2025-02-17",
        "2025-03-17 to 2025-04-14",
    ):
        assert text in message.body
    assert leaks(raw, _blinded(tw)) == []
    # The webhook: one POST, signed over its exact body, the timestamp inside it.
    [request] = opener.requests
    assert request.full_url == "https://hooks.sponsor.example/trialreads" and request.get_method() == "POST"
    body = request.data
    assert isinstance(body, bytes)
    headers = dict(request.header_items())
    signature = headers[confirmation_rules.SIGNATURE_HEADER.capitalize()]
    assert confirmation_rules.webhook_signature_valid(SECRET, body, signature)
    assert not confirmation_rules.webhook_signature_valid("another secret", body, signature)
    payload = json.loads(body)
    assert headers[confirmation_rules.TIMESTAMP_HEADER.capitalize()] == payload["sent_at"]
    assert set(payload) == {"notification", *confirmation_rules.PAYLOAD_KEYS}
    assert (payload["trial"], payload["subject"], payload["criterion"]) == ("IO-001", "S-001", "irecist")
    assert payload["unconfirmed_progression_scan_date"] == "2025-02-17"
    assert (payload["window_start"], payload["window_end"]) == ("2025-03-17", "2025-04-14")
    assert leaks(body + json.dumps(headers).encode(), _blinded(tw)) == []
    # Recorded: both sent, audited.
    sent = ConfirmationNotification.objects.filter(window=window)
    assert sorted(sent.values_list("channel", "status")) == [("EMAIL", "SENT"), ("WEBHOOK", "SENT")]
    assert AuditEvent.objects.filter(event_type=AuditEventType.CONFIRMATION_NOTIFICATION_SENT).count() == 2


def test_redelivery_sends_nothing_twice(
    tw: Any, readers: tuple[Any, Any], opener: Opener, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        step(tw, tw.read_a, readers[0], 1, PD)
    for notification in ConfirmationNotification.objects.all():
        assert services.confirmation_notification_send(notification_id=notification.pk) == "SENT"
    assert len(mail.outbox) == 1 and len(opener.requests) == 1
    # The other reader's same iUPD joins the window: no second notification either.
    with django_capture_on_commit_callbacks(execute=True):
        step(tw, tw.read_b, readers[1], 1, PD)
    assert len(mail.outbox) == 1 and ConfirmationNotification.objects.count() == 2


def test_a_failed_webhook_is_recorded_and_retried(
    tw: Any,
    readers: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    failing = Opener(fail=True)
    monkeypatch.setattr(urllib.request, "urlopen", failing)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        step(tw, tw.read_a, readers[0], 1, PD)
    assert len(callbacks) == 2  # one email, one webhook: queued, not yet sent
    webhook = ConfirmationNotification.objects.get(channel="WEBHOOK")
    with pytest.raises(services.NotificationFailed):
        services.confirmation_notification_send(notification_id=webhook.pk, opener=failing)
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts) == (NotificationStatus.FAILED, 1)
    assert "connection refused" in webhook.last_error
    working = Opener()
    assert services.confirmation_notification_send(notification_id=webhook.pk, opener=working) == "SENT"
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts, len(working.requests)) == (NotificationStatus.SENT, 2, 1)


def test_the_overdue_check_notifies_once(
    tw: Any, readers: tuple[Any, Any], opener: Opener, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        step(tw, tw.read_a, readers[0], 1, PD)
    mail.outbox.clear()
    assert services.confirmation_windows_overdue_notify(today=WINDOW_END) == 0  # the last day: still due
    after = (WINDOW_END + dt.timedelta(days=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        result = confirmation_windows_check_overdue.delay(today=after).get()
    assert result == {"overdue": 1}
    [message] = mail.outbox
    assert "overdue" in message.subject and "Status: OVERDUE" in message.body
    assert leaks(message.message().as_bytes(), _blinded(tw)) == []
    payload = json.loads(opener.requests[-1].data)
    assert (payload["event"], payload["status"]) == ("OVERDUE", "OVERDUE")
    # Run again (beat, redelivery): nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        assert confirmation_windows_check_overdue.delay(today=after).get() == {"overdue": 0}
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.CONFIRMATION_WINDOW_OVERDUE).count() == 1


def test_an_inactive_contact_is_not_told(
    tw: Any, manager: Any, readers: tuple[Any, Any], opener: Opener, django_capture_on_commit_callbacks: Any
) -> None:
    contact = tw.trial.sponsor_contacts.get()
    services.sponsor_contact_update(contact_id=contact.pk, changes={"active": False}, actor=manager)
    with django_capture_on_commit_callbacks(execute=True):
        step(tw, tw.read_a, readers[0], 1, PD)
    assert ConfirmationWindow.objects.count() == 1
    assert mail.outbox == [] and opener.requests == [] and not ConfirmationNotification.objects.exists()
