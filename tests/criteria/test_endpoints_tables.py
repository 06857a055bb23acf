"""Endpoint derivations, table-driven from the published tables (criteria-rules.md §3.7, §4 IR-BOR /
IR-PFS, §5 IM-PFS / IM-BOR, §10 AO-BOR / AO-CBOR / AO-IR).

Sequences are written as (day after the reference date, overall code) pairs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from criteria import endpoints
from criteria.types import IMRECIST, IRECIST, RECIST11, Settings, TimepointResult

REF = dt.date(2024, 1, 1)
DEFAULT = Settings()


def day(n: int) -> dt.date:
    return REF + dt.timedelta(days=n)


def seq(*pairs: tuple[int, str], pd_on: dict[int, int] | None = None) -> tuple[TimepointResult, ...]:
    """Timepoint results from (day, code) pairs; ``pd_on`` maps a day to its progression day."""
    pd_on = pd_on or {}
    return tuple(
        TimepointResult(date=day(d), target="", non_target="", new_lesions="", overall=code,
                        progression_date=day(pd_on[d]) if d in pd_on else None)
        for d, code in pairs)


Pairs = tuple[tuple[int, str], ...]


def bor(pairs: Pairs, criterion: str = RECIST11, settings: Settings = DEFAULT) -> str | None:
    return endpoints.derive_bor(seq(*pairs), REF, settings, criterion).code


def cbor(pairs: Pairs, criterion: str = RECIST11, settings: Settings = DEFAULT) -> str | None:
    return endpoints.derive_confirmed_bor(seq(*pairs), REF, settings, criterion).code


# --- R11-BOR-CONF, Table 3 (confirmation required), confirm_min_days 28, sd_min_days 42 ------

TABLE3 = [
    # (1st, subsequent) rows; where the row depends on the SD minimum both branches are listed.
    ("CR CR", ((56, "CR"), (112, "CR")), "CR"),
    ("CR PR (A12 default: SD, minimum met)", ((56, "CR"), (112, "PR")), "SD"),
    ("CR PR (A12 default: minimum not met, then PD)", ((28, "CR"), (35, "PR"), (70, "PD")), "PD"),
    ("CR SD, minimum met", ((56, "CR"), (112, "SD")), "SD"),
    ("CR SD, minimum not met, then PD", ((28, "CR"), (35, "SD"), (70, "PD")), "PD"),
    ("CR SD, minimum not met, nothing after (footnote a)", ((14, "CR"), (28, "SD")), "PD"),
    ("CR PR, minimum not met, nothing after (footnote a)", ((14, "CR"), (28, "PR")), "PD"),
    ("CR PD, minimum met", ((56, "CR"), (112, "PD")), "SD"),
    ("CR PD, minimum not met", ((28, "CR"), (56, "PD")), "PD"),
    ("CR NE, minimum met", ((56, "CR"), (112, "NE")), "SD"),
    ("CR NE, minimum not met", ((28, "CR"), (56, "NE")), "NE"),
    ("PR CR", ((56, "PR"), (112, "CR")), "PR"),
    ("PR PR", ((56, "PR"), (112, "PR")), "PR"),
    ("PR SD", ((56, "PR"), (112, "SD")), "SD"),
    ("PR PD, minimum met", ((56, "PR"), (84, "PD")), "SD"),
    ("PR PD, minimum not met", ((28, "PR"), (56, "PD")), "PD"),
    ("PR NE, minimum met", ((56, "PR"), (112, "NE")), "SD"),
    ("PR NE, minimum not met", ((28, "PR"), (56, "NE")), "NE"),
    ("NE NE", ((56, "NE"), (112, "NE")), "NE"),
]


@pytest.mark.parametrize(("label", "pairs", "expected"), TABLE3, ids=[row[0] for row in TABLE3])
def test_recist_confirmed_bor_table3(label: str, pairs: Pairs, expected: str) -> None:
    assert cbor(pairs) == expected


def test_a12_cr_then_pr_read_as_confirmed_pr() -> None:
    pairs = ((56, "CR"), (112, "PR"))
    assert cbor(pairs, settings=Settings(cr_then_pr_confirmed_as="pr")) == "PR"
    # the CR read as doubtful: no reappearance PD either
    assert cbor(((14, "CR"), (28, "SD")), settings=Settings(cr_then_pr_confirmed_as="pr")) == "NE"


def test_reappearance_pd_dated_at_the_disease_after_cr() -> None:
    result = endpoints.derive_confirmed_bor(seq((14, "CR"), (21, "NE"), (28, "SD")), REF, DEFAULT)
    assert (result.code, result.date) == ("PD", day(28))
    # with a recorded PD the answer is that PD (the date PFS uses too)
    result = endpoints.derive_confirmed_bor(seq((14, "CR"), (21, "SD"), (35, "PD")), REF, DEFAULT)
    assert (result.code, result.date) == ("PD", day(35))
    # iRECIST keeps its own progression rules
    assert cbor(((14, "iCR"), (28, "iSD")), IRECIST) == "NE"


CONFIRMATION = [
    ("PR confirmed exactly 28 days later", ((56, "PR"), (84, "PR")), DEFAULT, "PR"),
    ("PR 27 days later is too early", ((56, "PR"), (83, "PR")), DEFAULT, "SD"),
    ("CR confirmed exactly 28 days later", ((56, "CR"), (84, "CR")), DEFAULT, "CR"),
    ("CR 27 days later: not confirmed, SD", ((56, "CR"), (83, "CR")), DEFAULT, "SD"),
    ("one NE between PRs is allowed", ((56, "PR"), (70, "NE"), (98, "PR")), DEFAULT, "PR"),
    ("two NE between PRs are too many", ((56, "PR"), (70, "NE"), (84, "NE"), (112, "PR")), DEFAULT, "SD"),
    ("two NE allowed by setting", ((56, "PR"), (70, "NE"), (84, "NE"), (112, "PR")),
     Settings(max_ne_between_confirmation=2), "PR"),
    ("one NE between CRs is allowed", ((56, "CR"), (70, "NE"), (98, "CR")), DEFAULT, "CR"),
    ("PR between CRs breaks CR confirmation; PR then CR confirms PR", ((56, "CR"), (70, "PR"), (98, "CR")),
     DEFAULT, "PR"),
    ("SD between PRs breaks confirmation by default", ((56, "PR"), (70, "SD"), (98, "PR")), DEFAULT, "SD"),
    ("SD between PRs accepted by setting", ((56, "PR"), (70, "SD"), (98, "PR")),
     Settings(accept_sd_between_pr_confirmation=True), "PR"),
    ("no PR after a CR inside the confirmation (admiralonco)", ((56, "PR"), (70, "CR"), (98, "PR")),
     DEFAULT, "SD"),
    ("PR after CR allowed with A12 'pr'", ((56, "PR"), (70, "CR"), (98, "PR")),
     Settings(cr_then_pr_confirmed_as="pr"), "PR"),
    ("CR confirms PR", ((56, "PR"), (84, "CR")), DEFAULT, "PR"),
    ("PD ends RECIST assessment: later PR pair ignored", ((42, "SD"), (84, "PD"), (126, "PR"), (168, "PR")),
     DEFAULT, "SD"),
    ("confirmation_period 21 (admiralonco adrs vignette)", ((56, "PR"), (77, "PR")),
     Settings(confirm_min_days=21), "PR"),
    ("SD-window 28 (admiralonco tests): SD at day 28 qualifies", ((28, "SD"), (56, "PD")),
     Settings(sd_min_days=28), "SD"),
    ("NON-CR/NON-PD at >= 42 days", ((42, "NON-CR/NON-PD"),), DEFAULT, "NON-CR/NON-PD"),
    # Non-target-only disease (RECIST 1.1 Table 2 footnote): the stable category is
    # NON-CR/NON-PD, so an unconfirmed CR at the SD minimum is NON-CR/NON-PD, never SD.
    ("NT only: unconfirmed CR, then NON-CR/NON-PD", ((56, "CR"), (112, "NON-CR/NON-PD")), DEFAULT,
     "NON-CR/NON-PD"),
    ("NT only: NON-CR/NON-PD, CR not confirmed", ((42, "NON-CR/NON-PD"), (84, "CR"), (98, "CR")), DEFAULT,
     "NON-CR/NON-PD"),
    ("NT only: CR confirmed 28 days later", ((42, "NON-CR/NON-PD"), (84, "CR"), (112, "CR")), DEFAULT, "CR"),
    ("NT only: early NON-CR/NON-PD, then PD", ((30, "NON-CR/NON-PD"), (70, "PD")), DEFAULT, "PD"),
    ("nothing", (), DEFAULT, None),
]


@pytest.mark.parametrize(("nt_only", "expected"), [(True, "NON-CR/NON-PD"), (False, "SD"), (None, "SD")])
def test_confirmed_bor_non_target_only_flag(nt_only: bool | None, expected: str) -> None:
    # CR, CR 27 days later: not confirmed. The codes alone do not show whether the disease is
    # non-target only (None reads them: no NON-CR/NON-PD, so not); the engine passes it.
    result = endpoints.derive_confirmed_bor(seq((56, "CR"), (83, "CR")), REF, DEFAULT, RECIST11,
                                            nt_only=nt_only)
    assert result.code == expected


def test_irecist_confirmed_bor_non_target_only_is_non_icr_non_iupd() -> None:
    assert cbor(((56, "iCR"), (112, "NON-iCR/NON-iUPD")), IRECIST) == "NON-iCR/NON-iUPD"
    assert cbor(((42, "NON-iCR/NON-iUPD"), (84, "iCR"), (98, "iCR")), IRECIST) == "NON-iCR/NON-iUPD"
    assert cbor(((56, "CR"), (112, "NON-CR/NON-PD")), IMRECIST) == "NON-CR/NON-PD"


@pytest.mark.parametrize(("label", "pairs", "settings", "expected"), CONFIRMATION,
                         ids=[row[0] for row in CONFIRMATION])
def test_confirmed_bor_rules(label: str, pairs: Pairs, settings: Settings,
                             expected: str | None) -> None:
    assert cbor(pairs, settings=settings) == expected


def test_confirmed_bor_date_is_the_first_of_the_pair() -> None:
    result = endpoints.derive_confirmed_bor(seq((42, "SD"), (84, "PR"), (126, "PR")), REF, DEFAULT)
    assert (result.code, result.date) == ("PR", day(84))


# --- admiralonco tests/testthat/test-derive_param_confirmed_bor.R, as data -----------------------
# (USUBJID, reference date TRTSDT, [(ADT, AVALC)], expected code, expected date). NON-CR/NON-PD
# next to target codes is admiralonco's test data, kept as is.

AO_ADRS = {
    "1": ("2020-01-01", [("2020-01-01", "PR"), ("2020-02-01", "CR"), ("2020-02-16", "NE"),
                         ("2020-03-01", "CR"), ("2020-04-01", "SD")]),
    "2": ("2019-12-12", [("2020-01-01", "SD"), ("2020-02-01", "PR"), ("2020-03-01", "SD"),
                         ("2020-03-13", "CR")]),
    "3": ("2019-11-11", [("2019-11-12", "CR"), ("2019-12-02", "CR"), ("2020-01-01", "SD")]),
    "4": ("2019-12-30", [("2020-01-01", "PR"), ("2020-03-01", "SD"), ("2020-04-01", "SD"),
                         ("2020-05-01", "PR"), ("2020-05-15", "NON-CR/NON-PD")]),
    "5": ("2020-01-01", [("2020-01-01", "PR"), ("2020-01-10", "SD"), ("2020-01-20", "PR"),
                         ("2020-05-15", "NON-CR/NON-PD")]),
    "6": ("2020-02-02", [("2020-02-06", "PR"), ("2020-02-16", "CR"), ("2020-03-30", "PR")]),
    "7": ("2020-02-02", [("2020-02-06", "PR"), ("2020-02-16", "CR"), ("2020-04-01", "NE")]),
    "8": ("2020-04-01", []),
    "9": ("2020-02-01", [("2020-02-16", "PD"), ("2020-03-06", "SD")]),
}
AO_TEST1 = {  # ref_start_window 28, ref_confirm 28 (max_nr_ne 1, accept_sd FALSE)
    "1": ("CR", "2020-02-01"), "2": ("SD", "2020-02-01"), "3": ("SD", "2020-01-01"),
    "4": ("SD", "2020-03-01"), "5": ("NON-CR/NON-PD", "2020-05-15"), "6": ("SD", "2020-03-30"),
    "7": ("NE", "2020-02-06"), "8": (None, None), "9": ("PD", "2020-02-16"),
}
AO_TEST2 = {  # ref_start_window 28, ref_confirm 14, max_nr_ne 0, accept_sd TRUE (7: ND, 8: missing as NE)
    "1": ("PR", "2020-01-01"), "2": ("PR", "2020-02-01"), "3": ("CR", "2019-11-12"),
    "4": ("SD", "2020-03-01"), "5": ("PR", "2020-01-01"), "6": ("SD", "2020-03-30"),
    "9": ("PD", "2020-02-16"),
}


@pytest.mark.parametrize(("expected", "settings"), [
    (AO_TEST1, Settings(sd_min_days=28, confirm_min_days=28)),
    (AO_TEST2, Settings(sd_min_days=28, confirm_min_days=14, max_ne_between_confirmation=0,
                        accept_sd_between_pr_confirmation=True)),
], ids=["test1-default", "test2-accept-sd"])
def test_admiralonco_confirmed_bor_cases(expected: dict[str, tuple[str | None, str | None]],
                                         settings: Settings) -> None:
    for usubjid, (code, date) in expected.items():
        ref_text, rows = AO_ADRS[usubjid]
        tps = tuple(TimepointResult(date=dt.date.fromisoformat(d), target="", non_target="", new_lesions="",
                                    overall=c) for d, c in rows)
        result = endpoints.derive_confirmed_bor(tps, dt.date.fromisoformat(ref_text), settings)
        got_date = None if result.date is None else result.date.isoformat()
        assert (result.code, got_date) == (code, date), usubjid


def test_accept_sd_allows_one_sd_only() -> None:
    accept = Settings(accept_sd_between_pr_confirmation=True)
    assert cbor(((56, "PR"), (70, "SD"), (98, "PR")), settings=accept) == "PR"
    assert cbor(((56, "PR"), (70, "SD"), (84, "SD"), (112, "PR")), settings=accept) == "SD"


# --- R11-BOR / R11-SD-MIN / AO-BOR (no confirmation) -----------------------------------------

UNCONFIRMED = [
    ("SD, PR, PD -> PR (R11-BOR example)", ((42, "SD"), (84, "PR"), (126, "PD")), "PR"),
    ("SD at day 41 is too early -> NE", ((41, "SD"),), "NE"),
    ("SD at day 42 qualifies", ((42, "SD"),), "SD"),
    ("SD too early then PD -> PD", ((30, "SD"), (60, "PD")), "PD"),
    ("SD too early then lost -> NE", ((30, "SD"),), "NE"),
    ("early PR counts without minimum", ((14, "PR"),), "PR"),
    ("CR beats PR", ((42, "PR"), (84, "CR"), (126, "PR")), "CR"),
    ("after the first PD nothing counts", ((42, "PD"), (84, "PR")), "PD"),
    ("NON-CR/NON-PD at day 42", ((42, "NON-CR/NON-PD"),), "NON-CR/NON-PD"),
    ("NON-CR/NON-PD too early then PD", ((30, "NON-CR/NON-PD"), (70, "PD")), "PD"),
    ("SD beats NON-CR/NON-PD", ((42, "NON-CR/NON-PD"), (84, "SD")), "SD"),
    ("only NE", ((42, "NE"), (84, "NE")), "NE"),
    ("no assessment", (), None),
]


@pytest.mark.parametrize(("label", "pairs", "expected"), UNCONFIRMED, ids=[row[0] for row in UNCONFIRMED])
def test_recist_bor(label: str, pairs: Pairs, expected: str | None) -> None:
    assert bor(pairs) == expected


def test_bor_date_is_first_assessment_with_the_best_code() -> None:
    result = endpoints.derive_bor(seq((42, "SD"), (84, "PR"), (126, "PR")), REF, DEFAULT)
    assert (result.code, result.date) == ("PR", day(84))


# --- iRECIST Table 3 (IR-BOR): every sequence each row allows --------------------------------

ANY = ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "NE")
IR_TABLE3 = [
    ("T3-EX1", [("iCR",), ("iCR", "iPR", "iUPD", "NE"), ("iCR", "iPR", "iUPD", "NE"), ("iUPD",), ("iCPD",)],
     "iCR"),
    ("T3-EX2", [("iUPD",), ("iPR", "iSD", "NE"), ("iCR",), ("iCR", "iUPD", "NE"),
                ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NE")], "iCR"),
    ("T3-EX3", [("iUPD",), ("iPR",), ("iPR", "iSD", "iUPD", "NE"), ("iPR", "iSD", "iUPD", "NE", "iCPD"),
                ("iPR", "iSD", "iUPD", "NE", "iCPD")], "iPR"),
    ("T3-EX4", [("iUPD",), ("iSD", "NE"), ("iPR",), ("iPR", "iSD", "iUPD", "NE"),
                ("iPR", "iSD", "iUPD", "iCPD", "NE")], "iPR"),
    ("T3-EX5", [("iUPD",), ("iSD",), ("iSD", "iUPD", "NE"), ("iSD", "iUPD", "iCPD", "NE"),
                ("iSD", "iUPD", "iCPD", "NE")], "iSD"),
    ("T3-EX6", [("iUPD",), ("iCPD",), ANY], "iCPD"),
    ("T3-EX7", [("iUPD",), ("iUPD",), ("iCPD",), ANY], "iCPD"),
    ("T3-EX8", [("iUPD",), ("NE",), ("NE",), ("NE",), ("NE",)], "iUPD"),
]


@pytest.mark.parametrize(("row", "slots", "expected"), IR_TABLE3, ids=[r[0] for r in IR_TABLE3])
def test_irecist_table3_every_allowed_sequence(row: str, slots: list[tuple[str, ...]], expected: str) -> None:
    # Assessments every 6 weeks from day 42, so iSD always meets the minimum duration.
    count = 0
    for codes in itertools.product(*slots):
        pairs = tuple((42 * (k + 1), code) for k, code in enumerate(codes))
        assert bor(pairs, IRECIST) == expected, codes
        count += 1
    assert count >= 1


def test_irecist_isd_needs_minimum_duration() -> None:
    assert bor(((21, "iSD"), (35, "iUPD"), (70, "iCPD")), IRECIST) == "iCPD"
    assert bor(((21, "iSD"), (35, "iUPD")), IRECIST) == "iUPD"
    assert bor(((21, "iSD"),), IRECIST) == "NE"
    assert bor(((42, "NON-iCR/NON-iUPD"), (84, "iUPD")), IRECIST) == "NON-iCR/NON-iUPD"


def test_irecist_confirmed_bor_uses_irecist_codes() -> None:
    assert cbor(((42, "iPR"), (84, "iPR")), IRECIST) == "iPR"
    assert cbor(((42, "iPR"), (56, "iUPD"), (98, "iCPD")), IRECIST) == "iSD"
    assert cbor(((21, "iPR"), (35, "iUPD"), (70, "iCPD")), IRECIST) == "iCPD"


# --- iPFS (IR-PFS, AO-IR-PD-DATE, A3) --------------------------------------------------------

def ipfs(pairs: tuple[tuple[int, str], ...], settings: Settings = DEFAULT, death: int | None = None,
         pd_on: dict[int, int] | None = None) -> tuple[bool, int, str]:
    result = endpoints.criterion_pfs(seq(*pairs, pd_on=pd_on), REF, settings, IRECIST,
                                  None if death is None else day(death))
    return result.event, (result.date - REF).days, result.reason


def test_ipfs_dated_at_first_iupd_of_the_confirmed_block_admiralonco_example() -> None:
    # "SD, SD, iUPD, PR, PR, iUPD, iCPD -> the iRECIST PD date is the second iUPD".
    pairs = ((42, "iSD"), (84, "iSD"), (126, "iUPD"), (168, "iPR"), (210, "iPR"), (252, "iUPD"),
             (294, "iCPD"))
    assert ipfs(pairs) == (True, 252, endpoints.REASON_ICPD)
    progression = endpoints.irecist_progression(seq(*pairs))
    assert (progression.iupd_date, progression.icpd_date) == (day(252), day(294))


def test_ipfs_block_kept_open_by_iupd_and_ne() -> None:
    pairs = ((42, "iPR"), (84, "iUPD"), (126, "NE"), (168, "iUPD"), (210, "iCPD"))
    assert ipfs(pairs) == (True, 84, endpoints.REASON_ICPD)


def test_ipfs_uses_progression_date_of_the_iupd() -> None:
    assert ipfs(((84, "iUPD"), (126, "iCPD")), pd_on={84: 80}) == (True, 80, endpoints.REASON_ICPD)


def test_ipfs_unconfirmed_iupd_default_event() -> None:
    assert ipfs(((42, "iSD"), (84, "iUPD"))) == (True, 84, endpoints.REASON_UNCONFIRMED_IUPD)
    assert ipfs(((42, "iSD"), (84, "iUPD"), (126, "NE"))) == (True, 84, endpoints.REASON_UNCONFIRMED_IUPD)


def test_ipfs_unconfirmed_iupd_censor_reading() -> None:
    settings = Settings(irecist_unconfirmed_iupd="censor")
    event, days, reason = ipfs(((42, "iSD"), (84, "iUPD"), (126, "NE")), settings)
    assert (event, days, reason) == (False, 42, endpoints.REASON_LAST_ADEQUATE)
    # death before confirmation is still an event, at the death date
    assert ipfs(((42, "iSD"), (84, "iUPD")), settings, death=100) == (True, 100, endpoints.REASON_DEATH)


def test_ipfs_reset_iupd_is_no_event() -> None:
    assert ipfs(((42, "iUPD"), (84, "iSD"), (126, "NE"))) == (False, 84, endpoints.REASON_LAST_ADEQUATE)
    assert endpoints.irecist_progression(seq((42, "iUPD"), (84, "iSD"))).iupd_date is None


def test_ipfs_death_before_and_after_progression() -> None:
    assert ipfs(((42, "iUPD"), (84, "iCPD")), death=60) == (True, 42, endpoints.REASON_ICPD)
    assert ipfs(((42, "iSD"),), death=60) == (True, 60, endpoints.REASON_DEATH)
    assert ipfs((), death=60) == (True, 60, endpoints.REASON_DEATH)


# --- RECIST PFS censoring (R11-PFS) -------------------------------------------------------------

PFS_CASES = [
    ("first PD", ((42, "SD"), (84, "PD")), None, (True, 84, "PD")),
    ("censored at last adequate (NE skipped)", ((42, "SD"), (84, "PR"), (126, "NE")), None,
     (False, 84, endpoints.REASON_LAST_ADEQUATE)),
    ("no adequate assessment: censored at the reference date", ((42, "NE"),), None,
     (False, 0, endpoints.REASON_NO_ADEQUATE)),
    ("no assessment at all", (), None, (False, 0, endpoints.REASON_NO_ADEQUATE)),
    ("death without PD", ((42, "SD"),), 200, (True, 200, endpoints.REASON_DEATH)),
    ("death before PD", ((42, "SD"), (84, "PD")), 70, (True, 70, endpoints.REASON_DEATH)),
    ("PD before death", ((42, "SD"), (84, "PD")), 100, (True, 84, "PD")),
    ("PD and death the same day: PD", ((42, "SD"), (84, "PD")), 84, (True, 84, "PD")),
    ("assessments after the first PD are ignored", ((42, "PD"), (84, "PR"), (126, "PD")), None,
     (True, 42, "PD")),
]


@pytest.mark.parametrize(("label", "pairs", "death", "expected"), PFS_CASES, ids=[c[0] for c in PFS_CASES])
def test_recist_pfs(label: str, pairs: Pairs, death: int | None,
                    expected: tuple[bool, int, str]) -> None:
    died = None if death is None else day(death)
    result = endpoints.criterion_pfs(seq(*pairs), REF, DEFAULT, RECIST11, died)
    assert (result.event, (result.date - REF).days, result.reason) == expected


def test_recist_pfs_uses_progression_date() -> None:
    result = endpoints.criterion_pfs(seq((42, "SD"), (84, "PD"), pd_on={84: 63}), REF, DEFAULT)
    assert result.date == day(63)


# --- imRECIST (IM-PFS, IM-BOR, A8) ---------------------------------------------------------------

def statuses(pairs: tuple[tuple[int, str], ...], settings: Settings = DEFAULT) -> tuple[str | None, ...]:
    return endpoints.imrecist_pd_status(seq(*pairs), settings)


IM_STATUS = [
    ("negated exactly 28 days later", ((42, "SD"), (84, "PD"), (112, "SD")), "negated"),
    ("27 days later is too early: stands", ((42, "SD"), (84, "PD"), (111, "SD")), "stands"),
    ("next evaluable is PD: confirmed", ((42, "SD"), (84, "PD"), (126, "PD")), "confirmed"),
    ("last assessment: stands", ((42, "SD"), (84, "PD")), "stands"),
    ("NE skipped, non-PD 42 days later: negated", ((42, "SD"), (84, "PD"), (98, "NE"), (126, "PR")),
     "negated"),
    ("only NE after: stands", ((42, "SD"), (84, "PD"), (126, "NE")), "stands"),
    ("NON-CR/NON-PD negates", ((42, "SD"), (84, "PD"), (126, "NON-CR/NON-PD")), "negated"),
    ("early non-PD passed over, later non-PD negates", ((42, "SD"), (84, "PD"), (98, "SD"), (126, "SD")),
     "negated"),
    ("early non-PD passed over, later PD confirms", ((42, "SD"), (84, "PD"), (98, "SD"), (126, "PD")),
     "confirmed"),
]


@pytest.mark.parametrize(("label", "pairs", "expected"), IM_STATUS, ids=[c[0] for c in IM_STATUS])
def test_imrecist_pd_status(label: str, pairs: Pairs, expected: str) -> None:
    assert statuses(pairs)[1] == expected


def test_imrecist_negation_days_setting() -> None:
    pairs = ((42, "SD"), (84, "PD"), (105, "SD"))
    assert statuses(pairs)[1] == "stands"
    assert statuses(pairs, Settings(imrecist_negation_min_days=21))[1] == "negated"


def impfs(pairs: tuple[tuple[int, str], ...], death: int | None = None) -> tuple[bool, int, str]:
    died = None if death is None else day(death)
    result = endpoints.criterion_pfs(seq(*pairs), REF, DEFAULT, IMRECIST, died)
    return result.event, (result.date - REF).days, result.reason


def test_impfs_negated_pd_is_no_event() -> None:
    assert impfs(((42, "SD"), (84, "PD"), (112, "SD"))) == (False, 112, endpoints.REASON_LAST_ADEQUATE)


def test_impfs_boundary_27_days_is_an_event() -> None:
    assert impfs(((42, "SD"), (84, "PD"), (111, "SD"))) == (True, 84, "PD")


def test_impfs_first_pd_not_negated_after_a_negated_one() -> None:
    assert impfs(((42, "SD"), (84, "PD"), (126, "PR"), (168, "PD"))) == (True, 168, "PD")


def test_impfs_death_is_an_event() -> None:
    assert impfs(((42, "SD"), (84, "PD"), (126, "SD")), death=150) == (True, 150, endpoints.REASON_DEATH)


def test_imbor_counts_after_pd_by_default_and_a8_stops() -> None:
    pairs = ((30, "SD"), (84, "PD"), (126, "PD"), (168, "PR"))
    assert bor(pairs, IMRECIST) == "PR"
    assert bor(pairs, IMRECIST, Settings(imrecist_bor_after_pd=False)) == "PD"
    # a negated PD never stops imBOR
    negated = ((30, "SD"), (84, "PD"), (126, "PR"))
    assert bor(negated, IMRECIST, Settings(imrecist_bor_after_pd=False)) == "PR"


def test_imrecist_confirmed_bor_after_negated_pd() -> None:
    assert cbor(((42, "SD"), (84, "PD"), (126, "PR"), (168, "PR")), IMRECIST) == "PR"
    assert cbor(((42, "SD"), (84, "PD"), (126, "PR"), (168, "PR")), RECIST11) == "SD"


# --- duration of response ------------------------------------------------------------------------

def test_dor_from_first_response_to_progression() -> None:
    dor = endpoints.derive_dor(seq((42, "SD"), (84, "PR"), (126, "PR"), (168, "PD")), REF, DEFAULT)
    assert dor is not None
    assert (dor.start, dor.end, dor.days, dor.event) == (day(84), day(168), 84, True)


def test_dor_censored_and_absent() -> None:
    dor = endpoints.derive_dor(seq((42, "PR"), (84, "PR"), (126, "NE")), REF, DEFAULT)
    assert dor is not None
    assert (dor.end, dor.event, dor.reason) == (day(84), False, endpoints.REASON_LAST_ADEQUATE)
    assert endpoints.derive_dor(seq((42, "SD"), (84, "PD")), REF, DEFAULT) is None


def test_idor_ends_at_the_confirmed_iupd() -> None:
    dor = endpoints.derive_dor(seq((42, "iPR"), (84, "iUPD"), (126, "iCPD")), REF, DEFAULT, IRECIST)
    assert dor is not None
    assert (dor.start, dor.end, dor.event) == (day(42), day(84), True)


def test_attached_pd_status_is_used() -> None:
    results = seq((42, "SD"), (84, "PD"), (126, "SD"))
    tagged = tuple(dataclasses.replace(r, extra={"pd_status": "negated"}) if r.overall == "PD" else r
                   for r in results)
    assert endpoints.criterion_pfs(tagged, REF, DEFAULT, IMRECIST).event is False


def test_criterion_named_entry_points() -> None:
    irecist = seq((42, "iSD"), (84, "iUPD"), (126, "iCPD"))
    assert endpoints.derive_ibor(irecist, REF, DEFAULT).code == "iSD"
    assert endpoints.derive_ipfs(irecist, REF, DEFAULT).date == day(84)
    imrecist = seq((30, "SD"), (84, "PD"), (126, "PR"))
    assert endpoints.derive_imbor(imrecist, REF, DEFAULT).code == "PR"
    assert endpoints.derive_impfs(imrecist, REF, DEFAULT).event is False
