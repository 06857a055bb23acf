"""The confirmation workflow of unconfirmed progression, as plain rules (no Django).

The immunotherapy criteria do not call a first progression final: it stays *unconfirmed* until
a later assessment confirms it or the disease is seen not to progress (pseudoprogression). The
imaging lab must make sure the confirmation scan is done, and the sponsor must know, because
treatment beyond progression depends on it (issue 15 item 4). This module says, per criterion,
which timepoint result is an unconfirmed progression and what later result decides it, from the
engine's own output (``criteria.evaluate``); ``services.confirmation`` keeps the windows.

Per criterion (:data:`RULES`, the one place; the codes are the engine's):

* ``irecist`` (SEY17; criteria-rules §4, ``criteria.irecist``): ``iUPD`` is unconfirmed progression
  (IR-UPD). A later ``iCPD`` confirms it (IR-CONF); ``iCR``, ``iPR``, ``iSD`` or
  ``NON-iCR/NON-iUPD`` reset it (IR-RESET); ``NE`` and a further ``iUPD`` decide nothing (the
  block stays open, ``criteria.endpoints.irecist_progression_block``).
* ``itrecist`` (GOL20, ITR-OVERALL): the overall response follows iRECIST by default (T1), so the
  same codes and rule; with the RECIST 1.1 basis no ``iUPD`` is ever produced and nothing opens.
* ``irrc`` / ``irrecist`` (Wolchok 2009 IRRC-CONF; Bohnsack 2014 IRREC-CONF): ``irPD`` is one code
  for both states; its fate is the engine's ``pd_status`` (``criteria.endpoints.ir_pd_status``):
  ``unconfirmed`` (nothing has decided yet), ``confirmed`` (a second irPD at least
  ``confirm_min_days`` later), ``not_confirmed`` (a non-irPD assessment came first: reset).
* ``ipercist`` (Goldfarb 2019, IPERC-UPMD / IPERC-CPMD / IPERC-RESET; ``criteria.percist``):
  ``UPMD`` is unconfirmed progressive metabolic disease; ``CPMD`` confirms it; ``CMR``, ``PMR`` or
  ``SMD`` reset it; ``NE`` and an early ``UPMD`` (a PMD before the window) decide nothing.

Not listed, on purpose: RECIST 1.1 and PERCIST (a PD / PMD is final), imRECIST (a PD is an event
unless a later non-PD negates it, IM-PFS: no confirmation scan is asked for), imPERCIST5 and
PERCIMT (no unconfirmed state).

The window: the charter's ``irecist_window_min_days`` / ``irecist_window_max_days`` (default 28 /
56 days, "4 to 8 weeks after the scan", the issue and SEY17) counted from the assessment date of
the scan that showed the progression (the engine's ``TimepointResult.date``, which its own window
checks count from), for every criterion: iPERCIST's own default window (P4) is the same 28-56
days; irRC and irRECIST give only a lower bound (">= 4 weeks", I4), but the lab needs a date by
which the scan is overdue, and the charter's window is the protocol's schedule for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from criteria.endpoints import IRPD_CONFIRMED, IRPD_NOT_CONFIRMED, IRPD_UNCONFIRMED, NOT_EVALUABLE
from criteria.types import IPERCIST, IRECIST, IRRC, IRRECIST, ITRECIST, TimepointResult

#: The fate of an unconfirmed progression, given the assessments after it.
UNCONFIRMED = "unconfirmed"
CONFIRMED = "confirmed"
RESET = "reset"


@dataclass(frozen=True)
class ConfirmationRule:
    """One criterion's codes: ``unconfirmed`` opens a window, ``confirmed`` closes it as
    confirmed; with ``by_pd_status`` the fate is the engine's ``extra["pd_status"]`` of the
    progression itself (irRC / irRECIST use one code for both states)."""

    unconfirmed: str
    confirmed: str
    rule: str
    by_pd_status: bool = False


_IRECIST_RULE = ConfirmationRule("iUPD", "iCPD", "IR-UPD, IR-CONF, IR-RESET (SEY17)")
RULES: Mapping[str, ConfirmationRule] = MappingProxyType(
    {
        IRECIST: _IRECIST_RULE,
        ITRECIST: _IRECIST_RULE,
        IRRC: ConfirmationRule("irPD", "irPD", "IRRC-CONF (Wolchok 2009)", by_pd_status=True),
        IRRECIST: ConfirmationRule("irPD", "irPD", "IRREC-CONF (Bohnsack 2014)", by_pd_status=True),
        IPERCIST: ConfirmationRule("UPMD", "CPMD", "IPERC-UPMD, IPERC-CPMD, IPERC-RESET (Goldfarb 2019)"),
    }
)

_PD_STATUS_FATE = MappingProxyType(
    {
        IRPD_UNCONFIRMED: UNCONFIRMED,
        IRPD_CONFIRMED: CONFIRMED,
        IRPD_NOT_CONFIRMED: RESET,
    }
)


def criteria_with_confirmation(criteria: Sequence[str]) -> tuple[str, ...]:
    """Those of ``criteria`` (a charter's) that have an unconfirmed-progression state."""
    return tuple(c for c in criteria if c in RULES)


def fate(criterion: str, results: Sequence[TimepointResult], index: int) -> str | None:
    """The fate of the progression at ``results[index]`` given the later results:
    :data:`UNCONFIRMED`, :data:`CONFIRMED` or :data:`RESET`; ``None`` when that result is no
    unconfirmed-progression code of ``criterion`` (or the criterion has none)."""
    rule = RULES.get(criterion)
    if rule is None or results[index].overall != rule.unconfirmed:
        return None
    if rule.by_pd_status:
        status = results[index].extra.get("pd_status")
        return _PD_STATUS_FATE.get(status) if isinstance(status, str) else None
    for later in results[index + 1 :]:
        code = later.overall
        if code in NOT_EVALUABLE or code == rule.unconfirmed:
            continue  # NE decides nothing; a further unconfirmed code keeps the block open
        return CONFIRMED if code == rule.confirmed else RESET
    return UNCONFIRMED


def opens_window(criterion: str, results: Sequence[TimepointResult]) -> bool:
    """Whether the latest result is an unconfirmed progression still waiting for confirmation."""
    return bool(results) and fate(criterion, results, len(results) - 1) == UNCONFIRMED


def window_dates(scan_date: dt.date, min_days: int, max_days: int) -> tuple[dt.date, dt.date]:
    """The first and last day of the confirmation window after the scan of ``scan_date``."""
    return scan_date + dt.timedelta(days=min_days), scan_date + dt.timedelta(days=max_days)


#: Statuses (``choices.ConfirmationStatus`` values).
DUE, OVERDUE = "DUE", "OVERDUE"


def window_status(outcome: str, window_end: dt.date, today: dt.date) -> str:
    """``outcome`` once closed; while open, DUE up to and including the window's last day,
    OVERDUE after it."""
    if outcome:
        return outcome
    return OVERDUE if today > window_end else DUE


# --- the notification: what the sponsor is told ------------------------------------------------

#: The keys of a notification, and nothing else: no measurement, no response code beyond the
#: criterion's unconfirmed state, no reader, no read, no arm (blinding: the charter lets the
#: sponsor know that a confirmation scan is needed and when, nothing about who read what).
PAYLOAD_KEYS = (
    "event",
    "trial",
    "subject",
    "criterion",
    "unconfirmed_progression_scan_date",
    "window_start",
    "window_end",
    "status",
    "sent_at",
)


def notification_payload(
    *,
    event: str,
    trial_code: str,
    subject_code: str,
    criterion: str,
    scan_date: dt.date,
    window_start: dt.date,
    window_end: dt.date,
    status: str,
    sent_at: str,
) -> dict[str, str]:
    """The notification as JSON-ready text values (:data:`PAYLOAD_KEYS`)."""
    return {
        "event": event,
        "trial": trial_code,
        "subject": subject_code,
        "criterion": criterion,
        "unconfirmed_progression_scan_date": scan_date.isoformat(),
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "status": status,
        "sent_at": sent_at,
    }


_EVENT_TITLES = MappingProxyType(
    {
        "OPENED": "confirmation scan needed",
        "OVERDUE": "confirmation scan overdue",
    }
)


def email_subject(payload: Mapping[str, str]) -> str:
    title = _EVENT_TITLES.get(payload["event"], payload["event"].lower())
    return f"[{payload['trial']}] Subject {payload['subject']}: {title} ({payload['criterion']})"


def email_body(payload: Mapping[str, str]) -> str:
    return (
        f"Trial: {payload['trial']}\n"
        f"Subject: {payload['subject']}\n"
        f"Criterion: {payload['criterion']}\n"
        f"Scan showing unconfirmed progression: {payload['unconfirmed_progression_scan_date']}\n"
        f"Confirmation window: {payload['window_start']} to {payload['window_end']}\n"
        f"Status: {payload['status']}\n"
        "\n"
        "A confirmation scan is required within the window above (imaging review charter).\n"
        "This message is generated by the central imaging review and carries no read data.\n"
    )


SIGNATURE_HEADER = "X-Trialreads-Signature"
TIMESTAMP_HEADER = "X-Trialreads-Timestamp"


def webhook_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact request body with the contact's secret. The
    timestamp is inside the body (``sent_at``, also sent as :data:`TIMESTAMP_HEADER`), so the
    signature covers it and a receiver can refuse replays."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_signature_valid(secret: str, body: bytes, header: str) -> bool:
    """What a receiver checks (constant-time)."""
    return hmac.compare_digest(webhook_signature(secret, body), header)

