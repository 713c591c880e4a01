"""The action functions of `CREATE EXTENSION intercom_fdw`, through PostgreSQL against the emulator.

Each function's effect is read back through the foreign tables (IMPORT FOREIGN SCHEMA), so a test
passes only when Intercom's state really changed. Bad input must fail before any request reaches
the emulator, which its request counters prove. Roles: alice has a user mapping with the seeded
workspace's token, bob one with another workspace's token, carol none; all three may use the server.
"""
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import requests
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from intercom_fdw.actions.definitions import ACTIONS_BY_NAME
from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.emulator_fixtures import set_knobs

OTHER_WORKSPACE_TOKEN = "other-workspace-token-5b1e"
DB = "test_actions_sql"
MAX_RETRIES = 2
pytestmark = pytest.mark.timeout(180)


# --- the emulator and the database ------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator():
    server = start_in_thread(EmulatorConfig(seed=6, contacts=40, extra_workspace_tokens=[OTHER_WORKSPACE_TOKEN]))
    try:
        yield server
    finally:
        server.stop()


class EmulatorLog:
    """The emulator's own inspection endpoints (Intercom has none of these)."""

    def __init__(self, url):
        self.url = url

    def _get(self, path, **params):
        response = requests.get(self.url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def requests_sent(self) -> int:
        """API requests answered so far (the inspection endpoints are not counted)."""
        return self._get("/__emulator/counters")["total"]

    def last_request(self) -> dict:
        return self._get("/__emulator/requests", limit=1)["requests"][-1]

    def sent_to(self, route: str) -> int:
        """Requests answered so far for one route, e.g. "POST /contacts/{id}/archive"."""
        return self._get("/__emulator/counters")["by_route"].get(route, 0)

    def set_knobs(self, **knobs):
        set_knobs(self.url, **knobs)


class Tables:
    """Intercom's state, read through the imported foreign tables."""

    def __init__(self, connection):
        self.connection = connection

    def rows(self, query, *params):
        return self.connection.execute(query, params).fetchall()

    def one(self, query, *params):
        rows = self.rows(query, *params)
        assert len(rows) == 1, rows
        return rows[0]

    def conversation(self, conversation_id):
        return self.one("SELECT * FROM intercom.conversations WHERE id = %s", conversation_id)

    def last_part(self, conversation_id):
        return self.rows(
            "SELECT * FROM intercom.conversation_parts WHERE conversation_id = %s "
            "ORDER BY created_at DESC, length(id) DESC, id DESC LIMIT 1", conversation_id)[0]

    def conversation_tag_ids(self, conversation_id):
        return {tag["id"] for tag in self.conversation(conversation_id)["attrs"]["tags"]["tags"]}

    def contact_ids(self):
        """A full scan: the contacts list, which leaves archived contacts out."""
        return {row["id"] for row in self.rows("SELECT id FROM intercom.contacts")}


@pytest.fixture(scope="module")
def log(emulator):
    return EmulatorLog(emulator.url)


@pytest.fixture(scope="module")
def actions_db(pg, emulator):
    pg.create_database(DB, extensions=("multicorn", "plpython3u", "intercom_fdw"))
    with pg.connect(DB) as conn:
        conn.execute(sql.SQL(
            "CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn "
            "OPTIONS (wrapper 'intercom_fdw.IntercomFdw', api_url {}, max_retries {})").format(
                sql.Literal(emulator.url), sql.Literal(str(MAX_RETRIES))))
        for role in ("alice", "bob", "carol"):
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"GRANT USAGE ON FOREIGN SERVER intercom TO {role}")
        for role, token in (("postgres", emulator.token), ("alice", emulator.token), ("bob", OTHER_WORKSPACE_TOKEN)):
            conn.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER intercom OPTIONS (access_token {})").format(
                sql.Identifier(role), sql.Literal(token)))
        conn.execute("CREATE SCHEMA intercom")
        conn.execute("IMPORT FOREIGN SCHEMA intercom FROM SERVER intercom INTO intercom")
    return DB


@pytest.fixture(scope="module")
def tables(pg, actions_db):
    with pg.connect(actions_db, row_factory=dict_row) as connection:
        yield Tables(connection)


@pytest.fixture
def conn(pg, actions_db):
    with pg.connect(actions_db, user="alice") as connection:
        yield connection


def call(conn, function, *args, **named):
    """`SELECT function(args, name => value)`; returns the jsonb result as Python."""
    arguments = [sql.Literal(a) for a in args] + [
        sql.SQL("{} => {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in named.items()
    ]
    query = sql.SQL("SELECT {}({})").format(sql.Identifier(function), sql.SQL(", ").join(arguments))
    return conn.execute(query).fetchone()[0]


def sql_error(conn, function, *args, **named) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        call(conn, function, *args, **named)
    return caught.value


# --- seeded objects -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin_id(tables):
    return tables.rows("SELECT id FROM intercom.admins ORDER BY id LIMIT 1")[0]["id"]


@pytest.fixture(scope="module")
def team_id(tables):
    return tables.rows("SELECT id FROM intercom.teams ORDER BY id LIMIT 1")[0]["id"]


@pytest.fixture(scope="module")
def conversations(tables):
    """Seeded conversations, handed out one per test so that tests do not see each other's parts."""
    return iter([row["id"] for row in tables.rows("SELECT id FROM intercom.conversations ORDER BY id")])


@pytest.fixture(scope="module")
def contacts(tables):
    return iter(sorted(tables.contact_ids()))


@pytest.fixture(scope="module")
def ticket_type_id(tables):
    return tables.rows("SELECT id FROM intercom.ticket_types ORDER BY id LIMIT 1")[0]["id"]


def user_of(tables, conversation_id):
    return tables.conversation(conversation_id)["attrs"]["contacts"]["contacts"][0]["id"]


# --- one test per function: the state change, read back through the foreign tables ----------

def test_archive_and_unarchive_contact(conn, tables, contacts):
    contact_id = next(contacts)
    archived = call(conn, "archive_contact", contact_id)
    assert (archived["id"], archived["archived"]) == (contact_id, True)
    assert contact_id not in tables.contact_ids()  # archived contacts leave the list
    unarchived = call(conn, "unarchive_contact", contact_id)
    assert (unarchived["id"], unarchived["archived"]) == (contact_id, False)
    assert contact_id in tables.contact_ids()


def test_contact_reply_to_conversation(conn, tables, conversations):
    conversation_id = next(conversations)
    user_id = user_of(tables, conversation_id)
    call(conn, "contact_reply_to_conversation", conversation_id, user_id, "Thanks, that fixed it")
    part = tables.last_part(conversation_id)
    assert (part["part_type"], part["author_id"]) == ("comment", user_id)
    assert "Thanks, that fixed it" in part["body"]  # Intercom wraps plain text in <p>


@pytest.mark.parametrize("message_type", ["comment", "note"])
def test_admin_reply_to_conversation(conn, tables, conversations, admin_id, message_type):
    conversation_id = next(conversations)
    call(conn, "admin_reply_to_conversation", conversation_id, message_type, admin_id, f"An admin {message_type}")
    part = tables.last_part(conversation_id)
    assert (part["part_type"], part["author_type"], part["author_id"]) == (message_type, "admin", admin_id)
    assert f"An admin {message_type}" in part["body"]


def test_add_and_remove_tag(conn, tables, conversations, admin_id):
    conversation_id = next(conversations)
    tagged = tables.conversation_tag_ids(conversation_id)
    tag_id = next(row["id"] for row in tables.rows("SELECT id FROM intercom.tags ORDER BY id") if row["id"] not in tagged)
    assert call(conn, "add_tag_to_conversation", conversation_id, admin_id, tag_id)["id"] == tag_id
    assert tables.conversation_tag_ids(conversation_id) == tagged | {tag_id}
    assert call(conn, "remove_tag_from_conversation", conversation_id, tag_id, admin_id)["id"] == tag_id
    assert tables.conversation_tag_ids(conversation_id) == tagged


def test_a_wrong_id_is_named_by_its_argument(conn, tables, conversations, admin_id):
    """remove_tag_from_conversation takes (conversation_id, tag_id, admin_id) and add_tag_to_conversation
    (conversation_id, admin_id, tag_id): arguments in the other's order are told as the argument they fill."""
    conversation_id = next(conversations)
    tag_id = tables.rows("SELECT id FROM intercom.tags ORDER BY id")[0]["id"]
    swapped = sql_error(conn, "remove_tag_from_conversation", conversation_id, admin_id, tag_id)
    assert swapped.diag.message_primary.endswith(
        f"intercom_fdw.remove_tag_from_conversation(): argument admin_id {tag_id!r} is not an admin of this workspace")
    assert "intercom.admins" in swapped.diag.message_hint
    assert "HTTP status 404" in swapped.diag.message_detail and "Admin not found" in swapped.diag.message_detail
    assert swapped.sqlstate == "HV000"

    unknown_tag = sql_error(conn, "add_tag_to_conversation", conversation_id=conversation_id, admin_id=admin_id,
                            tag_id="999999")
    assert unknown_tag.diag.message_primary.endswith("argument tag_id '999999' is not a tag of this workspace")
    # the function's own name leads the ERROR, not PL/Python's exception class ("plpy.Error: ...")
    assert unknown_tag.diag.message_primary.startswith("intercom_fdw.add_tag_to_conversation(): ")
    not_applied = sql_error(conn, "remove_tag_from_conversation", conversation_id=conversation_id,
                            tag_id=next(t for t in (r["id"] for r in tables.rows("SELECT id FROM intercom.tags"))
                                        if t not in tables.conversation_tag_ids(conversation_id)),
                            admin_id=admin_id)
    assert "is not a tag of this conversation" in not_applied.diag.message_primary
    no_conversation = sql_error(conn, "close_conversation", "424242424242", admin_id)
    assert no_conversation.diag.message_primary.endswith(
        "argument conversation_id '424242424242' is not a conversation of this workspace")


def test_close_and_open_conversation(conn, tables, conversations, admin_id):
    conversation_id = next(conversations)
    call(conn, "close_conversation", conversation_id, admin_id)
    assert (tables.conversation(conversation_id)["state"], tables.last_part(conversation_id)["part_type"]) == (
        "closed", "close")
    call(conn, "open_conversation", conversation_id, admin_id)
    assert (tables.conversation(conversation_id)["state"], tables.last_part(conversation_id)["part_type"]) == (
        "open", "open")


def test_snooze_conversation_defaults_to_one_day(conn, tables, conversations, admin_id):
    conversation_id = next(conversations)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    call(conn, "snooze_conversation", conversation_id, admin_id)
    conversation = tables.conversation(conversation_id)
    assert conversation["state"] == "snoozed"
    assert before + timedelta(days=1, seconds=-5) <= conversation["snoozed_until"]
    assert conversation["snoozed_until"] <= datetime.now(timezone.utc) + timedelta(days=1)


def test_snooze_conversation_until_a_given_time(conn, tables, conversations, admin_id):
    conversation_id = next(conversations)
    until = datetime(2099, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    call(conn, "snooze_conversation", conversation_id, admin_id, until)
    assert tables.conversation(conversation_id)["snoozed_until"] == until


def test_assign_conversation_to_admin_and_team(conn, tables, conversations, admin_id, team_id):
    conversation_id = next(conversations)
    call(conn, "assign_conversation", conversation_id, "admin", admin_id, admin_id)
    assert tables.conversation(conversation_id)["admin_assignee_id"] == admin_id
    call(conn, "assign_conversation", conversation_id, "team", admin_id, team_id)
    assert tables.conversation(conversation_id)["team_assignee_id"] == team_id


def test_convert_conversation_to_ticket(conn, tables, conversations, ticket_type_id):
    conversation_id = next(conversations)
    ticket = call(conn, "convert_conversation_to_ticket", conversation_id, ticket_type_id)
    stored = tables.one("SELECT ticket_type_id FROM intercom.tickets WHERE id = %s", ticket["id"])
    assert stored["ticket_type_id"] == ticket_type_id


def test_a_conversation_converted_again_makes_a_second_ticket_and_links_both(conn, tables, conversations,
                                                                             ticket_type_id):
    # Intercom's API file says nothing of converting a conversation again; the function does not refuse it
    # (sql/README.md): each call makes a ticket, and the conversation's linked_objects lists every ticket,
    # which is how a statement leaves converted conversations out.
    conversation_id = next(conversations)
    first = call(conn, "convert_conversation_to_ticket", conversation_id, ticket_type_id)
    unconverted_only = (
        "SELECT convert_conversation_to_ticket(c.id, %s) FROM intercom.conversations c WHERE c.id = %s "
        "AND NOT jsonb_path_exists(c.linked_objects, '$[*] ? (@.type == \"ticket\")')")
    assert tables.rows(unconverted_only, ticket_type_id, conversation_id) == []
    second = call(conn, "convert_conversation_to_ticket", conversation_id, ticket_type_id)
    assert first["id"] != second["id"]
    linked = tables.one("SELECT linked_objects FROM intercom.conversations WHERE id = %s", conversation_id)
    assert [o["id"] for o in linked["linked_objects"] if o["type"] == "ticket"] == [first["id"], second["id"]]


def test_submit_event(conn, tables, contacts):
    contact_id = next(contacts)
    # Intercom lists a contact's events of the last 90 days only.
    created_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    result = call(conn, "submit_event", "upgraded-plan", created_at, contact_id, Jsonb({"plan": "pro", "seats": 3}))
    assert result == {"accepted": True}
    event = tables.one(
        "SELECT created_at, metadata FROM intercom.events WHERE contact_id = %s AND event_name = 'upgraded-plan'",
        contact_id)
    assert event["created_at"] == created_at
    assert event["metadata"] == {"plan": "pro", "seats": "3"}  # the API takes metadata values as strings


@pytest.mark.parametrize("function,subject,template,requested,answered", [
    ("create_email_message", "Welcome", "plain", "email", "email"),
    ("create_in_app_message", "Welcome", "personal", "in_app", "inapp"),  # in-app is spelled apart in answers
    ("create_in_app_message", None, None, "in_app", "inapp"),  # in-app needs no subject nor template
])
def test_create_message(conn, log, contacts, admin_id, function, subject, template, requested, answered):
    contact_id = next(contacts)
    message = call(conn, function, subject, "<p>Hello</p>", template, admin_id, "user", contact_id)
    assert (message["type"], message["message_type"], message["body"]) == ("admin_message", answered, "<p>Hello</p>")
    # Intercom offers no way to read a message back: the emulator's request log shows what reached it.
    sent = log.last_request()
    assert (sent["method"], sent["path"]) == ("POST", "/messages")
    assert (sent["body"]["message_type"], sent["body"]["to"]) == (requested, {"type": "user", "id": contact_id})


def test_create_and_update_ticket_type_attribute(conn, tables, ticket_type_id):
    created = call(conn, "create_ticket_type_attribute", ticket_type_id, "Serial number", "On the back", "string",
                   multiline=False)
    query = ("SELECT name, description, data_type, required_to_create, visible_to_contacts, archived "
             "FROM intercom.ticket_type_attributes WHERE ticket_type_id = %s AND id = %s")
    assert tables.one(query, ticket_type_id, created["id"]) == {
        "name": "Serial number", "description": "On the back", "data_type": "string",
        "required_to_create": False, "visible_to_contacts": True, "archived": False}

    call(conn, "update_ticket_type_attribute", ticket_type_id, created["id"],
         description="Printed on the back", archived=True)
    stored = tables.one(query, ticket_type_id, created["id"])
    assert (stored["name"], stored["description"], stored["archived"]) == ("Serial number", "Printed on the back", True)


def test_list_ticket_type_attribute_with_its_items(conn, tables, ticket_type_id):
    created = call(conn, "create_ticket_type_attribute", ticket_type_id, "Severity", "How bad", "list",
                   list_items="Low,Medium,High")
    query = "SELECT data_type, attrs FROM intercom.ticket_type_attributes WHERE ticket_type_id = %s AND id = %s"
    stored = tables.one(query, ticket_type_id, created["id"])
    labels = [o["label"] for o in stored["attrs"]["input_options"]["list_options"]]
    assert (stored["data_type"], labels) == ("list", ["Low", "Medium", "High"])

    call(conn, "update_ticket_type_attribute", ticket_type_id, created["id"], list_items="Low,Medium,High,Critical")
    stored = tables.one(query, ticket_type_id, created["id"])
    assert [o["label"] for o in stored["attrs"]["input_options"]["list_options"]][-1] == "Critical"


def test_list_attribute_without_items_fails_before_any_call(conn, log, ticket_type_id):
    sent = log.requests_sent()
    error = sql_error(conn, "create_ticket_type_attribute", ticket_type_id, "Severity", "How bad", "list")
    assert error.sqlstate == "22023"
    assert "argument list_items is required when data_type is list" in error.diag.message_primary
    assert log.requests_sent() == sent


def test_functions_run_over_rows_of_the_foreign_tables(tables, conversations, admin_id):
    """The FDW runtime and PL/Python in one backend, one statement: close what a query selects."""
    chosen = [next(conversations), next(conversations)]
    closed = tables.rows(
        "SELECT c.id, close_conversation(c.id, %s) ->> 'state' AS state FROM intercom.conversations c "
        "WHERE c.id = ANY(%s) ORDER BY c.id", admin_id, chosen)
    assert closed == [{"id": i, "state": "closed"} for i in sorted(chosen)]
    assert [tables.conversation(i)["state"] for i in chosen] == ["closed", "closed"]


# --- bad input: nothing reaches Intercom ---------------------------------------------------------

INVALID = [
    ("admin_reply_to_conversation", ("1", "quick_reply", "1", "x"), {}, "message_type", "comment, note"),
    ("assign_conversation", ("1", "user", "1", "1"), {}, "type", "admin, team"),
    ("create_email_message", ("s", "b", "fancy", "1", "user", "1"), {}, "template", "plain, personal"),
    ("create_in_app_message", ("s", "b", "fancy", "1", "user", "1"), {}, "template", "plain, personal"),
    ("create_ticket_type_attribute", ("1", "n", "d", "text"), {}, "data_type",
     "string, list, integer, decimal, boolean, datetime, files"),
]


@pytest.mark.parametrize("function,args,named,param,valid", INVALID, ids=[i[0] for i in INVALID])
def test_invalid_enumerations_fail_before_any_call(conn, log, function, args, named, param, valid):
    sent = log.requests_sent()
    error = sql_error(conn, function, *args, **named)
    assert error.sqlstate == "22023"
    assert f"argument {param} has invalid value" in error.diag.message_primary
    assert error.diag.message_primary.endswith(f"valid values: {valid}")
    assert error.diag.message_hint == f"use one of: {valid}"
    assert log.requests_sent() == sent


def test_event_metadata_with_more_than_ten_keys_fails_before_any_call(conn, log):
    sent = log.requests_sent()
    metadata = Jsonb({f"k{i}": "v" for i in range(11)})
    error = sql_error(conn, "submit_event", "e", "2026-01-01", "1", metadata)
    assert "argument metadata has 11 keys; Intercom accepts at most 10" in error.diag.message_primary
    assert log.requests_sent() == sent


def test_snooze_in_the_past_fails_before_any_call(conn, log):
    sent = log.requests_sent()
    error = sql_error(conn, "snooze_conversation", "1", "1", "2020-01-01 00:00:00+00")
    assert "argument snoozed_until is in the past" in error.diag.message_primary
    assert "now()" in error.diag.message_hint
    assert log.requests_sent() == sent


def test_null_required_argument_fails_before_any_call(conn, log):
    sent = log.requests_sent()
    error = sql_error(conn, "close_conversation", "1", None)
    assert "argument admin_id must not be NULL or empty" in error.diag.message_primary
    assert log.requests_sent() == sent


def test_intercom_rejection_is_reported_with_status_and_hint(conn, admin_id):
    error = sql_error(conn, "close_conversation", "no-such-conversation", admin_id)
    assert "intercom_fdw.close_conversation()" in error.diag.message_primary
    assert "HTTP status 404" in error.diag.message_detail


def test_a_very_long_id_is_shortened_in_the_error(conn):
    # The emulator's HTTP stack refuses a request line this long with a 400 and a plain-text body, as a
    # front end of Intercom would (a 400 or 414): the error names the id's start and length, not 100 KB of it.
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT archive_contact(repeat('z', 100000))")
    diag = caught.value.diag
    assert "POST /contacts/" + "z" * 40 + "…(100000 characters)/archive" in diag.message_primary
    assert len(diag.message_primary) < 500, diag.message_primary[:1000]
    assert "Intercom's message" not in diag.message_hint  # its answer was not Intercom's error list
    assert "too long" in diag.message_hint


# --- retries: never a second write ----------------------------------------------------------------

def test_writes_that_may_have_reached_intercom_are_not_retried(conn, tables, log, conversations, contacts, admin_id):
    """Every response is cut after Intercom acted: a close is sent once and happened once; archiving,
    which gives the same result however often it is sent, is retried."""
    conversation_id = next(conversations)
    contact_id = next(contacts)
    close_parts = "SELECT count(*) AS n FROM intercom.conversation_parts WHERE conversation_id = %s AND part_type = 'close'"
    closes_before = tables.one(close_parts, conversation_id)["n"]
    parts_sent, archives_sent = log.sent_to("POST /conversations/{id}/parts"), log.sent_to("POST /contacts/{id}/archive")
    log.set_knobs(drop_rate=1.0)
    try:
        closing = sql_error(conn, "close_conversation", conversation_id, admin_id)
        archiving = sql_error(conn, "archive_contact", contact_id)
    finally:
        log.set_knobs(drop_rate=0.0)
    assert closing.sqlstate == archiving.sqlstate == "HV000"
    assert "Intercom may have carried out this action" in closing.diag.message_detail
    assert log.sent_to("POST /conversations/{id}/parts") == parts_sent + 1
    assert log.sent_to("POST /contacts/{id}/archive") == archives_sent + 1 + MAX_RETRIES
    assert tables.one(close_parts, conversation_id)["n"] == closes_before + 1
    assert tables.conversation(conversation_id)["state"] == "closed"
    call(conn, "unarchive_contact", contact_id)


# --- whose token ----------------------------------------------------------------------------------

def test_role_without_user_mapping_is_told_how_to_create_one(pg, actions_db):
    with pg.connect(actions_db, user="carol") as carol:
        error = sql_error(carol, "archive_contact", "1")
    assert error.sqlstate == "28000"
    assert error.diag.message_primary.endswith('role "carol" has no user mapping for Intercom server "intercom"')
    assert error.diag.message_hint.startswith('CREATE USER MAPPING FOR "carol" SERVER "intercom"')


def test_each_role_uses_only_its_own_token(pg, actions_db, tables, contacts):
    """bob's mapping holds another workspace's token: alice's contact is unknown there, so bob can
    neither archive it nor, in the same backend right after alice, borrow alice's client."""
    contact_id = next(contacts)
    with pg.connect(actions_db) as session:
        session.execute("SET ROLE bob")
        assert "HTTP status 404" in sql_error(session, "archive_contact", contact_id).diag.message_detail
        session.execute("SET ROLE alice")
        assert call(session, "archive_contact", contact_id)["archived"] is True
        session.execute("SET ROLE bob")
        assert "HTTP status 404" in sql_error(session, "unarchive_contact", contact_id).diag.message_detail
        session.execute("SET ROLE carol")
        assert sql_error(session, "unarchive_contact", contact_id).sqlstate == "28000"
        session.execute("SET ROLE alice")
        call(session, "unarchive_contact", contact_id)
    assert contact_id in tables.contact_ids()


def test_a_wrong_token_never_shows_in_errors(pg, actions_db):
    token = "wrong-token-0123456789abcdef"
    with pg.connect(actions_db) as admin:
        admin.execute("CREATE ROLE dave LOGIN")
        admin.execute("GRANT USAGE ON FOREIGN SERVER intercom TO dave")
        admin.execute(sql.SQL("CREATE USER MAPPING FOR dave SERVER intercom OPTIONS (access_token {})").format(
            sql.Literal(token)))
    with pg.connect(actions_db, user="dave") as dave:
        error = sql_error(dave, "archive_contact", "1")
    assert error.sqlstate == "28000"
    assert "401" in error.diag.message_detail
    shown = " ".join(filter(None, [str(error), error.diag.message_detail, error.diag.message_hint, error.diag.context]))
    assert token not in shown
    assert token not in pg.log_tail(200)


# --- which server ---------------------------------------------------------------------------------

def test_several_servers_need_the_server_argument(pg, actions_db, tables, conversations, admin_id):
    conversation_id = next(conversations)
    with pg.connect(actions_db, autocommit=False) as session:
        session.execute(sql.SQL(
            "CREATE SERVER intercom_eu FOREIGN DATA WRAPPER multicorn "
            "OPTIONS (wrapper 'intercom_fdw.IntercomFdw', region 'eu')"))
        session.execute("SAVEPOINT before_call")
        error = sql_error(session, "close_conversation", conversation_id, admin_id)
        assert "there are several Intercom servers (intercom, intercom_eu)" in error.diag.message_primary
        assert "server => 'intercom'" in error.diag.message_hint
        session.execute("ROLLBACK TO SAVEPOINT before_call")
        call(session, "close_conversation", conversation_id, admin_id, server="intercom")
        session.rollback()
    assert tables.conversation(conversation_id)["state"] == "closed"


def test_unknown_server_argument(conn):
    error = sql_error(conn, "archive_contact", "1", server="nope")
    assert error.diag.message_primary.endswith('Intercom server "nope" does not exist')
    assert error.diag.message_hint == "Intercom servers here: intercom"


def test_extension_installs_every_function_in_the_chosen_schema(pg):
    name = pg.create_database("test_actions_sql_schema", extensions=("plpython3u",))
    with pg.connect(name) as session:
        session.execute("CREATE SCHEMA intercom_actions")
        session.execute("CREATE EXTENSION intercom_fdw SCHEMA intercom_actions")
        functions = session.execute("""
            SELECT p.proname, n.nspname, p.prosecdef, p.prorettype::regtype::text,
                   p.proargnames[p.pronargs], p.proargtypes[p.pronargs - 1]::regtype::text,
                   pg_get_expr(p.proargdefaults, 0) LIKE '%NULL::name'
            FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
            JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'intercom_fdw'
            WHERE p.proname NOT IN ('check_intercom_options', 'intercom_options_written', 'check_intercom_partitions',
                                  'intercom_partitions_before', 'intercom_partitions_made')
              AND n.nspname <> 'intercom_fdw'  -- replication's and sync's own (test_replication.py, test_sync.py)
              AND p.prokind = 'f'  -- not intercom_fdw.replicate(), a procedure (test_replication.py)""").fetchall()
        # No server in this database: the functions say how to create one.
        session.execute("SET search_path = intercom_actions")
        error = sql_error(session, "archive_contact", "1")
    assert {f[0] for f in functions} == set(ACTIONS_BY_NAME)
    assert {f[1:] for f in functions} == {("intercom_actions", False, "jsonb", "server", "name", True)}
    assert error.diag.message_primary.endswith("there is no Intercom server in this database")
    assert "CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn" in error.diag.message_hint
