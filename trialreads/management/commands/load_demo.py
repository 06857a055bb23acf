"""``manage.py load_demo``: the demo trials of ``make demo``, end to end through the services.

Two blinded readers read and sign every subject (e-signatures, locks, one unlock-and-change),
the charter's rules open adjudication cases for the discordant subjects and the adjudicator
decides them, the endpoints of RECIST 1.1, iRECIST, imRECIST and itRECIST are computed by the
Celery task (in-process without Redis), the sponsor export is written, the audit chain is
verified, and the command prints how to log in and where to look. Two small trials beside it
(``trialreads.demo_criteria``) show the other criteria: a PET arm (PERCIST 1.0, iPERCIST,
imPERCIST5, PERCIMT) and an irRC / irRECIST trial with bidimensional reads and pre-baseline
scans, their endpoints computed the same way. Running it twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from trialreads import demo_criteria
from trialreads.choices import TrialRole
from trialreads.demo_adjudication import DEMO_PASSWORD, populate
from trialreads.errors import DomainError
from trialreads.management.inputs import BAD_INPUT, refused, trial_code
from trialreads.models import ExportBatch, Trial, TrialMembership
from trialreads.services import audit as audit_services
from trialreads.services import exports as export_services
from trialreads.services import trials as trial_services
from trialreads.tasks import compute_endpoints

SPONSOR = ("demo_sponsor", "Sam", "Sponsor")


def _sponsor_viewer(trial: Trial, manager: Any) -> Any:
    """The sponsor's data manager: sees accepted results and downloads exports, never reads."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=SPONSOR[0]).first()
    if user is None:
        user = user_model(username=SPONSOR[0], first_name=SPONSOR[1], last_name=SPONSOR[2])
        validate_password(DEMO_PASSWORD, user)  # create_user/set_password do not run the validators
        user.set_password(DEMO_PASSWORD)
        user.save()
    if not TrialMembership.objects.filter(trial=trial, user=user).exists():
        trial_services.membership_add(
            trial_id=trial.pk, user_id=user.pk, role=TrialRole.SPONSOR_VIEWER, actor=manager
        )
    return user


def _url(name: str, **kwargs: Any) -> str:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


class Command(BaseCommand):
    help = "Load the demo trial: signed blinded reads, adjudications, endpoints and exports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--trial", default="DEMO-ADJ", type=trial_code, help="trial code (created if missing)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = self.stdout
        if options["trial"] in demo_criteria.DEMO_CODES:
            raise CommandError(
                f"--trial: {options['trial']} is the code of another demo trial", returncode=BAD_INPUT
            )
        out.write("Loading the demo trial: two blinded readers, signed reads, adjudication ...")
        try:
            # One transaction: a refused --trial (or any refused value) leaves nothing behind.
            with transaction.atomic():
                metrics = populate(trial_code=options["trial"], stdout=out)
                others = demo_criteria.populate(stdout=out)
        except DomainError as exc:
            raise refused(exc, "--trial") from exc
        trial = Trial.objects.get(code=options["trial"])
        manager = get_user_model().objects.get(username="demo_manager")
        sponsor = _sponsor_viewer(trial, manager)
        for other in others:
            _sponsor_viewer(other, manager)

        # The task itself (eager without REDIS_URL), so the demo runs the production path.
        for each in (trial, *others):
            result = compute_endpoints.apply(args=(each.pk, "load_demo")).get()
            state = "computed" if result["computed"] else "already computed for these inputs"
            out.write(f"Endpoints of {each.code}: job {result['job']} {result['status']} ({state})")

        with transaction.atomic():
            batch = export_services.export_request(trial_id=trial.pk, actor=sponsor)
        batch.refresh_from_db()
        if batch.status != "DONE":
            export_services.export_build(batch_id=batch.pk)
            batch = ExportBatch.objects.get(pk=batch.pk)
        if batch.status != "DONE":
            raise CommandError(f"The export did not finish: {batch.status} {batch.reason}")
        export_dir = (Path(settings.MEDIA_ROOT) / batch.directory).resolve()

        report = audit_services.verify_chain(trial.chain_id)
        for each in (trial, *others):
            checked = audit_services.verify_chain(each.chain_id)
            if not checked.ok:
                raise CommandError(f"Audit chain of {each.code} broken: {checked}")

        dashboard = _url("trialreads-web:dashboard", trial_id=trial.pk) or "/"
        lines = [
            "",
            "Demo ready.",
            f"  Trial {trial.code}: {trial.subjects.count()} subjects, "
            f"adjudication rate {metrics.get('adjudication_rate', {}).get('value')}",
            f"  Exports (SDTM TU/TR/RS, ADRS, ADTTE as CSV and XPT, manifest.json): {export_dir}",
            f"  Audit chain {trial.chain_id}: {report.events} events, verified",
            *(
                f"  Trial {other.code}: {other.subjects.count()} subjects "
                f"({', '.join(other.charters.get(is_current=True).criteria)}), "
                "subject pages and plots per criterion at "
                + (_url("trialreads-web:dashboard", trial_id=other.pk) or "/")
                for other in others
            ),
            "",
            "Look at it in the browser:",
            "  make serve      (then open http://127.0.0.1:8000" + dashboard + ")",
            f"  users (password {DEMO_PASSWORD}):",
            "    demo_manager      read manager: dashboard, plots, audit review, unlock, exports",
            "    demo_reader1      reader 1 (blinded to reader 2, the arm and site data)",
            "    demo_reader2      reader 2",
            "    demo_adjudicator  adjudicator: open cases, Read A / Read B side by side",
            "    demo_sponsor      sponsor viewer: accepted results and export downloads",
            "  API: http://127.0.0.1:8000/api/docs/   (session or token authentication)",
            "  Criteria CLI: .venv/bin/python -m criteria evaluate docs/contract/examples/"
            "measurement-level.json --explain",
            "  Audit check: .venv/bin/python manage.py verify_audit",
        ]
        out.write("\n".join(lines))
