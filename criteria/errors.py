"""Errors raised by the criteria package.

Bad input is reported as :class:`InputError` carrying the subject and the field path, so
the command line can print ``S7: timepoints[2].targets.T3: negative diameter -4`` and exit 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class CriteriaError(Exception):
    """Base class of every error the package raises on purpose."""


class InputError(CriteriaError):
    """Input that breaks the contract or the criteria's validity rules.

    ``subject`` is the subject id (or ``"?"`` before it is known), ``field`` the path of the
    offending field in the contract's JSON shape (``timepoints[2].targets.T3``), ``message``
    what is wrong with it.
    """

    def __init__(self, subject: str, field: str, message: str) -> None:
        self.subject = subject
        self.field = field
        self.message = message
        super().__init__(f"{subject}: {field}: {message}")


def describe_value(value: Any) -> str:
    """A JSON value as an error message names it: ``null``, ``boolean true``, ``string 'x'``,
    ``number 4``, ``a list``, ``an object`` (the type name otherwise)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, Decimal | int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (dict, Mapping)):
        return "an object"
    return type(value).__name__
