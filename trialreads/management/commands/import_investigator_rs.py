"""``manage.py import_investigator_rs --trial CODE --file rs.csv [--user USERNAME]``

Imports the investigator's own overall responses (SDTM RS, ``RSEVAL="INVESTIGATOR"``) of
an existing trial's subjects (``USUBJID`` = subject code) for the site-vs-central
discrepancy rates (EDR/LDR) of the reader metrics. Runs as the given read manager, or the
trial's first read manager.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trialreads.choices import TrialRole
from trialreads.errors import DomainError
from trialreads.management.inputs import BAD_INPUT, plain_text, refused, trial_code
from trialreads.models import Trial, TrialMembership
from trialreads.services import adjudication as adjudication_services
from trialreads.services.audit import access_denials_recorded


class Command(BaseCommand):
    help = "Import investigator (site) overall responses from an SDTM RS CSV file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trial", required=True, type=trial_code, help="trial code")
        parser.add_argument("--file", required=True, type=Path, help="RS CSV file")
        parser.add_argument(
            "--user", default="", type=plain_text(150), help="read manager username (default: the first)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        trial = Trial.objects.filter(code=options["trial"]).first()
        if trial is None:
            raise CommandError(f"--trial: no trial {options['trial']}", returncode=BAD_INPUT)
        managers = TrialMembership.objects.filter(trial=trial, role=TrialRole.MANAGER).select_related("user")
        if options["user"]:
            managers = managers.filter(user__username=options["user"])
        membership = managers.order_by("pk").first()
        if membership is None:
            raise CommandError("--user: no such read manager in this trial", returncode=BAD_INPUT)
        path = Path(options["file"])
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = adjudication_services.investigator_rows_from_rs(csv.DictReader(handle))
            known = set(trial.subjects.values_list("subject_code", flat=True))
            rows = [r for r in rows if r.subject_code in known]
            # Outside a request: a refusal of the gate is recorded here (no middleware).
            with access_denials_recorded():
                count = adjudication_services.investigator_assessments_import(
                    trial_id=trial.pk, rows=rows, source=path.name, actor=membership.user
                )
        except DomainError as exc:
            # Exit 2 (bad input) naming every refused record and column; nothing was written.
            raise refused(exc, path.name) from exc
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{path.name}: {exc}", returncode=BAD_INPUT) from exc
        self.stdout.write(f"imported investigator assessments of {count} subjects into {trial.code}")
