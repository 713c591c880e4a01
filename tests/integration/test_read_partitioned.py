"""Partitioned scans (scan_mode 'partitioned') against sequential ones, through PostgreSQL.

The same workspace is imported twice: schema `seq` (the default scan_mode, sequential) and schema
`part` (scan_mode 'partitioned'). Each query must return exactly the same rows from both, no row
twice, also with 5xx answers and cut connections; with the search index lagging, the difference is
exactly the contacts not yet indexed, and EXPLAIN says that partitioned reads may miss them.
The workspace is large enough that contacts, conversations and tickets are split into windows.
"""
import threading
import time

import psycopg
import pytest
import requests

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import Api, import_tables, sequential_and_partitioned
from tests.integration.recording_proxy import RecordingProxy

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def workspace():
    config = EmulatorConfig(seed=13, token="tok-partition-5d21", contacts=4000, companies=20, conversations=3200,
                            tickets=3200, articles=2)
    with start_in_thread(config, port=0) as server:
        yield server


@pytest.fixture(scope="module")
def part_db(pg, db, workspace):
    with pg.connect(db) as conn:
        sequential_and_partitioned(conn, workspace.url, workspace.token,
                                   ("contacts", "conversations", "tickets", "bug_report_tickets"))
    conn = pg.connect(db)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def api(workspace):
    return Api(workspace.url, workspace.token)


def knobs(workspace, **values):
    requests.patch(workspace.url + "/__emulator/config", json=values, timeout=30).raise_for_status()


def rows(conn, query, schema):
    return conn.execute(query.format(s=schema)).fetchall()


QUERIES = [
    "SELECT id, email, created_at, role FROM {s}.contacts",
    "SELECT id, created_at FROM {s}.contacts WHERE role = 'lead'",
    "SELECT id FROM {s}.contacts WHERE created_at >= now() - interval '300 days' AND created_at < now() - interval '20 days'",
    "SELECT id, state, created_at FROM {s}.conversations",
    "SELECT id FROM {s}.conversations WHERE state = 'open'",
    "SELECT id, ticket_type_id, created_at FROM {s}.tickets",
    "SELECT id FROM {s}.tickets WHERE open",
    "SELECT id, title FROM {s}.bug_report_tickets",
    "SELECT id FROM {s}.bug_report_tickets WHERE created_at > now() - interval '100 days'",
]


@pytest.mark.parametrize("query", QUERIES)
def test_partitioned_returns_the_rows_of_sequential(part_db, api, query):
    sequential = rows(part_db, query, "seq")
    api.reset_counters()
    partitioned = rows(part_db, query, "part")
    by_route = api.counters()["by_route"]
    assert len(partitioned) == len(set(partitioned)), "a row came twice"
    assert sorted(partitioned) == sorted(sequential)
    assert sequential, "the query should find rows"
    table = query.split(" FROM {s}.")[1].split()[0]
    endpoint = "tickets" if table.endswith("tickets") else table
    assert by_route.get(f"POST /{endpoint}/search", 0) >= 1
    assert not by_route.get(f"GET /{endpoint}")  # no list call


def test_full_scans_are_split_into_windows(part_db, api):
    for table, endpoint, count in (("contacts", "contacts", 4000), ("conversations", "conversations", 3200),
                                   ("tickets", "tickets", 3200)):
        api.reset_counters()
        assert part_db.execute(f"SELECT count(*) FROM part.{table}").fetchone()[0] == count
        searches = api.counters()["by_route"][f"POST /{endpoint}/search"]
        pages = -(-count // 150)
        assert searches > pages  # the first page of the whole span, then the windows' own pages
        assert searches < pages * 2  # margins and split probes cost little


def test_explain_shows_the_partitioning_and_warns_of_the_lag(part_db):
    plan = "\n".join(r[0] for r in part_db.execute("EXPLAIN SELECT id FROM part.contacts"))
    assert "partitioned search (created_at windows, read concurrently)" in plan
    assert "up to 32 read concurrently (option read_concurrency)" in plan and "split" in plan
    assert "objects created in the last minutes may be missing" in plan
    assert "Expected API calls: about" in plan
    assert "can take minutes to appear in search results" not in plan, "the lag is said once, by the partitioned note"
    sequential = "\n".join(r[0] for r in part_db.execute("EXPLAIN SELECT id FROM seq.contacts"))
    assert "full scan" in sequential and "partitioned" not in sequential
    assert "Request: GET /contacts " in sequential
    assert "search results" not in sequential, "GET /contacts is a list: the search's lag does not concern it"


def test_read_concurrency_bounds_the_windows_in_flight_apart_from_concurrency(pg, db, workspace):
    # The server's `concurrency` (bulk writes) is 2 and leaves the windows alone; the table option
    # read_concurrency narrows them. A proxy counts the calls in flight; 400 ms a call overlaps them
    # (at 150 ms, a machine loaded by another suite started them too slowly to hold 9 at once).
    with RecordingProxy(workspace.url) as proxy, pg.connect(db) as conn:
        import_tables(conn, "narrow", proxy.url, workspace.token, ("contacts",), scan_mode="partitioned",
                      concurrency=2)
        conn.execute("CREATE FOREIGN TABLE narrow.contacts_3 (id text) SERVER narrow "
                     "OPTIONS (object 'contacts', read_concurrency '3')")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT id FROM narrow.contacts_3"))
        assert "up to 3 read concurrently (option read_concurrency)" in plan
        knobs(workspace, latency_ms=400)
        try:
            widths = {}
            for table in ("contacts", "contacts_3"):
                proxy.clear()
                assert conn.execute(f"SELECT count(id) FROM narrow.{table}").fetchone()[0] == 4000
                widths[table] = proxy.max_in_flight
        finally:
            knobs(workspace, latency_ms=0)
    # 4,000 contacts make 14 windows (two pages each), all in flight at the default 32
    assert 8 < widths["contacts"] <= 32 and widths["contacts_3"] == 3, widths


@pytest.mark.parametrize("table", ["contacts", "conversations", "bug_report_tickets"])
def test_faults_do_not_change_the_rows(part_db, workspace, table):
    expected = sorted(rows(part_db, f"SELECT id FROM {{s}}.{table}", "seq"))
    knobs(workspace, fault_rate=0.08, drop_rate=0.04)
    try:
        got = rows(part_db, f"SELECT id FROM {{s}}.{table}", "part")
    finally:
        knobs(workspace, fault_rate=0, drop_rate=0)
    assert sorted(got) == expected


def test_a_limit_or_an_order_reads_one_sequential_search(part_db, api):
    api.reset_counters()
    got = part_db.execute("SELECT id FROM part.contacts ORDER BY created_at DESC LIMIT 5").fetchall()
    assert len(got) == 5
    assert api.counters()["by_route"] == {"POST /contacts/search": 1}
    plan = "\n".join(r[0] for r in part_db.execute("EXPLAIN SELECT id FROM part.contacts ORDER BY created_at LIMIT 5"))
    assert "partitioned" not in plan


def test_not_yet_indexed_contacts_are_exactly_the_difference(part_db, api, workspace):
    knobs(workspace, search_index_delay_s=600)
    try:
        created = {api.post("/contacts", {"email": f"lagging-{i}@partition.example"})["id"] for i in range(3)}
        sequential = {r[0] for r in rows(part_db, "SELECT id FROM {s}.contacts", "seq")}
        partitioned = {r[0] for r in rows(part_db, "SELECT id FROM {s}.contacts", "part")}
        assert created <= sequential
        assert sequential - partitioned == created
        assert partitioned <= sequential
    finally:
        knobs(workspace, search_index_delay_s=0)  # 0: every pending contact is indexed at once
    assert created <= {r[0] for r in rows(part_db, "SELECT id FROM {s}.contacts", "part")}


def test_a_partitioned_scan_ends_at_once_on_a_statement_timeout_and_leaves_no_thread(part_db, workspace):
    from tests.integration.test_cancel import assert_canceled, backend_threads  # noqa: PLC0415

    pid = part_db.execute("SELECT pg_backend_pid()").fetchone()[0]
    part_db.execute("SELECT count(*) FROM part.contacts WHERE created_at > now()")  # loaded, no window read
    knobs(workspace, latency_ms=400)
    try:
        part_db.execute("SET statement_timeout = '1s'")
        started = time.monotonic()
        with pytest.raises(psycopg.Error) as caught:
            part_db.execute("SELECT count(*) FROM part.contacts").fetchall()  # windows in flight
        elapsed = time.monotonic() - started
        part_db.execute("RESET statement_timeout")
    finally:
        knobs(workspace, latency_ms=0)
    assert_canceled(caught.value, "statement timeout")
    assert elapsed < 1.6, elapsed  # the timeout, plus at most ~0.6 s to end every window's request
    deadline = time.monotonic() + 2
    while backend_threads(pid) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend_threads(pid) == 1


def test_objects_created_and_updated_during_a_scan_never_come_twice_and_none_indexed_is_missed(
        pg, db, part_db, api, workspace):
    # Windows are read while contacts are created (indexed at once: no search lag) and existing ones
    # updated, each write changing what every window's search returns. Every contact that existed
    # before the scan comes exactly once; a new one at most once (a window read before it was created
    # cannot have it, as a sequential list read past its place could not).
    before = {r[0] for r in rows(part_db, "SELECT id FROM {s}.contacts", "seq")}
    updated = sorted(before)[::400]
    outcome = {}

    def scan():
        with pg.connect(db) as conn:
            outcome["rows"] = [r[0] for r in conn.execute("SELECT id FROM part.contacts").fetchall()]

    knobs(workspace, latency_ms=60)
    try:
        thread = threading.Thread(target=scan)
        thread.start()
        created, i = set(), 0
        while thread.is_alive() and i < 40:
            created.add(api.post("/contacts", {"email": f"during-{i}@partition.example"})["id"])
            if i < len(updated):
                api.session.put(f"{api.url}/contacts/{updated[i]}", json={"name": f"Renamed during the scan {i}"},
                                timeout=30).raise_for_status()
            i += 1
        thread.join(60)
    finally:
        knobs(workspace, latency_ms=0)
    got = outcome["rows"]
    assert created and len(created) == i, "the scan ended before any contact was created"
    assert len(got) == len(set(got)), "a row came twice"
    assert before <= set(got)
    assert set(got) - before <= created
    after = {r[0] for r in rows(part_db, "SELECT id FROM {s}.contacts", "part")}
    assert after == before | created  # once indexed and done, every one of them
