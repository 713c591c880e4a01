"""Shared by the sync tests: CALL intercom_fdw.sync() with its notices, the change log and conflicts as
dicts, Intercom's write calls from the emulator's counters, and objects counted by a unique key through
the emulator's API (never through intercom_fdw). Builds on replication_fixtures (the database, Intercom
over plain HTTP)."""
import collections

import psycopg
from psycopg import sql

READ_POSTS = ("/search", "/list")


def sync(conn, *, objects=None, schema="intercom_replica", conflict="intercom_wins", server=None):
    notices = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
    try:
        conn.execute("CALL intercom_fdw.sync(%s, %s, %s, %s)", (objects, schema, conflict, server))
    finally:
        conn._notice_handlers.clear()
    return notices


def sync_fails(conn, **kwargs):
    """The failed sync's error (diag); asserts that it failed."""
    try:
        sync(conn, **kwargs)
    except psycopg.Error as error:
        return error.diag
    raise AssertionError("the sync succeeded")


def writes(intercom):
    """The emulator's calls that change something (searches and list POSTs excluded), by route."""
    return {route: n for route, n in intercom.calls()["by_route"].items()
            if not route.startswith("GET") and not route.endswith(READ_POSTS)}


def _dicts(cursor):
    names = [c.name for c in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def changes(conn, obj=None, schema="intercom_replica"):
    return _dicts(conn.execute(
        "SELECT * FROM intercom_fdw.sync_changes WHERE target_schema = %s AND (%s::text IS NULL OR object = %s) "
        "ORDER BY change_id", (schema, obj, obj)))


def conflicts(conn, obj=None, schema="intercom_replica"):
    return _dicts(conn.execute(
        "SELECT * FROM intercom_fdw.sync_conflicts WHERE target_schema = %s AND (%s::text IS NULL OR object = %s) "
        "ORDER BY conflict_id", (schema, obj, obj)))


def open_changes(conn, schema="intercom_replica"):
    return [c for c in changes(conn, schema=schema) if c["status"] != "done"]


def local_row(conn, table, key, schema="intercom_replica"):
    rows = _dicts(conn.execute(sql.SQL("SELECT * FROM {}.{} WHERE id = %s").format(
        sql.Identifier(schema), sql.Identifier(table)), (key,)))
    return rows[0] if rows else None


def all_of(intercom, path, items_key="data", **params):
    """Every object of a cursor-paged list (contacts, companies' list, articles, collections)."""
    found, cursor = [], None
    while True:
        page = intercom.send("GET", path, per_page=150, **({"starting_after": cursor} if cursor else {}), **params)
        found += page[items_key]
        cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
        if not cursor:
            return found


def duplicates(objects, key):
    """Values of `key` held by more than one object."""
    counted = collections.Counter(o.get(key) for o in objects if o.get(key))
    return {value: n for value, n in counted.items() if n > 1}
