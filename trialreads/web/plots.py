"""Server-side SVG response plots: waterfall, spider and swimmer (pure Python, no JS library).

Each function takes plain frozen rows and returns one self-contained ``<svg>`` string with
``role="img"``, a ``<title>`` and a ``<desc>`` referenced by ``aria-labelledby`` (screen
readers announce the plot and its summary), and a ``<title>`` on every mark (the value on
hover). All text is escaped here; callers mark the result safe. Percentages are ``Decimal``
and only formatted for display (one decimal, the engine's display rounding happened
upstream); geometry uses floats, which is harmless for pixels.

The percentage drawn is whatever the caller measures (``trialreads.web.criteria_display``:
the target sum, irRC's tumour burden, PERCIST's SULpeak); each criterion passes its own
thresholds as ``references`` (RECIST 1.1's +20 % / −30 % by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

#: Fill per response code (the RS codes of every criterion). Colour-blind-safe pairs:
#: responses in greens, stable disease in blues, progression in red (unconfirmed progression
#: in orange), the rest grey.
_GREEN, _LIGHT_GREEN, _BLUE, _LIGHT_BLUE = "#1b7837", "#5aae61", "#4575b4", "#74add1"
_RED, _ORANGE, _GREY = "#d73027", "#f46d43", "#8c8c8c"
RESPONSE_COLOURS: dict[str, str] = {
    # RECIST 1.1, imRECIST, itRECIST
    "CR": _GREEN,
    "PR": _LIGHT_GREEN,
    "SD": _BLUE,
    "NON-CR/NON-PD": _LIGHT_BLUE,
    "PD": _RED,
    # iRECIST
    "iCR": _GREEN,
    "iPR": _LIGHT_GREEN,
    "iSD": _BLUE,
    "iNN": _LIGHT_BLUE,
    "NON-iCR/NON-iUPD": _LIGHT_BLUE,
    "iUPD": _ORANGE,
    "iCPD": _RED,
    # irRC, irRECIST
    "irCR": _GREEN,
    "irPR": _LIGHT_GREEN,
    "irSD": _BLUE,
    "irNN": _LIGHT_BLUE,
    "irPD": _RED,
    # PERCIST family (complete / partial / stable metabolic response, progressive metabolic
    # disease; iPERCIST's unconfirmed and confirmed PMD)
    "CMR": _GREEN,
    "PMR": _LIGHT_GREEN,
    "SMD": _BLUE,
    "PMD": _RED,
    "UPMD": _ORANGE,
    "CPMD": _RED,
    "NE": _GREY,
    "NA": _GREY,
}
DEFAULT_COLOUR = _GREY
PROGRESSION = frozenset({"PD", "iCPD", "iUPD", "irPD", "PMD", "UPMD", "CPMD"})
RESPONSE = frozenset({"CR", "PR", "iCR", "iPR", "irCR", "irPR", "CMR", "PMR"})
#: RECIST 1.1's thresholds, the reference lines drawn unless a criterion gives its own.
RECIST_REFERENCES: tuple[tuple[Decimal, str], ...] = ((Decimal(20), "+20% (PD)"), (Decimal(-30), "−30% (PR)"))

References = Sequence[tuple[Decimal, str]]


def colour(code: str | None) -> str:
    return RESPONSE_COLOURS.get(code or "", DEFAULT_COLOUR)


@dataclass(frozen=True)
class WaterfallBar:
    """One subject: best percentage change from baseline (of the target sum, irRC's tumour
    burden, PERCIST's SULpeak ...), its BOR, and the value behind the change (``note``)."""

    subject: str
    pct: Decimal
    response: str | None
    note: str = ""


@dataclass(frozen=True)
class SpiderSeries:
    """One subject's change from baseline over time (days since baseline); ``notes``, where
    given, the value behind each point (same order)."""

    subject: str
    points: tuple[tuple[int, Decimal], ...]
    response: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SwimmerLane:
    """One subject's time on study (days since baseline), its timepoint responses as marks,
    and whether follow-up continues (arrow at the end)."""

    subject: str
    days: int
    ongoing: bool
    events: tuple[tuple[int, str], ...]


def _pct(value: Decimal) -> str:
    return f"{value:+.1f}%"


def _open(uid: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width: {width}px" role="img" aria-labelledby="{uid}-title {uid}-desc" '
        f'preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(desc)}</desc>',
    ]


def _empty(uid: str, title: str, message: str) -> str:
    parts = _open(uid, 640, 80, title, message)
    parts.append(f'<text x="320" y="44" text-anchor="middle" fill="#555">{escape(message)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(codes: Sequence[str | None], x: float, y: float) -> list[str]:
    out: list[str] = []
    seen: list[str] = []
    for code in codes:
        label = code or "no response"
        if label not in seen:
            seen.append(label)
    for i, label in enumerate(seen):
        lx = x + i * 86
        out.append(f'<rect x="{lx:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour(label)}"/>')
        out.append(f'<text x="{lx + 14:.1f}" y="{y:.1f}">{escape(label)}</text>')
    return out


class _Scale:
    """Linear map of a value range onto a pixel range."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float) -> None:
        self.lo, self.hi, self.p0, self.p1 = lo, hi if hi != lo else lo + 1, p0, p1

    def __call__(self, value: float) -> float:
        return self.p0 + (value - self.lo) * (self.p1 - self.p0) / (self.hi - self.lo)


def _pct_range(values: Sequence[Decimal], references: References) -> tuple[float, float]:
    """Always show the reference lines (and -100 % to +40 %) and round outwards to 20 %."""
    marks = [*values, *(ref for ref, _ in references)]
    lo = min([-100.0, *[float(v) for v in marks]])
    hi = max([40.0, *[float(v) for v in marks]])
    return (lo // 20) * 20, -((-hi) // 20) * 20


def _threshold(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _y_axis(scale: _Scale, lo: float, hi: float, x0: float, x1: float, references: References) -> list[str]:
    out = []
    tick = lo
    while tick <= hi:
        y = scale(tick)
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{tick:+.0f}%</text>')
        tick += 20
    for ref, label in references:
        y = scale(float(ref))
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#666" '
            f'stroke-dasharray="4 3"><title>{escape(label)} threshold</title></line>'
        )
        out.append(f'<text x="{x1 - 2}" y="{y - 3:.1f}" text-anchor="end" fill="#444">{escape(label)}</text>')
    zero = scale(0.0)
    out.append(f'<line x1="{x0}" x2="{x1}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#222"/>')
    return out


def _mark_title(subject: str, value: str, response: str, note: str) -> str:
    return f"{escape(subject)}: {value} ({escape(response)}{'; ' + escape(note) if note else ''})"


def waterfall_svg(
    bars: Sequence[WaterfallBar],
    *,
    uid: str,
    title: str,
    references: References = RECIST_REFERENCES,
    empty: str = "",
) -> str:
    """Best percentage change from baseline per subject, largest increase first, with the
    criterion's thresholds (``references``; the lowest is the response threshold)."""
    if not bars:
        return _empty(uid, title, empty or "No subject has a follow-up assessment yet.")
    ordered = sorted(bars, key=lambda b: (-b.pct, b.subject))
    width, height = 720, 320
    left, right, top, bottom = 56, 12, 14, 70
    lo, hi = _pct_range([b.pct for b in ordered], references)
    y = _Scale(hi, lo, top, height - bottom)
    desc = (
        f"{len(ordered)} subjects; best change from baseline ranges from {_pct(ordered[-1].pct)} "
        f"to {_pct(ordered[0].pct)}"
    )
    if references:
        response = min(ref for ref, _ in references)
        responders = sum(1 for b in ordered if b.pct <= response)
        desc += f"; {responders} at or below {_threshold(response)}%"
    parts = _open(uid, width, height, title, desc + ".")
    parts += _y_axis(y, lo, hi, left, width - right, references)
    slot = (width - left - right) / len(ordered)
    bar_w = max(2.0, slot * 0.72)
    zero = y(0.0)
    for i, bar in enumerate(ordered):
        x = left + i * slot + (slot - bar_w) / 2
        top_y = min(zero, y(float(bar.pct)))
        h = max(1.0, abs(y(float(bar.pct)) - zero))
        parts.append(
            f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{colour(bar.response)}"><title>'
            f"{_mark_title(bar.subject, _pct(bar.pct), bar.response or 'no BOR', bar.note)}</title></rect>"
        )
        if len(ordered) <= 40:
            cx = x + bar_w / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 12}" text-anchor="end" fill="#444" '
                f'transform="rotate(-60 {cx:.1f} {height - bottom + 12})">{escape(bar.subject)}</text>'
            )
    parts += _legend([b.response for b in ordered], left, height - 8)
    parts.append("</svg>")
    return "\n".join(parts)


def spider_svg(
    series: Sequence[SpiderSeries],
    *,
    uid: str,
    title: str,
    references: References = RECIST_REFERENCES,
    empty: str = "",
) -> str:
    """Percentage change from baseline over time, one line per subject."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return _empty(uid, title, empty or "No follow-up measurements to plot yet.")
    width, height = 720, 320
    left, right, top, bottom = 56, 16, 14, 46
    values = [p for s in drawn for _, p in s.points]
    lo, hi = _pct_range(values, references)
    max_day = max(d for s in drawn for d, _ in s.points)
    x = _Scale(0.0, float(max(max_day, 42)), left, width - right)
    y = _Scale(hi, lo, top, height - bottom)
    desc = (
        f"{len(drawn)} subject(s); change from baseline between {_pct(min(values))} and "
        f"{_pct(max(values))} over {max_day} days."
    )
    parts = _open(uid, width, height, title, desc)
    parts += _y_axis(y, lo, hi, left, width - right, references)
    step = 42 if max_day <= 400 else 84
    day = 0
    while day <= max(max_day, 42):
        px = x(float(day))
        parts.append(
            f'<text x="{px:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="#444">{day}</text>'
        )
        day += step
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 18}" text-anchor="middle" '
        f'fill="#444">days since baseline</text>'
    )
    for s in drawn:
        pts = [(0, Decimal(0)), *s.points]
        path = " ".join(f"{x(float(d)):.1f},{y(float(p)):.1f}" for d, p in pts)
        stroke = colour(s.response)
        parts.append(
            f"<g><title>{escape(s.subject)} ({escape(s.response or 'no BOR')})</title>"
            f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="1.8"/>'
        )
        for i, (d, p) in enumerate(s.points):
            note = s.notes[i] if i < len(s.notes) and s.notes[i] else ""
            parts.append(
                f'<circle cx="{x(float(d)):.1f}" cy="{y(float(p)):.1f}" r="3" fill="{stroke}">'
                f"<title>{escape(s.subject)} day {d}: {_pct(p)}{f' ({escape(note)})' if note else ''}"
                "</title></circle>"
            )
        parts.append("</g>")
    parts += _legend([s.response for s in drawn], left, height - 4)
    parts.append("</svg>")
    return "\n".join(parts)


def swimmer_svg(lanes: Sequence[SwimmerLane], *, uid: str, title: str) -> str:
    """Time on study per subject (longest first) with response and progression marks."""
    if not lanes:
        return _empty(uid, title, "No subject has been assessed yet.")
    ordered = sorted(lanes, key=lambda lane: (-lane.days, lane.subject))
    lane_h = 18
    left, right, top, bottom = 90, 24, 10, 44
    width = 720
    height = top + bottom + lane_h * len(ordered)
    max_day = max(max(lane.days for lane in ordered), 42)
    x = _Scale(0.0, float(max_day), left, width - right)
    ongoing = sum(1 for lane in ordered if lane.ongoing)
    desc = (
        f"{len(ordered)} subject(s), longest follow-up {ordered[0].days} days; {ongoing} ongoing. "
        "Triangles mark responses, crosses progression."
    )
    parts = _open(uid, width, height, title, desc)
    step = 42 if max_day <= 400 else 84
    day = 0
    axis_y = height - bottom + 6
    while day <= max_day:
        px = x(float(day))
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{axis_y - 6}" stroke="#eef0f3"/>')
        parts.append(f'<text x="{px:.1f}" y="{axis_y + 8}" text-anchor="middle" fill="#444">{day}</text>')
        day += step
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'fill="#444">days since baseline</text>'
    )
    for i, lane in enumerate(ordered):
        cy = top + i * lane_h + lane_h / 2
        parts.append(
            f'<text x="{left - 6}" y="{cy + 4:.1f}" text-anchor="end" fill="#222">'
            f"{escape(lane.subject)}</text>"
        )
        end = x(float(lane.days))
        parts.append(
            f'<rect x="{left}" y="{cy - 5:.1f}" width="{max(1.0, end - left):.1f}" height="10" '
            f'fill="#c9d3df"><title>{escape(lane.subject)}: {lane.days} days'
            f"{' (ongoing)' if lane.ongoing else ''}</title></rect>"
        )
        if lane.ongoing:
            parts.append(
                f'<path d="M{end + 2:.1f},{cy - 5:.1f} L{end + 10:.1f},{cy:.1f} '
                f'L{end + 2:.1f},{cy + 5:.1f} Z" '
                f'fill="#7b8794"><title>{escape(lane.subject)}: follow-up ongoing</title></path>'
            )
        for d, code in lane.events:
            px = x(float(d))
            label = f"{escape(lane.subject)} day {d}: {escape(code)}"
            if code in PROGRESSION:
                parts.append(
                    f'<path d="M{px - 4:.1f},{cy - 4:.1f} L{px + 4:.1f},{cy + 4:.1f} '
                    f"M{px - 4:.1f},{cy + 4:.1f} "
                    f'L{px + 4:.1f},{cy - 4:.1f}" stroke="{colour(code)}" stroke-width="2.2">'
                    f"<title>{label}</title></path>"
                )
            elif code in RESPONSE:
                parts.append(
                    f'<path d="M{px:.1f},{cy - 6:.1f} L{px + 5:.1f},{cy + 4:.1f} '
                    f'L{px - 5:.1f},{cy + 4:.1f} Z" '
                    f'fill="{colour(code)}"><title>{label}</title></path>'
                )
            else:
                parts.append(
                    f'<circle cx="{px:.1f}" cy="{cy:.1f}" r="2.5" fill="{colour(code)}">'
                    f"<title>{label}</title></circle>"
                )
    parts.append("</svg>")
    return "\n".join(parts)
