"""Managers shared by the audited models.

Bulk ORM writes (``QuerySet.update/bulk_update/bulk_create/delete``) skip ``save()`` and
therefore the lock checks, and they are a tempting way around the services that write the
audit trail (simple-history documents the same hole). On audited models they raise
(T-AUDIT-BYPASS). The database triggers (migration 0002) are the layer below this one.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models
from django.db.models import Q

from trialreads.errors import AuditBypass
from trialreads.validators import DATE_MAX, DATE_MIN

_M = TypeVar("_M", bound=models.Model)


class AuditedQuerySet(models.QuerySet[_M]):
    def _refuse(self, operation: str) -> NoReturn:
        raise AuditBypass(
            f"{self.model.__name__}.objects.{operation}() bypasses the audit trail; use the services."
        )

    def update(self, **kwargs: Any) -> int:
        self._refuse("update")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        self._refuse("bulk_update")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[_M]:
        self._refuse("bulk_create")

    def delete(self) -> tuple[int, dict[str, int]]:
        self._refuse("delete")

    def update_or_create(self, *args: Any, **kwargs: Any) -> tuple[_M, bool]:
        # Goes through save() (not update()), but keep writes explicit in services.
        self._refuse("update_or_create")


#: Default manager of audited models. ``_base_manager`` stays Django's plain manager, which
#: the deletion collector and related-object access use internally.
AuditedManager = models.Manager.from_queryset(AuditedQuerySet)


def date_window(field: str, *, null: bool = False) -> Q:
    """CHECK condition: ``field`` lies in the stored date window (NULL allowed if ``null``);
    the same bounds as the services and serializers (``trialreads.validators``)."""
    inside = Q(**{f"{field}__gte": DATE_MIN, f"{field}__lte": DATE_MAX})
    return (Q(**{f"{field}__isnull": True}) | inside) if null else inside
