"""The mapper (ORM -> criteria types) and the engine evaluation of one reader's read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from criteria.types import NonTargetStatus, TargetKind
from tests.conftest import followup_values, save_baseline, save_followup, sign
from trialreads import mappers
from trialreads.errors import NotFound
from trialreads.models import Charter, TimepointRead
from trialreads.selectors.reads import read_evaluate
from trialreads.services import reads as svc

pytestmark = pytest.mark.django_db


def _prefetched(read: Any) -> list[TimepointRead]:
    return list(
        TimepointRead.objects.filter(read=read)
        .select_related("timepoint")
        .prefetch_related("measurements__lesion", "ratings__lesion")
    )


def test_mapper_builds_the_subject(trial_with_reads: Any, reader_a: Any) -> None:
    read = trial_with_reads.read_a
    save_baseline(trial_with_reads.tr(read, 0), reader_a)
    sign(trial_with_reads.tr(read, 0), reader_a)
    new = (svc.NewLesionInput(code="N1", organ="liver", value_mm=None, measurable=False, equivocal=True),)
    targets = (
        svc.TargetValueInput(code="T1", state="SPLIT", fragments_mm=(Decimal("20.0"), Decimal("5.5"))),
        svc.TargetValueInput(code="T2", state="TOO_SMALL"),
        svc.TargetValueInput(code="T3", value_mm=Decimal("8.0")),
    )
    save_followup(
        trial_with_reads.tr(read, 1),
        reader_a,
        targets=targets,
        non_targets={"NT1": "absent"},
        new_lesions=new,
    )
    charter = Charter.objects.get(trial=trial_with_reads.trial, is_current=True)
    subject = mappers.subject_for_read(read, _prefetched(read), charter)

    assert subject.subject == "S-001" and subject.reference_date == dt.date(2025, 1, 10)
    assert subject.baseline is not None
    assert [(t.id, t.organ, t.node, t.mm) for t in subject.baseline.targets] == [
        ("T1", "liver", False, Decimal("50.0")),
        ("T2", "left lung", False, Decimal("30.0")),
        ("T3", "mediastinal lymph node", True, Decimal("20.0")),
    ]
    assert [n.id for n in subject.baseline.non_targets] == ["NT1"]
    (week6,) = subject.timepoints  # week 12 not saved yet: not part of the history
    assert week6.scan_dates == (dt.date(2025, 2, 16), dt.date(2025, 2, 17))
    assert week6.targets["T1"].kind is TargetKind.SPLIT and week6.targets["T1"].mm == Decimal("25.5")
    assert week6.targets["T1"].fragments_mm == (Decimal("20.0"), Decimal("5.5"))
    assert week6.targets["T2"].kind is TargetKind.TOO_SMALL and week6.targets["T2"].mm == Decimal("5.0")
    assert week6.non_targets == {"NT1": NonTargetStatus.ABSENT}
    (n1,) = week6.new_lesions
    assert n1.id == "N1" and n1.equivocal and not n1.measurable and n1.mm is None
    assert subject.settings.confirm_min_days == charter.confirm_min_days


def test_reader_evaluation_with_explanations(trial_with_reads: Any, reader_a: Any) -> None:
    read = trial_with_reads.read_a
    save_baseline(trial_with_reads.tr(read, 0), reader_a)  # sum 100 mm
    sign(trial_with_reads.tr(read, 0), reader_a)
    save_followup(
        trial_with_reads.tr(read, 1), reader_a, targets=followup_values("30.0", "25.0", "12.0")
    )  # 67
    evaluation = read_evaluate(user=reader_a, read_id=read.pk)
    assert evaluation.result is not None and evaluation.charter_version == 1
    assert set(evaluation.result.results) == {"recist1.1", "irecist", "imrecist"}
    (tp,) = evaluation.result.results["recist1.1"].timepoints
    assert tp.overall == "PR" and tp.sum_mm == Decimal("67.0") and tp.why
    assert tp.pct_vs_baseline is not None and tp.pct_vs_baseline < Decimal(-30)
    # Signed only: the draft follow-up does not count.
    signed_only = read_evaluate(user=reader_a, read_id=read.pk, signed_only=True)
    assert signed_only.result is not None and signed_only.result.results["recist1.1"].timepoints == ()


def test_no_evaluation_before_a_baseline(trial_with_reads: Any, reader_a: Any) -> None:
    evaluation = read_evaluate(user=reader_a, read_id=trial_with_reads.read_a.pk)
    assert evaluation.result is None


def test_evaluation_goes_through_the_gate(trial_with_reads: Any, reader_b: Any, adjudicator: Any) -> None:
    with pytest.raises(NotFound):
        read_evaluate(user=reader_b, read_id=trial_with_reads.read_a.pk)
    with pytest.raises(NotFound):
        read_evaluate(user=adjudicator, read_id=trial_with_reads.read_a.pk)
