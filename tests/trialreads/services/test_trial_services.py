"""Trial set-up services: trial + charter versions, sites, subjects, timepoints, memberships, reads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import save_baseline, sign
from tests.factories import UserFactory
from trialreads.choices import AuditEventType, ReadStatus
from trialreads.errors import Conflict, NotFound, PermissionDenied, ValidationError
from trialreads.models import AuditEvent, Charter, ImagingTimepoint, Read, TimepointRead, Trial
from trialreads.services import trials as svc
from trialreads.services.audit import verify_chain

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        Trial.objects.count(),
        Charter.objects.count(),
        ImagingTimepoint.objects.count(),
        Read.objects.count(),
        AuditEvent.objects.count(),
    )


def test_trial_create_writes_charter_membership_and_chain(manager: Any) -> None:
    trial = svc.trial_create(code="T-1", title="A trial", actor=manager, charter={"criteria": ["recist1.1"]})
    charter = Charter.objects.get(trial=trial)
    assert charter.version == 1 and charter.is_current and charter.criteria == ["recist1.1"]
    assert charter.adjudication_rules == {"variables": ["bor", "pd_date"], "pd_date_tolerance_days": 7}
    kinds = list(AuditEvent.objects.filter(chain_id=trial.chain_id).values_list("event_type", flat=True))
    assert kinds == [
        AuditEventType.TRIAL_CREATED,
        AuditEventType.CHARTER_PUBLISHED,
        AuditEventType.MEMBERSHIP_ADDED,
    ]
    assert verify_chain(trial.chain_id).ok


def test_trial_create_refusals(manager: Any, reader_a: Any) -> None:
    svc.trial_create(code="T-1", title="A trial", actor=manager)
    before = _counts()
    with pytest.raises(PermissionDenied):
        svc.trial_create(code="T-2", title="x", actor=reader_a)
    with pytest.raises(Conflict):
        svc.trial_create(code="T-1", title="again", actor=manager)
    for kwargs, field in (
        ({"code": "bad code!"}, "code"),
        ({"title": " "}, "title"),
        ({"charter": {"criteria": ["recist2"]}}, "criteria"),
        ({"charter": {"criteria": ["irecist"], "primary_criterion": "recist1.1"}}, "primary_criterion"),
        ({"charter": {"sd_min_days": -1}}, "sd_min_days"),
        ({"charter": {"colour": "blue"}}, "charter"),
        ({"charter": {"adjudication_rules": {"variables": "bor"}}}, "adjudication_rules.variables"),
    ):
        args = {"code": "T-3", "title": "ok", **kwargs}
        with pytest.raises(ValidationError) as exc:
            svc.trial_create(actor=manager, **args)
        assert exc.value.field == field
    assert _counts() == before


def test_charter_publish_new_version(trial: Any, manager: Any, reader_a: Any) -> None:
    v2 = svc.charter_publish(
        trial_id=trial.pk,
        changes={"confirm_min_days": 35},
        effective_from=dt.date(2025, 6, 1),
        reason="charter amendment 1",
        actor=manager,
    )
    assert (
        v2.version == 2 and v2.confirm_min_days == 35 and v2.criteria == ["recist1.1", "irecist", "imrecist"]
    )
    assert list(Charter.objects.filter(trial=trial).values_list("version", "is_current")) == [
        (1, False),
        (2, True),
    ]
    event = AuditEvent.objects.filter(event_type=AuditEventType.CHARTER_PUBLISHED).order_by("-id").first()
    assert (
        event is not None and event.before["confirm_min_days"] == 28 and event.after["confirm_min_days"] == 35
    )
    assert event.reason == "charter amendment 1"
    with pytest.raises(PermissionDenied):
        svc.charter_publish(trial_id=trial.pk, changes={}, effective_from=dt.date(2025, 7, 1), actor=reader_a)
    with pytest.raises(ValidationError):
        svc.charter_publish(trial_id=trial.pk, changes={}, effective_from=dt.date(2025, 5, 1), actor=manager)
    with pytest.raises(ValidationError):
        svc.charter_publish(
            trial_id=trial.pk,
            changes={"irecist_window_min_days": 60},
            effective_from=dt.date(2025, 7, 1),
            actor=manager,
        )


@pytest.mark.parametrize(
    "number",
    [Decimal("1e10"), Decimal("-1"), Decimal("100000"), Decimal("3.14"), Decimal("NaN"),
     Decimal("Infinity"), 1.5, True, "3", None],
)
def test_timepoint_visit_number_is_bounded_before_anything_is_written(
    trial_with_reads: Any, manager: Any, number: Any
) -> None:
    last = trial_with_reads.timepoints[-1]
    def rows() -> tuple[int, int, int]:
        return ImagingTimepoint.objects.count(), TimepointRead.objects.count(), AuditEvent.objects.count()

    before = rows()
    with pytest.raises(ValidationError) as exc:
        svc.timepoint_create(
            subject_id=trial_with_reads.subject.pk,
            visit_label="W99",
            visit_number=number,
            scan_date_earliest=last.scan_date_latest + dt.timedelta(days=30),
            actor=manager,
        )
    assert exc.value.field == "visit_number"
    assert rows() == before


def test_timepoint_visit_number_bounds_are_inclusive(trial_with_reads: Any, manager: Any) -> None:
    last = trial_with_reads.timepoints[-1]
    timepoint = svc.timepoint_create(
        subject_id=trial_with_reads.subject.pk,
        visit_label="W99",
        visit_number=Decimal("99999.9"),
        scan_date_earliest=last.scan_date_latest + dt.timedelta(days=30),
        actor=manager,
    )
    timepoint.refresh_from_db()
    assert timepoint.visit_number == Decimal("99999.9")


def test_timepoint_rules(trial_with_reads: Any, manager: Any) -> None:
    subject = trial_with_reads.subject
    last = trial_with_reads.timepoints[-1]
    with pytest.raises(Conflict):
        svc.timepoint_create(
            subject_id=subject.pk,
            visit_label="BL2",
            visit_number=0,
            scan_date_earliest=dt.date(2025, 1, 1),
            is_baseline=True,
            actor=manager,
        )
    with pytest.raises(ValidationError) as exc:
        svc.timepoint_create(
            subject_id=subject.pk,
            visit_label="W99",
            visit_number=99,
            scan_date_earliest=last.scan_date_latest,
            actor=manager,
        )
    assert exc.value.field == "scan_date_earliest"
    with pytest.raises(ValidationError) as exc:
        svc.timepoint_create(
            subject_id=subject.pk,
            visit_label="W99",
            visit_number=99,
            scan_date_earliest=timezone.now().date() + dt.timedelta(days=5),
            actor=manager,
        )
    assert exc.value.field == "scan_date_latest"
    with pytest.raises(Conflict):
        svc.timepoint_create(
            subject_id=subject.pk,
            visit_label="WEEK6",
            visit_number=99,
            scan_date_earliest=dt.date(2025, 6, 1),
            actor=manager,
        )
    new = svc.timepoint_create(
        subject_id=subject.pk,
        visit_label="WEEK18",
        visit_number=3,
        scan_date_earliest=dt.date(2025, 5, 20),
        actor=manager,
    )
    assert new.sequence == 4
    assert TimepointRead.objects.filter(timepoint=new).count() == 2  # one draft per assigned read


def test_new_timepoint_reopens_a_completed_read(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any
) -> None:
    from tests.conftest import make_subject_with_reads

    world = make_subject_with_reads(trial, manager, (reader_a, reader_b), code="S-9", followups=0)
    save_baseline(world.tr(world.read_a, 0), reader_a)
    sign(world.tr(world.read_a, 0), reader_a)
    world.read_a.refresh_from_db()
    assert world.read_a.status == ReadStatus.COMPLETED
    svc.timepoint_create(
        subject_id=world.subject.pk,
        visit_label="WEEK6",
        visit_number=1,
        scan_date_earliest=dt.date(2025, 2, 20),
        actor=manager,
    )
    world.read_a.refresh_from_db()
    assert world.read_a.status == ReadStatus.IN_PROGRESS


def test_reads_assign_rules(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, outsider: Any
) -> None:
    site = svc.site_create(trial_id=trial.pk, code="S1", actor=manager)
    subject = svc.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code="X-1",
        randomisation_date=dt.date(2025, 1, 1),
        actor=manager,
    )
    before = _counts()
    for ids, field in (
        ([reader_a.pk, reader_a.pk], "reader_ids"),
        ([reader_a.pk], "reader_ids"),
        ([reader_a.pk, adjudicator.pk], "reader_ids[1]"),
        ([outsider.pk, reader_b.pk], "reader_ids[0]"),
    ):
        with pytest.raises(ValidationError) as exc:
            svc.reads_assign(subject_id=subject.pk, reader_ids=ids, actor=manager)
        assert exc.value.field == field
    assert _counts() == before
    with pytest.raises(PermissionDenied):
        svc.reads_assign(subject_id=subject.pk, reader_ids=[reader_a.pk, reader_b.pk], actor=adjudicator)
    with pytest.raises(NotFound):
        svc.reads_assign(subject_id=subject.pk, reader_ids=[reader_a.pk, reader_b.pk], actor=outsider)
    reads = svc.reads_assign(subject_id=subject.pk, reader_ids=[reader_b.pk, reader_a.pk], actor=manager)
    assert [(r.slot, r.reader_id) for r in reads] == [(1, reader_b.pk), (2, reader_a.pk)]
    with pytest.raises(Conflict):
        svc.reads_assign(subject_id=subject.pk, reader_ids=[reader_a.pk, reader_b.pk], actor=manager)


def test_membership_rules(trial: Any, manager: Any, reader_a: Any) -> None:
    with pytest.raises(Conflict):  # one role per user per trial: a reader cannot also adjudicate
        svc.membership_add(trial_id=trial.pk, user_id=reader_a.pk, role="ADJUDICATOR", actor=manager)
    newcomer = UserFactory(username="newcomer")
    with pytest.raises(ValidationError):
        svc.membership_add(trial_id=trial.pk, user_id=newcomer.pk, role="BOSS", actor=manager)
    with pytest.raises(ValidationError):
        svc.membership_add(
            trial_id=trial.pk, user_id=newcomer.pk, role="MANAGER", reader_label="R9", actor=manager
        )
    with pytest.raises(Conflict):
        svc.membership_add(
            trial_id=trial.pk, user_id=newcomer.pk, role="READER", reader_label="R1", actor=manager
        )
    membership = svc.membership_add(trial_id=trial.pk, user_id=newcomer.pk, role="READER", actor=manager)
    assert membership.reader_label == "R3"


def test_subject_rules(trial: Any, manager: Any) -> None:
    site = svc.site_create(trial_id=trial.pk, code="S1", actor=manager)
    with pytest.raises(Conflict):
        svc.site_create(trial_id=trial.pk, code="S1", actor=manager)
    svc.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code="A-1",
        randomisation_date=dt.date(2025, 1, 1),
        actor=manager,
    )
    with pytest.raises(Conflict):
        svc.subject_create(
            trial_id=trial.pk,
            site_id=site.pk,
            subject_code="A-1",
            randomisation_date=dt.date(2025, 1, 1),
            actor=manager,
        )
    with pytest.raises(ValidationError) as exc:
        svc.subject_create(
            trial_id=trial.pk,
            site_id=site.pk,
            subject_code="A-2",
            randomisation_date=dt.date(2025, 1, 1),
            death_date=dt.date(2024, 12, 1),
            actor=manager,
        )
    assert exc.value.field == "death_date"
    with pytest.raises(ValidationError) as exc:
        svc.subject_create(
            trial_id=trial.pk,
            site_id=site.pk + 999,
            subject_code="A-3",
            randomisation_date=dt.date(2025, 1, 1),
            actor=manager,
        )
    assert exc.value.field == "site_id"


def test_subject_update_records_old_and_new(trial_with_reads: Any, manager: Any, reader_a: Any) -> None:
    subject = trial_with_reads.subject
    with pytest.raises(ValidationError) as exc:
        svc.subject_update(subject_id=subject.pk, changes={"arm": "B"}, reason="x", actor=manager)
    assert exc.value.field == "changes"
    with pytest.raises(ValidationError) as exc:
        svc.subject_update(
            subject_id=subject.pk, changes={"death_date": dt.date(2025, 3, 1)}, reason=" ", actor=manager
        )
    assert exc.value.field == "reason"
    with pytest.raises(PermissionDenied):
        svc.subject_update(
            subject_id=subject.pk, changes={"death_date": dt.date(2025, 3, 1)}, reason="x", actor=reader_a
        )
    svc.subject_update(
        subject_id=subject.pk,
        changes={"death_date": dt.date(2025, 3, 1)},
        reason="site report 2025-03-02",
        actor=manager,
    )
    subject.refresh_from_db()
    assert subject.death_date == dt.date(2025, 3, 1)
    event = AuditEvent.objects.get(event_type=AuditEventType.SUBJECT_UPDATED)
    assert event.before == {"death_date": None} and event.after == {"death_date": "2025-03-01"}
    assert verify_chain(trial_with_reads.trial.chain_id).ok


def test_hostile_ids_are_denied_not_crashing(outsider: Any) -> None:
    from trialreads import access
    from trialreads.services.audit import access_denied_record

    with pytest.raises(NotFound) as refused:
        access.access_read_for(outsider, "x" * 500)
    assert refused.value.denial is not None
    access_denied_record(denial=refused.value.denial)  # what the request's boundary does
    denial = AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED).get()
    assert denial.object_id == "x" * 60


def test_resubmitted_timepoint_is_a_conflict(trial_with_reads: Any, manager: Any) -> None:
    """The same visit sent twice (a double submit, or two managers at once: the 16-thread race
    in tests/trialreads/api/test_conc_api.py) answers Conflict, not a date error, whatever the spacing."""
    last = trial_with_reads.timepoints[-1]
    for label in (last.visit_label, f" {last.visit_label} "):
        with pytest.raises(Conflict, match=f"Visit {last.visit_label} already exists"):
            svc.timepoint_create(
                subject_id=trial_with_reads.subject.pk,
                visit_label=label,
                visit_number=last.visit_number,
                scan_date_earliest=last.scan_date_earliest,
                scan_date_latest=last.scan_date_latest,
                actor=manager,
            )
    assert trial_with_reads.subject.timepoints.count() == len(trial_with_reads.timepoints)
