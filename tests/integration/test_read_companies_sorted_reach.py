"""ORDER BY last_request_at on companies reads Intercom's sorted list (POST /companies/list), which,
like every page-numbered companies list, stops at 10,000 companies. Without a LIMIT within them the
query used to read that list all the same and return its first 10,000 rows, in order and without an
error, of a workspace listing 11,375: now it scrolls every company and sorts them (a LIMIT within
10,000 still reads one sorted page)."""
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.read_fixtures import Api, import_tables

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def big(pg, db):
    # 13,000 companies of which about 11,400 have contacts (the lists leave the others out)
    with running_emulator(seed=5, contacts=80000, companies=13000, conversations=0, tickets=0, articles=0) as server:
        with pg.connect(db) as conn:
            import_tables(conn, "intercom", server.url, server.token, ["companies"])
            yield conn, Api(server.url, server.token)


def test_order_by_last_request_at_without_a_limit_returns_every_company(big):
    conn, api = big
    listed = conn.execute("SELECT count(*) FROM intercom.companies").fetchone()[0]
    assert listed > 10_000
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT id FROM intercom.companies ORDER BY last_request_at DESC"))
    assert "Sorted locally by last_request_at DESC" in plan, plan
    rows = conn.execute("SELECT id, last_request_at FROM intercom.companies ORDER BY last_request_at DESC").fetchall()
    assert len(rows) == listed
    times = [t for _, t in rows]
    assert times == sorted(times, key=lambda t: (t is not None, t), reverse=True)  # NULLS FIRST descending


def test_a_limit_within_the_sorted_list_still_reads_one_page(big):
    conn, api = big
    api.reset_counters()
    rows = conn.execute("SELECT id FROM intercom.companies ORDER BY last_request_at LIMIT 5").fetchall()
    assert len(rows) == 5 and api.counters()["by_route"] == {"POST /companies/list": 1}
