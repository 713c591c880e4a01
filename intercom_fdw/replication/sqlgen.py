"""The replication part of the extension script (appended by intercom_fdw/actions/sqlgen.py).

Everything lives in the schema `intercom_fdw`, whatever schema the action functions were installed
in, so schedulers can always `CALL intercom_fdw.replicate()`. The schema is created unless it exists
(CREATE SCHEMA IF NOT EXISTS would fail in an extension script when a schema of that name that is
not the extension's exists). Objects outside the extension's schema make ALTER EXTENSION ... SET
SCHEMA fail with PostgreSQL's "does not support SET SCHEMA"; DROP EXTENSION drops the state tables
(not the replica tables, which are not part of the extension).
"""
from __future__ import annotations

from intercom_fdw.replication.strategies import STRATEGIES

REPLICATION_SQL = """
-- Replication of Intercom into local tables (intercom_fdw/replication/): CALL intercom_fdw.replicate().
DO $schema$
BEGIN
    IF to_regnamespace('intercom_fdw') IS NULL THEN
        CREATE SCHEMA intercom_fdw;
    END IF;
END
$schema$;

CREATE TABLE intercom_fdw.replication_state (
    object text NOT NULL,
    target_schema name NOT NULL,
    server name,
    mode text,
    status text,
    error text,
    cursor timestamptz,
    cursor_key text,
    -- where a stopped reconcile resumes (the last committed window's value and key); the cursor
    -- stays the incremental runs' own
    resume_at timestamptz,
    resume_key text,
    run_started_at timestamptz,
    run_ended_at timestamptz,
    rows_read bigint NOT NULL DEFAULT 0,
    rows_inserted bigint NOT NULL DEFAULT 0,
    rows_updated bigint NOT NULL DEFAULT 0,
    rows_marked_deleted bigint NOT NULL DEFAULT 0,
    api_calls bigint NOT NULL DEFAULT 0,
    windows integer NOT NULL DEFAULT 0,
    rate_limit_remaining integer,
    last_reconciled_at timestamptz,
    PRIMARY KEY (object, target_schema)
);
COMMENT ON TABLE intercom_fdw.replication_state IS
    'One row per replicated object and target schema: its cursor and the last run of intercom_fdw.replicate()';
SELECT pg_catalog.pg_extension_config_dump('intercom_fdw.replication_state', '');

-- The keys a complete read (full, reconcile, re-read objects) has seen so far: kept across its
-- commits, so that a resumed run still marks exactly what Intercom no longer has.
CREATE TABLE intercom_fdw.replication_seen (
    object text NOT NULL,
    target_schema name NOT NULL,
    key jsonb NOT NULL,
    PRIMARY KEY (object, target_schema, key)
);

-- Parents whose child list came back at the API's cap (GET /conversations/{id}: at most 500 parts).
CREATE TABLE intercom_fdw.replication_capped (
    object text NOT NULL,
    target_schema name NOT NULL,
    parent_id text NOT NULL,
    rows integer NOT NULL,
    cap integer NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object, target_schema, parent_id)
);

CREATE PROCEDURE intercom_fdw.replicate(
    objects text[] DEFAULT NULL,
    target_schema name DEFAULT 'intercom_replica',
    mode text DEFAULT 'incremental',
    server name DEFAULT NULL,
    deletes text DEFAULT 'mark'
)
LANGUAGE plpython3u
AS $body$
from intercom_fdw.replication.plpython import replicate
replicate(plpy, objects, target_schema, mode, server, deletes)
$body$;
COMMENT ON PROCEDURE intercom_fdw.replicate(text[], name, text, name, text) IS
    %(comment)s;
"""


def replication_sql() -> str:
    comment = ("Replicates Intercom objects (NULL: all of " + ", ".join(s.object for s in STRATEGIES)
               + ") into target_schema; mode incremental, full or reconcile; deletes mark or delete. "
               "Commits per window when CALLed outside a transaction block.")
    return REPLICATION_SQL % {"comment": "'" + comment.replace("'", "''") + "'"}
