"""How far a schema of foreign tables is behind its workspace, and the statements that catch it up.

What IMPORT FOREIGN SCHEMA would create today (`schema_import.table_definitions`, through the API)
against what the catalog holds: tables missing (a new ticket type) and columns missing (a new custom
attribute). `doctor` reports the drift; `setup --refresh` applies it: `ALTER FOREIGN TABLE ... ADD
COLUMN` for a column, so that views over the table keep working (a view names the columns it reads,
and adding one leaves them as they are), and IMPORT FOREIGN SCHEMA ... LIMIT TO for a table, so that
a new table is exactly what a fresh import makes. Columns the workspace no longer has are left alone:
a view may still read them, and their rows are NULL.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

from psycopg import sql

from intercom_fdw import errors, schema_import
from intercom_fdw.options import FdwOptions
from intercom_fdw.spec import Column


@dataclass(frozen=True)
class Drift:
    schema: str
    missing_tables: Tuple[str, ...]
    missing_columns: Tuple[Tuple[str, Column], ...]  # (table, column)

    @property
    def none(self) -> bool:
        return not self.missing_tables and not self.missing_columns

    def describe(self) -> str:
        return "; ".join(filter(None, [
            f"missing tables: {', '.join(self.missing_tables)}" if self.missing_tables else "",
            "missing columns: " + ", ".join(f"{table}.{column.name}" for table, column in self.missing_columns)
            if self.missing_columns else ""]))


def api_client(options: FdwOptions, **timeouts):
    """The client of a command-line tool (doctor, setup). It keeps its own rate-limit count
    (rate_limit_share=None): the machine's shared budget file (client/shared_budget.py) belongs to
    the PostgreSQL server's OS user, and a tool run by another one (root, an admin's account) would
    either create it mode 0600, so that every backend of the workspace then fails to open it, or fail
    to open the backends' own. A tool's few calls need no share of it."""
    from intercom_fdw.client import client_for

    return client_for(options.base_url, options.token, options.api_version, max_retries=1,
                      rate_limit_share=None, **timeouts)


def foreign_tables(conn, server: str, schema: Optional[str]) -> Dict[str, Dict[str, Set[str]]]:
    """{schema: {table: columns}} of the foreign tables on `server` (in `schema` only, when given)."""
    rows = conn.execute(
        "SELECT c.relname, n.nspname, a.attname FROM pg_foreign_table t JOIN pg_class c ON c.oid = t.ftrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_foreign_server s ON s.oid = t.ftserver "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE s.srvname = %s AND (%s::text IS NULL OR n.nspname = %s)", (server, schema, schema)).fetchall()
    found: Dict[str, Dict[str, Set[str]]] = {}
    for table, nsp, column in rows:
        columns = found.setdefault(nsp, {}).setdefault(table, set())
        if column is not None:
            columns.add(column)
    return found


def schema_drift(client, have: Dict[str, Set[str]], schema: str) -> Drift:
    """The drift of `have` ({table: columns} of `schema`) from the workspace `client` reads; raises
    the client's IntercomError when the workspace cannot be read."""
    wanted = schema_import.table_definitions(client, now=int(time.time()))
    return Drift(schema,
                 tuple(t.name for t in wanted if t.name not in have),
                 tuple((t.name, c) for t in wanted if t.name in have for c in t.columns if c.name not in have[t.name]))


def catch_up_statements(drift: Drift, server: str) -> List[sql.Composable]:
    """The statements that add what `drift` misses, columns first."""
    schema = sql.Identifier(drift.schema)
    statements: List[sql.Composable] = []
    for table, column in drift.missing_columns:
        options = sql.SQL("")
        if column.options:
            options = sql.SQL(" OPTIONS ({})").format(sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.Literal(str(value)))
                for name, value in column.options.items()))
        statements.append(sql.SQL("ALTER FOREIGN TABLE {}.{} ADD COLUMN {} {}{}").format(
            schema, sql.Identifier(table), sql.Identifier(column.name), sql.SQL(_checked_type(column.pg_type)),
            options))
    if drift.missing_tables:
        statements.append(sql.SQL("IMPORT FOREIGN SCHEMA intercom LIMIT TO ({}) FROM SERVER {} INTO {}").format(
            sql.SQL(", ").join(map(sql.Identifier, drift.missing_tables)), sql.Identifier(server), schema))
    return statements


def _checked_type(pg_type: str) -> str:
    """Column types come from our own mapping (never from the workspace); still, only a type name."""
    if not all(ch.isalnum() or ch in " _()[]," for ch in pg_type):
        raise errors.ConfigurationError(f"unexpected column type {pg_type!r}")
    return pg_type
