"""A complete sponsor transfer on disk: every dataset as ``.xpt`` and ``.csv`` plus ``manifest.json``.

Byte-determinism is the point: the same input gives the same bytes in every file, so a
transfer can be re-derived and compared by SHA-256 (reliability-tests §10.8). Hence no wall
clock (the export timestamp is a parameter), sorted JSON keys, ``\\n`` line endings, a fixed
number format in CSV, and ASCII enforced rather than assumed. Everything is rendered in
memory and checked first, so a failing export writes nothing.

Files: ``<name>.xpt`` and ``<name>.csv`` (lower-case dataset name; FDA TCG dataset name = file
name), ``manifest.json`` with size and SHA-256 of every other file, row and variable counts,
the criteria algorithm version, charter version, data cut-off, the censoring rule table and,
when given, the head of the audit hash chain at export time.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from trialreads.exports.censoring import describe_rules
from trialreads.exports.datasets import ExportStudy, build_all, decimal_text
from trialreads.exports.spec import Dataset, Value
from trialreads.exports.validate import check_all
from trialreads.exports.xpt import XportError, encode_validated

MANIFEST_FORMAT = "trialreads-sponsor-export/1"
MANIFEST_NAME = "manifest.json"


def csv_cell(value: Value) -> str:
    """The CSV text of a cell: blank for missing, ISO 8601 for dates, plain decimals."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def write_csv(dataset: Dataset) -> bytes:
    """Header row of variable names, then the rows; ``\\n`` endings, minimal quoting, ASCII."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    names = [var.name for var in dataset.variables]
    writer.writerow(names)
    # Strings (most cells) pass through; only other types go through csv_cell.
    writer.writerows(
        [v if type(v) is str else csv_cell(v) for v in [row[name] for name in names]] for row in dataset.rows
    )
    return buffer.getvalue().encode("ascii")


def _utc_naive(stamp: dt.datetime) -> dt.datetime:
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


@dataclass(frozen=True)
class ExportedFile:
    path: str
    sha256: str
    bytes: int


def _file(name: str, content: bytes) -> ExportedFile:
    return ExportedFile(name, hashlib.sha256(content).hexdigest(), len(content))


def render_package(
    datasets: Sequence[Dataset],
    *,
    created: dt.datetime,
    criteria_version: str,
    charter_version: str,
    studyid: str,
    data_cutoff: dt.date | None = None,
    audit_chain_head: str | None = None,
) -> dict[str, bytes]:
    """File name -> bytes for the whole transfer (not yet written). Raises :class:`XportError`
    with every conformance and cross-link problem found."""
    problems = check_all(datasets)
    if problems:
        raise XportError(problems)
    stamp = _utc_naive(created)
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    for ds in datasets:
        xpt_name, csv_name = f"{ds.file_stem}.xpt", f"{ds.file_stem}.csv"
        files[xpt_name] = encode_validated(ds, stamp)  # check_all above validated it
        files[csv_name] = write_csv(ds)
        entries.append(
            {
                "name": ds.name,
                "label": ds.label,
                "rows": len(ds.rows),
                "variables": len(ds.variables),
                "files": [xpt_name, csv_name],
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "studyid": studyid,
        "export_timestamp": stamp.isoformat() + "Z",
        "data_cutoff": data_cutoff.isoformat() if data_cutoff else None,
        "criteria_algorithm_version": criteria_version,
        "charter_version": charter_version,
        "audit_chain_head": audit_chain_head,
        "datasets": entries,
        "files": [vars(_file(name, content)) for name, content in sorted(files.items())],
        "censoring_rules": describe_rules(),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    files[MANIFEST_NAME] = text.encode("ascii")
    return files


def write_package(
    directory: Path,
    study: ExportStudy,
    *,
    created: dt.datetime,
    criteria_version: str,
    charter_version: str,
    audit_chain_head: str | None = None,
) -> dict[str, Any]:
    """Build TU, TR, RS, ADRS, ADTTE from ``study`` and write the transfer into ``directory``
    (created if missing; must be empty so no stale file rides along). Returns the manifest."""
    files = render_package(
        build_all(study),
        created=created,
        criteria_version=criteria_version,
        charter_version=charter_version,
        studyid=study.studyid,
        data_cutoff=study.data_cutoff,
        audit_chain_head=audit_chain_head,
    )
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty")
    for name, content in sorted(files.items()):
        (directory / name).write_bytes(content)
    manifest: dict[str, Any] = json.loads(files[MANIFEST_NAME])
    return manifest
