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
    # Seconds an endpoint or export claim is valid without renewal; renewed after every chunk,
    # so only a dead holder lets it run out. Keep well below the broker's visibility timeout.
    "ENDPOINT_LEASE_SECONDS": 120,
    # Claims of one job before it is declared FAILED (poison-message guard: with
    # reject_on_worker_lost a task that kills its worker is redelivered forever otherwise).
    "ENDPOINT_MAX_ATTEMPTS": 5,
    # Progress/lease updates per computation (the subjects are split into this many chunks).
    "ENDPOINT_PROGRESS_STEPS": 20,
    # Protocol imaging interval and visit window, for ADTTE's "two or more missed assessments".
    "EXPORT_ASSESSMENT_INTERVAL_DAYS": 56,
    "EXPORT_WINDOW_DAYS": 7,
    # Lifetime of an API token from POST /api/auth/token/ (one new token per login; knox).
    "API_TOKEN_TTL_MINUTES": 600,
    # A browser session unused for this long is logged out (the absolute lifetime from login is
    # Django's SESSION_COOKIE_AGE). Activity is recorded at most once a minute, so the timeout is
    # exact to that minute without a session write on every request.
    "SESSION_IDLE_TIMEOUT_MINUTES": 30,
}

#: Settings that must be whole numbers of at least 1 (0 allowed for the keys in ZERO_ALLOWED).
POSITIVE_INTEGERS: tuple[str, ...] = (
    "SIGN_MAX_FAILURES",
    "SIGN_LOCKOUT_MINUTES",
    "SCAN_DATE_FUTURE_TOLERANCE_DAYS",
    "ENDPOINT_PARALLEL_MIN_SUBJECTS",
    "ENDPOINT_LEASE_SECONDS",
    "ENDPOINT_MAX_ATTEMPTS",
    "ENDPOINT_PROGRESS_STEPS",
    "EXPORT_ASSESSMENT_INTERVAL_DAYS",
    "EXPORT_WINDOW_DAYS",
    "API_TOKEN_TTL_MINUTES",
    "SESSION_IDLE_TIMEOUT_MINUTES",
)
ZERO_ALLOWED: frozenset[str] = frozenset({"SCAN_DATE_FUTURE_TOLERANCE_DAYS", "EXPORT_WINDOW_DAYS"})


def get(name: str) -> Any:
    """One setting, from ``settings.TRIALREADS`` or the default."""
    overrides: dict[str, Any] = getattr(settings, "TRIALREADS", {}) or {}
    if name in overrides:
        return overrides[name]
    return DEFAULTS[name]
