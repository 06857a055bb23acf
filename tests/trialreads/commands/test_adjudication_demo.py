"""The demo trial has discordant subjects, their adjudications (decided, open, superseded)
and the metrics computed from them."""

from __future__ import annotations

import io

import pytest

from trialreads.choices import AcceptanceBasis, AdjudicationStatus
from trialreads.demo_adjudication import SCENARIOS, populate
from trialreads.models import AcceptedRead, AdjudicationCase

pytestmark = pytest.mark.django_db


def test_demo_adjudication() -> None:
    out = io.StringIO()
    m = populate(stdout=out)
    statuses = sorted(
        (c.subject.subject_code, c.cycle, c.status)
        for c in AdjudicationCase.objects.select_related("subject")
    )
    assert statuses == [
        ("D-104", 1, AdjudicationStatus.DECIDED),
        ("D-105", 1, AdjudicationStatus.VOIDED),   # week 6: PD on one read only; superseded at week 12
        ("D-105", 2, AdjudicationStatus.DECIDED),
        ("D-106", 1, AdjudicationStatus.DECIDED),
        ("D-107", 1, AdjudicationStatus.OPEN),
        ("D-108", 1, AdjudicationStatus.DECIDED),  # opened by the unlock-and-change
    ]
    bases = dict(AcceptedRead.objects.values_list("subject__subject_code", "basis"))
    assert bases == {
        "D-101": AcceptanceBasis.RULE, "D-102": AcceptanceBasis.RULE, "D-103": AcceptanceBasis.RULE,
        "D-104": AcceptanceBasis.ADJUDICATION, "D-105": AcceptanceBasis.ADJUDICATION,
        "D-106": AcceptanceBasis.ADJUDICATION, "D-107": AcceptanceBasis.PENDING,
        "D-108": AcceptanceBasis.ADJUDICATION, "D-109": AcceptanceBasis.RULE,
    }
    assert m["compared_subjects"] == len(SCENARIOS)
    assert m["adjudication_rate"]["numerator"] == 5
    r1, r2 = m["readers"]
    # Decided for slot 1: D-104, D-105; for slot 2: D-106, D-108.
    assert r1["adjudicator_agreement_rate"]["numerator"] == 2 == r2["adjudicator_agreement_rate"]["numerator"]
    assert r1["reader_disagreement_index"] == {"numerator": 2, "denominator": 9, "value": 2 / 9}
    assert m["kappa_bor"]["kappa"] is not None
    assert m["site_vs_central"] is not None
    assert "adjudication rate 5/9" in out.getvalue()
    # Running it again adds nothing.
    populate()
    assert AdjudicationCase.objects.count() == len(statuses)
