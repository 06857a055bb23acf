"""A hand-built BICR subject: two radiologists, a RECIST 1.1 and an iRECIST result each.

Reader 1 sees a new lesion at week 12 (PD / iUPD); reader 2 sees a continuing partial
response. Each follow-up has two image dates (chest CT the day before the abdomen), so the
RSDTC earliest/latest convention is visible. The accepted evaluator is a parameter.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from criteria.types import IRECIST, RECIST11, CriterionResult, Pfs, TimepointResult
from trialreads.exports.datasets import (
    Evaluator,
    ExportLesion,
    ExportStudy,
    ExportSubject,
    LesionResult,
    LesionRole,
    MeasurementStatus,
    ReaderRead,
    ReaderTimepoint,
)

STUDYID = "TR-ONC-001"
USUBJID = "TR-ONC-001-0001"
RANDOMISED = dt.date(2024, 1, 8)
BASELINE = dt.date(2024, 1, 5)
WEEK6 = dt.date(2024, 2, 21)
WEEK6_FIRST_IMAGE = dt.date(2024, 2, 20)
WEEK12 = dt.date(2024, 4, 3)
WEEK12_FIRST_IMAGE = dt.date(2024, 4, 2)

TARGET, NON_TARGET, NEW = LesionRole.TARGET, LesionRole.NON_TARGET, LesionRole.NEW
R1, R2, ADJ = Evaluator.RADIOLOGIST_1, Evaluator.RADIOLOGIST_2, Evaluator.ADJUDICATOR


def measured(lesion_id: str, value: str, image: dt.date | None = None) -> LesionResult:
    return LesionResult(lesion_id, MeasurementStatus.MEASURED, mm=Decimal(value), image_date=image)


def state(lesion_id: str, value: str, image: dt.date | None = None) -> LesionResult:
    return LesionResult(lesion_id, state=value, image_date=image)


def tpr(date: dt.date, target: str, non_target: str, new: str, overall: str) -> TimepointResult:
    return TimepointResult(date=date, target=target, non_target=non_target, new_lesions=new, overall=overall)


def reader1() -> ReaderRead:
    lesions = (
        ExportLesion("T01", TARGET, "LIVER", refid="IMG-1001"),
        ExportLesion("T02", TARGET, "LYMPH NODE", nodal=True, laterality="LEFT"),
        ExportLesion("NT01", NON_TARGET, "BONE", method="MRI"),
        ExportLesion("NEW01", NEW, "LUNG"),
    )
    timepoints = (
        ReaderTimepoint(
            1,
            "SCREENING",
            BASELINE,
            (measured("T01", "30.0"), measured("T02", "18.0"), state("NT01", "PRESENT")),
            baseline=True,
        ),
        ReaderTimepoint(
            2,
            "WEEK 6",
            WEEK6,
            (
                measured("T01", "20.0", WEEK6_FIRST_IMAGE),
                LesionResult("T02", MeasurementStatus.TOO_SMALL),
                state("NT01", "PRESENT"),
            ),
        ),
        ReaderTimepoint(
            3,
            "WEEK 12",
            WEEK12,
            (
                measured("T01", "25.0", WEEK12_FIRST_IMAGE),
                measured("T02", "12.0"),
                state("NT01", "PRESENT"),
                state("NEW01", "PRESENT"),
            ),
        ),
    )
    recist = CriterionResult(
        criterion=RECIST11,
        timepoints=(
            tpr(WEEK6, "PR", "NON-CR/NON-PD", "NO", "PR"),
            tpr(WEEK12, "SD", "NON-CR/NON-PD", "YES", "PD"),
        ),
        bor="PR",
        bor_date=WEEK6,
        bor_confirmed="SD",
        pfs=Pfs(event=True, date=WEEK12_FIRST_IMAGE, reason="PD"),
    )
    irecist = CriterionResult(
        criterion=IRECIST,
        timepoints=(
            tpr(WEEK6, "iPR", "NON-iCR/NON-iUPD", "NO", "iPR"),
            tpr(WEEK12, "iSD", "NON-iCR/NON-iUPD", "YES", "iUPD"),
        ),
        bor="iPR",
        bor_date=WEEK6,
        bor_confirmed="iSD",
        pfs=Pfs(event=True, date=WEEK12_FIRST_IMAGE, reason="iUPD"),
    )
    return ReaderRead(R1, lesions, timepoints, {RECIST11: recist, IRECIST: irecist})


def reader2() -> ReaderRead:
    lesions = (
        ExportLesion("T01", TARGET, "LIVER"),
        ExportLesion("T02", TARGET, "LYMPH NODE", nodal=True, laterality="LEFT"),
        ExportLesion("NT01", NON_TARGET, "BONE", method="MRI"),
    )
    timepoints = (
        ReaderTimepoint(
            1,
            "SCREENING",
            BASELINE,
            (measured("T01", "31.0"), measured("T02", "17.5"), state("NT01", "PRESENT")),
            baseline=True,
        ),
        ReaderTimepoint(
            2,
            "WEEK 6",
            WEEK6,
            (
                measured("T01", "21.0", WEEK6_FIRST_IMAGE),
                measured("T02", "8.0"),
                state("NT01", "PRESENT"),
            ),
        ),
        ReaderTimepoint(
            3,
            "WEEK 12",
            WEEK12,
            (
                measured("T01", "22.0", WEEK12_FIRST_IMAGE),
                LesionResult("T02", MeasurementStatus.NOT_DONE, reason_not_done="IMAGE ARTEFACT"),
                state("NT01", "PRESENT"),
            ),
        ),
    )
    recist = CriterionResult(
        criterion=RECIST11,
        timepoints=(
            tpr(WEEK6, "PR", "NON-CR/NON-PD", "NO", "PR"),
            tpr(WEEK12, "NE", "NON-CR/NON-PD", "NO", "NE"),
        ),
        bor="PR",
        bor_date=WEEK6,
        bor_confirmed="SD",
        pfs=Pfs(event=False, date=WEEK6, reason="censored at last adequate assessment"),
    )
    irecist = CriterionResult(
        criterion=IRECIST,
        timepoints=(
            tpr(WEEK6, "iPR", "NON-iCR/NON-iUPD", "NO", "iPR"),
            tpr(WEEK12, "NE", "NON-iCR/NON-iUPD", "NO", "NE"),
        ),
        bor="iPR",
        bor_date=WEEK6,
        bor_confirmed="iSD",
        pfs=Pfs(event=False, date=WEEK6, reason="censored at last adequate assessment"),
    )
    return ReaderRead(R2, lesions, timepoints, {RECIST11: recist, IRECIST: irecist})


def subject(accepted: Evaluator = R1, usubjid: str = USUBJID, **kwargs: object) -> ExportSubject:
    return ExportSubject(
        usubjid=usubjid,
        randomisation_date=RANDOMISED,
        reads=(reader1(), reader2()),
        accepted=accepted,
        **kwargs,  # type: ignore[arg-type]
    )


def study(*subjects: ExportSubject, cutoff: dt.date | None = dt.date(2024, 6, 30)) -> ExportStudy:
    return ExportStudy(
        studyid=STUDYID,
        subjects=subjects or (subject(R1), subject(R2, usubjid="TR-ONC-001-0002")),
        assessment_interval_days=42,
        window_days=7,
        data_cutoff=cutoff,
    )


# --- new lesions (issue 18 item 7) ------------------------------------------------------------

NL_USUBJID = "TR-ONC-001-0003"
WEEK18 = dt.date(2024, 5, 15)


def new_lesion_read() -> ReaderRead:
    """A read with every kind of new lesion, without its results (``new_lesion_engine_input``
    is the same read as the engine takes it): NEW01 equivocal at week 6, unequivocal and
    measurable (12 mm) at week 12, 17 mm at the week 18 confirmation; NEW02 non-measurable at
    week 12 and still there at week 18; NEW03 measurable (10 mm), first seen at week 18."""
    lesions = (
        ExportLesion("T01", TARGET, "LIVER"),
        ExportLesion("NT01", NON_TARGET, "BONE"),
        ExportLesion("NEW01", NEW, "LUNG"),
        ExportLesion("NEW02", NEW, "BONE"),
        ExportLesion("NEW03", NEW, "LIVER"),
    )
    timepoints = (
        ReaderTimepoint(1, "SCREENING", BASELINE, (measured("T01", "40.0"), state("NT01", "PRESENT")),
                        baseline=True),
        ReaderTimepoint(2, "WEEK 6", WEEK6, (measured("T01", "38.0"), state("NT01", "PRESENT"),
                                             state("NEW01", "EQUIVOCAL"))),
        ReaderTimepoint(3, "WEEK 12", WEEK12, (
            measured("T01", "39.0"), state("NT01", "PRESENT"),
            LesionResult("NEW01", MeasurementStatus.MEASURED, mm=Decimal("12.0"), state="PRESENT"),
            state("NEW02", "PRESENT"),
        )),
        ReaderTimepoint(4, "WEEK 18", WEEK18, (
            measured("T01", "41.0"), state("NT01", "PRESENT"),
            LesionResult("NEW01", MeasurementStatus.MEASURED, mm=Decimal("17.0"), state="PRESENT"),
            state("NEW02", "PRESENT"),
            LesionResult("NEW03", MeasurementStatus.MEASURED, mm=Decimal("10.0"), state="PRESENT"),
        )),
    )  # fmt: skip
    return ReaderRead(R1, lesions, timepoints)
