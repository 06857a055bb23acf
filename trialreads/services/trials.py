"""Setting a trial up: trial + charter, sites, subjects, timepoints, memberships, read assignment.

Access checks run before the transaction opens so that a denial's audit event commits even
though the service fails (see ``access.py``); everything else happens in one transaction
together with its audit event.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from criteria.errors import InputError
from criteria.evaluate import ANALYSES, AVAILABLE
from criteria.parse import parse_settings
from trialreads import access, conf, validation, validators
from trialreads.adjudication_rules import AdjudicationRules, RulesError
from trialreads.choices import AuditEventType, Modality, ReadStatus, TrialRole
from trialreads.errors import Conflict, PermissionDenied, ValidationError
from trialreads.exports import dates as export_dates
from trialreads.models import (
    Charter,
    ImagingTimepoint,
    Read,
    Site,
    Subject,
    TimepointRead,
    Trial,
    TrialMembership,
)
from trialreads.models.subject import VISIT_NUMBER_MAX
from trialreads.models.trial import CHARTER_SETTING_FIELDS, EPOCH_RULES
from trialreads.services.audit import audit_record

EPOCH_RULE_VALUES = tuple(value for value, _ in EPOCH_RULES)

#: Charter fields a new version may set, with their validators.
CHARTER_FIELDS = (
    "criteria",
    "primary_criterion",
    "sd_min_days",
    "confirm_min_days",
    "confirmation_required",
    "irecist_window_min_days",
    "irecist_window_max_days",
    "adjudication_rules",
    "read_paradigm",
    "pet_tracer",
    "analyses",
    "engine_settings",
    "date_imputation",
    "epoch_rule",
)


def _require_code(value: str, field: str) -> str:
    if not isinstance(value, str) or not validators.CODE_RE.fullmatch(value):
        raise ValidationError(validators.CODE_RULE, field)
    return value


def _require_date(value: object, field: str) -> None:
    """A date within the stored window (:data:`trialreads.validators.DATE_MIN`/``MAX``)."""
    problem = validators.date_error(value)
    if problem:
        raise ValidationError(problem, field)


def _manage(actor: Any, trial_id: object) -> Trial:
    trial = access.access_trial_for(actor, trial_id)
    access.require_capability(actor, trial.pk, access.MANAGE, "trial", trial.pk)
    return trial


def charter_as_dict(charter: Charter) -> dict[str, Any]:
    data = {name: getattr(charter, name) for name in CHARTER_FIELDS}
    data.update(version=charter.version, effective_from=charter.effective_from)
    return data


def _validate_charter(values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(CHARTER_FIELDS)
    if unknown:
        raise ValidationError(f"unknown charter field(s): {', '.join(sorted(unknown))}", "charter")
    criteria = values.get("criteria")
    if criteria is not None:
        # Any criterion the engine evaluates; CT/MRI and PET criteria may be mixed.
        if not isinstance(criteria, list) or not criteria or any(c not in AVAILABLE for c in criteria):
            raise ValidationError(f"a non-empty list drawn from {', '.join(AVAILABLE)}", "criteria")
        if len(set(criteria)) != len(criteria):
            raise ValidationError("duplicate criterion", "criteria")
    if "primary_criterion" in values and values["primary_criterion"] not in AVAILABLE:
        raise ValidationError(f"one of {', '.join(AVAILABLE)}", "primary_criterion")
    analyses = values.get("analyses")
    if analyses is not None:
        if not isinstance(analyses, list) or any(a not in ANALYSES for a in analyses):
            raise ValidationError(f"a list drawn from {', '.join(ANALYSES)} (may be empty)", "analyses")
        if len(set(analyses)) != len(analyses):
            raise ValidationError("duplicate analysis", "analyses")
    if "engine_settings" in values:
        engine_settings_check(values["engine_settings"])
    for name in ("sd_min_days", "confirm_min_days", "irecist_window_min_days", "irecist_window_max_days"):
        if name in values and (type(values[name]) is not int or not 0 <= values[name] <= 365):
            raise ValidationError("an integer number of days between 0 and 365", name)
    if "date_imputation" in values and values["date_imputation"] not in export_dates.RULE_NAMES:
        raise ValidationError(f"one of {', '.join(export_dates.RULE_NAMES)}", "date_imputation")
    if "epoch_rule" in values and values["epoch_rule"] not in EPOCH_RULE_VALUES:
        raise ValidationError(f"one of {', '.join(map(repr, EPOCH_RULE_VALUES))}", "epoch_rule")
    tracer = values.get("pet_tracer")
    if tracer is not None and (not isinstance(tracer, str) or not 1 <= len(tracer.strip()) <= 20):
        raise ValidationError("the PET tracer's name, 1-20 characters (e.g. FDG)", "pet_tracer")
    rules = values.get("adjudication_rules")
    if rules is not None:
        # The trigger's own parser is the validator, so a published charter always evaluates.
        try:
            AdjudicationRules.from_json(rules)
        except RulesError as exc:
            raise ValidationError(str(exc), _rules_field(exc.field)) from exc


def _rules_field(path: str) -> str:
    return f"adjudication_rules.{path}" if path else "adjudication_rules"


def engine_settings_check(value: object) -> None:
    """``Charter.engine_settings``: an object of ``criteria.types.Settings`` fields, each
    checked by the engine's own parser (``criteria.parse.parse_settings``, the CLI's
    ``settings`` object), so a published charter always gives the engine valid settings.

    The settings the charter has its own fields for are refused here: one place sets each
    (:data:`trialreads.models.trial.CHARTER_SETTING_FIELDS`)."""
    if not isinstance(value, dict):
        raise ValidationError("an object of engine settings (may be empty)", "engine_settings")
    for key in value:
        column = CHARTER_SETTING_FIELDS.get(key)
        if column is not None:
            raise ValidationError(f"set by the charter field {column}, not here", f"engine_settings.{key}")
    try:
        parse_settings(value)
    except InputError as exc:
        # the parser names "settings.<key>[...]"; the charter's field is engine_settings
        field = exc.field.removeprefix("settings")
        raise ValidationError(exc.message, f"engine_settings{field}") from exc


def _check_charter_coherent(charter: Charter) -> None:
    if charter.primary_criterion not in charter.criteria:
        raise ValidationError("must be one of the charter's criteria", "primary_criterion")
    rules = AdjudicationRules.from_json(charter.adjudication_rules)
    for path, criterion in rules.named_paths():
        if criterion not in charter.criteria:
            raise ValidationError(f"{criterion} is not one of the charter's criteria", _rules_field(path))
    if charter.irecist_window_min_days > charter.irecist_window_max_days:
        raise ValidationError("must not exceed irecist_window_max_days", "irecist_window_min_days")


def trial_create(
    *,
    code: str,
    title: str,
    actor: Any,
    charter: Mapping[str, Any] | None = None,
    effective_from: dt.date | None = None,
) -> Trial:
    """Create a trial with charter version 1 and make the creator its read manager.

    Only staff users create trials (the sponsor's study set-up is an administrative act).
    """
    if not getattr(actor, "is_staff", False):
        raise PermissionDenied("Only staff users create trials.")
    _require_code(code, "code")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise ValidationError("required, at most 200 characters", "title")
    if effective_from is not None:
        _require_date(effective_from, "effective_from")
    values = dict(charter or {})
    _validate_charter(values)
    if values.get("criteria") and "primary_criterion" not in values:
        values["primary_criterion"] = values["criteria"][0]  # the first criterion named leads
    with transaction.atomic():
        if Trial.objects.filter(code=code).exists():
            raise Conflict(f"A trial with code {code} already exists.")
        trial = Trial(code=code, title=title.strip())
        trial.save()
        first = Charter(
            trial=trial,
            version=1,
            created_by=actor,
            effective_from=effective_from or timezone.now().date(),
            **values,
        )
        _check_charter_coherent(first)
        first.save()
        membership = TrialMembership(trial=trial, user=actor, role=TrialRole.MANAGER)
        membership.save()
        chain = trial.chain_id
        audit_record(
            chain_id=chain,
            event_type=AuditEventType.TRIAL_CREATED,
            actor=actor,
            object_type="trial",
            object_id=trial.pk,
            after={"code": code, "title": trial.title},
        )
        audit_record(
            chain_id=chain,
            event_type=AuditEventType.CHARTER_PUBLISHED,
            actor=actor,
            object_type="charter",
            object_id=first.pk,
            after=charter_as_dict(first),
        )
        audit_record(
            chain_id=chain,
            event_type=AuditEventType.MEMBERSHIP_ADDED,
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            after={"user_id": actor.pk, "role": TrialRole.MANAGER},
        )
    return trial


def charter_publish(
    *, trial_id: int, changes: Mapping[str, Any], effective_from: dt.date, reason: str = "", actor: Any
) -> Charter:
    """Publish a new charter version: the current one with ``changes`` applied."""
    trial = _manage(actor, trial_id)
    _validate_charter(changes)
    _require_date(effective_from, "effective_from")
    with transaction.atomic():
        current = Charter.objects.select_for_update().get(trial=trial, is_current=True)
        if effective_from < current.effective_from:
            raise ValidationError("cannot precede the current version's effective date", "effective_from")
        before = charter_as_dict(current)
        values = {name: getattr(current, name) for name in CHARTER_FIELDS}
        values.update(changes)
        new = Charter(
            trial=trial,
            version=current.version + 1,
            created_by=actor,
            effective_from=effective_from,
            is_current=True,
            **values,
        )
        _check_charter_coherent(new)
        current.is_current = False
        current.save(update_fields=["is_current"])
        new.save()
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.CHARTER_PUBLISHED,
            actor=actor,
            object_type="charter",
            object_id=new.pk,
            before=before,
            after=charter_as_dict(new),
            reason=reason,
        )
    return new


def site_create(*, trial_id: int, code: str, name: str = "", actor: Any) -> Site:
    trial = _manage(actor, trial_id)
    _require_code(code, "code")
    with transaction.atomic():
        if Site.objects.filter(trial=trial, code=code).exists():
            raise Conflict(f"Site {code} already exists in this trial.")
        site = Site(trial=trial, code=code, name=name)
        site.save()
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.SITE_CREATED,
            actor=actor,
            object_type="site",
            object_id=site.pk,
            after={"code": code, "name": name},
        )
    return site


def subject_create(
    *,
    trial_id: int,
    site_id: int | None = None,
    subject_code: str,
    randomisation_date: dt.date,
    actor: Any,
    arm: str = "",
    death_date: dt.date | None = None,
    last_contact_date: dt.date | None = None,
    first_dose_date: dt.date | None = None,
    reference_start_date: dt.date | None = None,
    site_code: str | None = None,
) -> Subject:
    """A subject with its dates from the trial: randomisation, and when known the first dose
    (``first_dose_date``, DM RFXSTDTC), the sponsor's reference start (``reference_start_date``,
    DM RFSTDTC: day 1 of --DY), death and last contact; none of them may precede
    randomisation except the reference start, which the sponsor defines. The site is named
    by its id or, for API clients, by its code (``site_code``)."""
    trial = _manage(actor, trial_id)
    _require_code(subject_code, "subject_code")
    _require_date(randomisation_date, "randomisation_date")
    dates = {
        "death_date": death_date,
        "last_contact_date": last_contact_date,
        "first_dose_date": first_dose_date,
        "reference_start_date": reference_start_date,
    }
    for name, value in dates.items():
        if value is not None:
            _require_date(value, name)
        if value is not None and name in _AFTER_RANDOMISATION and value < randomisation_date:
            raise ValidationError("cannot precede the randomisation date", name)
    if site_id is None and site_code is not None:
        _require_code(site_code, "site_code")
        site = Site.objects.filter(code=site_code, trial=trial).first()
        if site is None:
            raise ValidationError("no such site in this trial", "site_code")
    else:
        site = Site.objects.filter(pk=site_id, trial=trial).first() if site_id is not None else None
        if site is None:
            raise ValidationError("no such site in this trial", "site_id")
    with transaction.atomic():
        if Subject.objects.filter(trial=trial, subject_code=subject_code).exists():
            raise Conflict(f"Subject {subject_code} already exists in this trial.")
        subject = Subject(
            trial=trial,
            site=site,
            subject_code=subject_code,
            randomisation_date=randomisation_date,
            arm=arm,
            **dates,
        )
        subject.save()
        # The arm itself stays out of the audit trail, which read managers may review (blinding).
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.SUBJECT_CREATED,
            actor=actor,
            object_type="subject",
            object_id=subject.pk,
            after={
                "subject_code": subject_code,
                "site": site.code,
                "randomisation_date": randomisation_date,
                "arm_recorded": bool(arm),
                "death_date": death_date,
                "last_contact_date": last_contact_date,
            }
            | {name: value for name in ("first_dose_date", "reference_start_date") if (value := dates[name])},
        )
    return subject


#: Subject fields that may change after creation (survival follow-up feeds PFS censoring; the
#: sponsor's first dose and reference start date arrive with its data).
SUBJECT_UPDATABLE = ("death_date", "last_contact_date", "first_dose_date", "reference_start_date")
#: Subject dates that cannot precede randomisation.
_AFTER_RANDOMISATION = frozenset({"death_date", "last_contact_date", "first_dose_date"})


def subject_update(*, subject_id: int, changes: Mapping[str, Any], reason: str, actor: Any) -> Subject:
    """Record a death, last-contact, first-dose or reference start date (read manager, with a
    reason; audited old/new)."""
    subject = access.access_subject_for(actor, subject_id)
    access.require_capability(actor, subject.trial_id, access.MANAGE, "subject", subject.pk)
    unknown = set(changes) - set(SUBJECT_UPDATABLE)
    if unknown:
        raise ValidationError(f"cannot change: {', '.join(sorted(unknown))}", "changes")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a reason is required to change subject data", "reason")
    for name, value in changes.items():
        if value is not None:
            _require_date(value, name)
        if value is not None and name in _AFTER_RANDOMISATION and value < subject.randomisation_date:
            raise ValidationError("cannot precede the randomisation date", name)
        if value is not None and value > timezone.now().date():
            raise ValidationError("cannot be in the future", name)
    with transaction.atomic():
        subject = Subject.objects.select_for_update().select_related("trial").get(pk=subject.pk)
        before = {name: getattr(subject, name) for name in changes}
        for name, value in changes.items():
            setattr(subject, name, value)
        subject.save(update_fields=list(changes))
        audit_record(
            chain_id=subject.trial.chain_id,
            event_type=AuditEventType.SUBJECT_UPDATED,
            actor=actor,
            object_type="subject",
            object_id=subject.pk,
            before=before,
            after=dict(changes),
            reason=reason.strip(),
        )
    return subject


def _visit_number(value: object) -> Decimal:
    """A protocol visit number: a finite number, 0 to 99999.9, at most one decimal place
    (a JSON number or a Decimal; bool and float are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationError("a number (for example 3 or 3.1)", "visit_number")
    number = Decimal(value)
    if not number.is_finite() or number.is_signed() or number > VISIT_NUMBER_MAX:
        raise ValidationError(f"between 0 and {VISIT_NUMBER_MAX}", "visit_number")
    if number != number.quantize(Decimal("0.1")):
        raise ValidationError("at most one decimal place", "visit_number")
    return number


def _check_collected_date(collected: object, rule: object) -> None:
    """A partial collected date (``YYYY`` or ``YYYY-MM``) and, when named, a known rule."""
    if collected == "" and rule == "":
        return
    if not isinstance(collected, str) or not collected:
        raise ValidationError("required with scan_date_imputation", "scan_date_collected")
    try:
        flag = export_dates.period(collected)[2]
    except export_dates.DateError as exc:
        raise ValidationError(str(exc), "scan_date_collected") from None
    if not flag:
        raise ValidationError("only a partial date (YYYY or YYYY-MM) is kept", "scan_date_collected")
    if rule != "" and rule not in export_dates.RULE_NAMES:
        raise ValidationError(f"one of {', '.join(export_dates.RULE_NAMES)}", "scan_date_imputation")


def _check_scan_dates_in_period(collected: str, earliest: dt.date, latest: dt.date) -> None:
    if collected:
        first, last, _ = export_dates.period(collected)
        if not first <= earliest <= latest <= last:
            raise ValidationError(f"the scan dates must lie in {collected}", "scan_date_collected")


def _charter_rule(trial_id: int) -> str:
    """The current charter's rule for partial scan dates (``Charter.date_imputation``)."""
    current = Charter.objects.filter(trial_id=trial_id, is_current=True)
    return current.values_list("date_imputation", flat=True).first() or "nominal"


def _imputed_scan_date(subject: Subject, collected: str, rule: str) -> dt.date:
    """The scan date ``rule`` gives for ``collected``, after the previous timepoint's scans."""
    previous = subject.timepoints.filter(is_prebaseline=False).order_by("-sequence").first()
    after = previous.scan_date_latest if previous is not None else None
    try:
        day, _ = export_dates.impute(collected, rule, after=after)
    except (export_dates.DateError, OverflowError) as exc:
        raise ValidationError(str(exc), "scan_date_collected") from None
    return day


def _check_prebaseline_dates(subject: Subject, earliest: dt.date, latest: dt.date) -> None:
    charter = Charter.objects.filter(trial_id=subject.trial_id, is_current=True).first()
    if charter is None or "tgr" not in (charter.analyses or ()):
        raise ValidationError(validation.NO_TGR, "is_prebaseline")
    baseline = subject.timepoints.filter(is_baseline=True).first()
    if baseline is None:
        raise Conflict("Record the baseline timepoint first: a pre-baseline scan is read for its targets.")
    if latest >= baseline.scan_date_earliest:
        raise ValidationError(
            f"a pre-baseline scan must end before the baseline scan ({baseline.scan_date_earliest})",
            "scan_date_latest",
        )
    if subject.timepoints.filter(is_prebaseline=True, scan_date_latest=latest).exists():
        raise ValidationError("another pre-baseline scan has this date", "scan_date_latest")


def timepoint_create(
    *,
    subject_id: int,
    visit_label: str,
    visit_number: Decimal | int,
    scan_date_earliest: dt.date | None = None,
    scan_date_latest: dt.date | None = None,
    is_baseline: bool = False,
    modality: str = Modality.CT,
    scan_date_collected: str = "",
    scan_date_imputation: str = "",
    is_prebaseline: bool = False,
    actor: Any,
) -> ImagingTimepoint:
    """Add the subject's next imaging timepoint (and a draft timepoint read per assigned read).

    The baseline comes first; each follow-up's scans must start after the previous
    timepoint's scans ended, and none may lie in the future. A partial collected date
    (``scan_date_collected``, e.g. ``2014-02``) comes with the rule that imputed the scan
    dates from it (``scan_date_imputation``, one of ``trialreads.exports.dates.RULE_NAMES``;
    by default the charter's ``date_imputation``), and both scan dates must lie in the
    collected period. Without scan dates, the rule imputes them from the collected date (no
    earlier than the day after the previous timepoint's scans), so the engine and ADaM ``ADT``
    use the trial's rule.

    A pre-baseline timepoint (``is_prebaseline``: a scan before the baseline, for the tumour
    growth rate's reference period) is added once the baseline exists, with its scans ending
    before the baseline's begin; it is never a follow-up (the follow-ups' order ignores it).
    """
    subject = access.access_subject_for(actor, subject_id)
    access.require_capability(actor, subject.trial_id, access.MANAGE, "subject", subject.pk)
    if not isinstance(visit_label, str) or not visit_label.strip() or len(visit_label) > 40:
        raise ValidationError("required, at most 40 characters", "visit_label")
    if modality not in Modality.values:
        raise ValidationError(f"one of {', '.join(Modality.values)}", "modality")
    number = _visit_number(visit_number)
    _check_collected_date(scan_date_collected, scan_date_imputation)
    if scan_date_collected and not scan_date_imputation:
        scan_date_imputation = _charter_rule(subject.trial_id)
    if scan_date_earliest is None:
        if not scan_date_collected or scan_date_latest is not None:
            raise ValidationError("required (or only a partial scan_date_collected)", "scan_date_earliest")
        scan_date_earliest = _imputed_scan_date(subject, scan_date_collected, scan_date_imputation)
    latest = scan_date_latest or scan_date_earliest
    _require_date(scan_date_earliest, "scan_date_earliest")
    _require_date(latest, "scan_date_latest")
    if latest < scan_date_earliest:
        raise ValidationError("cannot precede scan_date_earliest", "scan_date_latest")
    horizon = timezone.now().date() + dt.timedelta(days=conf.get("SCAN_DATE_FUTURE_TOLERANCE_DAYS"))
    if latest > horizon:
        raise ValidationError("scan date in the future", "scan_date_latest")
    _check_scan_dates_in_period(scan_date_collected, scan_date_earliest, latest)
    if not isinstance(is_prebaseline, bool):
        raise ValidationError("true or false", "is_prebaseline")
    if is_prebaseline and is_baseline:
        raise ValidationError("a timepoint is the baseline or before it, not both", "is_prebaseline")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        previous = subject.timepoints.filter(is_prebaseline=False).order_by("-sequence").first()
        # A visit that exists already is a conflict (a resubmission, or two managers adding
        # it at once), checked before the dates, which the existing visit would fail too.
        if subject.timepoints.filter(visit_label=visit_label.strip()).exists():
            raise Conflict(f"Visit {visit_label.strip()} already exists for this subject.")
        if is_baseline and previous is not None:
            raise Conflict("The baseline must be the subject's first timepoint.")
        if is_prebaseline:
            _check_prebaseline_dates(subject, scan_date_earliest, latest)
        elif not is_baseline:
            if previous is None:
                raise Conflict("Record the baseline timepoint first.")
            if scan_date_earliest <= previous.scan_date_latest:
                raise ValidationError(
                    f"must be after the previous timepoint's scans ({previous.scan_date_latest})",
                    "scan_date_earliest",
                )
        sequence = (subject.timepoints.aggregate(m=Max("sequence"))["m"] or 0) + 1
        timepoint = ImagingTimepoint(
            subject=subject,
            visit_label=visit_label.strip(),
            visit_number=number,
            sequence=sequence,
            modality=modality,
            scan_date_earliest=scan_date_earliest,
            scan_date_latest=latest,
            scan_date_collected=scan_date_collected,
            scan_date_imputation=scan_date_imputation,
            is_baseline=is_baseline,
            is_prebaseline=is_prebaseline,
        )
        timepoint.save()
        for read in Read.objects.select_for_update().filter(subject=subject):
            TimepointRead(read=read, timepoint=timepoint).save()
            if read.status == ReadStatus.COMPLETED:
                read.status = ReadStatus.IN_PROGRESS
                read.save(update_fields=["status"])
        audit_record(
            chain_id=subject.trial.chain_id,
            event_type=AuditEventType.TIMEPOINT_CREATED,
            actor=actor,
            object_type="timepoint",
            object_id=timepoint.pk,
            after={
                "subject": subject.subject_code,
                "visit_label": timepoint.visit_label,
                "visit_number": timepoint.visit_number,
                "sequence": sequence,
                "modality": modality,
                "scan_date_earliest": scan_date_earliest,
                "scan_date_latest": latest,
                "is_baseline": is_baseline,
            }
            | ({"is_prebaseline": True} if is_prebaseline else {})
            | (
                {"scan_date_collected": scan_date_collected, "scan_date_imputation": scan_date_imputation}
                if scan_date_collected
                else {}
            ),
        )
    return timepoint


def membership_add(
    *, trial_id: int, user_id: int, role: str, actor: Any, reader_label: str = ""
) -> TrialMembership:
    """Give a user their (single) role in the trial; readers get a label R1, R2, …"""
    trial = _manage(actor, trial_id)
    if role not in TrialRole.values:
        raise ValidationError(f"one of {', '.join(TrialRole.values)}", "role")
    if reader_label and role != TrialRole.READER:
        raise ValidationError("only readers have a reader label", "reader_label")
    if reader_label and not re.match(r"^R[0-9]{1,3}$", reader_label):
        raise ValidationError("R followed by a number, e.g. R1", "reader_label")
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationError("no such active user", "user_id")
    with transaction.atomic():
        Trial.objects.select_for_update().get(pk=trial.pk)
        if TrialMembership.objects.filter(trial=trial, user=user).exists():
            raise Conflict("The user already has a role in this trial.")
        if role == TrialRole.READER and not reader_label:
            taken = set(TrialMembership.objects.filter(trial=trial).values_list("reader_label", flat=True))
            reader_label = next(f"R{n}" for n in range(1, 1000) if f"R{n}" not in taken)
        try:
            with transaction.atomic():
                membership = TrialMembership(trial=trial, user=user, role=role, reader_label=reader_label)
                membership.save()
        except IntegrityError as exc:
            raise Conflict("Reader label already in use in this trial.") from exc
        audit_record(
            chain_id=trial.chain_id,
            event_type=AuditEventType.MEMBERSHIP_ADDED,
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            after={
                "user_id": user.pk,
                "username": user.get_username(),
                "role": role,
                "reader_label": reader_label,
            },
        )
    return membership


def reads_assign(*, subject_id: int, reader_ids: Sequence[int], actor: Any) -> list[Read]:
    """Assign the subject's two independent reads (2+1 paradigm): two distinct readers of
    the trial, slot 1 and slot 2; the adjudicator can never be one of them (single role)."""
    subject = access.access_subject_for(actor, subject_id)
    access.require_capability(actor, subject.trial_id, access.MANAGE, "subject", subject.pk)
    ids = list(reader_ids)
    if len(ids) != 2 or len(set(ids)) != 2:
        raise ValidationError("exactly two distinct readers", "reader_ids")
    roles = dict(
        TrialMembership.objects.filter(trial_id=subject.trial_id, user_id__in=ids).values_list(
            "user_id", "role"
        )
    )
    for i, uid in enumerate(ids):
        if roles.get(uid) != TrialRole.READER:
            raise ValidationError("not a reader of this trial", f"reader_ids[{i}]")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().select_related("trial").get(pk=subject.pk)
        if Read.objects.filter(subject=subject).exists():
            raise Conflict("Reads are already assigned for this subject.")
        reads = []
        timepoints = list(subject.timepoints.order_by("sequence"))
        for slot, uid in enumerate(ids, start=1):
            read = Read(subject=subject, reader_id=uid, slot=slot)
            read.save()
            for timepoint in timepoints:
                TimepointRead(read=read, timepoint=timepoint).save()
            reads.append(read)
        audit_record(
            chain_id=subject.trial.chain_id,
            event_type=AuditEventType.READS_ASSIGNED,
            actor=actor,
            object_type="subject",
            object_id=subject.pk,
            after={"reads": [{"read_id": r.pk, "slot": r.slot, "reader_id": r.reader_id} for r in reads]},
        )
    return reads
