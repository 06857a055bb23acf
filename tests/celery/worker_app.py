"""The Celery app of the worker-kill tests: the production app (``config.celery``) plus two
test-only switches read from the environment of the worker process.

* ``TRIALREADS_TEST_SUBJECT_HOOK``: ``sleep:<seconds>`` pauses before each subject is
  evaluated, so a test can kill the worker mid-computation; ``exit`` kills the pool process
  (``os._exit``) at the first subject, a poison message.
* ``TRIALREADS_TEST_EARLY_ACK=1``: Celery's default early acknowledgement, for the control
  test that shows why the production settings exist (T-CEL-CONTROL).
* ``TRIALREADS_TEST_EXPORT_HANG=<marker file>``: the first pool process to write a file of
  an export's staging folder creates the marker and hangs there (the test kills it
  mid-write); later processes, finding the marker, write on.
* ``TRIALREADS_TEST_FORK_THRESHOLD=<n>``: ``ENDPOINT_PARALLEL_MIN_SUBJECTS`` of the pool
  process, so a small trial takes the forked recompute and export inside a real worker.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_init, worker_process_init

from config.celery import app

__all__ = ["app"]


def _hook_from_env() -> Any:
    spec = os.environ.get("TRIALREADS_TEST_SUBJECT_HOOK", "")
    if spec.startswith("sleep:"):
        seconds = float(spec.partition(":")[2])
        return lambda subject: time.sleep(seconds)
    if spec == "exit":

        def crash(subject: Any) -> None:
            os._exit(3)

        return crash
    return None


def _hang_in_export_staging(marker: Path) -> None:
    real = Path.write_bytes

    def write_bytes(self: Path, data: Any) -> int:
        written = real(self, data)
        if ".staging-" in self.parent.name and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # killed long before
        return written

    Path.write_bytes = write_bytes  # type: ignore[method-assign]


@worker_init.connect
def _configure_main_process(**kwargs: Any) -> None:
    # The main process decides when a message is acknowledged, so the control switch is
    # set here, before the pool forks.
    if os.environ.get("TRIALREADS_TEST_EARLY_ACK") == "1":
        from trialreads import tasks

        for task in (tasks.compute_endpoints, tasks.build_export):
            task.acks_late = False
            task.reject_on_worker_lost = False


@worker_process_init.connect
def _install_hook(**kwargs: Any) -> None:
    from django.conf import settings

    from trialreads.services import endpoints

    hook = _hook_from_env()
    if hook is not None:
        # The documented seam (``trialreads.tasks``): the task looks the service up at call time.
        endpoints.endpoints_compute = functools.partial(endpoints.endpoints_compute, on_subject=hook)
    if os.environ.get("TRIALREADS_TEST_EXPORT_HANG"):
        _hang_in_export_staging(Path(os.environ["TRIALREADS_TEST_EXPORT_HANG"]))
    threshold = os.environ.get("TRIALREADS_TEST_FORK_THRESHOLD", "")
    if threshold:
        settings.TRIALREADS = {
            **settings.TRIALREADS,
            "ENDPOINT_PARALLEL_MIN_SUBJECTS": int(threshold),
            "ENDPOINT_PROCESSES": 2,
        }
