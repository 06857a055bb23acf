"""Investigator (site) responses from SDTM RS -> InvestigatorAssessment, for EDR/LDR.
Expected rows read by hand from the pharmaversesdtm ``rs_onco_recist.csv`` INVESTIGATOR
records (fixtures in ``tests/data/pharmaversesdtm``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.conftest import make_subject_with_reads
from trialreads.errors import ValidationError
from trialreads.models import InvestigatorAssessment
from trialreads.services.adjudication import InvestigatorRow, investigator_rows_from_rs

RS = Path(__file__).resolve().parents[3] / "tests" / "data" / "pharmaversesdtm" / "rs_onco_recist.csv"


def test_rows_from_pharmaverse_rs() -> None:
    with RS.open(newline="", encoding="utf-8") as handle:
        rows = investigator_rows_from_rs(csv.DictReader(handle))
    assert rows == [
        InvestigatorRow("01-701-1015", None, "CR"),
        InvestigatorRow("01-701-1028", dt.date(2013, 8, 30), "SD"),  # SD, PD, SD
        InvestigatorRow("01-701-1034", None, "NON-CR/NON-PD"),
        InvestigatorRow("01-701-1097", None, "NON-CR/NON-PD"),
        InvestigatorRow("01-701-1115", None, "CR"),
        InvestigatorRow("01-701-1118", None, "PR"),
        InvestigatorRow("01-701-1130", dt.date(2014, 4, 19), "SD"),
        InvestigatorRow("01-701-1133", dt.date(2012, 12, 30), "CR"),  # PR, CR, PD
    ]


def test_partial_progression_date_is_imputed_to_the_earliest_day() -> None:
    rs = [
        {"USUBJID": "X", "RSEVAL": "INVESTIGATOR", "RSTESTCD": "OVRLRESP", "RSSTRESC": "PD",
         "RSDTC": "2014-02"},
        {"USUBJID": "X", "RSEVAL": "INDEPENDENT ASSESSOR", "RSTESTCD": "OVRLRESP", "RSSTRESC": "PD",
         "RSDTC": "2013-01-01"},
    ]
    assert investigator_rows_from_rs(rs) == [InvestigatorRow("X", dt.date(2014, 2, 1), "PD")]
    with pytest.raises(ValidationError):
        investigator_rows_from_rs([{**rs[0], "RSDTC": "20xx"}])


@pytest.mark.django_db
def test_command_imports_the_trial_subjects(trial: Any, manager: Any, reader_a: Any, reader_b: Any) -> None:
    make_subject_with_reads(trial, manager, (reader_a, reader_b), code="01-701-1028")
    out = io.StringIO()
    call_command("import_investigator_rs", trial=trial.code, file=str(RS), stdout=out)
    assessment = InvestigatorAssessment.objects.get()
    assert (assessment.subject.subject_code, assessment.pd_date) == ("01-701-1028", dt.date(2013, 8, 30))
    assert assessment.source == "rs_onco_recist.csv"
    assert "1 subjects" in out.getvalue()
