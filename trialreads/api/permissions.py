"""Request-level permission and the per-request projection of ``access.CAPABILITIES`` that
serializers use to decide which *fields* a viewer may see (arm, reader identity).

Which *objects* a viewer may see is decided by the selectors through ``access.py`` only;
nothing here widens or narrows that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from trialreads import access
from trialreads.models import TrialMembership


class IsAuthenticatedUser(BasePermission):
    """Every endpoint except the token endpoint needs an authenticated, active user.
    Anonymous requests get 401 with ``WWW-Authenticate: Token``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)


@dataclass
class Viewer:
    """The requesting user's roles, loaded once per request (one query, whatever the page
    size), so field-level decisions do not cost a query per row."""

    user: Any
    roles: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, user: Any) -> Viewer:
        if not getattr(user, "is_authenticated", False):
            return cls(user)
        rows = TrialMembership.objects.filter(user_id=user.pk).values_list("trial_id", "role")
        return cls(user, dict(rows))

    def can(self, trial_id: int, capability: str) -> bool:
        role = self.roles.get(trial_id)
        return role is not None and capability in access.CAPABILITIES.get(role, frozenset())

    def sees_arm(self, trial_id: int) -> bool:
        return self.can(trial_id, access.VIEW_ARM)

    def sees_reader_identity(self, trial_id: int, reader_id: int) -> bool:
        """Who read it (and which slot): the reader themselves and the read manager. Never the
        adjudicator, for whom the two reads are "A" and "B" in a random order."""
        return reader_id == getattr(self.user, "pk", None) or self.can(trial_id, access.MANAGE)
