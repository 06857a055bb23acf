"""``python manage.py import_sdtm --dir DIR [--trial CODE] [--compute] [--export-dir DIR]``

Loads SDTM TU/TR files (``tu*.csv``, ``tr*.csv``; the pharmaversesdtm example study in
``tests/data/pharmaversesdtm`` is the first customer) into a new trial with its two
independent readers, entirely through the services, so the result is what the same reads
entered by hand would be: audited, signed, locked, compared for adjudication.

Mapping (lesion and visit rules are ``criteria.sdtm``'s, shared with the criteria
conformance test):

* ``TUEVALID``/``TREVALID`` ``RADIOLOGIST 1`` and ``RADIOLOGIST 2`` become the reads in slots
  1 and 2 (reader accounts ``<trial>-r1``/``-r2``); rows without an evaluator (the
  investigator) are not BICR reads and are skipped.
* Every ``USUBJID`` becomes a subject of the site named by its middle part (``01-701-1015``
  -> site ``701``). Its dates come from the sponsor's subject-level files when the folder has
  them (issue 18 item 3): DM (``dm*.csv``) ``RFSTDTC`` (the reference start date: day 1 of
  ``--DY``, the charter's epochs), ``RFXSTDTC`` (first dose) and ``DTHDTC`` (death); DS
  (``ds*.csv``) the ``DSSTDTC`` of the ``RANDOMIZED`` record (the randomisation date: SDTMIG
  keeps it there, DM has no variable for it). Without them (or without the subject's
  record) the randomisation date falls back to the baseline scan date and the other dates
  stay unknown; the summary counts each source. ``NA`` (R's missing value) is missing; a
  date-time keeps its date; a partial date is refused (exit 2, naming file, line, variable).
* Visits: one imaging timepoint per ``VISIT`` in ``VISITNUM`` order, its scan dates spanning
  both readers' dates. A partial ``TRDTC`` (both readers' the same) is kept as collected on
  the timepoint (SDTM ``--DTC`` write it so) and imputed for the engine by the charter's
  ``date_imputation`` (``first``/``mid``/``last``/``nominal``, :mod:`trialreads.exports.dates`;
  a new charter's is ``nominal``, the former behaviour), or by ``--date-imputation`` when given
  (it overrides the charter's rule for this import), recorded on the timepoint; ADaM ``ADT`` is
  that date with ``ADTF``.
* Values keep their collected precision (the source has values like 32.32 mm): the standardised
  ``TRSTRESC`` is stored exactly and is what the engine decides on, with the collected
  ``TRORRES`` text beside it, so the export writes ``TRORRES`` as collected. Rounding to the
  web form's 0.1 mm entry quantum would let the import change a response (a target 50 mm ->
  35.04 mm is SD, -29.92 %; rounded to 35.0 it would be PR) (issue 18 item 6). The summary
  counts the values finer than 0.1 mm (``values_finer_than_0.1_mm``), none of them rounded.
* Each timepoint read is signed with the reader's import account; the signature meaning
  says it is an import of the named file and not the original reader's own signature.
* The accepted read: concordant subjects are accepted by the charter rule (read 1); for
  discordant ones the import adjudicator chooses the evaluator the source flags accepted
  (``TRACPTFL="Y"``), with that as the rationale.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from criteria.parse import TSTM
from criteria.sdtm import SdtmError, subjects_from_sdtm
from trialreads import validators
from trialreads.choices import AdjudicationStatus, MeasurementState, TrialRole
from trialreads.errors import DomainError
from trialreads.exports import dates as export_dates
from trialreads.management.inputs import BAD_INPUT, refused, trial_code
from trialreads.models import AdjudicationCase, Charter, ImagingTimepoint, Read, TimepointRead, Trial
from trialreads.services import adjudication as adjudication_services
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services
from trialreads.services.endpoints import endpoints_compute
from trialreads.services.exports import export_write

READERS = ("RADIOLOGIST 1", "RADIOLOGIST 2")
QUANTUM = Decimal("0.1")
_DIAMETER_TESTS = frozenset({"LDIAM", "LPERP", "DIAMETER"})
_SITE = re.compile(r"^[^-]+-([^-]+)-")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _optional(directory: Path, prefix: str) -> Path | None:
    found = sorted(directory.glob(f"{prefix}*.csv"))
    if len(found) > 1:
        names = [p.name for p in found]
        raise CommandError(f"expected at most one {prefix}*.csv in {directory}, found {names}")
    return found[0] if found else None


def _sdtm_date(value: str | None, where: str) -> dt.date | None:
    """A full ISO 8601 date (a date-time keeps its date); ``""`` / ``NA`` are missing."""
    text = (value or "").strip()
    if text in ("", "NA"):
        return None
    day, _, time = text.partition("T")
    try:
        if len(day) != 10 or (time and not time[:1].isdigit()):
            raise ValueError
        return dt.date.fromisoformat(day)
    except ValueError:
        raise CommandError(
            f"{where}: {text!r} is not a full ISO 8601 date (YYYY-MM-DD, optionally with a time)",
            returncode=BAD_INPUT,
        ) from None


#: Subject-level dates read from DM / DS: the subject's field <- (domain, variable).
SUBJECT_DATE_SOURCES = {
    "reference_start_date": ("DM", "RFSTDTC"),
    "first_dose_date": ("DM", "RFXSTDTC"),
    "death_date": ("DM", "DTHDTC"),
    "randomisation_date": ("DS", "DSSTDTC of DSDECOD RANDOMIZED"),
}


def _subject_dates(directory: Path) -> dict[str, dict[str, dt.date]]:
    """USUBJID -> the subject dates the folder's DM and DS files give (:data:`SUBJECT_DATE_SOURCES`)."""
    out: dict[str, dict[str, dt.date]] = defaultdict(dict)
    dm_path, ds_path = _optional(directory, "dm"), _optional(directory, "ds")
    if dm_path is not None:
        for line, row in enumerate(_rows(dm_path), start=2):
            for field, (_, variable) in SUBJECT_DATE_SOURCES.items():
                if variable in row:
                    day = _sdtm_date(row[variable], f"{dm_path.name} line {line}: {variable}")
                    if day is not None:
                        out[row["USUBJID"]][field] = day
    if ds_path is not None:
        for line, row in enumerate(_rows(ds_path), start=2):
            if row.get("DSDECOD") == "RANDOMIZED":
                day = _sdtm_date(row.get("DSSTDTC"), f"{ds_path.name} line {line}: DSSTDTC")
                if day is not None:
                    out[row["USUBJID"]]["randomisation_date"] = day
    return out


def _find(directory: Path, prefix: str) -> Path:
    found = sorted(directory.glob(f"{prefix}*.csv"))
    if len(found) != 1:
        raise CommandError(f"expected one {prefix}*.csv in {directory}, found {[p.name for p in found]}")
    return found[0]


class _Values:
    """Values as the engine gets them (exact) and their collected text, per TR row key."""

    def __init__(self, tr: Sequence[Mapping[str, str]]) -> None:
        self.finer = 0
        #: (USUBJID, TREVALID, VISIT, TRLNKID) -> TRORRES of the diameter row
        self.collected: dict[tuple[str, str, str, str], str] = {}
        for row in tr:
            if row.get("TRTESTCD") in _DIAMETER_TESTS and row.get("TRORRES", "").strip():
                key = (row["USUBJID"], row.get("TREVALID", ""), row.get("VISIT", ""), row.get("TRLNKID", ""))
                self.collected.setdefault(key, row["TRORRES"].strip())

    def mm(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        exact = Decimal(value)
        try:
            finer = exact.is_finite() and exact != exact.quantize(QUANTUM)
        except InvalidOperation:
            return exact  # far out of range (1e400): the service refuses it, naming the field
        self.finer += finer
        return exact

    def text(self, value: Decimal | None, usubjid: str, reader: str, visit: str, lesion: str) -> str:
        """The collected ``TRORRES`` when it reads as the value in mm, else the value's own text
        (a result collected in other units is standardised in ``TRSTRESC``, which is the value)."""
        if value is None or not value.is_finite():
            return ""
        collected = self.collected.get((usubjid, reader, visit, lesion), "")
        try:
            same = collected != "" and Decimal(collected) == value
        except ArithmeticError:
            same = False
        return collected if same else str(value)


def _user(username: str, password: str, *, staff: bool = False, name: str = "") -> Any:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first() or user_model(username=username)
    first, _, last = name.partition(" ")
    user.first_name, user.last_name, user.is_staff = first, last, staff or user.is_staff
    # AUTH_PASSWORD_VALIDATORS apply to generated passwords too (set_password does not run them).
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user


def import_sdtm(
    directory: Path,
    *,
    trial_code: str | None = None,
    stdout: Any = None,
    date_imputation: str | None = None,
    charter_date_imputation: str | None = None,
) -> tuple[Trial, dict[str, Any]]:
    """Import the TU/TR files of ``directory`` into a new trial; returns it and a summary.
    The new charter's ``date_imputation`` is ``charter_date_imputation`` (else the field's
    default); partial ``TRDTC`` are imputed by ``date_imputation`` when given, else by the
    charter's rule (:data:`trialreads.exports.dates.RULE_NAMES`)."""
    options = {"--date-imputation": date_imputation, "--charter-date-imputation": charter_date_imputation}
    for option, value in options.items():
        if value is not None and value not in export_dates.RULE_NAMES:
            raise CommandError(f"{option}: one of {', '.join(export_dates.RULE_NAMES)}", returncode=BAD_INPUT)
    tu_path, tr_path = _find(directory, "tu"), _find(directory, "tr")
    tu, tr = _rows(tu_path), _rows(tr_path)
    subject_dates = _subject_dates(directory)
    source = f"{tr_path.name} (SHA-256 {hashlib.sha256(tr_path.read_bytes()).hexdigest()[:16]})"
    studyids = sorted({row["STUDYID"] for row in tu})
    # An explicit --trial "" is a (refused) code, not "use the STUDYID".
    code = trial_code if trial_code is not None else (studyids[0] if len(studyids) == 1 else "")
    if trial_code is None and not code:
        raise CommandError(f"several STUDYIDs {studyids}: name the trial with --trial")
    if Trial.objects.filter(code=code).exists():
        raise CommandError(f"trial {code} already exists")
    try:
        per_reader = {
            reader: {s["subject"]: s for s in subjects_from_sdtm(tu, tr, reader)} for reader in READERS
        }
    except SdtmError as exc:
        raise CommandError(f"SDTM input: {exc}", returncode=BAD_INPUT) from exc
    visitnum: dict[tuple[str, str], Decimal] = {}
    for line, r in enumerate(tr, start=2):
        if r.get("VISITNUM"):
            try:
                visitnum[(r["USUBJID"], r["VISIT"])] = validators.parse_decimal(r["VISITNUM"])
            except ValueError as exc:
                raise CommandError(
                    f"{tr_path.name} line {line}: VISITNUM: {exc}", returncode=BAD_INPUT
                ) from None
    first_visit: dict[str, tuple[Decimal, str]] = {}
    for (usubjid, visit), number in visitnum.items():
        if usubjid not in first_visit or number < first_visit[usubjid][0]:
            first_visit[usubjid] = (number, visit)
    accepted: dict[str, str] = {}
    for row in tr:
        if row.get("TRACPTFL") == "Y" and row.get("TREVALID") in READERS:
            accepted.setdefault(row["USUBJID"], row["TREVALID"])

    passwords = {key: secrets.token_urlsafe(24) for key in ("manager", "r1", "r2", "adj")}
    prefix = code.lower()[:30]
    counter = _Values(tr)
    subjects = sorted(set(per_reader[READERS[0]]) | set(per_reader[READERS[1]]))
    baseline_dates = [
        dt.date.fromisoformat(per_reader[r][s]["baseline"]["date"]) for r in READERS for s in per_reader[r]
    ]
    # Everything, the import accounts included, in one transaction: a refused value anywhere
    # in the files leaves nothing behind (issue 13).
    with transaction.atomic():
        manager = _user(f"{prefix}-import", passwords["manager"], staff=True, name="SDTM Import")
        r1 = _user(f"{prefix}-r1", passwords["r1"], name="Radiologist 1")
        r2 = _user(f"{prefix}-r2", passwords["r2"], name="Radiologist 2")
        adjudicator = _user(f"{prefix}-adj", passwords["adj"], name="Import Adjudicator")
        reader_users = {READERS[0]: (r1, passwords["r1"]), READERS[1]: (r2, passwords["r2"])}
        trial = trial_services.trial_create(
            code=code,
            title=f"{code} (imported from SDTM TU/TR)",
            actor=manager,
            charter={"criteria": ["recist1.1", "irecist", "imrecist"]}
            | ({"date_imputation": charter_date_imputation} if charter_date_imputation else {}),
            effective_from=min(baseline_dates),
        )
        charter_rule = Charter.objects.get(trial=trial, is_current=True).date_imputation
        rule = date_imputation if date_imputation is not None else charter_rule
        for user, role, label in ((r1, TrialRole.READER, "R1"), (r2, TrialRole.READER, "R2")):
            trial_services.membership_add(
                trial_id=trial.pk, user_id=user.pk, role=role, reader_label=label, actor=manager
            )
        trial_services.membership_add(
            trial_id=trial.pk, user_id=adjudicator.pk, role=TrialRole.ADJUDICATOR, actor=manager
        )
        sites: dict[str, int] = {}
        for usubjid in subjects:
            match = _SITE.match(usubjid)
            site_code = match.group(1) if match else "SITE01"
            if site_code not in sites:
                sites[site_code] = trial_services.site_create(
                    trial_id=trial.pk, code=site_code, actor=manager
                ).pk
            reads = {r: per_reader[r].get(usubjid) for r in READERS}
            _import_subject(
                trial, sites[site_code], usubjid, reads, visitnum, first_visit[usubjid][1],
                manager, reader_users, counter, source, rule, subject_dates.get(usubjid, {}),
            )  # fmt: skip
        decided = _settle_adjudications(trial, accepted, manager, adjudicator, passwords["adj"])
    summary = {
        "trial": trial.code,
        "subjects": len(subjects),
        "readers": list(READERS),
        "values_finer_than_0.1_mm": counter.finer,
        "date_imputation": rule,
        "charter_date_imputation": charter_rule,
        "adjudications_decided": decided,
        "source": source,
        # subjects whose date came from the sponsor's DM / DS (the rest: unknown, randomisation
        # at the baseline scan)
        "subject_dates": {
            field: sum(1 for s in subjects if field in subject_dates.get(s, {}))
            for field in SUBJECT_DATE_SOURCES
        },
    }
    return trial, summary


def _import_subject(
    trial: Trial,
    site_id: int,
    usubjid: str,
    reads: Mapping[str, dict[str, Any] | None],
    visitnum: Mapping[tuple[str, str], Decimal],
    baseline_visit: str,
    manager: Any,
    reader_users: Mapping[str, tuple[Any, str]],
    counter: _Values,
    source: str,
    date_imputation: str,
    sponsor_dates: Mapping[str, dt.date],
) -> None:
    present = {r: data for r, data in reads.items() if data is not None}
    reference = min(dt.date.fromisoformat(d["reference_date"]) for d in present.values())
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site_id,
        subject_code=usubjid,
        randomisation_date=sponsor_dates.get("randomisation_date", reference),
        first_dose_date=sponsor_dates.get("first_dose_date"),
        reference_start_date=sponsor_dates.get("reference_start_date"),
        death_date=sponsor_dates.get("death_date"),
        actor=manager,
    )
    # visit -> dates seen by the readers, and the partial dates they were imputed from
    dates: dict[str, list[dt.date]] = defaultdict(list)
    partial: dict[str, list[str]] = defaultdict(list)
    for read_data in present.values():
        dates[baseline_visit].append(dt.date.fromisoformat(read_data["baseline"]["date"]))
        imputed = read_data.get("_imputed_dates", {})
        for visit, tp in zip(read_data["_visits"], read_data["timepoints"], strict=True):
            dates[visit].append(dt.date.fromisoformat(tp["date"]))
            if visit in imputed:
                partial[visit].append(imputed[visit].split(" -> ", 1)[0])
    order = sorted(dates, key=lambda v: visitnum[(usubjid, v)])
    timepoints: dict[str, ImagingTimepoint] = {}
    previous: dt.date | None = None
    for visit in order:
        collected, rule = "", ""
        if partial[visit]:
            if len(partial[visit]) != len(dates[visit]) or len(set(partial[visit])) != 1:
                raise CommandError(
                    f"{usubjid} {visit}: TRDTC: the readers' dates must be one partial date or full dates "
                    f"({', '.join(sorted(set(partial[visit])))} with {len(dates[visit])} reads)",
                    returncode=BAD_INPUT,
                )
            collected, rule = partial[visit][0], date_imputation
            # criteria.sdtm imputed the nominal-visit rule; the trial's rule decides (same floor).
            day, _ = export_dates.impute(collected, rule, nominal=min(dates[visit]), after=previous)
            dates[visit] = [day]
        timepoints[visit] = trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label=visit,
            visit_number=visitnum[(usubjid, visit)],
            scan_date_earliest=min(dates[visit]),
            scan_date_latest=max(dates[visit]),
            is_baseline=visit == baseline_visit,
            scan_date_collected=collected,
            scan_date_imputation=rule,
            actor=manager,
        )
        previous = max(dates[visit])
    users = [reader_users[r][0] for r in READERS]
    trial_services.reads_assign(subject_id=subject.pk, reader_ids=[u.pk for u in users], actor=manager)
    for slot, reader in enumerate(READERS, start=1):
        if reader not in present:
            continue
        data = present[reader]
        user, password = reader_users[reader]
        read = Read.objects.get(subject=subject, slot=slot)
        sign_as = {"password": password, "printed_name": f"{reader} (SDTM import)", "actor": user}
        meaning = f"Imported from {source}; transcribed by the import, not signed by the original reader."
        base = data["baseline"]
        tr = TimepointRead.objects.get(read=read, timepoint=timepoints[baseline_visit])
        targets = []
        for t in base["targets"]:
            value = counter.mm(t["mm"]) or Decimal(0)
            targets.append(
                read_services.TargetInput(
                    code=t["id"],
                    organ=t["organ"],
                    value_mm=value,
                    is_node=t["node"],
                    collected=counter.text(value, usubjid, reader, baseline_visit, t["id"]),
                )
            )
        read_services.timepoint_read_save_baseline(
            timepoint_read_id=tr.pk,
            targets=targets,
            non_targets=[
                read_services.NonTargetInput(code=n["id"], organ=n["organ"], is_node=n["node"])
                for n in base["non_targets"]
            ],
            expected_version=None,
            actor=user,
        )
        read_services.timepoint_read_sign(timepoint_read_id=tr.pk, meaning=meaning, **sign_as)
        for visit, tp in zip(data["_visits"], data["timepoints"], strict=True):
            tr = TimepointRead.objects.get(read=read, timepoint=timepoints[visit])
            read_services.timepoint_read_save_followup(
                timepoint_read_id=tr.pk,
                targets=[
                    _target_value(lesion, value, counter, (usubjid, reader, visit))
                    for lesion, value in tp["targets"].items()
                ],
                non_targets=dict(tp["non_targets"]),
                new_lesions=[
                    read_services.NewLesionInput(
                        code=n["id"],
                        organ=n["organ"],
                        value_mm=(new_mm := counter.mm(n["mm"])),
                        is_node=n["node"],
                        measurable=n["mm"] is not None,
                        collected=counter.text(new_mm, usubjid, reader, visit, n["id"]),
                    )
                    for n in tp["new_lesions"]
                ],
                expected_version=None,
                actor=user,
            )
            read_services.timepoint_read_sign(timepoint_read_id=tr.pk, meaning=meaning, **sign_as)


def _target_value(
    lesion: str, value: Any, counter: _Values, where: tuple[str, str, str]
) -> read_services.TargetValueInput:
    if value is None:
        return read_services.TargetValueInput(code=lesion, state=MeasurementState.NOT_ASSESSED)
    if value == TSTM:
        return read_services.TargetValueInput(code=lesion, state=MeasurementState.TOO_SMALL)
    mm = counter.mm(value)
    return read_services.TargetValueInput(
        code=lesion, value_mm=mm, collected=counter.text(mm, *where, lesion)
    )


def _settle_adjudications(
    trial: Trial, accepted: Mapping[str, str], manager: Any, adjudicator: Any, password: str
) -> int:
    """Decide every open case for the evaluator the source flags accepted."""
    decided = 0
    cases = AdjudicationCase.objects.filter(subject__trial=trial, status=AdjudicationStatus.OPEN)
    for case in cases.select_related("subject").order_by("subject__subject_code"):
        reader = accepted.get(case.subject.subject_code)
        if reader is None:
            continue
        if case.adjudicator_id != adjudicator.pk:
            adjudication_services.adjudication_assign(
                case_id=case.pk, adjudicator_id=adjudicator.pk, actor=manager
            )
        adjudication_services.adjudication_decide(
            case_id=case.pk,
            chosen=case.label_for_slot(READERS.index(reader) + 1),
            rationale=f"Accepted read of the source data transfer (TRACPTFL='Y' on {reader}).",
            password=password,
            printed_name="Import Adjudicator (SDTM import)",
            actor=adjudicator,
        )
        decided += 1
    return decided


class Command(BaseCommand):
    help = "Import SDTM TU/TR files (two independent readers) into a new trial."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, required=True, help="directory with tu*.csv and tr*.csv")
        parser.add_argument(
            "--trial", default=None, type=trial_code, help="trial code (default: the STUDYID)"
        )
        parser.add_argument(
            "--date-imputation",
            default=None,
            choices=export_dates.RULE_NAMES,
            help="rule for partial TRDTC (trialreads.exports.dates); default: the charter's date_imputation",
        )
        parser.add_argument(
            "--charter-date-imputation",
            default=None,
            choices=export_dates.RULE_NAMES,
            help="the new charter's date_imputation (the trial's rule; default: nominal)",
        )
        parser.add_argument("--compute", action="store_true", help="compute the endpoints afterwards")
        parser.add_argument("--export-dir", type=Path, default=None, help="then write the export here")

    def handle(self, *args: Any, **options: Any) -> None:
        import json


        try:
            trial, summary = import_sdtm(
                options["dir"],
                trial_code=options["trial"],
                date_imputation=options["date_imputation"],
                charter_date_imputation=options["charter_date_imputation"],
            )
        except DomainError as exc:
            # A value the services refuse (a visit number, a diameter, a date): exit 2.
            raise refused(exc, str(options["dir"])) from exc
        if options["compute"] or options["export_dir"]:
            job = endpoints_compute(trial_id=trial.pk, requested_by="import_sdtm").job
            summary["endpoint_job"] = job.pk
            if options["export_dir"]:
                manifest, build = export_write(job, options["export_dir"])
                summary["export"] = {d["name"]: d["rows"] for d in manifest["datasets"]}
                summary["excluded"] = list(build.excluded)
        self.stdout.write(json.dumps(summary, sort_keys=True))


__all__: Sequence[str] = ("import_sdtm",)
