"""The inputs of every criterion (issue 15 item 1): second diameters (irRC / WHO products),
itRECIST's "first injected at this follow-up", PET lesions' SUL values and the PET scan's
reference region on the timepoint read, pre-baseline timepoints (tumour growth rate) and the
charter's PET tracer. Every new column is empty or false for existing rows, so every stored
read keeps its meaning and its signed content (the content adds the new keys only when set).

On SQLite the table rebuilds drop the lock triggers of 0002; they are dropped before and
re-created after, as in 0011-0013.
"""

import importlib

import trialreads.models.read
from decimal import Decimal
from django.db import migrations, models


_TRIGGERS = importlib.import_module("trialreads.migrations.0002_lock_and_audit_triggers")
drop_sqlite_triggers = _TRIGGERS.drop_sqlite_triggers
create_sqlite_triggers = _TRIGGERS.create_sqlite_triggers


class Migration(migrations.Migration):

    dependencies = [
        ('trialreads', '0013_timepoint_scan_date_collected'),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.RemoveConstraint(
            model_name='measurement',
            name='measurement_measured_has_value',
        ),
        migrations.AddField(
            model_name='charter',
            name='pet_tracer',
            field=models.CharField(default='FDG', max_length=20),
        ),
        migrations.AddField(
            model_name='imagingtimepoint',
            name='is_prebaseline',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='measurement',
            name='fragments_perp_mm',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='measurement',
            name='long_mm',
            field=trialreads.models.read.MillimetreField(blank=True, decimal_places=4, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='measurement',
            name='newly_injected',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='measurement',
            name='perp_mm',
            field=trialreads.models.read.MillimetreField(blank=True, decimal_places=4, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='measurement',
            name='sul_max',
            field=trialreads.models.read.ReadValueField(blank=True, decimal_places=4, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='measurement',
            name='sul_peak',
            field=trialreads.models.read.ReadValueField(blank=True, decimal_places=4, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='measurement',
            name='tlg',
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name='nontargetrating',
            name='newly_injected',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='pet_not_done',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='pet_reference_mean',
            field=trialreads.models.read.ReadValueField(blank=True, decimal_places=4, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='pet_reference_sd',
            field=trialreads.models.read.ReadValueField(blank=True, decimal_places=4, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='pet_reference_site',
            field=models.CharField(blank=True, choices=[('liver', 'Liver'), ('blood_pool', 'Blood pool')], default='', max_length=12),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='pet_unequivocal_progression',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='pet_uptake_min',
            field=models.DecimalField(blank=True, decimal_places=1, max_digits=6, null=True),
        ),
        migrations.AddField(
            model_name='timepointread',
            name='prebaseline_sum_mm',
            field=trialreads.models.read.MillimetreField(blank=True, decimal_places=4, max_digits=9, null=True),
        ),
        migrations.AlterField(
            model_name='lesion',
            name='kind',
            field=models.CharField(choices=[('TARGET', 'Target'), ('NON_TARGET', 'Non-target'), ('NEW', 'New'), ('PET', 'PET lesion')], max_length=12),
        ),
        migrations.AddConstraint(
            model_name='imagingtimepoint',
            constraint=models.CheckConstraint(condition=models.Q(('is_baseline', True), ('is_prebaseline', True), _negated=True), name='timepoint_prebaseline_not_baseline'),
        ),
        migrations.AddConstraint(
            model_name='measurement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('perp_mm__isnull', True), models.Q(('perp_mm__gte', 0), ('perp_mm__lte', Decimal('1000.0'))), _connector='OR'), models.Q(('long_mm__isnull', True), models.Q(('long_mm__gte', 0), ('long_mm__lte', Decimal('1000.0'))), _connector='OR'), models.Q(('sul_peak__isnull', True), models.Q(('sul_peak__gte', 0), ('sul_peak__lte', 100)), _connector='OR'), models.Q(('sul_max__isnull', True), models.Q(('sul_max__gte', 0), ('sul_max__lte', 100)), _connector='OR'), models.Q(('tlg__isnull', True), models.Q(('tlg__gte', 0), ('tlg__lte', 1000000)), _connector='OR')), name='measurement_second_diameter_and_pet_range'),
        ),
        migrations.AddConstraint(
            model_name='measurement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'MEASURED'), _negated=True), ('value_mm__isnull', False), ('sul_peak__isnull', False), _connector='OR'), name='measurement_measured_has_value'),
        ),
        migrations.AddConstraint(
            model_name='timepointread',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('pet_reference_mean__isnull', True), models.Q(('pet_reference_mean__gt', 0), ('pet_reference_mean__lte', 100)), _connector='OR'), models.Q(('pet_reference_sd__isnull', True), models.Q(('pet_reference_sd__gte', 0), ('pet_reference_sd__lte', 100)), _connector='OR'), models.Q(('pet_uptake_min__isnull', True), models.Q(('pet_uptake_min__gte', 0), ('pet_uptake_min__lte', 1440)), _connector='OR'), models.Q(('prebaseline_sum_mm__isnull', True), models.Q(('prebaseline_sum_mm__gte', 0), ('prebaseline_sum_mm__lte', 5000)), _connector='OR')), name='timepoint_read_pet_and_prebaseline_range'),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
