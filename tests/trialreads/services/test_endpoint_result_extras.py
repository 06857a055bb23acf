"""The endpoint result codec keeps every criterion's extras: the timepoint extras of irRC,
itRECIST and the PERCIST family (decimals, dates, lesion lists, counts) and the
criterion-level extras (itRECIST's injected / non-injected best responses)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from criteria.types import CriterionResult, ExtraValue, Pfs, TimepointResult
from trialreads.endpoint_results import result_from_json, result_to_json


def _result(extra: dict[str, ExtraValue], criterion_extra: dict[str, ExtraValue]) -> CriterionResult:
    tp = TimepointResult(
        date=dt.date(2025, 3, 1), target="PR", non_target="NON-CR/NON-PD", new_lesions="NO", overall="PR",
        sum_mm=Decimal("60.0"), pct_vs_baseline=Decimal("-40"), extra=extra,
    )
    return CriterionResult(
        criterion="itrecist", timepoints=(tp,), bor="PR", bor_date=tp.date, bor_confirmed=None,
        pfs=Pfs(False, tp.date, "last adequate assessment"), extra=criterion_extra,
    )


def test_every_kind_of_extra_survives_json() -> None:
    result = _result(
        {
            "index_spd_mm2": Decimal("1234.5"),        # irRC
            "upmd_date": dt.date(2025, 2, 1),          # iPERCIST
            "sul_peak": "6.25",                        # PERCIST: exact text
            "injected_lesions": ("T1", "T2"),          # itRECIST
            "new_lesions_count": 3,                    # PERCIMT
            "quality": (),
            "injected_response": None,
            "flag": True,
            "nested": {"a": Decimal("1.5"), "b": ("x",)},
        },
        {"injected_bor": "PR", "injected_bor_date": dt.date(2025, 3, 1), "non_injected_bor": None},
    )
    stored = json.loads(json.dumps(result_to_json(result)))  # what the JSON column holds
    assert result_from_json(stored) == result


def test_runs_written_before_criterion_extras_were_stored_still_load() -> None:
    data = result_to_json(_result({}, {}))
    assert "extra" not in data  # a result without extras is stored as before they existed
    assert result_from_json(data).extra == {}
