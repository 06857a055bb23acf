"""A pool of forked processes over slices of a large in-memory input.

The children inherit the input (nothing is pickled on the way in; only the ``(start, end)``
bounds of each slice and the slice's plain results cross the pipe). The input is published
for the children's lifetime in :data:`_SHARED`, the one piece of module state, set and
cleared by :func:`imap_slices` around the pool. The children never touch the database
connection they inherit, and fork children leave through ``os._exit`` so no finaliser
closes it. How many processes to use is :func:`trialreads.bulk.fork_processes`'s decision.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from trialreads.bulk import children_allowed

T = TypeVar("T")
R = TypeVar("R")

#: (work, items) while a pool runs; inherited by the forked children.
_SHARED: tuple[Callable[[Sequence[Any]], list[Any]], Sequence[Any]] | None = None


def _run_slice(bounds: tuple[int, int]) -> list[Any]:
    assert _SHARED is not None, "only called in a child of imap_slices"
    work, items = _SHARED
    return work(items[bounds[0] : bounds[1]])


def imap_slices(
    work: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    slices: Sequence[tuple[int, int]],
    processes: int,
) -> Iterator[list[R]]:
    """``work(items[start:end])`` for each slice, on ``processes`` forked processes, yielded
    in the order of ``slices``."""
    global _SHARED
    _SHARED = (work, items)
    try:
        with children_allowed(), multiprocessing.get_context("fork").Pool(processes) as pool:
            yield from pool.imap(_run_slice, slices)
    finally:
        _SHARED = None
