"""Property tests (hypothesis) over generated read histories, through the whole engine.

* Renaming lesion ids and reordering lesions never changes any result.
* Adding an NE assessment (a scan not done, or a response-level NE) never moves a PFS event
  earlier and never creates one.
* RECIST 1.1 target PR is never assigned without a 30% decrease from the baseline sum
  (decided exactly); with A1's default the *first* PR needs it, later ones may continue.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria.evaluate import evaluate
from criteria.parse import parse_subject
from criteria.rounding import at_least_pct_below
from criteria.serialize import subject_json
from criteria.types import CRITERIA, RECIST11, Subject

START = dt.date(2024, 1, 1)
ORGANS = ("liver", "lung", "adrenal gland", "spleen", "bone")
NT_WORDS = ("present", "absent", "unequivocal_progression", "further_increase", "not_evaluated")
# CRITERIA_PROPERTY_EXAMPLES=5000 runs the same properties at a high example count.
PROPERTY_SETTINGS = settings(max_examples=int(os.environ.get("CRITERIA_PROPERTY_EXAMPLES", "100")),
                             deadline=None, suppress_health_check=[HealthCheck.too_slow])

mm = st.decimals(min_value=0, max_value=150, places=1)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    """A valid measurement-level subject (contract JSON with Decimal numbers)."""
    targets = []
    for k in range(draw(st.integers(1, 5))):
        node = k < 2 and draw(st.booleans())
        low = 15 if node else 10
        size = draw(st.decimals(min_value=low, max_value=90, places=1))
        organ = "lymph node" if node else ORGANS[k]
        targets.append({"id": f"T{k + 1}", "organ": organ, "node": node, "mm": size})
    non_targets = [{"id": f"NT{k + 1}", "organ": "bone", "node": False}
                   for k in range(draw(st.integers(0, 2)))]
    timepoints = []
    day = 0
    for k in range(draw(st.integers(1, 6))):
        day += draw(st.integers(21, 70))
        if draw(st.integers(0, 19)) == 0:
            timepoints.append({"date": (START + dt.timedelta(days=day)).isoformat(), "scan": "not_done"})
            continue
        values: dict[str, Any] = {}
        for t in targets:
            values[t["id"]] = draw(st.one_of(mm, mm, mm, mm, st.none(), st.just("TSTM")))
        statuses = {n["id"]: draw(st.sampled_from(NT_WORDS)) for n in non_targets}
        new = []
        if draw(st.integers(0, 9)) == 0:
            new.append({"id": f"N{k + 1}", "organ": "liver", "node": False,
                        "mm": draw(st.decimals(min_value=1, max_value=40, places=1)),
                        "equivocal": draw(st.booleans())})
        timepoints.append({"date": (START + dt.timedelta(days=day)).isoformat(), "targets": values,
                           "non_targets": statuses, "new_lesions": new})
    return {"subject": "P1", "reference_date": START.isoformat(),
            "baseline": {"date": START.isoformat(), "targets": targets, "non_targets": non_targets},
            "timepoints": timepoints}


def results(data: dict[str, Any]) -> dict[str, Any]:
    subject = parse_subject(copy.deepcopy(data))
    return subject_json(evaluate(subject, CRITERIA))


def _strip_lesion_ids(out: dict[str, Any]) -> dict[str, Any]:
    # The result mentions lesion ids only in explanations (not emitted without --explain);
    # compare everything else.
    return out["results"]


def _rename(data: dict[str, Any], order: list[int], prefix: str) -> dict[str, Any]:
    """Reorder baseline targets by ``order`` and rename every lesion id consistently."""
    renamed = copy.deepcopy(data)
    base = renamed["baseline"]
    mapping = {t["id"]: f"{prefix}{i}" for i, t in enumerate(reversed(base["targets"]))}
    mapping.update({n["id"]: f"{prefix}N{i}" for i, n in enumerate(reversed(base["non_targets"]))})
    base["targets"] = [dict(base["targets"][i], id=mapping[base["targets"][i]["id"]]) for i in order]
    base["non_targets"] = [dict(n, id=mapping[n["id"]]) for n in reversed(base["non_targets"])]
    for tp in renamed["timepoints"]:
        if "targets" in tp:
            tp["targets"] = {mapping[k]: v for k, v in reversed(list(tp["targets"].items()))}
            tp["non_targets"] = {mapping[k]: v for k, v in reversed(list(tp["non_targets"].items()))}
            tp["new_lesions"] = [dict(n, id=f"{prefix}new{n['id']}") for n in tp["new_lesions"]]
    return renamed


@PROPERTY_SETTINGS
@given(histories(), st.randoms(use_true_random=False))
def test_lesion_order_and_ids_never_change_results(data: dict[str, Any], rnd: Any) -> None:
    order = list(range(len(data["baseline"]["targets"])))
    rnd.shuffle(order)
    assert _strip_lesion_ids(results(_rename(data, order, "L"))) == _strip_lesion_ids(results(data))


def _pfs(subject: Subject, criterion: str) -> tuple[bool, dt.date]:
    pfs = evaluate(subject, (criterion,)).results[criterion].pfs
    return pfs.event, pfs.date


def _assert_not_earlier(before: tuple[bool, dt.date], after: tuple[bool, dt.date]) -> None:
    event_before, date_before = before
    event_after, date_after = after
    if event_after:
        assert event_before, "an NE assessment created a PFS event"
        assert date_after >= date_before, "an NE assessment moved the PFS event earlier"


@PROPERTY_SETTINGS
@given(histories(), st.integers(0, 6), st.integers(1, 20))
def test_adding_a_scan_not_done_never_moves_pfs_earlier(
    data: dict[str, Any], where: int, offset: int
) -> None:
    subject = parse_subject(copy.deepcopy(data))
    dates = [START] + [dt.date.fromisoformat(tp["date"]) for tp in data["timepoints"]]
    where = min(where, len(dates) - 1)
    new_date = dates[where] + dt.timedelta(days=offset)
    if where + 1 < len(dates) and new_date >= dates[where + 1]:
        return  # no room between these two assessments
    extended = copy.deepcopy(data)
    extended["timepoints"].insert(where, {"date": new_date.isoformat(), "scan": "not_done"})
    with_ne = parse_subject(extended)
    for criterion in CRITERIA:
        _assert_not_earlier(_pfs(subject, criterion), _pfs(with_ne, criterion))


RECIST_CODES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")
IRECIST_CODES = ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "NE")


@PROPERTY_SETTINGS
@given(st.sampled_from(["recist", "irecist"]), st.data())
def test_adding_a_response_level_ne_never_moves_pfs_earlier(vocab: str, data: st.DataObject) -> None:
    codes = RECIST_CODES if vocab == "recist" else IRECIST_CODES
    sequence = data.draw(st.lists(st.sampled_from(codes), min_size=0, max_size=7))
    where = data.draw(st.integers(0, len(sequence)))
    timepoints = [{"date": (START + dt.timedelta(days=42 * (k + 1))).isoformat(), "overall": code}
                  for k, code in enumerate(sequence)]
    ne_date = START + dt.timedelta(days=42 * where + 21)
    extended = [*timepoints[:where], {"date": ne_date.isoformat(), "overall": "NE"}, *timepoints[where:]]
    base = {"subject": "R", "reference_date": START.isoformat()}
    criteria = ("recist1.1", "imrecist") if vocab == "recist" else ("irecist",)
    for criterion in criteria:
        before = _pfs(parse_subject({**base, "timepoints": timepoints}), criterion)
        after = _pfs(parse_subject({**base, "timepoints": extended}), criterion)
        _assert_not_earlier(before, after)


@PROPERTY_SETTINGS
@given(histories(), st.booleans())
def test_recist_pr_needs_a_30_percent_decrease(data: dict[str, Any], literal: bool) -> None:
    if literal:
        data = {**data, "settings": {"pr_continues_until_pd": False}}
    subject = parse_subject(copy.deepcopy(data))
    assert subject.baseline is not None
    baseline_sum = sum((t.mm for t in subject.baseline.targets), Decimal(0))
    timepoints = evaluate(subject, (RECIST11,)).results[RECIST11].timepoints
    first = True
    for tp in timepoints:
        if tp.target != "PR":
            continue
        if literal or first:
            assert tp.sum_mm is not None
            assert at_least_pct_below(tp.sum_mm, baseline_sum, Decimal(30)), (tp.sum_mm, baseline_sum)
        first = False


JUNK = [None, True, False, 0, -1, Decimal("1e400"), Decimal("-0"), "", "x", "TSTM", "2024-02-30",
        "2024-01-01", [], {}, [1], {"a": 1}, "present", "PD", "iUPD", 3.5, 10**30, {"fragments_mm": []},
        {"coalesced_into": "T1"}, {"coalesced_with": "T1", "mm": 3}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


@PROPERTY_SETTINGS
@given(histories(), st.data())
def test_corrupted_input_is_rejected_cleanly_or_evaluated(data: dict[str, Any], draw: st.DataObject) -> None:
    """Any corruption of a valid subject is either an InputError (exit 2 with subject and field)
    or still evaluates: never another exception (a traceback, exit 1)."""
    from criteria.errors import InputError

    corrupted = copy.deepcopy(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        path = draw.draw(st.sampled_from(_paths(corrupted)[1:]))
        parent = corrupted
        for key in path[:-1]:
            parent = parent[key]
        # a copy: JUNK holds mutable values, and a later corruption may write into one
        # (shared between examples it could end up containing itself)
        parent[path[-1]] = copy.deepcopy(draw.draw(st.sampled_from(JUNK)))
    try:
        subject = parse_subject(corrupted)
    except InputError as err:
        subject_id = corrupted.get("subject")
        expected = subject_id if isinstance(subject_id, str) and subject_id.strip() else "?"
        assert err.subject == expected and err.field
        return
    subject_json(evaluate(subject, CRITERIA), explain=True)
