"""Domain errors raised by services and the access gate.

The API maps them to HTTP: :class:`ValidationError` → 400 (with field paths),
:class:`PermissionDenied` → 403, :class:`NotFound` → 404, :class:`Conflict` → 409,
:class:`LoginLockedOut` → 429.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, eq=False)
class AccessDenial:
    """What the access gate refused, carried by its :class:`NotFound` / :class:`PermissionDenied`
    so that the request's boundary (the API exception handler, the web views' error decorator)
    can write the ``ACCESS_DENIED`` audit event after the request's transaction has ended. The
    gate itself only reads: a write there would be rolled back with the caller's transaction.

    ``eq=False``: two denials are the same only if they are the same object, so a denial that
    two layers see is recorded once, and two equal refusals in one request are both recorded."""

    actor: Any  # the user refused (anonymous: not authenticated)
    object_type: str
    object_id: object  # as given in the request, possibly malformed (clipped when recorded)
    chain_id: str  # the global chain: the event must not reveal which trial the object is in
    after: dict[str, str] | None = None


class DomainError(Exception):
    """Base class of every error raised on purpose by ``trialreads``."""

    status_code = 400
    default_message = "Request refused."

    def __init__(self, message: str | None = None, *, denial: AccessDenial | None = None) -> None:
        self.message = message or self.default_message
        #: Set by the access gate on its refusals only (:class:`AccessDenial`).
        self.denial = denial
        super().__init__(self.message)


#: Where an input problem is: names and list indexes from the input's root, e.g.
#: ``("targets", 2, "value_mm")`` or ``("non_targets", "NT1")`` (keyed by lesion code).
FieldPath = tuple[str | int, ...]


def path_text(path: FieldPath) -> str:
    """The one written form of a :data:`FieldPath`, used in API bodies and messages:
    ``targets[2].value_mm``, ``non_targets.NT1``, ``targets[0].fragments_mm[1]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "non_field_errors"


@dataclasses.dataclass(frozen=True)
class FieldProblem:
    """One problem with an input: where (:data:`FieldPath`) and what, in words."""

    path: FieldPath
    message: str

    @property
    def field(self) -> str:
        return path_text(self.path)


class ValidationError(DomainError):
    """Invalid input: ``problems`` (structured paths, see :mod:`trialreads.validation`) and the
    same as ``errors``, a mapping of written paths (``targets[2].value_mm``) to messages."""

    status_code = 400

    def __init__(
        self,
        errors: dict[str, list[str]] | str | list[FieldProblem],
        field: str = "non_field_errors",
    ) -> None:
        if isinstance(errors, str):
            errors = [FieldProblem((field,), errors)]
        elif isinstance(errors, dict):
            errors = [FieldProblem((key,), m) for key, messages in errors.items() for m in messages]
        if not errors:
            raise ValueError("a ValidationError needs at least one problem")
        self.problems: tuple[FieldProblem, ...] = tuple(errors)
        self.errors: dict[str, list[str]] = {}
        for problem in self.problems:
            self.errors.setdefault(problem.field, []).append(problem.message)
        first_field, messages = next(iter(self.errors.items()))
        self.field = first_field
        super().__init__(f"{first_field}: {messages[0]}")


class PermissionDenied(DomainError):
    """The actor may see the object but may not do this to it (or failed re-authentication)."""

    status_code = 403
    default_message = "You do not have permission to perform this action."


class NotFound(DomainError):
    """Does not exist *or* is not visible to the actor: the two are indistinguishable on purpose."""

    status_code = 404
    default_message = "Not found."


class Conflict(DomainError):
    """The object's state forbids the change (locked, stale version, duplicate, wrong order)."""

    status_code = 409
    default_message = "Conflict with the current state of the resource."


class Locked(Conflict):
    """A write touched signed (locked) data."""

    default_message = "The record is signed and locked; unlock it before changing it."


class LoginLockedOut(DomainError):
    """Too many failed logins for this username from this address (django-axes); the password
    is not checked until the cool-off has passed. ``retry_after`` is in seconds."""

    status_code = 429
    default_message = "Too many failed login attempts; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class AuditBypass(DomainError):
    """A bulk ORM write that would skip the services and their audit events."""

    status_code = 500
    default_message = "Bulk writes bypass the audit trail; use the services."
