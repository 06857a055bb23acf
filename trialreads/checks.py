"""System checks (``manage.py check``): ids ``trialreads.E001``… and ``trialreads.W001``…"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import connections

from trialreads.conf import DEFAULTS, POSITIVE_INTEGERS, ZERO_ALLOWED

SUPPORTED_VENDORS = ("sqlite", "postgresql")


@register("database")
def check_database(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
    """The lock and audit triggers exist for SQLite and PostgreSQL only; SQLite needs
    IMMEDIATE transactions, or concurrent writers fail with ``database is locked``."""
    problems: list[Any] = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor not in SUPPORTED_VENDORS:
            problems.append(
                Error(
                    f"Database {alias!r} is {connection.vendor}; "
                    f"trialreads supports {', '.join(SUPPORTED_VENDORS)}.",
                    hint="The append-only audit and lock triggers (migration 0002) exist only for those.",
                    id="trialreads.E001",
                )
            )
        elif connection.vendor == "sqlite":
            mode = (connection.settings_dict.get("OPTIONS") or {}).get("transaction_mode")
            if mode != "IMMEDIATE":
                problems.append(
                    Warning(
                        f"SQLite database {alias!r} does not use transaction_mode='IMMEDIATE'.",
                        hint="Concurrent signing and saving then fail with 'database is locked' (§7).",
                        id="trialreads.W001",
                    )
                )
    return problems


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    configured = getattr(settings, "TRIALREADS", {}) or {}
    problems: list[Any] = []
    if not isinstance(configured, dict):
        return [Error("settings.TRIALREADS must be a dict.", id="trialreads.E002")]
    for key in sorted(set(configured) - set(DEFAULTS)):
        problems.append(Error(f"Unknown TRIALREADS setting {key!r}.", id="trialreads.E002"))
    for key in POSITIVE_INTEGERS:
        value = configured.get(key, DEFAULTS[key])
        if type(value) is not int or value < 0 or (key not in ZERO_ALLOWED and value == 0):
            problems.append(Error(f"TRIALREADS[{key!r}] must be a positive integer.", id="trialreads.E003"))
    processes = configured.get("ENDPOINT_PROCESSES")
    if processes is not None and (type(processes) is not int or processes < 1):
        message = "TRIALREADS['ENDPOINT_PROCESSES'] must be None or a positive integer."
        problems.append(Error(message, id="trialreads.E003"))
    if type(configured.get("AUTO_COMPUTE_ENDPOINTS", True)) is not bool:
        message = "TRIALREADS['AUTO_COMPUTE_ENDPOINTS'] must be True or False."
        problems.append(Error(message, id="trialreads.E003"))
    return problems


ACCESS_DENIAL_MIDDLEWARE = "trialreads.middleware.AccessDenialAuditMiddleware"


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The access gate only raises; without this middleware no refusal would be audited."""
    if ACCESS_DENIAL_MIDDLEWARE in getattr(settings, "MIDDLEWARE", []):
        return []
    return [
        Error(
            f"{ACCESS_DENIAL_MIDDLEWARE} is not in MIDDLEWARE.",
            hint="It writes the ACCESS_DENIED audit events of the API and the web pages.",
            id="trialreads.E004",
        )
    ]
