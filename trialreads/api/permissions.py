"""Request-level permission (authenticated, active user).

Which *objects* a viewer may see is decided by the selectors through ``access.py``, and which
*fields* (arm, reader identity) by ``access.Viewer`` / ``access.FIELD_CAPABILITY``; nothing
here widens or narrows either.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsAuthenticatedUser(BasePermission):
    """Every endpoint except the token endpoint needs an authenticated, active user.
    Anonymous requests get 401 with ``WWW-Authenticate: Token``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)
