"""Reader-performance and BICR-quality metrics: pure functions over plain records.

No Django here: ``trialreads.selectors.adjudication`` turns the database into
:class:`SubjectPair` / :class:`ProgressionPair` records with a fixed number of queries and
calls these functions, and the tests check them against hand-computed values.

Definitions (per trial, per reader, per calendar month):

* **Adjudication rate** ("adjudication fraction" in "Adjudication rates between readers in
  blinded independent central review of oncology studies", J Clin Trials 2016;6(5)):
  subjects with an adjudication case / subjects whose two reads were compared.
* **Adjudicator agreement rate** of a reader (the "endorsement rate" of Beaumont et al.
  2021, Cancers 13:4533): decided cases in which the adjudicator chose this reader's read /
  decided cases involving the reader.
* **Reader disagreement index** of a reader: decided cases in which the adjudicator chose
  the *other* read / subjects the reader read (compared subjects). Unlike the agreement
  rate, its denominator includes the concordant subjects, so a reader who is rarely
  adjudicated scores low even if they lose every adjudication.
* **Cohen's kappa** on best overall response between the two reads, with the
  large-sample standard error of Fleiss, Cohen & Everitt (1969) -- the "ASE" SAS PROC
  FREQ reports -- and the Wald interval ``kappa ± z·SE``. Cohen's (1960) simpler
  ``sqrt(po(1-po) / (n(1-pe)^2))`` is returned as well (``se_cohen1960``) for comparison.
* **Median absolute difference** in first-progression dates, in days, over the subjects on
  which both reads have a progression.
* **EDR / LDR** between investigator (site) and central (BICR) progression, following
  Amit et al. 2011 (Eur J Cancer 47:1772-1778, Table 1) as restated by Zhang et al. 2013
  (Clin Cancer Res 19:2637-2645). With ``a`` = both declare PD (``a1`` same timing,
  ``a2`` investigator later than BICR, ``a3`` investigator earlier), ``b`` = investigator PD
  only, ``c`` = BICR PD only, ``d`` = neither:

  - ``EDR = (b + a3) / (a + b)``: investigator progressions that BICR did not confirm or
    dated later, among all investigator progressions;
  - ``LDR = (c + a2) / (b + c + a2 + a3)``: investigator progressions missed or dated
    later than BICR, among all discrepancies.

  Note the LDR denominator is *all discrepancies*, not "cases where both declared PD", and
  EDR also counts investigator progressions that BICR dated *later* (a3), not only those it
  did not confirm (b) -- paraphrases sometimes seen. The formulas above are those of the
  FDA audit-methods restatement (Zhang et al. 2013); the counts a1..d are returned so any
  variant can be recomputed. "Same timing" is the same date here, or within
  ``tolerance_days``.

Rates are returned as :class:`Rate` (numerator, denominator, value) so that a 0/0 shows as
"no data" (``value`` ``None``) rather than 0 %.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

#: Category used for a read without a best overall response (nothing evaluable yet).
NO_BOR = "none"


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    def as_json(self) -> dict[str, int | float | None]:
        return {"numerator": self.numerator, "denominator": self.denominator, "value": self.value}


# --- Cohen's kappa ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa with its large-sample standard error and Wald confidence interval.

    ``kappa``/``se``/``ci`` are ``None`` when undefined: no subjects, or chance agreement
    of 1 (both raters used a single, identical category, 0/0).
    """

    n: int
    categories: tuple[str, ...]
    po: float | None
    pe: float | None
    kappa: float | None
    se: float | None
    se_cohen1960: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95

    def as_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "categories": list(self.categories),
            "po": self.po,
            "pe": self.pe,
            "kappa": self.kappa,
            "se": self.se,
            "se_cohen1960": self.se_cohen1960,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
            "se_method": "Fleiss, Cohen & Everitt 1969 (large-sample, non-null)",
        }


def confusion_table(
    pairs: Iterable[tuple[str, str]],
    categories: Sequence[str] | None = None,
) -> tuple[tuple[str, ...], list[list[int]]]:
    """The k×k table of counts, rows = first rater, columns = second rater.

    ``categories`` fixes the order (and may include unused categories); otherwise the
    categories seen, sorted."""
    pairs = list(pairs)
    seen = {x for pair in pairs for x in pair}
    if categories is None:
        cats = tuple(sorted(seen))
    else:
        missing = seen - set(categories)
        if missing:
            raise ValueError(f"ratings outside the categories: {sorted(missing)}")
        cats = tuple(categories)
    index = {c: i for i, c in enumerate(cats)}
    table = [[0] * len(cats) for _ in cats]
    for a, b in pairs:
        table[index[a]][index[b]] += 1
    return cats, table


def cohen_kappa_table(
    table: Sequence[Sequence[int]],
    categories: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> Kappa:
    """Cohen's kappa from a square table of counts.

    SE (Fleiss, Cohen & Everitt 1969, eq. 13; Fleiss, Levin & Paik 2003 §18.1)::

        A = Σ_i p_ii [1 - (p_i. + p_.i)(1 - κ)]²
        B = (1 - κ)² Σ_{i≠j} p_ij (p_.i + p_j.)²
        C = [κ - p_e (1 - κ)]²
        SE = sqrt(A + B - C) / ((1 - p_e) sqrt(n))
    """
    k = len(table)
    if any(len(row) != k for row in table):
        raise ValueError("the table must be square")
    if any(x < 0 for row in table for x in row):
        raise ValueError("counts must be non-negative")
    cats = tuple(categories) if categories is not None else tuple(str(i) for i in range(k))
    if len(cats) != k:
        raise ValueError("one category per row")
    n = sum(sum(row) for row in table)
    if n == 0:
        return Kappa(0, cats, None, None, None, None, None, None, None, confidence)
    p = [[x / n for x in row] for row in table]
    rows = [sum(row) for row in p]
    cols = [sum(p[i][j] for i in range(k)) for j in range(k)]
    po = sum(p[i][i] for i in range(k))
    pe = sum(rows[i] * cols[i] for i in range(k))
    if math.isclose(pe, 1.0):
        return Kappa(n, cats, po, pe, None, None, None, None, None, confidence)
    kappa = (po - pe) / (1 - pe)
    a = sum(p[i][i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in range(k))
    b = (1 - kappa) ** 2 * sum(
        p[i][j] * (cols[i] + rows[j]) ** 2 for i in range(k) for j in range(k) if i != j
    )
    c = (kappa - pe * (1 - kappa)) ** 2
    # A + B - C is >= 0 in exact arithmetic; clamp the float round-off at perfect agreement.
    se = math.sqrt(max(a + b - c, 0.0)) / ((1 - pe) * math.sqrt(n))
    se60 = math.sqrt(po * (1 - po) / (n * (1 - pe) ** 2))
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    return Kappa(n, cats, po, pe, kappa, se, se60, kappa - z * se, kappa + z * se, confidence)


def cohen_kappa(
    pairs: Iterable[tuple[str, str]],
    categories: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> Kappa:
    """Cohen's kappa of paired ratings (first rater, second rater); see :func:`cohen_kappa_table`."""
    cats, table = confusion_table(pairs, categories)
    return cohen_kappa_table(table, cats, confidence)


# --- reader metrics from compared subjects --------------------------------------------------


@dataclass(frozen=True)
class SubjectPair:
    """One subject whose two reads were compared, with what became of it.

    ``readers`` are opaque ids of the slot-1 and slot-2 readers; ``chosen`` the slot (1/2)
    the adjudicator chose, ``None`` if not adjudicated or not decided yet. ``compared_on``
    is the date the comparison that counts was made (for the monthly drift view).
    ``bor``/``pd_date`` are each read's values for the metric criterion.
    """

    subject: Hashable
    readers: tuple[Hashable, Hashable]
    compared_on: dt.date
    adjudicated: bool = False
    chosen: int | None = None
    bor: tuple[str | None, str | None] = (None, None)
    pd_date: tuple[dt.date | None, dt.date | None] = (None, None)

    def __post_init__(self) -> None:
        if self.chosen not in (None, 1, 2):
            raise ValueError("chosen must be 1, 2 or None")
        if self.chosen is not None and not self.adjudicated:
            raise ValueError("a chosen read implies an adjudication")
        if self.readers[0] == self.readers[1]:
            raise ValueError("the two reads of a subject have different readers")

    def slot_of(self, reader: Hashable) -> int | None:
        if reader == self.readers[0]:
            return 1
        if reader == self.readers[1]:
            return 2
        return None


def adjudication_rate(pairs: Iterable[SubjectPair]) -> Rate:
    pairs = list(pairs)
    return Rate(sum(1 for p in pairs if p.adjudicated), len(pairs))


def _involving(pairs: Iterable[SubjectPair], reader: Hashable) -> list[SubjectPair]:
    return [p for p in pairs if p.slot_of(reader) is not None]


def adjudicator_agreement_rate(pairs: Iterable[SubjectPair], reader: Hashable) -> Rate:
    decided = [p for p in _involving(pairs, reader) if p.chosen is not None]
    return Rate(sum(1 for p in decided if p.chosen == p.slot_of(reader)), len(decided))


def reader_disagreement_index(pairs: Iterable[SubjectPair], reader: Hashable) -> Rate:
    mine = _involving(pairs, reader)
    lost = sum(1 for p in mine if p.chosen is not None and p.chosen != p.slot_of(reader))
    return Rate(lost, len(mine))


def bor_kappa(
    pairs: Iterable[SubjectPair],
    reader: Hashable | None = None,
    categories: Sequence[str] | None = None,
) -> Kappa:
    """Kappa on best overall response, slot 1 vs slot 2 -- or, for ``reader``, this reader vs
    the other read of each of their subjects. A missing BOR counts as category ``"none"``."""
    ratings: list[tuple[str, str]] = []
    for p in pairs:
        first, second = p.bor[0] or NO_BOR, p.bor[1] or NO_BOR
        if reader is not None:
            slot = p.slot_of(reader)
            if slot is None:
                continue
            if slot == 2:
                first, second = second, first
        ratings.append((first, second))
    if categories is not None and any(NO_BOR in r for r in ratings) and NO_BOR not in categories:
        categories = (*categories, NO_BOR)
    return cohen_kappa(ratings, categories)


def pd_date_differences(pairs: Iterable[SubjectPair], reader: Hashable | None = None) -> list[int]:
    """|Δ| in days between the two reads' first-progression dates, where both have one."""
    out: list[int] = []
    for p in pairs:
        if reader is not None and p.slot_of(reader) is None:
            continue
        a, b = p.pd_date
        if a is not None and b is not None:
            out.append(abs((a - b).days))
    return out


def median_abs_pd_date_difference(
    pairs: Iterable[SubjectPair], reader: Hashable | None = None
) -> float | None:
    diffs = pd_date_differences(pairs, reader)
    return float(statistics.median(diffs)) if diffs else None


@dataclass(frozen=True)
class MonthBucket:
    month: str  # "YYYY-MM"
    compared: int
    adjudication_rate: Rate
    adjudicator_agreement_rate: Rate | None = None
    reader_disagreement_index: Rate | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "month": self.month,
            "compared": self.compared,
            "adjudication_rate": self.adjudication_rate.as_json(),
        }
        if self.adjudicator_agreement_rate is not None:
            out["adjudicator_agreement_rate"] = self.adjudicator_agreement_rate.as_json()
        if self.reader_disagreement_index is not None:
            out["reader_disagreement_index"] = self.reader_disagreement_index.as_json()
        return out


def _month(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _months_between(first: dt.date, last: dt.date) -> list[str]:
    out: list[str] = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def monthly_drift(pairs: Iterable[SubjectPair], reader: Hashable | None = None) -> list[MonthBucket]:
    """One bucket per calendar month of ``compared_on``, from the first to the last month
    with data, empty months included (a gap is information in a drift chart)."""
    pairs = list(pairs) if reader is None else _involving(pairs, reader)
    if not pairs:
        return []
    by_month: dict[str, list[SubjectPair]] = {}
    for p in pairs:
        by_month.setdefault(_month(p.compared_on), []).append(p)
    dates = [p.compared_on for p in pairs]
    buckets: list[MonthBucket] = []
    for month in _months_between(min(dates), max(dates)):
        group = by_month.get(month, [])
        buckets.append(
            MonthBucket(
                month=month,
                compared=len(group),
                adjudication_rate=adjudication_rate(group),
                adjudicator_agreement_rate=None
                if reader is None
                else adjudicator_agreement_rate(group, reader),
                reader_disagreement_index=None
                if reader is None
                else reader_disagreement_index(group, reader),
            )
        )
    return buckets


@dataclass(frozen=True)
class ReaderSummary:
    reader: Hashable
    subjects_read: int
    adjudicated: int
    adjudicator_agreement_rate: Rate
    reader_disagreement_index: Rate
    kappa: Kappa
    median_abs_pd_date_difference_days: float | None
    drift: list[MonthBucket] = field(default_factory=list)


@dataclass(frozen=True)
class TrialSummary:
    compared: int
    adjudication_rate: Rate
    kappa: Kappa
    median_abs_pd_date_difference_days: float | None
    drift: list[MonthBucket]
    readers: list[ReaderSummary]


def summarise(pairs: Sequence[SubjectPair], bor_categories: Sequence[str] | None = None) -> TrialSummary:
    """All reader metrics of one trial; readers in order of first appearance in ``pairs``."""
    readers: list[Hashable] = []
    for p in pairs:
        for r in p.readers:
            if r not in readers:
                readers.append(r)
    return TrialSummary(
        compared=len(pairs),
        adjudication_rate=adjudication_rate(pairs),
        kappa=bor_kappa(pairs, categories=bor_categories),
        median_abs_pd_date_difference_days=median_abs_pd_date_difference(pairs),
        drift=monthly_drift(pairs),
        readers=[
            ReaderSummary(
                reader=r,
                subjects_read=len(_involving(pairs, r)),
                adjudicated=sum(1 for p in _involving(pairs, r) if p.adjudicated),
                adjudicator_agreement_rate=adjudicator_agreement_rate(pairs, r),
                reader_disagreement_index=reader_disagreement_index(pairs, r),
                kappa=bor_kappa(pairs, reader=r, categories=bor_categories),
                median_abs_pd_date_difference_days=median_abs_pd_date_difference(pairs, r),
                drift=monthly_drift(pairs, r),
            )
            for r in readers
        ],
    )


# --- investigator (site) vs central review ---------------------------------------------------


@dataclass(frozen=True)
class ProgressionPair:
    """One subject's first-progression date by the investigator and by central review
    (``None``: no progression declared)."""

    subject: Hashable
    investigator: dt.date | None
    central: dt.date | None


@dataclass(frozen=True)
class DiscrepancyRates:
    """Amit et al. 2011 counts and rates (see the module docstring)."""

    a1: int  # both PD, same timing
    a2: int  # both PD, investigator later than central
    a3: int  # both PD, investigator earlier than central
    b: int  # investigator PD only
    c: int  # central PD only
    d: int  # neither

    @property
    def a(self) -> int:
        return self.a1 + self.a2 + self.a3

    @property
    def edr(self) -> Rate:
        return Rate(self.b + self.a3, self.a + self.b)

    @property
    def ldr(self) -> Rate:
        return Rate(self.c + self.a2, self.b + self.c + self.a2 + self.a3)

    def as_json(self) -> dict[str, object]:
        return {
            "a1": self.a1,
            "a2": self.a2,
            "a3": self.a3,
            "b": self.b,
            "c": self.c,
            "d": self.d,
            "edr": self.edr.as_json(),
            "ldr": self.ldr.as_json(),
            "definition": "Amit et al. 2011: EDR=(b+a3)/(a+b), LDR=(c+a2)/(b+c+a2+a3)",
        }


def discrepancy_rates(pairs: Iterable[ProgressionPair], tolerance_days: int = 0) -> DiscrepancyRates:
    """EDR/LDR counts; two progression dates at most ``tolerance_days`` apart have the same timing."""
    if tolerance_days < 0:
        raise ValueError("tolerance_days must be >= 0")
    counts: Counter[str] = Counter()
    for p in pairs:
        inv, cen = p.investigator, p.central
        if inv is None and cen is None:
            counts["d"] += 1
        elif cen is None:
            counts["b"] += 1
        elif inv is None:
            counts["c"] += 1
        elif abs((inv - cen).days) <= tolerance_days:
            counts["a1"] += 1
        elif inv > cen:
            counts["a2"] += 1
        else:
            counts["a3"] += 1
    return DiscrepancyRates(
        a1=counts["a1"],
        a2=counts["a2"],
        a3=counts["a3"],
        b=counts["b"],
        c=counts["c"],
        d=counts["d"],
    )
