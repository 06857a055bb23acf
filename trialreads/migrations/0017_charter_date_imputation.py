"""The trial's rule for partial scan dates as a charter setting (issue 18 item 1).

``Charter.date_imputation`` names the rule (``trialreads.exports.dates``: ``first`` / ``mid``
/ ``last`` / ``nominal``) by which a partial collected scan date is imputed for the engine
and ADaM ``ADT``: the rule a timepoint created with only its collected date is imputed by,
and the rule ``import_sdtm`` uses unless its ``--date-imputation`` names another. Existing
charters get ``nominal``, the rule every import used so far, so they mean what they meant.
The charter has no lock triggers: nothing to drop or re-create on SQLite.

Numbered after 0016_charter_per_criterion.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0016_charter_per_criterion")]

    operations = [
        migrations.AddField(
            model_name="charter",
            name="date_imputation",
            field=models.CharField(
                choices=[("first", "first"), ("mid", "mid"), ("last", "last"), ("nominal", "nominal")],
                default="nominal",
                max_length=8,
            ),
        ),
        migrations.AddConstraint(
            model_name="charter",
            constraint=models.CheckConstraint(
                condition=models.Q(("date_imputation__in", ("first", "mid", "last", "nominal"))),
                name="charter_date_imputation_rule",
            ),
        ),
    ]
