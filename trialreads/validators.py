"""Bounds and validators shared by every way input enters: the API serializers, the web forms,
the management commands and imports, the services, and the database CHECK constraints of
migration 0010 (issue 13). One definition each, so that the four layers cannot disagree.

Python's ``int()``, ``Decimal()`` and ``str.isdigit()`` accept Unicode digits ("٣", "３",
and for ``isdigit`` even "²"); every number typed or imported as text goes through
:func:`parse_int` / :func:`parse_decimal`, which accept ASCII digits only.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

#: The calendar window of every stored date (randomisation, scans, death, cut-off, charter).
#: Far outside any trial, but it keeps date arithmetic (windows, durations, ``date + 28 days``)
#: away from ``date.min``/``date.max``, where it raised OverflowError (a 500 on every later read).
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)

#: The largest id a path, a body or a form may name (the columns are 64-bit signed integers;
#: a larger number reached SQLite as OverflowError, PostgreSQL as DataError: both a 500).
ID_MAX = 2**63 - 1

#: Largest number of days a charter window or a tolerance may span.
DAYS_MAX = 365

#: Investigator (and RS) overall responses, RECIST 1.1 (CDISC RSSTRESC codelist values).
OVERALL_RESPONSES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")

PRINTED_NAME_MAX = 200

#: Trial, site and subject codes: ASCII letters and digits, then also ".", "_" or "-".
CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", re.ASCII)
CODE_RULE = "use 1-40 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"

_ASCII_INT = re.compile(r"-?(0|[1-9][0-9]{0,18})", re.ASCII)
_ASCII_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?", re.ASCII)


def parse_int(text: str, *, minimum: int, maximum: int) -> int:
    """An integer written in ASCII digits (no sign but "-", no leading zeros, no spaces)
    within ``[minimum, maximum]``; ``ValueError`` with a message a user can act on otherwise."""
    if not isinstance(text, str) or not _ASCII_INT.fullmatch(text):
        raise ValueError(f"an integer between {minimum} and {maximum} (digits 0-9)")
    value = int(text)
    if not minimum <= value <= maximum:
        raise ValueError(f"an integer between {minimum} and {maximum}")
    return value


def parse_decimal(text: str) -> Decimal:
    """A decimal number written in ASCII digits (no exponent, NaN or Infinity, at most 15
    digits each side of the point); ``ValueError`` otherwise. Ranges are the caller's."""
    if not isinstance(text, str) or not _ASCII_DECIMAL.fullmatch(text):
        raise ValueError("a decimal number such as 3 or 3.5 (digits 0-9)")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError("a decimal number") from exc


def date_error(value: object) -> str | None:
    """Why ``value`` is not a storable date, or ``None``."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        return "a date (YYYY-MM-DD)"
    if not DATE_MIN <= value <= DATE_MAX:
        return f"a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}"
    return None


def printed_name_error(value: object) -> str | None:
    """Why ``value`` is not a signer's printed name, or ``None``. Names are Unicode ("José
    Müller", "李雷"); control and format characters (NUL, newlines, bidi overrides that make
    a name display as another) and blank names are not, and at most 200 characters."""
    if not isinstance(value, str) or not value.strip():
        return "required"
    if len(value) > PRINTED_NAME_MAX:
        return f"at most {PRINTED_NAME_MAX} characters"
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} for c in value):
        return "letters, spaces and punctuation only (no control characters)"
    return None
