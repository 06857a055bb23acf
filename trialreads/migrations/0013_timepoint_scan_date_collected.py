"""Partial scan dates kept as collected (issue 18 item 1).

``ImagingTimepoint.scan_date_collected`` keeps a partial collected date (``2014-02``) for SDTM
``--DTC``; ``scan_date_imputation`` names the rule (``trialreads.exports.dates``) that imputed
the scan dates the engine uses, which ADaM reports as ``ADT`` with ``ADTF``. Existing rows are
full dates: both fields empty. Numbered after 0012_measurement_collected_precision.

On SQLite adding the columns may rebuild the table; the lock triggers of 0002 are dropped
before and re-created after, as in 0011 and 0012.
"""

import importlib

from django.db import migrations, models

_TRIGGERS = importlib.import_module("trialreads.migrations.0002_lock_and_audit_triggers")


drop_sqlite_triggers = _TRIGGERS.drop_sqlite_triggers
create_sqlite_triggers = _TRIGGERS.create_sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0012_measurement_collected_precision")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AddField(
            model_name="imagingtimepoint",
            name="scan_date_collected",
            field=models.CharField(blank=True, default="", max_length=10),
        ),
        migrations.AddField(
            model_name="imagingtimepoint",
            name="scan_date_imputation",
            field=models.CharField(blank=True, default="", max_length=8),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
