"""The bad-input corpus over the management commands that write (issue 13, item 1): each is
run as from the command line (``run_from_argv``, so the exit status is the real one) with
one bad option or one bad value in its input file. Each must exit 2 with a message naming
the option, column or field, and the database must not change (the row count of every
table, the timepoint-read versions and every audit chain head). Controls: the unbroken
inputs are accepted."""

from __future__ import annotations

import contextlib
import csv
import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.db import connections

from tests.conftest import TrialWithReads
from tests.trialreads.api.test_bad_input_corpus import fingerprint

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data" / "pharmaversesdtm"
SUBJECT = "01-701-1015"
NUMBERS = ["٣", "３", "²", "NaN", "Infinity", "1e400", "-5", "5000", "x" * 5000, "12,5"]
VISITNUMS = ["٣", "３", "1e10", "NaN", "-1", "100000", "x"]
DATES = ["٢٠١٤-01-02", "２０１４-01-02", "2014-13-01", "2014-02-30", "0001-01-02", "9999-12-31", "yesterday"]
INTEGERS = ["٣", "３", "²", "0", "-1", "1e3", "3.0", "100001", "99999999999999999999", "", " 3"]


def run(name: str, *argv: str) -> tuple[int, str]:
    """Exit status and stderr of ``manage.py <name> <argv>`` (0 when it returns)."""
    command = load_command_class("trialreads", name)
    err = io.StringIO()
    command.stderr._out = err  # type: ignore[union-attr]
    command.stdout._out = io.StringIO()  # type: ignore[union-attr]
    # argparse writes its own errors to sys.stderr
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            command.run_from_argv(["manage.py", name, *argv, "--skip-checks"])
        except SystemExit as exc:
            return int(exc.code or 0), err.getvalue()
    return 0, err.getvalue()


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    # run_from_argv closes every connection at the end, as a process would; inside the test
    # transaction that would end the test database's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)


def _subset(tmp_path: Path, edit: Callable[[list[dict[str, str]]], None] | None = None) -> Path:
    """TU/TR of one subject (so that a control import is quick), with ``edit`` applied to TR."""
    directory = tmp_path / "sdtm"
    directory.mkdir(parents=True, exist_ok=True)
    for prefix in ("tu", "tr"):
        [source] = DATA.glob(f"{prefix}_*.csv")
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [r for r in reader if r["USUBJID"] == SUBJECT]
            fields = list(reader.fieldnames or [])
        if prefix == "tr" and edit is not None:
            edit(rows)
        with (directory / source.name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return directory


def _set(column: str, value: str, visit: str = "") -> Callable[[list[dict[str, str]]], None]:
    """Set ``column`` on the first TR row (RADIOLOGIST 1's baseline T01 longest diameter),
    or on every row of the ``visit`` ("first"/"last" by VISITNUM) where a visit-level value
    decides (a visit's date is its rows' earliest, its number is shared by its rows)."""

    def edit(rows: list[dict[str, str]]) -> None:
        targets = [rows[0]]
        if visit:
            numbers = sorted({float(r["VISITNUM"]) for r in rows})
            chosen = numbers[0] if visit == "first" else numbers[-1]
            targets = [r for r in rows if float(r["VISITNUM"]) == chosen]
        for row in targets:
            row[column] = value
            if column == "TRSTRESC":
                row["TRORRES"] = value

    return edit


def test_every_writing_command_refuses_the_bad_input_corpus(
    trial_with_reads: TrialWithReads, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases: list[tuple[str, list[str], str]] = []  # (command, argv, what the message must name)
    for value in NUMBERS:
        edit = _set("TRSTRESC", value)
        cases.append(("import_sdtm", ["--dir", str(_subset(tmp_path / f"n{len(cases)}", edit))],
                      "TRSTRESC" if value not in ("-5", "5000", "1e400") else "value_mm"))  # fmt: skip
    for value in VISITNUMS:
        # Out-of-range numbers on a whole visit that stays where it was in the order.
        where = {"-1": "first", "100000": "last", "1e10": "last"}.get(value, "")
        edit = _set("VISITNUM", value, where)
        cases.append(("import_sdtm", ["--dir", str(_subset(tmp_path / f"v{len(cases)}", edit))],
                      "visit_number" if value in ("-1", "100000") else "VISITNUM"))  # fmt: skip
    for value in DATES:
        name = "effective_from" if value == "0001-01-02" else "TRDTC"
        edit = _set("TRDTC", value, "first")
        cases.append(("import_sdtm", ["--dir", str(_subset(tmp_path / f"d{len(cases)}", edit))], name))
    for code in ("٣", "x" * 41, "A B", "", "T\x00"):
        cases.append(("import_sdtm", ["--dir", str(_subset(tmp_path / "ok")), "--trial", code], "--trial"))
        cases.append(("load_demo", ["--trial", code], "--trial"))
        cases.append(("demo_adjudication", ["--trial", code], "--trial"))
    for code in ("DEMO-PET", "DEMO-IR"):  # the codes of the criteria demo trials
        cases.append(("load_demo", ["--trial", code], "--trial"))
    for option in ("--subjects", "--seed"):
        for value in INTEGERS:
            if option == "--seed" and value in ("0", "100001"):
                continue  # valid seeds
            cases.append(("benchmark", [option, value], option))
    rs = tmp_path / "rs.csv"
    rs.write_text(
        "USUBJID,VISITNUM,VISIT,RSTESTCD,RSSTRESC,RSEVAL,RSDTC\n"
        "S-001,2,WEEK 6,OVRLRESP,MAYBE,INVESTIGATOR,2025-03-20\n",
        encoding="utf-8",
    )
    cases.append(("import_investigator_rs", ["--trial", "NO-SUCH", "--file", str(rs)], "--trial"))
    cases.append(("import_investigator_rs", ["--trial", "T\x00", "--file", str(rs)], "--trial"))
    cases.append(
        ("import_investigator_rs", ["--trial", "ONC-001", "--user", "m\x00", "--file", str(rs)], "--user")
    )
    cases.append(("import_investigator_rs", ["--trial", trial_with_reads.trial.code, "--file", str(rs)],
                  "rows[0].RSSTRESC"))  # fmt: skip

    tally: Counter[str] = Counter()
    failures: list[str] = []
    before = fingerprint()
    for command, argv, named in cases:
        tally["tried"] += 1
        status, err = run(command, *argv)
        label = f"{command} {' '.join(a[:20] for a in argv[-2:])!r}"
        if status == 2 and named in err:
            tally["exit 2 naming the field"] += 1
        else:
            failures.append(f"{label}: exit {status}, must name {named}: {err[:200]!r}")
        after = fingerprint()
        if after != before:
            tally["half-writes"] += 1
            failures.append(f"{label}: the database changed")
        before = after
    with capsys.disabled():
        print(f"\nbad-input corpus (commands): {dict(tally)}")
    assert not failures, "\n".join(failures[:40])
    assert tally["exit 2 naming the field"] == tally["tried"] > 60


def test_the_unbroken_inputs_are_accepted(tmp_path: Path) -> None:
    """The controls: the one-subject SDTM subset imports (so each refusal above is the bad value's)."""
    out = io.StringIO()
    call_command("import_sdtm", dir=_subset(tmp_path), stdout=out)
    assert '"subjects": 1' in out.getvalue()
    assert run("benchmark", "--subjects", "x")[0] == 2 and run("benchmark", "--help")[0] == 0


def test_command_parser_bounds() -> None:
    from trialreads.management.inputs import bounded_int

    parse = bounded_int(1, 10)
    assert parse("10") == 10
    for text in ("٣", "11", "01", "+3", "3 "):
        with pytest.raises(Exception, match="an integer between 1 and 10"):
            parse(text)
