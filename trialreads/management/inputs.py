"""Input rules of the management commands (issue 13): bad input exits with status 2 (the
status argparse gives a bad option) and a message naming the option, column or field, and
nothing is written."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from django.core.management.base import CommandError

from trialreads import validators
from trialreads.errors import DomainError, ValidationError

#: Exit status of a command refusing its input (argparse's own for a bad option).
BAD_INPUT = 2


def bounded_int(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ASCII digits within bounds (argparse's ``int``
    reads "٣" and "３" too, and has no bounds)."""

    def parse(text: str) -> int:
        try:
            return validators.parse_int(text, minimum=minimum, maximum=maximum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "integer"  # argparse names the type in its message
    return parse


def trial_code(text: str) -> str:
    """An argparse ``type``: a trial code by the services' rule, checked before any lookup
    (PostgreSQL refuses a NUL in a query parameter with a DataError)."""
    if not validators.CODE_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(validators.CODE_RULE)
    return text


def plain_text(max_length: int) -> Callable[[str], str]:
    """An argparse ``type``: at most ``max_length`` characters, no control characters."""

    def parse(text: str) -> str:
        if len(text) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise argparse.ArgumentTypeError(f"at most {max_length} characters, no control characters")
        return text

    parse.__name__ = "text"
    return parse


def refused(exc: DomainError, where: str = "") -> CommandError:
    """The command's answer to a refused input: exit 2, every field and its message."""
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items())
    else:
        text = exc.message
    return CommandError(f"{where}: {text}" if where else text, returncode=BAD_INPUT)
