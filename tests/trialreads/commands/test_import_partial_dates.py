"""Issue 18 item 1: SDTM --DTC as collected, ADaM ADT imputed by the trial's rule with ADTF.

pharmaversesdtm 01-701-1015 WEEK 6 has TRDTC ``2014-02`` (both readers). The old export
wrote the imputed ``2014-02-13`` into TRDTC and RSDTC and gave ADRS ADT without a flag; now
SDTM keeps ``2014-02`` and ADRS has ADT 2014-02-28 with ADTF = D under ``last`` (the
pharmaverse ADaM's date), 2014-02-13 under the former ``nominal`` rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyreadstat
import pytest

from trialreads.exports import dates
from trialreads.exports.xpt import write_xport
from trialreads.management.commands.import_sdtm import import_sdtm
from trialreads.models import ImagingTimepoint
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services

DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "pharmaversesdtm"
SUBJECT, VISIT = "01-701-1015", "WEEK 6"


@pytest.mark.parametrize(
    ("text", "rule", "after", "expected"),
    [
        ("2014-02", "first", None, (dt.date(2014, 2, 1), "D")),
        ("2014-02", "mid", None, (dt.date(2014, 2, 15), "D")),
        ("2014-02", "last", None, (dt.date(2014, 2, 28), "D")),
        ("2016-02", "last", None, (dt.date(2016, 2, 29), "D")),
        ("2014-12", "last", None, (dt.date(2014, 12, 31), "D")),
        ("2014", "mid", None, (dt.date(2014, 6, 30), "M")),
        ("2014", "first", None, (dt.date(2014, 1, 1), "M")),
        ("2014-02", "first", dt.date(2014, 2, 10), (dt.date(2014, 2, 11), "D")),  # after the previous visit
        ("2014-02-05", "last", None, (dt.date(2014, 2, 5), "")),  # a full date is never moved
    ],
)
def test_imputation_rules(text: str, rule: str, after: dt.date | None, expected: tuple[dt.date, str]) -> None:
    assert dates.impute(text, rule, after=after) == expected


def test_nominal_rule_and_bad_input() -> None:
    assert dates.impute("2014-02", "nominal", nominal=dt.date(2014, 2, 13)) == (dt.date(2014, 2, 13), "D")
    assert dates.impute("2014-02", "nominal", nominal=dt.date(2014, 3, 13)) == (dt.date(2014, 2, 1), "D")
    for bad in ("2014-13", "14-02", "2014-02-30", ""):
        with pytest.raises(dates.DateError):
            dates.period(bad)
    with pytest.raises(dates.DateError, match="unknown imputation rule"):
        dates.impute("2014-02", "latest")


@pytest.mark.django_db
@pytest.mark.slow
def test_partial_date_kept_in_sdtm_and_imputed_in_adam(tmp_path: Path) -> None:
    trial, summary = import_sdtm(DATA, date_imputation="last")
    assert summary["date_imputation"] == "last"
    tp = ImagingTimepoint.objects.get(subject__trial=trial, subject__subject_code=SUBJECT, visit_label=VISIT)
    assert (tp.scan_date_collected, tp.scan_date_imputation) == ("2014-02", "last")
    assert tp.scan_date_earliest == tp.scan_date_latest == dt.date(2014, 2, 28)

    job = endpoint_services.endpoints_compute(trial_id=trial.pk, requested_by="test").job
    build = export_services.build_study(job)
    datasets = {ds.name: ds for ds in export_services.build_datasets(build.study)}
    week6 = [r for r in datasets["TR"].rows if r["USUBJID"] == SUBJECT and r["VISIT"] == VISIT]
    assert week6 and {r["TRDTC"] for r in week6 if r["TRTESTCD"] != "SUMDIAM"} == {"2014-02"}
    rs6 = [r for r in datasets["RS"].rows if r["USUBJID"] == SUBJECT and r["VISIT"] == VISIT]
    assert rs6 and {r["RSDTC"] for r in rs6} == {"2014-02"}
    # Every full collected date is still written in full.
    assert all(
        len(str(r["TRDTC"])) == 10 for r in datasets["TR"].rows if r["TRDTC"] and r["VISIT"] != VISIT
    )
    ovr = [
        r for r in datasets["ADRS"].rows
        if r["USUBJID"] == SUBJECT and r["AVISIT"] == VISIT and r["PARAMCD"] == "OVR"
    ]  # fmt: skip
    assert [(r["ADT"], r["ADTF"]) for r in ovr] == [(dt.date(2014, 2, 28), "D")]
    assert all(r["ADTF"] is None for r in datasets["ADRS"].rows if r["AVISIT"] not in (VISIT, None))

    # Read back from the XPT files (pyreadstat): the partial text and the flag survive.
    for name in ("TR", "RS", "ADRS"):
        (tmp_path / f"{name.lower()}.xpt").write_bytes(
            write_xport(datasets[name], build.as_of.replace(tzinfo=None))
        )
    tr, _ = pyreadstat.read_xport(str(tmp_path / "tr.xpt"), output_format="dict")
    assert "2014-02" in set(tr["TRDTC"])
    adrs, _ = pyreadstat.read_xport(str(tmp_path / "adrs.xpt"), output_format="dict")
    flagged = [
        (adrs["ADT"][i], adrs["ADTF"][i]) for i in range(len(adrs["USUBJID"]))
        if adrs["USUBJID"][i] == SUBJECT and adrs["AVISIT"][i] == VISIT and adrs["PARAMCD"][i] == "OVR"
    ]  # fmt: skip
    assert flagged == [(dt.date(2014, 2, 28), "D")]


@pytest.mark.django_db
@pytest.mark.slow
def test_the_charters_rule_is_the_imports_default_and_the_option_overrides_it() -> None:
    """The charter's ``date_imputation`` decides the engine's date and ADaM ADT; the import's
    ``--date-imputation`` still overrides it for the import, the charter keeping its rule."""
    trial, summary = import_sdtm(DATA, charter_date_imputation="last")
    assert (summary["date_imputation"], summary["charter_date_imputation"]) == ("last", "last")
    tp = ImagingTimepoint.objects.get(subject__trial=trial, subject__subject_code=SUBJECT, visit_label=VISIT)
    assert (tp.scan_date_imputation, tp.scan_date_latest) == ("last", dt.date(2014, 2, 28))
    job = endpoint_services.endpoints_compute(trial_id=trial.pk, requested_by="test").job
    build = export_services.build_study(job)
    assert build.study.date_imputation == "last"
    adrs = {ds.name: ds for ds in export_services.build_datasets(build.study)}["ADRS"]
    ovr = [r for r in adrs.rows if r["USUBJID"] == SUBJECT and r["AVISIT"] == VISIT and r["PARAMCD"] == "OVR"]
    assert [(r["ADT"], r["ADTF"]) for r in ovr] == [(dt.date(2014, 2, 28), "D")]

    other, summary = import_sdtm(
        DATA, trial_code="PILOT-MID", charter_date_imputation="last", date_imputation="mid"
    )
    assert (summary["date_imputation"], summary["charter_date_imputation"]) == ("mid", "last")
    tp = ImagingTimepoint.objects.get(subject__trial=other, subject__subject_code=SUBJECT, visit_label=VISIT)
    assert (tp.scan_date_imputation, tp.scan_date_latest) == ("mid", dt.date(2014, 2, 15))
