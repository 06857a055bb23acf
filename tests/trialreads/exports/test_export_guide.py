"""Issue 18 item 5 (part): the transfer carries a short reviewer's guide, listed in the manifest."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import export_fixtures as fx

from trialreads.exports.datasets import Evaluator
from trialreads.exports.guide import GUIDE_NAME
from trialreads.exports.package import MANIFEST_NAME, render_study

CREATED = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)


def _files(parallel: bool) -> dict[str, bytes]:
    subject = fx.subject(accepted=Evaluator.RADIOLOGIST_2, adjudicated=True)
    read = subject.reads[0]
    week6 = dataclasses.replace(read.timepoints[1], dtc="2024-02")
    read = dataclasses.replace(read, timepoints=(read.timepoints[0], week6, *read.timepoints[2:]))
    subject = dataclasses.replace(subject, reads=(read, *subject.reads[1:]))
    return render_study(
        fx.study(subject), created=CREATED, criteria_version="crit-1", charter_version="3", parallel=parallel
    )


def test_guide_is_in_the_transfer_and_the_manifest() -> None:
    files = _files(parallel=False)
    guide = files[GUIDE_NAME]
    text = guide.decode("ascii")
    manifest = json.loads(files[MANIFEST_NAME])
    entry = next(f for f in manifest["files"] if f["path"] == GUIDE_NAME)
    assert entry["sha256"] == hashlib.sha256(guide).hexdigest()
    assert "Criteria algorithm version: crit-1; charter version 3" in text
    assert "Adjudicated subjects in this transfer: 1." in text
    assert "reader visits with a partial date in this transfer: 1)" in text
    for ds in manifest["datasets"]:
        assert f"{ds['name']:<6} {ds['label']} ({ds['rows']} records" in text
    assert "--DY: left out" in text and "EPOCH: left out" in text and "CNSR 0:" in text
    # The charter's rule for partial dates, and the visits each rule imputed (issue 18 item 1).
    assert "by the charter's rule (nominal)" in text and "Reader visits imputed, by rule: nominal 1." in text
    # The same bytes whichever way the transfer is made.
    assert _files(parallel=True) == files
