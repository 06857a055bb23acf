"""``trialreads.confirmation_rules``: which result opens a confirmation window and what decides
it, per criterion, on the engine's own codes (table-driven; the iRECIST path end to end is in
tests/trialreads/services/test_confirmation_windows.py, and the codes below come from running
the engines, see the last test)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from decimal import Decimal

import pytest

from criteria.evaluate import evaluate
from criteria.types import (
    Baseline,
    BaselineTarget,
    Settings,
    Subject,
    TargetKind,
    TargetMeasurement,
    Timepoint,
    TimepointResult,
)
from trialreads import confirmation_rules as rules

DAY0 = dt.date(2025, 1, 1)


def results(*codes: str | tuple[str, str]) -> tuple[TimepointResult, ...]:
    """One result per code, six weeks apart; ``(code, pd_status)`` for irRC / irRECIST."""
    out = []
    for i, code in enumerate(codes):
        overall, status = code if isinstance(code, tuple) else (code, None)
        extra = {"pd_status": status} if status else {}
        out.append(TimepointResult(DAY0 + dt.timedelta(weeks=6 * (i + 1)), "", "", "", overall, extra=extra))
    return tuple(out)


@pytest.mark.parametrize(
    ("criterion", "codes", "index", "fate"),
    [
        ("irecist", ("iSD", "iUPD"), 1, rules.UNCONFIRMED),
        ("irecist", ("iUPD", "NE", "iUPD"), 0, rules.UNCONFIRMED),  # NE and a further iUPD decide nothing
        ("irecist", ("iUPD", "NE", "iCPD"), 0, rules.CONFIRMED),
        ("irecist", ("iUPD", "iSD"), 0, rules.RESET),
        ("irecist", ("iUPD", "iPR"), 0, rules.RESET),
        ("irecist", ("iUPD", "NON-iCR/NON-iUPD"), 0, rules.RESET),
        ("irecist", ("iSD", "iUPD"), 0, None),
        ("irecist", ("iCPD",), 0, None),
        ("itrecist", ("iUPD", "iCPD"), 0, rules.CONFIRMED),
        ("ipercist", ("UPMD",), 0, rules.UNCONFIRMED),
        ("ipercist", ("UPMD", "UPMD", "CPMD"), 0, rules.CONFIRMED),  # an early PMD keeps UPMD
        ("ipercist", ("UPMD", "SMD"), 0, rules.RESET),
        ("ipercist", ("UPMD", "NE"), 0, rules.UNCONFIRMED),
        ("irrc", (("irPD", "unconfirmed"),), 0, rules.UNCONFIRMED),
        ("irrc", (("irPD", "confirmed"), ("irPD", "confirmed")), 0, rules.CONFIRMED),
        ("irrecist", (("irPD", "not_confirmed"), "irSD"), 0, rules.RESET),
        ("irrecist", ("irSD",), 0, None),
        ("recist1.1", ("PD",), 0, None),  # final: no confirmation workflow
        ("imrecist", ("PD",), 0, None),  # negated by a later non-PD, never confirmed by a scan
        ("percist", ("PMD",), 0, None),
    ],
)
def test_fate(criterion: str, codes: tuple[str, ...], index: int, fate: str | None) -> None:
    assert rules.fate(criterion, results(*codes), index) == fate


def test_a_window_opens_only_on_the_latest_unconfirmed_result() -> None:
    assert rules.opens_window("irecist", results("iSD", "iUPD"))
    assert not rules.opens_window("irecist", results("iUPD", "iCPD"))
    assert rules.opens_window("irrc", results(("irPD", "unconfirmed")))
    assert not rules.opens_window("irrc", results(("irPD", "confirmed"), ("irPD", "confirmed")))
    assert not rules.opens_window("irecist", ())
    assert rules.criteria_with_confirmation(["recist1.1", "irecist", "imrecist", "irrc", "ipercist"]) == (
        "irecist",
        "irrc",
        "ipercist",
    )


def test_window_dates_and_status() -> None:
    start, end = rules.window_dates(dt.date(2025, 2, 17), 28, 56)
    assert (start, end) == (dt.date(2025, 3, 17), dt.date(2025, 4, 14))
    assert rules.window_status("", end, end) == "DUE"
    assert rules.window_status("", end, end + dt.timedelta(days=1)) == "OVERDUE"
    assert rules.window_status("CONFIRMED", end, end + dt.timedelta(days=99)) == "CONFIRMED"


def test_the_webhook_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"event":"OPENED"}'
    signature = rules.webhook_signature("k", body)
    # RFC 2104 HMAC-SHA256("k", body), computed here independently of the module.
    assert signature == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert rules.webhook_signature_valid("k", body, signature)
    assert not rules.webhook_signature_valid("k", body + b" ", signature)


def _mm(value: str) -> TargetMeasurement:
    return TargetMeasurement(kind=TargetKind.MEASURED, mm=Decimal(value))


def test_the_codes_are_the_engines() -> None:
    """irRC/irRECIST really report irPD with ``pd_status``, iRECIST iUPD then iCPD: the rule
    table reads the engine's own output, so a renamed code would fail here."""
    baseline = Baseline(DAY0, (BaselineTarget("T1", "liver", False, Decimal("50")),), ())
    growth = ("70", "80")  # +40 % at the first follow-up, more at the second (>= 4 weeks later)
    subject = Subject(
        subject="S",
        reference_date=DAY0,
        baseline=baseline,
        timepoints=tuple(
            Timepoint(date=DAY0 + dt.timedelta(weeks=6 * (i + 1)), targets={"T1": _mm(v)})
            for i, v in enumerate(growth)
        ),
        settings=Settings(),
    )
    out = evaluate(subject, ["irecist", "irrecist"]).results
    irecist = out["irecist"].timepoints
    assert [r.overall for r in irecist] == ["iUPD", "iCPD"]
    assert rules.fate("irecist", irecist[:1], 0) == rules.UNCONFIRMED
    assert rules.fate("irecist", irecist, 0) == rules.CONFIRMED
    first_only = evaluate(Subject("S", DAY0, subject.timepoints[:1], baseline), ["irrecist"]).results
    assert rules.fate("irrecist", first_only["irrecist"].timepoints, 0) == rules.UNCONFIRMED
    assert rules.fate("irrecist", out["irrecist"].timepoints, 0) == rules.CONFIRMED
