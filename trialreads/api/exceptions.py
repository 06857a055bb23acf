"""Domain errors and DRF errors -> HTTP, with one body shape for each status.

* 400: ``{"detail": "Invalid input.", "errors": {"targets[0].value_mm": ["..."]}}``; field
  paths are flattened to the services' notation so a client sees one format whichever
  layer (serializer or service) refused the input.
* 404: always the same bytes, ``{"detail": "Not found."}``: "exists but is not yours" and
  "does not exist" must be indistinguishable (T-BLIND-SIDECHANNEL), including DRF's own 404s.
* 409 for ``Conflict``/``Locked``; 412/428 for the If-Match preconditions (``etag.py``).
* 429 ``{"detail": "Too many failed login attempts ..."}`` with ``Retry-After`` for a login
  lockout (``LoginLockedOut``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trialreads import errors
from trialreads.middleware import note_denial

NOT_FOUND_BODY = {"detail": "Not found."}


class PreconditionFailed(drf.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it (stale If-Match); GET it again."
    default_code = "precondition_failed"


class PreconditionRequired(drf.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "This write needs an If-Match header with the ETag of the resource."
    default_code = "precondition_required"


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ``{"targets": [{}, {"value_mm": [...]}]}`` -> ``{"targets[1].value_mm": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            # DRF reports list items as {index: errors}.
            path = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            out.update(flatten_errors(value, path))
    elif isinstance(detail, list) and any(isinstance(v, Mapping | list) for v in detail):
        for i, value in enumerate(detail):
            if value:
                out.update(flatten_errors(value, f"{prefix}[{i}]"))
    elif isinstance(detail, list):
        out[prefix or "non_field_errors"] = [str(v) for v in detail]
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _validation_response(field_errors: dict[str, list[str]]) -> Response:
    return Response({"detail": "Invalid input.", "errors": field_errors}, status=status.HTTP_400_BAD_REQUEST)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # The gate's refusals are recorded by the middleware, after the view's transaction
    # (ATOMIC_REQUESTS included): here, inside it, the record would be rolled back.
    if context.get("request") is not None:
        note_denial(context["request"], exc)
    if isinstance(exc, errors.NotFound | Http404 | drf.NotFound):
        return Response(NOT_FOUND_BODY, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, errors.ValidationError):
        return _validation_response(exc.errors)
    if isinstance(exc, drf.ValidationError):
        return _validation_response(flatten_errors(exc.detail))
    if isinstance(exc, drf.ParseError):
        # Not JSON at all (NaN/Infinity literals, truncated, too deep): no field to name.
        return _validation_response({"non_field_errors": [str(exc.detail)]})
    if isinstance(exc, errors.PermissionDenied):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, errors.Conflict):
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, errors.LoginLockedOut):
        response = Response({"detail": exc.message}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, errors.DomainError) and 400 <= exc.status_code < 500:
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    return drf_exception_handler(exc, context)
