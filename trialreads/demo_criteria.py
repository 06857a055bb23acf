"""Demo trials for the criteria beyond RECIST 1.1 / iRECIST / imRECIST (``make demo``):

* ``DEMO-PET``: a small PET arm read by PERCIST 1.0, iPERCIST, imPERCIST5 and PERCIMT. Every
  timepoint is a PET/CT scan read on the PET form (SULpeak per lesion, liver reference
  region, uptake time): a metabolic response, a progression confirmed at the next scan
  (iPERCIST UPMD -> CPMD) and new lesions that are gone at the next scan (PERCIMT PMD,
  iPERCIST UPMD reset).
* ``DEMO-IR``: an immunotherapy trial read by irRC and irRECIST, with bidimensional reads
  (perpendicular diameters, a node's long axis): a response, a pseudoprogression (irPD with
  a new measurable lesion, not confirmed, then irPR) and a confirmed irPD after a
  pre-baseline scan (the tumour growth rate's reference period).

Small on purpose: every signature re-enters the password (a deliberately slow hash), and
``make demo`` should stay quick.

Both readers of a subject read the same values (the reads are concordant, accepted by the
charter's rule). Everything goes through the services: audited, signed and locked as any
read. ``load_demo`` calls :func:`populate` after the adjudication demo; running it twice
changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trialreads.choices import Modality, TrialRole
from trialreads.demo_adjudication import DEMO_PASSWORD, demo_user
from trialreads.models import Read, Site, Subject, TimepointRead, Trial, TrialMembership
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services

PET_TRIAL = "DEMO-PET"
IR_TRIAL = "DEMO-IR"
DEMO_CODES = (PET_TRIAL, IR_TRIAL)

# --- DEMO-PET: the PERCIST family -------------------------------------------------------------

#: One PET scan: (code, organ, SULpeak, CT size in mm or "") per lesion. A lesion first
#: recorded after the baseline is new (PERCIST 1.0); a baseline lesion left out is gone.
PetScan = Sequence[tuple[str, str, str, str]]


@dataclass(frozen=True)
class PetCase:
    code: str
    what: str
    scans: Sequence[PetScan]  # baseline, week 8, week 16 (as many as given)


PET_CASES = (
    PetCase(
        "P-201",
        "partial metabolic response (hottest SULpeak 8.0 -> 5.2; PERCIMT: L2 resolved)",
        [
            [("L1", "lung", "8.0", ""), ("L2", "liver", "5.0", "")],
            [("L1", "lung", "5.2", ""), ("L2", "liver", "1.9", "")],
        ],
    ),
    PetCase(
        "P-202",
        "progression confirmed at the next scan (iPERCIST UPMD -> CPMD)",
        [
            [("L1", "lung", "6.0", ""), ("L2", "mediastinal lymph node", "4.0", "")],
            [("L1", "lung", "8.5", ""), ("L2", "mediastinal lymph node", "4.2", "")],
            [("L1", "lung", "9.6", ""), ("L2", "mediastinal lymph node", "5.0", "")],
        ],
    ),
    PetCase(
        "P-203",
        "three new lesions > 1 cm (PERCIMT PMD), gone at the next scan (iPERCIST reset)",
        [
            [("L1", "liver", "7.0", "")],
            [
                ("L1", "liver", "6.5", ""),
                ("N3", "bone", "4.0", "12"),
                ("N4", "bone", "3.8", "14"),
                ("N5", "lung", "3.5", "11"),
            ],
            [("L1", "liver", "4.0", "")],
        ],
    ),
)
PET_WEEKS = (0, 8, 16)
PET_START = dt.date(2025, 2, 3)


def pet_scan(
    lesions: PetScan, *, liver_mean: str = "2.0", uptake_min: str = "60"
) -> read_services.PetScanInput:
    return read_services.PetScanInput(
        reference_site="liver",
        reference_mean=Decimal(liver_mean),
        reference_sd=Decimal("0.3"),
        uptake_min=Decimal(uptake_min),
        lesions=tuple(
            read_services.PetLesionInput(
                code=code, organ=organ, sul_peak=Decimal(sul), value_mm=Decimal(size) if size else None
            )
            for code, organ, sul, size in lesions
        ),
    )


# --- DEMO-IR: irRC and irRECIST -----------------------------------------------------------------

#: Baseline targets: (code, organ, longest diameter -- short axis for a node, perpendicular
#: diameter -- the long axis for a node, is_node). Sum of products 1200 + 600 + 500 = 2300
#: mm²; sum of diameters 90 mm.
IR_BASELINE = (
    ("T1", "liver", "40", "30", False),
    ("T2", "left lung", "30", "20", False),
    ("T3", "mediastinal lymph node", "20", "25", True),
)
IR_NON_TARGETS = (read_services.NonTargetInput(code="NT1", organ="bone"),)
#: A follow-up: per target (diameter, second diameter); new lesions (code, organ, mm, perp).
IrVisit = tuple[Sequence[tuple[str, str]], Sequence[tuple[str, str, str, str]]]


@dataclass(frozen=True)
class IrCase:
    code: str
    what: str
    visits: Sequence[IrVisit]  # week 8, 16 (as many as given)
    prebaseline: Sequence[str] = field(default_factory=tuple)  # T1-T3 six weeks before baseline


IR_CASES = (
    IrCase(
        "I-301",
        "response: burden -49 % (irSD), then -72 % (irPR)",
        [
            ([("30", "20"), ("20", "15"), ("15", "18")], []),
            ([("25", "15"), ("15", "10"), ("10", "12")], []),
        ],
    ),
    IrCase(
        "I-302",
        "pseudoprogression: irPD with a new measurable lesion, not confirmed: irPR at the next scan",
        [
            ([("50", "35"), ("32", "22"), ("20", "25")], [("N1", "right lung", "15", "12")]),
            ([("25", "15"), ("15", "10"), ("10", "11")], [("N1", "right lung", "0", "0")]),
        ],
    ),
    IrCase(
        "I-303",
        "growing before baseline (pre-baseline scan), irPD confirmed 8 weeks later (irRC); "
        "irRECIST irSD, then irPD",
        [
            ([("48", "36"), ("35", "24"), ("22", "27")], []),
            ([("55", "40"), ("40", "28"), ("25", "30")], []),
        ],
        prebaseline=("36", "26", "18"),
    ),
)
IR_START = dt.date(2025, 3, 3)


def ir_baseline() -> tuple[read_services.TargetInput, ...]:
    return tuple(
        read_services.TargetInput(
            code=code,
            organ=organ,
            value_mm=Decimal(mm),
            is_node=node,
            perp_mm=None if node else Decimal(second),
            long_mm=Decimal(second) if node else None,
        )
        for code, organ, mm, second, node in IR_BASELINE
    )


def ir_followup(
    visit: IrVisit,
) -> tuple[tuple[read_services.TargetValueInput, ...], tuple[read_services.NewLesionInput, ...]]:
    values, new = visit
    targets = tuple(
        read_services.TargetValueInput(
            code=code,
            value_mm=Decimal(mm),
            perp_mm=None if node else Decimal(second),
            long_mm=Decimal(second) if node else None,
        )
        for (code, _organ, _mm, _second, node), (mm, second) in zip(IR_BASELINE, values, strict=True)
    )
    lesions = tuple(
        read_services.NewLesionInput(code=code, organ=organ, value_mm=Decimal(mm), perp_mm=Decimal(perp))
        for code, organ, mm, perp in new
    )
    return targets, lesions


# --- building --------------------------------------------------------------------------------------


def _trial(
    code: str, title: str, charter: dict[str, Any], manager: Any, members: Sequence[tuple[Any, str]]
) -> Trial:
    trial = Trial.objects.filter(code=code).first()
    if trial is None:
        trial = trial_services.trial_create(
            code=code, title=title, actor=manager, charter=charter, effective_from=dt.date(2025, 1, 1)
        )
    for user, role in members:
        if not TrialMembership.objects.filter(trial=trial, user=user).exists():
            trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=manager)
    return trial


def _site(trial: Trial, manager: Any) -> Site:
    return Site.objects.filter(trial=trial).first() or trial_services.site_create(
        trial_id=trial.pk, code="SITE01", name="Demo site", actor=manager
    )


def _sign(tr: TimepointRead, actor: Any) -> None:
    read_services.timepoint_read_sign(
        timepoint_read_id=tr.pk, password=DEMO_PASSWORD, printed_name=actor.get_full_name(), actor=actor
    )


def _fresh(read: Read, timepoint_id: int) -> TimepointRead:
    return TimepointRead.objects.get(read=read, timepoint_id=timepoint_id)


def _pet_subject(trial: Trial, site: Site, case: PetCase, manager: Any, readers: Sequence[Any]) -> None:
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code=case.code,
        randomisation_date=PET_START + dt.timedelta(days=2),
        actor=manager,
    )
    timepoints = [
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="BASELINE" if week == 0 else f"WEEK{week}",
            visit_number=i,
            scan_date_earliest=PET_START + dt.timedelta(weeks=week),
            is_baseline=week == 0,
            modality=Modality.PET_CT,
            actor=manager,
        )
        for i, week in enumerate(PET_WEEKS[: len(case.scans)])
    ]
    reads = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[r.pk for r in readers], actor=manager
    )
    for read, reader in zip(reads, readers, strict=True):
        for i, (timepoint, scan) in enumerate(zip(timepoints, case.scans, strict=True)):
            tr = _fresh(read, timepoint.pk)
            read_services.timepoint_read_save_pet(
                timepoint_read_id=tr.pk,
                scan=pet_scan(
                    scan, liver_mean="2.0" if i == 0 else "2.1", uptake_min="60" if i == 0 else "62"
                ),
                expected_version=tr.version,
                actor=reader,
            )
            _sign(tr, reader)


def _ir_subject(trial: Trial, site: Site, case: IrCase, manager: Any, readers: Sequence[Any]) -> None:
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code=case.code,
        randomisation_date=IR_START + dt.timedelta(days=2),
        actor=manager,
    )
    baseline = trial_services.timepoint_create(
        subject_id=subject.pk,
        visit_label="BASELINE",
        visit_number=1,  # the pre-baseline scan is visit 0
        scan_date_earliest=IR_START,
        is_baseline=True,
        actor=manager,
    )
    prebaseline = (
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="PRE-BASELINE",
            visit_number=0,
            scan_date_earliest=IR_START - dt.timedelta(weeks=6),
            is_prebaseline=True,
            actor=manager,
        )
        if case.prebaseline
        else None
    )
    followups = [
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label=f"WEEK{8 * (i + 1)}",
            visit_number=i + 2,
            scan_date_earliest=IR_START + dt.timedelta(weeks=8 * (i + 1)),
            actor=manager,
        )
        for i in range(len(case.visits))
    ]
    reads = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[r.pk for r in readers], actor=manager
    )
    for read, reader in zip(reads, readers, strict=True):
        tr = _fresh(read, baseline.pk)
        read_services.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk,
            targets=ir_baseline(),
            non_targets=IR_NON_TARGETS,
            expected_version=tr.version,
            actor=reader,
        )
        _sign(tr, reader)
        if prebaseline is not None:
            tr = _fresh(read, prebaseline.pk)
            scan = read_services.PrebaselineInput(
                targets=tuple(
                    read_services.TargetValueInput(code=t[0], value_mm=Decimal(mm))
                    for t, mm in zip(IR_BASELINE, case.prebaseline, strict=True)
                )
            )
            read_services.timepoint_read_save_prebaseline(
                timepoint_read_id=tr.pk, scan=scan, expected_version=tr.version, actor=reader
            )
            _sign(tr, reader)
        for timepoint, visit in zip(followups, case.visits, strict=True):
            tr = _fresh(read, timepoint.pk)
            targets, new = ir_followup(visit)
            read_services.timepoint_read_save_followup(
                timepoint_read_id=tr.pk,
                targets=targets,
                non_targets={"NT1": "present"},
                new_lesions=new,
                expected_version=tr.version,
                actor=reader,
            )
            _sign(tr, reader)


def populate(*, stdout: Any = None) -> list[Trial]:
    """Create (or reuse) DEMO-PET and DEMO-IR with their subjects' signed reads; return them."""
    manager = demo_user("demo_manager", "Mina", "Manager", staff=True)
    readers = (demo_user("demo_reader1", "Ada", "Reader"), demo_user("demo_reader2", "Ben", "Reader"))
    adjudicator = demo_user("demo_adjudicator", "Alex", "Judge")
    members = [
        (readers[0], TrialRole.READER),
        (readers[1], TrialRole.READER),
        (adjudicator, TrialRole.ADJUDICATOR),
    ]
    rules = {"variables": ["bor", "pd_date"], "pd_date_tolerance_days": 7}
    pet = _trial(
        PET_TRIAL,
        "Demo: PET arm read by PERCIST 1.0, iPERCIST, imPERCIST5 and PERCIMT",
        {
            "criteria": ["percist", "ipercist", "impercist5", "percimt"],
            "primary_criterion": "percist",
            "pet_tracer": "FDG",
            "adjudication_rules": rules,
        },
        manager,
        members,
    )
    site = _site(pet, manager)
    for pet_case in PET_CASES:
        if not Subject.objects.filter(trial=pet, subject_code=pet_case.code).exists():
            _pet_subject(pet, site, pet_case, manager, readers)
    ir = _trial(
        IR_TRIAL,
        "Demo: immunotherapy read by irRC and irRECIST (bidimensional)",
        {
            "criteria": ["irrc", "irrecist"],
            "primary_criterion": "irrc",
            "adjudication_rules": rules,
            # I-303's pre-baseline scan feeds the tumour growth rate (and its hyperprogression
            # definitions); pseudoprogression and dissociated response as the dashboard shows them
            "analyses": ["tgr", "pseudoprogression", "dissociated_response"],
        },
        manager,
        members,
    )
    site = _site(ir, manager)
    for ir_case in IR_CASES:
        if not Subject.objects.filter(trial=ir, subject_code=ir_case.code).exists():
            _ir_subject(ir, site, ir_case, manager, readers)
    if stdout is not None:
        for trial, cases in ((pet, PET_CASES), (ir, IR_CASES)):
            criteria = ", ".join(trial.charters.get(is_current=True).criteria)
            stdout.write(f"Criteria demo: trial {trial.code} ({criteria})")
            for case in cases:
                stdout.write(f"  {case.code}: {case.what}")
    return [pet, ir]
