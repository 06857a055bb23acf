"""The generated bad-input corpus (issue 13, item 1) over every write endpoint of the API.

The write operations come from the committed OpenAPI schema (every POST/PUT/PATCH/DELETE;
the URL conf is checked to have no write handler outside it), the fields from each
operation's request schema, walked recursively into objects and list items. Every field is
sent out-of-range, wrong-type, wrong-Unicode-digit ("²", "٣", "３"), NaN/Infinity, huge
exponent, oversized and overlong values, one at a time, from a payload that is accepted as
it stands (the control, sent in a savepoint rolled back afterwards). Each bad request must be
answered 4xx, a 400 must name the field, and nothing may change: the row count of every
table, the sum of the timepoint-read versions and every audit chain head. The path id is
bounded too (0, 2^63, 10^30 and non-ASCII digits are a 404).

One shared world for every operation (a rejected request leaves it as it was), so the whole
corpus costs one fixture build. The figures are printed and checked at the end.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from django.apps import apps
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import make_subject_with_reads, save_baseline
from tests.factories import PASSWORD
from tests.trialreads.api.conftest import BASELINE_BODY, COMMITTED_SCHEMA, FOLLOWUP_BODY, etag_of
from tests.trialreads.criteria_trials import criteria_subject, criteria_trial, prebaseline_timepoint
from trialreads.choices import AuditEventType, Modality
from trialreads.models import AuditEvent, ChainHead, TimepointRead
from trialreads.models.audit import GLOBAL_CHAIN

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
RAW = "@@RAW@@"  # replaced by a raw JSON token (NaN, 1e400) after json.dumps


# --- the database fingerprint -----------------------------------------------------------------


def fingerprint(*, denial_allowed: bool = False) -> tuple[Any, ...]:
    """Row counts of every table (one query), the timepoint-read versions, the chain heads.

    With ``denial_allowed`` (a bad path id), the access gate's ACCESS_DENIED events on the
    global chain are left out: recording a denied lookup is the gate's rule, not a write."""
    tables = sorted({m._meta.db_table for m in apps.get_models(include_auto_created=True) if m._meta.managed})
    if denial_allowed:
        tables.remove(AuditEvent._meta.db_table)
        tables.remove(ChainHead._meta.db_table)  # the first denial creates the global chain's head
    sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {connection.ops.quote_name(t)}" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = tuple(sorted(cursor.fetchall()))
    versions = sum(TimepointRead.objects.values_list("version", flat=True))
    heads = ChainHead.objects.order_by("chain_id")
    if denial_allowed:
        heads = heads.exclude(chain_id=GLOBAL_CHAIN)
        others = AuditEvent.objects.exclude(chain_id=GLOBAL_CHAIN, event_type=AuditEventType.ACCESS_DENIED)
        rows += (("audit events other than denials", others.count()),)
    return rows, versions, tuple(heads.values_list("chain_id", "seq", "hash"))


# --- the corpus, generated from a field's schema ------------------------------------------------


@dataclass(frozen=True)
class Bad:
    kind: str
    value: Any = None
    raw: str | None = None  # a raw JSON token instead of ``value``


UNICODE_DIGITS = [Bad("unicode digit", "²"), Bad("unicode digit", "٣"), Bad("unicode digit", "３")]
NON_FINITE = [
    Bad("non-finite", raw="NaN"),
    Bad("non-finite", raw="Infinity"),
    Bad("non-finite", raw="-Infinity"),
]
EXPONENTS = [
    Bad("huge exponent", raw="1e10"),
    Bad("huge exponent", raw="1e400"),
    Bad("huge exponent", raw="-1e400"),
]
WRONG_TYPES = [Bad("wrong type", True), Bad("wrong type", [1]), Bad("wrong type", {"value": 1})]


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}})
    return node


def _enum_of(schema: dict[str, Any], node: dict[str, Any]) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    if "oneOf" in node:
        values: list[Any] = []
        for option in node["oneOf"]:
            values += _resolve(schema, option).get("enum", [])
        return values
    return None


def bad_values(schema: dict[str, Any], node: dict[str, Any], valid: Any) -> list[Bad]:
    """Every bad value for a field whose schema is ``node`` (``valid`` is its good value)."""
    node = _resolve(schema, node)
    nullable = node.get("nullable", False)
    out: list[Bad] = [] if nullable else [Bad("wrong type", None)]
    enum = _enum_of(schema, node)
    kind = node.get("type", "string" if enum is not None else "object")
    if enum is not None:
        out += [
            Bad("out of range", "MAYBE"),
            Bad("out of range", str(valid).lower() + "x"),
            Bad("wrong type", 1),
        ]
        out += [Bad("oversized", "A" * 5000), *UNICODE_DIGITS]
        if "" not in enum:
            out.append(Bad("out of range", ""))
        return out + [b for b in WRONG_TYPES if b.value is not True]
    if kind == "integer":
        low, high = node.get("minimum", 0), node.get("maximum", 2**63 - 1)
        out += [Bad("out of range", low - 1), Bad("out of range", high + 1), Bad("out of range", 10**30)]
        out += [Bad("wrong type", "3"), Bad("wrong type", 3.5), Bad("wrong type", raw="3.0"), *WRONG_TYPES]
        return out + UNICODE_DIGITS + NON_FINITE + EXPONENTS
    if kind == "number":
        out += [Bad("out of range", -1), Bad("out of range", 10**30), Bad("out of range", raw="1e-400")]
        out += [Bad("out of range", raw="0.123456789"), Bad("wrong type", "5"), Bad("wrong type", "5 mm")]
        return out + WRONG_TYPES + UNICODE_DIGITS + NON_FINITE + EXPONENTS
    if kind == "boolean":
        return out + [Bad("wrong type", v) for v in ("true", 1, 0, "yes", [])]
    if kind == "array":
        out += [Bad("wrong type", "x"), Bad("wrong type", 5), Bad("wrong type", {"0": valid})]
        limit = node.get("maxItems")
        items = _resolve(schema, node.get("items", {}))
        element = valid[0] if valid else {"number": 1, "string": "T1"}.get(items.get("type", ""))
        assert limit is not None, "every list input is bounded (maxItems in the schema)"
        if element is not None:
            # Past the limit; a limit that cannot be reached in 64 KB is met by the 413.
            out.append(Bad("overlong list", [element] * (limit + 1 if limit <= 1000 else 2000)))
        return out
    if kind == "object":
        return [*out, Bad("wrong type", "x"), Bad("wrong type", [valid]), Bad("wrong type", 5)]
    # strings
    if node.get("format") == "date":
        dates = ["2025-02-30", "2025-13-01", "0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"]
        dates += [
            "٢٠٢٥-٠٥-١٠",
            "２０２５-０５-１０",
            "2025-05-10T00:00:00",
            "2025-W19",
            "20250510",
            "2025-5-1",
        ]
        out += [Bad("out of range" if d[:1] in "0129" else "wrong format", d) for d in dates]
        return [*out, Bad("wrong type", 20250510), *WRONG_TYPES, *NON_FINITE]
    out += [Bad("wrong type", 5), Bad("wrong type", raw="1e400"), *WRONG_TYPES, *NON_FINITE[:1]]
    out.append(Bad("control character", "a\x00b"))
    if node.get("minLength", 0) >= 1 or ("minLength" not in node and node.get("default") != ""):
        out.append(Bad("out of range", ""))
    out.append(Bad("oversized", "x" * (node.get("maxLength", 5000) + 1)))
    return out


def walk(
    schema: dict[str, Any], node: dict[str, Any], body: Any, path: str
) -> Iterator[tuple[str, list[Any], Any]]:
    """(field path as the API names it, location in the body, schema node) of every field."""
    node = _resolve(schema, node)
    for name, child in node.get("properties", {}).items():
        if name not in body or child.get("readOnly"):
            continue
        here = f"{path}.{name}" if path else name
        yield here, [name], child
        value = body[name]
        resolved = _resolve(schema, child)
        if isinstance(value, dict):
            for sub, where, grandchild in walk(schema, resolved, value, here):
                yield sub, [name, *where], grandchild
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for sub, where, grandchild in walk(
                schema, _resolve(schema, resolved["items"]), value[0], f"{here}[0]"
            ):
                yield sub, [name, 0, *where], grandchild


def _put(body: Any, where: list[Any], value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return body


def _get(body: Any, where: list[Any]) -> Any:
    for key in where:
        body = body[key]
    return body


# --- the write operations and their accepted payloads ------------------------------------------

#: The shared bodies with every optional field present in their first items, so that each is walked.
BASELINE = copy.deepcopy(BASELINE_BODY)
BASELINE["targets"][0].update(is_node=False, injected=False, perp_mm=30.0, long_mm=None)
BASELINE["non_targets"][0].update(is_node=False, injected=False)
FOLLOWUP = copy.deepcopy(FOLLOWUP_BODY)
FOLLOWUP["targets"][0].update(
    state="MEASURED",
    fragments_mm=[],
    coalesced_with=[],
    coalesced_into="",
    perp_mm=30.0,
    long_mm=None,
    fragments_perp_mm=[],
)
FOLLOWUP["new_lesions"] = [
    {
        "code": "N1",
        "organ": "liver",
        "value_mm": 12.0,
        "is_node": False,
        "measurable": True,
        "equivocal": False,
        "perp_mm": 10.0,
        "long_mm": None,
    }
]
FOLLOWUP["injected"] = []
#: A PET/CT baseline's PET scan (a charter naming PERCIST), every field present.
PET = {
    "reference_site": "liver",
    "reference_mean": 2.0,
    "reference_sd": 0.3,
    "uptake_min": 60.0,
    "lesions": [
        {"code": "P1", "organ": "lung", "sul_peak": 8.0, "sul_max": 9.5, "tlg": 120.5, "value_mm": 15.0}
    ],
    "unequivocal_progression": False,
    "not_done": False,
}
#: A pre-baseline scan: the values of the saved baseline's three targets.
PREBASELINE = {
    "targets": [
        {"code": "T1", "state": "MEASURED", "value_mm": 40.0},
        {"code": "T2", "state": "MEASURED", "value_mm": 25.0},
        {"code": "T3", "state": "MEASURED", "value_mm": 18.0},
    ]
}


@dataclass
class Operation:
    role: str
    object_id: int
    body: dict[str, Any] | None
    etag_of: int | None = None  # the timepoint read whose ETag goes in If-Match
    accepted: tuple[int, ...] = (200, 201, 202, 204)


def operations(w: dict[str, Any]) -> dict[tuple[str, str], Operation]:
    """One accepted request per write operation of the schema (a new one fails the test)."""
    fresh = w["fresh"]
    return {
        ("post", "/api/adjudications/{id}/assign/"): Operation(
            "manager", w["case"].pk, {"adjudicator_id": w["adjudicator"].pk}
        ),
        ("post", "/api/adjudications/{id}/decide/"): Operation(
            "adjudicator",
            w["case"].pk,
            {
                "chosen": "A",
                "rationale": "New lesion is real.",
                "password": PASSWORD,
                "printed_name": "Alex J",
                "meaning": "I approve",
            },
        ),
        ("post", "/api/auth/token/"): Operation(
            "anonymous", 0, {"username": "reader_a", "password": PASSWORD}
        ),
        # No body to corrupt: the control (rolled back) shows the route works for a token client.
        ("post", "/api/auth/logout/"): Operation("reader_a", 0, None),
        ("post", "/api/auth/logoutall/"): Operation("reader_a", 0, None),
        ("post", "/api/subjects/{id}/adjudication/evaluate/"): Operation("manager", w["subject"].pk, None),
        ("post", "/api/subjects/{id}/timepoints/"): Operation(
            "manager",
            w["subject"].pk,
            {
                "visit_label": "WEEK18",
                "visit_number": 4,
                "scan_date_earliest": "2025-05-10",
                "scan_date_latest": "2025-05-11",
                "is_baseline": False,
                "modality": "CT",
                "is_prebaseline": False,
            },
        ),
        ("put", "/api/timepoint-reads/{id}/baseline/"): Operation(
            "reader_a", fresh.pk, BASELINE, etag_of=fresh.pk
        ),
        ("patch", "/api/timepoint-reads/{id}/baseline/"): Operation(
            "reader_a", fresh.pk, BASELINE, etag_of=fresh.pk
        ),
        ("put", "/api/timepoint-reads/{id}/followup/"): Operation(
            "reader_a", w["tr_a1"].pk, FOLLOWUP, etag_of=w["tr_a1"].pk
        ),
        ("patch", "/api/timepoint-reads/{id}/followup/"): Operation(
            "reader_a", w["tr_a1"].pk, FOLLOWUP, etag_of=w["tr_a1"].pk
        ),
        ("put", "/api/timepoint-reads/{id}/pet/"): Operation(
            "reader_a", w["pet"].pk, PET, etag_of=w["pet"].pk
        ),
        ("patch", "/api/timepoint-reads/{id}/pet/"): Operation(
            "reader_a", w["pet"].pk, PET, etag_of=w["pet"].pk
        ),
        ("put", "/api/timepoint-reads/{id}/prebaseline/"): Operation(
            "reader_a", w["prebaseline"].pk, PREBASELINE, etag_of=w["prebaseline"].pk
        ),
        ("patch", "/api/timepoint-reads/{id}/prebaseline/"): Operation(
            "reader_a", w["prebaseline"].pk, PREBASELINE, etag_of=w["prebaseline"].pk
        ),
        ("post", "/api/timepoint-reads/{id}/sign/"): Operation(
            "reader_b",
            w["tr_b1"].pk,
            {"password": PASSWORD, "printed_name": "Ben Reader", "meaning": "I read it"},
            etag_of=w["tr_b1"].pk,
        ),
        ("post", "/api/timepoint-reads/{id}/unlock/"): Operation(
            "manager", w["tr_a0"].pk, {"reason": "QC query"}, etag_of=w["tr_a0"].pk
        ),
        ("post", "/api/trials/{id}/endpoint-jobs/"): Operation("manager", w["trial"].pk, None),
        ("post", "/api/trials/{id}/exports/"): Operation(
            "sponsor", w["trial"].pk, {"data_cutoff": "2025-06-01"}
        ),
        ("post", "/api/trials/{id}/sponsor-contacts/"): Operation(
            "manager", w["trial"].pk, {"name": "Sponsor safety desk", "email": "safety@sponsor.example"}
        ),
        ("patch", "/api/sponsor-contacts/{id}/"): Operation(
            "manager", w["contact"].pk, {"name": "Sponsor imaging desk", "email": "imaging@sponsor.example"}
        ),
        ("post", "/api/trials/{id}/subjects/"): Operation(
            "manager",
            w["trial"].pk,
            {
                "site_code": "SITE01",
                "subject_code": "S-888",
                "randomisation_date": "2025-01-10",
                "first_dose_date": "2025-01-12",
                "reference_start_date": "2025-01-12",
                "death_date": "2025-04-01",
                "last_contact_date": "2025-03-01",
            },
        ),
        ("patch", "/api/subjects/{id}/"): Operation(
            "manager",
            w["subject"].pk,
            {
                "reason": "sponsor DM transfer",
                "first_dose_date": "2025-01-12",
                "reference_start_date": "2025-01-12",
                "death_date": "2025-04-01",
                "last_contact_date": "2025-03-01",
            },
        ),
        ("post", "/api/trials/{id}/investigator-assessments/"): Operation(
            "manager",
            w["trial"].pk,
            {
                "data_source": "edc.csv",
                "rows": [{"subject_code": "S-001", "pd_date": "2025-05-01", "bor": "PD"}],
            },
        ),
    }


# --- sending and judging --------------------------------------------------------------------------


@dataclass
class Tally:
    tried: int = 0
    rejected_4xx: int = 0
    field_named: int = 0
    too_large_413: int = 0
    not_found_404: int = 0
    server_errors: int = 0
    half_writes: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _text(body: Any, raw: str | None) -> str:
    text = json.dumps(body, ensure_ascii=False)
    return text.replace(f'"{RAW}"', raw) if raw is not None else text


def _send(client: APIClient, method: str, url: str, text: str | None, etag: str | None) -> Any:
    extra = {"HTTP_IF_MATCH": etag} if etag else {}
    data = text.encode("utf-8") if text is not None else b""
    return client.generic(method.upper(), url, data, content_type="application/json", **extra)


def _names(errors: dict[str, Any], path: str) -> bool:
    return any(k == path or k.startswith(path + ".") or k.startswith(path + "[") for k in errors)


def judge(
    tally: Tally, label: str, response: Any, field_path: str | None, before: tuple[Any, ...], **fp: bool
) -> tuple[Any, ...]:
    """Count the answer; returns the fingerprint after it (the next request's "before")."""
    tally.tried += 1
    status = response.status_code
    if status >= 500:
        tally.server_errors += 1
        tally.failures.append(f"{label}: {status}")
    elif 400 <= status < 500:
        tally.rejected_4xx += 1
        if status == 413:
            tally.too_large_413 += 1
        elif status == 404:
            tally.not_found_404 += 1
        elif (
            status == 400 and field_path is not None and _names(response.json().get("errors", {}), field_path)
        ):
            tally.field_named += 1
        elif field_path is not None:
            tally.failures.append(f"{label}: {status} does not name {field_path}: {response.content[:200]!r}")
    else:
        tally.failures.append(f"{label}: accepted ({status})")
    after = fingerprint(**fp)
    if after != before:
        tally.half_writes += 1
        tally.failures.append(f"{label}: the database changed")
    return after


class _Undo(Exception):
    pass


def _control(client: APIClient, method: str, url: str, op: Operation, etag: str | None) -> int:
    """The unbroken payload is accepted (so each rejection is the mutation's); rolled back."""
    status = 0
    try:
        with transaction.atomic():
            status = _send(
                client, method, url, json.dumps(op.body) if op.body is not None else None, etag
            ).status_code
            raise _Undo
    except _Undo:
        pass
    return status


def _url_writes() -> set[tuple[str, str]]:
    """(method, path with {id}) of every write handler the URL conf routes under /api/."""
    found: set[tuple[str, str]] = set()

    def visit(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                visit(p.url_patterns, route)
            elif isinstance(p, URLPattern) and route.startswith("api/"):
                view = getattr(p.callback, "view_class", None) or getattr(p.callback, "cls", None)
                for method in WRITE_METHODS:
                    if view is not None and hasattr(view, method):
                        found.add(
                            (method, "/" + re.sub(r"<(?:\w+:)?(\w+)>", "{id}", route).replace("{pk}", "{id}"))
                        )

    visit(get_resolver().url_patterns, "")
    return found


@pytest.fixture
def corpus_world(
    world: dict[str, Any], manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any
) -> dict[str, Any]:
    fresh_subject = make_subject_with_reads(
        world["trial"], manager, (reader_a, reader_b), code="S-BAD", followups=0
    )
    # A pre-baseline scan of a subject whose baseline reader A saved (a trial asking for the
    # tumour growth rate, which pre-baseline scans feed).
    pre_trial = criteria_trial(manager, (reader_a, reader_b), ["recist1.1"], "PRE-BAD", analyses=["tgr"])
    pre_subject = make_subject_with_reads(pre_trial, manager, (reader_a, reader_b), code="S-PRE", followups=0)
    save_baseline(pre_subject.tr(pre_subject.read_a, 0), reader_a)
    prebaseline_timepoint(pre_subject, manager)
    # A PET/CT baseline in a trial whose charter names PERCIST.
    pet_trial = criteria_trial(manager, (reader_a, reader_b), ["recist1.1", "percist"], "PET-BAD")
    pet_subject = criteria_subject(
        pet_trial, manager, (reader_a, reader_b), followups=0, modality=Modality.PET_CT
    )
    return {
        **world,
        "fresh": fresh_subject.tr(fresh_subject.read_a, 0),
        "prebaseline": pre_subject.tr(pre_subject.read_a, 1),
        "pet": pet_subject.tr(pet_subject.read_a, 0),
        "adjudicator": adjudicator,
    }


def test_every_write_endpoint_refuses_the_bad_input_corpus(
    corpus_world: dict[str, Any], api: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    schema = yaml.safe_load(COMMITTED_SCHEMA.read_text())
    writes = {
        (method, path): op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in WRITE_METHODS
    }
    table = operations(corpus_world)
    assert set(table) == set(writes), "a write operation without a corpus entry (or a stale entry)"
    assert _url_writes() <= set(writes), _url_writes() - set(writes)

    tally = Tally()
    for (method, template), op in sorted(table.items()):
        client = api[op.role]
        url = template.replace("{id}", str(op.object_id))
        etag = etag_of(client, op.etag_of) if op.etag_of is not None else None
        control = _control(client, method, url, op, etag)
        assert control in op.accepted, (method, template, control)
        # The path id: never a 500 (an unbounded id reached the database as an overflow).
        if "{id}" in template:
            before = fingerprint(denial_allowed=True)
            for bad_id in ("0", str(2**63), str(10**30), "٣"):
                body = json.dumps(op.body) if op.body is not None else None
                response = _send(client, method, template.replace("{id}", bad_id), body, etag)
                label = f"{method} {template} id={bad_id}"
                before = judge(tally, label, response, None, before, denial_allowed=True)
                tally.by_kind["path id"] += 1
        if op.body is None:
            continue
        request_schema = writes[(method, template)]["requestBody"]["content"]["application/json"]["schema"]
        before = fingerprint()
        for path, where, node in walk(schema, request_schema, op.body, ""):
            # PATCH merges the top-level keys it sends into the stored content and then runs the
            # PUT's own validation, which the PUT's nested corpus covers: top-level fields only.
            if method == "patch" and len(where) > 1:
                continue
            for bad in bad_values(schema, node, _get(op.body, where)):
                body = _put(op.body, where, RAW if bad.raw is not None else bad.value)
                response = _send(client, method, url, _text(body, bad.raw), etag)
                label = f"{method} {template} {path}={bad.raw or bad.value!r:.40}"
                before = judge(tally, label, response, path, before)
                tally.by_kind[bad.kind] += 1
        # An unknown key and a repeated key, at the top level.
        for label, text, named in (
            ("unknown key", json.dumps({**op.body, "zz_unknown": 1}), "zz_unknown"),
            (
                "repeated key",
                json.dumps(op.body)[:-1] + ', "' + next(iter(op.body)) + '": null}',
                next(iter(op.body)),
            ),
        ):
            response = _send(client, method, url, text, etag)
            before = judge(tally, f"{method} {template} {label}", response, named, before)
            tally.by_kind[label] += 1

    with capsys.disabled():
        print(
            f"\nbad-input corpus (API): {tally.tried} bad inputs over {len(table)} write operations; "
            f"4xx {tally.rejected_4xx} (field named {tally.field_named}, path-id 404 {tally.not_found_404}, "
            f"413 {tally.too_large_413}); 500s {tally.server_errors}; half-writes {tally.half_writes}; "
            f"by kind {dict(sorted(tally.by_kind.items()))}"
        )
    assert not tally.failures, "\n".join(tally.failures[:40])
    assert tally.server_errors == 0 and tally.half_writes == 0
    assert tally.rejected_4xx == tally.tried
    assert tally.field_named == tally.tried - tally.not_found_404 - tally.too_large_413
    assert tally.tried > 500
