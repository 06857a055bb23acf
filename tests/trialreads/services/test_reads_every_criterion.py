"""The inputs of every criterion through the read services (issue 15 item 1): second
diameters (irRC), injected flags (itRECIST), PET scans (PERCIST family), pre-baseline scans
(tumour growth rate); the engine's rules as 4xx naming the field with nothing written; the
snapshot's mapping evaluated by the engine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from criteria.evaluate import evaluate
from tests.conftest import sign
from trialreads.choices import LesionKind, Modality, TrialRole
from trialreads.errors import Conflict, ValidationError
from trialreads.models import AuditEvent, Lesion, Measurement, TimepointRead
from trialreads.services import reads as svc
from trialreads.services import trials as trial_services
from trialreads.services.signed_content import signed_content_problems
from trialreads.snapshot import TrialSnapshot, engine_subject, scope_from_charter, settings_from_charter

pytestmark = pytest.mark.django_db

D = Decimal
BASE = dt.date(2025, 1, 6)


@dataclass
class Setup:
    trial: Any
    subject: Any
    timepoints: list[Any]
    read: Any

    def tr(self, index: int) -> TimepointRead:
        return TimepointRead.objects.get(read=self.read, timepoint=self.timepoints[index])


def _setup(
    manager: Any,
    reader_a: Any,
    reader_b: Any,
    criteria: list[str],
    *,
    modality: str = Modality.CT,
    followups: int = 2,
    analyses: tuple[str, ...] = (),
) -> Setup:
    trial = trial_services.trial_create(
        code="ONC-X",
        title="Every criterion",
        actor=manager,
        charter={"criteria": criteria, "analyses": list(analyses)},
        effective_from=dt.date(2025, 1, 1),
    )
    for user in (reader_a, reader_b):
        trial_services.membership_add(
            trial_id=trial.pk, user_id=user.pk, role=TrialRole.READER, actor=manager
        )
    site = trial_services.site_create(trial_id=trial.pk, code="S1", name="Site", actor=manager)
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code="S-1",
        randomisation_date=BASE + dt.timedelta(days=3),
        arm="ARM-SECRET",
        actor=manager,
    )
    timepoints = [
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="BASELINE",
            visit_number=0,
            scan_date_earliest=BASE,
            is_baseline=True,
            modality=modality,
            actor=manager,
        )
    ]
    for week in range(1, followups + 1):
        day = BASE + dt.timedelta(weeks=8 * week)
        timepoints.append(
            trial_services.timepoint_create(
                subject_id=subject.pk,
                visit_label=f"W{8 * week}",
                visit_number=week,
                scan_date_earliest=day,
                modality=modality,
                actor=manager,
            )
        )
    read_a, _ = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[reader_a.pk, reader_b.pk], actor=manager
    )
    return Setup(trial, subject, timepoints, read_a)


def _baseline(setup: Setup, actor: Any, targets: Any, non_targets: Any = ()) -> TimepointRead:
    tr = setup.tr(0)
    return svc.timepoint_read_save_baseline(
        timepoint_read_id=tr.pk,
        targets=targets,
        non_targets=non_targets,
        expected_version=tr.version,
        actor=actor,
    )


def _followup(setup: Setup, index: int, actor: Any, targets: Any, non_targets: Any = None, **kw: Any) -> Any:
    tr = setup.tr(index)
    return svc.timepoint_read_save_followup(
        timepoint_read_id=tr.pk,
        targets=targets,
        non_targets=non_targets or {},
        new_lesions=kw.pop("new", ()),
        expected_version=tr.version,
        actor=actor,
        **kw,
    )


def _results(setup: Setup) -> dict[str, Any]:
    charter = setup.trial.charters.get(is_current=True)
    snap = TrialSnapshot.load(setup.trial.pk)
    subject = snap.subjects[0]
    engine_input = engine_subject(
        subject, subject.reads[1], settings_from_charter(charter), scope=scope_from_charter(charter)
    )
    return dict(evaluate(engine_input, list(charter.criteria)).results)


def _problems(error: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return error.value.errors


def _counts() -> tuple[int, int, int]:
    return Lesion.objects.count(), Measurement.objects.count(), AuditEvent.objects.count()


# --- irRC: bidimensional -------------------------------------------------------------------------


def _irrc_targets(perp: str = "30.0") -> tuple[svc.TargetInput, ...]:
    return (
        svc.TargetInput(code="T1", organ="liver", value_mm=D("50.0"), perp_mm=D(perp)),
        svc.TargetInput(
            code="T2", organ="mediastinal lymph node", value_mm=D("20.0"), long_mm=D("30.0"), is_node=True
        ),
    )


def test_irrc_reads_store_both_diameters_and_evaluate(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["irrc", "recist1.1"])
    sign(_baseline(setup, reader_a, _irrc_targets()), reader_a)
    targets = (
        svc.TargetValueInput(code="T1", value_mm=D("20.0"), perp_mm=D("10.0")),
        svc.TargetValueInput(code="T2", value_mm=D("8.0"), long_mm=D("9.0")),
    )
    sign(_followup(setup, 1, reader_a, targets), reader_a)
    stored = Measurement.objects.get(timepoint_read=setup.tr(1), lesion__lesion_code="T1")
    assert (stored.value_mm, stored.perp_mm) == (D("20.0"), D("10.0"))
    results = _results(setup)
    # baseline SPD 50x30 + 30x20 = 2100; follow-up 20x10 + 9x8 = 272: -87 % is irPR (>= 50 % decrease)
    assert results["irrc"].timepoints[0].overall == "irPR"
    assert results["recist1.1"].timepoints[0].overall == "PR"  # 70 -> 28 mm: -60 %
    assert signed_content_problems(trial=setup.trial) == []


def test_perpendicular_larger_than_longest_is_refused(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["irrc"])
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _baseline(setup, reader_a, _irrc_targets(perp="60.0"))
    assert "targets[0].perp_mm" in _problems(error)
    assert "larger than the longest diameter" in _problems(error)["targets[0].perp_mm"][0]
    assert _counts() == before and setup.tr(0).saved_at is None


def test_irrc_needs_the_second_diameter(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["irrc"])
    with pytest.raises(ValidationError) as error:
        _baseline(setup, reader_a, (svc.TargetInput(code="T1", organ="liver", value_mm=D("50.0")),))
    assert "targets[0].perp_mm" in _problems(error)
    sign(_baseline(setup, reader_a, _irrc_targets()), reader_a)
    with pytest.raises(ValidationError) as error:
        _followup(
            setup,
            1,
            reader_a,
            (
                svc.TargetValueInput(code="T1", value_mm=D("20.0")),
                svc.TargetValueInput(code="T2", value_mm=D("8.0"), long_mm=D("9.0")),
            ),
        )
    assert "targets[0].perp_mm" in _problems(error)


def test_node_second_diameter_is_the_long_axis(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["irrc"])
    node = svc.TargetInput(
        code="T2", organ="axillary lymph node", value_mm=D("20.0"), perp_mm=D("15.0"), is_node=True
    )
    with pytest.raises(ValidationError) as error:
        _baseline(setup, reader_a, (_irrc_targets()[0], node))
    assert "targets[1].perp_mm" in _problems(error)


# --- itRECIST: injected flags ----------------------------------------------------------------------


def _itr_targets(t1_injected: bool = True) -> tuple[svc.TargetInput, ...]:
    return (
        svc.TargetInput(code="T1", organ="skin", value_mm=D("40.0"), injected=t1_injected),
        svc.TargetInput(code="T2", organ="liver", value_mm=D("30.0")),
    )


def test_injected_flag_without_itrecist_is_refused(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1", "irecist"])
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _baseline(setup, reader_a, _itr_targets())
    assert "targets[0].injected" in _problems(error) and _counts() == before


def test_itrecist_classification_and_later_injection(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1", "itrecist"])
    with pytest.raises(ValidationError) as error:  # ITR-CLASS: 1-5 injected targets
        _baseline(setup, reader_a, _itr_targets(t1_injected=False))
    assert "0 injected target lesions" in _problems(error)["targets"][0]
    non_target = (svc.NonTargetInput(code="NT1", organ="bone"),)
    sign(_baseline(setup, reader_a, _itr_targets(), non_target), reader_a)
    values = (
        svc.TargetValueInput(code="T1", value_mm=D("10.0")),
        svc.TargetValueInput(code="T2", value_mm=D("30.0")),
    )
    with pytest.raises(ValidationError) as error:  # T1 is injected at baseline already
        _followup(setup, 1, reader_a, values, {"NT1": "present"}, injected=["T1"])
    assert "injected[0]" in _problems(error)
    with pytest.raises(ValidationError) as error:
        _followup(setup, 1, reader_a, values, {"NT1": "present"}, injected=["T9"])
    assert "not a baseline lesion" in _problems(error)["injected[0]"][0]
    sign(_followup(setup, 1, reader_a, values, {"NT1": "present"}, injected=["NT1"]), reader_a)
    result = _results(setup)["itrecist"]
    point = result.timepoints[0]
    # itRECIST's basis is iRECIST by default (T1): the groups' responses use its codes
    assert point.extra["injected_response"] == "iPR" and point.extra["non_injected_response"] == "iSD"
    assert list(point.extra["injected_after_baseline"]) == ["NT1"]  # type: ignore[arg-type]
    assert signed_content_problems(trial=setup.trial) == []


# --- PERCIST family: PET scans ---------------------------------------------------------------------


def _pet(sul: str, *, lesions: Any = None, site: str = "liver", **kw: Any) -> svc.PetScanInput:
    return svc.PetScanInput(
        reference_site=site,
        reference_mean=D("2.0"),
        reference_sd=D("0.3"),
        uptake_min=D("60"),
        lesions=lesions
        if lesions is not None
        else (svc.PetLesionInput(code="P1", organ="lung", sul_peak=D(sul)),),
        **kw,
    )


def _save_pet(setup: Setup, index: int, actor: Any, scan: svc.PetScanInput) -> TimepointRead:
    tr = setup.tr(index)
    return svc.timepoint_read_save_pet(
        timepoint_read_id=tr.pk, scan=scan, expected_version=tr.version, actor=actor
    )


def test_pet_reads_evaluate_under_the_percist_family(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(
        manager,
        reader_a,
        reader_b,
        ["percist", "ipercist", "impercist5", "percimt"],
        modality=Modality.PET_CT,
    )
    sign(_save_pet(setup, 0, reader_a, _pet("8.0")), reader_a)
    new = svc.PetLesionInput(code="P2", organ="bone", sul_peak=D("5.0"), value_mm=D("12.0"))
    sign(
        _save_pet(
            setup,
            1,
            reader_a,
            _pet(
                "5.0",
                lesions=(
                    svc.PetLesionInput(code="P1", organ="lung", sul_peak=D("5.0"), sul_max=D("6.5")),
                    new,
                ),
            ),
        ),
        reader_a,
    )
    assert Lesion.objects.get(read=setup.read, lesion_code="P2").kind == LesionKind.PET
    results = _results(setup)
    assert set(results) == {"percist", "ipercist", "impercist5", "percimt"}
    assert results["percist"].timepoints[0].overall == "PMD"  # a new FDG-avid lesion
    assert results["percist"].timepoints[0].extra["sul_peak_baseline"] == "8.0"
    assert signed_content_problems(trial=setup.trial) == []


def test_sul_peak_without_a_reference_region_is_refused(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["percist"], modality=Modality.PET_CT)
    before = _counts()
    with pytest.raises(ValidationError) as error:
        _save_pet(setup, 0, reader_a, _pet("8.0", site=""))
    assert "reference_site" in _problems(error) and _counts() == before


def test_pet_needs_a_pet_criterion(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1"], modality=Modality.PET_CT)
    with pytest.raises(ValidationError) as error:
        _save_pet(setup, 0, reader_a, _pet("8.0"))
    assert "pet" in _problems(error)


def test_pet_on_a_ct_timepoint_is_refused(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["percist"], modality=Modality.CT)
    with pytest.raises(ValidationError) as error:
        _save_pet(setup, 0, reader_a, _pet("8.0"))
    assert "modality" in _problems(error)


def test_pet_and_ct_forms_of_one_timepoint_keep_each_other(
    manager: Any, reader_a: Any, reader_b: Any
) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1", "percist"], modality=Modality.PET_CT)
    _save_pet(setup, 0, reader_a, _pet("8.0"))
    _baseline(setup, reader_a, (svc.TargetInput(code="T1", organ="liver", value_mm=D("50.0")),))
    kinds = sorted(
        Measurement.objects.filter(timepoint_read=setup.tr(0)).values_list("lesion__kind", flat=True)
    )
    assert kinds == [LesionKind.PET, LesionKind.TARGET]
    _save_pet(setup, 0, reader_a, _pet("9.0"))
    assert Measurement.objects.filter(timepoint_read=setup.tr(0)).count() == 2
    with pytest.raises(ValidationError) as error:  # a PET code cannot be a CT lesion
        _save_pet(
            setup,
            0,
            reader_a,
            _pet("9.0", lesions=(svc.PetLesionInput(code="T1", organ="x", sul_peak=D(3)),)),
        )
    assert "lesions[0].code" in _problems(error)


# --- pre-baseline scans (tumour growth rate) -------------------------------------------------------


def _prebaseline_timepoint(setup: Setup, manager: Any, day: dt.date, label: str = "PRE") -> Any:
    return trial_services.timepoint_create(
        subject_id=setup.subject.pk,
        visit_label=label,
        visit_number=0,
        scan_date_earliest=day,
        is_prebaseline=True,
        actor=manager,
    )


def test_prebaseline_scan_after_baseline_is_refused(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1"], analyses=("tgr",))
    count = setup.subject.timepoints.count()
    with pytest.raises(ValidationError) as error:
        _prebaseline_timepoint(setup, manager, BASE + dt.timedelta(days=1))
    assert error.value.field == "scan_date_latest" and setup.subject.timepoints.count() == count
    with pytest.raises(ValidationError) as error:
        trial_services.timepoint_create(
            subject_id=setup.subject.pk,
            visit_label="PRE",
            visit_number=0,
            scan_date_earliest=BASE,
            is_prebaseline=True,
            is_baseline=True,
            actor=manager,
        )
    assert error.value.field == "is_prebaseline"


def test_prebaseline_scans_feed_the_growth_rate(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1"], followups=1, analyses=("tgr",))
    pre = _prebaseline_timepoint(setup, manager, BASE - dt.timedelta(days=60))
    pre_tr = TimepointRead.objects.get(read=setup.read, timepoint=pre)
    scan = svc.PrebaselineInput(targets=(svc.TargetValueInput(code="T1", value_mm=D("40.0")),))
    with pytest.raises(Conflict):  # the baseline's targets are not saved yet
        svc.timepoint_read_save_prebaseline(
            timepoint_read_id=pre_tr.pk, scan=scan, expected_version=pre_tr.version, actor=reader_a
        )
    sign(
        _baseline(setup, reader_a, (svc.TargetInput(code="T1", organ="liver", value_mm=D("50.0")),)), reader_a
    )
    pre_tr.refresh_from_db()
    both = svc.PrebaselineInput(targets=scan.targets, sum_mm=D("40.0"))
    with pytest.raises(ValidationError) as error:
        svc.timepoint_read_save_prebaseline(
            timepoint_read_id=pre_tr.pk, scan=both, expected_version=pre_tr.version, actor=reader_a
        )
    assert "not both" in next(iter(error.value.errors.values()))[0]
    saved = svc.timepoint_read_save_prebaseline(
        timepoint_read_id=pre_tr.pk, scan=scan, expected_version=pre_tr.version, actor=reader_a
    )
    sign(saved, reader_a)  # outside the follow-ups' order: no earlier follow-up to sign first
    sign(_followup(setup, 1, reader_a, (svc.TargetValueInput(code="T1", value_mm=D("60.0")),)), reader_a)
    charter = setup.trial.charters.get(is_current=True)
    snap = TrialSnapshot.load(setup.trial.pk)
    engine_input = engine_subject(snap.subjects[0], snap.subjects[0].reads[1], settings_from_charter(charter))
    assert [(s.date, dict(s.targets)) for s in engine_input.prebaseline] == [
        (BASE - dt.timedelta(days=60), {"T1": D("40.0")})
    ]
    assert len(engine_input.timepoints) == 1  # the pre-baseline scan is no follow-up
    analyses = evaluate(engine_input, ["recist1.1"], analyses=["tgr"]).analyses
    assert analyses["tgr"]["reference_period"]["sum_start_mm"] == D("40.0")  # type: ignore[index]
    assert signed_content_problems(trial=setup.trial) == []


def test_unconfirmed_pmd_opens_a_confirmation_window(manager: Any, reader_a: Any, reader_b: Any) -> None:
    """iPERCIST: a new FDG-avid lesion is UPMD until the next PET scan confirms it (issue 15
    item 4 on PET reads): the window opens on its signature, dated from the scan."""
    from trialreads.models import ConfirmationWindow

    setup = _setup(manager, reader_a, reader_b, ["ipercist"], modality=Modality.PET_CT)
    sign(_save_pet(setup, 0, reader_a, _pet("8.0")), reader_a)
    new = svc.PetLesionInput(code="P2", organ="bone", sul_peak=D("5.0"))
    sign(_save_pet(setup, 1, reader_a, _pet("8.0", lesions=(*_pet("8.0").lesions, new))), reader_a)
    assert _results(setup)["ipercist"].timepoints[0].overall == "UPMD"
    window = ConfirmationWindow.objects.get(subject=setup.subject, criterion="ipercist")
    scan = setup.timepoints[1].scan_date_latest
    assert window.closed_at is None and window.timepoint_id == setup.timepoints[1].pk
    assert (window.window_start, window.window_end) == (
        scan + dt.timedelta(days=28),
        scan + dt.timedelta(days=56),
    )


def test_prebaseline_scan_needs_the_growth_rate_analysis(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1"], analyses=("pseudoprogression",))
    count = setup.subject.timepoints.count()
    with pytest.raises(ValidationError) as error:
        _prebaseline_timepoint(setup, manager, BASE - dt.timedelta(days=60))
    assert error.value.field == "is_prebaseline" and "tgr" in error.value.errors["is_prebaseline"][0]
    assert setup.subject.timepoints.count() == count


def test_a_pet_ct_timepoint_is_signed_with_both_its_forms(manager: Any, reader_a: Any, reader_b: Any) -> None:
    """A charter naming CT and PET criteria: the signature of a PET/CT timepoint covers its CT
    assessment and its PET scan; either alone is a conflict, nothing signed."""
    setup = _setup(manager, reader_a, reader_b, ["recist1.1", "percist"], modality=Modality.PET_CT)
    _baseline(setup, reader_a, (svc.TargetInput(code="T1", organ="liver", value_mm=D("50.0")),))
    with pytest.raises(Conflict, match="PET scan"):
        sign(setup.tr(0), reader_a)
    assert not setup.tr(0).locked
    _save_pet(setup, 0, reader_a, _pet("8.0"))
    sign(setup.tr(0), reader_a)
    assert setup.tr(0).locked


def test_a_pet_scan_alone_is_not_a_ct_read(manager: Any, reader_a: Any, reader_b: Any) -> None:
    setup = _setup(manager, reader_a, reader_b, ["recist1.1", "percist"], modality=Modality.PET_CT)
    _save_pet(setup, 0, reader_a, _pet("8.0"))
    with pytest.raises(Conflict, match="CT assessment"):
        sign(setup.tr(0), reader_a)
    assert not setup.tr(0).locked
