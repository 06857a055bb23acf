"""Issue 18 items 3 and 4 through ``import_sdtm``: the subject dates from DM / DS, and --DY and
EPOCH in the transfer exactly when the sponsor gave the reference start date and epochs.

Before: STARTDT silently fell back to the screening scan date, TU/TR/RS had no --DY or EPOCH
and ADTTE's SRCDOM named an ADSL that was not delivered."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from trialreads.management.commands.import_sdtm import import_sdtm
from trialreads.models import Subject, Trial
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services
from trialreads.services import trials as trial_services

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "pharmaversesdtm"


def _folder(tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def _datasets(trial: Trial) -> dict[str, object]:
    job = endpoint_services.endpoints_compute(trial_id=trial.pk, requested_by="test").job
    return {ds.name: ds for ds in export_services.build_datasets(export_services.build_study(job).study)}


def test_without_dm_and_ds_the_randomisation_falls_back_and_dy_epoch_are_left_out(tmp_path: Path) -> None:
    trial, summary = import_sdtm(_folder(tmp_path, "tu_onco_recist.csv", "tr_onco_recist.csv"))
    assert set(summary["subject_dates"].values()) == {0}
    subject = Subject.objects.get(trial=trial, subject_code="01-701-1015")
    assert subject.reference_start_date is None and subject.first_dose_date is None
    datasets = _datasets(trial)
    for name in ("TU", "TR", "RS"):
        names = {var.name for var in datasets[name].variables}  # type: ignore[attr-defined]
        assert "EPOCH" not in names and f"{name}DY" not in names
    adsl = datasets["ADSL"].rows  # type: ignore[attr-defined]
    assert {r["RFSTDTC"] for r in adsl} == {None} and len(adsl) == 8


def test_with_dm_ds_and_the_charters_epochs_tr_has_study_days_and_epochs(tmp_path: Path) -> None:
    trial, _ = import_sdtm(DATA)
    manager = Trial.objects.get(pk=trial.pk).charters.get().created_by
    trial_services.charter_publish(
        trial_id=trial.pk, changes={"epoch_rule": "screening_treatment"},
        effective_from=dt.date(2014, 12, 31), reason="the sponsor's epochs", actor=manager,
    )  # fmt: skip
    tr = _datasets(trial)["TR"]
    names = [var.name for var in tr.variables]  # type: ignore[attr-defined]
    assert names[-4:] == ["VISIT", "EPOCH", "TRDTC", "TRDY"]
    rows = [
        r for r in tr.rows  # type: ignore[attr-defined]
        if r["USUBJID"] == "01-701-1015" and r["TREVALID"] == "RADIOLOGIST 1" and r["TRTESTCD"] != "SUMDIAM"
    ]  # fmt: skip
    # RFSTDTC 2014-01-02 (DM): the screening scan that day is day 1 (the rule: TREATMENT on
    # and after RFSTDTC), week 3 day 22.
    screening = {(r["TRDTC"], r["TRDY"], r["EPOCH"]) for r in rows if r["VISIT"] == "SCREENING"}
    assert screening == {("2014-01-02", 1, "TREATMENT")}
    week3 = {(r["TRDTC"], r["TRDY"], r["EPOCH"]) for r in rows if r["VISIT"] == "WEEK 3"}
    assert week3 == {("2014-01-23", 22, "TREATMENT")}
    # WEEK 6 was collected as 2014-02: no study day, the whole month after RFSTDTC.
    assert {(r["TRDY"], r["EPOCH"]) for r in rows if r["VISIT"] == "WEEK 6"} == {(None, "TREATMENT")}
    week9 = {(r["TRDTC"], r["TRDY"], r["EPOCH"]) for r in rows if r["VISIT"] == "WEEK 9"}
    assert week9 == {("2014-03-06", 64, "TREATMENT")}


def test_a_partial_dm_date_is_refused_naming_file_line_and_variable(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "tu_onco_recist.csv", "tr_onco_recist.csv", "ds.csv")
    full, partial = '"2014-01-02","2014-07-02","2014-01-02"', '"2014-01","2014-07-02","2014-01-02"'
    text = (DATA / "dm.csv").read_text(encoding="utf-8").replace(full, partial, 1)
    (folder / "dm.csv").write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        import_sdtm(folder)
    assert caught.value.returncode == 2 and "dm.csv line 2: RFSTDTC" in str(caught.value)
    assert not Trial.objects.exists()
