"""``manage.py verify_audit [--trial CODE] [--anchor FILE] [--write-anchor FILE]``.

Recomputes every hash chain (or one trial's) and names the first broken ``seq``; exits 1 on
any break. ``--anchor`` compares with heads saved earlier by ``--write-anchor`` (kept outside
the database), which is what reveals a truncated tail. It also re-hashes the content of every
signed or locked timepoint read and compares it with the hash recorded in the chained
``TIMEPOINT_READ_SIGNED`` event (T-SIG-LINK; ``services.signed_content``), not with the editable
``content_sha256`` columns: a signed record changed behind the services' back is found even
when its stored hashes were rewritten with it; adjudication decisions likewise. Exit 1 on any
break; a sign event with no content hash is reported as ``NOHASH`` and fails too (it cannot
be verified).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trialreads.models import Trial
from trialreads.services.audit import chain_anchor, chain_ids, verify_chain
from trialreads.services.signed_content import NO_CHAINED_HASH, decision_problems, signed_content_problems


class Command(BaseCommand):
    help = "Verify the hash-chained audit trail; exit 1 and name the first broken seq."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trial", help="trial code (default: every chain)")
        parser.add_argument("--anchor", help="JSON file of chain heads written earlier by --write-anchor")
        parser.add_argument("--write-anchor", help="write the current chain heads to this JSON file")

    def handle(self, *args: Any, **options: Any) -> None:
        trial = None
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
        problems = signed_content_problems(trial=trial) + decision_problems(trial=trial)
        for problem in problems:
            self.stdout.write(problem.line())
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
        if problems:
            unchained = sum(1 for p in problems if p.kind == NO_CHAINED_HASH)
            records = len({p.record for p in problems if p.kind != NO_CHAINED_HASH})
            raise CommandError(
                f"{records} signed record(s) do not match the hashes signed in the audit chain"
                + (f", {unchained} sign event(s) with no chained hash" if unchained else ""),
                returncode=1,
            )
