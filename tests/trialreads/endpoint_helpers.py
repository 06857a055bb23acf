"""Building subjects with signed reads through the services, for the endpoint, export and
Celery tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import (
    BASELINE_TARGETS,
    TrialWithReads,
    followup_values,
    make_subject_with_reads,
    save_baseline,
    save_followup,
    sign,
)
from trialreads.models import Trial
from trialreads.services import reads as read_services


def signed_subject(
    trial: Trial,
    manager: Any,
    readers: tuple[Any, Any],
    code: str,
    *,
    followups: tuple[tuple[str, str, str], ...] = (("40.0", "25.0", "12.0"), ("30.0", "20.0", "8.0")),
    second_reader_followups: tuple[tuple[str, str, str], ...] | None = None,
    new_lesion_at: int | None = None,
) -> TrialWithReads:
    """A subject whose two reads are saved and signed at every timepoint (baseline plus one
    follow-up per ``followups`` entry, values for T1, T2, T3). The second reader reads the
    same values unless ``second_reader_followups`` says otherwise; ``new_lesion_at`` adds a
    new liver lesion at that follow-up (1-based) for reader 1 only."""
    case = make_subject_with_reads(trial, manager, readers, code=code, followups=len(followups))
    for read, reader, values in (
        (case.read_a, readers[0], followups),
        (case.read_b, readers[1], second_reader_followups or followups),
    ):
        save_baseline(case.tr(read, 0), reader, targets=BASELINE_TARGETS)
        sign(case.tr(read, 0), reader)
        for index, (t1, t2, t3) in enumerate(values, start=1):
            new = ()
            if new_lesion_at is not None and index >= new_lesion_at and read == case.read_a:
                new = (read_services.NewLesionInput(code="N1", organ="liver", value_mm=Decimal("12.0")),)
            save_followup(case.tr(read, index), reader, targets=followup_values(t1, t2, t3), new_lesions=new)
            sign(case.tr(read, index), reader)
    return case
