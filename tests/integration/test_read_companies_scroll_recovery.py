"""A companies scroll whose opening answer was lost costs no wait: the resend finds the scroll open
(Intercom has no call to close it or recover its scroll_param), and the scan reads the plain list,
which is exact below its 10,000 reach. Then a scan while that orphaned scroll is still open."""
import time

import pytest

from tests.emulator_fixtures import running_emulator, set_knobs
from tests.integration.read_fixtures import Api, create_server

pytestmark = pytest.mark.timeout(60)
TOKEN = "scroll-recovery-token"


@pytest.fixture(scope="module")
def server():
    with running_emulator(seed=8, token=TOKEN, contacts=160, companies=70, conversations=4, tickets=3,
                          articles=2, knobs={}) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def scroll_db(pg, db, server):
    with pg.connect(db) as conn:
        create_server(conn, "recovery", server.url, TOKEN)
        conn.execute("CREATE FOREIGN TABLE companies (id text, name text) SERVER recovery "
                     "OPTIONS (object 'companies')")
    return db


def knobs(server, **values):
    set_knobs(server.url, **values)


def listed_ids(server, token=TOKEN):
    api = Api(server.url, token)
    first = api.get("/companies", per_page=60)
    ids = [c["id"] for c in first["data"]]
    for page in range(2, first["pages"]["total_pages"] + 1):
        ids += [c["id"] for c in api.get("/companies", per_page=60, page=page)["data"]]
    return sorted(ids)


def test_a_lost_scroll_answer_falls_back_to_the_list(pg, scroll_db, server):
    expected = listed_ids(server)
    assert len(expected) > 50  # more than one scroll page
    api = Api(server.url, TOKEN)
    api.reset_counters()
    knobs(server, drop_rate=1.0, drop_route="GET /companies/scroll")
    try:
        with pg.connect(scroll_db) as conn:
            started = time.monotonic()
            got = sorted(r[0] for r in conn.execute("SELECT id FROM companies").fetchall())
            elapsed = time.monotonic() - started
    finally:
        knobs(server, drop_rate=0.0, drop_route="")
    assert got == expected
    assert elapsed < 3, f"{elapsed:.1f} s"
    calls = api.counters()["by_route"]
    assert calls["GET /companies/scroll"] == 2  # the open whose answer was lost, the resend: scroll_exists
    assert calls["GET /companies"] == -(-len(expected) // 60)  # pages of 60
    # the orphaned scroll is still open (a minute): the next scan does not wait for it either
    with pg.connect(scroll_db) as conn:
        started = time.monotonic()
        assert conn.execute("SELECT count(*) FROM companies").fetchone()[0] == len(expected)
        assert time.monotonic() - started < 2


def test_a_scan_of_companies_while_a_cursor_of_the_session_scrolls_them_reads_the_list(pg, db):
    # DBeaver, psycopg's named cursors and psql's FETCH_COUNT keep a cursor open while the session
    # runs other queries: a scan of companies then failed at once, "this query already has a scan of
    # companies open", though the list reaches all of them.
    token = "cursor-scroll-token"
    with running_emulator(seed=9, token=token, contacts=160, companies=70, conversations=4, tickets=3,
                          articles=2, knobs={}) as emulator, pg.connect(db) as conn:
        create_server(conn, "cursor_scroll", emulator.url, token)
        conn.execute("CREATE FOREIGN TABLE cursor_companies (id text, name text) SERVER cursor_scroll "
                     "OPTIONS (object 'companies')")
        expected = listed_ids(emulator, token)
        api = Api(emulator.url, token)
        api.reset_counters()
        with conn.transaction():
            conn.execute("DECLARE c CURSOR FOR SELECT id FROM cursor_companies")
            fetched = [r[0] for r in conn.execute("FETCH 5 FROM c").fetchall()]
            assert api.counters()["by_route"] == {"GET /companies/scroll": 1}
            others = sorted(r[0] for r in conn.execute("SELECT id FROM cursor_companies").fetchall())
            fetched += [r[0] for r in conn.execute("FETCH ALL FROM c").fetchall()]
        assert others == expected and sorted(fetched) == expected
        calls = api.counters()["by_route"]
        assert calls["GET /companies"] == 2 and set(calls) == {"GET /companies/scroll", "GET /companies"}, calls
