"""App settings: ``settings.TRIALREADS`` overrides these defaults, read lazily (DRF pattern)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Re-authentication at signing (21 CFR 11.200, T-SIG-REAUTH).
    "SIGN_MAX_FAILURES": 5,
    "SIGN_LOCKOUT_MINUTES": 15,
    # Scan dates may be at most this many days after today (clock skew between sites).
    "SCAN_DATE_FUTURE_TOLERANCE_DAYS": 1,
    "DEFAULT_SIGNATURE_MEANING": "I am the author of this assessment and approve its content.",
    # Recompute the trial's endpoints (Celery, on commit) after a read is signed or an
    # adjudication decided. The task is idempotent on the inputs' hash, so a burst of
    # signatures costs one computation per distinct input state.
    "AUTO_COMPUTE_ENDPOINTS": True,
    # Processes for the endpoint recompute and the export (None: one per CPU), and the trial
    # size from which they are used (smaller trials run in the calling process).
    "ENDPOINT_PROCESSES": None,
    "ENDPOINT_PARALLEL_MIN_SUBJECTS": 200,
}


def get(name: str) -> Any:
    """One setting, from ``settings.TRIALREADS`` or the default."""
    overrides: dict[str, Any] = getattr(settings, "TRIALREADS", {}) or {}
    if name in overrides:
        return overrides[name]
    return DEFAULTS[name]
