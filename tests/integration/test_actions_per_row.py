"""An action function called once per row, stopped part-way: its error says which earlier calls of the
statement reached Intercom (a rollback undoes none of them), and the emulator proves it received exactly
those. Stops: an id the emulator answers 404 for, and a statement_timeout while a call waits on a slow
emulator; a DO block's loop counts as its one statement; the next statement starts afresh."""
import re
import threading
import time

import psycopg
import pytest
import requests

from tests.emulator_fixtures import running_emulator, set_knobs
from tests.integration.read_fixtures import Api, create_server

pytestmark = pytest.mark.timeout(180)
TOKEN = "per-row-actions-token"
ARCHIVE = "POST /contacts/{id}/archive"
UNARCHIVE = "POST /contacts/{id}/unarchive"
CLOSE = "POST /conversations/{id}/parts"


@pytest.fixture(scope="module")
def server():
    with running_emulator(seed=11, token=TOKEN, contacts=40, companies=2, conversations=12, tickets=1,
                          articles=1, knobs={"rate_limit_per_10s": 100_000}) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(server):
    return Api(server.url, TOKEN)


@pytest.fixture(scope="module")
def actions_db(pg, server):
    name = pg.create_database("per_row_actions", extensions=("multicorn", "plpython3u", "intercom_fdw"))
    with pg.connect(name) as conn:
        create_server(conn, "intercom", server.url, TOKEN, read_timeout=60)
    return name


@pytest.fixture
def conn(pg, actions_db, server):
    with pg.connect(actions_db) as connection:
        yield connection
    set_knobs(server.url, latency_ms=0)


def posted(server, route, since):
    """The paths of the requests for `route` the emulator received after the first `since` of its log."""
    logged = requests.get(server.url + "/__emulator/requests", params={"limit": 100_000}, timeout=30).json()
    return [r["path"] for r in logged["requests"][since:] if r["route"] == route]


def log_length(server):
    return len(requests.get(server.url + "/__emulator/requests", params={"limit": 100_000}, timeout=30)
               .json()["requests"])


def listed_calls(detail, action, param):
    """The ids of the calls of `action` that a DETAIL lists as having reached Intercom, and how many more it counts."""
    reached = detail.split("calls of it that reached Intercom: ", 1)[1].split("; calls", 1)[0]
    ids = re.findall(re.escape(action) + r"\(" + param + r" => '([^']*)'\)", reached)
    more = re.search(r", and (\d+) more$", reached)
    return ids, int(more.group(1)) if more else 0


def array(ids):
    return "ARRAY[" + ", ".join(f"'{i}'" for i in ids) + "]"


def open_conversations(api, n):
    return [c["id"] for c in api.all("/conversations", items_key="conversations") if c["state"] == "open"][:n]


def test_a_call_that_fails_on_a_row_names_the_earlier_calls_that_reached_intercom(conn, server, api):
    admin = api.get("/admins")["admins"][0]["id"]
    first, second, after = open_conversations(api, 3)
    since = log_length(server)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(f"SELECT close_conversation(c, '{admin}') FROM "
                     f"unnest({array([first, second, 'no-such-conversation', after])}) AS c")
    diag = caught.value.diag
    assert diag.message_primary.startswith(
        "intercom_fdw.close_conversation(): argument conversation_id 'no-such-conversation' is not a conversation")
    assert diag.message_primary.endswith(
        "(call 3 of the statement; 2 call(s) of it had already reached Intercom and stay there)"), diag.message_primary
    assert "HTTP status 404" in diag.message_detail
    assert listed_calls(diag.message_detail, "close_conversation", "conversation_id") == ([first, second], 0), \
        diag.message_detail
    assert "the rollback undoes none of the calls that reached Intercom" in diag.message_hint and "pass the id of a conversation" in diag.message_hint
    # the emulator received exactly those two closes and the refused one; the row after was not called
    assert posted(server, CLOSE, since) == [f"/conversations/{i}/parts" for i in (first, second, "no-such-conversation")]
    states = {c["id"]: c["state"] for c in api.all("/conversations", items_key="conversations")}
    assert (states[first], states[second], states[after]) == ("closed", "closed", "open")


def test_the_list_is_bounded_and_a_do_block_loop_is_one_statement(conn, server, api):
    contacts = [c["id"] for c in api.all("/contacts")][:13]
    since = log_length(server)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("DO $$ DECLARE c text; BEGIN "
                     f"FOREACH c IN ARRAY {array(contacts + ['no-such-contact'])} LOOP "
                     "PERFORM unarchive_contact(c); END LOOP; END $$")
    diag = caught.value.diag
    assert "(call 14 of the statement; 13 call(s) of it had already reached Intercom" in diag.message_primary
    assert listed_calls(diag.message_detail, "unarchive_contact", "id") == (contacts[:10], 3), diag.message_detail
    assert posted(server, UNARCHIVE, since) == [f"/contacts/{i}/unarchive" for i in contacts + ["no-such-contact"]]
    # the next statement starts afresh: its error lists no call of the statement before
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT unarchive_contact('no-such-contact')")
    assert "call" not in caught.value.diag.message_primary.split(":")[-1], caught.value.diag.message_primary
    assert "reached Intercom" not in (caught.value.diag.message_detail or "")


def test_a_statement_timeout_names_the_calls_that_reached_intercom(conn, server, api):
    contacts = [c["id"] for c in api.all("/contacts")][20:30]
    conn.execute(f"SELECT unarchive_contact('{contacts[0]}')")  # Python and intercom_fdw loaded: no slow first call
    set_knobs(server.url, latency_ms=400)
    since = log_length(server)
    conn.execute("SET statement_timeout = '1.5s'")
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(f"SELECT archive_contact(c) FROM unnest({array(contacts)}) AS c")
    conn.execute("SET statement_timeout = 0")
    diag = caught.value.diag
    assert diag.sqlstate == "57014", (diag.message_primary, diag.message_detail)
    assert diag.message_primary.startswith(
        "intercom_fdw.archive_contact(): canceling statement due to user request or statement timeout")
    reached, more = listed_calls(diag.message_detail, "archive_contact", "id")
    assert more == 0 and 1 <= len(reached) < len(contacts), diag.message_detail
    assert reached == contacts[:len(reached)]
    assert f"(call {len(reached) + 1} of the statement; {len(reached)} call(s) of it had already reached Intercom " \
           "and stay there)" in diag.message_primary, diag.message_primary
    # the timeout comes while a call waits for its answer (400 ms of each call's few), rarely between two
    if "nothing reached Intercom" in diag.message_detail:
        in_flight = []
    else:
        assert "Intercom may have carried out this action" in diag.message_detail, diag.message_detail
        in_flight = [contacts[len(reached)]]
    assert "the rollback undoes none of the calls that reached Intercom" in diag.message_hint
    time.sleep(0.6)  # the emulator carries out the request in flight after its latency
    set_knobs(server.url, latency_ms=0)
    # exactly the listed calls and the one in flight reached the emulator, and they archived those contacts
    assert posted(server, ARCHIVE, since) == [f"/contacts/{i}/archive" for i in reached + in_flight]
    listed = {c["id"] for c in api.all("/contacts")}  # archived contacts are left out of the list
    assert [i for i in contacts if i not in listed] == reached + in_flight
    for contact in reached + in_flight:
        api.post(f"/contacts/{contact}/unarchive", {})


def test_a_call_without_a_usable_answer_and_one_caught_by_a_handler(conn, server, api):
    # A close whose answer is cut (not resent: a second send would add a second part) after three
    # unarchives: its error says it may have been carried out and lists the three. Then a DO block that
    # catches such an error and goes on: the error that stops it counts the caught call as one that may
    # have reached Intercom.
    admin = api.get("/admins")["admins"][0]["id"]
    contacts = [c["id"] for c in api.all("/contacts")][30:33]
    conversation, other = open_conversations(api, 2)
    set_knobs(server.url, drop_rate=1.0, drop_route=CLOSE)
    try:
        since = log_length(server)
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(f"SELECT unarchive_contact(c) FROM unnest({array(contacts)}) AS c UNION ALL "
                         f"SELECT close_conversation('{conversation}', '{admin}')")
        diag = caught.value.diag
        assert "(call 4 of the statement; 3 call(s) of it had already reached Intercom and stay there)" \
            in diag.message_primary, diag.message_primary
        assert "Intercom may have carried out this action" in diag.message_detail
        assert listed_calls(diag.message_detail, "unarchive_contact", "id") == (contacts, 0), diag.message_detail
        assert posted(server, UNARCHIVE, since) == [f"/contacts/{i}/unarchive" for i in contacts]
        assert posted(server, CLOSE, since) == [f"/conversations/{conversation}/parts"]
        since = log_length(server)
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("DO $$ BEGIN "
                         f"PERFORM unarchive_contact('{contacts[0]}'); "
                         f"BEGIN PERFORM close_conversation('{other}', '{admin}'); "
                         "EXCEPTION WHEN others THEN NULL; END; "
                         "PERFORM unarchive_contact('no-such-contact'); END $$")
    finally:
        set_knobs(server.url, drop_rate=0, drop_route="")
    diag = caught.value.diag
    assert diag.message_primary.endswith(
        "(call 3 of the statement; 1 call(s) of it had already reached Intercom and stay there, 1 more may have)"), \
        diag.message_primary
    assert diag.message_detail.endswith(
        f"calls of it that reached Intercom: unarchive_contact(id => '{contacts[0]}'); calls of it that failed "
        f"without a usable answer and may have reached Intercom: close_conversation(conversation_id => '{other}')"), \
        diag.message_detail
    assert posted(server, CLOSE, since) == [f"/conversations/{other}/parts"]
    states = {c["id"]: c["state"] for c in api.all("/conversations", items_key="conversations")}
    assert (states[conversation], states[other]) == ("closed", "closed")  # both were carried out, answers lost


@pytest.fixture(scope="module")
def contacts_table(pg, actions_db):
    with pg.connect(actions_db) as conn:
        conn.execute("CREATE FOREIGN TABLE contacts (id text, email text) SERVER intercom OPTIONS (object 'contacts')")
    return "contacts"


def test_a_statement_stopped_by_another_error_names_the_calls_in_a_warning(conn, server, api, contacts_table):
    # The statement calls the action per row of a foreign table and then fails of its own (a division by
    # zero in the third row, after its call): no action's error speaks, so the rollback that the foreign
    # table takes part in names the calls, once, in a WARNING.
    notices = []
    conn.add_notice_handler(lambda diag: notices.append((diag.severity_nonlocalized, diag.message_primary,
                                                         diag.message_detail, diag.message_hint)))
    conn.execute("CREATE SEQUENCE rows_done")
    since = log_length(server)
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT unarchive_contact(c.id), 1 / (3 - nextval('rows_done')) FROM contacts c")
    called = [p.split("/")[2] for p in posted(server, UNARCHIVE, since)]
    assert len(called) == 3, called
    warnings = [n for n in notices if n[0] == "WARNING" and "action call" in n[1]]
    assert [w[1:3] for w in warnings] == [(
        "the rollback undid nothing in Intercom: 3 action call(s) of the statement had already reached Intercom "
        "and stay there",
        "calls of it that reached Intercom: " + ", ".join(f"unarchive_contact(id => '{i}')" for i in called))], notices
    assert "the rollback undoes none of the calls that reached Intercom" in warnings[0][3]
    # an action's own error says it already: no WARNING repeats it
    notices.clear()
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT unarchive_contact(CASE WHEN nextval('rows_done') = 6 THEN 'no-such-contact' ELSE c.id END) "
                     "FROM contacts c")
    assert "2 call(s) of it had already reached Intercom" in caught.value.diag.message_primary
    assert [n for n in notices if n[0] == "WARNING"] == [], notices


def test_a_cancel_while_the_foreign_scan_waits_names_the_calls_in_a_warning(pg, conn, server, api, contacts_table):
    # Each row's contact is read through the foreign table (a subquery per row), then unarchived: the
    # cancel comes while the third row's read waits for the emulator, so it is the scan's cancel (the
    # runtime's, or PostgreSQL's own), not an action's, and the rollback names the two calls that reached
    # Intercom.
    contacts = [c["id"] for c in api.all("/contacts")][33:39]
    notices = []
    conn.add_notice_handler(lambda diag: notices.append((diag.severity_nonlocalized, diag.message_primary,
                                                         diag.message_detail)))
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    conn.execute(f"SELECT unarchive_contact('{contacts[0]}')")  # Python and intercom_fdw loaded
    set_knobs(server.url, latency_ms=500)
    since = log_length(server)
    outcome = {}

    def run():
        try:
            conn.execute("SELECT unarchive_contact((SELECT c.id FROM contacts c WHERE c.id = i)) "
                         f"FROM unnest({array(contacts)}) AS i")
        except psycopg.Error as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        logged = requests.get(server.url + "/__emulator/requests", params={"limit": 100_000}, timeout=30).json()
        routes = [r["route"] for r in logged["requests"][since:]]
        if routes.count(UNARCHIVE) == 2 and routes[-1].startswith("GET /contacts"):
            break
        time.sleep(0.02)
    with pg.connect() as admin:
        admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
    thread.join(30)
    set_knobs(server.url, latency_ms=0)
    error = outcome["error"]
    assert "canceling statement due to" in error.diag.message_primary, error.diag.message_primary
    assert not error.diag.message_primary.startswith("intercom_fdw.unarchive_contact()")  # the scan's cancel
    assert posted(server, UNARCHIVE, since) == [f"/contacts/{i}/unarchive" for i in contacts[:2]]
    warnings = [n[1:] for n in notices if n[0] == "WARNING" and "action call" in n[1]]
    assert warnings == [(
        "the rollback undid nothing in Intercom: 2 action call(s) of the statement had already reached Intercom "
        "and stay there",
        "calls of it that reached Intercom: " + ", ".join(f"unarchive_contact(id => '{i}')" for i in contacts[:2]))], \
        notices
