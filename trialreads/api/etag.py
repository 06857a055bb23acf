"""Optimistic concurrency over HTTP (T-CONC-ETAG): the ETag of a timepoint read is its
``version`` (bumped by every service write), and every write must send it back in
``If-Match``: none -> 428, a different one -> 412.

The version check is repeated by the services under the row lock (``expected_version``),
so two clients holding the same ETag cannot both win: the loser's service call raises
``Conflict`` and :func:`raise_precondition_if_stale` turns it into 412 when the version
it was based on is no longer current.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.request import Request

from trialreads import access

from .exceptions import PreconditionFailed, PreconditionRequired

_ETAG_RE = re.compile(r'^"tr(\d+)-v(\d+)"$')


def etag_for(timepoint_read_id: int, version: int) -> str:
    return f'"tr{timepoint_read_id}-v{version}"'


def required_version(request: Request, timepoint_read_id: int) -> int:
    """The version named by ``If-Match``. Refuses a missing header (428) and ``*``, weak or
    foreign tags (412: they cannot match this resource's strong ETag)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise PreconditionRequired()
    if header == "*":
        raise PreconditionRequired("If-Match: * does not protect against lost updates; send the ETag.")
    for candidate in (part.strip() for part in header.split(",")):
        match = _ETAG_RE.match(candidate)
        if match and int(match.group(1)) == timepoint_read_id:
            return int(match.group(2))
    raise PreconditionFailed()


def check_fresh(user: Any, timepoint_read_id: int, expected: int) -> None:
    """412 now if the timepoint read (visible to ``user``) has moved past ``expected``."""
    current = access.access_timepoint_read_for(user, timepoint_read_id).version
    if current != expected:
        raise PreconditionFailed()


def raise_precondition_if_stale(user: Any, timepoint_read_id: int, expected: int) -> None:
    """After a service ``Conflict``: if another write got in first, the client's precondition
    failed (412); otherwise the conflict stands (409) and the caller re-raises it."""
    check_fresh(user, timepoint_read_id, expected)
