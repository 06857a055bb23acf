"""Database triggers: the audit table is append-only, and signed (locked) timepoint reads,
their measurements, ratings, lesions and signatures refuse changes from any SQL client.

The layer under the services, the model ``save()``/``delete()`` checks and the audited
managers (T-LOCK-DB, T-AUDIT-IMMUTABLE). Both backends raise an integrity error
(SQLite ``RAISE(ABORT)``, PostgreSQL SQLSTATE 23001 ``restrict_violation``), which Django
surfaces as ``django.db.IntegrityError``.

The one change allowed on a locked timepoint read is ``locked -> false`` (the unlock
service flips it first, then voids the signature; the flip is audited by the service).
Kept as literal SQL, independent of app code, so that this migration never changes meaning.
``TRUNCATE`` is not covered by row triggers: production revokes it (and UPDATE/DELETE on
the audit table) from the application role.
"""

from django.db import migrations

_TR = "trialreads_timepointread"
_LOCKED_MSG = "trialreads: signed timepoint read is locked"
_AUDIT_MSG = "trialreads: audit events are append-only"
_SIG_MSG = "trialreads: signatures are never deleted and only voided once"


def _sqlite_child(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_locked_insert BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {_TR} WHERE id = NEW.timepoint_read_id AND locked)
        BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_locked_update BEFORE UPDATE ON {table}
        WHEN EXISTS (SELECT 1 FROM {_TR} WHERE id IN (OLD.timepoint_read_id, NEW.timepoint_read_id) AND locked)
        BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_locked_delete BEFORE DELETE ON {table}
        WHEN EXISTS (SELECT 1 FROM {_TR} WHERE id = OLD.timepoint_read_id AND locked)
        BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
    ]


_LESION_USED_SQLITE = f"""(EXISTS (SELECT 1 FROM trialreads_measurement m JOIN {_TR} t ON t.id = m.timepoint_read_id
            WHERE m.lesion_id = OLD.id AND t.locked)
        OR EXISTS (SELECT 1 FROM trialreads_nontargetrating r JOIN {_TR} t ON t.id = r.timepoint_read_id
            WHERE r.lesion_id = OLD.id AND t.locked))"""

SQLITE_FORWARD = [
    f"""CREATE TRIGGER IF NOT EXISTS trialreads_auditevent_no_update BEFORE UPDATE ON trialreads_auditevent
    BEGIN SELECT RAISE(ABORT, '{_AUDIT_MSG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS trialreads_auditevent_no_delete BEFORE DELETE ON trialreads_auditevent
    BEGIN SELECT RAISE(ABORT, '{_AUDIT_MSG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {_TR}_locked_update BEFORE UPDATE ON {_TR}
    WHEN OLD.locked AND NEW.locked
    BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {_TR}_locked_delete BEFORE DELETE ON {_TR}
    WHEN OLD.locked
    BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
    *_sqlite_child("trialreads_measurement"),
    *_sqlite_child("trialreads_nontargetrating"),
    f"""CREATE TRIGGER IF NOT EXISTS trialreads_lesion_locked_update BEFORE UPDATE ON trialreads_lesion
    WHEN {_LESION_USED_SQLITE}
    BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS trialreads_lesion_locked_delete BEFORE DELETE ON trialreads_lesion
    WHEN {_LESION_USED_SQLITE}
    BEGIN SELECT RAISE(ABORT, '{_LOCKED_MSG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS trialreads_signature_no_delete BEFORE DELETE ON trialreads_signature
    BEGIN SELECT RAISE(ABORT, '{_SIG_MSG}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS trialreads_signature_void_only BEFORE UPDATE ON trialreads_signature
    WHEN OLD.voided_at IS NOT NULL
        OR NEW.content_sha256 IS NOT OLD.content_sha256 OR NEW.signer_id IS NOT OLD.signer_id
        OR NEW.printed_name IS NOT OLD.printed_name OR NEW.meaning IS NOT OLD.meaning
        OR NEW.signed_at IS NOT OLD.signed_at OR NEW.timepoint_read_id IS NOT OLD.timepoint_read_id
    BEGIN SELECT RAISE(ABORT, '{_SIG_MSG}'); END""",
]

SQLITE_TRIGGERS = [
    "trialreads_auditevent_no_update",
    "trialreads_auditevent_no_delete",
    f"{_TR}_locked_update",
    f"{_TR}_locked_delete",
    *[f"{t}_locked_{op}" for t in ("trialreads_measurement", "trialreads_nontargetrating")
      for op in ("insert", "update", "delete")],
    "trialreads_lesion_locked_update",
    "trialreads_lesion_locked_delete",
    "trialreads_signature_no_delete",
    "trialreads_signature_void_only",
]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]


# PostgreSQL: the child checks take FOR SHARE on the parent row, so a raw write waits for
# a concurrent signing transaction (which holds FOR UPDATE) and then sees its result.
PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION trialreads_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_AUDIT_MSG} (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END $$""",
    f"""CREATE OR REPLACE FUNCTION trialreads_timepointread_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.locked THEN
                RAISE EXCEPTION '{_LOCKED_MSG}' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN OLD;
        END IF;
        IF OLD.locked AND NEW.locked THEN
            RAISE EXCEPTION '{_LOCKED_MSG}' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION trialreads_child_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE is_locked boolean;
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            SELECT locked INTO is_locked FROM {_TR} WHERE id = OLD.timepoint_read_id FOR SHARE;
            IF is_locked THEN
                RAISE EXCEPTION '{_LOCKED_MSG}' USING ERRCODE = 'restrict_violation';
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            SELECT locked INTO is_locked FROM {_TR} WHERE id = NEW.timepoint_read_id FOR SHARE;
            IF is_locked THEN
                RAISE EXCEPTION '{_LOCKED_MSG}' USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END IF;
        RETURN OLD;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION trialreads_lesion_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM trialreads_measurement m JOIN {_TR} t ON t.id = m.timepoint_read_id
                   WHERE m.lesion_id = OLD.id AND t.locked)
           OR EXISTS (SELECT 1 FROM trialreads_nontargetrating r JOIN {_TR} t ON t.id = r.timepoint_read_id
                   WHERE r.lesion_id = OLD.id AND t.locked) THEN
            RAISE EXCEPTION '{_LOCKED_MSG}' USING ERRCODE = 'restrict_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION trialreads_signature_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR OLD.voided_at IS NOT NULL
           OR NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256 OR NEW.signer_id IS DISTINCT FROM OLD.signer_id
           OR NEW.printed_name IS DISTINCT FROM OLD.printed_name OR NEW.meaning IS DISTINCT FROM OLD.meaning
           OR NEW.signed_at IS DISTINCT FROM OLD.signed_at
           OR NEW.timepoint_read_id IS DISTINCT FROM OLD.timepoint_read_id THEN
            RAISE EXCEPTION '{_SIG_MSG}' USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER trialreads_auditevent_append_only BEFORE UPDATE OR DELETE ON trialreads_auditevent
    FOR EACH ROW EXECUTE FUNCTION trialreads_audit_append_only()""",
    f"""CREATE TRIGGER {_TR}_guard BEFORE UPDATE OR DELETE ON {_TR}
    FOR EACH ROW EXECUTE FUNCTION trialreads_timepointread_guard()""",
    """CREATE TRIGGER trialreads_measurement_guard BEFORE INSERT OR UPDATE OR DELETE ON trialreads_measurement
    FOR EACH ROW EXECUTE FUNCTION trialreads_child_guard()""",
    """CREATE TRIGGER trialreads_nontargetrating_guard BEFORE INSERT OR UPDATE OR DELETE ON trialreads_nontargetrating
    FOR EACH ROW EXECUTE FUNCTION trialreads_child_guard()""",
    """CREATE TRIGGER trialreads_lesion_guard BEFORE UPDATE OR DELETE ON trialreads_lesion
    FOR EACH ROW EXECUTE FUNCTION trialreads_lesion_guard()""",
    """CREATE TRIGGER trialreads_signature_guard BEFORE UPDATE OR DELETE ON trialreads_signature
    FOR EACH ROW EXECUTE FUNCTION trialreads_signature_guard()""",
]

PG_REVERSE = [
    "DROP TRIGGER IF EXISTS trialreads_auditevent_append_only ON trialreads_auditevent",
    f"DROP TRIGGER IF EXISTS {_TR}_guard ON {_TR}",
    "DROP TRIGGER IF EXISTS trialreads_measurement_guard ON trialreads_measurement",
    "DROP TRIGGER IF EXISTS trialreads_nontargetrating_guard ON trialreads_nontargetrating",
    "DROP TRIGGER IF EXISTS trialreads_lesion_guard ON trialreads_lesion",
    "DROP TRIGGER IF EXISTS trialreads_signature_guard ON trialreads_signature",
    "DROP FUNCTION IF EXISTS trialreads_audit_append_only()",
    "DROP FUNCTION IF EXISTS trialreads_timepointread_guard()",
    "DROP FUNCTION IF EXISTS trialreads_child_guard()",
    "DROP FUNCTION IF EXISTS trialreads_lesion_guard()",
    "DROP FUNCTION IF EXISTS trialreads_signature_guard()",
]

STATEMENTS = {
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
    "postgresql": (PG_FORWARD, PG_REVERSE),
}


def _run(schema_editor, forward: bool) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"trialreads: no lock/audit triggers for database vendor {vendor!r}")
    for sql in STATEMENTS[vendor][0 if forward else 1]:
        schema_editor.execute(sql, None)


def install(apps, schema_editor) -> None:
    _run(schema_editor, forward=True)


def uninstall(apps, schema_editor) -> None:
    _run(schema_editor, forward=False)


def _on_sqlite(statements: list[str], schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for sql in statements:
            schema_editor.execute(sql, None)


# For the later migrations whose SQLite table rebuild (AddField, AlterField, constraints) the
# triggers above do not survive: drop them before the rebuild, create them again after
# (RunPython forwards and backwards, as 0011-0013 use them). PostgreSQL keeps its triggers.
def drop_sqlite_triggers(apps, schema_editor) -> None:
    _on_sqlite(SQLITE_REVERSE, schema_editor)


def create_sqlite_triggers(apps, schema_editor) -> None:
    _on_sqlite(SQLITE_FORWARD, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("trialreads", "0001_initial_models")]
    operations = [migrations.RunPython(install, uninstall)]
