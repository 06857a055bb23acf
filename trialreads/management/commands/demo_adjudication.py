"""``manage.py demo_adjudication``: discordant and concordant demo subjects, their
adjudications, an investigator import and the reader metrics (see ``demo_adjudication``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trialreads.demo_adjudication import populate


class Command(BaseCommand):
    help = "Load the adjudication demo subjects and print the reader metrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trial", default="DEMO-ADJ", help="trial code (created if missing)")

    def handle(self, *args: Any, **options: Any) -> None:
        populate(trial_code=options["trial"], stdout=self.stdout)
