"""Input fuzzing at the service layer (reliability §10.3): whatever a reader submits, the
service either stores valid data or raises ValidationError with nothing written (row counts
and audit counts unchanged); never another exception."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import save_baseline, sign
from trialreads.errors import ValidationError
from trialreads.models import AuditEvent, Lesion, Measurement, NonTargetRating
from trialreads.services import reads as svc

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

decimals = st.one_of(
    st.decimals(min_value=Decimal("-5"), max_value=Decimal("1005"), places=1),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            Decimal("-0.0"),
            Decimal("0"),
            Decimal("1e309"),
            Decimal("12.25"),
            Decimal("sNaN"),
            Decimal("1E+2"),
            Decimal("9.99"),
            Decimal("15.0"),
        ]
    ),
)
values = st.one_of(decimals, st.none(), st.floats(), st.booleans(), st.text(max_size=5), st.integers())
codes = st.one_of(st.sampled_from(["T1", "T2", "T3", "NT1", "N1", "T1"]), st.text(max_size=25))
organs = st.one_of(
    st.sampled_from(["liver", "lung", "left lung", "lymph node", "spleen", "bone"]), st.text(max_size=70)
)


class _Rollback(Exception):
    pass


def _counts() -> tuple[int, ...]:
    return (
        Lesion.objects.count(),
        Measurement.objects.count(),
        NonTargetRating.objects.count(),
        AuditEvent.objects.count(),
    )


def _attempt(call: Any) -> None:
    """Run ``call`` in a savepoint that is always rolled back, checking the no-write rule."""
    try:
        with transaction.atomic():
            before = _counts()
            try:
                call()
            except ValidationError as exc:
                assert exc.errors and all(isinstance(v, list) and v for v in exc.errors.values())
                assert _counts() == before
            raise _Rollback
    except _Rollback:
        pass


@FUZZ
@given(
    targets=st.lists(
        st.builds(svc.TargetInput, code=codes, organ=organs, value_mm=values, is_node=st.booleans()),
        max_size=7,
    ),
    non_targets=st.lists(st.builds(svc.NonTargetInput, code=codes, organ=organs), max_size=3),
)
def test_baseline_fuzz(
    trial_with_reads: Any, reader_a: Any, targets: list[Any], non_targets: list[Any]
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)

    def call() -> None:
        saved = svc.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk,
            targets=targets,
            non_targets=non_targets,
            expected_version=1,
            actor=reader_a,
        )
        for m in Measurement.objects.filter(timepoint_read=saved):
            assert m.value_mm is not None and Decimal(0) <= m.value_mm <= Decimal(1000)
            assert m.value_mm == m.value_mm.quantize(Decimal("0.1"))

    _attempt(call)


@pytest.fixture
def followup(trial_with_reads: Any, reader_a: Any) -> Any:
    read = trial_with_reads.read_a
    save_baseline(trial_with_reads.tr(read, 0), reader_a)
    sign(trial_with_reads.tr(read, 0), reader_a)
    tr = trial_with_reads.tr(read, 1)
    return tr


@FUZZ
@given(
    targets=st.lists(
        st.builds(
            svc.TargetValueInput,
            code=codes,
            state=st.one_of(
                st.sampled_from(
                    ["MEASURED", "TOO_SMALL", "NOT_ASSESSED", "SPLIT", "COALESCED", "COALESCED_INTO"]
                ),
                st.text(max_size=8),
            ),
            value_mm=values,
            fragments_mm=st.lists(decimals, max_size=3).map(tuple),
            coalesced_with=st.lists(codes, max_size=2).map(tuple),
            coalesced_into=codes,
        ),
        max_size=4,
    ),
    non_targets=st.dictionaries(
        codes, st.sampled_from(["present", "absent", "unequivocal_progression", "x"]), max_size=2
    ),
    new_lesions=st.lists(
        st.builds(
            svc.NewLesionInput,
            code=codes,
            organ=organs,
            value_mm=values,
            measurable=st.booleans(),
            equivocal=st.booleans(),
        ),
        max_size=2,
    ),
)
def test_followup_fuzz(
    followup: Any, reader_a: Any, targets: list[Any], non_targets: dict[str, str], new_lesions: list[Any]
) -> None:
    version = followup.version

    def call() -> None:
        svc.timepoint_read_save_followup(
            timepoint_read_id=followup.pk,
            targets=targets,
            non_targets=non_targets,
            new_lesions=new_lesions,
            expected_version=version,
            actor=reader_a,
        )

    _attempt(call)
