"""Test settings: the base settings with fast hashing and a throw-away SQLite file.

``DATABASE_URL`` still selects PostgreSQL when set (the second pass of ``make test``).
The SQLite test database is a file (not :memory:) so that threaded concurrency tests use
real, separate connections; its name carries the process id so parallel runs never collide.
"""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import VAR_DIR

if not os.environ.get("DATABASE_URL"):
    DATABASES["default"]["NAME"] = str(VAR_DIR / "test.sqlite3")  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECRET_KEY = "test-secret-key-not-for-production-" + "y" * 30
DEBUG = False
# Tasks run in-process in tests on both passes (with or without REDIS_URL), so a test sees
# a task's effect when its transaction commits; the real-worker tests (tests/celery) switch
# eager mode off while they run.
CELERY_TASK_ALWAYS_EAGER = True
# Tests that commit (transaction=True) would otherwise run a whole-trial recompute eagerly
# after every signature; the tests of that hook switch it on.
TRIALREADS = {"AUTO_COMPUTE_ENDPOINTS": False}
