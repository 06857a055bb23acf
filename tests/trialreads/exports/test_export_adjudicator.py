"""Issue 18 item 2: the adjudicator's decisions as RS records (RSEVALID ADJUDICATOR).

The old export had no ADJUDICATOR record at all: only RSACPTFL on the chosen reader showed
the decision."""

from __future__ import annotations

from export_fixtures import study, subject

from trialreads.exports.datasets import Evaluator, build_adrs, build_rs, build_tr, build_tu
from trialreads.exports.validate import check_links

R2 = Evaluator.RADIOLOGIST_2


def test_adjudicated_subject_has_adjudicator_records_with_the_accepted_flag() -> None:
    s = study(subject(accepted=R2, adjudicated=True))
    rs = build_rs(s)
    adj = [r for r in rs.rows if r["RSEVALID"] == "ADJUDICATOR"]
    chosen = [r for r in rs.rows if r["RSEVALID"] == R2.value and r["RSTESTCD"] in ("OVRLRESP", "BESTRESP")]
    assert adj and len(adj) == len(chosen)
    for mine, theirs in zip(adj, chosen, strict=True):
        assert (mine["RSTESTCD"], mine["RSCAT"], mine["VISITNUM"], mine["RSSTRESC"], mine["RSDTC"]) == (
            theirs["RSTESTCD"], theirs["RSCAT"], theirs["VISITNUM"], theirs["RSSTRESC"], theirs["RSDTC"],
        )  # fmt: skip
        assert mine["RSLNKGRP"] == theirs["RSLNKGRP"]
        assert (mine["RSACPTFL"], theirs["RSACPTFL"]) == ("Y", None)
    # The other tests stay accepted on the chosen reader; the adjudicator's records come last.
    trgresp = [r for r in rs.rows if r["RSEVALID"] == R2.value and r["RSTESTCD"] == "TRGRESP"]
    assert trgresp and {r["RSACPTFL"] for r in trgresp} == {"Y"}
    assert [r["RSSEQ"] for r in rs.rows] == list(range(1, len(rs.rows) + 1))
    assert rs.rows[-len(adj):] == adj
    # Link groups and the one-accepted-record rule hold; ADRS names the adjudicator's records.
    assert check_links(build_tu(s), build_tr(s), rs) == []
    seq = {r["RSSEQ"]: r["RSEVALID"] for r in rs.rows}
    ovr = [r for r in build_adrs(s, rs).rows if r["PARAMCD"] == "OVR"]
    assert ovr and {seq[r["SRCSEQ"]] for r in ovr} == {"ADJUDICATOR"}


def test_concordant_subject_has_no_adjudicator_records() -> None:
    rs = build_rs(study(subject(accepted=R2)))
    assert not [r for r in rs.rows if r["RSEVALID"] == "ADJUDICATOR"]
    assert {r["RSACPTFL"] for r in rs.rows if r["RSEVALID"] == R2.value} == {"Y"}
