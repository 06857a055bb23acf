"""Shared fixtures: named personas (docstrings say what each may see) and a trial with two
assigned reads, built through the services so that the audit trail is real."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connection, transaction
from hypothesis import settings as hypothesis_settings

from tests.factories import PASSWORD, UserFactory
from trialreads.choices import TrialRole
from trialreads.models import ImagingTimepoint, Read, Site, Subject, TimepointRead, Trial
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services

# Hypothesis: random search on developers' machines (finds new bugs), a derandomised and
# therefore repeatable search in CI (a run's time and verdict do not depend on luck).
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None, print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

T = TypeVar("T")

_triggers = importlib.import_module("trialreads.migrations.0002_lock_and_audit_triggers")


def install_triggers() -> None:
    with connection.cursor() as cursor:
        for sql in _triggers.STATEMENTS[connection.vendor][0]:
            cursor.execute(sql)


def drop_triggers() -> None:
    with connection.cursor() as cursor:
        for sql in _triggers.STATEMENTS[connection.vendor][1]:
            cursor.execute(sql)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def manager(db: None) -> Any:
    """Read manager (staff; creates the trial): sees every read, unlocks, reviews the audit
    trail; never sees the arm."""
    return UserFactory(username="manager", is_staff=True, first_name="Mina", last_name="Manager")


@pytest.fixture
def reader_a(db: None) -> Any:
    """Reader R1: sees and edits only their own reads."""
    return UserFactory(username="reader_a", first_name="Ada", last_name="Reader")


@pytest.fixture
def reader_b(db: None) -> Any:
    """Reader R2: sees and edits only their own reads; never reader A's."""
    return UserFactory(username="reader_b", first_name="Ben", last_name="Reader")


@pytest.fixture
def adjudicator(db: None) -> Any:
    """Adjudicator: sees a timepoint of both reads only after both readers signed it."""
    return UserFactory(username="adjudicator", first_name="Alex", last_name="Judge")


@pytest.fixture
def sponsor(db: None) -> Any:
    """Sponsor viewer: endpoints and exports (and the arm); no reads."""
    return UserFactory(username="sponsor", first_name="Sam", last_name="Sponsor")


@pytest.fixture
def outsider(db: None) -> Any:
    """Authenticated user with no role in the trial: sees nothing."""
    return UserFactory(username="outsider")


@dataclass
class TrialWithReads:
    trial: Trial
    site: Site
    subject: Subject
    timepoints: list[ImagingTimepoint]
    read_a: Read
    read_b: Read

    def tr(self, read: Read, index: int) -> TimepointRead:
        return TimepointRead.objects.get(read=read, timepoint=self.timepoints[index])


def build_trial(manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any) -> Trial:
    """Trial ONC-001 with the four roles, through the services (audit events and all)."""
    trial = trial_services.trial_create(
        code="ONC-001",
        title="Oncology trial 1",
        actor=manager,
        charter={"criteria": ["recist1.1", "irecist", "imrecist"]},
        effective_from=dt.date(2025, 1, 1),
    )
    for user, role in (
        (reader_a, TrialRole.READER),
        (reader_b, TrialRole.READER),
        (adjudicator, TrialRole.ADJUDICATOR),
        (sponsor, TrialRole.SPONSOR_VIEWER),
    ):
        trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=manager)
    return trial


def make_subject_with_reads(
    trial: Trial, manager: Any, readers: tuple[Any, Any], code: str = "S-001", followups: int = 2
) -> TrialWithReads:
    site = Site.objects.filter(trial=trial).first() or trial_services.site_create(
        trial_id=trial.pk, code="SITE01", name="Site one", actor=manager
    )
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code=code,
        randomisation_date=dt.date(2025, 1, 10),
        arm="EXPERIMENTAL",
        actor=manager,
    )
    timepoints = [
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="BASELINE",
            visit_number=0,
            scan_date_earliest=dt.date(2025, 1, 5),
            is_baseline=True,
            actor=manager,
        )
    ]
    for week in range(1, followups + 1):
        day = dt.date(2025, 1, 5) + dt.timedelta(weeks=6 * week)
        timepoints.append(
            trial_services.timepoint_create(
                subject_id=subject.pk,
                visit_label=f"WEEK{6 * week}",
                visit_number=week,
                scan_date_earliest=day,
                scan_date_latest=day + dt.timedelta(days=1),
                actor=manager,
            )
        )
    read_a, read_b = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[u.pk for u in readers], actor=manager
    )
    return TrialWithReads(trial, site, subject, timepoints, read_a, read_b)


# --- rows built once per module -------------------------------------------------------------
#
# Django's ``TestCase.setUpTestData`` for pytest modules: a module whose tests all start from the
# same service-built rows builds them once, inside one transaction that stays open for the
# module; every test's own transaction (pytest-django's ``db``) nests inside it as a savepoint
# and rolls back after the test, and the module's transaction rolls back after its last test.
# The rows are the same (built through the same services, audit events and hash chain
# included); only their building is not repeated. Each test gets its own deep copies of the
# instances, as ``setUpTestData`` gives.
#
# A module shares a fixture's rows only when that is invisible to its tests: none of them
# commits (``transactional_db``, ``tx_db``, a live server) or moves id sequences
# (``distinct_ids``, which must run before the rows exist), and every test of the module that
# uses the database requests the fixture (so no test sees rows it did not ask for). Any other
# module builds the rows per test, as before.

#: Fixtures whose tests cannot run inside a module's open transaction.
_COMMITTING = frozenset(
    {
        "transactional_db",
        "tx_db",
        "live_server",
        "e2e_db",
        "distinct_ids",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)


def _module_items(request: pytest.FixtureRequest) -> list[pytest.Item]:
    return [item for item in request.session.items if getattr(item, "module", None) is request.module]


def module_shares(request: pytest.FixtureRequest, fixture: str) -> bool:
    """Whether ``fixture``'s rows may be built once for the requesting module (see above)."""
    for item in _module_items(request):
        names = set(getattr(item, "fixturenames", ()))
        marker = item.get_closest_marker("django_db")
        transactional = marker is not None and bool(
            marker.kwargs.get("transaction") or (marker.args and marker.args[0])
        )
        if transactional or names & _COMMITTING:
            return False
        if (marker is not None or "db" in names) and fixture not in names:
            return False
    return True


@pytest.fixture(scope="module")
def module_transaction(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """One transaction around the module's tests, rolled back after the last one."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def built_once_per_module(request: pytest.FixtureRequest, fixture: str, build: Callable[[], T]) -> T | None:
    """``build()``'s result, built in the module's transaction, or None when the module does
    not share ``fixture`` (its tests build their own)."""
    if not module_shares(request, fixture):
        return None
    request.getfixturevalue("module_transaction")
    with request.getfixturevalue("django_db_blocker").unblock():
        return build()


def personas() -> dict[str, Any]:
    """The users of the persona fixtures below, for rows built once per module (the persona
    fixtures then return the same users: ``UserFactory`` gets or creates by username)."""
    return {
        "manager": UserFactory(username="manager", is_staff=True, first_name="Mina", last_name="Manager"),
        "reader_a": UserFactory(username="reader_a", first_name="Ada", last_name="Reader"),
        "reader_b": UserFactory(username="reader_b", first_name="Ben", last_name="Reader"),
        "adjudicator": UserFactory(username="adjudicator", first_name="Alex", last_name="Judge"),
        "sponsor": UserFactory(username="sponsor", first_name="Sam", last_name="Sponsor"),
    }


@pytest.fixture(scope="module")
def _module_trial(request: pytest.FixtureRequest) -> Trial | None:
    def build() -> Trial:
        return build_trial(**personas())

    return built_once_per_module(request, "trial", build)


@pytest.fixture
def trial(
    _module_trial: Trial | None, manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any
) -> Trial:
    """Trial ONC-001 (criteria RECIST 1.1, iRECIST, imRECIST) created by the manager, with
    readers A and B, the adjudicator and the sponsor viewer as members."""
    if _module_trial is not None:
        return copy.deepcopy(_module_trial)
    return build_trial(manager, reader_a, reader_b, adjudicator, sponsor)


@pytest.fixture(scope="module")
def _module_trial_with_reads(
    request: pytest.FixtureRequest, _module_trial: Trial | None
) -> TrialWithReads | None:
    if _module_trial is None:
        return None

    def build() -> TrialWithReads:
        users = personas()
        return make_subject_with_reads(
            _module_trial, users["manager"], (users["reader_a"], users["reader_b"])
        )

    return built_once_per_module(request, "trial_with_reads", build)


@pytest.fixture
def trial_with_reads(
    _module_trial_with_reads: TrialWithReads | None, trial: Trial, manager: Any, reader_a: Any, reader_b: Any
) -> TrialWithReads:
    """Trial ONC-001, subject S-001 (baseline, week 6, week 12) with reads for A (slot 1) and B."""
    if _module_trial_with_reads is not None:
        return copy.deepcopy(_module_trial_with_reads)
    return make_subject_with_reads(trial, manager, (reader_a, reader_b))


# --- content helpers ---------------------------------------------------------------------

BASELINE_TARGETS = (
    read_services.TargetInput(code="T1", organ="liver", value_mm=Decimal("50.0")),
    read_services.TargetInput(code="T2", organ="left lung", value_mm=Decimal("30.0")),
    read_services.TargetInput(
        code="T3", organ="mediastinal lymph node", value_mm=Decimal("20.0"), is_node=True
    ),
)
BASELINE_NON_TARGETS = (read_services.NonTargetInput(code="NT1", organ="bone"),)


def save_baseline(
    tr: TimepointRead, actor: Any, targets: Any = BASELINE_TARGETS, non_targets: Any = BASELINE_NON_TARGETS
) -> TimepointRead:
    tr.refresh_from_db()
    return read_services.timepoint_read_save_baseline(
        timepoint_read_id=tr.pk,
        targets=targets,
        non_targets=non_targets,
        expected_version=tr.version,
        actor=actor,
    )


def followup_values(t1: str = "40.0", t2: str = "25.0", t3: str = "12.0") -> tuple[Any, ...]:
    return tuple(
        read_services.TargetValueInput(code=code, value_mm=Decimal(v))
        for code, v in (("T1", t1), ("T2", t2), ("T3", t3))
    )


def save_followup(
    tr: TimepointRead, actor: Any, targets: Any = None, non_targets: Any = None, new_lesions: Any = ()
) -> TimepointRead:
    tr.refresh_from_db()
    return read_services.timepoint_read_save_followup(
        timepoint_read_id=tr.pk,
        targets=targets if targets is not None else followup_values(),
        non_targets=non_targets if non_targets is not None else {"NT1": "present"},
        new_lesions=new_lesions,
        expected_version=tr.version,
        actor=actor,
    )


def sign(tr: TimepointRead, actor: Any, password: str = PASSWORD) -> Any:
    return read_services.timepoint_read_sign(
        timepoint_read_id=tr.pk, password=password, printed_name=actor.get_full_name(), actor=actor
    )


# --- transactional tests (threads) ----------------------------------------------------------


@pytest.fixture
def _reinstall_triggers_after_flush(django_db_blocker: Any) -> Iterator[None]:
    yield
    if connection.vendor == "sqlite":
        with django_db_blocker.unblock():
            install_triggers()


@pytest.fixture
def tx_db(_reinstall_triggers_after_flush: None, transactional_db: None) -> Iterator[None]:
    """``transactional_db`` whose teardown can flush on SQLite: Django's flush DELETEs every
    row, which the append-only and lock triggers refuse, so they are dropped for the flush
    and re-created after it. (PostgreSQL flushes with TRUNCATE, which row triggers ignore.)"""
    yield
    if connection.vendor == "sqlite":
        drop_triggers()


# --- blinding of the adjudicator ------------------------------------------------------------

#: First primary key of each model whose ids identify a reader's work. Far apart and far from
#: every other id, so a leaked id is found as a plain substring of any response.
DISTINCT_ID_BASES = {
    "trialreads_read": 7_100_000,
    "trialreads_timepointread": 7_200_000,
    "trialreads_lesion": 7_300_000,
    "trialreads_measurement": 7_400_000,
    "trialreads_nontargetrating": 7_500_000,
    "trialreads_signature": 7_600_000,
}


@pytest.fixture
def distinct_ids(db: None) -> None:
    """Move the id sequences of reads and their content to :data:`DISTINCT_ID_BASES`. Request
    it before the fixtures that create reads."""
    with connection.cursor() as cursor:
        for table, start in DISTINCT_ID_BASES.items():
            if connection.vendor == "postgresql":
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, start])
            else:
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [start, table])
                if cursor.rowcount == 0:
                    cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start])


_MICROS = "%Y-%m-%dT%H:%M:%S.%f"


def read_identifiers(subject: Subject) -> dict[str, str]:
    """Everything that tells the adjudicator which read of ``subject`` is whose or which came
    first: ids of reads, timepoint reads, lesions, values, ratings and signatures (from
    :func:`distinct_ids`), readers' names, slots, CDISC evaluators, creation and signing
    times. Maps each needle to what it is."""
    from trialreads.models import Lesion, Measurement, NonTargetRating, Signature

    reads = list(Read.objects.filter(subject=subject).select_related("reader"))
    trs = list(TimepointRead.objects.filter(read__in=reads))
    needles: dict[str, str] = {}
    for read in reads:
        needles[str(read.pk)] = f"read id (slot {read.slot})"
        needles[read.reader.get_username()] = "reader username"
        needles[read.reader.get_full_name()] = "reader name"
        needles[read.created_at.strftime(_MICROS)] = "read created_at"
    for pk in Lesion.objects.filter(read__in=reads).values_list("pk", flat=True):
        needles[str(pk)] = "lesion id"
    for model in (Measurement, NonTargetRating):
        for pk in model.objects.filter(timepoint_read__in=trs).values_list("pk", flat=True):
            needles[str(pk)] = f"{model.__name__} id"
    for tr in trs:
        needles[str(tr.pk)] = "timepoint read id"
        needles[tr.created_at.strftime(_MICROS)] = "timepoint read created_at"
        if tr.saved_at is not None:
            needles[tr.saved_at.strftime(_MICROS)] = "timepoint read saved_at"
    for sig in Signature.objects.filter(timepoint_read__in=trs):
        needles[str(sig.pk)] = "signature id"
        needles[sig.signed_at.strftime(_MICROS)] = "signed_at"
        needles[sig.printed_name] = "signer's printed name"
    for word in ("RADIOLOGIST", "slot", "Slot", "reader_id"):
        needles[word] = "slot or evaluator"
    for pk in list(needles):
        if pk.isdigit():
            assert int(pk) >= min(DISTINCT_ID_BASES.values()), "request distinct_ids before the reads"
    return needles


def leaks(content: bytes | str, needles: dict[str, str]) -> list[str]:
    text = content.decode() if isinstance(content, bytes) else content
    return [f"{what}: {needle!r}" for needle, what in needles.items() if needle and needle in text]
