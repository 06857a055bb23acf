"""Input fuzzing over HTTP (reliability doc 10.3): hypothesis draws a valid payload, breaks it
in one way from the corpus (numbers, units, dates, identity, strings, sizes) and sends it.
Every broken payload must be answered 4xx, name the broken field, and leave every row count
and the audit trail unchanged. ``derandomize`` makes the examples the same on every run;
``max_examples`` bounds the CI time."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TrialWithReads, save_baseline, sign
from tests.trialreads.api.conftest import API, BASELINE_BODY, FOLLOWUP_BODY, counts, etag_of
from trialreads.models import ImagingTimepoint
from trialreads.validators import DATE_MAX

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the corpus ----------------------------------------------------------------------------------

#: Raw JSON fragments (the parser must refuse or the service must reject them).
RAW_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "-0.0",
    "-0",
    "1000.1",
    "1001",
    "50.05",
    "0.123456789",
    "12345678901234567890",
    "5e2",
    "99999999999999999999999999.9",
]
JSON_NOT_NUMBERS = st.one_of(
    st.booleans(),
    st.sampled_from(["50", "50.0", "5 cm", "NaN", "Infinity", "inf", "", "50mm", "2 inch", "0x20"]),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["value", "unit"]), st.integers(), max_size=2),
)
NEGATIVE = st.one_of(
    st.integers(max_value=-1),
    st.decimals(max_value=-0.1, allow_nan=False, allow_infinity=False, places=1).map(str),
)
TOO_BIG = st.integers(min_value=1001, max_value=10**30)
TOO_PRECISE = (
    st.decimals(min_value=0, max_value=999, allow_nan=False, allow_infinity=False, places=3)
    .filter(lambda d: d != d.quantize(type(d)("0.1")))
    .map(str)
)
UNITS = st.sampled_from(["cm", "CM", "MM", "mm", "inch", "in", "px", ""])
BAD_CODES = st.one_of(
    st.text(alphabet="éüßøΩ漢字🙂ñ", min_size=1, max_size=8),
    st.text(alphabet=string.ascii_letters, min_size=21, max_size=300),
    st.sampled_from(["T\x00", "T\n1", "T\t", "\x1b[31m", " T1", "T1 ", "", "T/1", "T'1", "<T1>"]),
)
BAD_TEXT = st.one_of(
    st.text(alphabet="éüßøΩ漢字🙂", min_size=1, max_size=10),
    st.text(alphabet=string.ascii_letters, min_size=61, max_size=400),
    st.sampled_from(["liver\x00", "liv\ner", "\x07", "", "   "]),
)
NOT_BOOLEANS = st.sampled_from(["true", "yes", 1, 0, "1", None, [], {}])


def _mutate_number(body: dict[str, Any], i: int, raw: Any) -> tuple[dict[str, Any], str]:
    body["targets"][i]["value_mm"] = raw
    return body, f"targets[{i}].value_mm"


@st.composite
def broken_baseline(draw: st.DrawFn) -> tuple[str, str]:
    """(raw JSON text, the field that must be named)."""
    body = json.loads(json.dumps(BASELINE_BODY))
    i = draw(st.integers(0, len(body["targets"]) - 1))
    kind = draw(
        st.sampled_from(
            [
                "raw_number",
                "not_number",
                "negative",
                "too_big",
                "too_precise",
                "unit",
                "unit_value",
                "dup_code",
                "dup_across",
                "bad_code",
                "bad_organ",
                "not_bool",
                "too_many",
                "per_organ",
                "missing_value",
                "escalate",
                "wrong_shape",
            ]
        )
    )
    field = f"targets[{i}].value_mm"
    if kind == "raw_number":
        token = draw(st.sampled_from(RAW_NUMBERS))
        body["targets"][i]["value_mm"] = "@@RAW@@"
        text = json.dumps(body).replace('"@@RAW@@"', token)
        # NaN/Infinity literals are not JSON; the field they were sent for refuses them by name.
        return text, field
    if kind == "not_number":
        body, field = _mutate_number(body, i, draw(JSON_NOT_NUMBERS))
    elif kind == "negative":
        body, field = _mutate_number(body, i, draw(NEGATIVE))
        if isinstance(body["targets"][i]["value_mm"], str):
            return json.dumps(body).replace(
                f'"{body["targets"][i]["value_mm"]}"', body["targets"][i]["value_mm"]
            ), field
    elif kind == "too_big":
        body, field = _mutate_number(body, i, draw(TOO_BIG))
    elif kind == "too_precise":
        value = draw(TOO_PRECISE)
        body["targets"][i]["value_mm"] = "@@RAW@@"
        return json.dumps(body).replace('"@@RAW@@"', value), field
    elif kind == "unit":
        body["targets"][i]["unit"] = draw(UNITS)
        field = f"targets[{i}].unit"
    elif kind == "unit_value":
        body["targets"][i]["value_mm"] = f"{draw(st.integers(1, 99))} {draw(UNITS)}".strip()
    elif kind == "dup_code":
        j = (i + 1) % len(body["targets"])
        body["targets"][j]["code"] = body["targets"][i]["code"]
        field = f"targets[{max(i, j)}].code"
    elif kind == "dup_across":
        body["non_targets"][0]["code"] = body["targets"][i]["code"]
        field = "non_targets[0].code"
    elif kind == "bad_code":
        body["targets"][i]["code"] = draw(BAD_CODES)
        field = f"targets[{i}].code"
    elif kind == "bad_organ":
        body["targets"][i]["organ"] = draw(BAD_TEXT)
        field = f"targets[{i}].organ"
    elif kind == "not_bool":
        key = draw(st.sampled_from(["is_node", "injected"]))
        body["targets"][i][key] = draw(NOT_BOOLEANS)
        field = f"targets[{i}].{key}"
    elif kind == "too_many":
        n = draw(st.integers(6, 12))
        body["targets"] = [{"code": f"T{k}", "organ": f"organ{k}", "value_mm": 20} for k in range(n)]
        field = "targets"
    elif kind == "per_organ":
        body["targets"] = [{"code": f"T{k}", "organ": "liver", "value_mm": 20} for k in range(3)]
        field = "targets"
    elif kind == "missing_value":
        del body["targets"][i]["value_mm"]
    elif kind == "escalate":
        key = draw(st.sampled_from(["reader_id", "status", "signed_by", "locked", "version", "read"]))
        body[key] = draw(st.one_of(st.integers(), st.text(max_size=5), st.booleans()))
        field = key
    else:  # wrong_shape
        value = draw(st.sampled_from([[], "targets", 5, None, {"targets": {"T1": 5}}, {"targets": "x"}]))
        field = "targets" if isinstance(value, dict) else "non_field_errors"
        return json.dumps(value), field
    return json.dumps(body), field


@st.composite
def broken_followup(draw: st.DrawFn) -> tuple[str, str]:
    body = json.loads(json.dumps(FOLLOWUP_BODY))
    i = draw(st.integers(0, 2))
    kind = draw(
        st.sampled_from(
            [
                "unknown_code",
                "missing_target",
                "bad_state",
                "split_one",
                "new_is_baseline",
                "nt_status",
                "nt_dup",
                "nt_missing",
                "negative",
                "too_big",
                "new_bad_code",
                "new_value",
                "dup_new",
                "too_small_value",
            ]
        )
    )
    if kind == "unknown_code":
        body["targets"][i]["code"] = draw(st.sampled_from(["T9", "X1", "NT1"]))
        field = "targets"
    elif kind == "missing_target":
        code = body["targets"].pop(i)["code"]
        field = f"targets.{code}"
    elif kind == "bad_state":
        body["targets"][i]["state"] = draw(st.sampled_from(["measured", "GONE", "", "CR", 1]))
        field = f"targets[{i}].state"
    elif kind == "split_one":
        body["targets"][i] = {"code": body["targets"][i]["code"], "state": "SPLIT", "fragments_mm": [10]}
        field = f"targets[{i}].fragments_mm"
    elif kind == "new_is_baseline":
        body["new_lesions"] = [
            {"code": draw(st.sampled_from(["T1", "T2", "NT1"])), "organ": "liver", "value_mm": 10}
        ]
        field = "new_lesions[0]"
    elif kind == "nt_status":
        body["non_targets"][0]["status"] = draw(st.sampled_from(["PRESENT", "gone", "", "CR", "PD"]))
        field = "non_targets[0].status"
    elif kind == "nt_dup":
        body["non_targets"].append(dict(body["non_targets"][0]))
        field = "non_targets[1].code"
    elif kind == "nt_missing":
        body["non_targets"] = []
        field = "non_targets.NT1"
    elif kind == "negative":
        body["targets"][i]["value_mm"] = draw(st.integers(max_value=-1))
        field = f"targets[{i}].value_mm"
    elif kind == "too_big":
        body["targets"][i]["value_mm"] = draw(TOO_BIG)
        field = f"targets[{i}].value_mm"
    elif kind == "new_bad_code":
        body["new_lesions"] = [{"code": draw(BAD_CODES), "organ": "liver", "value_mm": 10}]
        field = "new_lesions[0].code"
    elif kind == "new_value":
        body["new_lesions"] = [
            {"code": "N1", "organ": "liver", "value_mm": draw(st.one_of(NEGATIVE, TOO_BIG))}
        ]
        field = "new_lesions[0].value_mm"
        if isinstance(body["new_lesions"][0]["value_mm"], str):
            return json.dumps(body).replace(
                f'"{body["new_lesions"][0]["value_mm"]}"', body["new_lesions"][0]["value_mm"]
            ), field
    elif kind == "dup_new":
        body["new_lesions"] = [{"code": "N1", "organ": "liver", "value_mm": 10}] * 2
        field = "new_lesions[1].code"
    else:  # too_small_value
        body["targets"][i] = {"code": body["targets"][i]["code"], "state": "TOO_SMALL", "value_mm": 3}
        field = f"targets[{i}].value_mm"
    return json.dumps(body), field


@st.composite
def broken_timepoint(draw: st.DrawFn) -> tuple[str, str]:
    """A new follow-up timepoint (read manager) with broken dates or numbers."""
    body: dict[str, Any] = {"visit_label": "WEEK18", "visit_number": 3, "scan_date_earliest": "2025-05-10"}
    kind = draw(
        st.sampled_from(
            [
                "before_previous",
                "future",
                "invalid",
                "partial",
                "datetime",
                "reversed",
                "label",
                "visit_number",
                "baseline_again",
                "modality",
            ]
        )
    )
    if kind == "before_previous":
        body["scan_date_earliest"] = draw(
            st.dates(
                min_value=__import__("datetime").date(1900, 1, 1),
                max_value=__import__("datetime").date(2025, 2, 18),
            )
        ).isoformat()
        field = "scan_date_earliest"
    elif kind == "future":
        future = draw(st.dates(min_value=__import__("datetime").date(2030, 1, 1)))
        body["scan_date_earliest"] = future.isoformat()
        # Past the stored date window the date itself is refused (it is never stored).
        field = "scan_date_latest" if future <= DATE_MAX else "scan_date_earliest"
    elif kind == "invalid":
        body["scan_date_earliest"] = draw(
            st.one_of(
                st.sampled_from(
                    [
                        "2025-02-30",
                        "2025-13-01",
                        "31/12/2025",
                        "yesterday",
                        "",
                        "2025-1-1",
                        "２０２５-０５-１０",
                    ]
                ),
                st.text(max_size=12).filter(lambda t: t[:10].count("-") != 2),
                st.integers(),
                st.booleans(),
                st.none(),
            )
        )
        field = "scan_date_earliest"
    elif kind == "partial":
        body["scan_date_earliest"] = draw(st.sampled_from(["2025-05", "2025", "2025-W19", "--05-10"]))
        field = "scan_date_earliest"
    elif kind == "datetime":
        body["scan_date_earliest"] = draw(
            st.sampled_from(["2025-05-10T00:00:00", "2025-05-10T10:00:00+02:00", "2025-05-10 00:00"])
        )
        field = "scan_date_earliest"
    elif kind == "reversed":
        body["scan_date_latest"] = "2025-05-01"
        field = "scan_date_latest"
    elif kind == "label":
        body["visit_label"] = draw(st.one_of(st.just(""), st.text(min_size=41, max_size=200), st.integers()))
        field = "visit_label"
    elif kind == "visit_number":
        body["visit_number"] = draw(
            st.one_of(
                st.sampled_from(["3", True, None, "three"]),
                st.lists(st.integers()),
                # out of DECIMAL(6, 1): the issue-13 case 1e10 answered 500 after committing
                st.sampled_from([10**10, 1e10, -1, 100000, 3.14159, 99999.95, 1e308]),
                st.integers(min_value=100000),
                st.integers(max_value=-1),
            )
        )
        field = "visit_number"
    elif kind == "baseline_again":
        body["is_baseline"] = draw(st.sampled_from([True, "true", 1]))
        field = "is_baseline" if body["is_baseline"] is not True else ""
    else:
        body["modality"] = draw(st.sampled_from(["ct", "PET", "", "MRI ", 1]))
        field = "modality"
    return json.dumps(body), field


# --- the checks ---------------------------------------------------------------------------------


def _send(client: Any, method: str, url: str, text: str, tr_id: int | None) -> Any:
    extra = {"HTTP_IF_MATCH": etag_of(client, tr_id)} if tr_id is not None else {}
    return client.generic(method, url, text.encode("utf-8"), content_type="application/json", **extra)


def _assert_rejected(response: Any, field: str, before: dict[str, int]) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.json()
    if field and response.status_code == 400:
        named = list(body.get("errors", {}))
        assert any(k == field or k.startswith(field + ".") or k.startswith(field + "[") for k in named), (
            field,
            named,
        )
    # 409 (e.g. a second baseline) names no field but still changes nothing.
    assert response.status_code in (400, 409, 413), response.status_code
    assert counts() == before


def _fuzz(client: Any, method: str, url: str, tr_id: int | None, strategy: Any) -> Callable[[], None]:
    @FUZZ
    @given(case=strategy)
    def run(case: tuple[str, str]) -> None:
        text, field = case
        before = counts()
        _assert_rejected(_send(client, method, url, text, tr_id), field, before)

    return run


def test_fuzz_baseline(trial_with_reads: TrialWithReads, api: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    _fuzz(api["reader_a"], "PUT", f"{API}/timepoint-reads/{tr.pk}/baseline/", tr.pk, broken_baseline())()


def test_fuzz_baseline_patch(trial_with_reads: TrialWithReads, api: Any, reader_a: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    _fuzz(api["reader_a"], "PATCH", f"{API}/timepoint-reads/{tr.pk}/baseline/", tr.pk, broken_baseline())()


def test_fuzz_followup(trial_with_reads: TrialWithReads, api: Any, reader_a: Any) -> None:
    base = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(base, reader_a)
    sign(base, reader_a)
    tr = trial_with_reads.tr(trial_with_reads.read_a, 1)
    _fuzz(api["reader_a"], "PUT", f"{API}/timepoint-reads/{tr.pk}/followup/", tr.pk, broken_followup())()


def test_fuzz_timepoint_dates(trial_with_reads: TrialWithReads, api: Any) -> None:
    subject = trial_with_reads.subject
    url = f"{API}/subjects/{subject.pk}/timepoints/"
    before = ImagingTimepoint.objects.count()
    _fuzz(api["manager"], "POST", url, None, broken_timepoint())()
    assert ImagingTimepoint.objects.count() == before


@pytest.mark.parametrize("raw", ["1e10", "-1", "100000", "3.14", "99999.95", "1E+400", "-0.0"])
def test_out_of_range_visit_number_is_a_400_and_writes_nothing(
    raw: str, trial_with_reads: TrialWithReads, api: Any
) -> None:
    # issue 13: "visit_number": 1e10 answered 500 after committing a timepoint, two timepoint
    # reads and an audit event, and every later read of the subject answered 500.
    subject = trial_with_reads.subject
    text = '{"visit_label": "WEEK18", "visit_number": ' + raw + ', "scan_date_earliest": "2025-05-10"}'
    before = counts()
    response = _send(api["manager"], "POST", f"{API}/subjects/{subject.pk}/timepoints/", text, None)
    _assert_rejected(response, "visit_number", before)
    assert api["manager"].get(f"{API}/subjects/{subject.pk}/").status_code == 200


@pytest.mark.parametrize("size", [70 * 1024, 1024 * 1024])
def test_oversized_bodies(size: int, trial_with_reads: TrialWithReads, api: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    client = api["reader_a"]
    body = json.dumps({**BASELINE_BODY, "targets": [{"code": "T1", "organ": "x" * size, "value_mm": 5}]})
    before = counts()
    response = _send(client, "PUT", f"{API}/timepoint-reads/{tr.pk}/baseline/", body, tr.pk)
    assert response.status_code == 413
    assert counts() == before


def test_deeply_nested_body(trial_with_reads: TrialWithReads, api: Any) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    before = counts()
    response = _send(api["reader_a"], "PUT", f"{API}/timepoint-reads/{tr.pk}/baseline/", "[" * 30000, tr.pk)
    assert response.status_code == 400
    assert counts() == before


def test_valid_payloads_pass(trial_with_reads: TrialWithReads, api: Any) -> None:
    """The control: the unbroken payload is accepted (so the rejections above are about the breakage)."""
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    response = _send(
        api["reader_a"], "PUT", f"{API}/timepoint-reads/{tr.pk}/baseline/", json.dumps(BASELINE_BODY), tr.pk
    )
    assert response.status_code == 200, response.content
