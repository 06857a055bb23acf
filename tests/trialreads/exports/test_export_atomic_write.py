"""A transfer appears all at once or not at all (issue 13, item 5), without a database: the
files are staged in a hidden sibling, checked, and renamed into place."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trialreads.exports.package import (
    TransferCheckError,
    leftovers,
    publish,
    stage_files,
    sweep_leftovers,
    write_files,
)

FILES = {"a.csv": b"1\n", "b.csv": b"2\n", "c.csv": b"3\n", "d.xpt": b"4" * 4096}

#: Writes FILES into argv[1], announces (argv[2]) once two files are on disk, then hangs
#: until it is killed.
_KILLED_WRITER = """
import json, sys, time
from pathlib import Path
from trialreads.exports import package

real = Path.write_bytes
written = []

def write_then_hang(self, data):
    n = real(self, data)
    written.append(self.name)
    if len(written) == 2:
        Path(sys.argv[2]).write_text(",".join(written))
        time.sleep(120)
    return n

Path.write_bytes = write_then_hang
files = {name: text.encode("latin-1") for name, text in json.loads(sys.argv[3]).items()}
package.write_files(Path(sys.argv[1]), files)
"""


def test_a_writer_killed_with_sigkill_leaves_no_transfer_and_the_next_write_cleans_up(tmp_path: Path) -> None:
    target, ready = tmp_path / "exports" / "7", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    files = json.dumps({name: content.decode("latin-1") for name, content in FILES.items()})
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target), str(ready), files], env=env)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert writer.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer never got half-way"
            time.sleep(0.05)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL

    # Half the files were on disk when it died: none of them is visible as the transfer.
    assert not target.exists()
    (left,) = leftovers(target)
    assert left.name.startswith(".7.staging-")
    assert sorted(p.name for p in left.iterdir()) == ready.read_text().split(",") == ["a.csv", "b.csv"]

    write_files(target, FILES)  # the next run

    assert {p.name: p.read_bytes() for p in target.iterdir()} == FILES
    assert leftovers(target) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["7"]


def test_an_exception_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.write_bytes

    def third_fails(self: Path, data: bytes) -> int:
        if self.name == "c.csv":
            raise OSError("No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", third_fails)
    with pytest.raises(OSError, match="No space"):
        write_files(tmp_path / "out", FILES)
    assert list(tmp_path.iterdir()) == []


def test_files_that_differ_on_disk_are_refused_before_they_are_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads the staged files back: a write that stored other bytes (a lying
    disk, a concurrent writer) is caught and nothing is published."""
    real = Path.write_bytes

    def corrupting(self: Path, data: bytes) -> int:
        return real(self, data[:-1] + b"X" if self.name == "b.csv" else data)

    monkeypatch.setattr(Path, "write_bytes", corrupting)
    with pytest.raises(TransferCheckError, match=r"b\.csv"):
        write_files(tmp_path / "out", FILES)
    assert list(tmp_path.iterdir()) == []


def test_a_manifest_that_does_not_match_its_files_is_refused(tmp_path: Path) -> None:
    manifest = b'{"files": [{"path": "a.csv", "sha256": "' + b"0" * 64 + b'", "bytes": 2}]}'
    with pytest.raises(TransferCheckError, match=r"a\.csv: does not match its manifest entry"):
        stage_files(tmp_path / "out", {"a.csv": b"1\n", "manifest.json": manifest})
    assert list(tmp_path.iterdir()) == []


def test_publish_swaps_out_a_previous_copy_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "9"
    target.mkdir()
    (target / "stale.csv").write_bytes(b"old")
    staging = stage_files(target, FILES)
    with pytest.raises(FileExistsError):
        publish(staging, target)
    assert [p.name for p in target.iterdir()] == ["stale.csv"] and staging.is_dir()

    publish(staging, target, replace=True)

    assert {p.name: p.read_bytes() for p in target.iterdir()} == FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["9"]


def test_sweep_removes_only_the_leftovers_of_that_folder(tmp_path: Path) -> None:
    for name in (".3.staging-abc", ".3.old-def", ".31.staging-ghi", "3", "30"):
        (tmp_path / name).mkdir()
    assert sweep_leftovers(tmp_path / "3") == [".3.old-def", ".3.staging-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".31.staging-ghi", "3", "30"]
