"""The confirmation window of an unconfirmed progression through the real services: it opens
when an iUPD is signed, is due, turns overdue when ``today`` passes its end, and closes on
the confirming (iCPD) or the resetting (iSD) read; re-signing after an unlock opens no duplicate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from criteria.errors import InputError
from tests.conftest import sign
from tests.trialreads.confirmation_helpers import (
    IUPD_SCAN,
    PD,
    PD2,
    SD,
    WINDOW_END,
    WINDOW_START,
    irecist_trial,
    step,
)
from trialreads.choices import AuditEventType, ConfirmationOutcome
from trialreads.models import AuditEvent, ConfirmationWindow
from trialreads.selectors import confirmation as selectors
from trialreads.services import confirmation as services
from trialreads.services import reads as read_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(reader_a: Any, reader_b: Any) -> tuple[Any, Any]:
    return reader_a, reader_b


def _events(kind: str) -> int:
    return AuditEvent.objects.filter(event_type=kind).count()


def _status(manager: Any, tw: Any, today: dt.date) -> str:
    [view] = selectors.confirmation_window_list(user=manager, trial_id=tw.trial.pk, today=today)
    return view.status


def _unlock(tr: Any, manager: Any) -> None:
    read_services.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="correction", actor=manager)


def test_the_window_opens_on_a_signed_iupd_is_due_then_overdue(
    manager: Any, readers: tuple[Any, Any]
) -> None:
    tw = irecist_trial(manager, readers)
    step(tw, tw.read_a, readers[0], 0)
    assert not ConfirmationWindow.objects.exists()
    step(tw, tw.read_a, readers[0], 1, PD)
    [window] = ConfirmationWindow.objects.all()
    assert (window.subject_id, window.criterion, window.timepoint_id) == (
        tw.subject.pk,
        "irecist",
        tw.timepoints[1].pk,
    )
    assert (window.scan_date, window.window_start, window.window_end) == (IUPD_SCAN, WINDOW_START, WINDOW_END)
    assert (window.window_min_days, window.window_max_days, window.charter_version) == (28, 56, 1)
    assert list(window.source_timepoint_reads.all()) == [tw.tr(tw.read_a, 1)]
    assert window.closed_at is None and window.outcome == ""
    assert _events(AuditEventType.CONFIRMATION_WINDOW_OPENED) == 1
    # Due from the scan until the window's last day, overdue the day after.
    assert _status(manager, tw, IUPD_SCAN) == "DUE"
    assert _status(manager, tw, WINDOW_END) == "DUE"
    assert _status(manager, tw, WINDOW_END + dt.timedelta(days=1)) == "OVERDUE"
    assert (
        selectors.confirmation_window_list(
            user=manager, trial_id=tw.trial.pk, today=WINDOW_END, status="OVERDUE"
        )
        == []
    )


def test_the_confirming_icpd_read_closes_the_window(manager: Any, readers: tuple[Any, Any]) -> None:
    tw = irecist_trial(manager, readers)
    for index, values in ((0, SD), (1, PD), (2, PD2)):
        step(tw, tw.read_a, readers[0], index, values)
    [window] = ConfirmationWindow.objects.all()
    assert window.outcome == ConfirmationOutcome.CONFIRMED and window.closed_at is not None
    assert window.closing_timepoint_read == tw.tr(tw.read_a, 2)
    assert _status(manager, tw, WINDOW_END + dt.timedelta(days=30)) == "CONFIRMED"
    closed = AuditEvent.objects.get(event_type=AuditEventType.CONFIRMATION_WINDOW_CLOSED)
    assert closed.after["outcome"] == "CONFIRMED" and closed.object_id == str(window.pk)
    # iCPD is final: the next scan opens nothing.
    step(tw, tw.read_a, readers[0], 3, PD2)
    assert ConfirmationWindow.objects.count() == 1


def test_a_resetting_read_closes_the_window(manager: Any, readers: tuple[Any, Any]) -> None:
    tw = irecist_trial(manager, readers)
    for index, values in ((0, SD), (1, PD), (2, SD)):
        step(tw, tw.read_a, readers[0], index, values)
    [window] = ConfirmationWindow.objects.all()
    assert window.outcome == ConfirmationOutcome.RESET
    assert window.closing_timepoint_read == tw.tr(tw.read_a, 2)
    # After the reset a new iUPD opens a new window, counted from its own scan.
    step(tw, tw.read_a, readers[0], 3, PD)
    second = ConfirmationWindow.objects.get(closed_at__isnull=True)
    assert second.timepoint == tw.timepoints[3] and second.scan_date == dt.date(2025, 5, 12)


def test_recist_alone_opens_no_window(manager: Any, readers: tuple[Any, Any]) -> None:
    tw = irecist_trial(manager, readers, criteria=("recist1.1",))
    step(tw, tw.read_a, readers[0], 0)
    step(tw, tw.read_a, readers[0], 1, PD)  # RECIST 1.1 PD is final: no confirmation workflow
    assert not ConfirmationWindow.objects.exists()


def test_the_second_reader_showing_the_same_iupd_joins_the_window(
    manager: Any, readers: tuple[Any, Any]
) -> None:
    tw = irecist_trial(manager, readers)
    for read, reader in ((tw.read_a, readers[0]), (tw.read_b, readers[1])):
        step(tw, read, reader, 0)
        step(tw, read, reader, 1, PD)
    [window] = ConfirmationWindow.objects.all()
    assert set(window.source_timepoint_reads.all()) == {tw.tr(tw.read_a, 1), tw.tr(tw.read_b, 1)}
    assert _events(AuditEventType.CONFIRMATION_WINDOW_OPENED) == 1
    assert _events(AuditEventType.CONFIRMATION_WINDOW_SOURCE_ADDED) == 1


def test_reconciling_again_changes_nothing(manager: Any, readers: tuple[Any, Any]) -> None:
    tw = irecist_trial(manager, readers)
    step(tw, tw.read_a, readers[0], 0)
    step(tw, tw.read_a, readers[0], 1, PD)
    before = AuditEvent.objects.count()
    services.confirmation_windows_reconcile(subject_id=tw.subject.pk, actor=None)
    services.confirmation_windows_reconcile(subject_id=tw.subject.pk, actor=None)
    assert AuditEvent.objects.count() == before and ConfirmationWindow.objects.count() == 1


def test_unlock_withdraws_and_re_signing_reopens_the_same_window(
    manager: Any, readers: tuple[Any, Any]
) -> None:
    tw = irecist_trial(manager, readers)
    step(tw, tw.read_a, readers[0], 0)
    step(tw, tw.read_a, readers[0], 1, PD)
    [window] = ConfirmationWindow.objects.all()
    _unlock(tw.tr(tw.read_a, 1), manager)
    window.refresh_from_db()
    assert window.outcome == ConfirmationOutcome.WITHDRAWN and not window.source_timepoint_reads.exists()
    sign(tw.tr(tw.read_a, 1), readers[0])  # the same content signed again
    [again] = ConfirmationWindow.objects.all()
    assert again.pk == window.pk and again.closed_at is None and again.outcome == ""
    assert list(again.source_timepoint_reads.all()) == [tw.tr(tw.read_a, 1)]
    assert _events(AuditEventType.CONFIRMATION_WINDOW_OPENED) == 1
    assert _events(AuditEventType.CONFIRMATION_WINDOW_REOPENED) == 1


def test_unlocking_the_closing_read_reopens_the_window(manager: Any, readers: tuple[Any, Any]) -> None:
    tw = irecist_trial(manager, readers)
    for index, values in ((0, SD), (1, PD), (2, PD2)):
        step(tw, tw.read_a, readers[0], index, values)
    _unlock(tw.tr(tw.read_a, 2), manager)
    [window] = ConfirmationWindow.objects.all()
    assert window.closed_at is None and window.closing_timepoint_read is None
    step(tw, tw.read_a, readers[0], 2, SD)  # corrected: no further growth, a reset after all
    window.refresh_from_db()
    assert window.outcome == ConfirmationOutcome.RESET and ConfirmationWindow.objects.count() == 1


def test_a_lagging_reader_does_not_reopen_a_settled_progression(
    manager: Any, readers: tuple[Any, Any]
) -> None:
    tw = irecist_trial(manager, readers)
    for index, values in ((0, SD), (1, PD), (2, PD2)):
        step(tw, tw.read_a, readers[0], index, values)
    step(tw, tw.read_b, readers[1], 0)
    step(tw, tw.read_b, readers[1], 1, PD)  # B reaches the same iUPD after A's scan confirmed it
    [window] = ConfirmationWindow.objects.all()
    assert window.outcome == ConfirmationOutcome.CONFIRMED


def test_an_engine_failure_does_not_fail_the_signature(
    manager: Any, readers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = irecist_trial(manager, readers)
    step(tw, tw.read_a, readers[0], 0)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine down")

    monkeypatch.setattr(services, "evaluate", broken)
    step(tw, tw.read_a, readers[0], 1, PD)
    assert tw.tr(tw.read_a, 1).locked
    failed = AuditEvent.objects.get(event_type=AuditEventType.CONFIRMATION_EVALUATION_FAILED)
    assert failed.after == {"error": "RuntimeError", "message": "engine down"}
    monkeypatch.undo()
    services.confirmation_windows_reconcile(subject_id=tw.subject.pk)  # the re-run catches up
    assert ConfirmationWindow.objects.filter(closed_at__isnull=True).count() == 1


def test_a_criterion_the_engine_cannot_evaluate_is_audited_and_left_alone(
    manager: Any, readers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tw = irecist_trial(manager, readers)
    step(tw, tw.read_a, readers[0], 0)
    real = services.evaluate

    def refuse_irecist(subject: Any, criteria: Any, **kwargs: Any) -> Any:
        if list(criteria) == ["irecist"]:
            raise InputError(subject.subject, "pet", "irecist needs what this read lacks")
        return real(subject, criteria, **kwargs)

    monkeypatch.setattr(services, "evaluate", refuse_irecist)
    step(tw, tw.read_a, readers[0], 1, PD)
    assert tw.tr(tw.read_a, 1).locked and not ConfirmationWindow.objects.exists()
    failed = AuditEvent.objects.get(event_type=AuditEventType.CONFIRMATION_EVALUATION_FAILED)
    assert failed.after["criterion"] == "irecist" and "irecist needs" in failed.after["errors"][0]
