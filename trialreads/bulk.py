"""Helpers for the two bulk computations, the endpoint recompute and the sponsor export.

Both hold a whole trial in memory as plain Python objects (hundreds of thousands of rows at
2000 subjects) and are CPU-bound:

* :func:`gc_paused`: the cyclic garbage collector is paused while they run. They allocate
  millions of small acyclic objects, and every full collection walks all of them again:
  measured at 2000 subjects, the export spent about a third of its time in the collector.
  Reference counting still frees everything; cycles left behind are collected when the
  collector runs again afterwards.
* :func:`fork_processes`: how many processes to use. Work is split across forked children
  (they inherit the inputs; nothing is pickled on the way in), only for large enough
  trials, and never from a daemonic process, which may not have children.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager

from trialreads import conf


def fork_processes(subjects: int) -> int:
    """Processes to use: ``ENDPOINT_PROCESSES`` (default: one per CPU) for trials of at least
    ``ENDPOINT_PARALLEL_MIN_SUBJECTS`` subjects, where ``fork`` exists; otherwise 1."""
    wanted = int(conf.get("ENDPOINT_PROCESSES") or os.cpu_count() or 1)
    if subjects < int(conf.get("ENDPOINT_PARALLEL_MIN_SUBJECTS")) or wanted < 2:
        return 1
    if multiprocessing.current_process().daemon or "fork" not in multiprocessing.get_all_start_methods():
        return 1  # e.g. inside a daemonic pool process, which may not have children
    return wanted


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (restored as it was, even on error)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
