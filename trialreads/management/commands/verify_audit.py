"""``manage.py verify_audit [--trial CODE] [--anchor FILE] [--write-anchor FILE]``.

Recomputes every hash chain (or one trial's) and names the first broken ``seq``; exits 1 on
any break. ``--anchor`` compares with heads saved earlier by ``--write-anchor`` (kept outside
the database), which is what reveals a truncated tail. It also re-hashes the content under
every live signature (T-SIG-LINK): a signed record changed behind the services' back shows
up as a signature that no longer covers what is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trialreads.models import Trial
from trialreads.services.audit import chain_anchor, chain_ids, verify_chain


class Command(BaseCommand):
    help = "Verify the hash-chained audit trail; exit 1 and name the first broken seq."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trial", help="trial code (default: every chain)")
        parser.add_argument("--anchor", help="JSON file of chain heads written earlier by --write-anchor")
        parser.add_argument("--write-anchor", help="write the current chain heads to this JSON file")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["trial"]:
            trial = Trial.objects.filter(code=options["trial"]).first()
            if trial is None:
                raise CommandError(f"no trial {options['trial']}", returncode=2)
            chains = [trial.chain_id]
        else:
            chains = chain_ids()
        anchors: dict[str, Any] = {}
        if options["anchor"]:
            anchors = json.loads(Path(options["anchor"]).read_text())
        failures = []
        for chain in chains:
            report = verify_chain(chain, anchors.get(chain))
            if report.ok:
                self.stdout.write(f"OK   {chain}: {report.events} events, head seq {report.last_seq}")
            else:
                failures.append(report)
                self.stdout.write(f"FAIL {chain}: first bad seq {report.first_bad_seq}: {report.problem}")
        bad_signatures = self._check_signatures(options["trial"])
        missing = sorted(set(anchors) - set(chains)) if not options["trial"] else []
        for chain in missing:
            self.stdout.write(f"FAIL {chain}: anchored chain is missing from the database")
        if options["write_anchor"]:
            heads = {chain: chain_anchor(chain) for chain in chains}
            Path(options["write_anchor"]).write_text(json.dumps(heads, indent=2, sort_keys=True) + "\n")
        if failures or missing:
            first = failures[0] if failures else None
            where = f"{first.chain_id} seq {first.first_bad_seq}" if first else missing[0]
            raise CommandError(f"audit trail broken: {where}", returncode=1)
        if bad_signatures:
            raise CommandError(
                f"{bad_signatures} signature(s) no longer cover the stored content", returncode=1
            )

    def _check_signatures(self, trial_code: str | None) -> int:
        from trialreads.models import Signature
        from trialreads.services.reads import content_sha256

        live = Signature.objects.filter(voided_at__isnull=True).select_related("timepoint_read")
        if trial_code:
            live = live.filter(timepoint_read__read__subject__trial__code=trial_code)
        bad = 0
        for signature in live.order_by("pk").iterator(chunk_size=500):
            tr = signature.timepoint_read
            current = content_sha256(tr)
            if current != signature.content_sha256 or not tr.locked:
                bad += 1
                self.stdout.write(
                    f"FAIL signature {signature.pk} (timepoint read {tr.pk}): "
                    f"signed {signature.content_sha256}, stored content {current}"
                    f"{'' if tr.locked else ', record not locked'}"
                )
        return bad
