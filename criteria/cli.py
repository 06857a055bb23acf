"""The command line (``python -m criteria``), kept exactly to the contract.

``evaluate FILE|- [--criteria recist1.1,irecist,imrecist] [--explain]``: stdout holds only
the JSON result (one object, or a list in input order); bad input exits 2 with one line on
stderr, ``<subject>: <field>: <message>``, and nothing on stdout.

``bench --subjects N``: the batch-path benchmark of :mod:`criteria.bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from criteria.ambiguities import DefaultsCache
from criteria.errors import InputError
from criteria.evaluate import (
    ANALYSES,
    AVAILABLE,
    CriteriaSelectionError,
    evaluate,
    gc_paused,
    select_analyses,
    select_criteria,
)
from criteria.lesions import without_sentences
from criteria.parse import load_json, parse_payload
from criteria.serialize import results_text, subject_json
from criteria.types import Subject, SubjectResult

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line on stderr, exit 2, as for bad input.
        self.exit(EXIT_BAD_INPUT, f"criteria: {message} (see python -m criteria --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m criteria",
        description="Exact, explainable tumour-response criteria (RECIST 1.1, iRECIST, imRECIST).")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="evaluate one subject (or a JSON list of subjects)")
    ev.add_argument("file", metavar="FILE|-", help="contract JSON input; - reads stdin")
    ev.add_argument("--criteria", default=None,
                    help=f"comma-separated criteria (default: every criterion the input supports; "
                         f"known: {','.join(AVAILABLE)})")
    ev.add_argument("--analyses", default=None,
                    help=f"comma-separated analyses written under 'analyses' (default: tgr when the "
                         f"input has prebaseline or clinical, else none; known: {','.join(ANALYSES)})")
    ev.add_argument("--explain", action="store_true",
                    help="add the 'why' sentences and the ambiguity defaults used")
    bench = sub.add_parser("bench", help="benchmark the batch path on synthetic subjects")
    bench.add_argument("--subjects", type=int, default=10000, help="number of synthetic subjects")
    bench.add_argument("--seed", type=int, default=20241121, help="random seed of the generator")
    bench.add_argument("--per-criterion", action="store_true",
                       help="also time each criterion alone on its own synthetic input (per_criterion)")
    return parser


def _read(path: str, stdin: TextIO) -> str:
    # JSON is UTF-8 (RFC 8259) whatever the locale: read bytes and decode them ourselves.
    where = "stdin" if path == "-" else path
    try:
        if path == "-":
            buffer = getattr(stdin, "buffer", None)
            data = buffer.read() if buffer is not None else stdin.read().encode("utf-8")
        else:
            with open(path, "rb") as handle:
                data = handle.read()
        return bytes(data).decode("utf-8-sig")
    except OSError as exc:
        raise InputError("?", where, f"cannot read input: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError("?", where, "cannot read input: not UTF-8 text") from None


def evaluate_text(
    text: str, criteria: Sequence[str] | None, explain: bool, analyses: Sequence[str] | None = None
) -> tuple[list[SubjectResult], bool]:
    """JSON text -> the subjects' results and whether the input was a list (a batch);
    raises InputError on bad input."""
    with gc_paused():
        payload = parse_payload(load_json(text))
        subjects: list[Subject] = payload if isinstance(payload, list) else [payload]
        notes = DefaultsCache()  # this run's: the subjects of a batch mostly share settings
        if explain:
            results = [evaluate(s, criteria, defaults=notes, analyses=analyses) for s in subjects]
        else:
            with without_sentences():  # the sums' sentences would not be written
                results = [evaluate(s, criteria, defaults=notes, analyses=analyses) for s in subjects]
    return results, isinstance(payload, list)


def run_evaluate(text: str, criteria: Sequence[str] | None, explain: bool) -> Any:
    """JSON text -> the JSON-ready output (object or list); raises InputError on bad input."""
    results, batch = evaluate_text(text, criteria, explain)
    with gc_paused():
        output = [subject_json(r, explain) for r in results]
    return output if batch else output[0]


def output_text(text: str, criteria: Sequence[str] | None, explain: bool,
                analyses: Sequence[str] | None = None) -> str:
    """JSON text -> what ``evaluate`` prints: ``json.dumps(run_evaluate(...), indent=2)``,
    written by :func:`criteria.serialize.results_text`; raises InputError on bad input."""
    with gc_paused():  # the subjects and results die with _output_text, inside the pause
        return _output_text(text, criteria, explain, analyses)


def _output_text(text: str, criteria: Sequence[str] | None, explain: bool,
                 analyses: Sequence[str] | None) -> str:
    results, batch = evaluate_text(text, criteria, explain, analyses)
    return results_text(results if batch else results[0], explain, indent=2)


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None,
         stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _build_parser().parse_args(argv)
    if args.command == "bench":
        from criteria.bench import per_analysis, per_criterion, run_bench

        if args.subjects < 1:
            stderr.write("criteria: bench: --subjects must be at least 1\n")
            return EXIT_BAD_INPUT
        report = run_bench(args.subjects, seed=args.seed)
        if args.per_criterion:
            report["per_criterion"] = per_criterion(args.subjects, seed=args.seed)
            report["per_analysis"] = per_analysis(args.subjects, seed=args.seed)  # growth family
        stdout.write(json.dumps(report) + "\n")
        return EXIT_OK
    try:
        criteria = select_criteria(args.criteria) if args.criteria is not None else None
    except CriteriaSelectionError as exc:
        stderr.write(f"criteria: --criteria: {exc}\n")
        return EXIT_BAD_INPUT
    try:
        analyses = select_analyses(args.analyses) if args.analyses is not None else None
    except CriteriaSelectionError as exc:
        stderr.write(f"criteria: --analyses: {exc}\n")
        return EXIT_BAD_INPUT
    try:
        output = output_text(_read(args.file, stdin), criteria, args.explain, analyses)
    except InputError as exc:
        stderr.write(" ".join(str(exc).split()) + "\n")
        return EXIT_BAD_INPUT
    # ASCII-only JSON (non-ASCII escaped): valid whatever the locale of the consuming pipe.
    stdout.write(output + "\n")
    return EXIT_OK
