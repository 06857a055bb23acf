"""Errors raised by the criteria package.

Bad input is reported as :class:`InputError` carrying the subject and the field path, so
the command line can print ``S7: timepoints[2].targets.T3: negative diameter -4`` and exit 2.
"""

from __future__ import annotations


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
