"""Demo data for adjudication: subjects whose two reads agree, disagree on each charter
variable, or change after an unlock; their adjudications (decided and open); an
investigator import; and the resulting reader metrics.

Everything goes through the services (so the audit trail, signatures and triggers are
real). ``load_demo`` calls :func:`populate`; ``manage.py demo_adjudication`` runs it alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password

from trialreads.choices import TrialRole
from trialreads.models import (
    AdjudicationCase,
    InvestigatorAssessment,
    Read,
    Site,
    Subject,
    TimepointRead,
    Trial,
    TrialMembership,
)
from trialreads.selectors.adjudication import reader_metrics
from trialreads.services import adjudication as adj
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services

DEMO_PASSWORD = "demo-password-2025"  # noqa: S105 -- demo users on the embedded database only
# T1 is the injected lesion (itRECIST: an intratumoural therapy; the other criteria ignore it).
BASELINE = (
    read_services.TargetInput(code="T1", organ="liver", value_mm=Decimal("50.0"), injected=True),
    read_services.TargetInput(code="T2", organ="left lung", value_mm=Decimal("30.0")),
    read_services.TargetInput(
        code="T3", organ="mediastinal lymph node", value_mm=Decimal("20.0"), is_node=True
    ),
)
NON_TARGETS = (read_services.NonTargetInput(code="NT1", organ="bone"),)
# Follow-up target values (T1, T2, T3), baseline sum 100 mm.
SD = ("40.0", "25.0", "12.0")    # 77 mm, -23 %
PR = ("30.0", "20.0", "10.0")    # 60 mm, -40 %
PD = ("70.0", "35.0", "20.0")    # 125 mm, +25 %
PD2 = ("75.0", "40.0", "20.0")   # 135 mm: a further +10 mm (iCPD after iUPD)


@dataclass(frozen=True)
class Scenario:
    code: str
    what: str
    read_1: Sequence[tuple[str, str, str]]
    read_2: Sequence[tuple[str, str, str]]
    choose_slot: int | None = None  # the adjudicator's choice, by slot (None: leave open)
    rationale: str = ""
    change_read_2_week6_to: tuple[str, str, str] | None = None  # unlock + change after agreeing
    injected_week6: tuple[str, ...] = ()  # itRECIST: lesions first injected at week 6
    #: the new lesions both reads record at week 6 and week 12
    new_lesions: Sequence[Sequence[read_services.NewLesionInput]] = ((), ())


#: New lesions (issue 18 item 7): an equivocal lung lesion at week 6, unequivocal and measurable
#: at week 12 (the later scan confirms it), beside a non-measurable bone lesion new at week 12.
NEW_LESIONS = (
    (read_services.NewLesionInput(code="N1", organ="right lung", equivocal=True),),
    (
        read_services.NewLesionInput(code="N1", organ="right lung", value_mm=Decimal("12.0")),
        read_services.NewLesionInput(code="N2", organ="bone", measurable=False),
    ),
)


SCENARIOS = (
    Scenario("D-101", "concordant stable disease", [SD, SD], [SD, SD]),
    Scenario("D-102", "concordant partial response; T2 injected from week 6 (itRECIST)", [PR, PR], [PR, PR],
             injected_week6=("T2",)),
    Scenario("D-103", "concordant progression at week 6", [PD, PD2], [PD, PD2]),
    Scenario("D-104", "BOR: PR vs SD", [PR, PR], [SD, SD], choose_slot=1,
             rationale="T1 and T2 are measured on the correct series in Read A; the decrease is real."),
    Scenario("D-105", "progression date: week 6 vs week 12", [PD, PD2], [SD, PD], choose_slot=1,
             rationale="The week-6 increase already meets +20 % and +5 mm."),
    Scenario("D-106", "progression on one read only", [SD, PD], [SD, SD], choose_slot=2,
             rationale="The week-12 T1 measurement includes adjacent vessel; no progression."),
    Scenario("D-107", "iRECIST iCPD on one read, imRECIST negation", [PD, PD2], [PD, SD], choose_slot=None),
    Scenario("D-108", "agreed, then read 2 unlocked and changed", [SD, SD], [SD, SD], choose_slot=2,
             rationale="The corrected Read B measurements are right.", change_read_2_week6_to=PR),
    Scenario("D-109", "concordant: an equivocal new lesion at week 6 confirmed (measurable) at week 12, "
             "with a non-measurable one", [SD, SD], [SD, SD], new_lesions=NEW_LESIONS),
)


def demo_user(username: str, first: str, last: str, *, staff: bool = False) -> Any:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model(username=username, first_name=first, last_name=last, is_staff=staff)
        # AUTH_PASSWORD_VALIDATORS apply here too (set_password does not run them).
        validate_password(DEMO_PASSWORD, user)
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def _sign(read: Read, index: int, actor: Any, values: tuple[str, str, str] | None,
          injected: Sequence[str] = (), new_lesions: Sequence[read_services.NewLesionInput] = ()) -> None:
    """Save and sign the read's ``index``-th timepoint: the baseline (``values`` None) or a
    follow-up (``injected``: the lesions first injected there, itRECIST; its new lesions)."""
    tr = TimepointRead.objects.filter(read=read).order_by("timepoint__sequence")[index]
    if values is None:
        read_services.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk, targets=BASELINE, non_targets=NON_TARGETS, expected_version=tr.version,
            actor=actor,
        )
    else:
        values_in = tuple(
            read_services.TargetValueInput(code=c, value_mm=Decimal(v))
            for c, v in zip(("T1", "T2", "T3"), values, strict=True)
        )
        read_services.timepoint_read_save_followup(
            timepoint_read_id=tr.pk, targets=values_in, non_targets={"NT1": "present"},
            new_lesions=tuple(new_lesions),
            expected_version=tr.version, actor=actor, injected=tuple(injected),
        )
    read_services.timepoint_read_sign(timepoint_read_id=tr.pk, password=DEMO_PASSWORD,
                                      printed_name=actor.get_full_name(), actor=actor)


def populate(*, trial_code: str = "DEMO-ADJ", stdout: Any = None) -> dict[str, Any]:
    """Create (or reuse) the demo adjudication trial and its subjects; return the metrics."""
    manager = demo_user("demo_manager", "Mina", "Manager", staff=True)
    reader_1 = demo_user("demo_reader1", "Ada", "Reader")
    reader_2 = demo_user("demo_reader2", "Ben", "Reader")
    adjudicator = demo_user("demo_adjudicator", "Alex", "Judge")
    trial = Trial.objects.filter(code=trial_code).first()
    if trial is None:
        trial = trial_services.trial_create(
            code=trial_code, title="Demo: adjudication and reader metrics", actor=manager,
            charter={
                "criteria": ["recist1.1", "irecist", "imrecist", "itrecist"],
                "adjudication_rules": {
                    "variables": ["bor", "pd_date", "icpd_date", "impfs_event"],
                    "pd_date_tolerance_days": 7,
                    "bor_confirmed": False,
                },
            },
            effective_from=dt.date(2025, 1, 1),
        )
    for user, role in ((reader_1, TrialRole.READER), (reader_2, TrialRole.READER),
                       (adjudicator, TrialRole.ADJUDICATOR)):
        if not TrialMembership.objects.filter(trial=trial, user=user).exists():
            trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=manager)
    site = Site.objects.filter(trial=trial).first() or trial_services.site_create(
        trial_id=trial.pk, code="SITE01", name="Demo site", actor=manager
    )
    start = dt.date(2025, 1, 6)
    for scenario in SCENARIOS:
        if Subject.objects.filter(trial=trial, subject_code=scenario.code).exists():
            continue
        subject = trial_services.subject_create(
            trial_id=trial.pk, site_id=site.pk, subject_code=scenario.code,
            randomisation_date=start, actor=manager,
        )
        trial_services.timepoint_create(subject_id=subject.pk, visit_label="BASELINE", visit_number=0,
                                        scan_date_earliest=start - dt.timedelta(days=3), is_baseline=True,
                                        actor=manager)
        for week in (6, 12):
            day = start + dt.timedelta(weeks=week)
            trial_services.timepoint_create(subject_id=subject.pk, visit_label=f"WEEK{week}",
                                            visit_number=week // 6, scan_date_earliest=day, actor=manager)
        read_1, read_2 = trial_services.reads_assign(subject_id=subject.pk,
                                                     reader_ids=[reader_1.pk, reader_2.pk], actor=manager)
        for index in range(3):
            v1 = None if index == 0 else scenario.read_1[index - 1]
            v2 = None if index == 0 else scenario.read_2[index - 1]
            injected = scenario.injected_week6 if index == 1 else ()
            new = scenario.new_lesions[index - 1] if index else ()
            _sign(read_1, index, reader_1, v1, injected, new)
            _sign(read_2, index, reader_2, v2, injected, new)
        if scenario.change_read_2_week6_to is not None:
            for index in (2, 1):  # only the latest signed timepoint can be reopened
                tr = TimepointRead.objects.filter(read=read_2).order_by("timepoint__sequence")[index]
                read_services.timepoint_read_unlock(timepoint_read_id=tr.pk, reason="QC query: T1 series",
                                                    actor=manager)
            _sign(read_2, 1, reader_2, scenario.change_read_2_week6_to)
            _sign(read_2, 2, reader_2, scenario.change_read_2_week6_to)
        case = AdjudicationCase.objects.filter(subject=subject, status="OPEN").first()
        if case is not None and scenario.choose_slot is not None:
            adj.adjudication_decide(case_id=case.pk, chosen=case.label_for_slot(scenario.choose_slot),
                                    rationale=scenario.rationale, password=DEMO_PASSWORD,
                                    printed_name=adjudicator.get_full_name(), actor=adjudicator)
    # The sites' own assessment (EDC extract) for the site-vs-central discrepancy rates.
    on = {n: start + dt.timedelta(weeks=n) for n in (6, 12)}
    if not InvestigatorAssessment.objects.filter(subject__trial=trial).exists():
        adj.investigator_assessments_import(
            trial_id=trial.pk, actor=manager, source="Demo EDC extract",
            rows=[adj.InvestigatorRow("D-101", None, "SD"), adj.InvestigatorRow("D-102", on[12], "PD"),
                  adj.InvestigatorRow("D-103", on[6], "PD"), adj.InvestigatorRow("D-104", None, "PR"),
                  adj.InvestigatorRow("D-105", on[12], "PD"), adj.InvestigatorRow("D-106", on[6], "PD"),
                  adj.InvestigatorRow("D-108", None, "PR")],
        )
    metrics = reader_metrics(user=manager, trial_id=trial.pk, pd_tolerance_days=7)
    if stdout is not None:
        _print(stdout, trial, metrics)
    return metrics


def _pct(rate: dict[str, Any] | None) -> str:
    if not rate or rate["value"] is None:
        return "n/a"
    return f"{rate['numerator']}/{rate['denominator']} ({100 * rate['value']:.0f} %)"


def _print(out: Any, trial: Trial, m: dict[str, Any]) -> None:
    out.write(f"Adjudication demo: trial {trial.code}")
    all_cases = AdjudicationCase.objects.filter(subject__trial=trial).select_related("subject")
    for case in all_cases.order_by("pk"):
        variables = ", ".join(case.variables)
        chosen = f" -> Read {case.label_for_slot(case.chosen_slot)}" if case.chosen_slot else ""
        out.write(f"  {case.subject.subject_code} cycle {case.cycle}: {case.status}{chosen} ({variables})")
    k = m["kappa_bor"]
    kappa = (
        "n/a" if k["kappa"] is None
        else f"{k['kappa']:.3f} (95% CI {k['ci_low']:.3f} to {k['ci_high']:.3f})"
    )
    out.write(f"  adjudication rate {_pct(m['adjudication_rate'])}; kappa on BOR {kappa}")
    for r in m["readers"]:
        who = r["reader_label"] or r["username"]
        out.write(f"  {who}: agreement {_pct(r['adjudicator_agreement_rate'])}, "
                  f"disagreement index {_pct(r['reader_disagreement_index'])}")
    site = m["site_vs_central"]
    if site:
        out.write(f"  site vs central: EDR {_pct(site['edr'])}, LDR {_pct(site['ldr'])}")
