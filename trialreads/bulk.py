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
  trials; :func:`children_allowed` lets a Celery pool process (daemonic) start them.
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
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return wanted


@contextmanager
def children_allowed() -> Iterator[None]:
    """Let this process start a fork pool even when it is daemonic, as a Celery prefork pool
    process is (billiard marks it so, and ``multiprocessing`` then refuses it children).

    The rule exists because a daemonic process does not join its children when it exits.
    Ours never outlive the block: every pool is used as ``with Pool(...)``, which terminates
    and joins its workers before the task returns; if the pool process is killed outright,
    its pool workers read end-of-file from their task pipe and exit. Without this, the
    recompute and the export ran on one core inside every Celery worker (found by
    ``tests/celery/test_worker_forked.py``). ``_config`` is where ``multiprocessing.Process``
    keeps the flag (CPython 3.4 onwards).
    """
    config = getattr(multiprocessing.current_process(), "_config", None)
    if not isinstance(config, dict) or not config.get("daemon"):
        yield
        return
    config["daemon"] = False
    try:
        yield
    finally:
        config["daemon"] = True


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
