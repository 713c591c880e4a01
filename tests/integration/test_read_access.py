"""Whose token a scan uses, what a scan says when Intercom keeps failing, and which statements make
no API call at all (EXPLAIN, suppressed extended requests), through PostgreSQL and the emulator."""
import time

import psycopg
import pytest
from psycopg import sql

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from intercom_fdw.client.http import FIRST_READS
from tests.integration.read_fixtures import Api
from tests.emulator_fixtures import set_knobs

pytestmark = pytest.mark.timeout(120)

# Distinctive values, so that a leak into an error or a plan cannot pass unnoticed.
TOKEN_ONE = "tok-workspace-one-5c1d9e7a"
TOKEN_TWO = "tok-workspace-two-b84f20c3"
ROLES = ("fdw_reader_one", "fdw_reader_two", "fdw_reader_none")


def sql_error(conn, query, params=None) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(query, params).fetchall()
    return caught.value


def shown(error: psycopg.Error) -> str:
    diag = error.diag
    return " ".join(filter(None, (str(error), diag.message_primary, diag.message_hint, diag.message_detail,
                                  diag.context)))


def create_server(conn, name, url, token=None, **options):
    extra = "".join(sql.SQL(", {} {}").format(sql.Identifier(k), sql.Literal(str(v))).as_string(conn)
                    for k, v in options.items())
    conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS "
                         "(wrapper 'intercom_fdw.IntercomFdw', api_url {}" + extra + ")").format(
        sql.Identifier(name), sql.Literal(url)))
    if token:
        conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})").format(
            sql.Identifier(name), sql.Literal(token)))


knobs = set_knobs


@pytest.fixture(scope="module")
def two_workspaces():
    config = EmulatorConfig(seed=5, token=TOKEN_ONE, contacts=30, companies=5, conversations=4, tickets=3, articles=3,
                            extra_workspace_tokens=[TOKEN_TWO], extra_workspace_contacts=12)
    with start_in_thread(config, port=0) as server:
        yield server


@pytest.fixture(scope="module")
def roles_db(pg, db, two_workspaces):
    """Schema `shared` on server `two_ws`: role one maps workspace one's token, role two workspace
    two's, role none has no mapping. All three may read the tables."""
    with pg.connect(db) as conn:
        for role in ROLES:
            conn.execute(f"DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        create_server(conn, "two_ws", two_workspaces.url)
        for role, token in zip(ROLES, (TOKEN_ONE, TOKEN_TWO)):
            conn.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER two_ws OPTIONS (access_token {})").format(
                sql.Identifier(role), sql.Literal(token)))
        conn.execute("CREATE SCHEMA shared")
        conn.execute("CREATE FOREIGN TABLE shared.contacts (id text, email text) SERVER two_ws "
                     "OPTIONS (object 'contacts')")
        conn.execute("CREATE FOREIGN TABLE shared.admins (id text, email text) SERVER two_ws "
                     "OPTIONS (object 'admins')")
        conn.execute(f"GRANT USAGE ON SCHEMA shared TO {', '.join(ROLES)}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA shared TO {', '.join(ROLES)}")
    return db


def test_each_role_reads_its_own_workspace_in_one_backend(pg, roles_db, two_workspaces):
    expected = {role: sorted(c["id"] for c in Api(two_workspaces.url, token).all("/contacts"))
                for role, token in zip(ROLES, (TOKEN_ONE, TOKEN_TWO))}
    assert len(expected[ROLES[0]]) == 30 and len(expected[ROLES[1]]) == 12
    with pg.connect(roles_db) as session:
        # one backend, roles switching back and forth: a client cached for the first role must not serve the next
        for role in (ROLES[0], ROLES[1], ROLES[0], ROLES[1]):
            session.execute(f"SET ROLE {role}")
            got = sorted(r[0] for r in session.execute("SELECT id FROM shared.contacts").fetchall())
            assert got == expected[role], role
            contact_id = expected[role][0]
            assert session.execute("SELECT id FROM shared.contacts WHERE id = %s", (contact_id,)).fetchall() == [
                (contact_id,)]
            other = expected[ROLES[1] if role == ROLES[0] else ROLES[0]][0]
            assert session.execute("SELECT id FROM shared.contacts WHERE id = %s", (other,)).fetchall() == []


def test_a_role_without_a_mapping_is_told_how_to_create_one(pg, roles_db):
    with pg.connect(roles_db) as session:
        session.execute(f"SET ROLE {ROLES[0]}")
        assert session.execute("SELECT count(*) FROM shared.admins").fetchone()[0] > 0
        session.execute(f"SET ROLE {ROLES[2]}")
        error = sql_error(session, "SELECT id FROM shared.contacts")
        assert "no Intercom access token for this role" in error.diag.message_primary
        assert "CREATE USER MAPPING" in error.diag.message_hint
        assert TOKEN_ONE not in shown(error) and TOKEN_TWO not in shown(error)
        session.execute(f"SET ROLE {ROLES[0]}")  # the backend is still usable
        assert session.execute("SELECT count(*) FROM shared.admins").fetchone()[0] > 0


def test_the_hint_names_the_server_an_imported_table_is_on(pg, roles_db):
    with pg.connect(roles_db) as session:
        session.execute(f"SET ROLE {ROLES[0]}")
        session.execute("RESET ROLE")
        session.execute(f"GRANT USAGE ON FOREIGN SERVER two_ws TO {ROLES[0]}")
        session.execute(f"CREATE SCHEMA imported AUTHORIZATION {ROLES[0]}")
        session.execute(f"SET ROLE {ROLES[0]}")
        session.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (admins) FROM SERVER two_ws INTO imported")
        session.execute(f"GRANT USAGE ON SCHEMA imported TO {ROLES[2]}")
        session.execute(f"GRANT SELECT ON imported.admins TO {ROLES[2]}")
        session.execute(f"SET ROLE {ROLES[2]}")
        error = sql_error(session, "SELECT id FROM imported.admins")
        assert error.diag.message_hint == ("CREATE USER MAPPING FOR CURRENT_USER SERVER two_ws OPTIONS "
                                           "(access_token '...'); check first that this is the table's server "
                                           "(psql: \\det)")
        # a table written by hand does not know its server: the hint says where to look
        error = sql_error(session, "SELECT id FROM shared.admins")
        assert "SERVER <the table's server, as psql's \\det shows it>" in error.diag.message_hint


def test_the_token_is_never_in_explain(pg, roles_db):
    with pg.connect(roles_db) as session:
        for role in ROLES[:2]:
            session.execute(f"SET ROLE {role}")
            plan = "\n".join(r[0] for r in session.execute(
                "EXPLAIN VERBOSE SELECT * FROM shared.contacts WHERE email = 'a@b.c' OR id = '1'").fetchall())
            assert "Intercom" in plan
            assert TOKEN_ONE not in plan and TOKEN_TWO not in plan


# --- errors after the last retry --------------------------------------------------------------------

@pytest.fixture
def failing_workspace():
    config = EmulatorConfig(seed=8, token="tok-failing-3e8a71", contacts=10, companies=4, conversations=4, tickets=3,
                            articles=3)
    with start_in_thread(config, port=0) as server:
        yield server


def test_5xx_after_the_last_retry_is_an_sql_error_with_status_code_and_hint(pg, db, failing_workspace):
    knobs(failing_workspace.url, fault_rate=1.0)
    api = Api(failing_workspace.url, failing_workspace.token)
    with pg.connect(db) as conn:
        create_server(conn, "always_5xx", failing_workspace.url, failing_workspace.token, max_retries="1")
        conn.execute("CREATE FOREIGN TABLE public.contacts_5xx (id text, email text) SERVER always_5xx "
                     "OPTIONS (object 'contacts')")
        api.reset_counters()
        error = sql_error(conn, "SELECT * FROM public.contacts_5xx")
    assert api.counters()["by_route"] == {"GET /contacts": 2}  # the first send and max_retries '1'
    message = error.diag.message_primary
    statuses = {"500": "server_error", "502": "bad_gateway", "503": "service_unavailable"}
    status = next(s for s in statuses if f"HTTP {s}" in message)
    assert statuses[status] in message and "try again" in message.lower()  # Intercom's code and message
    assert "GET /contacts" in message
    assert error.diag.message_hint and "try again later" in error.diag.message_hint
    assert failing_workspace.token not in shown(error)
    assert failing_workspace.token not in pg.log_tail(200)


def spend_the_only_call(server):
    """Spend the token's one call of the current 10-second slice, with at least a second of it left."""
    session = Api(server.url, server.token).session
    while True:
        answer = session.get(server.url + "/me", timeout=30)
        left = int(answer.headers["X-RateLimit-Reset"]) - time.time()
        if answer.status_code == 200 and left >= 1:
            return
        time.sleep(max(left, 0) + 0.05)


def test_429_after_the_last_retry_is_an_sql_error_with_status_code_and_hint(pg, db, failing_workspace):
    knobs(failing_workspace.url, rate_limit_per_10s=1)
    api = Api(failing_workspace.url, failing_workspace.token)
    with pg.connect(db) as conn:
        create_server(conn, "limited", failing_workspace.url, failing_workspace.token, max_retries="0")
        conn.execute("CREATE FOREIGN TABLE public.contacts_429 (id text, email text) SERVER limited "
                     "OPTIONS (object 'contacts')")
        spend_the_only_call(failing_workspace)
        api.reset_counters()
        error = sql_error(conn, "SELECT * FROM public.contacts_429")
    assert api.counters()["by_route"] == {"GET /contacts": 1}  # max_retries '0': no wait-and-retry
    message = error.diag.message_primary
    assert "HTTP 429" in message and "rate_limit_exceeded" in message and "exceeded the rate limit" in message
    assert "rate_limit_share, concurrency or read_concurrency, or try later" in error.diag.message_hint
    assert failing_workspace.token not in shown(error)


# --- statements that make no API call ---------------------------------------------------------------

EXPLAINED = [
    "SELECT * FROM intercom.contacts",
    "SELECT id FROM intercom.contacts WHERE email = 'someone@example.com'",
    "SELECT * FROM intercom.contacts WHERE id IN ('1', '2', '3')",
    "SELECT id, statistics_views, statistics_sad_reaction_percentage FROM intercom.articles "
    "ORDER BY updated_at DESC LIMIT 10",
    "SELECT * FROM intercom.companies WHERE company_id = 'x'",
    "SELECT * FROM intercom.companies",
    "SELECT * FROM intercom.conversations WHERE state = 'open' AND created_at > now() - interval '30 days'",
    "SELECT * FROM intercom.tickets LIMIT 3",
    "SELECT c.id, t.name FROM intercom.contacts c JOIN intercom.contact_tags t ON t.contact_id = c.id "
    "WHERE c.email LIKE 'a%'",
    "SELECT * FROM intercom.events WHERE email = 'someone@example.com'",
]


def test_explain_makes_no_api_call(pg, read_db, api):
    ticket_tables = [r[0] for r in read_db.rows(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'intercom' AND c.relname LIKE '%%\\_tickets' AND c.relname <> 'tickets'")]
    assert ticket_tables
    queries = EXPLAINED + [f"SELECT * FROM intercom.{ticket_tables[0]} ORDER BY id LIMIT 5"]
    with pg.connect(read_db.dbname) as fresh:  # a new backend: nothing cached from earlier scans
        api.reset_counters()
        for query in queries:
            for explain in ("EXPLAIN ", "EXPLAIN VERBOSE "):
                plan = "\n".join(r[0] for r in fresh.execute(explain + query).fetchall())
                assert "Intercom" in plan, plan
        assert api.counters()["total"] == 0, api.counters()
        # the same backend does call the API when the query runs (the counters do see this backend)
        fresh.execute("SELECT id FROM intercom.contacts LIMIT 1").fetchall()
    assert api.counters()["total"] >= 1


STATISTICS = {"statistics_type": "text", "statistics_views": "integer", "statistics_conversations": "integer",
              "statistics_reactions": "integer", "statistics_happy_reaction_percentage": "double precision",
              "statistics_neutral_reaction_percentage": "double precision",
              "statistics_sad_reaction_percentage": "double precision"}


def test_suppress_extended_requests_as_a_server_option(pg, read_db, emulator, api):
    columns = ", ".join(f"{name} {kind}" for name, kind in STATISTICS.items())
    with pg.connect(read_db.dbname) as conn:
        create_server(conn, "lean", emulator.url, emulator.token, suppress_extended_requests="true")
        conn.execute(f"CREATE FOREIGN TABLE public.lean_articles (id text, title text, {columns}) SERVER lean "
                     "OPTIONS (object 'articles')")
    n = len(api.all("/articles"))
    rows, routes = read_db.calls(f"SELECT id, {', '.join(STATISTICS)} FROM public.lean_articles")
    assert routes == {"GET /articles": 1}
    assert len(rows) == n and all(value is None for row in rows for value in row[1:])
    assert "Extended requests: no" in read_db.explain("SELECT statistics_views FROM public.lean_articles")


def test_extended_requests_stop_with_the_rows_postgres_takes(read_db, api):
    # The WHERE stays with PostgreSQL, so it applies the LIMIT and stops pulling rows after one:
    # the per-article requests made are the one row's and the few sent ahead of it (the window starts
    # at client/http.py's FIRST_READS and widens as rows are taken, up to read_concurrency).
    articles = api.all("/articles")
    window = FIRST_READS + 2
    assert len(articles) > window + 1
    rows, routes = read_db.calls("SELECT id, statistics_views FROM intercom.articles WHERE title IS NOT NULL LIMIT 1")
    extended = sum(n for route, n in routes.items() if route.startswith("GET /articles/"))
    assert len(rows) == 1 and rows[0][1] is not None
    assert 1 <= extended <= window + 1, routes
