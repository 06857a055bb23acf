"""Reads the web pages need beyond the shared selectors (owned by the web application).

Every function takes the requesting user and goes through ``trialreads.access`` first, as
the other selectors do; nothing here writes except the audited denials of the gate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from criteria import validate as rules
from criteria.errors import CriteriaError
from criteria.evaluate import AVAILABLE, evaluate
from criteria.types import IRRC, ITRECIST, PET_CRITERIA, CriterionResult, Settings, TimepointResult
from criteria.types import Subject as EngineSubject
from trialreads import access, mappers, validation
from trialreads.choices import AdjudicationStatus, LesionKind, MeasurementState, Modality, TrialRole
from trialreads.endpoint_results import (
    FlagCount,
    analysis_counts,
    analysis_flags,
    job_analyses,
    job_runs,
    result_from_json,
)
from trialreads.errors import FieldProblem
from trialreads.evaluation import evaluate_each
from trialreads.inputs import PetScanInput, PrebaselineInput
from trialreads.models import (
    AcceptedRead,
    AdjudicationCase,
    AuditEvent,
    Charter,
    ImagingTimepoint,
    Lesion,
    Measurement,
    NonTargetRating,
    Read,
    Subject,
    TimepointRead,
    Trial,
    TrialMembership,
    signed_q,
)
from trialreads.models.endpoint import EndpointJob, EndpointRun, JobStatus
from trialreads.selectors.audit import audit_event_list
from trialreads.selectors.reads import _with_content, evaluable_criteria, read_evaluate
from trialreads.selectors.trials import charter_current
from trialreads.snapshot import settings_from_charter

# --- worklists ------------------------------------------------------------------------------


@dataclass
class ReaderWorkItem:
    read: Read
    timepoint_reads: list[TimepointRead]

    @property
    def next_timepoint_read(self) -> TimepointRead | None:
        """The first unsigned timepoint (reading is sequential)."""
        return next((tr for tr in self.timepoint_reads if not tr.locked), None)

    @property
    def signed(self) -> int:
        return sum(1 for tr in self.timepoint_reads if tr.locked)


def reader_worklist(*, user: Any) -> list[ReaderWorkItem]:
    """A reader's own reads (every trial where they read) with their timepoint reads."""
    reads = list(
        access.visible_reads(user)
        .filter(reader_id=user.pk, subject__trial_id__in=_trial_ids(user, TrialRole.READER))
        .select_related("subject", "subject__trial")
        .order_by("subject__trial__code", "subject__subject_code")
    )
    trs: dict[int, list[TimepointRead]] = defaultdict(list)
    for tr in (
        access.visible_timepoint_reads(user)
        .filter(read__in=reads)
        .select_related("timepoint")
        .order_by("timepoint__sequence")
    ):
        trs[tr.read_id].append(tr)
    return [ReaderWorkItem(read, trs[read.pk]) for read in reads]


def _trial_ids(user: Any, role: str) -> list[int]:
    return list(TrialMembership.objects.filter(user_id=user.pk, role=role).values_list("trial_id", flat=True))


def roles_of(user: Any) -> set[str]:
    """The roles the user holds in any trial (chooses the worklist sections)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(TrialMembership.objects.filter(user_id=user.pk).values_list("role", flat=True))


def adjudicator_worklist(*, user: Any) -> QuerySet[AdjudicationCase]:
    """The open cases assigned to the user (a manager's cases appear on the dashboard)."""
    return (
        access.visible_adjudication_cases(user)
        .filter(adjudicator_id=user.pk, status=AdjudicationStatus.OPEN)
        .select_related("subject", "subject__trial")
        .order_by("created_at", "pk")
    )


def adjudicator_decided(*, user: Any) -> QuerySet[AdjudicationCase]:
    return (
        access.visible_adjudication_cases(user)
        .filter(adjudicator_id=user.pk, status=AdjudicationStatus.DECIDED)
        .select_related("subject", "subject__trial")
        .order_by("-signed_at")[:20]
    )


@dataclass
class TrialOverview:
    trial: Trial
    subjects: int
    timepoint_reads: int
    signed: int
    open_cases: int
    decided_cases: int

    @property
    def percent_signed(self) -> int:
        return round(100 * self.signed / self.timepoint_reads) if self.timepoint_reads else 0


def manager_trials(*, user: Any) -> list[TrialOverview]:
    """Read progress of every trial the user manages (a fixed number of queries per trial)."""
    trials = access.visible_trials(user).filter(pk__in=_trial_ids(user, TrialRole.MANAGER)).order_by("code")
    out = []
    for trial in trials:
        trs = TimepointRead.objects.filter(read__subject__trial=trial)
        cases = Counter(
            AdjudicationCase.objects.filter(subject__trial=trial).values_list("status", flat=True)
        )
        out.append(
            TrialOverview(
                trial=trial,
                subjects=Subject.objects.filter(trial=trial).count(),
                timepoint_reads=trs.count(),
                signed=trs.signed().count(),
                open_cases=cases[AdjudicationStatus.OPEN],
                decided_cases=cases[AdjudicationStatus.DECIDED],
            )
        )
    return out


def sponsor_trials(*, user: Any) -> QuerySet[Trial]:
    return (
        access.visible_trials(user).filter(pk__in=_trial_ids(user, TrialRole.SPONSOR_VIEWER)).order_by("code")
    )


# --- the read pages -------------------------------------------------------------------------


def read_page_get(*, user: Any, read_id: object) -> Read:
    """A read as its own reader or a read manager sees it. Adjudicators work only on the
    blinded side-by-side view (labels A/B, no id): the gate answers them 404 here, exactly
    as for a read that does not exist (a 403 would confirm the id is one of their case's)."""
    return access.access_read_for(user, read_id)


def read_page_timepoint_reads(*, user: Any, read: Read) -> list[TimepointRead]:
    qs = access.visible_timepoint_reads(user).filter(read=read)
    return list(_with_content(qs).order_by("timepoint__sequence"))


def timepoint_read_page_get(*, user: Any, timepoint_read_id: object) -> TimepointRead:
    """One timepoint read for the read form, same rule as :func:`read_page_get`."""
    tr = access.access_timepoint_read_for(user, timepoint_read_id)
    read_page_get(user=user, read_id=tr.read_id)
    return _with_content(TimepointRead.objects.filter(pk=tr.pk)).get()


def next_unsigned_timepoint_read(*, user: Any, read_id: int) -> int | None:
    """The id of the read's first unsigned timepoint read the user may see (reading is sequential)."""
    return (
        access.visible_timepoint_reads(user)
        .filter(read_id=read_id)
        .exclude(signed_q())
        .order_by("timepoint__sequence")
        .values_list("pk", flat=True)
        .first()
    )


def can_edit(user: Any, tr: TimepointRead) -> bool:
    return (
        tr.read.reader_id == user.pk
        and not tr.locked
        and access.has_capability(user, tr.read.subject.trial_id, access.EDIT_OWN_READ)
    )


@dataclass
class LesionRow:
    """A baseline lesion on the follow-up form with the values it had before."""

    lesion: Lesion
    baseline_mm: Any = None
    previous_mm: Any = None
    previous_state: str = ""
    previous_status: str = ""


@dataclass
class FormContext:
    timepoint_read: TimepointRead
    earlier: list[TimepointRead]
    previous: TimepointRead | None
    targets: list[LesionRow] = field(default_factory=list)
    non_targets: list[LesionRow] = field(default_factory=list)
    earlier_unsigned: bool = False
    #: The trial's current charter and its criteria: what the form collects beyond RECIST 1.1.
    charter: Charter | None = None
    criteria: tuple[str, ...] = ()
    #: The read's baseline timepoint read (for a follow-up or a pre-baseline scan).
    baseline: TimepointRead | None = None
    #: itRECIST: the baseline lesions injected before this timepoint (at baseline or first
    #: injected at an earlier follow-up): a lesion is injected once.
    injected_before: frozenset[str] = frozenset()

    @property
    def is_prebaseline(self) -> bool:
        return self.timepoint_read.timepoint.is_prebaseline

    @property
    def pet_form(self) -> bool:
        """A PET/CT timepoint of a charter naming a PET criterion has a PET form."""
        tp = self.timepoint_read.timepoint
        return (
            tp.modality == Modality.PET_CT
            and not tp.is_prebaseline
            and any(c in PET_CRITERIA for c in self.criteria)
        )

    @property
    def ct_form(self) -> bool:
        """The CT form (baseline, follow-up or pre-baseline), unless the charter names PET
        criteria only and this timepoint has the PET form."""
        ct_named = not self.criteria or any(c not in PET_CRITERIA for c in self.criteria)
        return self.is_prebaseline or ct_named or not self.pet_form

    @property
    def bidimensional(self) -> bool:
        """irRC's second diameters: for a charter naming irRC, or a read whose baseline has them."""
        if IRRC in self.criteria:
            return True
        baseline = self.timepoint_read if self.timepoint_read.timepoint.is_baseline else self.baseline
        return baseline is not None and any(
            m.perp_mm is not None or m.long_mm is not None for m in baseline.measurements.all()
        )

    @property
    def injection(self) -> bool:
        return ITRECIST in self.criteria

    @property
    def target_rows(self) -> int:
        return validation.baseline_target_limit(self.criteria)


def timepoint_read_form_context(*, user: Any, tr: TimepointRead) -> FormContext:
    """What the read form shows beside the inputs: the baseline lesions with their baseline
    and previous values (the reader's own read only: ``tr`` came through the gate), and what
    the charter's criteria ask of it. A pre-baseline scan is read outside the follow-ups'
    order: it is never a follow-up's "previous", and only the saved baseline must precede it."""
    earlier = list(
        _with_content(
            access.visible_timepoint_reads(user).filter(
                read_id=tr.read_id, timepoint__sequence__lt=tr.timepoint.sequence
            )
        ).order_by("timepoint__sequence")
    )
    in_order = [t for t in earlier if not t.timepoint.is_prebaseline]
    charter = Charter.objects.filter(trial_id=tr.read.subject.trial_id, is_current=True).first()
    ctx = FormContext(
        timepoint_read=tr,
        earlier=earlier,
        previous=in_order[-1] if in_order else None,
        earlier_unsigned=not tr.timepoint.is_prebaseline and any(not t.locked for t in in_order),
        charter=charter,
        criteria=tuple(charter.criteria) if charter else (),
    )
    if tr.timepoint.is_baseline:
        return ctx
    baseline = next((t for t in earlier if t.timepoint.is_baseline), None)
    ctx.baseline = baseline
    ctx.injected_before = _injected_before(in_order)
    base_values = {m.lesion_id: m.value_mm for m in baseline.measurements.all()} if baseline else {}
    prev_values: dict[int, Measurement] = (
        {m.lesion_id: m for m in ctx.previous.measurements.all()} if ctx.previous else {}
    )
    prev_status = {r.lesion_id: r.status for r in ctx.previous.ratings.all()} if ctx.previous else {}
    lesions = Lesion.objects.filter(read_id=tr.read_id, kind__in=[LesionKind.TARGET, LesionKind.NON_TARGET])
    for lesion in lesions.order_by("lesion_code"):
        prev = prev_values.get(lesion.pk)
        row = LesionRow(
            lesion=lesion,
            baseline_mm=base_values.get(lesion.pk),
            previous_mm=prev.value_mm if prev else None,
            previous_state=prev.get_state_display() if prev else "",
            previous_status=prev_status.get(lesion.pk, ""),
        )
        (ctx.targets if lesion.kind == LesionKind.TARGET else ctx.non_targets).append(row)
    return ctx


def _injected_before(earlier: Sequence[TimepointRead]) -> frozenset[str]:
    """The baseline lesions injected at baseline or first injected at an earlier follow-up
    (as ``services.reads`` checks it, from the prefetched timepoint reads)."""
    codes: set[str] = set()
    for t in earlier:
        items: list[Measurement | NonTargetRating] = [*t.measurements.all(), *t.ratings.all()]
        for item in items:
            if item.newly_injected or (t.timepoint.is_baseline and item.lesion.injected):
                codes.add(item.lesion.lesion_code)
    return frozenset(codes)


# --- live check of an unsaved form ------------------------------------------------------------


@dataclass
class Preview:
    """The engine's view of the form as typed: problems by field (the CT form's and the PET
    form's), the target sum, and per criterion the response of this timepoint with the
    engine's explanation; for a pre-baseline scan the growth analyses (``tgr``)."""

    problems: list[FieldProblem] = field(default_factory=list)
    pet_problems: list[FieldProblem] = field(default_factory=list)
    sum_mm: Any = None
    #: irRC: the baseline's sum of the products of the two diameters (mm2).
    burden_mm2: Any = None
    target_count: int = 0
    target_limit: int = rules.MAX_TARGETS
    per_organ_limit: int = rules.MAX_TARGETS_PER_ORGAN
    injected_count: int | None = None  # itRECIST: targets flagged injected at baseline
    per_organ: dict[str, int] = field(default_factory=dict)
    responses: list[tuple[str, TimepointResult]] = field(default_factory=list)
    analyses: dict[str, Any] = field(default_factory=dict)
    engine_error: str = ""
    #: criterion -> why the engine cannot evaluate it on this read (the others still respond)
    not_evaluable: dict[str, str] = field(default_factory=dict)

    @property
    def problem_count(self) -> int:
        return len(self.problems) + len(self.pet_problems)


def baseline_preview(
    *,
    user: Any,
    ctx: FormContext,
    targets: Sequence[Any] | None,
    non_targets: Sequence[Any],
    pet: PetScanInput | None = None,
) -> Preview:
    """The baseline's problems as typed (``validation.baseline_problems`` with the charter's
    criteria, which the save service raises; ``validation.pet_problems`` for the PET form),
    the target sum (and irRC's sum of products) and the targets per organ group."""
    preview = Preview(
        target_limit=ctx.target_rows,
        # only irRC's own selection allows more than RECIST's two per organ (IRRC-BURDEN)
        per_organ_limit=rules.IRRC_MAX_PER_ORGAN
        if ctx.target_rows > rules.ITR_MAX_TARGETS
        else rules.MAX_TARGETS_PER_ORGAN,
    )
    if pet is not None:
        preview.pet_problems = validation.pet_problems(pet, ctx.criteria)
    if targets is None:  # no CT form (a PET-only charter)
        return preview
    preview.problems = validation.baseline_problems(targets, non_targets, ctx.criteria)
    engine_targets = mappers.baseline_targets_from_input(targets)
    preview.target_count = len(engine_targets)
    preview.sum_mm = (
        sum((t.mm for t in engine_targets), start=Decimal(0)).quantize(validation.ONE_DECIMAL)
        if engine_targets
        else None
    )
    seconds = [(t.mm, t.long_mm if t.node else t.perp_mm) for t in engine_targets]
    if ctx.bidimensional and seconds and all(second is not None for _, second in seconds):
        preview.burden_mm2 = sum((mm * second for mm, second in seconds if second is not None), Decimal(0))
    if ctx.injection:
        preview.injected_count = sum(1 for t in targets if t.injected)
    preview.per_organ = dict(Counter(rules.organ_group(t.organ, t.node) for t in engine_targets))
    return preview


def followup_preview(
    *,
    user: Any,
    ctx: FormContext,
    targets: Sequence[Any] | None,
    non_targets: Mapping[str, str],
    new_lesions: Sequence[Any],
    injected: Sequence[str] = (),
    pet: PetScanInput | None = None,
) -> Preview:
    """Evaluate the read with this follow-up as typed (earlier timepoints as saved): the CT
    form (``targets`` None when there is none), the PET form (``pet``, None when there is
    none or nothing was typed in it); every criterion of the charter answers for this date."""
    preview = Preview()
    tr = ctx.timepoint_read
    baseline_tr = ctx.baseline if ctx.baseline is not None and ctx.baseline.saved_at else None
    if baseline_tr is None:
        preview.engine_error = "Save the baseline first."
        return preview
    timepoint = None
    if targets is not None:
        codes = [n.code for n in new_lesions]
        recorded = (
            {
                lesion.lesion_code: validation.RecordedLesion(
                    kind=lesion.kind,
                    organ=lesion.organ,
                    is_node=lesion.is_node,
                    first_sequence=lesion.first_timepoint.sequence,
                )
                for lesion in Lesion.objects.filter(
                    read_id=tr.read_id, kind=LesionKind.NEW, lesion_code__in=codes
                ).select_related("first_timepoint")
            }
            if codes
            else {}
        )
        against = validation.FollowupContext(
            baseline=mappers.baseline_from_timepoint_read(baseline_tr),
            date=tr.timepoint.scan_date_latest,
            sequence=tr.timepoint.sequence,
            recorded=recorded,
            criteria=ctx.criteria,
            injected_before=ctx.injected_before,
        )
        preview.problems = validation.followup_problems(targets, non_targets, new_lesions, against, injected)
        if not preview.problems:
            # Too small to measure enters the engine as the save service stores it (R11-TSTM).
            stored = [
                dataclasses.replace(t, value_mm=validation.target_stored_mm(t))
                if t.state == MeasurementState.TOO_SMALL and t.value_mm is None
                else t
                for t in targets
            ]
            timepoint = mappers.timepoint_from_input(
                tr.timepoint.scan_date_latest, stored, non_targets, new_lesions
            )
    scan = None
    if pet is not None:
        preview.pet_problems = validation.pet_problems(pet, ctx.criteria)
        scan = pet if not preview.pet_problems else None
    if timepoint is None and scan is None:
        return preview
    subject = mappers.subject_for_read(tr.read, ctx.earlier, ctx.charter)
    if timepoint is not None and subject.baseline is not None:
        subject = dataclasses.replace(subject, timepoints=(*subject.timepoints, timepoint))
        if subject.injection is not None:
            injection = dataclasses.replace(
                subject.injection, later=(*subject.injection.later, tuple(sorted(injected)))
            )
            subject = dataclasses.replace(subject, injection=injection)
    if scan is not None:
        if subject.pet is None:
            preview.engine_error = "Save the baseline's PET scan first."
        else:
            typed = mappers.pet_scan_from_input(
                tr.timepoint.scan_date_latest, scan, (lesion.id for lesion in subject.pet.baseline.lesions)
            )
            subject = dataclasses.replace(
                subject, pet=dataclasses.replace(subject.pet, timepoints=(*subject.pet.timepoints, typed))
            )
    _evaluate_into(preview, subject, ctx, tr.timepoint.scan_date_latest)
    return preview


def _evaluate_into(preview: Preview, subject: EngineSubject, ctx: FormContext, date: dt.date) -> None:
    """Every criterion of the charter on ``subject``: its response at ``date`` (the timepoint
    as typed), the first CT criterion's target sum, and the growth analyses."""
    if subject.baseline is None and subject.pet is None:
        return
    # The PET criteria need the baseline's PET scan, the others the CT baseline: each answers
    # once its input exists.
    if not ctx.criteria:  # no charter: the engine's default criteria for the input
        try:
            result = evaluate(subject)
        except CriteriaError as exc:
            preview.engine_error = str(exc)
            return
        results, analyses = dict(result.results), dict(result.analyses)
    else:
        wanted = evaluable_criteria(subject, ctx.criteria)
        if not wanted:
            return
        # Each charter criterion on its own: one whose input the read does not record (irRC's
        # perpendicular diameters on an amended charter) is named, and the others still respond.
        charter_analyses = tuple(ctx.charter.analyses or ()) if ctx.charter is not None else ()
        evaluation = evaluate_each(subject, wanted, charter_analyses)
        results, analyses = dict(evaluation.results), dict(evaluation.analyses)
        preview.not_evaluable = dict(evaluation.errors)
        if not results:
            preview.engine_error = next(iter(evaluation.errors.values()))
            return
    for name, crit in results.items():
        at = next((tp for tp in crit.timepoints if tp.date == date), None)
        if at is not None:
            preview.responses.append((name, at))
    # The sum of diameters of the first CT criterion; irRC's is a burden of products (mm2).
    for name, tp in preview.responses:
        if name == IRRC:
            preview.burden_mm2 = tp.sum_mm
        elif name not in PET_CRITERIA and tp.sum_mm is not None and preview.sum_mm is None:
            preview.sum_mm = tp.sum_mm
    preview.analyses = analyses


def prebaseline_preview(*, user: Any, ctx: FormContext, scan: PrebaselineInput) -> Preview:
    """A pre-baseline scan as typed: its problems against the saved baseline
    (``validation.prebaseline_problems``, which the save service raises), the sum, and the
    tumour growth rate analysis with every other saved timepoint of the read."""
    preview = Preview()
    tr = ctx.timepoint_read
    baseline_tr = ctx.baseline if ctx.baseline is not None and ctx.baseline.saved_at else None
    if baseline_tr is None:
        preview.engine_error = "Save the baseline first: a pre-baseline scan is read for its targets."
        return preview
    date = tr.timepoint.scan_date_latest
    baseline = mappers.baseline_from_timepoint_read(baseline_tr)
    analyses = ctx.charter.analyses if ctx.charter is not None else []
    preview.problems = validation.prebaseline_problems(scan, baseline, date, analyses)
    if preview.problems:
        return preview
    values = [t.value_mm for t in scan.targets if t.value_mm is not None]
    preview.sum_mm = scan.sum_mm if scan.sum_mm is not None else sum(values, Decimal("0.0"))
    others = _with_content(
        access.visible_timepoint_reads(user).filter(read_id=tr.read_id).exclude(pk=tr.pk)
    ).order_by("timepoint__sequence")
    subject = mappers.subject_for_read(tr.read, list(others), ctx.charter)
    typed = mappers.prebaseline_scan_from_input(date, scan.targets, scan.sum_mm)
    scans = sorted((*subject.prebaseline, typed), key=lambda p: p.date)
    _evaluate_into(preview, dataclasses.replace(subject, prebaseline=tuple(scans)), ctx, date)
    preview.responses = []  # a pre-baseline scan has no response of its own
    return preview


def read_results(*, user: Any, read: Read) -> tuple[dict[str, CriterionResult], str]:
    """The engine on the read as the user may see it (drafts included for its reader), and
    why it could not evaluate it, or which of the charter's criteria it could not ("" when
    every one evaluated)."""
    evaluation = read_evaluate(user=user, read_id=read.pk)
    why = evaluation.error or "; ".join(
        f"{criterion}: {message}" for criterion, message in evaluation.not_evaluable.items()
    )
    return (dict(evaluation.result.results) if evaluation.result else {}), why


# --- dashboard --------------------------------------------------------------------------------


def dashboard_trial_get(*, user: Any, trial_id: object) -> Trial:
    """The trial dashboard: read managers and sponsor viewers (endpoints); readers and
    adjudicators are refused (it shows results of both reads and the adjudication rate)."""
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.VIEW_ENDPOINTS, "trial", trial.pk)
    return trial


@dataclass
class ReaderProgress:
    label: str
    username: str
    signed: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.signed / self.total) if self.total else 0


@dataclass
class TrialProgress:
    readers: list[ReaderProgress]
    subjects_total: int
    subjects_compared: int
    subjects_pending: int
    open_cases: int
    decided_cases: int
    status_counts: dict[str, int]

    @property
    def percent_compared(self) -> int:
        return round(100 * self.subjects_compared / self.subjects_total) if self.subjects_total else 0


def trial_progress(*, user: Any, trial_id: object) -> TrialProgress:
    """Read progress per reader and adjudication counts (read managers only)."""
    trial = access.access_trial_for(user, trial_id)
    access.require_capability(user, trial.pk, access.MANAGE, "trial", trial.pk)
    members = {
        m.user_id: m
        for m in TrialMembership.objects.filter(trial=trial, role=TrialRole.READER).select_related("user")
    }
    signed: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for reader_id, locked in TimepointRead.objects.filter(read__subject__trial=trial).values_list(
        "read__reader_id", "locked"
    ):
        total[reader_id] += 1
        signed[reader_id] += int(locked)
    readers = [
        ReaderProgress(
            label=members[uid].reader_label if uid in members else "?",
            username=members[uid].user.get_username() if uid in members else str(uid),
            signed=signed[uid],
            total=total[uid],
        )
        for uid in sorted(total, key=lambda u: members[u].reader_label if u in members else "")
    ]
    accepted = Counter(AcceptedRead.objects.filter(subject__trial=trial).values_list("basis", flat=True))
    cases = Counter(AdjudicationCase.objects.filter(subject__trial=trial).values_list("status", flat=True))
    status_counts = Counter(Read.objects.filter(subject__trial=trial).values_list("status", flat=True))
    return TrialProgress(
        readers=readers,
        subjects_total=Subject.objects.filter(trial=trial).count(),
        subjects_compared=sum(accepted.values()),
        subjects_pending=accepted.get("PENDING", 0),
        open_cases=cases[AdjudicationStatus.OPEN],
        decided_cases=cases[AdjudicationStatus.DECIDED],
        status_counts=dict(status_counts),
    )


def subject_list_for_dashboard(*, user: Any, trial: Trial) -> list[tuple[Subject, str]]:
    """Subjects with their acceptance basis (managers) for the dashboard's subject table."""
    basis = dict(AcceptedRead.objects.filter(subject__trial=trial).values_list("subject_id", "basis"))
    subjects = (
        access.visible_subjects(user)
        .filter(trial=trial)
        .select_related("site")
        .defer("arm")
        .order_by("subject_code")
    )
    return [(s, basis.get(s.pk, "")) for s in subjects]


def endpoint_job_latest(*, user: Any, trial_id: object) -> EndpointJob | None:
    """The trial's most recent endpoint computation, whatever its state (progress display)."""
    trial = dashboard_trial_get(user=user, trial_id=trial_id)
    return EndpointJob.objects.filter(trial=trial).order_by("-created_at", "-pk").first()


def _latest_done_job(trial: Trial) -> EndpointJob | None:
    return (
        EndpointJob.objects.filter(trial=trial, status=JobStatus.DONE)
        .select_related("charter")
        .order_by("-finished_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class AcceptedResult:
    subject: Subject
    criterion: str
    result: CriterionResult
    evaluator: str
    baseline_date: dt.date  # day 0 of the plots (randomisation date if no baseline scan)


def charter_criteria(*, user: Any, trial_id: object) -> list[str]:
    """The criteria of the trial's current charter, in charter order."""
    return list(charter_current(user=user, trial_id=trial_id).criteria)


def charter_settings(*, user: Any, trial_id: object) -> Settings:
    """The engine settings of the trial's current charter (the plots' thresholds)."""
    return settings_from_charter(charter_current(user=user, trial_id=trial_id))


def accepted_results(
    *, user: Any, trial_id: object, subject_id: object | None = None
) -> list[AcceptedResult]:
    """The accepted (BICR) result of every subject x criterion of the latest finished
    endpoint computation; subjects without an accepted read (adjudication open) are left out."""
    trial = dashboard_trial_get(user=user, trial_id=trial_id)
    job = _latest_done_job(trial)
    if job is None:
        return []
    runs: list[EndpointRun] = job_runs(job)
    baseline_dates = dict(
        ImagingTimepoint.objects.filter(subject__trial=trial, is_baseline=True).values_list(
            "subject_id", "scan_date_latest"
        )
    )
    out = []
    for run in runs:
        if subject_id is not None and str(run.subject_id) != str(subject_id):
            continue
        data = run.result.get(run.accepted_evaluator) if run.accepted_evaluator else None
        if run.status != JobStatus.DONE or not data:
            continue
        out.append(
            AcceptedResult(
                run.subject,
                run.criterion,
                result_from_json(data),
                run.accepted_evaluator,
                baseline_dates.get(run.subject_id, run.subject.randomisation_date),
            )
        )
    return out


@dataclass(frozen=True)
class EndpointPatterns:
    """The dashboard's counts of the latest finished computation, accepted reads only:
    ``counts`` per analysis, then per criterion (pseudoprogression) or definition
    (hyperprogression), over the ``subjects`` whose analyses were computed (``failed``: the
    engine could not run them); ``not_evaluable``: per criterion, the subjects whose run
    FAILED (an input the criterion needs is not in the reads)."""

    subjects: int
    failed: int
    counts: dict[str, dict[str, FlagCount]]
    not_evaluable: dict[str, int]


def endpoint_patterns(*, user: Any, trial_id: object) -> EndpointPatterns | None:
    """Pseudoprogression, hyperprogression and dissociated response counts and rates, and
    the criteria not evaluable per subject; ``None`` before the first computation."""
    trial = dashboard_trial_get(user=user, trial_id=trial_id)
    job = _latest_done_job(trial)
    if job is None:
        return None
    failed_runs = EndpointRun.objects.filter(
        trial_id=job.trial_id,
        charter_id=job.charter_id,
        algorithm_version=job.algorithm_version,
        status=JobStatus.FAILED,
    ).values_list("subject_id", "input_sha256", "criterion")
    not_evaluable: Counter[str] = Counter(
        criterion
        for subject_id, digest, criterion in failed_runs
        if job.subject_hashes.get(str(subject_id)) == digest
    )
    flags = []
    failed = 0
    for row in job_analyses(job):
        if row.status != JobStatus.DONE:
            failed += 1
            continue
        data = row.result.get(row.accepted_evaluator) if row.accepted_evaluator else None
        if isinstance(data, dict):  # no accepted read yet (adjudication open): not counted
            flags.append(analysis_flags(data))
    order = {c: i for i, c in enumerate(AVAILABLE)}
    by_criterion = dict(sorted(not_evaluable.items(), key=lambda item: order.get(item[0], len(order))))
    return EndpointPatterns(len(flags), failed, analysis_counts(flags), by_criterion)


@dataclass(frozen=True)
class SubjectPatterns:
    """One subject's response patterns in the latest finished computation: the accepted
    read's flags (``endpoint_results.analysis_flags``: per criterion, per definition, or the
    one flag; None where undetermined), or why there are none (``note``)."""

    evaluator: str
    flags: Mapping[str, Mapping[str, bool | None]]
    note: str = ""


def subject_patterns(*, user: Any, subject: Subject) -> SubjectPatterns | None:
    """Pseudoprogression, hyperprogression and dissociated response of one subject (the
    charter's analyses, accepted read); ``None`` when none was computed for it."""
    trial = dashboard_trial_get(user=user, trial_id=subject.trial_id)
    job = _latest_done_job(trial)
    if job is None:
        return None
    row = next((r for r in job_analyses(job) if r.subject_id == subject.pk), None)
    if row is None:
        return None
    if row.status != JobStatus.DONE:
        return SubjectPatterns("", {}, f"the analyses could not be computed: {row.reason}")
    data = row.result.get(row.accepted_evaluator) if row.accepted_evaluator else None
    if not isinstance(data, dict):
        return SubjectPatterns("", {}, "no accepted read yet (adjudication open)")
    return SubjectPatterns(row.accepted_evaluator, analysis_flags(data))


def dashboard_subject_get(*, user: Any, subject_id: object) -> Subject:
    subject = access.access_subject_for(user, subject_id)
    dashboard_trial_get(user=user, trial_id=subject.trial_id)
    return subject


def subject_timepoints(*, user: Any, subject: Subject) -> list[ImagingTimepoint]:
    return list(access.visible_timepoints(user).filter(subject=subject).order_by("sequence"))


# --- audit review ---------------------------------------------------------------------------------


def audit_events_filtered(
    *,
    user: Any,
    trial_id: object,
    subject_id: int | None = None,
    username: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    """The trial's audit trail filtered by subject (every object of that subject: the
    subject, its timepoints, reads, timepoint reads and adjudication cases), by user and by
    date (inclusive calendar days, UTC)."""
    start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) if until else None
    qs = audit_event_list(user=user, trial_id=trial_id, since=start, until=end)
    if username:
        qs = qs.filter(actor_username=username)
    if subject_id is not None:
        qs = qs.filter(_subject_objects(subject_id))
    return list(qs.order_by("-seq")[:limit])


def _subject_objects(subject_id: int) -> Q:
    ids: dict[str, list[str]] = {
        "subject": [str(subject_id)],
        "timepoint": [
            str(i)
            for i in ImagingTimepoint.objects.filter(subject_id=subject_id).values_list("pk", flat=True)
        ],
        "read": [str(i) for i in Read.objects.filter(subject_id=subject_id).values_list("pk", flat=True)],
        "timepoint_read": [
            str(i)
            for i in TimepointRead.objects.filter(read__subject_id=subject_id).values_list("pk", flat=True)
        ],
        "adjudication_case": [
            str(i)
            for i in AdjudicationCase.objects.filter(subject_id=subject_id).values_list("pk", flat=True)
        ],
    }
    q = Q(pk__in=[])
    for object_type, object_ids in ids.items():
        if object_ids:
            q |= Q(object_type=object_type, object_id__in=object_ids)
    return q


def audit_filter_choices(*, user: Any, trial: Trial) -> tuple[list[tuple[int, str]], list[str]]:
    """Subjects and usernames for the audit filter (the caller already passed the audit gate)."""
    subjects = list(
        Subject.objects.filter(trial=trial).order_by("subject_code").values_list("pk", "subject_code")
    )
    users = sorted(
        set(AuditEvent.objects.filter(chain_id=trial.chain_id).values_list("actor_username", flat=True))
    )
    return subjects, users
