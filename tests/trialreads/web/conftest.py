"""Web fixtures: logged-in clients per persona and a subject whose two reads disagree."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from tests.conftest import (
    TrialWithReads,
    built_once_per_module,
    followup_values,
    personas,
    save_baseline,
    save_followup,
    sign,
)
from trialreads.models import AdjudicationCase

PR = ("30.0", "20.0", "10.0")  # sum 60 vs baseline 100: -40 %
PD = ("70.0", "35.0", "20.0")  # sum 125: +25 %, +25 mm


def client_for(user: Any | None) -> Client:
    client = Client(enforce_csrf_checks=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def web(
    reader_a: Any, reader_b: Any, adjudicator: Any, manager: Any, sponsor: Any, outsider: Any
) -> dict[str, Client]:
    """Session clients by persona name."""
    return {
        "reader_a": client_for(reader_a),
        "reader_b": client_for(reader_b),
        "adjudicator": client_for(adjudicator),
        "manager": client_for(manager),
        "sponsor": client_for(sponsor),
        "outsider": client_for(outsider),
        "anonymous": client_for(None),
    }


def read_to_week6(tw: TrialWithReads, read: Any, actor: Any, values: tuple[str, str, str]) -> None:
    """Save and sign baseline and week 6 of ``read`` through the services."""
    save_baseline(tw.tr(read, 0), actor)
    sign(tw.tr(read, 0), actor)
    save_followup(tw.tr(read, 1), actor, targets=followup_values(*values))
    sign(tw.tr(read, 1), actor)


def build_disagreement(tw: TrialWithReads, reader_a: Any, reader_b: Any) -> AdjudicationCase:
    read_to_week6(tw, tw.read_a, reader_a, PR)
    read_to_week6(tw, tw.read_b, reader_b, PD)
    return AdjudicationCase.objects.get(subject=tw.subject, status="OPEN")


@pytest.fixture(scope="module")
def _module_disagreement(
    request: pytest.FixtureRequest, _module_trial_with_reads: TrialWithReads | None
) -> AdjudicationCase | None:
    if _module_trial_with_reads is None:
        return None

    def build() -> AdjudicationCase:
        users = personas()
        return build_disagreement(
            copy.deepcopy(_module_trial_with_reads), users["reader_a"], users["reader_b"]
        )

    return built_once_per_module(request, "disagreement", build)


@pytest.fixture
def disagreement(
    _module_disagreement: AdjudicationCase | None,
    trial_with_reads: TrialWithReads,
    reader_a: Any,
    reader_b: Any,
) -> AdjudicationCase:
    """Reader A sees PR at week 6, reader B sees PD: the case is open and auto-assigned."""
    if _module_disagreement is not None:
        return copy.deepcopy(_module_disagreement)
    return build_disagreement(trial_with_reads, reader_a, reader_b)


class _Inputs(HTMLParser):
    """Collects form controls and the ``for`` targets of labels."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append(a)


def unlabelled_controls(html: str) -> list[str]:
    """Every visible input, select and textarea must have a <label for=its id>."""
    parser = _Inputs()
    parser.feed(html)
    return [
        str(c.get("name")) for c in parser.controls if not c.get("id") or c.get("id") not in parser.label_for
    ]


def duplicate_ids(html: str) -> list[str]:
    parser = _Inputs()
    parser.feed(html)
    seen: set[str] = set()
    return [i for i in parser.ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]


#: The smallest valid baseline the page accepts (one target, no non-target).
BASELINE_POST_MINIMAL = {"targets-0-code": "T1", "targets-0-organ": "liver", "targets-0-value_mm": "50"}
