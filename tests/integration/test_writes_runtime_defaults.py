"""What INSERT does with the default options on each runtime (INTERCOM_FDW_RUNTIME): RETURNING gives
every created row on both; bulk inserts run `concurrency` requests at a time by default on the bundled
runtime, and on multicorn2 (whose batches drop RETURNING rows) only with modify_batch_size set."""
import pytest
import requests

from intercom_fdw.tools import throwaway_pg
from tests.integration.read_fixtures import create_server
from tests.integration.recording_proxy import RecordingProxy
from tests.integration.write_fixtures import start_write_emulator

pytestmark = pytest.mark.timeout(120)
CONCURRENCY = 4
ROWS = 200


@pytest.fixture(scope="module")
def behind_proxy():
    with start_write_emulator() as server, RecordingProxy(server.url) as proxy:
        requests.patch(server.url + "/__emulator/config", json={"latency_ms": 20}, timeout=30).raise_for_status()
        yield server, proxy


@pytest.fixture(scope="module")
def conn(pg, db, behind_proxy):
    server, proxy = behind_proxy
    with pg.connect(db) as connection:
        create_server(connection, "plain", proxy.url, server.token, concurrency=CONCURRENCY)
        for table, options in (("contacts", ""), ("batched_contacts", ", modify_batch_size '50'")):
            connection.execute(f"CREATE FOREIGN TABLE {table} (id text, email text, name text) SERVER plain "
                               f"OPTIONS (object 'contacts'{options})")
        yield connection


def created(proxy):
    return [e for e in proxy.exchanges if e.method == "POST" and e.path == "/contacts"]


def test_insert_returning_gives_every_created_row_with_the_default_options(conn, behind_proxy):
    ids = conn.execute("INSERT INTO contacts (email) VALUES ('a@x.io'), ('b@x.io') RETURNING id").fetchall()
    assert len(ids) == 2 and all(i[0] for i in ids) and len(set(ids)) == 2
    ids = conn.execute("INSERT INTO contacts (email) SELECT 'sel' || g || '@x.io' FROM generate_series(1, 20) g "
                       "RETURNING id, email").fetchall()
    assert sorted(e for _, e in ids) == sorted(f"sel{g}@x.io" for g in range(1, 21)) and all(i for i, _ in ids)


def in_flight_of_an_insert(conn, proxy, table, prefix):
    proxy.max_in_flight = 0
    before = len(created(proxy))
    conn.execute(f"INSERT INTO {table} (email) SELECT '{prefix}' || g || '@x.io' FROM generate_series(1, {ROWS}) g")
    assert len(created(proxy)) - before == ROWS
    return proxy.max_in_flight


def test_a_bulk_insert_runs_concurrently_where_the_runtime_allows_it_by_default(conn, behind_proxy):
    _, proxy = behind_proxy
    default = in_flight_of_an_insert(conn, proxy, "contacts", "default")
    if throwaway_pg.runtime() == "bundled":
        assert default == CONCURRENCY
    else:  # multicorn2 3.2 would drop RETURNING rows of a batch: row by row unless asked (README)
        assert default == 1
    assert in_flight_of_an_insert(conn, proxy, "batched_contacts", "batched") == CONCURRENCY


def test_on_multicorn2_returning_of_a_batched_table_is_empty_as_documented(conn):
    rows = conn.execute("INSERT INTO batched_contacts (email) VALUES ('c@x.io'), ('d@x.io') RETURNING id").fetchall()
    expected = 2 if throwaway_pg.runtime() == "bundled" else 0
    assert len(rows) == expected
