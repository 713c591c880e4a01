"""Reading a page ahead, through PostgreSQL: a full scan makes exactly one call per page, a LIMIT
that PostgreSQL applies itself within the first page makes one call, and a scan canceled while a
page is in flight leaves no thread behind in the backend, which stays usable."""
import math
import os
import time

import psycopg
import pytest

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import Api, ReadDb, create_servers
from tests.integration.test_cancel import assert_canceled
from tests.emulator_fixtures import set_knobs

CONTACTS = 1000  # 7 pages of 150


@pytest.fixture(scope="module")
def emulator():
    with start_in_thread(EmulatorConfig(seed=7, token="ahead-token", contacts=CONTACTS, companies=10,
                                        conversations=5, tickets=5, articles=2), port=0) as server:
        yield server


@pytest.fixture(scope="module")
def reader(pg, db, emulator):
    with pg.connect(db) as conn:
        create_servers(conn, emulator.url, emulator.token)
    reader = ReadDb(pg, db, Api(emulator.url, emulator.token))
    try:
        yield reader
    finally:
        reader.conn.close()


def set_latency(emulator, ms):
    set_knobs(emulator.url, latency_ms=ms)


def backend_threads(reader):
    """The backend's threads once those ending by themselves are gone (a request's own thread exits
    just after its answer): the fewest seen within a second."""
    pid = reader.rows("SELECT pg_backend_pid()")[0][0]
    seen = []
    for _ in range(20):
        seen.append(len(os.listdir(f"/proc/{pid}/task")))
        if seen[-1] == 1:
            break
        time.sleep(0.05)
    return min(seen)


def test_a_full_scan_makes_one_call_per_page(reader):
    rows, calls = reader.calls("SELECT count(c) FROM intercom.contacts c")
    assert rows == [(CONTACTS,)]
    assert calls == {"GET /contacts": math.ceil(CONTACTS / 150)}


def test_a_limit_postgresql_applies_makes_no_call_ahead_within_the_first_page(reader):
    # length(id) > 0 is not pushed down, so PostgreSQL applies the LIMIT and simply stops pulling
    rows, calls = reader.calls("SELECT id FROM intercom.contacts WHERE length(id) > 0 LIMIT 150")
    assert len(rows) == 150 and calls == {"GET /contacts": 1}
    # stopping in the second page: that page, plus at most the one read ahead
    rows, calls = reader.calls("SELECT id FROM intercom.contacts WHERE length(id) > 0 LIMIT 160")
    assert len(rows) == 160 and calls["GET /contacts"] in (2, 3)


def test_a_scan_canceled_with_a_page_in_flight_leaves_no_thread(reader, emulator):
    reader.rows("SELECT id FROM intercom.contacts LIMIT 1")  # Python and the client are loaded
    threads = backend_threads(reader)
    set_latency(emulator, 150)
    try:
        reader.conn.execute("SET statement_timeout = '500ms'")
        with pytest.raises(psycopg.Error) as caught:
            reader.rows("SELECT count(c) FROM intercom.contacts c")  # about 1.1 s of pages
        assert_canceled(caught.value, "statement timeout")
        reader.conn.execute("RESET statement_timeout")
    finally:
        set_latency(emulator, 0)
    assert backend_threads(reader) == threads
    assert reader.rows("SELECT count(*) FROM intercom.contacts") == [(CONTACTS,)]
    assert backend_threads(reader) == threads
