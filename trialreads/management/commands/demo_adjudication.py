"""``manage.py demo_adjudication``: discordant and concordant demo subjects, their
adjudications, an investigator import and the reader metrics (see ``demo_adjudication``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from trialreads.demo_adjudication import populate
from trialreads.errors import DomainError
from trialreads.management.inputs import refused, trial_code


class Command(BaseCommand):
    help = "Load the adjudication demo subjects and print the reader metrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--trial", default="DEMO-ADJ", type=trial_code, help="trial code (created if missing)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # One transaction: a refused --trial (or any refused value) leaves nothing behind.
            with transaction.atomic():
                populate(trial_code=options["trial"], stdout=self.stdout)
        except DomainError as exc:
            raise refused(exc, "--trial") from exc
