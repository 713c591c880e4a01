"""The sync part of the extension script (appended by intercom_fdw/actions/sqlgen.py after replication's):
the change log, the conflicts table, the capture trigger function and the procedure, all in the schema
`intercom_fdw` (created by replication's part)."""
from __future__ import annotations

from intercom_fdw.replication.runner import APPLYING_SETTING
from intercom_fdw.sync.runner import PUSHING
from intercom_fdw.sync.objects import SYNC_OBJECTS
from intercom_fdw.sync.resolve import RULES

SYNC_SQL = """
-- Two-way synchronization of replica tables (intercom_fdw/sync/): CALL intercom_fdw.sync().
CREATE TABLE intercom_fdw.sync_changes (
    change_id bigserial PRIMARY KEY,
    object text NOT NULL,
    target_schema name NOT NULL,
    key text NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    old jsonb,
    new jsonb,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_by name NOT NULL DEFAULT current_user,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'pushing', 'done', 'rejected')),
    error text,
    attempts integer NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    pushed_at timestamptz,
    intercom_id text
);
CREATE INDEX sync_changes_open ON intercom_fdw.sync_changes (object, target_schema, change_id)
    WHERE status <> 'done';
COMMENT ON TABLE intercom_fdw.sync_changes IS
    'Local INSERT, UPDATE and DELETE on synced replica tables (the changed columns'' old and new values), '
    'and what intercom_fdw.sync() made of them: pending, pushing (sent, outcome unknown), done or rejected (error)';
SELECT pg_catalog.pg_extension_config_dump('intercom_fdw.sync_changes', '');
SELECT pg_catalog.pg_extension_config_dump('intercom_fdw.sync_changes_change_id_seq', '');
-- Who logged a change is the role that inserted its row, whatever the row says: sync() sends a change
-- only when that role may make it on the replica table itself (intercom_fdw/sync/runner.py), so a
-- role allowed to insert into the log, as every editor of a synced table is, gains nothing by writing
-- rows of its own there. (A restore that loads the log with triggers enabled credits its rows to the
-- restoring role: pg_restore --disable-triggers keeps them as they were.)
CREATE FUNCTION intercom_fdw.sync_changes_logged_by() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $body$
BEGIN
    NEW.changed_by := current_user;
    RETURN NEW;
END
$body$;
CREATE TRIGGER sync_changes_logged_by BEFORE INSERT ON intercom_fdw.sync_changes
    FOR EACH ROW EXECUTE FUNCTION intercom_fdw.sync_changes_logged_by();

CREATE TABLE intercom_fdw.sync_conflicts (
    conflict_id bigserial PRIMARY KEY,
    object text NOT NULL,
    target_schema name NOT NULL,
    key text NOT NULL,
    "column" name NOT NULL,
    local_value jsonb,
    intercom_value jsonb,
    base_value jsonb,
    local_changed_at timestamptz,
    intercom_updated_at timestamptz,
    rule text NOT NULL,
    winner text NOT NULL CHECK (winner IN ('local', 'intercom')),
    change_ids bigint[] NOT NULL,
    resolved_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- a conflict is recorded once, even when its change is sent again by a later run
CREATE UNIQUE INDEX sync_conflicts_once ON intercom_fdw.sync_conflicts (object, target_schema, key, "column", change_ids);
COMMENT ON TABLE intercom_fdw.sync_conflicts IS
    'Columns changed on both sides since the last sync, both versions, and which one intercom_fdw.sync() kept';
SELECT pg_catalog.pg_extension_config_dump('intercom_fdw.sync_conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('intercom_fdw.sync_conflicts_conflict_id_seq', '');

CREATE TABLE intercom_fdw.sync_state (
    object text NOT NULL,
    target_schema name NOT NULL,
    server name,
    conflict_rule text,
    status text,
    error text,
    run_started_at timestamptz,
    run_ended_at timestamptz,
    changes_pushed integer NOT NULL DEFAULT 0,
    created integer NOT NULL DEFAULT 0,
    linked integer NOT NULL DEFAULT 0,
    updated integer NOT NULL DEFAULT 0,
    deleted integer NOT NULL DEFAULT 0,
    conflicts integer NOT NULL DEFAULT 0,
    rejected integer NOT NULL DEFAULT 0,
    held integer NOT NULL DEFAULT 0,
    push_api_calls integer NOT NULL DEFAULT 0,
    PRIMARY KEY (object, target_schema)
);
COMMENT ON TABLE intercom_fdw.sync_state IS
    'One row per synced object and schema: what the last intercom_fdw.sync() pushed (the pull is in replication_state)';
SELECT pg_catalog.pg_extension_config_dump('intercom_fdw.sync_state', '');

-- What a row of a synced table has pending in the log: the last open entry's operation and the columns
-- its open inserts and updates set. SECURITY DEFINER: a role that only replicates reads no log.
CREATE FUNCTION intercom_fdw.sync_pending(object text, target_schema name, key text,
                                          OUT last_op text, OUT columns text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
    SELECT (SELECT c.op FROM intercom_fdw.sync_changes c WHERE c.object = $1 AND c.target_schema = $2
            AND c.key = $3 AND c.status <> 'done' ORDER BY c.change_id DESC LIMIT 1),
           (SELECT array_agg(DISTINCT k) FROM intercom_fdw.sync_changes c, jsonb_object_keys(c.new) AS k
            WHERE c.object = $1 AND c.target_schema = $2 AND c.key = $3 AND c.status <> 'done'
              AND c.op IN ('insert', 'update'))
$body$;

-- Whether `name` is a column that the foreign table of a synced table has gained since its capture
-- trigger was installed: `capture` (the trigger's TG_ARGV[2]) lists the foreign table's columns of then
-- (`columns`) and names it (`foreign_schema`, `foreign_table`). A custom attribute imported since
-- (IMPORT FOREIGN SCHEMA again, intercom-fdw setup --refresh) reaches the replica through replicate()
-- or the user's ALTER TABLE before the next sync installs the trigger again; its edits are captured
-- rather than refused with a column list that is out of date, and the push's write through the foreign
-- table decides. Looked up by name in the catalog (no privilege on the foreign table's schema needed):
-- IMPORT after a DROP gives the table another oid.
CREATE FUNCTION intercom_fdw.sync_gained_column(capture jsonb, name text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $body$
    SELECT $1 ? 'columns' AND NOT ($1 -> 'columns') ? $2 AND EXISTS (
        SELECT 1 FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind = 'f'
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 ->> 'foreign_schema' AND c.relname = $1 ->> 'foreign_table'
          AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)
$body$;

-- The capture trigger of a synced table: TG_ARGV = (object, the operations Intercom allows, and a JSON
-- object of the columns Intercom's API sets on insert and on update: a change it could never send is
-- refused here, when it is made, not rejected by every later sync; a column the foreign table gained
-- since the trigger was installed is captured, sync_gained_column above).
-- Rows written by replication or sync carry the session setting @APPLYING@ = on ('@PUSHING@' while
-- sync writes what its push decided) and are not captured: what comes from Intercom is never sent
-- back. Replication (sync's pull, or replicate()) writing Intercom's version of a row whose local
-- changes are not sent yet keeps the local values of those columns, and does not bring back a row
-- deleted locally: a user's edit does not revert while the log still holds it. A row made locally and not
-- created in Intercom yet (its id local:...) is left alone by replication, which has never read it.
CREATE FUNCTION intercom_fdw.sync_capture() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
    before jsonb;
    after jsonb;
    old_values jsonb := '{}';
    new_values jsonb := '{}';
    kept jsonb;
    name text;
    refused text;
    applying text := coalesce(current_setting('@APPLYING@', true), '');
BEGIN
    IF applying = 'on' AND TG_OP <> 'INSERT' AND OLD.id LIKE 'local:%' THEN
        -- A row made locally that Intercom has not created yet: no read of Intercom can have seen it,
        -- so replication's marks and deletes of what its read did not see pass it by (its upserts
        -- match Intercom's ids only); sync's push creates it.
        RETURN NULL;
    END IF;
    IF applying = '@PUSHING@' OR (applying = 'on' AND TG_OP = 'DELETE') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF applying = 'on' THEN
        IF TG_OP = 'INSERT' THEN
            IF (intercom_fdw.sync_pending(TG_ARGV[0], TG_TABLE_SCHEMA, NEW.id)).last_op = 'delete' THEN
                RETURN NULL;
            END IF;
            RETURN NEW;
        END IF;
        before := to_jsonb(OLD);
        SELECT jsonb_object_agg(k, before -> k) INTO kept
        FROM unnest((intercom_fdw.sync_pending(TG_ARGV[0], TG_TABLE_SCHEMA, OLD.id)).columns) AS k;
        IF kept IS NOT NULL THEN
            NEW := jsonb_populate_record(NEW, kept);
        END IF;
        RETURN NEW;
    END IF;
    IF NOT lower(TG_OP) = ANY (string_to_array(TG_ARGV[1], ',')) THEN
        RAISE EXCEPTION 'Intercom does not allow % of %: %.% is synced with Intercom', lower(TG_OP), TG_ARGV[0],
            quote_ident(TG_TABLE_SCHEMA), quote_ident(TG_TABLE_NAME)
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'synced ' || TG_ARGV[0] || ' allow ' || replace(TG_ARGV[1], ',', ', ')
                         || '; to edit only the local copy, SET @APPLYING@ = on first (it is then overwritten by '
                         || 'the next sync)';
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- a row made locally has no Intercom id yet: a local one until the push writes Intercom's back
        IF NEW.id IS NULL THEN
            NEW.id := 'local:' || gen_random_uuid();
        END IF;
        IF TG_NARGS > 2 THEN
            SELECT string_agg(k, ', ' ORDER BY k) INTO refused
            FROM jsonb_object_keys(jsonb_strip_nulls(to_jsonb(NEW) - 'id' - '_replicated_at' - '_deleted_at')) AS k
            WHERE NOT coalesce(TG_ARGV[2]::jsonb -> 'insert', '[]') ? k
              AND NOT intercom_fdw.sync_gained_column(TG_ARGV[2]::jsonb, k);
            IF refused IS NOT NULL THEN
                RAISE EXCEPTION 'Intercom''s API cannot set % when it creates %: %.% is synced with Intercom', refused,
                    TG_ARGV[0], quote_ident(TG_TABLE_SCHEMA), quote_ident(TG_TABLE_NAME)
                    USING ERRCODE = 'feature_not_supported',
                          HINT = 'leave them NULL; the columns a create sets: '
                                 || (SELECT string_agg(c, ', ') FROM jsonb_array_elements_text(TG_ARGV[2]::jsonb -> 'insert') AS c);
            END IF;
        END IF;
        INSERT INTO intercom_fdw.sync_changes (object, target_schema, key, op, new)
        VALUES (TG_ARGV[0], TG_TABLE_SCHEMA, NEW.id, 'insert',
                jsonb_strip_nulls(to_jsonb(NEW) - 'id' - '_replicated_at' - '_deleted_at'));
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO intercom_fdw.sync_changes (object, target_schema, key, op, old)
        VALUES (TG_ARGV[0], TG_TABLE_SCHEMA, OLD.id, 'delete', to_jsonb(OLD) - '_replicated_at' - '_deleted_at');
        RETURN OLD;
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'the id of a synced row cannot change (% to %)', OLD.id, NEW.id
            USING ERRCODE = 'feature_not_supported', HINT = 'id is Intercom''s; delete the row and insert another';
    END IF;
    before := to_jsonb(OLD) - '_replicated_at' - '_deleted_at';
    after := to_jsonb(NEW) - '_replicated_at' - '_deleted_at';
    FOR name IN SELECT k FROM jsonb_object_keys(after) AS k LOOP
        IF before -> name IS DISTINCT FROM after -> name THEN
            old_values := old_values || jsonb_build_object(name, before -> name);
            new_values := new_values || jsonb_build_object(name, after -> name);
        END IF;
    END LOOP;
    IF TG_NARGS > 2 THEN
        SELECT string_agg(k, ', ' ORDER BY k) INTO refused FROM jsonb_object_keys(new_values) AS k
        WHERE NOT coalesce(TG_ARGV[2]::jsonb -> 'update', '[]') ? k
          AND NOT intercom_fdw.sync_gained_column(TG_ARGV[2]::jsonb, k);
        IF refused IS NOT NULL THEN
            RAISE EXCEPTION 'Intercom''s API cannot change % of %: %.% is synced with Intercom', refused, TG_ARGV[0],
                quote_ident(TG_TABLE_SCHEMA), quote_ident(TG_TABLE_NAME)
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'the columns an update sets: '
                             || (SELECT string_agg(c, ', ') FROM jsonb_array_elements_text(TG_ARGV[2]::jsonb -> 'update') AS c)
                             || '; to edit only the local copy, SET @APPLYING@ = on first (it is then overwritten by '
                             || 'the next sync)';
        END IF;
    END IF;
    IF new_values <> '{}' THEN
        INSERT INTO intercom_fdw.sync_changes (object, target_schema, key, op, old, new)
        VALUES (TG_ARGV[0], TG_TABLE_SCHEMA, NEW.id, 'update', old_values, new_values);
    END IF;
    RETURN NEW;
END
$body$;

CREATE PROCEDURE intercom_fdw.sync(
    objects text[] DEFAULT NULL,
    target_schema name DEFAULT 'intercom_replica',
    conflict text DEFAULT 'intercom_wins',
    server name DEFAULT NULL
)
LANGUAGE plpython3u
AS $body$
from intercom_fdw.sync.plpython import sync
sync(plpy, objects, target_schema, conflict, server)
$body$;
COMMENT ON PROCEDURE intercom_fdw.sync(text[], name, text, name) IS
    @COMMENT@;
"""


def sync_sql() -> str:
    comment = ("Synchronizes replica tables with Intercom both ways (NULL: all of "
               + ", ".join(s.object for s in SYNC_OBJECTS) + "): pushes the local changes of "
               "intercom_fdw.sync_changes through the foreign tables, then replicates Intercom's; conflict "
               + " | ".join(RULES) + ". Commits per change when CALLed outside a transaction block.")
    return SYNC_SQL.replace("@APPLYING@", APPLYING_SETTING).replace("@PUSHING@", PUSHING).replace("@COMMENT@", "'" + comment.replace("'", "''") + "'")
