"""SDTM study days (``--DY``) and epochs (``EPOCH``) from the sponsor's reference start date
(issue 18 item 4).

Both need what only the sponsor knows: ``--DY`` counts from the subject's reference start
date (DM ``RFSTDTC``; SDTMIG 4.4.4: day 1 is the reference start date, the day before it is
day -1, there is no day 0), and ``EPOCH`` needs the trial's epochs. The transfer carries them
when the sponsor gave them (``Subject.reference_start_date``, ``Charter.epoch_rule``) and leaves
the variables out otherwise, saying so in the reviewer's guide.

Epoch rules are data (:data:`EPOCH_RULES`): a name -> the epoch before the reference start
date and the epoch on and after it. A record's epoch is the one its date (``--DTC``) falls
in; a partial date (``2014-02``) has one only when its whole period lies on one side, and
never a study day (SDTMIG: --DY is computed from full dates only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from trialreads.exports.dates import DateError, period


@dataclass(frozen=True)
class EpochRule:
    name: str
    before: str  # EPOCH of a date before the reference start date
    on_or_after: str  # EPOCH of the reference start date and later
    description: str


EPOCH_RULES: dict[str, EpochRule] = {
    rule.name: rule
    for rule in (
        EpochRule(
            "screening_treatment",
            "SCREENING",
            "TREATMENT",
            "SCREENING before the subject's reference start date (RFSTDTC), TREATMENT on and after it",
        ),
    )
}


def study_day(dtc: str | None, reference: dt.date | None) -> int | None:
    """``--DY`` of a record dated ``dtc`` (ISO 8601 text), or ``None`` (no full date or no
    reference start date)."""
    if reference is None or not dtc or len(dtc) < 10:
        return None
    try:
        day = dt.date.fromisoformat(dtc[:10])
    except ValueError:
        return None
    delta = (day - reference).days
    return delta + 1 if delta >= 0 else delta


def epoch(dtc: str | None, reference: dt.date | None, rule: str) -> str | None:
    """``EPOCH`` of a record dated ``dtc`` under ``rule`` (:data:`EPOCH_RULES`), or ``None``
    (no date, no reference start date, or a partial date straddling it)."""
    found = EPOCH_RULES.get(rule)
    if found is None or reference is None or not dtc:
        return None
    try:
        first, last, _ = period(dtc[:10])
    except DateError:
        return None
    if last < reference:
        return found.before
    if first >= reference:
        return found.on_or_after
    return None
