"""Per-row requests (extended fields such as article statistics, and a child table read per parent row
such as conversation parts) run `read_concurrency` at a time, each row leaving as its request completes.

Latency is jittered so that requests complete out of order: every row still gets its own details,
a scan whose ORDER BY the API gives keeps that order, and a LIMIT stops the requests (at most
`read_concurrency` more than the rows taken).
"""
import pytest
import requests

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import Api, ReadDb, import_tables

pytestmark = pytest.mark.timeout(120)
ARTICLES, CONVERSATIONS, CONCURRENCY = 60, 90, 8


@pytest.fixture(scope="module")
def workspace():
    config = EmulatorConfig(seed=21, token="tok-per-row-4e7a", contacts=200, companies=10,
                            conversations=CONVERSATIONS, tickets=5, articles=ARTICLES,
                            knobs={"latency_ms": 25, "latency_jitter_ms": 24})
    with start_in_thread(config, port=0) as server:
        yield server


@pytest.fixture(scope="module")
def per_row_db(pg, db, workspace):
    with pg.connect(db) as conn:
        import_tables(conn, "per_row", workspace.url, workspace.token, ("articles", "conversation_parts"),
                      read_concurrency=CONCURRENCY)
    with ReadDb(pg, db, Api(workspace.url, workspace.token)) as reader:
        yield reader


def test_every_row_gets_its_own_details_when_requests_complete_out_of_order(per_row_db):
    api = per_row_db.api
    expected = {a["id"]: api.get(f"/articles/{a['id']}")["statistics"]["views"] for a in api.all("/articles")}
    assert len(expected) == ARTICLES
    got, calls = per_row_db.calls("SELECT id, statistics_views FROM per_row.articles")
    assert dict(got) == expected and len(got) == ARTICLES
    assert calls["GET /articles/{id}"] == ARTICLES


def test_a_scan_in_the_api_s_order_keeps_it(per_row_db):
    api = per_row_db.api
    listed = [a["id"] for a in api.all("/articles")]  # most recently updated first, as the file documents
    got = per_row_db.rows("SELECT id, statistics_views FROM per_row.articles ORDER BY updated_at DESC")
    plan = per_row_db.explain("SELECT id, statistics_views FROM per_row.articles ORDER BY updated_at DESC")
    assert "Sort" not in plan  # PostgreSQL relies on the order the scan gives
    assert [r[0] for r in got] == listed


def test_a_limit_stops_the_per_row_requests(per_row_db):
    got, calls = per_row_db.calls("SELECT id, statistics_views FROM per_row.articles LIMIT 3")
    assert len(got) == 3
    assert 3 <= calls["GET /articles/{id}"] <= 3 + CONCURRENCY


def test_conversation_parts_of_every_conversation(per_row_db):
    api = per_row_db.api
    conversations = [c["id"] for c in api.all("/conversations", "conversations")]
    assert len(conversations) == CONVERSATIONS
    expected = {(c, p["id"]) for c in conversations
                for p in api.get(f"/conversations/{c}")["conversation_parts"]["conversation_parts"]}
    got, calls = per_row_db.calls("SELECT conversation_id, id FROM per_row.conversation_parts")
    assert len(got) == len(set(got)) and set(got) == expected
    assert calls["GET /conversations/{id}"] == CONVERSATIONS
    requests.patch(api.url + "/__emulator/config", json={"latency_jitter_ms": 0}, timeout=30).raise_for_status()
