"""Measurements keep their collected precision (issue 18 item 6).

``value_mm`` was ``numeric(5, 1)``: ``import_sdtm`` had to round every transcribed value to
0.1 mm before the engine decided, and a rounding can change a response (35.04 mm against
50 mm at baseline is -29.92 %, SD; rounded to 35.0 it is -30 %, PR). It now keeps four
decimal places (:class:`trialreads.models.read.MillimetreField` reads values back at their own
precision, so every existing 0.1 mm value reads exactly as before), and ``collected`` keeps the
result text as collected (``TRORRES``). Widening loses nothing, so existing rows need no check.

On SQLite the alteration rebuilds the table, which the lock triggers of 0002 do not survive:
they are dropped before and re-created after, as in 0011.
"""

import importlib

from django.db import migrations, models

import trialreads.models.read

_TRIGGERS = importlib.import_module("trialreads.migrations.0002_lock_and_audit_triggers")


drop_sqlite_triggers = _TRIGGERS.drop_sqlite_triggers
create_sqlite_triggers = _TRIGGERS.create_sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0011_signed_state")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AlterField(
            model_name="measurement",
            name="value_mm",
            field=trialreads.models.read.MillimetreField(
                blank=True, decimal_places=4, max_digits=8, null=True
            ),
        ),
        migrations.AddField(
            model_name="measurement",
            name="collected",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
