"""One signed state (issue 11.4): ``locked`` and ``status == SIGNED`` agree both ways.

The old constraint ``timepoint_read_locked_is_signed`` only said locked implies SIGNED, so a
row could be SIGNED and unlocked, and queries that asked ``status`` and queries that asked
``locked`` could disagree about it. ``timepoint_read_signed_iff_locked`` allows exactly two
combinations: (locked, SIGNED) and (unlocked, DRAFT).

Rows that break the new rule are *not* repaired here: whether such a row was meant to be
signed is a clinical question (a live signature, the audit chain, ``manage.py verify_audit``),
not one a migration may answer by guessing. The check step lists them and stops, before any
schema change.

The lock triggers of migration 0002 agree with the constraint: they let a locked row change
only to ``locked = false``, and the constraint then also requires ``status = DRAFT`` (what
``timepoint_read_unlock`` writes in the same UPDATE); a sign is one UPDATE from (unlocked,
DRAFT) to (locked, SIGNED), which the triggers allow.

On SQLite, adding a constraint rebuilds the table (create a copy, drop, rename), which the
triggers of 0002 do not survive: those on the table go with it, and those on the child tables
that name it make the rename fail. They are dropped before and re-created after, from 0002's
own statements (imported rather than copied, so there is one text of each trigger).
"""

import importlib

from django.db import migrations, models

_TRIGGERS = importlib.import_module("trialreads.migrations.0002_lock_and_audit_triggers")


def refuse_inconsistent_rows(apps, schema_editor) -> None:
    TimepointRead = apps.get_model("trialreads", "TimepointRead")
    consistent = models.Q(locked=True, status="SIGNED") | models.Q(locked=False, status="DRAFT")
    bad = list(
        TimepointRead._base_manager.using(schema_editor.connection.alias)
        .exclude(consistent)
        .order_by("pk")
        .values_list("pk", "status", "locked")[:20]
    )
    if bad:
        listed = ", ".join(f"id {pk} (status={status}, locked={locked})" for pk, status, locked in bad)
        raise RuntimeError(
            "trialreads 0011_signed_state: timepoint reads whose status and locked flag disagree "
            f"(a signed read must be status=SIGNED and locked, any other DRAFT and unlocked): {listed}"
            f"{' and more' if len(bad) == 20 else ''}. Decide for each from its signatures and audit "
            "events (manage.py verify_audit) and correct it before migrating; nothing was changed."
        )


drop_sqlite_triggers = _TRIGGERS.drop_sqlite_triggers
create_sqlite_triggers = _TRIGGERS.create_sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0010_input_bounds")]

    operations = [
        migrations.RunPython(refuse_inconsistent_rows, migrations.RunPython.noop),
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.RemoveConstraint(model_name="timepointread", name="timepoint_read_locked_is_signed"),
        migrations.AddConstraint(
            model_name="timepointread",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("locked", True), ("status", "SIGNED")),
                    models.Q(("locked", False), ("status", "DRAFT")),
                    _connector="OR",
                ),
                name="timepoint_read_signed_iff_locked",
            ),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
