"""The same bad input gives the same problems, at the same fields, through the three ways in:
the API (400, written paths), the web form (422, messages next to the inputs) and the live
preview (``/check/``, the out-of-band error slots). ``trialreads.validation`` is the one source;
the table gives, per case, the API path and the web input it must land on, written out by hand
so that a wrong mapping in either direction fails here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import TrialWithReads, save_baseline, sign
from trialreads.models import TimepointRead

pytestmark = pytest.mark.django_db

API = "/api"

#: (code, organ, diameter as typed, is a node): the valid baseline every case starts from.
BASELINE = [
    ("T1", "liver", "50.0", False),
    ("T2", "left lung", "30.0", False),
    ("T3", "mediastinal lymph node", "20.0", True),
]
NON_TARGETS = [("NT1", "bone")]


@dataclass(frozen=True)
class Case:
    name: str
    form: str  # "baseline" or "followup"
    api_path: str
    web_field: str
    message: str  # a part of the message, which must be the same in all three
    targets: list[tuple[str, str, str, bool]] = field(default_factory=lambda: list(BASELINE))
    non_targets: list[tuple[str, str]] = field(default_factory=lambda: list(NON_TARGETS))
    values: tuple[str, str, str] = ("40.0", "25.0", "12.0")  # follow-up T1..T3
    new_lesions: list[tuple[str, str, str]] = field(default_factory=list)  # code, organ, mm


def _with(rows: list[Any], index: int, **changes: Any) -> list[Any]:
    names = ("code", "organ", "mm", "node")
    out = list(rows)
    row = dict(zip(names, out[index], strict=False))
    row.update(changes)
    out[index] = tuple(row[n] for n in names[: len(out[index])])
    return out


CASES = [
    Case("two decimals", "baseline", "targets[0].value_mm", "targets-0-value_mm", "at most one decimal place",
         targets=_with(BASELINE, 0, mm="50.25")),
    Case("implausible", "baseline", "targets[1].value_mm", "targets-1-value_mm", "implausible diameter",
         targets=_with(BASELINE, 1, mm="1500")),
    Case("not measurable (R11-MEAS)", "baseline", "targets[1].value_mm", "targets-1-value_mm",
         "is not measurable (needs >= 10 mm, R11-MEAS)", targets=_with(BASELINE, 1, mm="8")),
    Case("node short axis (R11-NODE)", "baseline", "targets[2].value_mm", "targets-2-value_mm",
         "short axis 12.0 mm is not measurable", targets=_with(BASELINE, 2, mm="12.0")),
    Case("three in one organ (R11-TGT-SEL)", "baseline", "targets", "targets", "at most 2 per organ",
         targets=_with(_with(BASELINE, 1, organ="liver"), 2, organ="liver", node=False)),
    Case("code characters", "baseline", "targets[0].code", "targets-0-code", "ASCII letters, digits",
         targets=_with(BASELINE, 0, code="T 1")),
    Case("organ characters", "baseline", "targets[1].organ", "targets-1-organ", "printable ASCII",
         targets=_with(BASELINE, 1, organ="poumon gauche é")),
    Case("duplicate code", "baseline", "non_targets[0].code", "non_targets-0-code",
         "duplicate lesion code T2", non_targets=[("T2", "bone")]),
    Case("follow-up two decimals", "followup", "targets[0].value_mm", "targets-0-value_mm",
         "at most one decimal place", values=("40.25", "25.0", "12.0")),
    Case("follow-up implausible", "followup", "targets[2].value_mm", "targets-2-value_mm",
         "implausible diameter", values=("40.0", "25.0", "1001")),
    Case("new lesion with a baseline code", "followup", "new_lesions[0].code", "new_lesions-0-code",
         "duplicate lesion code T1", new_lesions=[("T1", "liver", "12.0")]),
    Case("new lesion two decimals", "followup", "new_lesions[0].value_mm", "new_lesions-0-value_mm",
         "at most one decimal place", new_lesions=[("N1", "liver", "12.34")]),
    Case("new lesion organ", "followup", "new_lesions[0].organ", "new_lesions-0-organ", "printable ASCII",
         new_lesions=[("N1", "fígado", "12.0")]),
]


def _api_body(case: Case) -> str:
    """The JSON text, with the diameters written exactly as typed."""
    if case.form == "baseline":
        targets = [
            f'{{"code": {json.dumps(c)}, "organ": {json.dumps(o)}, "value_mm": {mm}, '
            f'"is_node": {json.dumps(n)}}}'
            for c, o, mm, n in case.targets
        ]
        non_targets = [json.dumps({"code": c, "organ": o}) for c, o in case.non_targets]
        return f'{{"targets": [{", ".join(targets)}], "non_targets": [{", ".join(non_targets)}]}}'
    codes = ("T1", "T2", "T3")
    targets = [f'{{"code": "{c}", "value_mm": {mm}}}' for c, mm in zip(codes, case.values, strict=True)]
    new = [
        f'{{"code": {json.dumps(c)}, "organ": {json.dumps(o)}, "value_mm": {mm}}}'
        for c, o, mm in case.new_lesions
    ]
    return (
        f'{{"targets": [{", ".join(targets)}], "non_targets": [{{"code": "NT1", "status": "present"}}], '
        f'"new_lesions": [{", ".join(new)}]}}'
    )


def _web_data(case: Case) -> dict[str, str]:
    data: dict[str, str] = {}
    if case.form == "baseline":
        for i, (c, o, mm, n) in enumerate(case.targets):
            data |= {f"targets-{i}-code": c, f"targets-{i}-organ": o, f"targets-{i}-value_mm": mm}
            if n:
                data[f"targets-{i}-is_node"] = "on"
        for j, (c, o) in enumerate(case.non_targets):
            data |= {f"non_targets-{j}-code": c, f"non_targets-{j}-organ": o}
        return data
    for i, mm in enumerate(case.values):
        data |= {f"targets-{i}-state": "MEASURED", f"targets-{i}-value_mm": mm}
    data["non_targets-NT1"] = "present"
    for k, (c, o, mm) in enumerate(case.new_lesions):
        data |= {
            f"new_lesions-{k}-code": c,
            f"new_lesions-{k}-organ": o,
            f"new_lesions-{k}-value_mm": mm,
            f"new_lesions-{k}-measurable": "on",
        }
    return data


def _timepoint_read(case: Case, tw: TrialWithReads, reader: Any) -> TimepointRead:
    if case.form == "baseline":
        return tw.tr(tw.read_a, 0)
    save_baseline(tw.tr(tw.read_a, 0), reader)
    sign(tw.tr(tw.read_a, 0), reader)
    return tw.tr(tw.read_a, 1)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api_form_and_preview_report_the_same_problem_at_the_same_field(
    case: Case, trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tr = _timepoint_read(case, trial_with_reads, reader_a)
    before = tr.version

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=reader_a)[1]}")
    tag = api.get(f"{API}/timepoint-reads/{tr.pk}/")["ETag"]
    response = api.put(
        f"{API}/timepoint-reads/{tr.pk}/{case.form}/",
        _api_body(case),
        content_type="application/json",
        HTTP_IF_MATCH=tag,
    )
    assert response.status_code == 400, response.content
    api_messages = response.json()["errors"].get(case.api_path)
    assert api_messages and any(case.message in m for m in api_messages), response.json()

    web = Client()
    web.force_login(reader_a)
    page = web.post(f"/timepoint-reads/{tr.pk}/", {**_web_data(case), "version": str(tr.version)})
    assert page.status_code == 422
    assert page.context["form"].errors.get(case.web_field) == api_messages

    live = web.get(f"/timepoint-reads/{tr.pk}/check/", _web_data(case))
    assert live.status_code == 200
    assert dict(live.context["form_errors"]).get(case.web_field) == api_messages
    assert live.context["preview"].problems  # the panel counts them too

    tr.refresh_from_db()
    assert tr.version == before  # nothing was saved by any of the three
