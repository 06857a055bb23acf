"""criteria: exact, explainable tumour-response criteria (RECIST 1.1, iRECIST, imRECIST).

Pure Python: imports neither Django nor trialreads (enforced by an import-linter contract).
"""

from __future__ import annotations

__version__ = "0.1.0"
