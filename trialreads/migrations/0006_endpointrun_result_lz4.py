"""PostgreSQL: compress the endpoint results with LZ4 instead of the default pglz.

A full recompute at 2000 subjects writes about 84 MB of result JSON (explanations included),
and every value is over the TOAST threshold. Measured on our machines, inserting 3000 runs
took 1.4-1.5 s with pglz and 1.0 s with LZ4. Only where the server was built with LZ4
(``default_toast_compression`` lists it); nothing happens on SQLite or without LZ4, and
existing values keep their compression until rewritten.
"""

from django.db import migrations

_ENABLE = """
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)
    ) THEN
        ALTER TABLE trialreads_endpointrun ALTER COLUMN result SET COMPRESSION lz4;
    END IF;
END
$$;
"""
_DISABLE = "ALTER TABLE trialreads_endpointrun ALTER COLUMN result SET COMPRESSION DEFAULT;"


def _run(sql: str):  # type: ignore[no-untyped-def]
    def apply(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0005_audit_event_export_downloaded")]

    operations = [migrations.RunPython(_run(_ENABLE), _run(_DISABLE))]
