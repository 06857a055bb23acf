"""Audit the locked dependency set for known vulnerabilities with pip-audit.

`make test` runs this. pip-audit asks PyPI's JSON API (which carries the PyPA advisory
database) about every pinned release in requirements/lock.txt, one ``/pypi/<name>/<version>/json``
request each. Where that service cannot be reached (offline, or behind a mirror that serves
only the package index), the audit is skipped with a message that says so, in capitals, and
names the reason; it never passes silently. A release pip-audit could not look up is named as
NOT audited. When the service answers, its verdict stands: a known vulnerability fails
`make test` (exit 1). Bad arguments exit 2.

Usage: python scripts/audit_dependencies.py [--lock FILE] [--probe-url URL] [--pip-audit CMD]
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: pip-audit's default ("pypi") service answers per release at this address.
RELEASE_URL = "https://pypi.org/pypi/{name}/{version}/json"
PROBE_TIMEOUT_S = 10
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(lock_text: str) -> list[tuple[str, str]]:
    """The ``name==version`` pins of a pip-compile lock file, in file order."""
    return _PIN.findall(lock_text)


def unreachable(url: str) -> str | None:
    """None when ``url`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as response:  # noqa: S310 (PyPI or a test's own URL)
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))


def summarise(report: dict[str, Any]) -> tuple[int, list[str]]:
    """(number of known vulnerabilities, lines to print) from pip-audit's JSON report."""
    lines: list[str] = []
    found = 0
    skipped = []
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped.append(f"{dep['name']} ({dep.get('skip_reason')})")
            continue
        for vuln in dep.get("vulns") or []:
            found += 1
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            release = f"{dep['name']}=={dep['version']}"
            lines.append(f"audit: VULNERABLE {release}: {vuln['id']} (fixed in {fixes})")
    if skipped:
        lines.append(f"audit: {len(skipped)} release(s) NOT audited: " + "; ".join(skipped))
    audited = len(report.get("dependencies", [])) - len(skipped)
    noun = "vulnerability" if found == 1 else "vulnerabilities"
    lines.append(f"audit: {audited} release(s) audited, {found} known {noun}")
    return found, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements" / "lock.txt")
    parser.add_argument(
        "--probe-url", help="address to try first (default: PyPI's page of the lock's first pin)"
    )
    parser.add_argument(
        "--pip-audit",
        default=f"{shlex.quote(sys.executable)} -m pip_audit",
        help="command that runs pip-audit (default: this interpreter's pip_audit module)",
    )
    args = parser.parse_args(argv)
    if not args.lock.is_file():
        print(f"audit: --lock: no such file: {args.lock}", file=sys.stderr)
        return 2
    pinned = pins(args.lock.read_text(encoding="utf-8"))
    if not pinned:
        print(f"audit: --lock: no name==version pins in {args.lock}", file=sys.stderr)
        return 2
    probe = args.probe_url or RELEASE_URL.format(name=pinned[0][0], version=pinned[0][1])
    why = unreachable(probe)
    if why is not None:
        print(
            f"audit: SKIPPED, dependencies NOT audited: the advisory service ({probe}) "
            f"could not be reached ({why}). Run `make test` where PyPI answers to audit them."
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [
            *shlex.split(args.pip_audit),
            "--requirement", str(args.lock),
            "--require-hashes",
            "--disable-pip",
            "--progress-spinner", "off",
            "--format", "json",
            "--output", str(out),
        ]
        rc = subprocess.call(command, stdout=subprocess.DEVNULL)  # noqa: S603 (our own command line)
        if not out.is_file():
            print(f"audit: pip-audit failed (exit {rc}) without a report", file=sys.stderr)
            return rc or 1
        found, lines = summarise(json.loads(out.read_text(encoding="utf-8")))
    print("\n".join(lines))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
