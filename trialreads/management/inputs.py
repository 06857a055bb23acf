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


def refused(exc: DomainError, where: str = "") -> CommandError:
    """The command's answer to a refused input: exit 2, every field and its message."""
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items())
    else:
        text = exc.message
    return CommandError(f"{where}: {text}" if where else text, returncode=BAD_INPUT)
