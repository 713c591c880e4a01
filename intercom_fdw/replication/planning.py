"""The SQL text of a replication run: pure functions of names, columns and bounds (no database, no I/O).

Every statement reads Intercom only through a foreign table. Values are inlined as literals rather
than passed as parameters, so the foreign table sees constants it can push down (multicorn gets no
quals from a generic plan's parameters).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

BOOKKEEPING = ("_replicated_at", "_deleted_at")
STATE_SCHEMA = "intercom_fdw"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Optional[str]) -> str:
    if value is None:
        return "NULL"
    text = str(value).replace("'", "''")
    # E'' doubles backslashes whatever standard_conforming_strings says
    return ("E'" + text.replace("\\", "\\\\") + "'") if "\\" in text else "'" + text + "'"


def text_array(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]::text[]" if values else "'{}'::text[]"


@dataclass(frozen=True)
class Table:
    """A replica table: where it is, its columns (name, SQL type) and its key."""

    schema: str
    name: str
    columns: Tuple[Tuple[str, str], ...]
    key: Tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{ident(self.schema)}.{ident(self.name)}"

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


def create_table(table: Table) -> str:
    columns = [f"{ident(n)} {t}" + (" NOT NULL" if n in table.key else "") for n, t in table.columns]
    columns += ["_replicated_at timestamptz NOT NULL DEFAULT now()", "_deleted_at timestamptz"]
    return (f"CREATE TABLE {table.qualified} (\n    " + ",\n    ".join(columns)
            + f",\n    PRIMARY KEY ({', '.join(ident(k) for k in table.key)})\n)")


def add_columns(table: Table, missing: Sequence[Tuple[str, str]]) -> str:
    return f"ALTER TABLE {table.qualified} " + ", ".join(f"ADD COLUMN {ident(n)} {t}" for n, t in missing)


def key_json(prefix: str, key: Sequence[str]) -> str:
    return "jsonb_build_array(" + ", ".join(f"{prefix}{ident(k)}" for k in key) + ")"


@dataclass(frozen=True)
class Source:
    """What one window reads: a SELECT over the foreign table (its columns come out named as the target's)."""

    select: str
    cursor: Optional[str] = None  # column whose min and max the window reports
    # The window reads these parents' children whole: their other children are gone.
    scope_column: Optional[str] = None
    scope_values: Tuple[str, ...] = ()


def newest_first_probe(foreign: str, key: Sequence[str], cursor: str, bound: Optional[str]) -> str:
    """Every key, newest first, each saying whether it changed since `bound` (all do without one)."""
    changed = f"{ident(cursor)} >= {literal(bound)}::timestamptz" if bound is not None else "true"
    return (f"SELECT {', '.join(ident(k) for k in key)}, {ident(cursor)}::text AS _cursor, ({changed}) AS changed "
            f"FROM {foreign} ORDER BY {ident(cursor)} DESC")


def newest_first_rows(foreign: str, columns: Sequence[str], cursor: str) -> str:
    """The rows as JSON, newest `cursor` first, with the cursor as epoch seconds: read as a stream
    and stopped at the first row old enough, so there is no bound for the API to widen. (The
    columns are named in a subquery kept apart by OFFSET 0: multicorn2 fetches no column for a
    whole-row reference to the foreign table itself.)"""
    return (f"SELECT to_jsonb(f)::text AS row, extract(epoch FROM f.{ident(cursor)})::float8 AS at "
            f"FROM (SELECT {', '.join(ident(c) for c in columns)} FROM {foreign} "
            f"ORDER BY {ident(cursor)} DESC OFFSET 0) AS f")


def from_json(table: Table, rows_json: str) -> str:
    """The rows of a JSON array (objects keyed by column name) as the target's columns."""
    return (f"SELECT {', '.join(ident(c) for c in table.names)} "
            f"FROM jsonb_populate_recordset(NULL::{table.qualified}, {literal(rows_json)}::jsonb)")


def by_values(foreign: str, columns: Sequence[str], column: str, values: Sequence[str]) -> str:
    return (f"SELECT {', '.join(ident(c) for c in columns)} FROM {foreign} "
            f"WHERE {ident(column)} = ANY({text_array(values)})")


def time_window(foreign: str, columns: Sequence[str], column: str, low: Optional[str], high: Optional[str],
                since: Optional[Tuple[str, str]] = None) -> str:
    """The rows whose `column` lies in [low, high) (None: open on that side), and with `since` =
    (column, bound) only those whose column is at least the bound. The bounds are pushed down: the
    FDW widens them where the API is coarser (contact search compares dates by day), and
    PostgreSQL re-checks them exactly."""
    bounds = ([f"{ident(column)} >= {literal(low)}::timestamptz"] if low is not None else []) + (
        [f"{ident(column)} < {literal(high)}::timestamptz"] if high is not None else []) + (
        [f"{ident(since[0])} >= {literal(since[1])}::timestamptz"] if since is not None else [])
    return (f"SELECT {', '.join(ident(c) for c in columns)} FROM {foreign}"
            + (" WHERE " + " AND ".join(bounds) if bounds else ""))


def options_clause(options: Mapping[str, str]) -> str:
    return (" OPTIONS (" + ", ".join(f"{ident(k)} {literal(v)}" for k, v in options.items()) + ")") if options else ""


def create_foreign_table(qualified: str, columns: Sequence[Tuple[str, str, Mapping[str, str]]], server: str,
                         options: Mapping[str, str]) -> str:
    """A foreign table of `columns` (name, SQL type, column options) on `server` with `options`."""
    body = ",\n    ".join(f"{ident(n)} {t}{options_clause(o)}" for n, t, o in columns)
    return f"CREATE FOREIGN TABLE {qualified} (\n    {body}\n) SERVER {ident(server)}{options_clause(options)}"


def everything(foreign: str, columns: Sequence[str]) -> str:
    return f"SELECT {', '.join(ident(c) for c in columns)} FROM {foreign}"


def upsert(table: Table, source: Source, seen: Optional[Tuple[str, str]] = None,
           gone_action: str = "mark") -> str:
    """One statement: read the window, insert new rows, update changed ones (only those), and report.

    Returns one row: read, inserted, updated, gone (scope children no longer listed), low, high.
    `seen` (object, target schema) records the keys read for a complete read's final marking.
    """
    names = table.names
    cols = ", ".join(ident(c) for c in names)
    keys = ", ".join(ident(k) for k in table.key)
    updatable = [c for c in names if c not in table.key]
    assignments = ", ".join([f"{ident(c)} = EXCLUDED.{ident(c)}" for c in updatable]
                            + ["_replicated_at = EXCLUDED._replicated_at", "_deleted_at = NULL"])
    old = ", ".join([f"t.{ident(c)}" for c in updatable] + ["t._deleted_at"])
    new = ", ".join([f"EXCLUDED.{ident(c)}" for c in updatable] + ["NULL::timestamptz"])
    # `raw` is what the window read (its count decides whether a search window was full: a row a
    # search returned twice, shifted between pages, must not end the read early); `src` has each key once.
    parts = [f"raw AS MATERIALIZED ({source.select})",
             f"src AS MATERIALIZED (SELECT DISTINCT ON ({keys}) * FROM raw "
             f"WHERE {' AND '.join(f'{ident(k)} IS NOT NULL' for k in table.key)})"]
    parts.append(
        f"up AS (INSERT INTO {table.qualified} AS t ({cols}, _replicated_at, _deleted_at) "
        f"SELECT {cols}, now(), NULL FROM src ON CONFLICT ({keys}) DO UPDATE SET {assignments} "
        f"WHERE ({old}) IS DISTINCT FROM ({new}) RETURNING (xmax = 0) AS inserted)")
    if seen is not None:
        parts.append(f"seen AS (INSERT INTO {STATE_SCHEMA}.replication_seen (object, target_schema, key) "
                     f"SELECT {literal(seen[0])}, {literal(seen[1])}, {key_json('', table.key)} FROM src "
                     "ON CONFLICT DO NOTHING)")
    gone = "0"
    if source.scope_column is not None:
        match = " AND ".join(f"s.{ident(k)} = t.{ident(k)}" for k in table.key)
        where = (f"t.{ident(source.scope_column)} = ANY({text_array(source.scope_values)}) "
                 f"AND NOT EXISTS (SELECT 1 FROM src s WHERE {match})")
        parts.append(f"gone AS ({_gone_statement(table, where, gone_action)} RETURNING 1)")
        gone = "(SELECT count(*) FROM gone)"
    if source.cursor:
        low = f"(SELECT min({ident(source.cursor)})::text FROM raw)"
        high = f"(SELECT max({ident(source.cursor)})::text FROM raw)"
    else:
        low = high = "NULL::text"
    return ("WITH " + ",\n".join(parts) + "\n"
            f"SELECT (SELECT count(*) FROM raw) AS read, count(*) FILTER (WHERE inserted) AS inserted, "
            f"count(*) FILTER (WHERE NOT inserted) AS updated, {gone} AS gone, {low} AS low, {high} AS high "
            "FROM up")


def _gone_statement(table: Table, where: str, action: str) -> str:
    if action == "delete":
        return f"DELETE FROM {table.qualified} AS t WHERE {where}"
    return f"UPDATE {table.qualified} AS t SET _deleted_at = now() WHERE t._deleted_at IS NULL AND {where}"


def mark_unseen(table: Table, obj: str, schema: str, action: str = "mark",
                unseen_since: Optional[Tuple[str, str]] = None) -> str:
    """After a complete read: every row whose key the read did not see is gone from Intercom, except,
    with `unseen_since` = (column, time), rows whose column is at least that time (a read that shows
    objects late could not have seen them)."""
    where = (f"NOT EXISTS (SELECT 1 FROM {STATE_SCHEMA}.replication_seen s WHERE s.object = {literal(obj)} "
             f"AND s.target_schema = {literal(schema)} AND s.key = {key_json('t.', table.key)})")
    if unseen_since is not None:
        column = f"t.{ident(unseen_since[0])}"
        where += f" AND ({column} IS NULL OR {column} < {literal(unseen_since[1])}::timestamptz)"
    return _gone_statement(table, where, action)


def mark_orphans(table: Table, parent: Table, parent_key: str, action: str = "mark") -> str:
    """Children of parents that are gone (marked, or no longer in the replica) are gone too."""
    where = (f"NOT EXISTS (SELECT 1 FROM {parent.qualified} p WHERE p.{ident(parent.key[0])} = "
             f"t.{ident(parent_key)} AND p._deleted_at IS NULL)")
    return _gone_statement(table, where, action)


def list_keys(foreign: str, key: Sequence[str]) -> str:
    return f"SELECT {', '.join(ident(k) for k in key)} FROM {foreign}"
