"""The charter per criterion (issue 15 item 2, item 3's endpoints).

``Charter.analyses`` lists the growth-family analyses computed with the endpoints and
``Charter.engine_settings`` the overrides of the engine's settings; both default to empty,
so every existing charter means what it meant. No table with lock triggers is rebuilt (the
charter has none), so the SQLite triggers of 0002 need no drop / re-create here.

Named 0014b: the lead renumbers and rechains at merge.
"""

import trialreads.models.trial
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0013_timepoint_scan_date_collected")]

    operations = [
        migrations.AddField(
            model_name="charter",
            name="analyses",
            field=models.JSONField(blank=True, default=trialreads.models.trial.default_analyses),
        ),
        migrations.AddField(
            model_name="charter",
            name="engine_settings",
            field=models.JSONField(blank=True, default=trialreads.models.trial.default_engine_settings),
        ),
    ]
