"""Two backends scanning companies at the same time, slow enough that the statements really overlap:
both succeed, and their scrolls run one after the other (the workspace's scroll lock) instead of
colliding with Intercom's "scroll already exists". A recording proxy sees every scroll call."""
import threading
import time

import pytest
import requests
from psycopg import sql

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import Api
from tests.integration.recording_proxy import RecordingProxy

pytestmark = pytest.mark.timeout(120)
LATENCY_S = 0.4


@pytest.fixture(scope="module")
def slow_companies():
    config = EmulatorConfig(seed=21, token="tok-scroll-4b7e19", contacts=60, companies=12, conversations=4,
                            tickets=3, articles=3)
    with start_in_thread(config, port=0) as server, RecordingProxy(server.url) as proxy:
        yield server, proxy


@pytest.fixture(scope="module")
def scroll_db(pg, db, slow_companies):
    server, proxy = slow_companies
    with pg.connect(db) as conn:
        conn.execute(sql.SQL("CREATE SERVER slow FOREIGN DATA WRAPPER multicorn OPTIONS "
                             "(wrapper 'intercom_fdw.IntercomFdw', api_url {})").format(sql.Literal(proxy.url)))
        conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER slow OPTIONS (access_token {})").format(
            sql.Literal(server.token)))
        conn.execute("CREATE FOREIGN TABLE public.companies (id text, name text) SERVER slow "
                     "OPTIONS (object 'companies')")
        conn.execute("CREATE FOREIGN TABLE public.company_segments (company_id text, id text) SERVER slow "
                     "OPTIONS (object 'company_segments')")
    requests.patch(server.url + "/__emulator/config", json={"latency_ms": LATENCY_S * 1000},
                   timeout=30).raise_for_status()
    return db


def run_at_once(pg, dbname, queries):
    """Each query in its own backend, started together: [(rows or error, started, ended)]."""
    outcomes = [None] * len(queries)
    barrier = threading.Barrier(len(queries))

    def scan(i, query):
        with pg.connect(dbname) as conn:
            barrier.wait()
            started = time.monotonic()
            try:
                result = sorted(conn.execute(query).fetchall())
            except Exception as error:  # reported by the assertions below
                result = error
            outcomes[i] = (result, started, time.monotonic())

    threads = [threading.Thread(target=scan, args=(i, q)) for i, q in enumerate(queries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    return outcomes


def scroll_runs(exchanges):
    """The scroll calls grouped into scrolls: each starts without scroll_param and ends with an empty page."""
    runs, current = [], None
    for exchange in sorted((e for e in exchanges if e.path == "/companies/scroll"), key=lambda e: e.started):
        if current is None:
            current = []
            runs.append(current)
        current.append(exchange)
        if b'"data":[]' in exchange.body.replace(b" ", b""):
            current = None
    return runs


@pytest.mark.parametrize("other", ["SELECT id FROM public.companies",
                                   "SELECT company_id, id FROM public.company_segments"])
def test_overlapping_scans_of_companies_wait_for_each_other(pg, scroll_db, slow_companies, other):
    server, proxy = slow_companies
    expected_ids = sorted((c["id"],) for c in Api(server.url, server.token).scroll_all("/companies/scroll"))
    proxy.clear()
    (first, first_start, first_end), (second, second_start, second_end) = run_at_once(
        pg, scroll_db, ["SELECT id FROM public.companies", other])
    assert first == expected_ids
    assert not isinstance(second, Exception), second
    # the statements overlapped in time...
    assert second_start < first_end and first_start < second_end
    scrolls = [e for e in proxy.exchanges if e.path == "/companies/scroll"]
    # ...yet no scroll call was refused ("scroll already exists") and none was retried
    assert [e.status for e in scrolls if e.status != 200] == []
    runs = scroll_runs(proxy.exchanges)
    assert len(runs) == 2 and all(len(run) >= 2 for run in runs)
    # one scroll after the other: the second opens only once the first has closed
    assert runs[1][0].started >= runs[0][-1].ended
