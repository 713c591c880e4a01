"""ORDER BY through the search API's sort, and LIMIT on companies without the scroll, through
PostgreSQL against the emulator: calls counted by the emulator, results compared with the twin on
the server with pushdown 'false'.

This module has a workspace of its own: the companies test times a full scan, which a scroll left
open by another module would delay by a minute.
"""
import math
import time

import pytest

from tests.emulator_fixtures import running_emulator

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator() as server:
        yield server


def assert_same_order(pushed, plain, sort_column=1):
    """Rows in the same order of the sort column; ties may come in any order, so rows compare as sets."""
    assert [r[sort_column] for r in pushed] == [r[sort_column] for r in plain]
    if len(pushed) > 1:
        boundary = pushed[-1][sort_column]
        assert {r for r in pushed if r[sort_column] != boundary} == {r for r in plain if r[sort_column] != boundary}


def twin(read_db, query):
    return read_db.rows(query.format(schema="intercom")), read_db.rows(query.format(schema="intercom_plain"))


@pytest.mark.parametrize("table,order,route", [
    ("contacts", "created_at DESC", "POST /contacts/search"),
    ("contacts", "updated_at", "POST /contacts/search"),
    ("conversations", "created_at DESC", "POST /conversations/search"),
    ("conversations", "updated_at DESC", "POST /conversations/search"),
    ("tickets", "created_at", "POST /tickets/search"),
])
def test_order_by_with_limit_reads_one_sorted_page(read_db, table, order, route):
    column = order.split()[0]
    query = f"SELECT id, {column} FROM {{schema}}.{table} ORDER BY {order} LIMIT 10"
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert len(rows) == 10 and routes == {route: 1}
    assert "Sort" not in read_db.explain(query.format(schema="intercom"))  # PostgreSQL trusts the API's order
    assert_same_order(*twin(read_db, query))


def test_explain_verbose_shows_the_sort(read_db):
    text = read_db.explain("SELECT id FROM intercom.contacts ORDER BY created_at DESC LIMIT 10", verbose=True)
    assert '"sort": {"field": "created_at", "order": "descending"}' in text
    assert "sorted by created_at DESC" in text and "Expected API calls: 1" in text


def test_where_pushed_into_search_keeps_the_order_and_stops_after_the_limit(read_db, api):
    # Matches every contact (more than one page of 150): with WHERE, PostgreSQL keeps LIMIT for
    # itself and stops pulling rows; the engine must then not fetch the second page.
    assert len(api.all("/contacts")) > 150
    query = ("SELECT id, created_at FROM {schema}.contacts WHERE created_at > '2000-01-01' "
             "ORDER BY created_at DESC LIMIT 10")
    assert "POST /contacts/search" in read_db.explain(query.format(schema="intercom"))
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert len(rows) == 10 and routes == {"POST /contacts/search": 1}
    assert_same_order(*twin(read_db, query))


def test_where_left_to_postgres_still_reads_the_sorted_search(read_db):
    query = ("SELECT id, updated_at FROM {schema}.conversations WHERE id ~ '[0-9]' "
             "ORDER BY updated_at DESC LIMIT 5")
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert len(rows) == 5 and routes == {"POST /conversations/search": 1}
    assert_same_order(*twin(read_db, query))


def test_sorted_scan_without_limit_reads_everything_in_order(read_db, api):
    n = len(api.all("/contacts"))
    query = "SELECT id, created_at FROM {schema}.contacts ORDER BY created_at"
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert len(rows) == n and routes == {"POST /contacts/search": math.ceil(n / 150)}
    pushed, plain = twin(read_db, query)
    assert [r[1] for r in pushed] == [r[1] for r in plain] and sorted(pushed) == sorted(plain)


def test_ticket_type_table_in_order(read_db):
    table = read_db.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'intercom' "
                         "AND table_name LIKE '%\\_tickets' ORDER BY 1")[0][0]
    query = f"SELECT id, updated_at FROM {{schema}}.{table} ORDER BY updated_at DESC LIMIT 3"
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert rows and routes == {"POST /tickets/search": 1}
    assert_same_order(*twin(read_db, query))


def test_orders_the_api_cannot_guarantee_are_sorted_by_postgres(read_db):
    # email: text (Intercom's collation differs); last_seen_at: may be NULL (placement undocumented)
    for order in ("email", "last_seen_at DESC"):
        query = f"SELECT id, {order.split()[0]} FROM {{schema}}.contacts ORDER BY {order} LIMIT 10"
        assert "Sort" in read_db.explain(query.format(schema="intercom"))
        assert_same_order(*twin(read_db, query))


def test_nulls_placed_otherwise_than_by_default_are_sorted_by_postgres(read_db):
    # PostgreSQL trusts a claimed order completely: the API's order (and the engine's local sort)
    # put NULLs where PostgreSQL does by default, so a query asking otherwise is sorted by PostgreSQL.
    for table, order in (("articles", "updated_at DESC NULLS LAST"), ("companies", "last_request_at NULLS FIRST"),
                         ("contacts", "created_at DESC NULLS LAST")):
        query = f"SELECT id, {order.split()[0]} FROM {{schema}}.{table} ORDER BY {order} LIMIT 10"
        assert "Sort" in read_db.explain(query.format(schema="intercom")), query
        assert_same_order(*twin(read_db, query))
    # the default placement, said explicitly, is still the API's order
    assert "Sort" not in read_db.explain("SELECT id FROM intercom.articles ORDER BY updated_at DESC NULLS FIRST")


def test_companies_limit_leaves_no_scroll_open(read_db, api):
    every = {r[0] for r in read_db.rows("SELECT id FROM intercom_plain.companies")}  # a whole scroll: closed
    rows, routes = read_db.calls("SELECT id, name FROM intercom.companies LIMIT 5")
    assert len(rows) == 5 and {r[0] for r in rows} <= every and routes == {"GET /companies": 1}

    # An abandoned scroll would make this scan wait a minute for Intercom to expire it.
    started = time.monotonic()
    rows, routes = read_db.calls("SELECT id FROM intercom.companies")
    assert time.monotonic() - started < 15
    assert {r[0] for r in rows} == every
    # the scroll's pages of 50, then the empty page that ends it
    assert routes == {"GET /companies/scroll": math.ceil(len(every) / 50) + 1}


def test_companies_limit_offset_is_exact(read_db):
    rows, routes = read_db.calls("SELECT id FROM intercom.companies LIMIT 3 OFFSET 4")
    assert routes == {"GET /companies": 1}
    listed = [c["id"] for c in read_db.api.get("/companies", per_page=7, page=1)["data"]]
    assert [r[0] for r in rows] == listed[4:7]
