"""Partial ISO 8601 dates: collected text kept for SDTM ``--DTC``, imputed for the engine and
ADaM ``ADT`` under a rule given as data, flagged in ``ADTF`` (issue 18 item 1).

SDTM keeps the collected precision (``TRDTC = "2014-02"``); the imputation belongs in ADaM,
whose ``ADTF`` says what was imputed: ``D`` the day, ``M`` the month and day (ADaMIG
date imputation flag; ``Y`` is not used: a date without a year is not read).

Rules (:data:`IMPUTATION_RULES`; the SDTM import's ``--date-imputation``, recorded on every
imputed timepoint with its collected text):

* ``first`` / ``mid`` / ``last``: the first, middle (15th of the month; 30 June of a year)
  or last day of the collected period, the admiral ``date_imputation`` choices;
* ``nominal``: the nominal visit day (baseline + 7 x n for ``WEEK n``) when inside the
  period, else its first day (``criteria.sdtm.impute_date``, the import's former only rule).

Every rule is then kept after the previous visit (no earlier than the day after it), since
the timepoints of a subject are strictly ordered by date; a collected full date is never moved.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_FULL = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MONTH = re.compile(r"\d{4}-\d{2}", re.ASCII)
_YEAR = re.compile(r"\d{4}", re.ASCII)


@dataclass(frozen=True)
class ImputationRule:
    name: str
    description: str


IMPUTATION_RULES: tuple[ImputationRule, ...] = (
    ImputationRule("first", "first day of the collected period (month: day 1; year: 1 January)"),
    ImputationRule("mid", "middle of the collected period (month: the 15th; year: 30 June)"),
    ImputationRule("last", "last day of the collected period (month: its last day; year: 31 December)"),
    ImputationRule(
        "nominal",
        "the nominal visit day (baseline + 7 x n days for WEEK n) when inside the collected period, "
        "else its first day",
    ),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in IMPUTATION_RULES)


class DateError(ValueError):
    """Not an ISO 8601 date or partial date (YYYY, YYYY-MM, YYYY-MM-DD)."""


def period(text: str) -> tuple[dt.date, dt.date, str]:
    """The first and last day a collected date can mean, and the ``ADTF`` an imputation
    within it needs (``""`` for a full date)."""
    try:
        if _FULL.fullmatch(text):
            day = dt.date.fromisoformat(text)
            return day, day, ""
        if _MONTH.fullmatch(text):
            year, month = int(text[:4]), int(text[5:7])
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            return first, following - dt.timedelta(days=1), "D"
        if _YEAR.fullmatch(text):
            return dt.date(int(text), 1, 1), dt.date(int(text), 12, 31), "M"
    except (ValueError, OverflowError):
        raise DateError(f"not a calendar date {text!r}") from None
    raise DateError(f"not an ISO 8601 date or partial date (YYYY, YYYY-MM, YYYY-MM-DD): {text!r}")


def imputation_flag(text: str) -> str:
    """``ADTF`` of a date imputed from ``text``: ``D``, ``M`` or ``""`` (nothing imputed)."""
    return period(text)[2]


def impute(
    text: str, rule: str, *, nominal: dt.date | None = None, after: dt.date | None = None
) -> tuple[dt.date, str]:
    """The date ``rule`` gives for the collected ``text``, no earlier than the day after
    ``after``; and its ``ADTF``. A full date is returned as collected."""
    first, last, flag = period(text)
    if not flag:
        return first, ""
    if rule == "first":
        day = first
    elif rule == "mid":
        day = dt.date(first.year, first.month, 15) if flag == "D" else dt.date(first.year, 6, 30)
    elif rule == "last":
        day = last
    elif rule == "nominal":
        day = nominal if nominal is not None and first <= nominal <= last else first
    else:
        raise DateError(f"unknown imputation rule {rule!r} (one of {', '.join(RULE_NAMES)})")
    if after is not None and day <= after:
        day = after + dt.timedelta(days=1)
    return day, flag
