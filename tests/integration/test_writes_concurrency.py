"""Multi-row INSERTs: at most `concurrency` requests in flight, and under a binding rate limit the
import still completes with each row written once. A recording proxy between the FDW and the
emulator sees every request's start and end."""
import time

import pytest
from psycopg import sql

from tests.integration.read_fixtures import Api
from tests.integration.recording_proxy import RecordingProxy
from tests.integration.write_fixtures import start_write_emulator
from tests.emulator_fixtures import set_knobs

pytestmark = pytest.mark.timeout(120)
CONCURRENCY = 3


@pytest.fixture(scope="module")
def emulator_behind_proxy():
    with start_write_emulator() as server, RecordingProxy(server.url) as proxy:
        yield server, proxy


@pytest.fixture(scope="module")
def bulk_db(pg, db, emulator_behind_proxy):
    server, proxy = emulator_behind_proxy
    with pg.connect(db) as conn:
        conn.execute(sql.SQL("CREATE SERVER bulk FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper "
                             "'intercom_fdw.IntercomFdw', api_url {}, concurrency {}, modify_batch_size '1000')")
                     .format(sql.Literal(proxy.url), sql.Literal(str(CONCURRENCY))))
        conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER bulk OPTIONS (access_token {})").format(
            sql.Literal(server.token)))
        conn.execute("CREATE FOREIGN TABLE public.contacts (id text, email text, name text) SERVER bulk "
                     "OPTIONS (object 'contacts')")
    return db


def knobs(server, **values):
    set_knobs(server.url, **values)


def emails_in_intercom(server, prefix):
    return sorted(c["email"] for c in Api(server.url, server.token).all("/contacts")
                  if (c.get("email") or "").startswith(prefix))


def insert(pg, db, prefix, rows):
    with pg.connect(db) as conn:  # a new backend: a client of its own, no rate-limit state carried over
        conn.execute("INSERT INTO public.contacts (email, name) SELECT %s || g || '@example.com', 'Bulk ' || g "
                     "FROM generate_series(1, %s) g", (prefix, rows))


def contact_posts(proxy):
    return [e for e in proxy.exchanges if e.method == "POST" and e.path == "/contacts"]


def test_a_bulk_insert_keeps_at_most_concurrency_requests_in_flight(pg, bulk_db, emulator_behind_proxy):
    server, proxy = emulator_behind_proxy
    knobs(server, latency_ms=150, rate_limit_per_10s=100_000)
    try:
        proxy.clear()
        insert(pg, bulk_db, "inflight", 24)
    finally:
        knobs(server, latency_ms=0)
    posts = contact_posts(proxy)
    assert len(posts) == 24 and all(e.status == 200 for e in posts)
    # the pool is used (several at once) and never wider than the server's concurrency option
    assert proxy.max_in_flight == CONCURRENCY
    assert max(overlapping(posts, e) for e in posts) == CONCURRENCY
    assert emails_in_intercom(server, "inflight") == sorted(f"inflight{i}@example.com" for i in range(1, 25))


def overlapping(exchanges, one) -> int:
    """How many of `exchanges` were in flight at the moment `one` started (itself included)."""
    return sum(1 for e in exchanges if e.started <= one.started < e.ended)


def spend_the_slice(server, limit, seconds_left):
    """Use up the token's 10-second slice when about `seconds_left` of it remain, so that calls are
    refused with 429 for that long; returns the UNIX time at which the slice turns over."""
    session = Api(server.url, server.token).session
    reset = int(session.get(server.url + "/me", timeout=30).headers["X-RateLimit-Reset"])
    if reset - time.time() < seconds_left:
        reset += 10
    time.sleep(max(reset - time.time() - seconds_left, 0))
    for _ in range(limit + 1):
        answer = session.get(server.url + "/me", timeout=30)
        if answer.status_code == 429:
            assert int(answer.headers["X-RateLimit-Reset"]) == reset
            return reset
    raise AssertionError("the rate limit never refused a call")


def test_a_bulk_insert_under_a_binding_rate_limit_completes_once_per_row(pg, bulk_db, emulator_behind_proxy):
    server, proxy = emulator_behind_proxy
    # fewer rows than the client's throttle low-water mark (a fifth of the limit), so that once the slice
    # turns over the rows go at once and the test waits one slice at most
    rows, limit = 30, 100
    knobs(server, rate_limit_per_10s=limit)
    try:
        spend_the_slice(server, limit, seconds_left=4)  # time for the INSERT to start in the spent slice, loaded or not
        proxy.clear()
        insert(pg, bulk_db, "limited", rows)
    finally:
        knobs(server, rate_limit_per_10s=100_000)
    posts = contact_posts(proxy)
    assert any(e.status == 429 for e in posts)  # the limit did bind...
    assert all(e.status in (200, 429) for e in posts)
    assert sum(e.status == 200 for e in posts) == rows  # ...and each row was written once, after waiting
    assert proxy.max_in_flight <= CONCURRENCY
    assert emails_in_intercom(server, "limited") == sorted(f"limited{i}@example.com" for i in range(1, rows + 1))
