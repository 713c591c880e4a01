"""Replication's complete reads go through the partitioned scans: a full run of contacts asks the
search for created_at windows read concurrently (their pages interleave in the emulator's request
log), and ends equal to a full run read sequentially (intercom_fdw.replicate_scan_mode
'sequential': one search per window, paged in order) and to a plain scan of the foreign table (the
list). With a search index delay, the difference from the list is exactly the contacts the search
does not hold yet, and the next incremental run brings them."""
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import (  # noqa: F401  (fixtures)
    differences, intercom, replicate, setup_database, state,
)

pytestmark = pytest.mark.timeout(300)
# More than a partitioned scan reads as one window (20 pages of 150): the FDW splits it.
CONTACTS = 6000


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=53, contacts=CONTACTS, companies=5, conversations=30, tickets=10,
                          articles=3) as server:
        yield server


@pytest.fixture(scope="module")
def partition_db(pg, db, emulator):
    with pg.connect(db) as conn:
        setup_database(conn, emulator.url, emulator.token, limit_to=("contacts", "conversations", "tickets"))
    conn = pg.connect(db)
    try:
        yield conn
    finally:
        conn.close()


def _searches(intercom, path="/contacts/search"):
    """(window, page cursor) of each logged search, in the order the emulator received them; the
    window is the created_at bounds its query holds (None: a search without them)."""
    import requests

    logged = requests.get(intercom.url + "/__emulator/requests", params={"limit": 1000}, timeout=30).json()["requests"]
    found = []
    for entry in logged:
        if entry["method"] != "POST" or entry["path"] != path:
            continue
        body = entry["body"] or {}
        bounds = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("field") == "created_at" and node.get("operator") in (">", "<"):
                    bounds.append((node["operator"], node["value"]))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
        walk(body.get("query"))
        found.append((tuple(sorted(bounds)) or None, (body.get("pagination") or {}).get("starting_after")))
    return found


def _listed(conn, table):
    """listed.<table>: a plain scan of the foreign table, with the replicas' _deleted_at (NULL)."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS listed")
    conn.execute(f"DROP TABLE IF EXISTS listed.{table}")
    conn.execute(f"CREATE TABLE listed.{table} AS SELECT *, NULL::timestamptz AS _deleted_at FROM intercom.{table}")


def test_a_full_run_of_contacts_reads_concurrent_created_at_windows_and_equals_a_sequential_one(
        partition_db, intercom):
    intercom.knobs(latency_ms=20)
    try:
        intercom.reset_counters()
        requests_before = len(_searches(intercom))
        replicate(partition_db, objects=["contacts"], schema="partitioned", mode="full")
        searches = _searches(intercom)[requests_before:]
        partitioned = state(partition_db, "partitioned")["contacts"]
        partition_db.execute("SET intercom_fdw.replicate_scan_mode = 'sequential'")
        try:
            intercom.reset_counters()
            replicate(partition_db, objects=["contacts"], schema="sequential", mode="full")
            sequential_calls = intercom.calls()["by_route"]
        finally:
            partition_db.execute("RESET intercom_fdw.replicate_scan_mode")
    finally:
        intercom.knobs(latency_ms=0)
    # both bounds: the probe for the earliest created_at (a sorted search) has only its lower one
    windows = [w for w, _ in searches if w and len(w) == 2]
    # the FDW split the run's windows (one statement each, and the state's last window marks) into parts
    assert len(set(windows)) > partitioned["windows"] - 1 >= 2, (set(windows), partitioned["windows"])
    # Concurrent: some window's pages are not one contiguous run of the log (another window's
    # page came between two of its pages), which a sequential read of the windows never does.
    runs = [w for i, w in enumerate(windows) if i == 0 or windows[i - 1] != w]
    assert len(runs) > len(set(windows)), runs
    assert partitioned["status"] == "succeeded" and partitioned["rows_inserted"] == CONTACTS
    # the sequential run read the same windows, each one search paged in order
    assert set(sequential_calls) == {"POST /contacts/search"}, sequential_calls
    assert differences(partition_db, "partitioned", "sequential", ["contacts"]) == {}
    # and both hold what the list holds (a plain scan of the foreign table, sequential)
    _listed(partition_db, "contacts")
    assert differences(partition_db, "listed", "partitioned", ["contacts"]) == {}
    # no reader table is left behind, and the user's foreign table is as it was
    assert partition_db.execute("SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid "
                                "WHERE c.relpersistence = 't'").fetchone()[0] == 0
    assert not any(o.startswith("scan_mode=") for o in partition_db.execute(
        "SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'intercom.contacts'::regclass").fetchone()[0])


def test_conversations_and_tickets_full_runs_equal_sequential_ones(partition_db):
    objects = ["conversations", "tickets"]
    partition_db.execute("SET intercom_fdw.replicate_window_rows = 7")  # several windows each
    try:
        replicate(partition_db, objects=objects, schema="partitioned", mode="full")
        partition_db.execute("SET intercom_fdw.replicate_scan_mode = 'sequential'")
        replicate(partition_db, objects=objects, schema="sequential", mode="full")
    finally:
        partition_db.execute("RESET intercom_fdw.replicate_window_rows")
        partition_db.execute("RESET intercom_fdw.replicate_scan_mode")
    report = state(partition_db, "partitioned")
    assert report["conversations"]["windows"] > 2 and report["tickets"]["windows"] > 2, report
    parts = [o for o in report if o not in objects]  # the ticket-type tables
    assert parts
    assert differences(partition_db, "partitioned", "sequential", objects + parts) == {}


def test_with_a_search_index_delay_a_full_run_misses_exactly_the_unindexed_contacts_until_the_next_run(
        partition_db, intercom):
    intercom.knobs(search_index_delay_s=3600)
    try:
        made = [intercom.send("POST", "/contacts", {"email": f"unindexed{i}@example.com"})["id"] for i in range(3)]
        replicate(partition_db, objects=["contacts"], schema="delayed", mode="full")
        _listed(partition_db, "contacts")  # the list has them at once
        missing = {r[0] for r in partition_db.execute(
            "SELECT id FROM listed.contacts EXCEPT SELECT id FROM delayed.contacts").fetchall()}
        assert missing == set(made)
        assert differences(partition_db, "listed", "delayed", ["contacts"], outside={"contacts": ("id", made)}) == {}
    finally:
        intercom.knobs(search_index_delay_s=0)  # the pending contacts reach the search at once
    # the full run's cursor stays the search lag below its start: the next run reads them
    replicate(partition_db, objects=["contacts"], schema="delayed")
    assert differences(partition_db, "listed", "delayed", ["contacts"]) == {}
