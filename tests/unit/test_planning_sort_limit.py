"""ORDER BY through the search API's sort, and LIMIT on companies without the scroll: pure planning."""
import pytest

from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions, SortKey, plan_scan, supported_sortkeys
from intercom_fdw.spec import Endpoint, ObjectSpec, search_orderings, text, timestamp

NOW = 1_750_000_000
NEWEST_FIRST = [SortKey("created_at", True)]


def plan(table, conditions=(), sortkeys=(), limit=None, offset=None, **options):
    return plan_scan(SPECS[table], conditions, ("id",), sortkeys, limit, offset, ScanOptions(now=NOW, **options))


def only_call(scan_plan):
    assert len(scan_plan.calls) == 1, scan_plan.calls
    return scan_plan.calls[0]


@pytest.mark.parametrize("table,path", [("contacts", "/contacts/search"), ("conversations", "/conversations/search"),
                                        ("tickets", "/tickets/search")])
def test_newest_first_with_a_limit_is_one_sorted_search_page(table, path):
    assert supported_sortkeys(SPECS[table], NEWEST_FIRST) == NEWEST_FIRST
    scan_plan = plan(table, sortkeys=NEWEST_FIRST, limit=10)
    call = only_call(scan_plan)
    assert (call.method, call.path) == ("POST", path)
    assert call.body == {"query": {"field": "created_at", "operator": ">", "value": 0},
                         "sort": {"field": "created_at", "order": "descending"}}
    assert (call.per_page, call.max_items, scan_plan.sort_locally) == (10, 10, ())
    assert scan_plan.expected_calls == "1"


def test_ascending_order_and_updated_at():
    call = only_call(plan("contacts", sortkeys=[SortKey("updated_at", False)], limit=3))
    assert call.body["sort"] == {"field": "updated_at", "order": "ascending"}


def test_a_pushed_search_carries_the_sort_and_pages_fully_without_a_limit():
    # With WHERE, PostgreSQL keeps LIMIT for itself: rows stream and it stops pulling, so the page
    # stays at the largest size (one call serves LIMIT <= 150).
    scan_plan = plan("contacts", [Condition("email", "like", "ann%")], sortkeys=NEWEST_FIRST)
    call = only_call(scan_plan)
    assert call.body == {"query": {"field": "email", "operator": "^", "value": "ann"},
                         "sort": {"field": "created_at", "order": "descending"}}
    assert (call.per_page, call.max_items, scan_plan.sort_locally) == (150, None, ())
    assert "sorted by created_at DESC" in scan_plan.explain()[0]


def test_a_condition_search_cannot_serve_still_gets_the_sorted_search():
    scan_plan = plan("contacts", [Condition("name", "like", "%a_b%")], sortkeys=NEWEST_FIRST)
    call = only_call(scan_plan)
    assert call.body["sort"] == {"field": "created_at", "order": "descending"} and scan_plan.sort_locally == ()
    assert scan_plan.pushed == ()


def test_ticket_type_table_sorts_within_its_type():
    scan_plan = plan("tickets", sortkeys=[SortKey("updated_at", False)], limit=5,
                     table_options={"ticket_type_id": "7"})
    assert only_call(scan_plan).body == {"query": {"field": "ticket_type_id", "operator": "=", "value": "7"},
                                         "sort": {"field": "updated_at", "order": "ascending"}}


def test_lookups_sort_locally():
    scan_plan = plan("contacts", [Condition("id", "in", ("a", "b"))], sortkeys=NEWEST_FIRST, limit=1)
    assert scan_plan.sort_locally == (("created_at", True),) and scan_plan.row_limit is None


@pytest.mark.parametrize("keys", [
    [SortKey("email", False)],  # text: Intercom's collation is not PostgreSQL's
    [SortKey("last_seen_at", True)],  # may be missing: where Intercom puts those is not documented
    [SortKey("created_at", True), SortKey("id", False)],  # one key only
])
def test_orders_the_search_does_not_guarantee_are_not_claimed(keys):
    assert supported_sortkeys(SPECS["contacts"], keys) == []
    assert plan("contacts", sortkeys=keys).sort_locally == tuple((k.column, k.descending) for k in keys)


def test_no_sort_is_claimed_without_pushdown():
    assert supported_sortkeys(SPECS["contacts"], NEWEST_FIRST, pushdown=False) == []
    assert only_call(plan("contacts", sortkeys=NEWEST_FIRST, pushdown=False)).path == "/contacts"


def test_search_orderings_are_on_search_fields_of_timestamps():
    for spec in SPECS.values():
        for ordering in spec.orderings:
            if ordering.search_sort:
                assert spec.search_field(ordering.column).field == ordering.search_sort
                assert spec.column(ordering.column).convert == "unix_timestamp", (spec.table, ordering)


def test_a_search_ordering_needs_a_match_everything_query():
    with pytest.raises(ValueError, match="match_all"):
        ObjectSpec("things", (text("id"), timestamp("created_at")),
                   search=Endpoint("POST", "/things/search", "search"), orderings=search_orderings("created_at"))


# -- companies: LIMIT reads GET /companies, never the scroll ----------------------------------------

def test_companies_limit_reads_the_page_numbered_list_sized_to_the_limit():
    scan_plan = plan("companies", limit=5)
    call = only_call(scan_plan)
    assert (call.method, call.path, call.paging, call.per_page, call.max_items) == ("GET", "/companies", "page", 5, 5)
    assert scan_plan.expected_calls == "1"
    assert only_call(plan("companies", limit=5, offset=3)).per_page == 8
    assert only_call(plan("companies", limit=500)).per_page == 60


@pytest.mark.parametrize("kwargs", [
    {},  # a full scan
    {"limit": 20_000},  # beyond the plain list's 10,000
    {"limit": 5, "conditions": [Condition("industry", "=", "x")]},  # PostgreSQL filters: no LIMIT pushed
    {"limit": 5, "sortkeys": [SortKey("name", False)]},  # sorted locally: every row is needed
])
def test_companies_scroll_otherwise(kwargs):
    assert only_call(plan("companies", **kwargs)).paging == "scroll"


def test_companies_ordered_limit_keeps_the_ordered_list():
    call = only_call(plan("companies", sortkeys=[SortKey("last_request_at", True)], limit=5))
    assert (call.path, call.per_page) == ("/companies/list", 5)


def test_company_children_still_scroll_their_parent():
    assert plan("company_contacts", limit=5).child_calls.parent_plan.calls[0].paging == "scroll"
