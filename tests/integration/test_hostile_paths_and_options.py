"""Values that would change where a request goes: ids '.', '..' and '' in request paths, and a
foreign table's options that would send another role's token elsewhere. Each case was a real
hole: `contact_id = '..'` read GET /tags (every workspace tag, shown as the contact's), a DELETE
or an action with '..' deleted a workspace tag, and a table's api_url sent the querying role's
token to the URL it named."""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading

import psycopg
import pytest
import requests
from psycopg import sql

from intercom_fdw.tools import throwaway_pg
from tests.emulator_fixtures import running_emulator

WRAPPER = "wrapper 'intercom_fdw.IntercomFdw'"
HOSTILE_IDS = ["..", ".", ""]


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=9, contacts=30, companies=5, conversations=10, tickets=3, articles=2) as server:
        yield server


class Emulator:
    def __init__(self, server):
        self.url, self.token = server.url, server.token
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {server.token}", "Intercom-Version": "2.14"})

    def get(self, path):
        return self.session.get(self.url + path, timeout=30).json()

    def reset_counters(self):
        requests.post(self.url + "/__emulator/counters/reset", timeout=30).raise_for_status()

    def routes(self):
        return requests.get(self.url + "/__emulator/counters", timeout=30).json()["by_route"]


@pytest.fixture(scope="module")
def api(emulator):
    return Emulator(emulator)


@pytest.fixture(scope="module")
def conn(pg, emulator):
    name = pg.create_database("hostile_paths", extensions=("multicorn", "plpython3u", "intercom_fdw"))
    with pg.connect(name) as connection:
        connection.execute(sql.SQL("CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn OPTIONS ("
                                   + WRAPPER + ", api_url {})").format(sql.Literal(emulator.url)))
        connection.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER intercom OPTIONS (access_token {})")
                           .format(sql.Literal(emulator.token)))
        connection.execute("CREATE SCHEMA intercom")
        connection.execute("IMPORT FOREIGN SCHEMA intercom FROM SERVER intercom INTO intercom")
        yield connection


@pytest.fixture(scope="module")
def a_tag(api, conn):
    tags = api.get("/tags")["data"]
    assert tags, "the seeded workspace has tags"
    return tags[0]["id"]


def tag_ids(api):
    return {t["id"] for t in api.get("/tags")["data"]}


@pytest.mark.parametrize("contact_id", HOSTILE_IDS)
def test_a_child_table_read_with_a_dot_id_reads_nothing_and_sends_nothing(conn, api, contact_id):
    api.reset_counters()
    rows = conn.execute("SELECT id FROM intercom.contact_tags WHERE contact_id = %s", (contact_id,)).fetchall()
    assert rows == []
    assert api.routes() == {}, "no request at all: no Intercom contact has that id"
    explain = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT id FROM intercom.contact_tags WHERE contact_id = %s", (contact_id,)))
    assert "not sent (the value cannot be an Intercom id)" in explain


def test_ids_from_a_join_cannot_walk_up_the_path(conn, api):
    # A parameterized nested loop fills the path from the outer rows, i.e. from data.
    api.reset_counters()
    conn.execute("SET enable_hashjoin = off")
    conn.execute("SET enable_mergejoin = off")
    try:
        rows = conn.execute("SELECT t.id FROM (VALUES ('..'), ('.'), ('')) AS v(id) "
                            "JOIN intercom.contact_tags t ON t.contact_id = v.id").fetchall()
        by_id = conn.execute("SELECT c.id FROM (VALUES ('..'), ('.')) AS v(id) "
                             "JOIN intercom.contacts c ON c.id = v.id").fetchall()
    finally:
        conn.execute("RESET enable_hashjoin")
        conn.execute("RESET enable_mergejoin")
    assert rows == [] and by_id == []
    assert not any(route.startswith("GET /tags") for route in api.routes()), api.routes()


def test_a_get_by_id_with_a_dot_id_finds_nothing(conn, api):
    api.reset_counters()
    assert conn.execute("SELECT id FROM intercom.contacts WHERE id IN ('..', '.')").fetchall() == []
    assert conn.execute("SELECT id FROM intercom.articles WHERE id = '..'").fetchall() == []
    assert api.routes() == {}


def test_a_delete_with_a_dot_parent_key_deletes_no_workspace_tag(conn, api, a_tag):
    before = tag_ids(api)
    api.reset_counters()
    result = conn.execute("DELETE FROM intercom.contact_tags WHERE contact_id = '..' AND id = %s", (a_tag,))
    assert result.rowcount == 0
    assert not any(route.startswith("DELETE") for route in api.routes())
    assert tag_ids(api) == before


def test_a_write_with_a_dot_id_is_refused_before_any_call(conn, api, a_tag):
    api.reset_counters()
    with pytest.raises(psycopg.errors.Error) as caught:
        conn.execute("INSERT INTO intercom.contact_tags (contact_id, id) VALUES ('..', %s)", (a_tag,))
    assert "'..' is not a valid contact_id" in caught.value.diag.message_primary
    assert "contact_tags" in caught.value.diag.message_primary
    assert caught.value.diag.message_hint
    assert api.routes() == {}
    # invalid_parameter_value where the runtime can say so; multicorn2 3.2 reports every error as XX000
    assert caught.value.sqlstate == ("22023" if throwaway_pg.runtime() == "bundled" else "XX000")


def test_foreign_table_errors_carry_their_class_sqlstate_where_the_runtime_allows(conn):
    with pytest.raises(psycopg.errors.Error) as caught:
        conn.execute("DELETE FROM intercom.admins")
    assert caught.value.sqlstate == ("0A000" if throwaway_pg.runtime() == "bundled" else "XX000")


@pytest.mark.parametrize("conversation_id", HOSTILE_IDS[:2])
def test_an_action_with_a_dot_id_deletes_no_workspace_tag(conn, api, a_tag, conversation_id):
    admin = api.get("/admins")["admins"][0]["id"]
    before = tag_ids(api)
    api.reset_counters()
    with pytest.raises(psycopg.errors.Error) as caught:
        conn.execute("SELECT remove_tag_from_conversation(conversation_id => %s, tag_id => %s, admin_id => %s)",
                     (conversation_id, a_tag, admin))
    assert "conversation_id" in caught.value.diag.message_primary
    assert api.routes() == {}
    assert tag_ids(api) == before


# ---- a foreign table may not decide where a role's token goes ----------------------------------

class Listener:
    """An 'attacker' HTTP endpoint that records the Authorization headers it receives."""

    def __init__(self):
        self.seen = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listener.seen.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"type": "admin.list", "admins": []}')

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def plain_db(pg):
    """No intercom_fdw extension: only multicorn's validator (which checks only `wrapper`) runs."""
    name = pg.create_database("hostile_options", extensions=("multicorn",))
    with pg.connect(name) as connection:
        for role in ("mallory", "victim"):
            connection.execute(f"DROP ROLE IF EXISTS {role}")
            connection.execute(f"CREATE ROLE {role} LOGIN")
    return name


@pytest.mark.parametrize("server_options", ["region 'us'", "region 'eu', pushdown 'false'"])
def test_a_table_api_url_never_receives_another_roles_token(pg, plain_db, listener, server_options):
    victim_token = "victim-token-4f8a1c2e9b7d"
    with pg.connect(plain_db) as conn:
        extra = f", {server_options}" if server_options else ""
        conn.execute(f"CREATE SERVER prod FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}{extra})")
        try:
            conn.execute("GRANT USAGE ON FOREIGN SERVER prod TO mallory, victim")
            conn.execute(f"CREATE USER MAPPING FOR victim SERVER prod OPTIONS (access_token '{victim_token}')")
            conn.execute("GRANT CREATE ON SCHEMA public TO mallory")
            conn.execute("SET ROLE mallory")
            conn.execute(sql.SQL("CREATE FOREIGN TABLE trap (id text) SERVER prod OPTIONS "
                                 "(object 'admins', api_url {})").format(sql.Literal(listener.url)))
            conn.execute("GRANT SELECT ON trap TO victim")
            conn.execute("SET ROLE victim")
            with pytest.raises(psycopg.errors.Error) as caught:
                conn.execute("SELECT * FROM trap").fetchall()
            conn.execute("RESET ROLE")
            assert "both region and api_url are set" in caught.value.diag.message_primary
            assert "ALTER" in caught.value.diag.message_hint
            assert victim_token not in str(caught.value)
            assert listener.seen == [], "the victim's token reached the table's api_url"
        finally:
            conn.execute("RESET ROLE")
            conn.execute("DROP SERVER prod CASCADE")
            conn.execute("REVOKE CREATE ON SCHEMA public FROM mallory")


@pytest.mark.parametrize("server_options, import_options", [
    ("region 'us'", "api_url {url}"),
    ("api_url {emulator}", "api_url {url}"),
    ("api_url {emulator}", "region 'eu'"),
    ("api_url {emulator}", "access_token 'mine'"),
])
def test_import_foreign_schema_options_never_send_a_token_elsewhere(pg, plain_db, listener, emulator,
                                                                    server_options, import_options):
    # A PUBLIC user mapping's token is one its users cannot read (pg_user_mappings shows its options
    # to the server's owner only); IMPORT's OPTIONS (api_url ...) used to override the server's and
    # send it to any URL (GET /data_attributes with the Bearer token).
    shared_token = "team-token-9c4e1a7b2d"
    literal = lambda text: sql.Literal(text).as_string(None)  # noqa: E731
    with pg.connect(plain_db) as conn:
        conn.execute(f"CREATE SERVER team FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, "
                     + server_options.format(emulator=literal(emulator.url)) + ")")
        try:
            conn.execute("GRANT USAGE ON FOREIGN SERVER team TO mallory")
            conn.execute(f"CREATE USER MAPPING FOR PUBLIC SERVER team OPTIONS (access_token '{shared_token}')")
            conn.execute("DROP SCHEMA IF EXISTS loot CASCADE")
            conn.execute("CREATE SCHEMA loot AUTHORIZATION mallory")
            conn.execute("SET ROLE mallory")
            with pytest.raises(psycopg.errors.Error) as caught:
                conn.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (admins) FROM SERVER team INTO loot OPTIONS ("
                             + import_options.format(url=literal(listener.url)) + ")")
            conn.execute("RESET ROLE")
            assert listener.seen == [], "the shared token reached the IMPORT's api_url"
            option = import_options.split()[0]
            assert f"IMPORT FOREIGN SCHEMA option {option}" in caught.value.diag.message_primary
            assert "server" in caught.value.diag.message_hint
            assert shared_token not in str(caught.value)
        finally:
            conn.execute("RESET ROLE")
            conn.execute("DROP SCHEMA IF EXISTS loot CASCADE")
            conn.execute("DROP SERVER team CASCADE")


def test_a_server_setting_neither_region_nor_api_url_serves_no_table(pg, plain_db):
    # So no server in service is in that state, where a table's api_url would look like the server's.
    with pg.connect(plain_db) as conn:
        conn.execute(f"CREATE SERVER bare FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER})")
        try:
            conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER bare OPTIONS (access_token 'tok-bare-123')")
            conn.execute("CREATE FOREIGN TABLE bare_admins (id text) SERVER bare OPTIONS (object 'admins')")
            with pytest.raises(psycopg.errors.Error) as caught:
                conn.execute("SELECT * FROM bare_admins").fetchall()
            assert "the server sets neither region nor api_url" in caught.value.diag.message_primary
            assert "ADD region 'us'" in caught.value.diag.message_hint
        finally:
            conn.execute("DROP SERVER bare CASCADE")


def test_a_server_with_api_url_ignores_a_tables_api_url_and_refuses_its_region(pg, plain_db, listener, emulator):
    with pg.connect(plain_db) as conn:
        conn.execute(sql.SQL("CREATE SERVER good FOREIGN DATA WRAPPER multicorn OPTIONS (" + WRAPPER
                             + ", api_url {})").format(sql.Literal(emulator.url)))
        try:
            conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (access_token {})")
                         .format(sql.Literal(emulator.token)))
            conn.execute(sql.SQL("CREATE FOREIGN TABLE same_place (id text) SERVER good OPTIONS "
                                 "(object 'admins', api_url {})").format(sql.Literal(listener.url)))
            assert conn.execute("SELECT count(*) FROM same_place").fetchone()[0] > 0  # the server's URL wins
            conn.execute("CREATE FOREIGN TABLE elsewhere (id text) SERVER good OPTIONS (object 'admins', region 'eu')")
            with pytest.raises(psycopg.errors.Error) as caught:
                conn.execute("SELECT * FROM elsewhere").fetchall()
            assert "both region and api_url are set" in caught.value.diag.message_primary
            assert listener.seen == []
        finally:
            conn.execute("DROP SERVER good CASCADE")


@pytest.mark.parametrize("url,problem", [
    ("http://127.0.0.1:9/x?y=1#", "a query and a fragment"),
    ("http://127.0.0.1:9/x#top", "a fragment"),
    ("http://user:secret-pw@127.0.0.1:9", "credentials"),
    ("http://127.0.0.1:9/a/../b", "'.' or '..' segment"),
])
def test_an_api_url_that_would_lose_or_leak_its_path_is_refused(pg, plain_db, url, problem):
    with pg.connect(plain_db) as conn:
        conn.execute(sql.SQL("CREATE SERVER odd FOREIGN DATA WRAPPER multicorn OPTIONS (" + WRAPPER
                             + ", api_url {})").format(sql.Literal(url)))
        try:
            conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER odd OPTIONS (access_token 'tok-odd-123')")
            conn.execute("CREATE FOREIGN TABLE odd_admins (id text) SERVER odd OPTIONS (object 'admins')")
            with pytest.raises(psycopg.errors.Error) as caught:
                conn.execute("SELECT * FROM odd_admins").fetchall()
            assert problem in caught.value.diag.message_primary
            assert "secret-pw" not in str(caught.value)
        finally:
            conn.execute("DROP SERVER odd CASCADE")


def test_a_nul_character_from_intercom_leaves_the_table_readable(conn, api):
    # PostgreSQL's text and jsonb cannot hold U+0000: it arrives as U+FFFD, in every column and attrs.
    created = api.session.post(api.url + "/contacts", json={
        "role": "user", "email": "nul@example.com", "name": "Ann\u0000Lee",
        "custom_attributes": {}}, timeout=30).json()
    assert "\u0000" in api.get(f"/contacts/{created['id']}")["name"]
    for query in ("SELECT name, attrs->>'name' FROM intercom.contacts WHERE id = %s",
                  "SELECT name, attrs->>'name' FROM intercom.contacts WHERE email = 'nul@example.com' AND id = %s"):
        assert conn.execute(query, (created["id"],)).fetchall() == [("Ann\ufffdLee", "Ann\ufffdLee")]
    names = [r[0] for r in conn.execute("SELECT name FROM intercom.contacts").fetchall()]
    assert "Ann\ufffdLee" in names
