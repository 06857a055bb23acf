"""A strict JSON parser: exact decimals, no NaN/Infinity, no duplicate keys, bounded size and depth."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import JSONParser

#: Largest request body accepted (a full 5-target follow-up is about 2 KB).
MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(APIException):
    # Here rather than in .exceptions: that module imports rest_framework.views, whose APIView
    # reads DEFAULT_PARSER_CLASSES (this module) when it is defined, a circular import.
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


@dataclass(frozen=True)
class NonFinite:
    """What a ``NaN``/``Infinity``/``-Infinity`` literal parses to. Not JSON (RFC 8259 §6), but
    refused by the field it was sent for rather than as an unreadable body, so that the error
    names the field: no input field accepts this type."""

    literal: str

    def __str__(self) -> str:
        return self.literal


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``{"value_mm": 5, "value_mm": 500}`` is refused: Python's json keeps the last value
    silently, another reader of the same bytes may keep the first (RFC 8259 §4 leaves it
    open), so what was signed and what was stored could differ."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


class StrictJSONParser(JSONParser):
    """JSON numbers with a fraction or exponent become ``Decimal`` (``50.1`` stays exactly
    50.1 on its way to the services, ``1e309`` becomes a huge Decimal that the services
    reject instead of ``inf``); ``NaN``/``Infinity`` literals become :class:`NonFinite`,
    which every input field refuses (naming itself); a key repeated
    in one object is a 400 naming the key; bodies over
    :data:`MAX_BODY_BYTES` are answered 413 before they are read into memory."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            if declared and int(declared) > MAX_BODY_BYTES:
                raise PayloadTooLarge()
        except ValueError:
            raise ParseError("Invalid Content-Length.") from None
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            text = codecs.decode(raw, encoding)
            return json.loads(
                text, parse_float=Decimal, parse_constant=NonFinite, object_pairs_hook=_unique_object
            )
        except DuplicateKey as exc:
            raise DRFValidationError({exc.key: ["duplicate key in a JSON object"]}) from None
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}"[:200]) from None
