"""Custom field columns in the search: search fields derived from column options, with the same
widening rules as the spec's own fields. Pure: no HTTP, no PostgreSQL."""
import datetime as dt

import pytest

from intercom_fdw.custom_fields import custom_search_fields, table_spec
from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions, path_keys, plan_scan
from intercom_fdw.planning.search import DATE_MARGIN

CONTACT_CUSTOM = [
    ("plan_tier", "character varying(255)", {"custom_attribute": "plan_tier", "data_type": "string"}),
    ("seats", "integer", {"custom_attribute": "seats", "data_type": "integer"}),
    ("lifetime_value", "double precision", {"custom_attribute": "lifetime_value", "data_type": "float"}),
    ("is_vip", "boolean", {"custom_attribute": "is_vip", "data_type": "boolean"}),
    ("trial_ends_at", "date", {"custom_attribute": "trial_ends_at", "data_type": "date"}),
    ("favourite_things", "text", {"custom_attribute": "favourite things", "data_type": "options"}),
    ("uploads", "jsonb", {"custom_attribute": "uploads", "data_type": "files"}),
]


def spec_with(table, custom, own=("id",)):
    declared = [(name, SPECS[table].column(name).pg_type, {}) for name in own] + list(custom)
    return table_spec(SPECS[table], declared)


def search_query(spec, *conditions):
    plan = plan_scan(spec, conditions, ["id"], options=ScanOptions(now=1_750_000_000))
    assert plan.calls[0].path.endswith("/search"), plan.explain()
    return plan.calls[0].body["query"], plan


def leaves(query):
    if "field" in query:
        return [query]
    return [leaf for child in query["value"] for leaf in leaves(child)]


def day(text):
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp())


def test_contact_custom_fields_become_search_fields_of_their_kind():
    fields = {f.column: (f.field, f.kind) for f in spec_with("contacts", CONTACT_CUSTOM).search_fields
              if f.field.startswith("custom_attributes.")}
    assert fields == {
        "plan_tier": ("custom_attributes.plan_tier", "string"), "seats": ("custom_attributes.seats", "integer"),
        "lifetime_value": ("custom_attributes.lifetime_value", "float"),
        "is_vip": ("custom_attributes.is_vip", "boolean"), "trial_ends_at": ("custom_attributes.trial_ends_at", "day"),
        "favourite_things": ("custom_attributes.favourite things", "string"),
    }  # files (jsonb) are not searchable


def test_the_example_query_is_one_search_with_both_filters():
    query, plan = search_query(spec_with("contacts", CONTACT_CUSTOM), Condition("plan_tier", "=", "enterprise"),
                               Condition("seats", ">", 100))
    assert sorted(leaves(query), key=str) == sorted([
        {"field": "custom_attributes.plan_tier", "operator": "=", "value": "enterprise"},
        {"field": "custom_attributes.seats", "operator": ">", "value": 100}], key=str)
    assert "plan_tier = 'enterprise'" in plan.pushed and "seats > 100" in plan.pushed


def test_columns_without_a_recorded_data_type_are_not_searched():
    # A wrong-typed search value is an API error; a hand-written text column may hold any attribute.
    spec = spec_with("contacts", [("plan", "text", {"custom_attribute": "plan"})])
    assert spec.search_field("plan") is None
    plan = plan_scan(spec, [Condition("plan", "=", "x")], ["id"])
    assert plan.strategy == "full scan" and plan.pushed == ()


def test_companies_have_no_search_so_no_custom_search_fields():
    spec = spec_with("companies", [("account_tier", "character varying(255)",
                                    {"custom_attribute": "account_tier", "data_type": "string"})])
    assert custom_search_fields(SPECS["companies"], spec.columns) == ()
    assert spec.search_fields == SPECS["companies"].search_fields


@pytest.mark.parametrize("op,value,expected", [
    # a `date` column holds the UTC day: widened by two days on each side for the workspace's
    # time zone (more than its longest day, 25 hours)
    ("=", "2024-03-05", [(">", "2024-03-03"), ("<", "2024-03-08")]),
    ("<", "2024-03-05", [("<", "2024-03-07")]),
    ("<=", "2024-03-05", [("<", "2024-03-08")]),
    (">", "2024-03-05", [(">", "2024-03-04")]),
    (">=", "2024-03-05", [(">", "2024-03-03")]),
    ("in", ("2024-03-05", "2024-01-10"), [(">", "2024-01-08"), ("<", "2024-03-08")]),
    ("<>", "2024-03-05", []),
])
def test_contact_date_custom_fields_are_searched_by_widened_days(op, value, expected):
    spec = spec_with("contacts", CONTACT_CUSTOM)
    typed = tuple(day(v) for v in value) if isinstance(value, tuple) else day(value)
    plan = plan_scan(spec, [Condition("trial_ends_at", op, typed)], ["id"])
    if not expected:
        assert plan.pushed == ()
        return
    got = sorted((leaf["operator"], leaf["value"]) for leaf in leaves(plan.calls[0].body["query"]))
    assert got == sorted((o, day(v)) for o, v in expected)


@pytest.mark.parametrize("condition,pushed", [
    (Condition("plan_tier", "<>", "pro"), False),  # case-insensitive in Intercom: stays local
    (Condition("plan_tier", "<>", "123"), True),  # nothing to fold
    (Condition("plan_tier", "like", "ent%"), True),
    (Condition("plan_tier", "not like", "%ent%"), False),
    (Condition("seats", ">=", 10), True),
    (Condition("seats", "in", (1, 2)), True),
    (Condition("lifetime_value", "<=", 10.5), True),
    (Condition("is_vip", "=", True), True),
    (Condition("seats", "is null", None), False),
])
def test_contact_custom_operators_follow_the_kind(condition, pushed):
    plan = plan_scan(spec_with("contacts", CONTACT_CUSTOM), [condition], ["id"])
    assert bool(plan.pushed) is pushed, plan.explain()


@pytest.mark.parametrize("op,value,expected", [
    # search values are never decimals (OpenAPI): the integer just outside each bound
    (">=", 2.5, [(">", 2)]),
    (">", 2.5, [(">", 2)]),
    ("<", 2.5, [("<", 3)]),
    ("<=", -2.5, [("<", -2)]),
    ("=", 2.5, [(">", 2), ("<", 3)]),
    ("=", 7.0, [("=", 7)]),
    (">=", 7.0, [(">=", 7)]),
    ("in", (1.0, 2.0), [("IN", [1, 2])]),
    ("in", (1.0, 2.5), []),
    ("<>", 2.5, []),
])
def test_decimal_bounds_are_searched_as_the_integers_outside_them(op, value, expected):
    plan = plan_scan(spec_with("contacts", CONTACT_CUSTOM), [Condition("lifetime_value", op, value)], ["id"])
    got = [(leaf["operator"], leaf["value"]) for leaf in leaves(plan.calls[0].body["query"])] if plan.pushed else []
    assert got == expected
    assert all(not isinstance(v, float) for _, v in got)


CONVERSATION_CUSTOM = [
    ("priority_score", "integer", {"custom_attribute": "priority_score", "data_type": "integer"}),
    ("refund_amount", "double precision", {"custom_attribute": "refund_amount", "data_type": "float"}),
    ("follow_up_at", "timestamp with time zone", {"custom_attribute": "follow_up_at", "data_type": "date"}),
]


@pytest.mark.parametrize("condition,expected", [
    # > and < are "greater (or equal)" there: >= on integers becomes > v-1, on decimals it stays local
    (Condition("priority_score", ">=", 10), [{"field": "custom_attributes.priority_score", "operator": ">",
                                              "value": 9}]),
    (Condition("refund_amount", ">", 2.5), [{"field": "custom_attributes.refund_amount", "operator": ">", "value": 2}]),
    (Condition("refund_amount", ">=", 3.0), [{"field": "custom_attributes.refund_amount", "operator": ">",
                                              "value": 2}]),
    (Condition("follow_up_at", ">=", 1_000_000), [{"field": "custom_attributes.follow_up_at", "operator": ">",
                                                    "value": 1_000_000 - DATE_MARGIN}]),
])
def test_conversation_custom_fields_use_the_loose_operators(condition, expected):
    plan = plan_scan(spec_with("conversations", CONVERSATION_CUSTOM), [condition], ["id"])
    assert (leaves(plan.calls[0].body["query"]) if plan.pushed else []) == expected


def test_ticket_custom_fields_are_searched_by_attribute_id():
    spec = spec_with("tickets", [
        ("size", "integer", {"ticket_attribute": "Size", "data_type": "integer", "attribute_id": "9907"}),
        ("old_style", "integer", {"ticket_attribute": "Old", "data_type": "integer"}),  # imported before ids
    ])
    assert spec.search_field("size").field == "ticket_attribute.9907"
    assert spec.search_field("old_style") is None
    query, _ = search_query(spec, Condition("size", "=", 3))
    assert query == {"field": "ticket_attribute.9907", "operator": "=", "value": 3}


def test_ticket_type_tables_push_custom_fields_next_to_their_type():
    spec = spec_with("tickets", [("size", "integer", {"ticket_attribute": "Size", "data_type": "integer",
                                                      "attribute_id": "9907"})])
    plan = plan_scan(spec, [Condition("size", "<", 5)], ["id"],
                     options=ScanOptions(table_options={"ticket_type_id": "5501"}))
    assert leaves(plan.calls[0].body["query"]) == [
        {"field": "ticket_type_id", "operator": "=", "value": "5501"},
        {"field": "ticket_attribute.9907", "operator": "<", "value": 5}]


def test_a_text_column_holding_a_number_attribute_pushes_no_range():
    # SQL compares text: '10' < '9'. A numeric range could drop rows SQL wants.
    spec = spec_with("contacts", [("seats", "text", {"custom_attribute": "seats", "data_type": "integer"})])
    assert plan_scan(spec, [Condition("seats", "<", "9")], ["id"]).pushed == ()
    assert plan_scan(spec, [Condition("seats", "=", "9")], ["id"]).pushed == ("seats = '9'",)


def test_custom_string_fields_are_path_keys_for_joins():
    keys = [cols for cols, _ in path_keys(spec_with("contacts", CONTACT_CUSTOM))]
    assert ("plan_tier",) in keys and ("seats",) not in keys
