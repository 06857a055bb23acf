"""Growth family: TGR / TGK and the hyperprogression definitions at every threshold (exact),
pseudoprogression and dissociated-response labels against the responses beneath them, and
bad input (exit 2, the field named, nothing on stdout)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria import endpoints, growth
from criteria.bench import synthetic_subject
from criteria.cli import main
from criteria.evaluate import evaluate, run_analyses
from criteria.parse import load_json, parse_subject
from criteria.types import IMRECIST, IRECIST, Subject, TimepointResult

BASE = dt.date(2024, 4, 1)


def day(n: int) -> str:
    return (BASE + dt.timedelta(days=n)).isoformat()


def payload(
    pre: str | None,
    base: str,
    first: str,
    *,
    days_ref: int = 90,
    days_exp: int = 90,
    month: str = "30",
    ttf_days: int | None = None,
    ecog: bool | None = None,
    new_lesions: list[dict[str, Any]] | None = None,
    **extra_settings: Any,
) -> dict[str, Any]:
    """One target (liver) measured before, at and after baseline. With 90-day periods and
    30-day months, exp(TG) = D2/D1, so TGR = 100 (D2/D1 - 1) is rational: exact boundaries."""
    data: dict[str, Any] = {
        "subject": "G",
        "reference_date": day(0),
        "settings": {"tgr_month_days": load_json(month), **extra_settings},
        "baseline": {
            "date": day(0),
            "targets": [{"id": "T1", "organ": "liver", "mm": load_json(base)}],
            "non_targets": [{"id": "NT1", "organ": "lung"}],
        },
        "timepoints": [
            {
                "date": day(days_exp),
                "targets": {"T1": load_json(first)},
                "non_targets": {"NT1": "present"},
                "new_lesions": new_lesions or [],
            }
        ],
    }
    if pre is not None:
        data["prebaseline"] = [{"date": day(-days_ref), "targets": {"T1": load_json(pre)}}]
    if ttf_days is not None or ecog is not None:
        data["clinical"] = {
            "treatment_failure_date": None if ttf_days is None else day(ttf_days),
            "ecog_deterioration_2_months": ecog,
        }
    return data


def tgr_block(data: dict[str, Any]) -> dict[str, Any]:
    result = evaluate(parse_subject(data), analyses=("tgr",))
    block = result.analyses["tgr"]
    assert isinstance(block, dict)
    return block


def flag(data: dict[str, Any], name: str) -> bool | None:
    value = tgr_block(data)["hyperprogression"][name]["hpd"]
    assert value is None or isinstance(value, bool)
    return value


# --- TGR-FORMULA / TGR-PRECISION ---------------------------------------------------------


@pytest.mark.parametrize(
    ("d1", "d2", "days", "month", "expected"),
    [
        ("10", "12", 30, "30", "72.8"),  # 1.2^3 = 1.728
        ("100", "110", 90, "30", "10"),  # three months: exp(TG) = 1.1
        ("100", "100", 45, "30.4375", "0"),  # no change
        ("100", "0", 45, "30.4375", "-100"),  # every target gone: the limit
        ("100", "50", 90, "30", "-50"),
    ],
)
def test_tgr_formula_exact_where_the_arithmetic_is(
    d1: str, d2: str, days: int, month: str, expected: str
) -> None:
    assert growth.tgr(Decimal(d1), Decimal(d2), days, Decimal(month)) == Decimal(expected)


def test_tgr_from_zero_is_undefined() -> None:
    assert growth.tgr(Decimal(0), Decimal(10), 30, Decimal("30.4375")) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(10, 2000), st.integers(0, 3000), st.integers(1, 400))
def test_tgr_agrees_with_an_independent_float_formula(d1: int, d2: int, days: int) -> None:
    # 30 days of 30.4375-day months: TGR = 100 (exp(3 ln(d2/d1) / (days / 30.4375)) - 1)
    value = growth.tgr(Decimal(d1) / 10, Decimal(d2) / 10, days, Decimal("30.4375"))
    assert value is not None
    exponent = 3 * math.log(d2 / d1) * 30.4375 / days if d2 else -math.inf
    if exponent > 700:
        return  # beyond float range; the Decimal is still finite
    expected = 100 * (math.exp(exponent) - 1)
    assert math.isclose(float(value), expected, rel_tol=1e-9, abs_tol=1e-9)


def test_tgk_is_the_sum_change_per_month() -> None:
    assert growth.tgk(Decimal(100), Decimal(110), 90, Decimal(30)) * 3 == Decimal(10)


# --- HPD boundaries (pre 100, baseline 110: TGR_ref 10 %/month, TGK_ref 10/3 mm/month) ---


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("131.9", False),  # TGR_exp 19.909... < 2 x 10
        ("132", True),  # TGR_exp exactly 20 = 2 x TGR_ref: ">= 2" holds
        ("132.1", True),
    ],
)
def test_champiat_tgr_ratio_exactly_2(first: str, expected: bool) -> None:
    assert flag(payload("100", "110", first), "champiat2017") is expected


def test_champiat_needs_recist_pd_at_first_evaluation() -> None:
    # pre 100 -> baseline 101 (TGR_ref 1), first 121 (+19.8%: SD), TGR_exp 19.8 >> 2: not HPD
    block = tgr_block(payload("100", "101", "121"))
    assert block["recist_pd_at_first_evaluation"] is False
    assert block["hyperprogression"]["champiat2017"]["hpd"] is False


@pytest.mark.parametrize(
    ("first", "ferrara", "kas"),
    [
        ("175.9", False, False),  # delta-TGR 49.909...
        ("176", False, False),  # delta-TGR exactly 50: "> 50" fails
        ("176.1", True, False),
        ("230.9", True, False),
        ("231", True, False),  # delta-TGR exactly 100: "> 100" fails
        ("231.1", True, True),
    ],
)
def test_ferrara_delta_50_and_kas_delta_100(first: str, ferrara: bool, kas: bool) -> None:
    data = payload("100", "110", first)
    assert (flag(data, "ferrara2018"), flag(data, "kas2020")) == (ferrara, kas)


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("129.9", False),  # TGK_exp 19.9/3 < 2 x 10/3
        ("130", True),  # exactly 2: ">= 2"
        ("130.1", True),
    ],
)
def test_saada_bouzid_tgk_ratio_exactly_2(first: str, expected: bool) -> None:
    assert flag(payload("100", "110", first), "saada_bouzid2017") is expected


@pytest.mark.parametrize(
    ("ttf", "first", "expected"),
    [
        (59, "165.1", True),  # TTF < 60 days (2 x 30), +50.09%, TGK ratio 16.53 > 2
        (60, "165.1", False),  # TTF exactly 2 months: not "< 2 months"
        (59, "165", False),  # exactly +50%: not "> 50%"
        (None, "165.1", None),  # no treatment failure date: unknown, listed
    ],
)
def test_kato_two_months_and_fifty_percent(ttf: int | None, first: str, expected: bool | None) -> None:
    block = tgr_block(payload("100", "110", first, ttf_days=ttf))["hyperprogression"]["kato2017"]
    assert block["hpd"] is expected
    assert (block["missing"] == ("clinical.treatment_failure_date",)) is (expected is None)


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("219.9", False),  # TGK_exp 109.9/3 < 2 x 55/3
        ("220", False),  # exactly twofold: not "more than twofold"
        ("220.1", True),
    ],
)
def test_kato_pace_exactly_2_is_not_more_than_twofold(first: str, expected: bool) -> None:
    # pre 55 -> baseline 110 (TGK_ref 55/3 mm/month); TTF 30 days; burden +100% at 220
    assert flag(payload("55", "110", first, ttf_days=30), "kato2017") is expected


def test_lo_russo_counts_three_of_five_and_reports_clinical_items() -> None:
    new = [
        {"id": "N1", "organ": "liver", "mm": 12},
        {"id": "N2", "organ": "liver", "mm": 11},
        {"id": "N3", "organ": "brain", "mm": 10},
    ]
    # sum +50% exactly (>= 50%), two new lesions in the involved liver, a new organ (brain): 3 of 5
    assert flag(payload("100", "110", "165", new_lesions=new), "lo_russo2019") is True
    # +49.9% and only the two imaging items: with TTF and ECOG unknown the outcome is open
    block = tgr_block(payload("100", "110", "164.9", new_lesions=new))["hyperprogression"]["lo_russo2019"]
    assert block["hpd"] is None
    assert set(block["missing"]) == {
        "clinical.treatment_failure_date",
        "clinical.ecog_deterioration_2_months",
    }
    assert flag(payload("100", "110", "164.9", ttf_days=90, ecog=False), "lo_russo2019") is False


@pytest.mark.parametrize(("reading", "expected"), [("undefined", None), ("product", True), ("false", False)])
def test_nonpositive_reference_readings(reading: str, expected: bool | None) -> None:
    # pre 120 -> baseline 110: TGR_ref < 0; first 140 (PD)
    data = payload("120", "110", "140", hpd_nonpositive_reference=reading)
    assert flag(data, "champiat2017") is expected
    assert flag(data, "saada_bouzid2017") is expected


def test_without_prebaseline_every_rate_definition_lists_it() -> None:
    block = tgr_block(payload(None, "110", "140"))
    for name in ("champiat2017", "saada_bouzid2017", "ferrara2018", "kas2020"):
        assert block["hyperprogression"][name]["hpd"] is None
        assert "prebaseline" in block["hyperprogression"][name]["missing"]
    assert block["experimental_period"]["tgr"] is not None


def test_only_the_selected_definitions() -> None:
    block = tgr_block(payload("100", "110", "140", hyperprogression_definitions=["kas2020"]))
    assert list(block["hyperprogression"]) == ["kas2020"]


def test_sum_only_prebaseline_gives_the_same_rates() -> None:
    data = payload("100", "110", "140")
    by_lesion = tgr_block(data)
    data["prebaseline"] = [{"date": day(-90), "sum_mm": 100}]
    assert tgr_block(data)["reference_period"] == by_lesion["reference_period"]


# --- labels against the responses beneath them (hypothesis) ------------------------------


def _subject(seed: int) -> Subject:
    text = json.dumps(synthetic_subject(random.Random(seed), seed), default=float)  # one-decimal values
    return parse_subject(load_json(text))


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_pseudoprogression_only_where_a_pd_is_later_negated(seed: int) -> None:
    subject = _subject(seed)
    result = evaluate(subject, analyses=("pseudoprogression",))
    labels = result.analyses["pseudoprogression"]
    assert isinstance(labels, dict) and set(labels) == {IRECIST, IMRECIST}
    for criterion in (IRECIST, IMRECIST):
        tps = result.results[criterion].timepoints
        by_date = {tp.date: i for i, tp in enumerate(tps)}
        statuses = endpoints.imrecist_pd_status(tps, subject.settings)
        block = labels[criterion]
        assert isinstance(block, dict)
        for item in block["timepoints"]:
            i = by_date[item["date"]]
            if item["label"] != growth.NEGATED:
                continue
            if criterion == IMRECIST:
                assert tps[i].overall == "PD" and statuses[i] == endpoints.PD_NEGATED
                j = by_date[item["decided_by"]["date"]]
                assert tps[j].overall not in {"PD", "NE", "NA"}
                assert (tps[j].date - tps[i].date).days >= subject.settings.imrecist_negation_min_days
            else:
                j = by_date[item["decided_by"]["date"]]
                assert tps[i].overall == "iUPD" and j > i
                assert tps[j].overall in {"iCR", "iPR", "iSD", "NON-iCR/NON-iUPD"}
                assert all(tp.overall in {"iUPD", "NE", "NA"} for tp in tps[i + 1 : j])
        assert block["pseudoprogression"] == any(x["label"] == growth.NEGATED for x in block["timepoints"])


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_dissociated_only_where_one_lesion_shrinks_and_another_grows(seed: int) -> None:
    subject = _subject(seed)
    block = growth.dissociated_response(subject)
    assert subject.baseline is not None
    base = {t.id: t.mm for t in subject.baseline.targets}
    rows = {r["date"]: r for r in block["timepoints"]}  # type: ignore[union-attr]
    for tp in subject.timepoints:
        if tp.date not in rows:
            continue
        values = {k: v.mm for k, v in tp.targets.items() if v.kind.value == "measured" and v.mm is not None}
        shrinks = {k for k, v in values.items() if v * 100 <= base[k] * 70}
        grows = {k for k, v in values.items() if v * 100 >= base[k] * 120}
        if rows[tp.date]["dissociated"] is True:
            assert {x["id"] for x in rows[tp.date]["shrinking"]} and {
                x["id"] for x in rows[tp.date]["growing"]
            }
        if shrinks and grows:
            assert rows[tp.date]["dissociated"] is True
        if rows[tp.date]["dissociated"] is False:
            assert not (shrinks and grows)


def test_pseudoprogression_reader_table_is_generic() -> None:
    read = growth.block_reader(frozenset({"irPD?"}), frozenset({"irPD"}), frozenset({"irSD"}))
    tps = [
        TimepointResult(dt.date(2024, 1, k), "", "", "", code)
        for k, code in enumerate(["irPD?", "NE", "irSD", "irPD?", "irPD"], start=1)
    ]
    assert read(tps, parse_subject(payload(None, "110", "140")).settings) == (
        ((0,), growth.NEGATED, 2),
        ((3,), growth.CONFIRMED, 4),
    )


# --- bad input -----------------------------------------------------------------------------


def run(data: Any, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["evaluate", "-", *args], stdin=io.StringIO(json.dumps(data, default=float)), stdout=out, stderr=err
    )
    return code, out.getvalue(), err.getvalue()


def _bad(change: Any) -> dict[str, Any]:
    data = payload("100", "110", "140", ttf_days=30)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["prebaseline"][0].update(date=day(0)), "prebaseline[0].date"),
        (lambda d: d["prebaseline"].append({"date": day(-100), "sum_mm": 90}), "prebaseline[1].date"),
        (lambda d: d["prebaseline"][0]["targets"].update(T9=10), "prebaseline[0].targets.T9"),
        (lambda d: d["prebaseline"][0].update(sum_mm=10), "prebaseline[0]"),
        (lambda d: d["prebaseline"][0]["targets"].update(T1=-1), "prebaseline[0].targets.T1"),
        (lambda d: d["prebaseline"][0].update(extra=1), "prebaseline[0].extra"),
        (lambda d: d["clinical"].update(treatment_failure_date=day(-1)), "clinical.treatment_failure_date"),
        (
            lambda d: d["clinical"].update(ecog_deterioration_2_months="yes"),
            "clinical.ecog_deterioration_2_months",
        ),
        (lambda d: d["settings"].update(tgr_month_days=0), "settings.tgr_month_days"),
        (
            lambda d: d["settings"].update(hyperprogression_definitions=["champiat"]),
            "settings.hyperprogression_definitions[0]",
        ),
        (lambda d: d["settings"].update(kato_pace="volume"), "settings.kato_pace"),
    ],
)
def test_bad_growth_input_exits_2_naming_the_field(change: Any, field: str) -> None:
    code, out, err = run(_bad(change))
    assert (code, out) == (2, "")
    assert err.startswith(f"G: {field}:"), err


def test_unknown_analysis_exits_2() -> None:
    code, out, err = run(payload("100", "110", "140"), "--analyses", "tgr,hpd")
    assert (code, out) == (2, "") and "--analyses" in err and "'hpd'" in err


def test_prebaseline_alone_selects_tgr_and_the_results_stay_as_before() -> None:
    with_pre = payload("100", "110", "140")
    code, out, _ = run(with_pre)
    assert code == 0 and list(json.loads(out)["analyses"]) == ["tgr"]
    without = payload(None, "110", "140")
    code, out, _ = run(without)
    plain = json.loads(out)
    assert "analyses" not in plain
    assert json.loads(run(with_pre)[1])["results"] == plain["results"]


def test_growth_bench_input_is_valid_and_gives_every_analysis() -> None:
    from criteria.bench import ANALYSIS_GENERATORS, per_analysis, synthetic_growth_subject

    rng = random.Random(3)
    subjects = [
        parse_subject(load_json(json.dumps(synthetic_growth_subject(rng, i), default=float)))
        for i in range(100)
    ]
    assert all(s.prebaseline for s in subjects)
    seen = set()
    for s in subjects:
        block = evaluate(s).analyses["tgr"]
        assert isinstance(block, dict)
        seen |= {v["hpd"] for v in block["hyperprogression"].values()}
    assert seen == {True, False, None}
    report = per_analysis(20)
    assert set(report) == set(ANALYSIS_GENERATORS) and all(
        v["evaluations_per_second"] > 0 for v in report.values()
    )


def test_explosive_growth_is_written_as_text_not_infinity() -> None:
    # 0.1 mm -> 5000 mm (sum) in one day: TGR about 1e429 %/month
    data = payload(None, "110", "140")
    data["baseline"]["targets"][0]["mm"] = 1000
    data["prebaseline"] = [{"date": day(-1), "sum_mm": Decimal("0.1")}]
    code, out, err = run(data)
    assert code == 0, err
    rate = json.loads(out)["analyses"]["tgr"]["reference_period"]["tgr"]
    assert isinstance(rate, str) and rate.endswith(tuple(f"E+{n}" for n in range(15, 1000)))


def test_an_analysis_named_as_a_criterion_points_to_analyses() -> None:
    code, out, err = run(payload("100", "110", "140"), "--criteria", "tgr")
    assert (code, out) == (2, "") and "--analyses tgr" in err


# --- PSP-IR: irRC / irRECIST readers ------------------------------------------------------

def _irrc_subject(second: tuple[int, int]) -> dict[str, Any]:
    """T1 40 x 30 mm (1200 mm2) at baseline, 50 x 30 (1500: +25% over the nadir, irPD) 56 days
    later, then ``second`` 56 days after that."""
    return {
        "subject": "PSP-IR", "reference_date": "2024-01-01",
        "baseline": {"date": "2024-01-01", "targets": [
            {"id": "T1", "organ": "liver", "node": False, "mm": 40, "perp_mm": 30}], "non_targets": []},
        "timepoints": [
            {"date": "2024-02-26", "targets": {"T1": {"mm": 50, "perp_mm": 30}}, "non_targets": {}},
            {"date": "2024-04-22", "targets": {"T1": {"mm": second[0], "perp_mm": second[1]}},
             "non_targets": {}},
        ],
    }


@pytest.mark.parametrize(("second", "overall", "label"), [
    ((30, 30), "irSD", "pseudoprogression"),       # 900 mm2: -25% vs baseline, not irPD: negated
    ((55, 30), "irPD", "confirmed_progression"),   # 1650 mm2: +37.5% over the nadir 56 days later
])
def test_irrc_pseudoprogression_follows_the_confirmation_of_its_irpd(
        second: tuple[int, int], overall: str, label: str) -> None:
    subject = parse_subject(_irrc_subject(second))
    result = evaluate(subject, ["irrc"])
    assert [tp.overall for tp in result.results["irrc"].timepoints] == ["irPD", overall]
    block = run_analyses(subject, ["pseudoprogression"], result.results, None)["pseudoprogression"]
    assert isinstance(block, dict)
    labels = block["irrc"]
    assert isinstance(labels, dict)
    assert labels["pseudoprogression"] is (label == "pseudoprogression")
    first = labels["timepoints"][0]  # type: ignore[index]
    assert first["label"] == label  # type: ignore[index]
