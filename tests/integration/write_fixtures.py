"""Shared by the write tests: an emulator of their own (writes change its data) and a database with
its workspace imported into schema `intercom`, plus helpers to count the API calls a statement made.
"""
import contextlib

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import Api
from tests.emulator_fixtures import set_knobs

WRITE_TOKEN = "write-test-token"


def start_write_emulator(**sizes):
    config = dict(seed=11, token=WRITE_TOKEN, contacts=30, companies=6, conversations=8, tickets=6, articles=4)
    return start_in_thread(EmulatorConfig(**{**config, **sizes}), port=0)


class WriteDb:
    """A connection (dict rows) to a database whose schema `intercom` reads the write emulator."""

    def __init__(self, conn, api: Api):
        self.conn, self.api = conn, api

    def rows(self, query, params=None):
        """The statement's rows ([] for a statement without RETURNING)."""
        cursor = self.conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []

    def one(self, query, params=None):
        rows = self.rows(query, params)
        assert len(rows) == 1, rows
        return rows[0]

    def calls(self):
        return self.api.counters()["by_route"]

    def writes(self):
        """API calls that change something (search and list POSTs excluded)."""
        return {route: n for route, n in self.calls().items()
                if not route.startswith("GET") and not route.endswith(("/search", "/list"))}

    def fails(self, query, match, params=None):
        """The statement's error (message, hint, detail); asserts that `match` is in the message."""
        with pytest.raises(psycopg.Error) as caught:
            self.rows(query, params)
        diag = caught.value.diag
        assert match in (diag.message_primary or ""), diag.message_primary
        return diag

    def knobs(self, **knobs):
        set_knobs(self.api.url, **knobs)


def import_schema(conn, url, token, schema="intercom", server="intercom", **server_options):
    extra = "".join(f", {k} {sql.Literal(str(v)).as_string(conn)}" for k, v in server_options.items())
    conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS "
                         "(wrapper 'intercom_fdw.IntercomFdw', api_url {}" + extra + ")").format(
        sql.Identifier(server), sql.Literal(url)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})").format(
        sql.Identifier(server), sql.Literal(token)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom FROM SERVER {} INTO {}").format(
        sql.Identifier(server), sql.Identifier(schema)))


@contextlib.contextmanager
def own_write_db(pg, db, **sizes):
    """A WriteDb reading an emulator of its own (`sizes` as start_write_emulator's), whose `notices`
    list records every NOTICE and WARNING of the connection as (severity, message, detail)."""
    server = start_write_emulator(**sizes)
    conn = pg.connect(db, row_factory=dict_row)
    try:
        import_schema(conn, server.url, server.token)
        wdb = WriteDb(conn, Api(server.url, server.token))
        wdb.notices = []
        conn.add_notice_handler(lambda diag: wdb.notices.append(
            (diag.severity_nonlocalized, diag.message_primary, diag.message_detail)))
        yield wdb
    finally:
        conn.close()
        server.stop()


@pytest.fixture(scope="module")
def write_emulator():
    with start_write_emulator() as server:
        yield server


@pytest.fixture(scope="module")
def wdb(pg, db, write_emulator):
    conn = pg.connect(db, row_factory=dict_row)
    import_schema(conn, write_emulator.url, write_emulator.token)
    try:
        yield WriteDb(conn, Api(write_emulator.url, write_emulator.token))
    finally:
        conn.close()
