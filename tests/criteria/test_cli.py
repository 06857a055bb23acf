"""The command line, run as a subprocess exactly as users and the contract check run it."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from criteria.cli import main

ROOT = Path(__file__).resolve().parents[2]
RESPONSE_LEVEL: dict[str, Any] = {
    "subject": "R1", "reference_date": "2024-01-01",
    "timepoints": [{"date": "2024-02-12", "overall": "SD"}, {"date": "2024-03-25", "overall": "PR"},
                   {"date": "2024-05-06", "overall": "PR"}, {"date": "2024-06-17", "overall": "PD"}],
}
IRECIST_LEVEL: dict[str, Any] = {
    "subject": "R2", "reference_date": "2024-01-01",
    "timepoints": [{"date": "2024-01-29", "overall": "iSD"}, {"date": "2024-03-25", "overall": "iUPD"},
                   {"date": "2024-05-06", "overall": "iCPD"}],
}


def run(*args: str, payload: Any = None, text: str | None = None) -> subprocess.CompletedProcess[str]:
    stdin = text if text is not None else json.dumps(payload)
    return subprocess.run([sys.executable, "-m", "criteria", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)


def run_inline(*args: str, payload: Any = None, text: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(text if text is not None else json.dumps(payload))
    code = main(list(args), stdin=stdin, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_response_level_subprocess() -> None:
    r = run("evaluate", "-", payload=RESPONSE_LEVEL)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    res = out["results"]["recist1.1"]
    assert out["subject"] == "R1" and list(out["results"]) == ["recist1.1"]
    assert [tp["overall"] for tp in res["timepoints"]] == ["SD", "PR", "PR", "PD"]
    assert (res["bor"], res["bor_date"], res["bor_confirmed"]) == ("PR", "2024-03-25", "PR")
    assert res["pfs"] == {"event": True, "date": "2024-06-17", "reason": "PD"}
    assert "why" not in res and "why" not in res["timepoints"][0]


def test_response_level_irecist_codes_select_irecist() -> None:
    code, out, _ = run_inline("evaluate", "-", payload=IRECIST_LEVEL)
    res = json.loads(out)["results"]
    assert code == 0 and list(res) == ["irecist"]
    assert res["irecist"]["bor"] == "iCPD"
    assert res["irecist"]["progression"] == {"iupd_date": "2024-03-25", "icpd_date": "2024-05-06"}
    assert res["irecist"]["pfs"]["date"] == "2024-03-25"


def test_response_level_imrecist_on_request_carries_pd_status() -> None:
    payload = {**RESPONSE_LEVEL, "timepoints": [*RESPONSE_LEVEL["timepoints"],
                                                {"date": "2024-08-01", "overall": "SD"}]}
    code, out, _ = run_inline("evaluate", "-", "--criteria", "recist1.1,imrecist", payload=payload)
    res = json.loads(out)["results"]
    assert code == 0 and list(res) == ["recist1.1", "imrecist"]
    assert res["imrecist"]["timepoints"][3]["pd_status"] == "negated"
    assert res["imrecist"]["pfs"]["event"] is False
    assert res["recist1.1"]["pfs"]["event"] is True


def test_response_level_wrong_criterion_is_bad_input() -> None:
    code, out, err = run_inline("evaluate", "-", "--criteria", "irecist", payload=RESPONSE_LEVEL)
    assert (code, out) == (2, "")
    assert err.startswith("R1: timepoints: ") and "cannot evaluate irecist" in err


def test_explain_adds_why_and_defaults() -> None:
    code, out, _ = run_inline("evaluate", "-", "--explain", payload=RESPONSE_LEVEL)
    res = json.loads(out)["results"]["recist1.1"]
    assert code == 0
    assert any(line.startswith("BOR:") for line in res["why"])
    assert any(line.startswith("A12 cr_then_pr_confirmed_as=sd (default)") for line in res["defaults"])
    assert any(line.startswith("A13 charter settings: sd_min_days=42") for line in res["defaults"])


def test_explain_marks_settings_chosen_by_input() -> None:
    payload = {**IRECIST_LEVEL, "settings": {"irecist_unconfirmed_iupd": "censor"}}
    code, out, _ = run_inline("evaluate", "-", "--explain", payload=payload)
    assert code == 0
    assert "A3 irecist_unconfirmed_iupd=censor (set): an iUPD never confirmed is censored at the last " \
           "adequate assessment before it" in json.loads(out)["results"]["irecist"]["defaults"]


def test_batch_list_in_list_out(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([RESPONSE_LEVEL, IRECIST_LEVEL]))
    r = run("evaluate", str(path))
    assert r.returncode == 0, r.stderr
    assert [o["subject"] for o in json.loads(r.stdout)] == ["R1", "R2"]


def test_bad_input_subprocess_exit_2_one_line_nothing_on_stdout() -> None:
    payload = {**RESPONSE_LEVEL, "timepoints": [{"date": "2024-02-12", "overall": "XX"}]}
    r = run("evaluate", "-", payload=payload)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("R1: timepoints[0].overall: unknown response code 'XX'")


MEASURED: dict[str, Any] = {
    "subject": "S7", "reference_date": "2024-01-01",
    "baseline": {"date": "2024-01-01", "targets": [{"id": "T1", "organ": "liver", "node": False, "mm": 42}],
                 "non_targets": []},
    "timepoints": [{"date": "2024-02-26", "targets": {"T1": 30}},
                   {"date": "2024-04-22", "targets": {"T1": 28}},
                   {"date": "2024-06-17", "targets": {"T1": 25}}],
}
LAST = '"T1": 25'


@pytest.mark.parametrize(("text", "line"), [
    (json.dumps(MEASURED).replace(LAST, '"T1": -4'), "S7: timepoints[2].targets.T1: negative diameter -4"),
    (json.dumps(MEASURED).replace(LAST, '"T1": NaN'), "S7: timepoints[2].targets.T1: not a finite number"),
    (json.dumps({**MEASURED, "settings": {"sd_min": 42}}), "S7: settings.sd_min: unknown field"),
    (json.dumps(MEASURED).replace('"mm": 42', '"mm": 8'), "S7: baseline.targets[0].mm: target T1 longest"),
])
def test_bad_input_cases_subprocess(text: str, line: str) -> None:
    r = run("evaluate", "-", text=text)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith(line) and r.stderr.count("\n") == 1, r.stderr


def test_bad_json_names_unknown_subject() -> None:
    r = run("evaluate", "-", text='{"subject": "S1", "timepoints": [')
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("?: line 1 column ") and "invalid JSON" in r.stderr


def test_unreadable_file() -> None:
    code, out, err = run_inline("evaluate", "/nonexistent/input.json")
    assert (code, out) == (2, "")
    assert err.startswith("?: /nonexistent/input.json: cannot read input")


def test_unknown_criterion() -> None:
    code, out, err = run_inline("evaluate", "-", "--criteria", "recist1.1,recist2", payload=RESPONSE_LEVEL)
    assert (code, out) == (2, "")
    assert "unknown criterion 'recist2'" in err


@pytest.mark.parametrize("name", ["percist", "ipercist", "impercist5", "percimt"])
def test_pet_criteria_need_pet_input(name: str) -> None:
    code, out, err = run_inline("evaluate", "-", "--criteria", name, payload=RESPONSE_LEVEL)
    assert (code, out) == (2, "")
    assert ": pet: " in err and "PET input" in err


def test_usage_error_exits_2_without_stdout() -> None:
    r = run("evaluate", text="")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1


def test_numbers_rounded_half_away_from_zero() -> None:
    from decimal import Decimal

    from criteria.serialize import number

    assert number(Decimal("28.65")) == 28.7
    assert number(Decimal("-28.65")) == -28.7
    assert number(Decimal("-0.04")) == 0.0 and str(number(Decimal("-0.04"))) == "0.0"
    assert json.dumps(number(Decimal("30"))) == "30.0"


def test_measurement_level_explain_lists_engine_readings() -> None:
    code, out, _ = run_inline("evaluate", "-", "--explain", payload=MEASURED)
    results = json.loads(out)["results"]
    assert code == 0 and list(results) == ["recist1.1", "irecist", "imrecist"]
    notes = {c: " | ".join(r["defaults"]) for c, r in results.items()}
    assert "A1 pr_continues_until_pd=true (default)" in notes["recist1.1"]
    assert "A3 irecist_unconfirmed_iupd=event (default)" in notes["irecist"]
    assert "A7 imrecist_pd_requires_5mm=true (default)" in notes["imrecist"]
    assert all(tp["why"] for r in results.values() for tp in r["timepoints"])


def test_utf8_input_and_ascii_output_whatever_the_locale() -> None:
    payload = json.dumps({**RESPONSE_LEVEL, "subject": "Sü1"}, ensure_ascii=False).encode("utf-8")
    env = {"PYTHONIOENCODING": "ascii", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "criteria", "evaluate", "-"], input=payload,
                       capture_output=True, cwd=ROOT, timeout=120, check=False, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["subject"] == "Sü1"


def test_not_utf8_is_bad_input() -> None:
    r = subprocess.run([sys.executable, "-m", "criteria", "evaluate", "-"], input=b"\xff\xfe{}",
                       capture_output=True, cwd=ROOT, timeout=120, check=False)
    assert (r.returncode, r.stdout) == (2, b"")
    assert r.stderr.startswith(b"?: stdin: cannot read input: not UTF-8 text")


def test_python_api_rejects_unknown_criteria() -> None:
    from criteria.evaluate import CriteriaSelectionError, evaluate
    from criteria.parse import parse_subject

    subject = parse_subject(RESPONSE_LEVEL)
    with pytest.raises(CriteriaSelectionError, match="unknown criterion 'recist2'"):
        evaluate(subject, ["recist2"])
    assert list(evaluate(subject, ["recist1.1", "recist1.1"]).results) == ["recist1.1"]


def test_scan_dates_date_the_progression_at_the_earliest_image() -> None:
    payload = copy.deepcopy(MEASURED)
    payload["timepoints"][2]["targets"]["T1"] = 40  # 40 vs nadir 28: +42.9%, +12 mm -> PD
    payload["timepoints"][2]["scan_dates"] = ["2024-06-10", "2024-06-17"]
    code, out, _ = run_inline("evaluate", "-", "--criteria", "recist1.1,irecist", payload=payload)
    results = json.loads(out)["results"]
    assert code == 0
    recist = results["recist1.1"]
    assert recist["timepoints"][2]["overall"] == "PD"
    assert recist["timepoints"][2]["progression_date"] == "2024-06-10"
    assert recist["pfs"] == {"event": True, "date": "2024-06-10", "reason": "PD"}
    assert results["irecist"]["progression"]["iupd_date"] == "2024-06-10"
