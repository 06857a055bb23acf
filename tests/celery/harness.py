"""Harness for tests with real Redis, real ``celery worker`` processes and the PostgreSQL
test database. (A module, not ``conftest.py``: this directory is not a package, and a second
``conftest`` module name would clash with ``tests/conftest.py``; the fixtures are imported
by the test modules.)

Runs only when ``REDIS_URL`` is set and the suite runs on PostgreSQL (the second pass of
``make test`` / ``.ci/run``): a worker is a separate process, so it needs a database server
it can share with the test (SQLite's per-test transaction would hide the data from it).

Workers are started as ``celery -A tests.celery.worker_app worker`` (the production app plus
test switches), pointed at the test database by ``DATABASE_URL``, with the broker settings
of celery-concurrency-ci §6.2 made short: visibility timeout 10 s, unacked restore every 2 s.
Every process is recorded and killed by its PID only; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
MAX_WAIT = 30.0


def _skip_reason() -> str | None:
    if not os.environ.get("REDIS_URL"):
        return "needs REDIS_URL (a live Redis) for real Celery workers"
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return "needs DATABASE_URL pointing at PostgreSQL (workers share the test database)"
    return None


#: Apply to every real-worker test module (``pytestmark``).
requires_workers = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def wait_for(predicate: Callable[[], Any], timeout: float = MAX_WAIT, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    name: str
    extra_pids: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    def pool_pids(self) -> list[int]:
        return children_of(self.pid)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self) -> None:
        try:
            wait_for(lambda: " ready." in self.log_text() and self.pool_pids())
        except AssertionError:
            raise AssertionError(f"worker {self.name} did not start:\n{self.log_text()[-3000:]}") from None

    def kill_child(self) -> int:
        (child,) = self.pool_pids()
        self.extra_pids.add(child)
        os.kill(child, signal.SIGKILL)
        return child

    def kill_all(self) -> None:
        """SIGKILL the main process and its pool processes (recorded PIDs only)."""
        self.extra_pids.update(self.pool_pids())
        for pid in [self.pid, *sorted(self.extra_pids)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + str(connection.settings_dict["NAME"])))


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


@pytest.fixture
def redis_clean() -> Iterator[None]:
    """An empty Redis database, and this process's Celery app sending to it for real.

    Test settings run tasks eagerly (in-process) everywhere else; these tests need the
    messages to reach the real workers, so eager mode is off for their duration.
    """
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    _flush_redis()
    try:
        yield
    finally:
        _flush_redis()
        app.conf.task_always_eager = eager


@pytest.fixture
def start_worker(tx_db: None, redis_clean: None, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """``start_worker(hook="sleep:2", early_ack=False, visibility=10, export_hang=None)`` -> a
    running worker (``worker_app`` describes the test switches)."""
    workers: list[Worker] = []

    def start(
        *,
        hook: str = "",
        early_ack: bool = False,
        visibility: int = 10,
        restore: int = 2,
        fork_threshold: int | None = None,
        export_hang: Path | None = None,
    ) -> Worker:
        if not workers:
            # Whatever the test's set-up enqueued (e.g. on signing) is not part of the
            # scenario; drop it before the first worker can consume it.
            _flush_redis()
        name = f"w{len(workers) + 1}-{os.getpid()}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "CELERY_VISIBILITY_TIMEOUT": str(visibility),
            "CELERY_UNACKED_RESTORE_INTERVAL": str(restore),
            "TRIALREADS_TEST_SUBJECT_HOOK": hook,
            "TRIALREADS_TEST_EARLY_ACK": "1" if early_ack else "0",
            "TRIALREADS_TEST_FORK_THRESHOLD": "" if fork_threshold is None else str(fork_threshold),
            "TRIALREADS_TEST_EXPORT_HANG": "" if export_hang is None else str(export_hang),
        }
        log = tmp_path / f"{name}.log"
        cmd = [
            str(CELERY), "-A", "tests.celery.worker_app", "worker",
            "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
            "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--queues", "trialreads",
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(process, log, name)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.kill_all()
