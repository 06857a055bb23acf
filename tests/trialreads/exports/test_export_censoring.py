"""PFS censoring rules as data: one test per rule, plus precedence between rules.

Schedule: randomised 2024-01-01, imaging every 42 days with a 7-day window, so two missed
assessments after a scan on day D means an event later than D + 91 days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from criteria.types import Pfs
from trialreads.exports.censoring import (
    DATE_SOURCES,
    PREDICATES,
    RULES,
    Assessment,
    PfsInput,
    censor_pfs,
    describe_rules,
)

RAND = dt.date(2024, 1, 1)


def d(month: int, day: int) -> dt.date:
    return dt.date(2024, month, day)


ASSESSMENTS = (
    Assessment(d(2, 12), "SD", seq=4),
    Assessment(d(3, 25), "PR", seq=8),
    Assessment(d(5, 6), "NE", seq=12),
    Assessment(d(6, 17), "PR", seq=16),
)
NO_EVENT = Pfs(event=False, date=d(6, 17), reason="censored")


def inp(**changes: object) -> PfsInput:
    base = PfsInput(
        randomisation_date=RAND,
        pfs=NO_EVENT,
        assessments=ASSESSMENTS,
        assessment_interval_days=42,
        window_days=7,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_rule_table_is_complete_and_consistent() -> None:
    assert [r.code for r in RULES] == [5, 4, 0, 0, 2, 3, 1]
    for rule in RULES:
        assert rule.predicate in PREDICATES
        assert rule.date_source in DATE_SOURCES
        assert (rule.cnsdtdsc is None) == (rule.code == 0)
        assert len(rule.evntdesc) <= 200 and rule.evntdesc.isascii()
    assert describe_rules()[0]["order"] == 1
    assert {r["cnsr"] for r in describe_rules()} == {0, 1, 2, 3, 4, 5}


def test_cnsr0_event_progression() -> None:
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(7, 29), "PD")))
    assert (out.adt, out.cnsr, out.evntdesc, out.cnsdtdsc) == (d(7, 29), 0, "DISEASE PROGRESSION", None)
    assert (out.srcdom, out.srcvar, out.srcseq) == ("RS", "RSDTC", 20)


def test_cnsr0_event_progression_backdated_to_an_earlier_scan() -> None:
    # The engine dates PD at the earlier scan of a confirmed equivocal new lesion (6-17);
    # traceability still points at the first progression record on or after that date.
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(6, 17), "PD")))
    assert (out.adt, out.cnsr, out.srcseq) == (d(6, 17), 0, 20)


def test_cnsr0_event_death() -> None:
    death = d(7, 1)
    out = censor_pfs(inp(pfs=Pfs(True, death, "death"), death_date=death))
    assert (out.adt, out.cnsr, out.evntdesc, out.cnsdtdsc) == (death, 0, "DEATH", None)
    assert (out.srcdom, out.srcvar, out.srcseq) == ("ADSL", "DTHDT", None)


def test_death_is_an_event_even_when_the_engine_was_not_told() -> None:
    out = censor_pfs(inp(death_date=d(7, 1)))
    assert (out.adt, out.cnsr, out.evntdesc) == (d(7, 1), 0, "DEATH")


def test_pd_before_death_is_the_event() -> None:
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(7, 29), "PD"), death_date=d(8, 15)))
    assert (out.adt, out.evntdesc) == (d(7, 29), "DISEASE PROGRESSION")


def test_cnsr1_last_adequate_assessment() -> None:
    out = censor_pfs(inp())
    assert (out.adt, out.cnsr, out.evntdesc, out.cnsdtdsc) == (
        d(6, 17),
        1,
        "LAST ADEQUATE ASSESSMENT",
        "LAST ADEQUATE ASSESSMENT",
    )
    assert (out.srcdom, out.srcseq) == ("RS", 16)


def test_cnsr1_ne_is_not_adequate() -> None:
    out = censor_pfs(inp(assessments=ASSESSMENTS[:3]))
    assert (out.adt, out.cnsr, out.srcseq) == (d(3, 25), 1, 8)


def test_cnsr2_no_post_baseline_assessment() -> None:
    out = censor_pfs(inp(assessments=(Assessment(d(2, 12), "NE", seq=4),)))
    assert (out.adt, out.cnsr, out.evntdesc, out.cnsdtdsc) == (
        RAND,
        2,
        "NO ADEQUATE POST-BASELINE ASSESSMENT",
        "RANDOMIZATION DATE",
    )
    assert (out.srcdom, out.srcvar, out.srcseq) == ("ADSL", "RANDDT", None)


def test_early_death_without_assessment_is_an_event() -> None:
    out = censor_pfs(inp(assessments=(), death_date=d(2, 1)))
    assert (out.adt, out.cnsr, out.evntdesc) == (d(2, 1), 0, "DEATH")


def test_cnsr3_event_after_data_cutoff_is_ignored() -> None:
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(7, 29), "PD"), data_cutoff=d(6, 30)))
    assert (out.adt, out.cnsr, out.evntdesc) == (d(6, 17), 3, "DATA CUT-OFF")
    assert out.cnsdtdsc == "LAST ADEQUATE ASSESSMENT ON OR BEFORE DATA CUT-OFF"


def test_cnsr3_assessments_after_cutoff_are_ignored() -> None:
    out = censor_pfs(inp(data_cutoff=d(6, 1)))
    assert (out.adt, out.cnsr, out.srcseq) == (d(3, 25), 3, 8)


def test_cutoff_after_everything_changes_nothing() -> None:
    assert censor_pfs(inp(data_cutoff=d(12, 31))).cnsr == 1


def test_event_on_the_cutoff_day_counts() -> None:
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(7, 29), "PD"), data_cutoff=d(7, 29)))
    assert (out.adt, out.cnsr) == (d(7, 29), 0)


def test_cnsr4_death_after_two_missed_assessments() -> None:
    # last adequate 06-17; 06-17 + 2*42 + 7 = 09-16; death on 09-17 follows two missed scans.
    out = censor_pfs(inp(death_date=d(9, 17)))
    assert (out.adt, out.cnsr, out.evntdesc) == (
        d(6, 17),
        4,
        "PD OR DEATH AFTER 2 OR MORE MISSED ASSESSMENTS",
    )
    assert out.srcseq == 16


def test_cnsr4_boundary_day_is_still_an_event() -> None:
    out = censor_pfs(inp(death_date=d(9, 16)))
    assert (out.adt, out.cnsr) == (d(9, 16), 0)


def test_cnsr4_progression_after_two_missed_assessments() -> None:
    pd = Assessment(d(10, 1), "PD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(10, 1), "PD")))
    assert (out.adt, out.cnsr) == (d(6, 17), 4)


def test_cnsr4_death_long_after_randomisation_without_assessment() -> None:
    out = censor_pfs(inp(assessments=(), death_date=d(5, 1)))
    assert (out.adt, out.cnsr, out.srcvar) == (RAND, 4, "RANDDT")


def test_cnsr5_new_anticancer_therapy_before_pd() -> None:
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(
        inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(7, 29), "PD"), new_therapy_date=d(6, 20))
    )
    assert (out.adt, out.cnsr, out.evntdesc) == (d(6, 17), 5, "NEW ANTICANCER THERAPY BEFORE PD")
    assert out.srcseq == 16


def test_cnsr5_assessment_on_therapy_day_counts() -> None:
    out = censor_pfs(inp(new_therapy_date=d(3, 25)))
    assert (out.adt, out.cnsr, out.srcseq) == (d(3, 25), 5, 8)


def test_therapy_after_pd_does_not_censor() -> None:
    pd = Assessment(d(7, 29), "PD", seq=20)
    out = censor_pfs(
        inp(assessments=(*ASSESSMENTS, pd), pfs=Pfs(True, d(7, 29), "PD"), new_therapy_date=d(8, 1))
    )
    assert out.cnsr == 0


def test_therapy_after_cutoff_is_ignored() -> None:
    out = censor_pfs(inp(new_therapy_date=d(7, 1), data_cutoff=d(6, 30)))
    assert out.cnsr == 1


def test_first_matching_rule_wins_in_table_order() -> None:
    # Therapy before a death that also follows two missed scans: rule 5 precedes rule 4.
    out = censor_pfs(inp(new_therapy_date=d(7, 1), death_date=d(12, 1)))
    assert out.cnsr == 5
    reordered = tuple(r for r in RULES if r.code != 5) + tuple(r for r in RULES if r.code == 5)
    assert censor_pfs(inp(new_therapy_date=d(7, 1), death_date=d(12, 1)), reordered).cnsr == 4


def test_irecist_iupd_is_progression() -> None:
    iupd = Assessment(d(7, 29), "iUPD", seq=20)
    out = censor_pfs(inp(assessments=(*ASSESSMENTS, iupd), pfs=Pfs(True, d(7, 29), "iUPD")))
    assert (out.cnsr, out.evntdesc, out.srcseq) == (0, "DISEASE PROGRESSION", 20)


def test_adt_before_randomisation_is_refused() -> None:
    with pytest.raises(ValueError, match="precedes randomisation"):
        censor_pfs(inp(assessments=(), pfs=Pfs(True, d(1, 1) - dt.timedelta(days=3), "PD")))
