"""Shared by the read-path integration tests: a database with the seeded workspace imported twice.

Schema `intercom` uses server `intercom` (pushdown on); schema `intercom_plain` uses server
`intercom_plain` with pushdown 'false', the unpushed twin every pushdown test compares with.
`Api` reads the emulator with plain `requests` (an oracle independent of intercom_fdw's client).
"""
import pytest
import requests
from psycopg import sql


class Api:
    def __init__(self, url, token):
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Intercom-Version": "2.14",
                                     "Accept": "application/json"})

    def get(self, path, **params):
        response = self.session.get(self.url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path, body, **params):
        response = self.session.post(self.url + path, json=body, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def all(self, path, items_key="data", **params):
        """Every item of a cursor-paged list, following pages.next.starting_after."""
        items, cursor = [], None
        while True:
            page = self.get(path, per_page=150, **params, **({"starting_after": cursor} if cursor else {}))
            items += page.get(items_key) or []
            cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after") \
                if isinstance((page.get("pages") or {}).get("next"), dict) else None
            if not cursor:
                return items

    def search_all(self, path, items_key, query):
        items, cursor = [], None
        while True:
            pagination = {"per_page": 150, **({"starting_after": cursor} if cursor else {})}
            page = self.post(path, {"query": query, "pagination": pagination})
            items += page.get(items_key) or []
            cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not cursor:
                return items

    def scroll_all(self, path):
        items, scroll_param = [], None
        while True:
            page = self.get(path, **({"scroll_param": scroll_param} if scroll_param else {}))
            if not page.get("data"):
                return items
            items += page["data"]
            scroll_param = page.get("scroll_param")

    def counters(self):
        return requests.get(self.url + "/__emulator/counters", timeout=30).json()

    def reset_counters(self):
        requests.post(self.url + "/__emulator/counters/reset", timeout=30).raise_for_status()


class ReadDb:
    """A connection to the test database plus the emulator's call counters."""

    def __init__(self, pg, dbname, api):
        self.pg, self.dbname, self.api = pg, dbname, api
        self.conn = pg.connect(dbname)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()

    def rows(self, query, params=None):
        return self.conn.execute(query, params).fetchall()

    def calls(self, query, params=None):
        """(rows, {route: calls}) of one query, counted by the emulator."""
        self.api.reset_counters()
        result = self.rows(query, params)
        return result, self.api.counters()["by_route"]

    def explain(self, query, verbose=False):
        return "\n".join(r[0] for r in self.rows(("EXPLAIN VERBOSE " if verbose else "EXPLAIN ") + query))


def create_server(conn, name, url, token, **options):
    """An Intercom server `name` at `url` with the options given, and the current role's user mapping."""
    extra = sql.SQL("").join(sql.SQL(", {} {}").format(sql.Identifier(k), sql.Literal(str(v)))
                             for k, v in options.items())
    conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS "
                         "(wrapper 'intercom_fdw.IntercomFdw', api_url {}{})").format(
        sql.Identifier(name), sql.Literal(url), extra))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})").format(
        sql.Identifier(name), sql.Literal(token)))


def import_tables(conn, name, url, token, tables, **options):
    """Schema `name` holding `tables`, imported from server `name` at `url` (made with `options`)."""
    create_server(conn, name, url, token, **options)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom LIMIT TO ({}) FROM SERVER {} INTO {}").format(
        sql.SQL(", ").join(sql.Identifier(t) for t in tables), sql.Identifier(name), sql.Identifier(name)))


def sequential_and_partitioned(conn, url, token, tables, **options):
    """Schemas `seq` and `part` holding `tables`, each imported from its server of the same name at
    `url` (with `options`): `seq` in the default scan mode, `part` with scan_mode 'partitioned'."""
    for schema, mode in (("seq", {}), ("part", {"scan_mode": "partitioned"})):
        import_tables(conn, schema, url, token, tables, **options, **mode)


def create_servers(conn, url, token):
    for server, extra in (("intercom", ""), ("intercom_plain", ", pushdown 'false'")):
        conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS "
                             "(wrapper 'intercom_fdw.IntercomFdw', api_url {}" + extra + ")").format(
            sql.Identifier(server), sql.Literal(url)))
        conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})").format(
            sql.Identifier(server), sql.Literal(token)))
        schema = server
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom FROM SERVER {} INTO {}").format(
            sql.Identifier(server), sql.Identifier(schema)))


@pytest.fixture(scope="module")
def api(emulator):
    return Api(emulator.url, emulator.token)


@pytest.fixture(scope="module")
def read_db(pg, db, emulator, api):
    with pg.connect(db) as conn:
        create_servers(conn, emulator.url, emulator.token)
    with ReadDb(pg, db, api) as reader:
        yield reader
