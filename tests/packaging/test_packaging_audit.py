"""scripts/audit_dependencies.py: offline it says SKIPPED, online pip-audit's verdict stands."""

from __future__ import annotations

import http.server
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_dependencies.py"
LOCK = "django==5.2.19 \\\n    --hash=sha256:" + "0" * 64 + "\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "lock.txt"
    path.write_text(LOCK, encoding="utf-8")
    return path


@pytest.fixture
def probe_url() -> Iterator[str]:
    """A local server that answers 200, standing in for a reachable advisory service."""

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi/django/5.2.19/json"
    server.shutdown()


def fake_pip_audit(tmp_path: Path, report: dict, rc: int) -> str:
    """A command standing in for pip-audit that writes ``report`` where --output says."""
    script = tmp_path / "fake_pip_audit.py"
    script.write_text(
        "import json, sys\n"
        "out = sys.argv[sys.argv.index('--output') + 1]\n"
        f"open(out, 'w').write(json.dumps({report!r}))\n"
        f"sys.exit({rc})\n",
        encoding="utf-8",
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def test_unreachable_service_skips_loudly_and_does_not_fail(lock: Path) -> None:
    result = run("--lock", str(lock), "--probe-url", "http://127.0.0.1:9/pypi/django/5.2.19/json")
    assert result.returncode == 0
    assert "SKIPPED, dependencies NOT audited" in result.stdout
    assert "127.0.0.1:9" in result.stdout


def test_a_known_vulnerability_fails_and_is_named(lock: Path, probe_url: str, tmp_path: Path) -> None:
    report = {
        "dependencies": [
            {
                "name": "django",
                "version": "5.2.19",
                "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["5.2.20"]}],
            }
        ]
    }
    fake = fake_pip_audit(tmp_path, report, 1)
    result = run("--lock", str(lock), "--probe-url", probe_url, "--pip-audit", fake)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VULNERABLE django==5.2.19: PYSEC-0000-1 (fixed in 5.2.20)" in result.stdout


def test_a_clean_report_passes_and_unlooked_up_releases_are_named(
    lock: Path, probe_url: str, tmp_path: Path
) -> None:
    report = {
        "dependencies": [
            {"name": "django", "version": "5.2.19", "vulns": []},
            {"name": "redis", "skip_reason": "Dependency not found on PyPI"},
        ]
    }
    fake = fake_pip_audit(tmp_path, report, 0)
    result = run("--lock", str(lock), "--probe-url", probe_url, "--pip-audit", fake)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 release(s) NOT audited: redis (Dependency not found on PyPI)" in result.stdout
    assert "1 release(s) audited, 0 known vulnerabilities" in result.stdout


def test_pip_audit_crashing_without_a_report_fails(lock: Path, probe_url: str, tmp_path: Path) -> None:
    broken = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)'"
    result = run("--lock", str(lock), "--probe-url", probe_url, "--pip-audit", broken)
    assert result.returncode == 3
    assert "without a report" in result.stderr


@pytest.mark.parametrize("content", [None, "# nothing pinned here\n"])
def test_bad_lock_exits_2_naming_the_option(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "lock.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("--lock", str(path))
    assert result.returncode == 2
    assert "--lock" in result.stderr
