"""The shared contract check (docs/contract/check_contract.py) must pass against this package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path("docs") / "contract" / "check_contract.py"


def test_contract_check_passes() -> None:
    # Run from the project root with the relative path, exactly as `make test` does.
    r = subprocess.run([sys.executable, str(CHECK), sys.executable], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "contract: ok"
