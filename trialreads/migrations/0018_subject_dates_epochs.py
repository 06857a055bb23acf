"""Subject-level dates from the trial and the sponsor's epochs (issue 18 items 3 and 4).

``Subject.first_dose_date`` (DM ``RFXSTDTC``, ADaM ``TRTSDT``) and
``Subject.reference_start_date`` (DM ``RFSTDTC``: day 1 of ``--DY``) are nullable: unknown
for existing subjects. ``Charter.epoch_rule`` defaults to ``""`` (no epochs given), so existing
transfers keep leaving EPOCH out. Neither table has lock triggers (0002): the SQLite rebuild
that the CHECK constraints cause needs no drop / re-create.

Numbered after 0017_charter_date_imputation.
"""

import datetime
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('trialreads', '0017_charter_date_imputation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='charter',
            name='epoch_rule',
            field=models.CharField(blank=True, choices=[('', 'not provided'), ('screening_treatment', 'SCREENING before RFSTDTC, TREATMENT on/after')], default='', max_length=24),
        ),
        migrations.AddField(
            model_name='subject',
            name='first_dose_date',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='subject',
            name='reference_start_date',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name='charter',
            constraint=models.CheckConstraint(condition=models.Q(('epoch_rule__in', ['', 'screening_treatment'])), name='charter_epoch_rule'),
        ),
        migrations.AddConstraint(
            model_name='subject',
            constraint=models.CheckConstraint(condition=models.Q(('first_dose_date__isnull', True), models.Q(('first_dose_date__gte', datetime.date(1900, 1, 1)), ('first_dose_date__lte', datetime.date(2199, 12, 31))), _connector='OR'), name='subject_first_dose_date_window'),
        ),
        migrations.AddConstraint(
            model_name='subject',
            constraint=models.CheckConstraint(condition=models.Q(('reference_start_date__isnull', True), models.Q(('reference_start_date__gte', datetime.date(1900, 1, 1)), ('reference_start_date__lte', datetime.date(2199, 12, 31))), _connector='OR'), name='subject_reference_start_date_window'),
        ),
    ]
