"""Canonical JSON: the byte string that hashes (audit chain, signed content) are taken over.

Sorted keys, compact separators, ASCII only; ``Decimal`` as its string, dates ISO 8601,
datetimes in UTC with microseconds. Floats are refused: they do not round-trip through
PostgreSQL ``jsonb`` identically, and a hash that changes on reload is worthless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def utc_iso(value: dt.datetime) -> str:
    """``2026-11-21T22:43:00.000123Z`` for an aware datetime."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in canonical JSON")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_jsonable(value: Any) -> Any:
    """Convert to plain JSON types (no floats) so the stored JSON re-hashes identically."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON; use Decimal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("non-finite Decimal in canonical JSON")
        return str(value)
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} into canonical JSON")


def canonical_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()
