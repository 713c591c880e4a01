"""Helpers for the runtime tests: a connection that collects what the test FDW reports
(its NOTICEs "testfdw {json}") and a short way to declare foreign tables."""
import json

import pytest

FDW = "tests.runtime.testfdw"


class FdwSession:
    def __init__(self, conn):
        self.conn = conn
        self.notices = []
        conn.add_notice_handler(self._notice)

    def _notice(self, diag):
        # a Diagnostic is only readable during the callback
        self.notices.append((diag.severity, diag.message_primary or "", diag.message_hint,
                             diag.message_detail))

    def sql(self, query, params=None):
        cur = self.conn.execute(query, params)
        return cur.fetchall() if cur.description else None

    def calls(self, method=None):
        """The test FDW's reports since the last reset, optionally for one method."""
        found = []
        for _severity, text, _hint, _detail in self.notices:
            if text.startswith("testfdw "):
                call = json.loads(text[len("testfdw "):])
                if method is None or call["method"] == method:
                    found.append(call)
        return found

    def reset(self):
        self.notices.clear()

    def server(self, name, wrapper="RecordingFdw", **options):
        opts = ", ".join(f"{k} {quote(v)}" for k, v in {"wrapper": f"{FDW}.{wrapper}", **options}.items())
        self.sql(f"DROP SERVER IF EXISTS {name} CASCADE")
        self.sql(f"CREATE SERVER {name} FOREIGN DATA WRAPPER multicorn OPTIONS ({opts})")

    def table(self, name, columns, server="rt", **options):
        opts = ", ".join(f"{k} {quote(v)}" for k, v in options.items())
        self.sql(f"DROP FOREIGN TABLE IF EXISTS {name}")
        self.sql(f"CREATE FOREIGN TABLE {name} ({columns}) SERVER {server}"
                 + (f" OPTIONS ({opts})" if opts else ""))


def quote(value):
    return "'" + str(value).replace("'", "''") + "'"


@pytest.fixture
def fdw(pg, db):
    with pg.connect(db) as conn:
        session = FdwSession(conn)
        session.server("rt")
        session.reset()
        yield session
    assert pg.is_alive(), pg.log_tail()


def value_of(described):
    """(type name, repr) of a value described by testfdw.describe."""
    return (described["type"], described["repr"])


@pytest.fixture
def latin1_fdw(pg):
    """Like fdw, in a LATIN1 database whose client also speaks LATIN1: text from Python
    then needs a conversion, one PostgreSQL refuses outside a transaction."""
    name = "runtime_latin1"
    with pg.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'LATIN1' "
                     "LC_COLLATE 'C' LC_CTYPE 'C'")
    with pg.connect(name) as conn:
        conn.execute("CREATE EXTENSION multicorn")
        conn.execute("SET client_encoding TO 'LATIN1'")
        session = FdwSession(conn)
        session.server("rt")
        session.reset()
        yield session
