"""The server-side SVG plots: well-formed, accessible (title/desc/aria), ordered, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from trialreads.web import plots

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def assert_accessible(root: ET.Element, uid: str, title: str) -> None:
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{uid}-title {uid}-desc"
    first, second = list(root)[:2]
    assert first.tag == f"{SVG}title" and first.get("id") == f"{uid}-title" and first.text == title
    assert second.tag == f"{SVG}desc" and second.get("id") == f"{uid}-desc" and second.text


def bars(root: ET.Element) -> list[ET.Element]:
    return [
        r
        for r in root.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None and "%" in (r.findtext(f"{SVG}title") or "")
    ]


def test_waterfall_sorts_largest_increase_first_and_describes_itself() -> None:
    data = [
        plots.WaterfallBar("S-1", Decimal("-40.0"), "PR"),
        plots.WaterfallBar("S-2", Decimal("25.0"), "PD"),
        plots.WaterfallBar("S-3", Decimal("-10.0"), "SD"),
    ]
    root = parse(plots.waterfall_svg(data, uid="wf", title="Waterfall"))
    assert_accessible(root, "wf", "Waterfall")
    titles = [r.findtext(f"{SVG}title") for r in bars(root)]
    assert titles == ["S-2: +25.0% (PD)", "S-3: -10.0% (SD)", "S-1: -40.0% (PR)"]
    fills = [r.get("fill") for r in bars(root)]
    assert fills == [plots.colour("PD"), plots.colour("SD"), plots.colour("PR")]
    desc = root.findtext(f"{SVG}desc") or ""
    assert "3 subjects" in desc and "1 at or below -30%" in desc
    # Bars above zero grow upwards from the zero line, bars below grow downwards.
    first = bars(root)[0]
    zero = float(first.get("y") or 0) + float(first.get("height") or 0)
    assert float(bars(root)[1].get("y") or 0) == zero


def test_waterfall_draws_the_recist_reference_lines() -> None:
    root = parse(plots.waterfall_svg([plots.WaterfallBar("S", Decimal("-5"), "SD")], uid="w", title="t"))
    labels = {t.text for t in root.iter(f"{SVG}text")}
    assert "+20% (PD)" in labels and "−30% (PR)" in labels


def test_text_is_escaped() -> None:
    svg = plots.waterfall_svg([plots.WaterfallBar("<script>&", Decimal("1"), None)], uid="x", title="a < b")
    root = parse(svg)
    assert "<script>" not in svg
    assert root.findtext(f"{SVG}title") == "a < b"
    assert bars(root)[0].findtext(f"{SVG}title") == "<script>&: +1.0% (no BOR)"


def test_spider_has_one_line_per_subject_through_the_origin() -> None:
    series = [
        plots.SpiderSeries("S-1", ((42, Decimal("-40")), (84, Decimal("-45"))), "PR"),
        plots.SpiderSeries("S-2", ((42, Decimal("25")),), "PD"),
        plots.SpiderSeries("S-3", (), None),
    ]
    root = parse(plots.spider_svg(series, uid="sp", title="Spider"))
    assert_accessible(root, "sp", "Spider")
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2
    assert [len((pl.get("points") or "").split()) for pl in lines] == [3, 2]
    points = [c.findtext(f"{SVG}title") for c in root.iter(f"{SVG}circle")]
    assert points == ["S-1 day 42: -40.0%", "S-1 day 84: -45.0%", "S-2 day 42: +25.0%"]
    assert "2 subject(s)" in (root.findtext(f"{SVG}desc") or "")


def test_swimmer_marks_responses_progression_and_ongoing_follow_up() -> None:
    lanes = [
        plots.SwimmerLane("S-1", 84, True, ((42, "PR"), (84, "PR"))),
        plots.SwimmerLane("S-2", 126, False, ((42, "SD"), (126, "PD"))),
    ]
    root = parse(plots.swimmer_svg(lanes, uid="sw", title="Swimmer"))
    assert_accessible(root, "sw", "Swimmer")
    titles = [e.findtext(f"{SVG}title") for e in root.iter() if e.find(f"{SVG}title") is not None]
    # Longest lane first; ongoing follow-up gets an arrow; PD a cross, PR a triangle.
    assert titles.index("S-2: 126 days") < titles.index("S-1: 84 days (ongoing)")
    assert "S-1: follow-up ongoing" in titles
    assert "S-2: follow-up ongoing" not in titles
    marks = {e.findtext(f"{SVG}title"): e for e in root.iter(f"{SVG}path")}
    assert marks["S-2 day 126: PD"].get("stroke") == plots.colour("PD")
    assert marks["S-1 day 42: PR"].get("fill") == plots.colour("PR")
    circles = [c.findtext(f"{SVG}title") for c in root.iter(f"{SVG}circle")]
    assert circles == ["S-2 day 42: SD"]
    assert "1 ongoing" in (root.findtext(f"{SVG}desc") or "")


def test_empty_plots_say_why() -> None:
    for fn, message in (
        (plots.waterfall_svg, "No subject has a follow-up assessment yet."),
        (plots.spider_svg, "No follow-up measurements to plot yet."),
        (plots.swimmer_svg, "No subject has been assessed yet."),
    ):
        root = parse(fn([], uid="e", title="Empty"))  # type: ignore[operator]
        assert_accessible(root, "e", "Empty")
        assert root.findtext(f"{SVG}desc") == message


def test_unknown_codes_get_the_neutral_colour() -> None:
    assert plots.colour(None) == plots.DEFAULT_COLOUR
    assert plots.colour("WHATEVER") == plots.DEFAULT_COLOUR
    assert plots.colour("iUPD") != plots.colour("iCPD")


def test_each_criterion_draws_its_own_thresholds_and_counts_responders_by_them() -> None:
    irrc = ((Decimal(25), "+25% (irPD)"), (Decimal(-50), "−50% (irPR)"))
    data = [
        plots.WaterfallBar("S-1", Decimal("-45.0"), "irPR", "burden 550.0 mm²"),
        plots.WaterfallBar("S-2", Decimal("-55.0"), "irPR", "burden 450.0 mm²"),
    ]
    root = parse(plots.waterfall_svg(data, uid="wf", title="irRC", references=irrc))
    labels = {t.text for t in root.iter(f"{SVG}text")}
    assert {"+25% (irPD)", "−50% (irPR)"} <= labels and "+20% (PD)" not in labels
    # -45 % is no irRC response (the threshold is -50 %): one responder, not two
    assert "1 at or below -50%" in (root.findtext(f"{SVG}desc") or "")
    titles = [r.findtext(f"{SVG}title") for r in bars(root)]
    assert titles == ["S-1: -45.0% (irPR; burden 550.0 mm²)", "S-2: -55.0% (irPR; burden 450.0 mm²)"]


def test_spider_points_carry_the_value_behind_the_change() -> None:
    series = [plots.SpiderSeries("S-1", ((42, Decimal("-25")),), "SMD", ("SULpeak 6.0 vs 8.0",))]
    percist = ((Decimal(30), "+30% (PMD)"), (Decimal(-30), "−30% (PMR)"))
    root = parse(plots.spider_svg(series, uid="sp", title="PERCIST", references=percist))
    assert [c.findtext(f"{SVG}title") for c in root.iter(f"{SVG}circle")] == [
        "S-1 day 42: -25.0% (SULpeak 6.0 vs 8.0)"
    ]
    assert "+30% (PMD)" in {t.text for t in root.iter(f"{SVG}text")}


def test_a_plot_without_a_measure_says_why() -> None:
    root = parse(plots.waterfall_svg([], uid="e", title="PERCIMT", references=(), empty="No measure."))
    assert root.findtext(f"{SVG}desc") == "No measure."


def test_every_criterions_codes_have_colours_and_marks() -> None:
    for code in ("irPD", "PMD", "UPMD", "CPMD"):
        assert code in plots.PROGRESSION and plots.colour(code) != plots.DEFAULT_COLOUR
    for code in ("irCR", "irPR", "CMR", "PMR"):
        assert code in plots.RESPONSE and plots.colour(code) != plots.DEFAULT_COLOUR
    for code in ("irSD", "irNN", "SMD", "NON-iCR/NON-iUPD"):
        assert plots.colour(code) != plots.DEFAULT_COLOUR
    assert plots.colour("UPMD") == plots.colour("iUPD") != plots.colour("CPMD")
