"""Charter-driven adjudication triggers (pure Python, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from criteria.types import (
    IMRECIST,
    IRECIST,
    RECIST11,
    CriterionResult,
    Pfs,
    Progression,
    TimepointResult,
)
from trialreads.adjudication_rules import (
    AdjudicationRules,
    Disagreement,
    RulesError,
    compare_results,
    first_progression_date,
    variables_of,
)

D = dt.date
W0 = D(2026, 1, 1)


def tp(date: dt.date, overall: str, progression_date: dt.date | None = None) -> TimepointResult:
    return TimepointResult(
        date=date, target="", non_target="", new_lesions="", overall=overall,
        progression_date=progression_date,
    )


def result(
    criterion: str, overalls: list[tuple[dt.date, str]], bor: str | None, *, bor_confirmed: str | None = None,
    pfs_event: bool = False, icpd: dt.date | None = None,
) -> CriterionResult:
    return CriterionResult(
        criterion=criterion,
        timepoints=tuple(tp(d, o) for d, o in overalls),
        bor=bor,
        bor_date=None,
        bor_confirmed=bor_confirmed,
        pfs=Pfs(event=pfs_event, date=W0, reason="test"),
        progression=Progression(iupd_date=None, icpd_date=icpd) if criterion == IRECIST else None,
    )


ALL = AdjudicationRules.from_json(
    {"variables": ["bor", "pd_date", "icpd_date", "impfs_event"], "pd_date_tolerance_days": 7}
)

WK6, WK12, WK18 = D(2026, 2, 12), D(2026, 3, 26), D(2026, 5, 7)


def recist(overalls: list[tuple[dt.date, str]], bor: str | None) -> dict[str, CriterionResult]:
    return {RECIST11: result(RECIST11, overalls, bor)}


# --- each trigger type ------------------------------------------------------------------------

def test_agreement_gives_no_disagreement() -> None:
    a = recist([(WK6, "PR"), (WK12, "PR")], "PR")
    b = recist([(WK6, "PR"), (WK12, "PR")], "PR")
    assert compare_results(a, b, ALL) == []


def test_bor_trigger() -> None:
    a = recist([(WK6, "PR"), (WK12, "PR")], "PR")
    b = recist([(WK6, "SD"), (WK12, "SD")], "SD")
    assert compare_results(a, b, ALL) == [
        Disagreement(RECIST11, "bor", "PR", "SD", "best overall response: PR vs SD"),
    ]


def test_bor_uses_confirmed_bor_when_charter_requires_confirmation() -> None:
    a = {RECIST11: result(RECIST11, [(WK6, "PR")], "PR", bor_confirmed="SD")}
    b = {RECIST11: result(RECIST11, [(WK6, "PR")], "PR", bor_confirmed="PR")}
    plain = AdjudicationRules.from_json({"variables": ["bor"]})
    confirmed = AdjudicationRules.from_json({"variables": ["bor"]}, bor_confirmed_default=True)
    assert compare_results(a, b, plain) == []
    [d] = compare_results(a, b, confirmed)
    assert (d.value_a, d.value_b) == ("SD", "PR") and d.detail.startswith("confirmed")
    # The rules JSON wins over the charter default.
    explicit = AdjudicationRules.from_json({"variables": ["bor"], "bor_confirmed": False},
                                           bor_confirmed_default=True)
    assert compare_results(a, b, explicit) == []


def test_pd_date_trigger_progression_on_one_read_only() -> None:
    a = recist([(WK6, "SD"), (WK12, "PD")], "SD")
    b = recist([(WK6, "SD"), (WK12, "SD")], "SD")
    assert compare_results(a, b, ALL) == [
        Disagreement(RECIST11, "pd_date", "2026-03-26", None, "progression on Read A only"),
    ]
    assert compare_results(b, a, ALL)[0].detail == "progression on Read B only"


@pytest.mark.parametrize(("days_apart", "triggers"), [(0, False), (7, False), (8, True), (42, True)])
def test_pd_date_tolerance_boundary(days_apart: int, triggers: bool) -> None:
    # Tolerance 7: a difference of exactly 7 days agrees, 8 days disagrees.
    later = WK12 + dt.timedelta(days=days_apart)
    a = {RECIST11: CriterionResult(RECIST11, (tp(WK6, "SD"), tp(WK12, "PD")), "SD", None, None,
                                   Pfs(True, WK12, "PD"))}
    b = {RECIST11: CriterionResult(RECIST11, (tp(WK6, "SD"), tp(later, "PD")), "SD", None, None,
                                   Pfs(True, later, "PD"))}
    found = compare_results(a, b, ALL)
    assert bool(found) is triggers
    if triggers:
        assert found[0].detail == f"progression dates differ by {days_apart} days (tolerance 7)"


def test_pd_date_uses_progression_date_of_the_earliest_scan() -> None:
    # Same visit, but Read A backdates the PD to an equivocal new lesion's first scan.
    a = {RECIST11: CriterionResult(RECIST11, (tp(WK6, "SD"), tp(WK12, "PD", progression_date=WK6)),
                                   "SD", None, None, Pfs(True, WK6, "PD"))}
    b = recist([(WK6, "SD"), (WK12, "PD")], "SD")
    assert first_progression_date(a[RECIST11]) == WK6
    [d] = compare_results(a, b, ALL)
    assert (d.variable, d.value_a, d.value_b) == ("pd_date", "2026-02-12", "2026-03-26")


def test_icpd_trigger_and_irecist_first_progression_is_iupd() -> None:
    a = {IRECIST: result(IRECIST, [(WK6, "iUPD"), (WK12, "iCPD")], "iCPD", icpd=WK12)}
    b = {IRECIST: result(IRECIST, [(WK6, "iUPD"), (WK12, "iSD"), (WK18, "iSD")], "iSD")}
    found = compare_results(a, b, ALL)
    # Both progressed (iUPD) at week 6: no pd_date disagreement; BOR and iCPD differ.
    assert [(d.variable, d.value_a, d.value_b) for d in found] == [
        ("bor", "iCPD", "iSD"),
        ("icpd_date", "2026-03-26", None),
    ]


def test_icpd_tolerance_defaults_to_pd_tolerance_and_can_differ() -> None:
    a = {IRECIST: result(IRECIST, [(WK6, "iUPD"), (WK12, "iCPD")], "iCPD", icpd=WK12)}
    b = {IRECIST: result(IRECIST, [(WK6, "iUPD"), (WK12, "iCPD")], "iCPD", icpd=WK12 + dt.timedelta(days=5))}
    assert compare_results(a, b, ALL) == []
    strict = AdjudicationRules.from_json(
        {"variables": ["icpd_date"], "pd_date_tolerance_days": 7, "icpd_date_tolerance_days": 0}
    )
    [d] = compare_results(a, b, strict)
    assert d.detail == "iCPD dates differ by 5 days (tolerance 0)"


def test_impfs_event_trigger() -> None:
    # Both reads have PD at week 6; Read B's PD is negated at week 12 (no imPFS event).
    a = {IMRECIST: result(IMRECIST, [(WK6, "PD"), (WK12, "PD")], "PD", pfs_event=True)}
    b = {IMRECIST: result(IMRECIST, [(WK6, "PD"), (WK12, "SD")], "SD", pfs_event=False)}
    rules = AdjudicationRules.from_json({"variables": ["impfs_event", "pd_date"]})
    assert compare_results(a, b, rules) == [
        Disagreement(IMRECIST, "impfs_event", "Y", "N", "imPFS event on Read A only"),
    ]


def test_criterion_specific_variables_apply_only_to_their_criterion() -> None:
    # A RECIST 1.1 pfs.event difference is not an imPFS trigger.
    a = {RECIST11: result(RECIST11, [(WK6, "SD")], "SD", pfs_event=True)}
    b = {RECIST11: result(RECIST11, [(WK6, "SD")], "SD", pfs_event=False)}
    assert compare_results(a, b, ALL) == []


def test_several_criteria_in_charter_order_and_deterministic() -> None:
    a = {
        RECIST11: result(RECIST11, [(WK6, "PD")], "PD"),
        IRECIST: result(IRECIST, [(WK6, "iUPD")], "iUPD"),
    }
    b = {
        RECIST11: result(RECIST11, [(WK6, "SD")], "SD"),
        IRECIST: result(IRECIST, [(WK6, "iSD")], "iSD"),
    }
    rules = AdjudicationRules.from_json(
        {"variables": ["pd_date", "bor"], "criteria": ["irecist", "recist1.1"]}
    )
    found = compare_results(a, b, rules)
    assert [(d.criterion, d.variable) for d in found] == [
        (IRECIST, "bor"), (IRECIST, "pd_date"), (RECIST11, "bor"), (RECIST11, "pd_date"),
    ]
    assert compare_results(a, b, rules) == found
    assert variables_of(found) == ["bor", "pd_date"]
    # Charter scope: only iRECIST.
    only_ir = AdjudicationRules.from_json({"variables": ["bor"], "criteria": ["irecist"]})
    assert [d.criterion for d in compare_results(a, b, only_ir)] == [IRECIST]


def test_criterion_on_one_read_only_is_an_error() -> None:
    a = {RECIST11: result(RECIST11, [(WK6, "SD")], "SD")}
    with pytest.raises(ValueError, match="one read only"):
        compare_results(a, {}, ALL)


def test_disagreement_json() -> None:
    d = Disagreement(RECIST11, "bor", "PR", None, "x")
    assert d.as_json() == {"criterion": RECIST11, "variable": "bor", "value_a": "PR", "value_b": None,
                           "detail": "x"}


# --- charter rule validation ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "JSON object"),
        ({"variables": ["orr"]}, "unknown adjudication variables"),
        ({"variables": "bor"}, "list of strings"),
        ({"variables": ["bor", "bor"]}, "repeat"),
        ({"variables": ["bor"], "pd_date_tolerance_days": -1}, "non-negative"),
        ({"variables": ["bor"], "pd_date_tolerance_days": 7.5}, "non-negative"),
        ({"variables": ["bor"], "pd_date_tolerance_days": True}, "non-negative"),
        ({"variables": ["bor"], "criteria": ["who"]}, "unknown criteria"),
        ({"variables": ["bor"], "criteria": "recist1.1"}, "list of strings"),
        ({"variables": ["icpd_date"], "criteria": ["recist1.1"]}, "needs irecist"),
        ({"variables": ["impfs_event"], "criteria": ["recist1.1"]}, "needs imrecist"),
        ({"variables": ["bor"], "bor_confirmed": "yes"}, "true or false"),
        ({"variables": ["bor"], "tolerance": 3}, "unknown adjudication rule keys"),
    ],
)
def test_rules_validation(raw: object, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        AdjudicationRules.from_json(raw)  # type: ignore[arg-type]


def test_rules_defaults_and_order() -> None:
    rules = AdjudicationRules.from_json({"variables": ["impfs_event", "bor"], "pd_date_tolerance_days": 14})
    assert rules.variables == ("bor", "impfs_event")
    assert rules.icpd_date_tolerance_days == 14
    assert rules.criteria == ()
    assert AdjudicationRules.from_json({}).variables == ()


# --- criteria per variable (issue 15 item 2) --------------------------------------------------

IRRC, IRRECIST, ITRECIST, PERCIST, IPERCIST = "irrc", "irrecist", "itrecist", "percist", "ipercist"


@pytest.mark.parametrize(
    ("criterion", "code"),
    [
        (IRRC, "irPD"), (IRRECIST, "irPD"), (PERCIST, "PMD"), ("impercist5", "PMD"), ("percimt", "PMD"),
        (IPERCIST, "UPMD"), (IPERCIST, "CPMD"), (ITRECIST, "iUPD"), (ITRECIST, "PD"), (IMRECIST, "PD"),
    ],
)
def test_first_progression_of_every_criterion(criterion: str, code: str) -> None:
    r = result(criterion, [(WK6, "SD"), (WK12, code), (WK18, code)], "SD")
    assert first_progression_date(r) == WK12


def test_progression_codes_cover_every_criterion_and_no_response_code() -> None:
    from criteria.evaluate import AVAILABLE
    from trialreads.adjudication_rules import PROGRESSION_CODES

    assert set(PROGRESSION_CODES) == set(AVAILABLE)
    assert PROGRESSION_CODES[IRRC] == PROGRESSION_CODES[IRRECIST] == {"irPD"}
    assert PROGRESSION_CODES[IPERCIST] == {"UPMD", "CPMD"} and PROGRESSION_CODES[PERCIST] == {"PMD"}
    # The new criteria's non-progression codes are not progression.
    for criterion, code in ((IRRC, "irSD"), (IRRECIST, "irNN"), (PERCIST, "SMD"), (IPERCIST, "PMR")):
        assert first_progression_date(result(criterion, [(WK6, code)], code)) is None


def test_each_variable_under_its_own_criteria() -> None:
    # BOR by irRC, PD date by iRECIST. The reads also differ on irRC's progression date and
    # on iRECIST's BOR, which these rules do not compare.
    a = {
        IRRC: result(IRRC, [(WK6, "irPR"), (WK12, "irPD")], "irPR"),
        IRECIST: result(IRECIST, [(WK6, "iPR"), (WK12, "iUPD")], "iPR"),
    }
    b = {
        IRRC: result(IRRC, [(WK6, "irSD"), (WK18, "irPD")], "irSD"),
        IRECIST: result(IRECIST, [(WK6, "iSD"), (WK18, "iUPD")], "iSD"),
    }
    rules = AdjudicationRules.from_json(
        {"variables": ["bor", "pd_date"], "criteria": {"pd_date": "irecist", "bor": "irrc"}}
    )
    assert rules.criteria_for("bor") == (IRRC,) and rules.criteria_for("pd_date") == (IRECIST,)
    assert rules.named_criteria == (IRRC, IRECIST)
    assert rules.named_paths() == [("criteria.bor", IRRC), ("criteria.pd_date", IRECIST)]
    assert compare_results(a, b, rules) == [
        Disagreement(IRECIST, "pd_date", "2026-03-26", "2026-05-07", "progression dates differ by 42 days "
                     "(tolerance 0)"),
        Disagreement(IRRC, "bor", "irPR", "irSD", "best overall response: irPR vs irSD"),
    ]


def test_a_variable_without_an_entry_is_compared_under_every_criterion() -> None:
    a = {RECIST11: result(RECIST11, [(WK6, "SD"), (WK12, "PD")], "SD"),
         PERCIST: result(PERCIST, [(WK6, "PMR")], "PMR")}
    b = {RECIST11: result(RECIST11, [(WK6, "PR"), (WK12, "PR")], "PR"),
         PERCIST: result(PERCIST, [(WK6, "SMD")], "SMD")}
    rules = AdjudicationRules.from_json({"variables": ["bor", "pd_date"], "criteria": {"bor": ["percist"]}})
    found = {(d.criterion, d.variable) for d in compare_results(a, b, rules)}
    # bor only by PERCIST (RECIST 1.1's BOR differs too, SD vs PR: not compared); pd_date by both.
    assert found == {(PERCIST, "bor"), (RECIST11, "pd_date")}


def test_the_list_shape_keeps_its_meaning() -> None:
    old = AdjudicationRules.from_json({"variables": ["bor"], "criteria": ["irecist"]})
    assert old.criteria == (IRECIST,) and old.by_variable == {} and old.criteria_for("bor") == (IRECIST,)
    assert old.named_paths() == [("criteria[0]", IRECIST)]


def test_icpd_date_under_itrecist() -> None:
    rules = AdjudicationRules.from_json({"variables": ["icpd_date"], "criteria": {"icpd_date": "itrecist"}})
    a = {ITRECIST: CriterionResult(ITRECIST, (tp(WK6, "iUPD"), tp(WK12, "iCPD")), "iUPD", None, None,
                                   Pfs(True, WK6, "x"), progression=Progression(WK6, WK12))}
    b = {ITRECIST: CriterionResult(ITRECIST, (tp(WK6, "iUPD"),), "iUPD", None, None,
                                   Pfs(True, WK6, "x"), progression=Progression(WK6, None))}
    [d] = compare_results(a, b, rules)
    assert (d.criterion, d.variable, d.value_a, d.value_b) == (ITRECIST, "icpd_date", "2026-03-26", None)


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"variables": ["bor"], "criteria": {"bor": "who"}}, "criteria.bor", "unknown criteria"),
        ({"variables": ["bor"], "criteria": {"bor": 3}}, "criteria.bor", "list of strings"),
        ({"variables": ["bor"], "criteria": {"bor": []}}, "criteria.bor", "at least one"),
        ({"variables": ["bor"], "criteria": {"bor": ["irrc", "irrc"]}}, "criteria.bor", "repeat"),
        ({"variables": ["bor"], "criteria": {"pd_date": "irrc"}}, "criteria.pd_date",
         "adjudication variables"),
        ({"variables": ["impfs_event"], "criteria": {"impfs_event": "irrc"}}, "criteria.impfs_event",
         "needs imrecist"),
        ({"variables": ["icpd_date"], "criteria": {"icpd_date": "irrc"}}, "criteria.icpd_date",
         "needs irecist"),
        ({"variables": ["bor"], "criteria": ["irrc", "who"]}, "criteria", "unknown criteria"),
        ({"variables": "bor"}, "variables", "list of strings"),
        ({"variables": ["bor"], "pd_date_tolerance_days": -1}, "pd_date_tolerance_days", "non-negative"),
        ({"variables": ["bor"], "colour": 1}, "colour", "unknown adjudication rule keys"),
    ],
)
def test_rules_errors_name_the_key(raw: object, field: str, message: str) -> None:
    with pytest.raises(RulesError, match=message) as err:
        AdjudicationRules.from_json(raw)  # type: ignore[arg-type]
    assert err.value.field == field
