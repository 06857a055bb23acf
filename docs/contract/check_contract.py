#!/usr/bin/env python3
"""Check that `python -m criteria evaluate` keeps the contract in criteria-cli.md.

Run from the project root:  python docs/contract/check_contract.py [PYTHON]
Feeds every examples/*.json (single and batch), checks the output's shape and code
vocabularies, compares with examples/*.expected.json, and checks that bad input exits 2
with nothing on stdout. Prints one line per problem and a last summary line.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODES = {
    "recist1.1": {"CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "NA"},
    "imrecist": {"CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "NA"},
    "irecist": {"iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "NE", "NA"},
    # PERCIST family (criteria/percist.py)
    "percist": {"CMR", "PMR", "SMD", "PMD", "NE"},
    "impercist5": {"CMR", "PMR", "SMD", "PMD", "NE"},
    "percimt": {"CMR", "PMR", "SMD", "PMD", "NE"},
    "ipercist": {"CMR", "PMR", "SMD", "UPMD", "CPMD", "NE"},
    "irrc": {"irCR", "irPR", "irSD", "irPD", "NE", "NA"},
    "irrecist": {"irCR", "irPR", "irSD", "irNN", "irPD", "NE", "NA"},
    # itRECIST: iRECIST codes (default basis) or RECIST 1.1 codes (itrecist_overall_basis)
    "itrecist": {"iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "CR", "PR", "SD", "NON-CR/NON-PD",
                 "PD", "NE", "NA"},
}
problems: list[str] = []


def run(py: str, payload, criteria: str | None = None, analyses: str | None = None):
    cmd = [py, "-m", "criteria", "evaluate", "-"]
    if criteria:
        cmd += ["--criteria", criteria]
    if analyses:
        cmd += ["--analyses", analyses]
    return subprocess.run(cmd, input=json.dumps(payload), capture_output=True, text=True, timeout=120)


def is_date(s) -> bool:
    try:
        dt.date.fromisoformat(str(s)[:10])
        return True
    except ValueError:
        return False


def check_result(name: str, crit: str, res: dict) -> None:
    codes = CODES.get(crit)
    for tp in res.get("timepoints", []):
        if not is_date(tp.get("date")):
            problems.append(f"{name} {crit}: timepoint without ISO date: {tp}")
        if codes and "overall" in tp and tp["overall"] not in codes:
            problems.append(f"{name} {crit}: overall code {tp['overall']!r} not in {sorted(codes)}")
    if codes and res.get("bor") is not None and res["bor"] not in codes:
        problems.append(f"{name} {crit}: bor code {res['bor']!r} not in vocabulary")
    pfs = res.get("pfs")
    if not isinstance(pfs, dict) or not isinstance(pfs.get("event"), bool) or not is_date(pfs.get("date")):
        problems.append(f"{name} {crit}: pfs must be {{event: bool, date: ISO date, reason}}, got {pfs}")


def dig(value, path: str):
    """``a.b.0.c`` into nested objects and lists (None where a step is absent)."""
    for step in path.split("."):
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return None
    return value


def main() -> None:
    py = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    inputs = sorted(p for p in (HERE / "examples").glob("*.json") if not p.name.endswith(".expected.json"))
    payloads = []
    for p in inputs:
        payload = json.loads(p.read_text())
        payloads.append(payload)
        expected = json.loads(p.with_name(p.stem + ".expected.json").read_text())
        crits = [k for k in expected if not k.startswith("_") and k != "analyses"]
        wanted = expected.get("analyses", {})  # growth family: {analysis: {dotted.path: value}}
        r = run(py, payload, ",".join(crits), ",".join(wanted) or None)
        if r.returncode != 0:
            problems.append(f"{p.name}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
            continue
        out = json.loads(r.stdout)
        if out.get("subject") != payload["subject"]:
            problems.append(f"{p.name}: subject not echoed")
        for crit in crits:
            res = out.get("results", {}).get(crit)
            if not isinstance(res, dict):
                problems.append(f"{p.name}: no results.{crit}")
                continue
            check_result(p.name, crit, res)
            exp = expected[crit]
            got_overall = {tp.get("date"): tp.get("overall") for tp in res.get("timepoints", [])}
            for date, code in exp.get("overall", {}).items():
                if got_overall.get(date) != code:
                    problems.append(f"{p.name} {crit}: {date} overall want {code} got {got_overall.get(date)}")
            for key in ("bor", "bor_confirmed"):
                if key in exp and res.get(key) != exp[key]:
                    problems.append(f"{p.name} {crit}: {key} want {exp[key]} got {res.get(key)}")
            if "pfs" in exp:
                got = res.get("pfs") or {}
                if got.get("event") != exp["pfs"]["event"] or got.get("date") != exp["pfs"]["date"]:
                    problems.append(f"{p.name} {crit}: pfs want {exp['pfs']} got {got}")
        for analysis, paths in wanted.items():
            block = out.get("analyses", {}).get(analysis)
            if not isinstance(block, dict):
                problems.append(f"{p.name}: no analyses.{analysis}")
                continue
            for path, value in paths.items():
                got = dig(block, path)
                if got != value:
                    problems.append(f"{p.name} analyses.{analysis}.{path}: want {value!r} got {got!r}")
    # batch: a list in, a list out, same order
    r = run(py, payloads)
    if r.returncode != 0 or not isinstance(json.loads(r.stdout or "null"), list):
        problems.append(f"batch input: want a JSON list out, exit 0; got exit {r.returncode}")
    elif [o.get("subject") for o in json.loads(r.stdout)] != [p["subject"] for p in payloads]:
        problems.append("batch input: subjects out of order")
    # bad input: exit 2, nothing on stdout, the field named on stderr
    bad = json.loads(inputs[0].read_text()) if inputs else {}
    if bad:
        bad["timepoints"][0]["targets"]["T1"] = -4
        r = run(py, bad)
        if r.returncode != 2 or r.stdout.strip() or "T1" not in r.stderr:
            problems.append(f"bad input (negative diameter): want exit 2, empty stdout, 'T1' on stderr; "
                            f"got exit {r.returncode}, stderr {r.stderr.strip()[-200:]!r}")
    for line in problems:
        print(line)
    print(f"contract: {'ok' if not problems else str(len(problems)) + ' problems'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
