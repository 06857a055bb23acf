"""The access and blinding gate (T-BLIND-*, T-AUTHZ-AUDIT) at the service/selector layer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser

from tests.conftest import make_subject_with_reads, save_baseline, save_followup, sign
from trialreads import access
from trialreads.choices import AuditEventType
from trialreads.errors import NotFound, PermissionDenied
from trialreads.models import AuditEvent, EndpointJob, ExportBatch, Read, Subject
from trialreads.selectors import reads as read_selectors
from trialreads.selectors import trials as trial_selectors
from trialreads.services import reads as svc
from trialreads.services.signed_content import signature_verify

pytestmark = pytest.mark.django_db

MISSING = 987_654


def _denials() -> int:
    return AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED).count()


def test_capability_table_is_data() -> None:
    assert access.CAPABILITIES["READER"] == {"view_own_reads", "edit_own_read", "sign"}
    assert "view_arm" not in access.CAPABILITIES["MANAGER"] | access.CAPABILITIES["ADJUDICATOR"]
    assert (
        not {"view_own_reads", "view_reads_all", "view_reads_signed"} & access.CAPABILITIES["SPONSOR_VIEWER"]
    )


@pytest.mark.parametrize(
    "gate",
    [access.access_read_for, access.access_timepoint_read_for],
    ids=["read", "timepoint_read"],
)
def test_other_readers_object_is_indistinguishable_from_missing(
    trial_with_reads: Any, reader_a: Any, gate: Any
) -> None:
    other = (
        trial_with_reads.read_b
        if gate is access.access_read_for
        else trial_with_reads.tr(trial_with_reads.read_b, 0)
    )
    before = _denials()
    with pytest.raises(NotFound) as hidden:
        gate(reader_a, other.pk)
    with pytest.raises(NotFound) as missing:
        gate(reader_a, MISSING)
    assert type(hidden.value) is type(missing.value)
    assert (
        str(hidden.value) == str(missing.value)
        and hidden.value.status_code == missing.value.status_code == 404
    )
    # The gate only reads and raises; each refusal carries what the request's boundary records
    # (T-AUTHZ-AUDIT: tests/trialreads/api/test_denial_audit.py records them through HTTP).
    assert _denials() == before
    for err, object_id in ((hidden, other.pk), (missing, MISSING)):
        denial = err.value.denial
        assert denial is not None and denial.actor == reader_a and denial.chain_id == "global"
        kind = gate.__name__.removeprefix("access_").removesuffix("_for")
        assert (denial.object_type, denial.object_id) == (kind, object_id)


def test_reader_sees_only_own_reads(trial_with_reads: Any, reader_a: Any, reader_b: Any) -> None:
    assert access.access_read_for(reader_a, trial_with_reads.read_a.pk) == trial_with_reads.read_a
    assert list(read_selectors.read_list(user=reader_a)) == [trial_with_reads.read_a]
    assert list(read_selectors.read_list(user=reader_b, trial_id=trial_with_reads.trial.pk)) == [
        trial_with_reads.read_b
    ]
    with pytest.raises(NotFound):
        read_selectors.timepoint_read_list(user=reader_a, read_id=trial_with_reads.read_b.pk)


def test_reader_cannot_write_the_other_read(trial_with_reads: Any, reader_b: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    before = _denials()
    with pytest.raises(NotFound) as saving:
        save_baseline(tr, reader_b)
    with pytest.raises(NotFound) as signing:
        sign(tr, reader_b)
    assert _denials() == before  # recorded at the boundary, not by the gate
    assert saving.value.denial is not None and signing.value.denial is not None
    assert saving.value.denial.actor == signing.value.denial.actor == reader_b
    tr.refresh_from_db()
    assert tr.version == 1


def test_manager_sees_all_reads_but_cannot_edit_or_sign(trial_with_reads: Any, manager: Any) -> None:
    assert set(read_selectors.read_list(user=manager)) == {trial_with_reads.read_a, trial_with_reads.read_b}
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    with pytest.raises(PermissionDenied):
        save_baseline(tr, manager)


def test_adjudicator_sees_no_read_through_the_gate_even_when_both_signed(
    trial_with_reads: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    """The adjudicator reaches the reads only through the case (labels, no ids): read ids
    are sequential, so the gate answers them as for a missing id, signed pairs included."""
    w = trial_with_reads
    for index in (0, 1):
        for read, user in ((w.read_a, reader_a), (w.read_b, reader_b)):
            tr = w.tr(read, index)
            (save_baseline if index == 0 else save_followup)(tr, user)
            sign(tr, user)
    assert list(access.visible_reads(adjudicator)) == []
    assert list(access.visible_timepoint_reads(adjudicator)) == []
    assert list(read_selectors.read_list(user=adjudicator)) == []
    for read in (w.read_a, w.read_b):
        with pytest.raises(NotFound):
            access.access_read_for(adjudicator, read.pk)
        for index in (0, 1, 2):
            with pytest.raises(NotFound):
                access.access_timepoint_read_for(adjudicator, w.tr(read, index).pk)


@pytest.mark.parametrize("persona", ["sponsor", "outsider", "anonymous"])
def test_no_reads_for_sponsor_outsider_anonymous(
    trial_with_reads: Any, request: pytest.FixtureRequest, persona: str
) -> None:
    user = AnonymousUser() if persona == "anonymous" else request.getfixturevalue(persona)
    assert list(access.visible_reads(user)) == []
    assert list(access.visible_timepoint_reads(user)) == []
    with pytest.raises(NotFound):
        access.access_read_for(user, trial_with_reads.read_a.pk)


def test_outsider_sees_no_trial_or_subject(trial_with_reads: Any, outsider: Any) -> None:
    assert list(trial_selectors.trial_list(user=outsider)) == []
    with pytest.raises(NotFound):
        trial_selectors.trial_get(user=outsider, trial_id=trial_with_reads.trial.pk)
    with pytest.raises(NotFound):
        access.access_subject_for(outsider, trial_with_reads.subject.pk)
    with pytest.raises(NotFound):
        access.access_trial_for(outsider, "not-a-number")


def test_arm_only_for_sponsor(
    trial_with_reads: Any, reader_a: Any, manager: Any, adjudicator: Any, sponsor: Any
) -> None:
    trial_id = trial_with_reads.trial.pk
    for user in (reader_a, manager, adjudicator):
        assert not access.can_view_arm(user, trial_id)
        subjects = trial_selectors.subject_list(user=user, trial_id=trial_id)
        assert "arm" in subjects.query.deferred_loading[0]
    assert access.can_view_arm(sponsor, trial_id)
    assert [s.arm for s in trial_selectors.subject_list(user=sponsor, trial_id=trial_id)] == ["EXPERIMENTAL"]
    # The audit trail (reviewed by managers) records that an arm was set, never which.
    created = AuditEvent.objects.get(event_type=AuditEventType.SUBJECT_CREATED)
    assert "EXPERIMENTAL" not in str(created.after)


def test_reader_does_not_learn_who_the_other_reader_is(
    trial_with_reads: Any, reader_a: Any, manager: Any
) -> None:
    mine = list(trial_selectors.membership_list(user=reader_a, trial_id=trial_with_reads.trial.pk))
    assert [m.user for m in mine] == [reader_a]
    assert len(trial_selectors.membership_list(user=manager, trial_id=trial_with_reads.trial.pk)) == 5


def test_reader_subjects_are_those_with_their_reads(
    trial: Any, trial_with_reads: Any, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> None:
    from tests.factories import UserFactory
    from trialreads.services.trials import membership_add

    reader_c = UserFactory(username="reader_c")
    membership_add(trial_id=trial.pk, user_id=reader_c.pk, role="READER", actor=manager)
    make_subject_with_reads(trial, manager, (reader_b, reader_c), code="S-002", followups=0)

    def codes(user):
        return sorted(s.subject_code for s in trial_selectors.subject_list(user=user, trial_id=trial.pk))

    assert codes(reader_a) == ["S-001"]
    assert codes(reader_b) == ["S-001", "S-002"]
    assert codes(manager) == ["S-001", "S-002"]


def test_list_queries_do_not_grow_with_rows(trial: Any, manager: Any, reader_a: Any, reader_b: Any) -> None:
    make_subject_with_reads(trial, manager, (reader_a, reader_b), code="S-100", followups=1)

    def count_list_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            reads = list(read_selectors.read_list(user=manager, trial_id=trial.pk))
            for read in reads:
                _ = (read.subject.subject_code, read.reader.username, read.subject.trial.code)
            trs = list(read_selectors.timepoint_read_list(user=manager, read_id=reads[0].pk))
            for tr in trs:
                _ = [(m.lesion.lesion_code, m.value_mm) for m in tr.measurements.all()]
                _ = [(r.lesion.lesion_code, r.status) for r in tr.ratings.all()]
                _ = [s.printed_name for s in tr.signatures.all()]
        return len(ctx.captured_queries)

    small = count_list_queries()
    for i in range(4):
        world = make_subject_with_reads(trial, manager, (reader_a, reader_b), code=f"S-2{i:02d}", followups=1)
        save_baseline(world.tr(world.read_a, 0), reader_a)
    tr = trial_with_reads_first_tr(trial)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    save_followup(trial_with_reads_first_tr(trial, 1), reader_a)
    assert count_list_queries() == small


def trial_with_reads_first_tr(trial: Any, index: int = 0) -> Any:
    from trialreads.models import TimepointRead

    return TimepointRead.objects.filter(
        read__subject__trial=trial, read__subject__subject_code="S-100", read__slot=1
    ).order_by("timepoint__sequence")[index]


def test_signature_link_verifier(trial_with_reads: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    assert signature_verify(user=reader_a, timepoint_read_id=tr.pk)["signed"] is False
    sign(tr, reader_a)
    report = signature_verify(user=reader_a, timepoint_read_id=tr.pk)
    assert report["valid"] and report["signature_sha256"] == svc.content_sha256(tr)


def test_jobs_and_batches_exist_only_for_managers_and_sponsors(
    trial: Any, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any, outsider: Any
) -> None:
    """Issue 13: the capability is part of the lookup, so the review team gets the same
    NotFound on an existing job or batch as on a missing id (each carrying its denial)."""
    charter = trial.charters.get(is_current=True)
    job = EndpointJob.objects.create(
        trial=trial, charter=charter, algorithm_version="x", input_sha256="a" * 64
    )
    batch = ExportBatch.objects.create(trial=trial, job=job, input_sha256="b" * 64)
    for user in (manager, sponsor):
        assert access.access_endpoint_job_for(user, job.pk) == job
        assert access.access_export_batch_for(user, batch.pk) == batch
    for user in (reader_a, adjudicator, outsider, AnonymousUser()):
        gates = ((access.access_endpoint_job_for, job.pk), (access.access_export_batch_for, batch.pk))
        for gate, pk in gates:
            with pytest.raises(NotFound) as hidden:
                gate(user, pk)
            with pytest.raises(NotFound) as missing:
                gate(user, MISSING)
            assert hidden.value.denial is not None and missing.value.denial is not None
            assert (hidden.value.denial.object_id, missing.value.denial.object_id) == (pk, MISSING)


# --- field-level blinding: every decision reads access.FIELD_CAPABILITY ---------------------------


def test_field_visibility_by_persona(
    trial_with_reads: Any, reader_a: Any, reader_b: Any, manager: Any, adjudicator: Any, sponsor: Any
) -> None:
    w = trial_with_reads
    trial_id, owner = w.trial.pk, w.read_a.reader_id
    expected = {  # persona: (sees the arm, sees who read read A)
        reader_a: (False, True),
        reader_b: (False, False),
        manager: (False, True),
        adjudicator: (False, False),
        sponsor: (True, False),
        AnonymousUser(): (False, False),
    }
    for user, (arm, identity) in expected.items():
        viewer = access.Viewer.load(user)
        assert (viewer.sees_arm(trial_id), viewer.sees_reader_identity(trial_id, owner)) == (arm, identity)
        assert access.can_see_reader_identity(user, trial_id, owner) is identity
    assert access.Viewer.load(manager).trials_with_reader_identity() == [trial_id]
    assert access.Viewer.load(adjudicator).trials_with_reader_identity() == []


def test_the_admin_shows_what_its_role_in_the_table_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert access.admin_hidden_fields("subject") == ("arm",)
    assert access.admin_fields("read", ("subject", "slot", "reader", "status")) == (
        "subject",
        "slot",
        "reader",
        "status",
    )
    # The decision is the table's, not the admin's: an adjudicator's view would hide readers.
    monkeypatch.setattr(access, "ADMIN_VIEWS_AS", "ADJUDICATOR")
    assert access.admin_fields("read", ("subject", "slot", "reader", "status")) == ("subject", "status")
    assert access.admin_hidden_fields("signature") == ("printed_name",)


def test_registered_admin_hides_the_arm() -> None:
    assert "arm" in admin.site._registry[Subject].exclude
    assert {"slot", "reader"} <= set(admin.site._registry[Read].list_display)


def test_adjudicator_sees_only_timepoints_both_readers_signed() -> None:
    def trs(*timepoints: int) -> list[Any]:
        return [SimpleNamespace(timepoint_id=t) for t in timepoints]

    comparable = access.adjudication_comparable({1: trs(10, 11, 12), 2: trs(10, 11)})
    assert {slot: [t.timepoint_id for t in rows] for slot, rows in comparable.items()} == {
        1: [10, 11],
        2: [10, 11],
    }
