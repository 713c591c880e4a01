"""What the extension's event trigger checks (option_checks.py): pure, no PostgreSQL."""
import pytest

from intercom_fdw.actions.option_checks import check_catalog_object, check_partitions
from intercom_fdw.errors import ConfigurationError, UnsupportedOperationError
from intercom_fdw.options import FdwOptions

TOKEN = "tok-unit-secret-777"


def error_of(*args) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as raised:
        check_catalog_object(*args)
    error = raised.value
    assert TOKEN not in f"{error.message} {error.hint} {error.detail}"
    return error


@pytest.mark.parametrize("kind,options,columns", [
    ("server", {"wrapper": "intercom_fdw.IntercomFdw", "region": "eu", "pushdown": "false"}, None),
    ("server", {"api_url": "http://127.0.0.1:9", "concurrency": "32", "max_retries": "0"}, None),
    ("server", {"api_url": "http://127.0.0.1:9", "scan_mode": "partitioned", "read_concurrency": "64"}, None),
    ("table", {"object": "contacts", "read_concurrency": "4"}, None),
    ("table", {"object": "tickets", "ticket_type_id": "3", "row_estimate": "10"},
     {"size": {"ticket_attribute": "size", "data_type": "integer"}}),
    ("user_mapping", {"access_token": TOKEN}, None),
])
def test_good_options_pass(kind, options, columns):
    check_catalog_object(kind, f"{kind} x", options, columns)


def test_the_message_names_the_object_and_the_hint_lists_valid_options():
    error = error_of("server", 'server "s"', {"regoin": "eu"})
    assert error.message == 'server "s": unknown server option regoin'
    assert "region" in error.hint and "api_url" in error.hint


def test_a_bad_region_fails():
    error = error_of("server", "server s", {"region": "mars"})
    assert "unknown Intercom region 'mars'" in error.message and "au, eu, us" in error.hint


def test_a_server_sets_exactly_one_of_region_and_api_url():
    # Either alone is fine; both (or neither) would let a foreign table decide where tokens go.
    for options in ({"region": "eu"}, {"api_url": "http://127.0.0.1:9"}):
        check_catalog_object("server", "server s", options)
    both = error_of("server", "server s", {"api_url": "http://127.0.0.1:9", "region": "eu"})
    assert both.message == "server s: both region and api_url are set" and "DROP api_url" in both.hint
    neither = error_of("server", "server s", {"pushdown": "true"})
    assert "neither region nor api_url" in neither.message and "ADD region 'us'" in neither.hint


def test_tables_need_a_known_object_and_valid_column_options():
    assert "no object option" in error_of("table", "t", {}).message
    assert "contacts" in error_of("table", "t", {"object": "contact"}).hint
    error = error_of("table", "t", {"object": "contacts"}, {"plan": {"custom_atribute": "plan"}})
    assert error.message == "t: column plan: unknown column option custom_atribute"
    assert "custom_attribute" in error.hint


def test_user_mappings_never_echo_the_token():
    error = error_of("user_mapping", "um", {"access_token": TOKEN, "region": "eu"})
    assert error.message == "um: unknown user mapping option region"
    assert "access_token" in error.hint
    assert "missing or empty" in error_of("user_mapping", "um", {"access_token": "  "}).message
    assert "missing or empty" in error_of("user_mapping", "um", {}).message


def test_on_conflict_defaults_to_skip_and_takes_three_values():
    assert FdwOptions.parse({"region": "us"}, require_token=False).on_conflict == "skip"
    for value in ("skip", "update", "error", " Update "):
        check_catalog_object("table", "t", {"object": "contacts", "on_conflict": value})
    assert FdwOptions.parse({"region": "us", "on_conflict": "UPDATE"}, require_token=False).on_conflict == "update"
    error = error_of("table", "t", {"object": "contacts", "on_conflict": "ignore"})
    assert error.message == "t: invalid value 'ignore' for option on_conflict"
    assert error.hint == "on_conflict takes 'skip', 'update', 'error' (default 'skip')"


LEAN_SERVER = {"wrapper": "intercom_fdw.IntercomFdw", "suppress_extended_requests": "true", "modify_batch_size": "10"}


def test_a_table_may_not_contradict_its_server():
    table = {"object": "articles", "suppress_extended_requests": "false"}
    error = error_of("table", "foreign table public.t", table, None, {"server lean": LEAN_SERVER})
    assert error.message == ("foreign table public.t: option suppress_extended_requests 'false' differs from the "
                             "value set on server lean ('true')")
    assert "the value of server lean would apply" in error.detail
    assert "OPTIONS (DROP suppress_extended_requests)" in error.hint and "same value" in error.hint
    error = error_of("table", "t", {"object": "contacts", "modify_batch_size": "20"}, None, {"server lean": LEAN_SERVER})
    assert "option modify_batch_size '20' differs from the value set on server lean ('10')" in error.message


def test_a_server_may_not_contradict_its_tables_and_the_hint_names_them():
    tables = {"foreign table public.b": {"object": "articles", "suppress_extended_requests": "false"},
              "foreign table public.a": {"object": "articles", "suppress_extended_requests": "off"},
              "foreign table public.c": {"object": "articles", "suppress_extended_requests": "on"},
              "foreign table public.d": {"object": "articles"}}
    error = error_of("server", "server lean", {"region": "us", "suppress_extended_requests": "true"}, None, tables)
    assert error.message == ("server lean: option suppress_extended_requests 'true' differs from the value set on "
                             "foreign table public.a ('off'), foreign table public.b ('false')")
    assert "from public.a, public.b (ALTER FOREIGN TABLE" in error.hint


@pytest.mark.parametrize("server,table", [
    ({"suppress_extended_requests": "true"}, {"suppress_extended_requests": "on"}),  # the same value
    ({"modify_batch_size": "10"}, {"modify_batch_size": " 10"}),
    ({"suppress_extended_requests": "true"}, {}),  # only one level sets it
    ({}, {"suppress_extended_requests": "false", "modify_batch_size": "5"}),
    ({"pushdown": "false", "concurrency": "2"}, {"on_conflict": "update"}),  # nothing in common
])
def test_a_table_and_its_server_agreeing_pass(server, table):
    check_catalog_object("table", "t", {"object": "articles", **table}, None, {"server s": server})
    check_catalog_object("server", "s", {"region": "us", **server}, None,
                         {"foreign table t": {"object": "articles", **table}})


def test_a_tables_server_name_must_be_its_servers():
    table = {"object": "contacts", "server_name": "evil"}
    error = error_of("table", "foreign table public.t", table, None, {"server prod": {"region": "us"}})
    assert "option server_name 'evil' is not the table's server (prod)" in error.message
    check_catalog_object("table", "t", {"object": "contacts", "server_name": "prod"}, None, {"server prod": {}})
    check_catalog_object("table", "t", {"object": "contacts", "server_name": "My Server"}, None,
                         {'server "My Server"': {}})


def test_a_foreign_partition_is_refused_where_the_runtime_cannot_route_into_it():
    with pytest.raises(UnsupportedOperationError) as raised:
        check_partitions([("public.ft", "public.sub"), ("public.ft", "public.parted"), ("public.ft2", "public.sub")],
                         runtime_routes_to_foreign_partitions=False)
    error = raised.value
    assert error.message == "public.ft cannot be a partition of public.sub on multicorn2 3.2 (nor public.ft2)"
    assert "BeginForeignInsert" in error.detail and "signal 11" in error.detail
    assert "query and write public.ft directly" in error.hint and "UNION ALL" in error.hint


def test_a_foreign_partition_passes_where_the_runtime_routes_into_it():
    check_partitions([("public.ft", "public.parted")], runtime_routes_to_foreign_partitions=True)
    check_partitions([], runtime_routes_to_foreign_partitions=False)
