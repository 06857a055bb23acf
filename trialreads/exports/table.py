"""A dataset's cells as columns, taken once and shared by the validator and both writers.

An export at 2000 subjects holds about 16 million cells. Walking them cell by cell in Python
once per consumer (validate, measure the character lengths, encode XPT, write CSV) was most
of the export's time, so the rows are turned into columns once, with C-level operations
(``operator.itemgetter`` over the rows, ``zip`` to transpose), and every consumer then works
on a column's *distinct* values (a handful for most columns: codes, evaluators, dates) and
maps them back with ``map(dict.__getitem__, column)``.

:func:`tabulate` refuses (returns ``None``) when a row lacks a declared variable or carries
an undeclared one; the validator's row-by-row pass then names the rows. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

from trialreads.exports.spec import Dataset, Value


@dataclass(frozen=True)
class Table:
    """``columns[i]`` holds variable ``i``'s value for every row, in row order."""

    names: tuple[str, ...]
    columns: tuple[tuple[Value, ...], ...]
    nrows: int
    _distinct: dict[int, frozenset[Value]] = field(default_factory=dict, compare=False, repr=False)
    _types: dict[int, frozenset[type]] = field(default_factory=dict, compare=False, repr=False)

    def distinct(self, index: int) -> frozenset[Value]:
        """The column's distinct values (computed once). Raises ``TypeError`` for an
        unhashable cell; equal values of different types (``1``, ``1.0``) count once."""
        found = self._distinct.get(index)
        if found is None:
            found = self._distinct[index] = frozenset(self.columns[index])
        return found

    def types(self, index: int) -> frozenset[type]:
        """The types of the column's cells (computed once)."""
        found = self._types.get(index)
        if found is None:
            found = self._types[index] = frozenset(map(type, self.columns[index]))
        return found


def tabulate(dataset: Dataset) -> Table | None:
    """The dataset as columns in variable order, or ``None`` when some row's keys are not
    exactly the declared variables (so every row has every column and nothing else)."""
    names = tuple(var.name for var in dataset.variables)
    rows = dataset.rows
    if not names:
        return None
    if not rows:
        return Table(names, tuple(() for _ in names), 0)
    if set(map(len, rows)) != {len(names)}:
        return None
    getter = itemgetter(*names)
    try:
        values = list(map(getter, rows))
    except KeyError:
        return None
    if len(names) == 1:  # itemgetter of one name returns the value, not a 1-tuple
        return Table(names, (tuple(values),), len(rows))
    return Table(names, tuple(zip(*values, strict=True)), len(rows))
