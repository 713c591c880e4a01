"""Intercom's page-numbered companies lists stop at 10,000 companies, whatever their total_count.

- ORDER BY last_request_at reads the sorted list (POST /companies/list): without a LIMIT it used to
  return its first 10,000 rows, in order and without an error, of a workspace listing 11,375. Now the
  read fails at that end, saying how many are missing and how to read them all (a server with
  pushdown 'false' scrolls and PostgreSQL sorts); a LIMIT within 10,000 still reads one sorted page.
- WHERE tag_id = 'x' reads GET /companies?tag_id=x: for a tag on 10,500 companies it returned 10,000
  rows, without an error. Now the read fails at that end, saying how many are missing and how to read
  them all (a server with pushdown 'false', which scrolls); a LIMIT that stops sooner still works.
"""
import psycopg
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.read_fixtures import Api, import_tables

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def big(pg, db):
    # 13,000 companies of which about 11,400 have contacts (the lists leave the others out)
    with running_emulator(seed=5, contacts=80000, companies=13000, conversations=0, tickets=0, articles=0) as server:
        api = Api(server.url, server.token)
        companies = api.scroll_all("/companies/scroll")
        tagged = api.post("/tags", {"name": "many", "companies": [{"id": c["id"]} for c in companies[:10_500]]})
        api.tag_id = tagged["id"]
        with pg.connect(db) as conn:
            import_tables(conn, "intercom", server.url, server.token, ["companies"])
            import_tables(conn, "plain", server.url, server.token, ["companies"], pushdown="false")
            yield conn, api


def test_order_by_last_request_at_without_a_limit_fails_at_the_end_of_the_list(big):
    conn, api = big
    listed = conn.execute("SELECT count(*) FROM intercom.companies").fetchone()[0]
    assert listed > 10_000
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT id FROM intercom.companies ORDER BY last_request_at DESC").fetchall()
    assert caught.value.diag.message_primary == (
        f"POST /companies/list?order=desc matches {listed} objects, but Intercom's list returns at most 10000: "
        f"the other {listed - 10_000} would be missing"), caught.value.diag.message_primary
    assert "pushdown 'false'" in caught.value.diag.message_hint
    rows = conn.execute("SELECT id, last_request_at FROM plain.companies ORDER BY last_request_at DESC").fetchall()
    assert len(rows) == listed  # as the HINT says


def test_a_limit_within_the_sorted_list_still_reads_one_page(big):
    conn, api = big
    api.reset_counters()
    rows = conn.execute("SELECT id FROM intercom.companies ORDER BY last_request_at LIMIT 5").fetchall()
    assert len(rows) == 5 and api.counters()["by_route"] == {"POST /companies/list": 1}


def test_a_filtered_list_that_meets_its_reach_fails_instead_of_dropping_rows(big):
    conn, api = big
    query = f"SELECT id FROM {{schema}}.companies WHERE tag_id = '{api.tag_id}'"
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(query.format(schema="intercom")).fetchall()
    diag = caught.value.diag
    assert diag.message_primary == (f"GET /companies?tag_id={api.tag_id} matches 10500 objects, but Intercom's list "
                                    "returns at most 10000: the other 500 would be missing"), diag.message_primary
    assert "pushdown 'false'" in diag.message_hint
    assert len(conn.execute(query.format(schema="plain")).fetchall()) == 10_500  # as the HINT says
    assert len(conn.execute(query.format(schema="intercom") + " LIMIT 3").fetchall()) == 3
