"""The append-only, hash-chained audit trail (celery-concurrency-ci §8).

``hash = sha256(prev_hash + canonical_json(body))`` where the body is every column except
``id``/``prev_hash``/``hash`` (see ``services.audit.event_body``). Rows are written only by
``services.audit.audit_record``; UPDATE and DELETE are refused by the model, the manager and
database triggers (migration 0002).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from trialreads.choices import AuditEventType
from trialreads.errors import AuditBypass

from .base import AuditedManager

GENESIS_HASH = "0" * 64
GLOBAL_CHAIN = "global"


class AuditEvent(models.Model):
    chain_id = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    ts = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150)
    event_type = models.CharField(max_length=40, choices=AuditEventType.choices)
    object_type = models.CharField(max_length=60, blank=True, default="")
    object_id = models.CharField(max_length=60, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=100, blank=True, default="")
    context = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditedManager()

    class Meta:
        ordering = ["chain_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain_id", "seq"], name="audit_unique_seq_per_chain")]
        indexes = [
            models.Index(fields=["actor_id", "event_type", "ts"], name="audit_actor_type_ts"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.chain_id}#{self.seq} {self.event_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditBypass("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AuditBypass("Audit events are append-only.")


class ChainHead(models.Model):
    """The last (seq, hash) of each chain. Locked FOR UPDATE by every append, which
    serialises appends per chain on PostgreSQL (SQLite's IMMEDIATE transactions already do)."""

    chain_id = models.CharField(max_length=40, primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"{self.chain_id}@{self.seq}"
