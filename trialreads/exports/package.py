"""A complete sponsor transfer on disk: every dataset as ``.xpt`` and ``.csv`` plus ``manifest.json``.

Byte-determinism is the point: the same input gives the same bytes in every file, so a
transfer can be re-derived and compared by SHA-256 (reliability-tests §10.8). Hence no wall
clock (the export timestamp is a parameter), sorted JSON keys, ``\\n`` line endings, a fixed
number format in CSV, and ASCII enforced rather than assumed. Everything is rendered in
memory and checked first, so a failing export writes nothing; the files then go to a hidden
staging sibling, are read back and checked again, and the folder is renamed into place in
one step (:func:`write_files`), so a writer killed at any point leaves no partial transfer.

Files: ``<name>.xpt`` and ``<name>.csv`` (lower-case dataset name; FDA TCG dataset name = file
name), ``define.xml`` (Define-XML 2.1, :mod:`trialreads.exports.define`) and the reviewer's
guide for a study's transfer, ``manifest.json`` with size and SHA-256 of every other file, row
and variable counts, the criteria algorithm version, charter version, data cut-off, the
censoring rule table, per criterion of the transfer its RSCAT, parameter codes and PFS
censoring table, and, when given, the head of the audit hash chain at export time.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from trialreads.exports.censoring import describe_rules
from trialreads.exports.datasets import (
    ExportStudy,
    build_response_domains,
    build_transfer,
    build_tumour_domains,
    decimal_text,
)
from trialreads.exports.define import DEFINE_NAME, DatasetFacts, DefineContext, dataset_facts, define_xml
from trialreads.exports.guide import GUIDE_NAME, GuideFacts, criteria_metadata, guide_facts, reviewers_guide
from trialreads.exports.spec import Dataset, Value
from trialreads.exports.table import Table, tabulate
from trialreads.exports.validate import (
    Problem,
    check_accepted_flags,
    check_all,
    check_tumour_links,
    link_groups,
)
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


def _csv_column(table: Table, index: int) -> Sequence[Value]:
    """Column ``index`` ready for ``csv.writer``: strings and ``None`` (written blank) pass
    through; a column of one other type maps its distinct values (the table's, computed
    once for the validator too) through :func:`csv_cell` (equal values of one type have the
    same text: ``decimal_text`` is canonical); a mixed column goes cell by cell."""
    column = table.columns[index]
    types = table.types(index) - {str, type(None)}
    if not types:
        return column
    if len(types) == 1:
        text = {value: csv_cell(value) for value in table.distinct(index)}
        return list(map(text.__getitem__, column))
    return [v if type(v) is str else csv_cell(v) for v in column]


def _csv_fields(column: Sequence[Value]) -> Sequence[str] | None:
    """A column of strings and ``None`` (:func:`_csv_column`) as CSV fields, quoted exactly
    where ``csv.QUOTE_MINIMAL`` quotes (a comma or a double quote; quotes doubled); ``None``
    when a value holds a line break, which is left to the ``csv`` module."""
    fields: dict[Value, str] = {}
    for value in set(column):
        text = "" if value is None else str(value)
        if "\r" in text or "\n" in text:
            return None
        fields[value] = '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text
    if all(key is not None and key == text for key, text in fields.items()):
        return column  # type: ignore[return-value]  # strings only, none needs quoting
    return list(map(fields.__getitem__, column))


def write_csv(dataset: Dataset, table: Table | None = None) -> bytes:
    """Header row of variable names, then the rows; ``\\n`` endings, minimal quoting, ASCII.

    With every row complete (a :class:`Table`) and at least two variables, the lines are
    joined directly from the columns' quoted fields: the same bytes as ``csv.writer`` (a
    test compares them), about three times faster over the hundreds of thousands of rows of
    an export. Otherwise, and for a value with a line break, ``csv.writer`` writes them."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    names = [var.name for var in dataset.variables]
    writer.writerow(names)
    if table is None:
        table = tabulate(dataset)
    if table is None:  # rows with missing or extra keys: missing cells are blank
        writer.writerows([csv_cell(row.get(name)) for name in names] for row in dataset.rows)
    elif table.nrows:
        columns = [_csv_column(table, index) for index in range(len(table.columns))]
        fields = [_csv_fields(column) for column in columns] if len(names) > 1 else [None]
        if all(f is not None for f in fields):
            lines = map(",".join, zip(*fields, strict=True))
            buffer.write("\n".join(lines) + "\n")
        else:
            # One empty field alone on a row is written as "" by csv (not a blank line).
            writer.writerows(zip(*columns, strict=True))
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


@dataclass(frozen=True)
class RenderedDataset:
    """One dataset's files and manifest entry."""

    name: str
    label: str
    file_stem: str
    rows: int
    variables: int
    xpt: bytes
    csv: bytes
    facts: DatasetFacts  # what define.xml says of it (variables, lengths, codelists, value levels)


def _render(ds: Dataset, stamp: dt.datetime, table: Table | None) -> RenderedDataset:
    """XPT and CSV bytes of a dataset that has been validated, and its Define-XML facts."""
    return RenderedDataset(
        ds.name,
        ds.label,
        ds.file_stem,
        len(ds.rows),
        len(ds.variables),
        encode_validated(ds, stamp, table=table),
        write_csv(ds, table),
        dataset_facts(ds, table),
    )


def _assemble(
    rendered: Sequence[RenderedDataset],
    *,
    stamp: dt.datetime,
    criteria_version: str,
    charter_version: str,
    studyid: str,
    data_cutoff: dt.date | None,
    audit_chain_head: str | None,
    facts: GuideFacts | None = None,
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    for ds in rendered:
        xpt_name, csv_name = f"{ds.file_stem}.xpt", f"{ds.file_stem}.csv"
        files[xpt_name] = ds.xpt
        files[csv_name] = ds.csv
        entries.append(
            {
                "name": ds.name,
                "label": ds.label,
                "rows": ds.rows,
                "variables": ds.variables,
                "files": [xpt_name, csv_name],
            }
        )
    if facts is not None:  # a study's transfer (render_study): with define.xml and the reviewer's guide
        files[DEFINE_NAME] = define_xml(
            [ds.facts for ds in rendered],
            DefineContext(
                studyid=studyid,
                created=stamp,
                criteria_version=criteria_version,
                charter_version=charter_version,
                criteria=facts.criteria,
                settings=facts.settings,
                date_imputation=facts.date_imputation,
                epoch_rule=facts.epoch_rule,
                data_cutoff=data_cutoff,
            ),
        )
        files[GUIDE_NAME] = reviewers_guide(
            [(ds.name, ds.label, ds.file_stem, ds.rows, ds.variables) for ds in rendered],
            facts,
            studyid=studyid,
            criteria_version=criteria_version,
            charter_version=charter_version,
            data_cutoff=data_cutoff,
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
    if facts is not None:  # per criterion: RSCAT, parameter codes, its PFS censoring table
        manifest["criteria"] = criteria_metadata(facts.criteria)
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    files[MANIFEST_NAME] = text.encode("ascii")
    return files


def render_package(
    datasets: Sequence[Dataset],
    *,
    created: dt.datetime,
    criteria_version: str,
    charter_version: str,
    studyid: str,
    data_cutoff: dt.date | None = None,
    audit_chain_head: str | None = None,
    facts: GuideFacts | None = None,
) -> dict[str, bytes]:
    """File name -> bytes for the whole transfer (not yet written). Raises :class:`XportError`
    with every conformance and cross-link problem found. With ``facts`` (a study's transfer)
    it includes the reviewer's guide (:mod:`trialreads.exports.guide`), listed in the manifest."""
    tables = {ds.name: tabulate(ds) for ds in datasets}
    problems = check_all(datasets, tables)
    if problems:
        raise XportError(problems)
    stamp = _utc_naive(created)
    return _assemble(
        [_render(ds, stamp, tables[ds.name]) for ds in datasets],
        stamp=stamp,
        criteria_version=criteria_version,
        charter_version=charter_version,
        studyid=studyid,
        data_cutoff=data_cutoff,
        audit_chain_head=audit_chain_head,
        facts=facts,
    )


# --- one study on two cores ----------------------------------------------------------

#: The study a forked half reads (inherited through ``fork``, never pickled).
_FORK_STUDY: tuple[ExportStudy, dt.datetime] | None = None


@dataclass(frozen=True)
class _Half:
    """What a half of the transfer hands back: its files, its own problems, and the link
    groups the other half needs (RS groups must exist in TR)."""

    rendered: tuple[RenderedDataset, ...]
    problems: tuple[Problem, ...]
    groups: frozenset[tuple[Value, Value]]


def _tumour_half(study: ExportStudy, stamp: dt.datetime) -> _Half:
    datasets = build_tumour_domains(study)
    tu, tr = datasets[0], datasets[1]
    tables = {ds.name: tabulate(ds) for ds in datasets}
    problems = check_all(datasets, tables) + check_tumour_links(tu, tr, tables)
    rendered = () if problems else tuple(_render(ds, stamp, tables[ds.name]) for ds in datasets)
    return _Half(rendered, tuple(problems), frozenset(link_groups(tr, "TRLNKGRP", tables)))


def _response_half(study: ExportStudy, stamp: dt.datetime) -> _Half:
    datasets = build_response_domains(study)
    rs = datasets[0]
    tables = {ds.name: tabulate(ds) for ds in datasets}
    problems = check_all(datasets, tables) + check_accepted_flags(rs, tables)
    rendered = () if problems else tuple(_render(ds, stamp, tables[ds.name]) for ds in datasets)
    return _Half(rendered, tuple(problems), frozenset(link_groups(rs, "RSLNKGRP", tables)))


def _forked_tumour_half() -> str:
    """Run in the forked process: the tumour half, pickled to a temporary file whose path
    is returned. Handing 100+ MB back through the pool's result pipe was measured at about
    0.8 s at 2000 subjects, with the parent's receiving thread competing for the GIL; a
    file in the page cache is written and read back in about a tenth of that."""
    assert _FORK_STUDY is not None
    half = _tumour_half(*_FORK_STUDY)
    with tempfile.NamedTemporaryFile("wb", prefix="trialreads-", suffix=".pickle", delete=False) as out:
        pickle.dump(half, out, protocol=pickle.HIGHEST_PROTOCOL)
    return out.name


def _load_half(path: str) -> _Half:
    try:
        with open(path, "rb") as stream:
            half = pickle.load(stream)  # noqa: S301 - our own forked process wrote it just now
    finally:
        os.unlink(path)
    assert isinstance(half, _Half)
    return half


def render_study(
    study: ExportStudy,
    *,
    created: dt.datetime,
    criteria_version: str,
    charter_version: str,
    audit_chain_head: str | None = None,
    parallel: bool = False,
) -> dict[str, bytes]:
    """:func:`render_package` of the study's datasets (:func:`build_transfer`), the same bytes.

    With ``parallel`` (where ``fork`` exists) the transfer is made in two halves at once:
    a forked process builds, checks and encodes TU and TR while this one does RS, ADRS and
    ADTTE (the ADaM datasets derive from RS). Each half checks its own datasets and links;
    the one link between them (every RS link group has TR records) is checked here. When
    anything is wrong, the whole transfer is rendered again in one process so that the
    :class:`XportError` lists every problem with its row, exactly as :func:`render_package`.
    """
    global _FORK_STUDY
    stamp = _utc_naive(created)
    common: dict[str, Any] = {
        "criteria_version": criteria_version,
        "charter_version": charter_version,
        "studyid": study.studyid,
        "data_cutoff": study.data_cutoff,
        "audit_chain_head": audit_chain_head,
        "facts": guide_facts(study),
    }
    if not parallel or "fork" not in multiprocessing.get_all_start_methods():
        return render_package(build_transfer(study), created=created, **common)
    _FORK_STUDY = (study, stamp)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            pending = pool.apply_async(_forked_tumour_half)
            try:
                responses = _response_half(study, stamp)
            finally:  # wait for the child even when this half failed, to remove its file
                tumours = _load_half(pending.get())
    finally:
        _FORK_STUDY = None
    if tumours.problems or responses.problems or not responses.groups <= tumours.groups:
        return render_package(build_transfer(study), created=created, **common)
    return _assemble((*tumours.rendered, *responses.rendered), stamp=stamp, **common)


#: Hidden siblings of a transfer folder ``<name>``: ``.<name>.staging-*`` while it is written,
#: ``.<name>.old-*`` while a previous copy is swapped out. Same parent, so the same
#: filesystem: the rename that publishes a transfer is atomic.
STAGING_INFIX = ".staging-"
OLD_INFIX = ".old-"


def leftovers(directory: Path) -> list[Path]:
    """Staging and swapped-out siblings of ``directory`` that a writer left behind."""
    if not directory.parent.is_dir():
        return []
    prefixes = (f".{directory.name}{STAGING_INFIX}", f".{directory.name}{OLD_INFIX}")
    return sorted(p for p in directory.parent.iterdir() if p.name.startswith(prefixes))


def sweep_leftovers(directory: Path) -> list[str]:
    """Remove what a killed writer of ``directory`` left (:func:`leftovers`); their names.
    Only for the one writer of ``directory`` (export batches: the lease holder)."""
    removed = []
    for path in leftovers(directory):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def _fsync(path: Path) -> None:
    # A directory (or a file) opened read-only can be fsynced on POSIX; Windows cannot
    # open a directory, and its renames are not durable this way anyway.
    try:
        fd = os.open(path, os.O_RDONLY)
    except (IsADirectoryError, PermissionError):
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TransferCheckError(Exception):
    """The files on disk are not the transfer that was rendered."""


def check_transfer(directory: Path, files: Mapping[str, bytes]) -> None:
    """The folder holds exactly ``files``, byte for byte (size and SHA-256 read back from
    disk), and every entry of its ``manifest.json`` (when there is one) matches the file
    it names. Raises :class:`TransferCheckError` naming each difference."""
    problems: list[str] = []
    on_disk = {p.name for p in directory.iterdir()}
    if on_disk != set(files):
        problems.append(f"files {sorted(on_disk ^ set(files))} differ from the transfer")
    for name, content in sorted(files.items()):
        path = directory / name
        if path.is_file() and path.read_bytes() != content:
            problems.append(f"{name}: content on disk differs from the rendered bytes")
    if MANIFEST_NAME in files:
        for entry in json.loads(files[MANIFEST_NAME]).get("files", []):
            listed = files.get(entry["path"])
            if listed is None or (len(listed), hashlib.sha256(listed).hexdigest()) != (
                entry["bytes"],
                entry["sha256"],
            ):
                problems.append(f"{entry['path']}: does not match its manifest entry")
    if problems:
        raise TransferCheckError("; ".join(problems))


def stage_files(directory: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` into a new hidden sibling of ``directory`` (:data:`STAGING_INFIX`),
    flush each to disk, check them (:func:`check_transfer`) and return the staging folder,
    ready for :func:`publish`. On any failure the staging folder is removed."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}{STAGING_INFIX}", dir=directory.parent))
    try:
        for name, content in sorted(files.items()):
            (staging / name).write_bytes(content)
            _fsync(staging / name)
        check_transfer(staging, files)
        _fsync(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def publish(staging: Path, directory: Path, *, replace: bool = False) -> None:
    """Move the staged transfer to ``directory`` with one atomic rename. A missing or empty
    ``directory`` is taken; a non-empty one raises :class:`FileExistsError` unless
    ``replace``, in which case the old copy is first renamed away (atomic too: readers see
    the old transfer or, for that instant, none, never a mix) and then removed."""
    old: Path | None = None
    if directory.exists():
        if any(directory.iterdir()):
            if not replace:
                raise FileExistsError(f"{directory} is not empty")
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}{OLD_INFIX}", dir=directory.parent))
            os.replace(directory, old / directory.name)
        else:
            directory.rmdir()  # os.replace cannot replace a directory
    os.replace(staging, directory)
    _fsync(directory.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into ``directory`` (created if missing; must be empty, so no stale file
    rides along) all or nothing: :func:`stage_files` then :func:`publish`. A writer killed
    on the way leaves at most a hidden staging sibling, never a partial ``directory``; the
    next write of the same ``directory`` removes it (:func:`sweep_leftovers`)."""
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty")
    sweep_leftovers(directory)
    staging = stage_files(directory, files)
    try:
        publish(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_package(
    directory: Path,
    study: ExportStudy,
    *,
    created: dt.datetime,
    criteria_version: str,
    charter_version: str,
    audit_chain_head: str | None = None,
    parallel: bool = False,
) -> dict[str, Any]:
    """Build TU, TR, RS, ADRS, ADTTE from ``study`` and write the transfer into ``directory``
    (:func:`write_files`: all files or none). Returns the manifest."""
    files = render_study(
        study,
        created=created,
        criteria_version=criteria_version,
        charter_version=charter_version,
        audit_chain_head=audit_chain_head,
        parallel=parallel,
    )
    write_files(directory, files)
    manifest: dict[str, Any] = json.loads(files[MANIFEST_NAME])
    return manifest
