"""The one rounding and arithmetic policy of the package (CONV-ARITH, rules §10).

Every threshold decision (the 30% decrease, the 20% increase, the 5 mm absolute increase,
the 73% volume equivalent) is made on exact ``Decimal`` values *before* anything is rounded.
Rounding happens only for display and output: one decimal, half away from zero
(``ROUND_HALF_UP`` in Python's ``decimal`` is "away from zero" for ties, unlike ``round()``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

#: Measurements are stored and shown in 0.1 mm.
QUANTUM = Decimal("0.1")
HUNDRED = Decimal(100)
#: Precision wide enough that products and quotients of mm values never round.
_CONTEXT = Context(prec=50)
#: The same context, for hot loops elsewhere that inline these helpers.
CONTEXT = _CONTEXT


def to_display(value: Decimal) -> Decimal:
    """Round ``value`` to one decimal, half away from zero, for output only."""
    # An explicit context instead of localcontext(): same arithmetic, a third of the cost
    # (this runs for every number of every output).
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP, context=_CONTEXT)


def pct_change(value: Decimal, reference: Decimal) -> Decimal | None:
    """Exact percentage change of ``value`` against ``reference`` (None when reference is 0)."""
    if reference == 0:
        return None
    ctx = _CONTEXT
    return ctx.divide(ctx.multiply(ctx.subtract(value, reference), HUNDRED), reference)


def at_least_pct_below(value: Decimal, reference: Decimal, pct: Decimal) -> bool:
    """True when ``value`` is at least ``pct`` percent below ``reference``, decided exactly.

    ``value <= reference * (1 - pct/100)``: 63 against 90 with pct 30 is exactly -30% and
    counts (0.7 x 90 = 63, never 62.999...).
    """
    ctx = _CONTEXT
    return ctx.multiply(value, HUNDRED) <= ctx.multiply(reference, ctx.subtract(HUNDRED, pct))


def at_least_pct_above(value: Decimal, reference: Decimal, pct: Decimal) -> bool:
    """True when ``value`` is at least ``pct`` percent above ``reference``, decided exactly.

    An increase is required (R11-PD: "an increase of at least 20%"): against a reference of
    0 mm (a nadir after CR) 0 mm is no increase, although 0 >= 0 x 1.2. For a positive
    reference and pct the strict comparison is implied by the percentage test.
    """
    ctx = _CONTEXT
    if value <= reference:
        return False
    return ctx.multiply(value, HUNDRED) >= ctx.multiply(reference, ctx.add(HUNDRED, pct))


def decimal_sum(values: list[Decimal] | tuple[Decimal, ...]) -> Decimal:
    """Exact sum of millimetre values."""
    total = Decimal(0)
    for v in values:
        total = _CONTEXT.add(total, v)
    return total
