"""The bad-input corpus over every web form (issue 13, item 1): each POST route of the web
URL conf (a route missing from the table below must answer POST with 405) gets, field by
field, out-of-range, Unicode-digit ("²", "٣", "３"), NaN/Infinity, huge-exponent, oversized
and control-character values from a submission that is accepted as it stands (the control,
rolled back). Each must come back as the form with an error on that field (or, for the
assign button, a message naming it), and the database must not change: the row count of
every table, the timepoint-read versions and every audit chain head."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, get_resolver

from tests.conftest import TrialWithReads, make_subject_with_reads, save_baseline, save_followup
from tests.factories import PASSWORD
from tests.trialreads.api.test_bad_input_corpus import fingerprint
from tests.trialreads.criteria_trials import criteria_subject, criteria_trial, prebaseline_timepoint
from trialreads.choices import Modality
from trialreads.models import AdjudicationCase
from trialreads.services import endpoints as endpoint_services

pytestmark = pytest.mark.django_db

NUMBERS = [
    "٣",
    "３",
    "²",
    "-1",
    "1e10",
    "1e400",
    "NaN",
    "Infinity",
    "1000.1",
    "12.34",
    "5 mm",
    "0x20",
    "9" * 40,
]
#: PET values (SUL, TLG, minutes): a value valid for the field is left out (12.34 is a SUL).
SUL_NUMBERS = [n for n in NUMBERS if n != "12.34"] + ["1.23456", "100.5"]
TLG_NUMBERS = [n for n in NUMBERS if n not in ("12.34", "1000.1")] + ["1.2345", "1000001"]
UPTAKE_NUMBERS = [n for n in NUMBERS if n not in ("12.34", "1000.1")] + ["60.25", "1441"]
CODES = ["T\x00", "Té", "x" * 300, " ", "<T1>", "T 1"]
TEXT = ["x" * 70, "liv\x00er", " "]
NAMES = ["", "   ", "Ada\x00Reader", "Ada\nReader", "Ada\u202eredaeR", "x" * 201]
DATES = [
    "٢٠٢٥-٠٥-١٠",
    "２０２５-０５-１０",
    "2025-02-30",
    "0001-01-01",
    "9999-12-31",
    "2100-01-01",
    "yesterday",
]
DATES += ["x" * 5000, "2025-05-10T00:00"]
IDS = ["x", "٣", "３", "99999999999999999999999", "-1", "0", "", "1e3"]


@dataclass
class Form:
    role: str
    url: str
    valid: dict[str, str]
    bad: dict[str, list[str]]  # posted field -> bad values
    errors_in: str  # the context key of the form whose errors name the field ("" = messages)
    error_field: dict[str, str] | None = None  # posted field -> the form's error key, if different


class _Undo(Exception):
    pass


@pytest.fixture
def web_world(disagreement: AdjudicationCase, trial_with_reads: TrialWithReads, manager: Any, reader_a: Any,
              reader_b: Any, adjudicator: Any) -> dict[str, Any]:  # fmt: skip
    tw = trial_with_reads
    fresh = make_subject_with_reads(tw.trial, manager, (reader_a, reader_b), code="S-BAD", followups=0)
    week12 = tw.tr(tw.read_a, 2)
    save_followup(week12, reader_a)
    week12.refresh_from_db()
    endpoint_services.endpoints_compute(trial_id=tw.trial.pk, task_id="fixture")
    # A pre-baseline scan (its baseline saved) and a PET/CT baseline of a charter naming PERCIST.
    pre_trial = criteria_trial(manager, (reader_a, reader_b), ["recist1.1"], "PRE-WEB", analyses=["tgr"])
    pre = make_subject_with_reads(pre_trial, manager, (reader_a, reader_b), code="S-PRE", followups=0)
    save_baseline(pre.tr(pre.read_a, 0), reader_a)
    prebaseline_timepoint(pre, manager)
    pet_trial = criteria_trial(manager, (reader_a, reader_b), ["recist1.1", "percist"], "PET-WEB")
    pet = criteria_subject(pet_trial, manager, (reader_a, reader_b), followups=0, modality=Modality.PET_CT)
    return {
        "tw": tw,
        "case": disagreement,
        "fresh": fresh.tr(fresh.read_a, 0),
        "week12": week12,
        "prebaseline": pre.tr(pre.read_a, 1),
        "pet": pet.tr(pet.read_a, 0),
    }


def forms_of(w: dict[str, Any], adjudicator: Any) -> dict[str, Form]:
    """url name -> the form posted to it, with an accepted submission."""
    tw, case, fresh, week12 = w["tw"], w["case"], w["fresh"], w["week12"]
    baseline = {
        "version": str(fresh.version),
        "targets-0-code": "T1", "targets-0-organ": "liver", "targets-0-value_mm": "50.0",
        "targets-1-code": "T2", "targets-1-organ": "lung", "targets-1-value_mm": "30",
        "non_targets-0-code": "NT1", "non_targets-0-organ": "bone",
    }  # fmt: skip
    followup = {
        "version": str(week12.version),
        "targets-0-state": "MEASURED", "targets-0-value_mm": "40.0",
        "targets-1-state": "MEASURED", "targets-1-value_mm": "25.0",
        "targets-2-state": "MEASURED", "targets-2-value_mm": "12.0",
        "non_targets-NT1": "present",
        "new_lesions-0-code": "N1", "new_lesions-0-organ": "liver", "new_lesions-0-value_mm": "10",
        "new_lesions-0-measurable": "on",
    }  # fmt: skip
    prebaseline, pet = w["prebaseline"], w["pet"]
    prebaseline_values = {
        "version": str(prebaseline.version),
        "targets-0-state": "MEASURED", "targets-0-value_mm": "40",
        "targets-1-state": "MEASURED", "targets-1-value_mm": "25",
        "targets-2-state": "MEASURED", "targets-2-value_mm": "18",
    }  # fmt: skip
    pet_scan = {
        "version": str(pet.version), "save": "pet",
        "pet-reference_site": "liver", "pet-reference_mean": "2.0", "pet-reference_sd": "0.3",
        "pet-uptake_min": "60",
        "pet-lesions-0-code": "P1", "pet-lesions-0-organ": "lung", "pet-lesions-0-sul_peak": "8",
        "pet-lesions-0-sul_max": "9.5", "pet-lesions-0-tlg": "120.5", "pet-lesions-0-value_mm": "15",
    }  # fmt: skip
    decide = {"chosen": "A", "rationale": "Real.", "printed_name": "Alex Judge", "password": PASSWORD}
    return {
        "timepoint-read": Form(
            "reader_a",
            f"/timepoint-reads/{fresh.pk}/",
            baseline,
            {
                "targets-0-value_mm": NUMBERS,
                "targets-0-code": CODES,
                "targets-0-organ": TEXT,
                "non_targets-0-code": CODES,
                "non_targets-0-organ": TEXT,
            },
            "form",
        ),
        "timepoint-read followup": Form(
            "reader_a",
            f"/timepoint-reads/{week12.pk}/",
            followup,
            {
                "targets-0-value_mm": NUMBERS,
                "targets-0-state": ["GONE", "measured", "٣"],
                "non_targets-NT1": ["x", ""],
                "new_lesions-0-value_mm": NUMBERS,
                "new_lesions-0-code": CODES,
                "new_lesions-0-organ": TEXT,
            },
            "form",
        ),
        "timepoint-read prebaseline": Form(
            "reader_a",
            f"/timepoint-reads/{prebaseline.pk}/",
            prebaseline_values,
            {
                "targets-0-value_mm": NUMBERS,
                "targets-0-state": ["GONE", "TOO_SMALL", "measured", "٣"],
                "sum_mm": NUMBERS,
            },
            "form",
        ),
        "timepoint-read pet": Form(
            "reader_a",
            f"/timepoint-reads/{pet.pk}/",
            pet_scan,
            {
                "pet-reference_site": ["", "x", "LIVER", "٣", "liver\x00"],
                "pet-reference_mean": [*SUL_NUMBERS, "0"],
                "pet-reference_sd": SUL_NUMBERS,
                "pet-uptake_min": UPTAKE_NUMBERS,
                "pet-lesions-0-code": CODES,
                "pet-lesions-0-organ": TEXT,
                "pet-lesions-0-sul_peak": [*SUL_NUMBERS, ""],
                "pet-lesions-0-sul_max": [*SUL_NUMBERS, "5"],
                "pet-lesions-0-tlg": TLG_NUMBERS,
                "pet-lesions-0-value_mm": NUMBERS,
            },
            "pet_form",
        ),
        "timepoint-read-sign": Form(
            "reader_a",
            f"/timepoint-reads/{week12.pk}/sign/",
            {"printed_name": "Ada Reader", "password": PASSWORD},
            {"printed_name": NAMES, "password": [""]},
            "sign_form",
        ),
        "timepoint-read-unlock": Form(
            "manager",
            f"/timepoint-reads/{tw.tr(tw.read_b, 1).pk}/unlock/",
            {"reason": "QC query"},
            {"reason": ["", " ", "x" * 2001, "a\x00b"]},
            "unlock_form",
        ),
        "adjudication": Form(
            "adjudicator",
            f"/adjudication/{case.pk}/",
            decide,
            {
                "chosen": ["C", "", "a", "٣"],
                "rationale": ["", "x" * 5001, "a\x00b"],
                "printed_name": NAMES,
                "password": [""],
            },
            "form",
        ),
        "adjudication-assign": Form(
            "manager",
            f"/adjudication/{case.pk}/assign/",
            {"adjudicator": str(adjudicator.pk)},
            {"adjudicator": IDS},
            "",
        ),
        "export-start": Form(
            "manager",
            f"/trials/{tw.trial.pk}/exports/",
            {"data_cutoff": "2025-06-01"},
            {"data_cutoff": DATES},
            "export_form",
        ),
        "login": Form(
            "anonymous",
            "/login/",
            {"username": "reader_a", "password": PASSWORD},
            {"username": ["", "x" * 151], "password": [""]},
            "form",
        ),
    }


#: POST routes without input fields: only their path id is bad input.
NO_FIELDS = {"endpoints-compute": "/trials/{id}/endpoints/", "logout": "/logout/"}


def _unlisted_post_routes(client: Client, listed: set[str]) -> set[str]:
    """Names of the web routes outside ``listed`` that accept POST (all must answer 405).
    Only unlisted routes are probed: an empty POST to a listed one could be a valid write."""
    names = set()
    for p in get_resolver().url_patterns:
        for q in getattr(p, "url_patterns", []):
            if isinstance(q, URLPattern) and getattr(p, "app_name", "") == "trialreads-web":
                if q.name in listed:
                    continue
                route = re.sub(r"<\w+:\w+>", "1", "/" + str(q.pattern))
                if client.post(route).status_code != 405:
                    names.add(q.name)
    return names


def _named(response: Any, form: Form, posted: str) -> bool:
    key = (form.error_field or {}).get(posted, posted)
    if not form.errors_in:
        return any(f"{key}:" in str(m) for m in get_messages(response.wsgi_request))
    context = response.context
    if context is None or form.errors_in not in context:
        return False
    errors = context[form.errors_in].errors
    return bool(errors.get(key))


def test_every_web_form_refuses_the_bad_input_corpus(
    web_world: dict[str, Any], web: dict[str, Client], adjudicator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    table = forms_of(web_world, adjudicator)
    listed = {name.split(" ")[0] for name in table} | set(NO_FIELDS)
    assert _unlisted_post_routes(web["manager"], listed) == set()
    tally: Counter[str] = Counter()
    failures: list[str] = []
    for name, form in table.items():
        client = web[form.role]
        try:
            with transaction.atomic():
                control = client.post(form.url, form.valid)
                assert control.status_code == 302, (name, control.status_code)
                if not form.errors_in:
                    assert not any(m.level_tag == "error" for m in get_messages(control.wsgi_request)), name
                raise _Undo
        except _Undo:
            pass
        before = fingerprint()
        for posted, values in form.bad.items():
            for value in values:
                tally["tried"] += 1
                response = client.post(form.url, {**form.valid, posted: value})
                label = f"{name} {posted}={value!r:.30}"
                if response.status_code >= 500:
                    tally["500s"] += 1
                if _named(response, form, posted) and response.status_code in (200, 302, 422):
                    tally["form error naming the field"] += 1
                else:
                    failures.append(f"{label}: {response.status_code}, field not named")
                after = fingerprint()
                if after != before:
                    tally["half-writes"] += 1
                    failures.append(f"{label}: the database changed")
                before = after
    for name, template in NO_FIELDS.items():
        if "{id}" not in template:
            continue
        before = fingerprint(denial_allowed=True)
        for bad_id in ("0", str(2**63), str(10**30)):
            tally["tried"] += 1
            response = web["manager"].post(template.replace("{id}", bad_id))
            if response.status_code == 404:
                tally["path id 404"] += 1
            else:
                failures.append(f"{name} id={bad_id}: {response.status_code}")
            after = fingerprint(denial_allowed=True)
            if after != before:
                tally["half-writes"] += 1
                failures.append(f"{name} id={bad_id}: the database changed")
            before = after
    with capsys.disabled():
        print(f"\nbad-input corpus (web forms): {dict(tally)} over {len(table)} forms")
    assert not failures, "\n".join(failures[:40])
    assert tally["500s"] == tally["half-writes"] == 0
    assert tally["form error naming the field"] + tally["path id 404"] == tally["tried"] > 100
