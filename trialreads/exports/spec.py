"""Plain descriptions of an export dataset: variables (name, label, type, format) and rows.

Every writer (XPT, CSV) and the validator work on :class:`Dataset`; the builders in
``datasets.py`` produce them. Rows are dicts keyed by variable name; the variable tuple fixes
the column order. Pure Python: nothing here knows about Django.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

#: A cell. ``str`` for character variables (``None`` is written as blanks); for numeric
#: variables ``int``/``float``/``Decimal``, or ``datetime.date`` for a SAS date (days since
#: 1960-01-01, written with format ``DATE9.``); ``None`` is the numeric missing value ``.``.
Value = str | int | float | Decimal | dt.date | None

VarType = Literal["char", "num"]


@dataclass(frozen=True)
class Variable:
    """One column. ``format`` is a SAS format such as ``"DATE9."`` or ``"8.2"`` (or empty)."""

    name: str
    label: str
    type: VarType = "char"
    format: str = ""


@dataclass(frozen=True)
class Dataset:
    """A named table. ``name`` is the SAS member name (upper case); the file is ``name.lower()``."""

    name: str
    label: str
    variables: tuple[Variable, ...]
    rows: list[dict[str, Value]] = field(default_factory=list)

    @property
    def file_stem(self) -> str:
        return self.name.lower()

    def column(self, name: str) -> list[Value]:
        return [row.get(name) for row in self.rows]


def char(name: str, label: str) -> Variable:
    return Variable(name, label, "char")


def num(name: str, label: str, fmt: str = "") -> Variable:
    return Variable(name, label, "num", fmt)


def date_num(name: str, label: str) -> Variable:
    """An ADaM numeric date (SAS date, ``DATE9.``)."""
    return Variable(name, label, "num", "DATE9.")


@dataclass(frozen=True)
class SasFormat:
    """A parsed SAS format reference: ``DATE9.`` -> ("DATE", 9, 0), ``8.2`` -> ("", 8, 2)."""

    name: str
    width: int
    decimals: int


_FORMAT_RE = re.compile(r"^(\$?[A-Z_](?:[A-Z0-9_]*[A-Z_])?)?(\d*)\.(\d*)$")


def parse_format(text: str) -> SasFormat | None:
    """Parse ``text`` (``""`` -> no format); ``None`` when it is not a valid format reference.

    SAS format names cannot end in a digit, which is what makes ``E8601DA10.`` unambiguous.
    """
    if text == "":
        return SasFormat("", 0, 0)
    m = _FORMAT_RE.match(text)
    if m is None:
        return None
    name, width, decimals = m.group(1) or "", m.group(2), m.group(3)
    if len(name) > 8 or (width and int(width) > 32767) or (decimals and int(decimals) > 32767):
        return None
    return SasFormat(name, int(width or 0), int(decimals or 0))
