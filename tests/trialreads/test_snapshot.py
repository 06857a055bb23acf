"""``trialreads.snapshot``: a fixed number of queries whatever the size of the trial (whole
trial, one subject, a cut-off export), and the same engine input from the bulk rows as from
one read's prefetched instances."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trialreads import mappers
from trialreads.management.commands.benchmark import FOLLOWUPS, build_synthetic_trial
from trialreads.models import Charter, Read, TimepointRead, Trial
from trialreads.selectors.reads import _with_content
from trialreads.services.endpoints import endpoints_compute
from trialreads.services.exports import build_study
from trialreads.snapshot import SNAPSHOT_QUERIES, TrialSnapshot, engine_subject, settings_from_charter

pytestmark = pytest.mark.django_db


@pytest.fixture
def trials() -> tuple[Trial, Trial]:
    return build_synthetic_trial(3, seed=5, code="SNAP-S"), build_synthetic_trial(12, seed=6, code="SNAP-L")


def test_whole_trial_and_one_subject_in_a_fixed_number_of_queries(
    trials: tuple[Trial, Trial], django_assert_num_queries: object
) -> None:
    for trial, size in zip(trials, (3, 12), strict=True):
        with django_assert_num_queries(SNAPSHOT_QUERIES):  # type: ignore[operator]
            snapshot = TrialSnapshot.load(trial.pk)
        assert len(snapshot.subjects) == size
        assert all(
            len(tr.timepoint_reads) == FOLLOWUPS + 1 for s in snapshot.subjects for tr in s.reads.values()
        )
        one = snapshot.subjects[1]
        with django_assert_num_queries(SNAPSHOT_QUERIES):  # type: ignore[operator]
            alone = TrialSnapshot.load(trial.pk, subject_id=one.id)
        assert alone.subjects == (one,)


def test_cutoff_export_loads_the_trial_once_in_a_fixed_number_of_queries(trials: tuple[Trial, Trial]) -> None:
    counts = []
    for trial in trials:
        job = endpoints_compute(trial_id=trial.pk).job
        job.refresh_from_db()
        with CaptureQueriesContext(connection) as queries:
            build = build_study(job, data_cutoff=dt.date(2020, 9, 1))
        measurement_reads = [
            q for q in queries.captured_queries if 'FROM "trialreads_measurement"' in q["sql"]
        ]
        assert len(measurement_reads) == 2  # one snapshot: all values + the split/coalesced JSON
        assert build.study.subjects  # the cut-off keeps some subjects
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_bulk_rows_and_prefetched_instances_give_the_same_engine_input(trials: tuple[Trial, Trial]) -> None:
    trial = trials[0]
    charter = Charter.objects.get(trial=trial, is_current=True)
    snapshot = TrialSnapshot.load(trial.pk)
    compared = 0
    for subject in snapshot.subjects:
        for slot, read_row in subject.reads.items():
            read = Read.objects.select_related("subject").get(pk=read_row.id)
            trs = list(_with_content(TimepointRead.objects.signed().filter(read=read)))
            from_instances = mappers.subject_for_read(read, trs, charter)
            assert engine_subject(subject, read_row, settings_from_charter(charter)) == from_instances, slot
            compared += 1
    assert compared == 6


def test_as_of_drops_later_visits_death_and_contact(trials: tuple[Trial, Trial]) -> None:
    subject = TrialSnapshot.load(trials[0].pk).subjects[0]
    read = subject.reads[1]
    dates = [tr.timepoint.scan_date_earliest for tr in read.timepoint_reads]
    cutoff = dates[4]
    settings = settings_from_charter(None)
    cut = engine_subject(subject, read, settings, as_of=cutoff)
    assert cut.baseline is not None and len(cut.timepoints) == 4  # the baseline is dates[0]
    assert all((tp.scan_dates or (tp.date,))[0] <= cutoff for tp in cut.timepoints)
    assert cut.last_contact_date is None or cut.last_contact_date <= cutoff
    before_baseline = engine_subject(
        subject,
        read,
        settings,
        as_of=read.timepoint_reads[0].timepoint.scan_date_latest - dt.timedelta(days=1),
    )
    assert before_baseline.baseline is None and before_baseline.timepoints == ()
