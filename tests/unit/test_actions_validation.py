"""Pure tests of the action functions' Python side: argument checks, request planning (held to the
OpenAPI file), server and user mapping choice, and the generated extension script."""
import pytest
import requests
from openapi_core.contrib.requests import RequestsOpenAPIRequest

from intercom_fdw.actions import connection as conn
from intercom_fdw.actions.definitions import ACTIONS, ACTIONS_BY_NAME
from intercom_fdw.actions.sqlgen import extension_script, option_check_sql, partition_check_sql
from intercom_fdw.errors import AuthenticationError, ConfigurationError
from intercom_fdw.sync.sqlgen import sync_sql
from tests.harness.openapi_file import REPO
from tests.harness.openapi_file import openapi as load_openapi

NOW = 1_700_000_000
LATER = NOW + 3600

# Every function's parameters, in order, as the product's action list gives them (the server comes last, separately).
SIGNATURES = {
    "archive_contact": ["id"],
    "unarchive_contact": ["id"],
    "contact_reply_to_conversation": ["conversation_id", "intercom_user_id", "body"],
    "admin_reply_to_conversation": ["conversation_id", "message_type", "admin_id", "body"],
    "add_tag_to_conversation": ["conversation_id", "admin_id", "tag_id"],
    "remove_tag_from_conversation": ["conversation_id", "tag_id", "admin_id"],
    "close_conversation": ["conversation_id", "admin_id"],
    "snooze_conversation": ["conversation_id", "admin_id", "snoozed_until"],
    "open_conversation": ["conversation_id", "admin_id"],
    "assign_conversation": ["conversation_id", "type", "admin_id", "assignee_id"],
    "convert_conversation_to_ticket": ["conversation_id", "ticket_type_id"],
    "submit_event": ["event_name", "created_at", "id", "metadata"],
    "create_email_message": ["subject", "body", "template", "from_id", "to_type", "to_id"],
    "create_in_app_message": ["subject", "body", "template", "from_id", "to_type", "to_id"],
    "create_ticket_type_attribute": [
        "ticket_type_id", "name", "description", "data_type", "required_to_create",
        "required_to_create_for_contacts", "visible_on_create", "visible_to_contacts", "multiline",
        "allow_multiple_values", "list_items",
    ],
    "update_ticket_type_attribute": [
        "ticket_type_id", "attribute_id", "name", "description", "required_to_create",
        "required_to_create_for_contacts", "visible_on_create", "visible_to_contacts", "multiline",
        "allow_multiple_values", "archived", "list_items",
    ],
}

# (action, SQL argument values after PL/Python conversion, expected method, path, body)
CASES = [
    ("archive_contact", ["c1"], "POST", "/contacts/c1/archive", None),
    ("unarchive_contact", ["c1"], "POST", "/contacts/c1/unarchive", None),
    ("contact_reply_to_conversation", ["7", "u1", "hi"], "POST", "/conversations/7/reply",
     {"message_type": "comment", "type": "user", "intercom_user_id": "u1", "body": "hi"}),
    ("admin_reply_to_conversation", ["7", "note", "9", "hi"], "POST", "/conversations/7/reply",
     {"message_type": "note", "type": "admin", "admin_id": "9", "body": "hi"}),
    ("add_tag_to_conversation", ["7", "9", "t1"], "POST", "/conversations/7/tags",
     {"id": "t1", "admin_id": "9"}),
    ("remove_tag_from_conversation", ["7", "t1", "9"], "DELETE", "/conversations/7/tags/t1",
     {"admin_id": "9"}),
    ("close_conversation", ["7", "9"], "POST", "/conversations/7/parts",
     {"message_type": "close", "type": "admin", "admin_id": "9"}),
    ("snooze_conversation", ["7", "9", LATER], "POST", "/conversations/7/parts",
     {"message_type": "snoozed", "admin_id": "9", "snoozed_until": LATER}),
    ("open_conversation", ["7", "9"], "POST", "/conversations/7/parts",
     {"message_type": "open", "admin_id": "9"}),
    ("assign_conversation", ["7", "team", "9", "42"], "POST", "/conversations/7/parts",
     {"message_type": "assignment", "type": "team", "admin_id": "9", "assignee_id": "42"}),
    ("convert_conversation_to_ticket", ["7", "3"], "POST", "/conversations/7/convert",
     {"ticket_type_id": "3"}),
    ("submit_event", ["ordered", NOW, "c1", {"plan": "pro", "n": 3}], "POST", "/events",
     {"event_name": "ordered", "created_at": NOW, "id": "c1", "metadata": {"plan": "pro", "n": "3"}}),
    ("submit_event", ["ordered", NOW, "c1", None], "POST", "/events",
     {"event_name": "ordered", "created_at": NOW, "id": "c1"}),
    ("create_email_message", ["S", "B", "plain", "9", "user", "c1"], "POST", "/messages",
     {"message_type": "email", "subject": "S", "body": "B", "template": "plain",
      "from": {"type": "admin", "id": 9}, "to": {"type": "user", "id": "c1"}}),
    ("create_in_app_message", ["S", "B", "personal", "9", "lead", "c1"], "POST", "/messages",
     {"message_type": "in_app", "subject": "S", "body": "B", "template": "personal",
      "from": {"type": "admin", "id": 9}, "to": {"type": "lead", "id": "c1"}}),
    ("create_in_app_message", [None, "B", None, "9", "user", "c1"], "POST", "/messages",
     {"message_type": "in_app", "body": "B", "from": {"type": "admin", "id": 9}, "to": {"type": "user", "id": "c1"}}),
    ("create_ticket_type_attribute", ["3", "Size", "How big", "list", False, False, True, True, None, None, "S,M, L"],
     "POST", "/ticket_types/3/attributes",
     {"name": "Size", "description": "How big", "data_type": "list", "required_to_create": False,
      "required_to_create_for_contacts": False, "visible_on_create": True, "visible_to_contacts": True,
      "list_items": "S,M, L"}),
    ("create_ticket_type_attribute", ["3", "Serial", "On the back", "string", False, False, True, True, None, None,
                                      None],
     "POST", "/ticket_types/3/attributes",
     {"name": "Serial", "description": "On the back", "data_type": "string", "required_to_create": False,
      "required_to_create_for_contacts": False, "visible_on_create": True, "visible_to_contacts": True}),
    ("update_ticket_type_attribute", ["3", "8", None, "Bigger", None, None, None, None, None, None, True, None],
     "PUT", "/ticket_types/3/attributes/8", {"description": "Bigger", "archived": True}),
    ("update_ticket_type_attribute", ["3", "8", None, None, None, None, None, None, None, None, None, "S,M,L,XL"],
     "PUT", "/ticket_types/3/attributes/8", {"list_items": "S,M,L,XL"}),
]


@pytest.fixture(scope="module")
def openapi():
    return load_openapi()


def test_functions_have_the_issues_parameters():
    assert {a.name: [p.name for p in a.params] for a in ACTIONS} == SIGNATURES


def test_every_action_has_a_planning_case():
    assert {case[0] for case in CASES} == set(ACTIONS_BY_NAME)


@pytest.mark.parametrize("name,values,method,path,body", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_plan_sends_the_documented_request(name, values, method, path, body, openapi):
    action = ACTIONS_BY_NAME[name]
    call = action.plan(action.bind(values, now=NOW))
    assert (call.method, call.path, call.body) == (method, path, body)
    # The request must satisfy Intercom's published contract, not only our expectation of it.
    prepared = requests.Request(
        method, "https://api.intercom.io" + path, json=body,
        headers={"Authorization": "Bearer test", "Intercom-Version": "2.14"},
    ).prepare()
    openapi.validate_request(RequestsOpenAPIRequest(prepared))


def test_only_state_setting_actions_may_be_retried():
    retried = {a.name for a in ACTIONS if a.idempotent}
    assert retried == {"archive_contact", "unarchive_contact", "add_tag_to_conversation",
                       "update_ticket_type_attribute"}


def test_a_script_older_than_the_package_is_detected():
    with pytest.raises(ConfigurationError) as caught:
        ACTIONS_BY_NAME["close_conversation"].bind(["7"], now=NOW)
    assert caught.value.message == "takes 2 arguments besides server, got 1"
    assert "make -C sql install" in caught.value.hint


def test_path_arguments_are_url_quoted():
    action = ACTIONS_BY_NAME["archive_contact"]
    assert action.plan(action.bind(["a/b?c"], now=NOW)).path == "/contacts/a%2Fb%3Fc/archive"


def _error(name, values):
    action = ACTIONS_BY_NAME[name]
    with pytest.raises(ConfigurationError) as caught:
        action.bind(values, now=NOW)
    return caught.value


@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_arguments_must_be_given(value):
    error = _error("close_conversation", ["7", value])
    assert error.message == "argument admin_id must not be NULL or empty"
    assert error.hint == "pass a value for admin_id"


@pytest.mark.parametrize("name,values,param,valid", [
    ("admin_reply_to_conversation", ["7", "quick_reply", "9", "hi"], "message_type", "comment, note"),
    ("assign_conversation", ["7", "user", "9", "1"], "type", "admin, team"),
    ("create_email_message", ["S", "B", "fancy", "9", "user", "c"], "template", "plain, personal"),
    ("create_in_app_message", ["S", "B", "Plain", "9", "user", "c"], "template", "plain, personal"),
    ("create_email_message", ["S", "B", "plain", "9", "contact", "c"], "to_type", "user, lead"),
    ("create_ticket_type_attribute", ["3", "n", "d", "text", False, False, True, True, None, None, None],
     "data_type", "string, list, integer, decimal, boolean, datetime, files"),
])
def test_enumerations_list_the_valid_values(name, values, param, valid):
    error = _error(name, values)
    assert error.message.startswith(f"argument {param} has invalid value ")
    assert error.message.endswith(f"valid values: {valid}")
    assert error.hint == f"use one of: {valid}"


_ATTRIBUTE = ["3", "Size", "How big"]
_FLAGS = [False, False, True, True, None, None]


@pytest.mark.parametrize("name,values,message,hint", [
    ("create_ticket_type_attribute", [*_ATTRIBUTE, "list", *_FLAGS, None],
     "argument list_items is required when data_type is list", "like list_items => 'Low,Medium,High'"),
    ("create_ticket_type_attribute", [*_ATTRIBUTE, "string", *_FLAGS, "S,M"],
     "argument list_items applies only to data_type list, not string", "leave list_items out"),
    ("create_ticket_type_attribute", [*_ATTRIBUTE, "list", *_FLAGS, "S,,M"],
     "argument list_items has an empty item in 'S,,M'", "separated by commas"),
    ("create_ticket_type_attribute", [*_ATTRIBUTE, "list", *_FLAGS, "S,M,S"],
     "argument list_items names 'S' more than once", "name each item once"),
    ("update_ticket_type_attribute", ["3", "8", *[None] * 9, "S, "],
     "argument list_items has an empty item in 'S, '", "separated by commas"),
])
def test_list_items_follow_intercoms_format(name, values, message, hint):
    error = _error(name, values)
    assert error.message == message
    assert hint in error.hint


def test_event_metadata_takes_at_most_ten_keys():
    ten = {f"k{i}": i for i in range(10)}
    ACTIONS_BY_NAME["submit_event"].bind(["e", NOW, "c", ten], now=NOW)
    error = _error("submit_event", ["e", NOW, "c", {**ten, "k10": 10}])
    assert error.message == "argument metadata has 11 keys; Intercom accepts at most 10"


def test_event_metadata_must_be_an_object():
    error = _error("submit_event", ["e", NOW, "c", [1, 2]])
    assert "must be a JSON object" in error.message


@pytest.mark.parametrize("bad", [None, {"a": 1}, [1]])
def test_event_metadata_values_need_a_string_form(bad):
    # The OpenAPI file declares metadata values as strings (additionalProperties: string).
    error = _error("submit_event", ["e", NOW, "c", {"k": bad}])
    assert error.message.startswith("argument metadata has invalid value")
    assert error.hint == "metadata values must be strings, numbers or booleans"


@pytest.mark.parametrize("snoozed_until", [NOW - 1, NOW])
def test_snooze_must_end_in_the_future(snoozed_until):
    error = _error("snooze_conversation", ["7", "9", snoozed_until])
    assert error.message == "argument snoozed_until is in the past"


def test_email_messages_need_a_subject():
    assert _error("create_email_message", [None, "B", "plain", "9", "user", "c"]).message == (
        "argument subject must not be NULL or empty")


def test_message_sender_must_be_a_numeric_admin_id():
    error = _error("create_email_message", ["S", "B", "plain", "admin-9", "user", "c"])
    assert error.message == "argument from_id has invalid value 'admin-9'"
    assert "numeric" in error.hint


# --- server and user mapping --------------------------------------------------------------

INTERCOM = {"wrapper": conn.WRAPPER_CLASS}


def test_the_only_intercom_server_is_chosen():
    servers = [("other", {"wrapper": "x.Y"}), ("ic", INTERCOM)]
    assert conn.choose_server(servers, None) == "ic"
    assert conn.choose_server(servers, "ic") == "ic"


def test_several_intercom_servers_need_a_name():
    with pytest.raises(ConfigurationError) as caught:
        conn.choose_server([("a", INTERCOM), ("b", INTERCOM)], None)
    assert caught.value.message == "there are several Intercom servers (a, b): say which one to use"
    assert "server => 'a'" in caught.value.hint


def test_no_intercom_server_says_how_to_create_one():
    with pytest.raises(ConfigurationError) as caught:
        conn.choose_server([("other", {"wrapper": "x.Y"})], None)
    assert "CREATE SERVER" in caught.value.hint


@pytest.mark.parametrize("requested,message", [
    ("other", 'server "other" is not an Intercom server'),
    ("nope", 'Intercom server "nope" does not exist'),
])
def test_a_named_server_must_be_an_intercom_server(requested, message):
    with pytest.raises(ConfigurationError) as caught:
        conn.choose_server([("other", {"wrapper": "x.Y"}), ("ic", INTERCOM)], requested)
    assert caught.value.message == message
    assert "ic" in caught.value.hint


def test_connection_from_options():
    c = conn.server_connection("ic", {"region": "eu", "api_version": "2.13"}, "alice", True, {"access_token": "tok"})
    assert (c.base_url, c.api_version, c.token) == ("https://api.eu.intercom.io", "2.13", "tok")
    c = conn.server_connection("ic", {"api_url": "http://127.0.0.1:9/", "read_timeout": "5"}, "alice", True,
                               {"access_token": "tok"})
    assert (c.base_url, c.api_version, c.client_options()["read_timeout"]) == ("http://127.0.0.1:9", "2.14", 5.0)
    assert "tok" not in repr(c)


def test_a_role_without_a_mapping_is_told_how_to_create_one():
    with pytest.raises(AuthenticationError) as caught:
        conn.server_connection("ic", {}, "bob", True, None)
    assert caught.value.message == 'role "bob" has no user mapping for Intercom server "ic"'
    assert caught.value.hint == "CREATE USER MAPPING FOR \"bob\" SERVER \"ic\" OPTIONS (access_token '...');"


def test_a_mapping_without_token_is_rejected():
    with pytest.raises(AuthenticationError) as caught:
        conn.server_connection("ic", {}, "bob", True, {"other": "x"})
    assert "ALTER USER MAPPING" in caught.value.hint


def test_a_role_without_usage_is_told_what_to_grant():
    with pytest.raises(ConfigurationError) as caught:
        conn.server_connection("ic", {}, "bob", False, {"access_token": "tok"})
    assert caught.value.hint == 'GRANT USAGE ON FOREIGN SERVER "ic" TO "bob";'


def test_options_arrays_are_parsed():
    assert conn.parse_options(["wrapper=a.B", "api_url=http://h/?a=b"]) == {"wrapper": "a.B", "api_url": "http://h/?a=b"}
    assert conn.parse_options(None) == {}


# --- the extension script ------------------------------------------------------------------

def test_extension_script_is_generated_from_the_definitions():
    committed = (REPO / "sql" / "intercom_fdw--0.1.0.sql").read_text()
    assert committed == extension_script(), "run: python -m intercom_fdw.actions.sqlgen > sql/intercom_fdw--0.1.0.sql"


def test_every_function_takes_an_optional_server_last():
    # the event triggers' functions take no server; sync's trigger function neither (its procedure does)
    script = extension_script().replace(option_check_sql(), "").replace(partition_check_sql(), "").replace(sync_sql(), "")
    assert script.count("CREATE FUNCTION") == len(ACTIONS)
    assert script.count("    server name DEFAULT NULL\n)") == len(ACTIONS)


def test_the_extension_readme_lists_every_function():
    readme = (REPO / "sql" / "README.md").read_text()
    assert [a.name for a in ACTIONS if f"`{a.name}(" not in readme] == []
