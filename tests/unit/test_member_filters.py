"""Filter columns for membership filters (companies' tag_id, conversations' contact_id): the
planner's values and the engine's rows, the same with and without pushdown. No HTTP, no PostgreSQL."""
import pytest

from intercom_fdw import engine
from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions, plan_scan

COMPANIES = [
    {"id": "c1", "tags": {"tags": [{"id": "t1"}, {"id": "t2"}]}, "segments": {"segments": [{"id": "s1"}]}},
    {"id": "c2", "tags": {"tags": [{"id": "t2"}]}, "segments": {"segments": []}},
    {"id": "c3", "tags": {"tags": []}},
]


class ListClient:
    """Answers every request with the same objects (as the list endpoint would, unfiltered)."""

    def __init__(self, items):
        self.items, self.requests = items, []

    def iter_items(self, request):
        self.requests.append(request)
        return iter(self.items)

    def get_many(self, requests, concurrency=None):
        return [list(self.iter_items(r)) for r in requests]


def scan(conditions, pushdown=True, columns=("id", "tag_id", "segment_id"), items=COMPANIES):
    spec = SPECS["companies"]
    plan = plan_scan(spec, conditions, columns, options=ScanOptions(pushdown=pushdown))
    client = ListClient(items)
    return plan, client, list(engine.rows(plan, client, spec.columns, columns))


def test_tag_id_equality_reads_the_filtered_list():
    plan, client, _ = scan([Condition("tag_id", "=", "t1")])
    assert [(r.method, r.path, r.params.get("tag_id")) for r in client.requests] == [("GET", "/companies", "t1")]
    assert plan.member_values == (("tag_id", "tags.tags", "id", ("t1",)),)
    assert "tag_id is 't1' where the row's tags.tags holds that id, else NULL" in plan.explain()


@pytest.mark.parametrize("pushdown", [True, False])
def test_the_column_holds_the_wanted_id_the_company_carries(pushdown):
    _, client, rows = scan([Condition("tag_id", "in", ("t2", "t1"))], pushdown)
    # pushed: one filtered list per tag, and c1 (carrying both) comes back once
    assert len(client.requests) == (2 if pushdown else 1)
    assert [(r["id"], r["tag_id"], r["segment_id"]) for r in rows] == [("c1", "t2", None), ("c2", "t2", None),
                                                                        ("c3", None, None)]


def test_without_a_condition_the_column_is_null_and_nothing_is_filtered():
    plan, client, rows = scan([])
    assert plan.member_values == () and client.requests[0].path == "/companies/scroll"
    assert all(r["tag_id"] is None for r in rows)


def test_segment_id_without_pushdown_scans_and_marks_the_members():
    plan, client, rows = scan([Condition("segment_id", "=", "s1")], pushdown=False)
    assert client.requests[0].path == "/companies/scroll" and plan.pushed == ()
    assert [(r["id"], r["segment_id"]) for r in rows] == [("c1", "s1"), ("c2", None), ("c3", None)]


def test_contradicting_conditions_mark_no_row():
    _, _, rows = scan([Condition("tag_id", "=", "t1"), Condition("tag_id", "=", "t2")])
    assert all(r["tag_id"] is None for r in rows)


@pytest.mark.parametrize("table,column,field", [
    ("conversations", "contact_id", "contact_ids"), ("conversations", "tag_id", "tag_ids"),
    ("conversations", "teammate_id", "teammate_ids"), ("tickets", "contact_id", "contact_ids"),
])
def test_search_membership_fields_take_equality_and_in_only(table, column, field):
    one = plan_scan(SPECS[table], [Condition(column, "=", "x")], ["id"])
    assert one.calls[0].body["query"] == {"field": field, "operator": "=", "value": "x"}
    several = plan_scan(SPECS[table], [Condition(column, "in", ("x", "y"))], ["id"])
    assert several.calls[0].body["query"] == {"field": field, "operator": "IN", "value": ["x", "y"]}
    assert plan_scan(SPECS[table], [Condition(column, "<>", "1")], ["id"]).pushed == ()


def test_filter_columns_are_path_keys_even_without_pushdown():
    from intercom_fdw.planning import path_keys

    assert ((("tag_id",), 1) in path_keys(SPECS["companies"], pushdown=False)
            and (("segment_id",), 1) in path_keys(SPECS["companies"], pushdown=False))
    keys = [cols for cols, _ in path_keys(SPECS["companies"])]
    assert keys.count(("tag_id",)) == 1


def test_reading_an_unbound_filter_column_prices_the_scan_out():
    # a join on tag_id then runs as a parameterized nested loop, which binds it
    selected = plan_scan(SPECS["companies"], [], ["id", "tag_id"])
    assert selected.estimated_rows == 10 ** 9 and "tag_id NULL unless a WHERE tag_id = ... or a join's value" in " ".join(selected.notes)
    assert plan_scan(SPECS["companies"], [], ["id"]).estimated_rows == SPECS["companies"].row_estimate
    assert plan_scan(SPECS["companies"], [Condition("tag_id", "=", "t")], ["id", "tag_id"]).estimated_rows < 10
    assert plan_scan(SPECS["companies"], [Condition("id", "=", "c")], ["id", "tag_id"]).estimated_rows == 1
