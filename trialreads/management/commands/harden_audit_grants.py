"""``manage.py harden_audit_grants --role APPROLE [--dry-run]`` (PostgreSQL only).

The database triggers of migration 0002 refuse UPDATE and DELETE on the audit table and any
change to signed records, row by row. Two things they cannot do, which privileges can:

* ``TRUNCATE`` fires no row trigger: it would empty the audit table, or a signed read's
  measurements, without any trigger noticing.
* The table **owner** (and any role that can ``SET ROLE`` to it, and every superuser) can
  disable or drop the triggers and grant itself any privilege back.

So in production the application connects as a role that does not own the tables, and this
command takes from it what the application never needs: UPDATE, DELETE and TRUNCATE on the
audit table; DELETE and TRUNCATE on the chain heads and the signatures; TRUNCATE on the
signed-content tables (timepoint reads, lesions, measurements, ratings; drafts are deleted
row by row, which the triggers check). Run it as the owner (the role that ran ``migrate``),
again after every ``migrate`` that creates tables.

Exit 2 (nothing done) on SQLite, for an unknown role, a superuser, or a role that owns (or
can become the owner of) one of the tables. Exit 1 (rolled back) when the role would still
hold a revoked privilege afterwards, e.g. through PUBLIC or a group role it belongs to.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from trialreads.models import (
    AuditEvent,
    ChainHead,
    Lesion,
    Measurement,
    NonTargetRating,
    Signature,
    TimepointRead,
)

#: What the application role loses, per model. It keeps SELECT and INSERT everywhere, and
#: UPDATE/DELETE where the services need them (the triggers guard those row by row).
REVOKED: tuple[tuple[type[Any], tuple[str, ...]], ...] = (
    (AuditEvent, ("UPDATE", "DELETE", "TRUNCATE")),
    (ChainHead, ("DELETE", "TRUNCATE")),
    (Signature, ("DELETE", "TRUNCATE")),
    (TimepointRead, ("TRUNCATE",)),
    (Lesion, ("TRUNCATE",)),
    (Measurement, ("TRUNCATE",)),
    (NonTargetRating, ("TRUNCATE",)),
)

#: What the application needs on the audit table; reported (not granted) when missing.
NEEDED_ON_AUDIT = ("SELECT", "INSERT")


def _fail(message: str, code: int) -> CommandError:
    return CommandError(message, returncode=code)


class Command(BaseCommand):
    help = (
        "PostgreSQL: revoke UPDATE/DELETE/TRUNCATE on the audit table (and TRUNCATE/DELETE where "
        "triggers cannot guard) from the application role, which must not own the tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, help="the role the application connects as")
        parser.add_argument("--dry-run", action="store_true", help="print the statements, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise _fail(
                f"--role: this database is {connection.vendor}, which has no roles or grants; the "
                "triggers are its only guard (run this command against the PostgreSQL database)",
                2,
            )
        role: str = options["role"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper, quote_ident(rolname) FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise _fail(f"--role: no role {role!r} in this PostgreSQL cluster", 2)
            is_superuser, quoted = found
            if is_superuser:
                raise _fail(
                    f"--role: {role} is a superuser; superusers bypass every privilege check, so "
                    "nothing can be revoked from it. Connect the application as an ordinary role.",
                    2,
                )
            tables = [(model._meta.db_table, privileges) for model, privileges in REVOKED]
            for table, _privileges in tables:
                cursor.execute(
                    "SELECT pg_get_userbyid(relowner), pg_has_role(%s, relowner, 'MEMBER') FROM pg_class "
                    "WHERE oid = to_regclass(%s)",
                    [role, table],
                )
                row = cursor.fetchone()
                if row is None:
                    raise _fail(f"table {table} does not exist: run migrate first", 2)
                owner, owns = row
                if owns:
                    raise _fail(
                        f"--role: {role} owns {table} (owner {owner}, or {role} can SET ROLE to it). "
                        "An owner can always grant itself the privileges back and disable or drop the "
                        "triggers, so revoking from it protects nothing. Let the owner role run migrate, "
                        f"connect the application as another role, and give that role the grants.",
                        2,
                    )
            statements = [
                f"REVOKE {', '.join(privileges)} ON TABLE {connection.ops.quote_name(table)} FROM {quoted}"
                for table, privileges in tables
            ]
            if options["dry_run"]:
                for sql in statements:
                    self.stdout.write(f"would run: {sql}")
                self._report(cursor, role, tables, label="granted now")
                return
            with transaction.atomic():
                for sql in statements:
                    cursor.execute(sql)
                    self.stdout.write(f"ran: {sql}")
                left = self._report(cursor, role, tables, label="still granted")
                if left:
                    raise _fail(
                        f"{role} still holds {', '.join(left)} after the REVOKE, through PUBLIC or a role "
                        "it is a member of (revoke it there); rolled back, nothing changed",
                        1,
                    )
        self.stdout.write(f"OK   {role}: hardened")

    def _report(
        self, cursor: Any, role: str, tables: list[tuple[str, tuple[str, ...]]], *, label: str
    ) -> list[str]:
        """Print what ``role`` can still do that it should not; return those privileges."""
        left: list[str] = []
        for table, privileges in tables:
            for privilege in privileges:
                cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege])
                if cursor.fetchone()[0]:
                    left.append(f"{privilege} on {table}")
        audit_table = AuditEvent._meta.db_table
        for privilege in NEEDED_ON_AUDIT:
            cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [role, audit_table, privilege])
            if not cursor.fetchone()[0]:
                self.stdout.write(
                    f"note: {role} has no {privilege} on {audit_table}; the application needs it"
                )
        for item in left:
            self.stdout.write(f"{label}: {item}")
        return left
