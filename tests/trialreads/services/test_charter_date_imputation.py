"""Issue 18 item 1: the rule for partial scan dates is a charter setting (``date_imputation``):
validated (4xx naming the field, nothing written), audited in CHARTER_PUBLISHED, and the rule
a timepoint created from its collected partial date alone is imputed by."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from trialreads.choices import AuditEventType
from trialreads.errors import ValidationError
from trialreads.models import AuditEvent, Charter, ImagingTimepoint, Trial
from trialreads.services import trials as svc

pytestmark = pytest.mark.django_db


def _publish(trial: Any, manager: Any, **changes: Any) -> Charter:
    return svc.charter_publish(
        trial_id=trial.pk, changes=changes, effective_from=dt.date(2025, 6, 1), reason="SAP v2", actor=manager
    )


def test_existing_charters_keep_the_former_rule(trial: Any) -> None:
    assert Charter.objects.get(trial=trial, is_current=True).date_imputation == "nominal"


def test_the_rule_is_published_and_audited_before_and_after(trial: Any, manager: Any) -> None:
    v2 = _publish(trial, manager, date_imputation="last")
    assert (v2.version, v2.date_imputation) == (2, "last")
    event = AuditEvent.objects.filter(
        chain_id=trial.chain_id, event_type=AuditEventType.CHARTER_PUBLISHED
    ).latest("seq")
    assert (event.before["date_imputation"], event.after["date_imputation"]) == ("nominal", "last")


@pytest.mark.parametrize("bad", ["latest", "", None, 3, "LAST"])
def test_an_unknown_rule_is_refused_naming_the_field(trial: Any, manager: Any, bad: object) -> None:
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as caught:
        _publish(trial, manager, date_imputation=bad)
    assert caught.value.field == "date_imputation"
    assert Charter.objects.filter(trial=trial).count() == 1 and AuditEvent.objects.count() == events
    with pytest.raises(ValidationError) as created:
        svc.trial_create(code="BAD-RULE", title="x", actor=manager, charter={"date_imputation": bad})
    assert created.value.field == "date_imputation" and not Trial.objects.filter(code="BAD-RULE").exists()


def _subject(trial: Any, manager: Any) -> Any:
    site = svc.site_create(trial_id=trial.pk, code="S1", actor=manager)
    subject = svc.subject_create(
        trial_id=trial.pk, site_id=site.pk, subject_code="P-1", randomisation_date=dt.date(2014, 1, 2),
        actor=manager,
    )  # fmt: skip
    svc.timepoint_create(
        subject_id=subject.pk, visit_label="BASELINE", visit_number=0, scan_date_earliest=dt.date(2014, 1, 2),
        is_baseline=True, actor=manager,
    )  # fmt: skip
    return subject


@pytest.mark.parametrize(("rule", "day"), [("last", 28), ("mid", 15), ("first", 1), ("nominal", 1)])
def test_a_partial_date_alone_is_imputed_by_the_charters_rule(
    trial: Any, manager: Any, rule: str, day: int
) -> None:
    _publish(trial, manager, date_imputation=rule)
    subject = _subject(trial, manager)
    tp = svc.timepoint_create(
        subject_id=subject.pk, visit_label="WEEK 6", visit_number=1, scan_date_collected="2014-02",
        actor=manager,
    )  # fmt: skip
    assert (tp.scan_date_collected, tp.scan_date_imputation) == ("2014-02", rule)
    assert tp.scan_date_earliest == tp.scan_date_latest == dt.date(2014, 2, day)
    event = AuditEvent.objects.filter(event_type=AuditEventType.TIMEPOINT_CREATED, object_id=str(tp.pk)).get()
    assert (event.after["scan_date_collected"], event.after["scan_date_imputation"]) == ("2014-02", rule)


def test_a_named_rule_overrides_the_charters_and_dates_must_lie_in_the_period(
    trial: Any, manager: Any
) -> None:
    _publish(trial, manager, date_imputation="last")
    subject = _subject(trial, manager)
    tp = svc.timepoint_create(
        subject_id=subject.pk, visit_label="WEEK 6", visit_number=1, scan_date_collected="2014-02",
        scan_date_imputation="first", actor=manager,
    )  # fmt: skip
    assert (tp.scan_date_imputation, tp.scan_date_latest) == ("first", dt.date(2014, 2, 1))
    # The period has no day left after the previous visit: refused, naming the collected date.
    svc.timepoint_create(
        subject_id=subject.pk, visit_label="WEEK 9", visit_number=2, scan_date_earliest=dt.date(2014, 3, 31),
        actor=manager,
    )  # fmt: skip
    before = ImagingTimepoint.objects.count()
    with pytest.raises(ValidationError) as caught:
        svc.timepoint_create(
            subject_id=subject.pk, visit_label="WEEK 12", visit_number=3, scan_date_collected="2014-03",
            actor=manager,
        )  # fmt: skip
    assert caught.value.field == "scan_date_collected" and ImagingTimepoint.objects.count() == before
    with pytest.raises(ValidationError) as missing:
        svc.timepoint_create(subject_id=subject.pk, visit_label="WEEK 12", visit_number=3, actor=manager)
    assert missing.value.field == "scan_date_earliest" and ImagingTimepoint.objects.count() == before


def test_the_sponsors_epochs_are_a_charter_setting_checked_and_audited(trial: Any, manager: Any) -> None:
    """Issue 18 item 4: ``epoch_rule`` (none by default: the transfer leaves EPOCH out)."""
    assert Charter.objects.get(trial=trial, is_current=True).epoch_rule == ""
    v2 = _publish(trial, manager, epoch_rule="screening_treatment")
    event = AuditEvent.objects.filter(event_type=AuditEventType.CHARTER_PUBLISHED).latest("seq")
    assert v2.epoch_rule == event.after["epoch_rule"] == "screening_treatment"
    assert event.before["epoch_rule"] == ""
    with pytest.raises(ValidationError) as caught:
        _publish(trial, manager, epoch_rule="SCREENING")
    assert caught.value.field == "epoch_rule" and Charter.objects.filter(trial=trial).count() == 2
