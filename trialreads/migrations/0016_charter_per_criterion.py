"""The charter per criterion (issue 15 item 2, item 3's endpoints).

``Charter.analyses`` lists the growth-family analyses computed with the endpoints and
``Charter.engine_settings`` the overrides of the engine's settings; both default to empty,
so every existing charter means what it meant. ``EndpointAnalysis`` holds each subject's
analyses beside its endpoint runs (derived data, like them: no lock triggers). No table with
lock triggers is rebuilt (the charter has none), so the SQLite triggers of 0002 need no
drop / re-create here.

Numbered after 0015_confirmation_windows.
"""

import django.db.models.deletion
import trialreads.models.trial
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0015_confirmation_windows")]

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
        migrations.CreateModel(
            name="EndpointAnalysis",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("algorithm_version", models.CharField(max_length=20)),
                ("input_sha256", models.CharField(max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[("PENDING", "Pending"), ("RUNNING", "Running"), ("DONE", "Done"), ("FAILED", "Failed")],
                        default="DONE",
                        max_length=10,
                    ),
                ),
                ("accepted_evaluator", models.CharField(blank=True, default="", max_length=20)),
                ("result", models.JSONField(blank=True, default=dict)),
                ("reason", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "charter",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="endpoint_analyses",
                        to="trialreads.charter",
                    ),
                ),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="analyses", to="trialreads.endpointjob"
                    ),
                ),
                (
                    "subject",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="endpoint_analyses",
                        to="trialreads.subject",
                    ),
                ),
                (
                    "trial",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="endpoint_analyses",
                        to="trialreads.trial",
                    ),
                ),
            ],
            options={
                "ordering": ["trial", "subject", "-created_at"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("trial", "subject", "algorithm_version", "input_sha256"),
                        name="endpointanalysis_unique_inputs",
                    )
                ],
            },
        ),
    ]
