"""irRC (Wolchok 2009): bidimensional burden, thresholds, confirmation, irBOR and irPFS.

Subjects are contract JSON (numbers as exact Decimals) run through the parser and
``evaluate``, so the bidimensional input keys are exercised with the engine. Products are
worked out by hand in each case.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria.errors import InputError
from criteria.evaluate import evaluate
from criteria.parse import parse_subject
from criteria.types import CriterionResult

START = dt.date(2024, 1, 1)


def D(x: str | int) -> Decimal:
    return Decimal(str(x))


def when(days: int) -> str:
    return (START + dt.timedelta(days=days)).isoformat()


def pair(mm: str | int, perp: str | int) -> dict[str, Decimal]:
    return {"mm": D(mm), "perp_mm": D(perp)}


def make(targets: list[dict[str, Any]], visits: list[dict[str, Any]], non_targets: tuple[str, ...] = (),
         **settings_: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "IRRC", "reference_date": START.isoformat(),
        "baseline": {"date": START.isoformat(), "targets": targets,
                     "non_targets": [{"id": n, "organ": "bone"} for n in non_targets]},
        "timepoints": visits}
    if settings_:
        data["settings"] = settings_
    return data


def visit(days: int, targets: dict[str, Any], nt: dict[str, str] | None = None,
          new: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"date": when(days), "targets": targets, "non_targets": nt or {}, "new_lesions": new or []}


def run(data: dict[str, Any], criterion: str = "irrc") -> CriterionResult:
    return evaluate(parse_subject(copy.deepcopy(data)), [criterion]).results[criterion]


def one_lesion(values: list[dict[str, Decimal] | int | str | None], base: tuple[int, int] = (20, 20),
               **settings_: Any) -> dict[str, Any]:
    """One liver index lesion of ``base`` mm (400 mm2 by default), visits every 8 weeks."""
    return make([{"id": "T1", "organ": "liver", "mm": D(base[0]), "perp_mm": D(base[1])}],
                [visit(56 * (i + 1), {"T1": v}) for i, v in enumerate(values)], **settings_)


# --- thresholds: exactly -50% / +25%, one step (0.1 mm x 10 mm = 1 mm2) either side ----------

@pytest.mark.parametrize(("value", "expected"), [
    (pair("20", "10"), "irPR"),        # 200 = exactly -50% of 400
    (pair("19.9", "10"), "irPR"),      # 199
    (pair("20.1", "10"), "irSD"),      # 201: -49.75%
])
def test_pr_boundary_against_baseline(value: dict[str, Decimal], expected: str) -> None:
    assert run(one_lesion([value])).timepoints[0].overall == expected


@pytest.mark.parametrize(("value", "expected"), [
    (pair("25", "20"), "irPD"),        # 500 = exactly +25% over the nadir 400 (baseline)
    (pair("25.05", "20"), "irPD"),     # 501
    (pair("24.95", "20"), "irSD"),     # 499: +24.75%
])
def test_pd_boundary_against_baseline_nadir(value: dict[str, Decimal], expected: str) -> None:
    result = run(one_lesion([value]))
    assert result.timepoints[0].overall == expected
    assert result.timepoints[0].sum_mm == D(value["mm"]) * D(value["perp_mm"])


@pytest.mark.parametrize(("value", "expected"), [
    (pair("25", "10"), "irPD"),        # 250 = exactly +25% over the nadir 200
    (pair("25.1", "10"), "irPD"),      # 251
    (pair("24.9", "10"), "irSD"),      # 249: +24.5% over the nadir, -37.75% vs baseline (IRRC-TABLE2)
])
def test_pd_boundary_against_a_lower_nadir(value: dict[str, Decimal], expected: str) -> None:
    result = run(one_lesion([pair("20", "10"), value]))  # 400 -> 200 (irPR, the nadir) -> value
    assert result.timepoints[1].overall == expected
    assert result.timepoints[1].nadir_ref_mm == D(200)


def test_tstm_counts_five_by_five() -> None:
    # 400 -> TSTM = 25 mm2: -93.75%, irPR (not irCR: the lesion is present)
    tp = run(one_lesion(["TSTM"])).timepoints[0]
    assert (tp.sum_mm, tp.overall) == (D(25), "irPR")


def test_number_zero_is_gone_without_a_second_diameter() -> None:
    result = run(one_lesion([0, 0]))
    assert [tp.overall for tp in result.timepoints] == ["irCR", "irCR"]
    assert result.bor_confirmed == "irCR"


# --- new lesions -----------------------------------------------------------------------------

@pytest.mark.parametrize(("new", "burden", "expected"), [
    ({"mm": D(10), "perp_mm": D(10)}, 500, "irPD"),   # 400 + 100: +25%
    ({"mm": D(5), "perp_mm": D(5)}, 425, "irSD"),     # exactly 5 x 5 mm: measurable, joins
    ({"mm": D(10), "perp_mm": D("4.9")}, 400, "irSD"),  # below 5 x 5: non-measurable, not in the burden
])
def test_new_measurable_lesions_join_the_burden(new: dict[str, Decimal], burden: int, expected: str) -> None:
    data = make([{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}],
                [visit(56, {"T1": pair(20, 20)}, new=[{"id": "N1", "organ": "lung", **new}])])
    tp = run(data).timepoints[0]
    assert (tp.sum_mm, tp.overall) == (D(burden), expected)


def test_new_non_measurable_lesion_only_precludes_ircr() -> None:
    base = [{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}]
    clean = run(make(base, [visit(56, {"T1": 0})]))
    blocked = run(make(base, [visit(56, {"T1": 0}, new=[{"id": "N1", "organ": "lung", "mm": D(4)}])]))
    assert clean.timepoints[0].overall == "irCR"
    assert blocked.timepoints[0].overall == "irPR"


def test_non_index_progression_never_makes_irpd() -> None:
    data = make([{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}],
                [visit(56, {"T1": pair(20, 20)}, nt={"N1": "unequivocal_progression"}),
                 visit(112, {"T1": 0}, nt={"N1": "present"})], non_targets=("N1",))
    assert [tp.overall for tp in run(data).timepoints] == ["irSD", "irPR"]


def test_node_product_is_long_axis_times_short_axis_and_cr_below_10mm() -> None:
    data = make([{"id": "L1", "organ": "lymph node", "node": True, "mm": D(20), "long_mm": D(30)}],
                [visit(56, {"L1": {"mm": D(8), "long_mm": D(10)}})])
    tp = run(data).timepoints[0]
    assert (tp.sum_mm, tp.nadir_ref_mm, tp.overall) == (D(80), D(600), "irCR")


def test_split_lesion_sums_fragment_products() -> None:
    data = one_lesion([{"fragments_mm": [D(10), D(8)], "fragments_perp_mm": [D(10), D(5)]}])
    assert run(data).timepoints[0].sum_mm == D(140)  # 100 + 40


# --- confirmation, irBOR, irPFS ----------------------------------------------------------------

def test_confirmed_irpd_dates_pfs_at_the_first_irpd_or_the_confirming_one() -> None:
    values = [pair(25, 20), pair(26, 20)]  # 500, 520: irPD twice, 56 days apart
    first = run(one_lesion(values))
    assert [tp.extra["pd_status"] for tp in first.timepoints] == ["confirmed", "confirmed"]
    assert (first.pfs.event, first.pfs.date) == (True, START + dt.timedelta(days=56))
    second = run(one_lesion(values, ir_pd_date="confirming"))
    assert second.pfs.date == START + dt.timedelta(days=112)
    assert first.bor == first.bor_confirmed == "irPD"


def test_irpd_followed_by_response_is_not_confirmed_and_no_event() -> None:
    result = run(one_lesion([pair(25, 20), pair(20, 10)]))  # 500 irPD, then 200 irPR
    assert result.timepoints[0].extra["pd_status"] == "not_confirmed"
    assert (result.pfs.event, result.pfs.date) == (False, START + dt.timedelta(days=112))
    assert result.bor == "irPR"


def test_irpd_confirmation_needs_four_weeks() -> None:
    data = make([{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}],
                [visit(56, {"T1": pair(25, 20)}), visit(83, {"T1": pair(25, 20)})])
    result = run(data)  # 27 days: not a confirmation; nothing else decides
    assert result.timepoints[0].extra["pd_status"] == "unconfirmed"
    assert result.bor_confirmed == "NE"
    assert (result.pfs.event, result.pfs.date) == (True, START + dt.timedelta(days=56))
    censored = run({**data, "settings": {"ir_unconfirmed_pd": "censor"}})
    assert (censored.pfs.event, censored.pfs.date) == (False, START)


@pytest.mark.parametrize(("gap", "confirmed"), [(28, "irPR"), (27, "irSD")])
def test_irpr_confirmation_at_four_weeks(gap: int, confirmed: str) -> None:
    data = make([{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}],
                [visit(56, {"T1": pair(20, 10)}), visit(56 + gap, {"T1": pair(20, 10)})])
    assert run(data).bor_confirmed == confirmed


# --- input rules -------------------------------------------------------------------------------

def test_missing_second_diameter_names_the_field() -> None:
    with pytest.raises(InputError) as exc:
        run(one_lesion([D(15)]))
    assert exc.value.field == "timepoints[0].targets.T1.perp_mm"
    data = make([{"id": "T1", "organ": "liver", "mm": D(20)}, {"id": "T2", "organ": "lung", "mm": D(20),
                                                               "perp_mm": D(10)}], [])
    with pytest.raises(InputError) as exc:
        run(data)
    assert exc.value.field == "baseline.targets[0].perp_mm"


def test_irrc_selection_limits_apply_to_irrc_only() -> None:
    # six liver index lesions of 7 x 6 mm: too many per organ for irRC, and for RECIST 1.1
    # (more than 5, more than 2 per organ, under 10 mm)
    lesions = [{"id": f"T{k}", "organ": "liver", "mm": D(7), "perp_mm": D(6)} for k in range(6)]
    with pytest.raises(InputError, match="at most 5 per organ"):
        run(make(lesions, []))
    small = make(lesions[:5], [visit(56, {f"T{k}": pair(7, 6) for k in range(5)})])
    assert run(small).timepoints[0].overall == "irSD"  # 5 x 42 = 210 both times
    with pytest.raises(InputError, match="not measurable"):
        run(small, "recist1.1")


# --- property: without new lesions the burden is the index SPD ---------------------------------

mm = st.decimals(min_value=0, max_value=90, places=1)


@st.composite
def bidimensional_histories(draw: st.DrawFn) -> tuple[dict[str, Any], list[Decimal | None]]:
    """A history without new lesions and the index SPD of each visit (None: incomplete)."""
    count = draw(st.integers(1, 5))
    targets = []
    for k in range(count):
        size = draw(st.decimals(min_value=10, max_value=90, places=1))
        perp = draw(st.decimals(min_value=5, max_value=size, places=1))
        targets.append({"id": f"T{k}", "organ": f"organ{k}", "mm": size, "perp_mm": perp})
    visits, spds = [], []
    for v in range(draw(st.integers(1, 5))):
        values: dict[str, Any] = {}
        spd: Decimal | None = Decimal(0)
        for t in targets:
            kind = draw(st.integers(0, 9))
            if kind == 0:
                values[t["id"]] = None
                spd = None
            elif kind == 1:
                values[t["id"]] = D(0)
            else:
                a = draw(mm.filter(lambda x: x > 0))
                b = draw(st.decimals(min_value=0, max_value=a, places=1))
                values[t["id"]] = {"mm": a, "perp_mm": b}
                spd = None if spd is None else spd + a * b
        visits.append(visit(42 * (v + 1), values))
        spds.append(spd)
    return make(targets, visits), spds


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bidimensional_histories())
def test_without_new_lesions_the_burden_is_the_index_spd(
    case: tuple[dict[str, Any], list[Decimal | None]],
) -> None:
    data, spds = case
    result = run(data)
    for tp, spd in zip(result.timepoints, spds, strict=True):
        assert tp.sum_mm == spd
        assert tp.extra["index_spd_mm2"] == (spd if spd is not None else tp.extra["index_spd_mm2"])
        assert tp.extra["new_measurable_spd_mm2"] == 0


def test_a_normal_new_node_is_not_a_new_measurable_lesion() -> None:
    # a new node 8 mm short axis x 12 mm long: >= 5 x 5 mm but normal (< 10 mm SA): not in
    # the burden; at 10 mm short axis it is pathological and joins (10 x 12 = 120)
    def case(short: int) -> Any:
        return run(make([{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}],
                        [visit(56, {"T1": pair(20, 20)},
                               new=[{"id": "N1", "organ": "lymph node", "node": True, "mm": D(short),
                                     "long_mm": D(12)}])])).timepoints[0]
    assert (case(8).sum_mm, case(8).overall) == (D(400), "irSD")
    assert (case(10).sum_mm, case(10).overall) == (D(520), "irPD")  # +30%


def test_equivocal_new_lesion_joins_the_burden_only_once_unequivocal() -> None:
    base = [{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}]
    lesion = {"id": "N1", "organ": "lung", "mm": D(10), "perp_mm": D(10)}
    result = run(make(base, [visit(56, {"T1": pair(20, 20)}, new=[{**lesion, "equivocal": True}]),
                             visit(112, {"T1": pair(20, 20)}, new=[lesion])]))
    assert [tp.sum_mm for tp in result.timepoints] == [D(400), D(500)]
    assert [tp.overall for tp in result.timepoints] == ["irSD", "irPD"]


def test_new_lesion_first_non_measurable_blocks_ircr_until_it_joins() -> None:
    base = [{"id": "T1", "organ": "liver", "mm": D(20), "perp_mm": D(20)}]
    result = run(make(base, [visit(56, {"T1": 0}, new=[{"id": "N1", "organ": "lung", "mm": D(4)}]),
                             visit(112, {"T1": 0}, new=[{"id": "N1", "organ": "lung", "mm": D(10),
                                                         "perp_mm": D(10)}])]))
    # day 56: index gone (burden 0, the nadir), N1 non-measurable: irPR, not irCR; day 112: N1
    # 10 x 10 = 100 mm2 joins: -75% against the baseline 400, but any burden above a nadir of
    # 0 is an increase of at least 25%: irPD (IRRC-PD)
    assert [tp.overall for tp in result.timepoints] == ["irPR", "irPD"]
    assert (result.timepoints[1].sum_mm, result.timepoints[1].nadir_ref_mm) == (D(100), D(0))
