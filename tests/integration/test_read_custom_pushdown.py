"""Custom field columns pushed into the search, through PostgreSQL: calls counted by the emulator,
results compared with the twin server that has pushdown 'false'."""
import pytest

from tests.integration.test_read_pushdown import same_as_unpushed

pytestmark = pytest.mark.timeout(300)


def test_plan_tier_and_seats_are_one_search(read_db):
    query = "SELECT id, plan_tier, seats FROM {schema}.contacts WHERE plan_tier = 'enterprise' AND seats > 100"
    plan = read_db.explain(query.format(schema="intercom"))
    assert "POST /contacts/search" in plan and "Pushed filters: plan_tier = 'enterprise' AND seats > 100" in plan, plan
    body = read_db.explain(query.format(schema="intercom"), verbose=True)
    assert '"field": "custom_attributes.plan_tier"' in body and '"field": "custom_attributes.seats"' in body
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert rows and all(tier == "enterprise" and seats > 100 for _, tier, seats in rows)
    assert routes == {"POST /contacts/search": 1}
    assert sorted(rows) == sorted(same_as_unpushed(read_db, query))


def _literal(read_db, schema, table, column, where="true"):
    """A value of the column as an SQL literal (read through the unpushed twin)."""
    value = read_db.rows(f"SELECT quote_literal({column}) FROM {schema}.{table} "
                         f"WHERE {column} IS NOT NULL AND {where} ORDER BY id LIMIT 1")
    assert value, f"the seeded {table} have a {column}"
    return value[0][0]


# (WHERE clause with {v} = a seeded value of the column, whether the search serves it)
@pytest.mark.parametrize("column,where,pushed", [
    ("plan_tier", "plan_tier IN ({v}, 'none')", True),
    ("plan_tier", "plan_tier LIKE 'ent%'", True),
    ("plan_tier", "plan_tier <> {v}", False),  # Intercom compares text case-insensitively
    ("plan_tier", "plan_tier = upper({v})", True),  # the search finds more; PostgreSQL re-checks
    ("seats", "seats >= {v} AND seats <= {v} + 50", True),
    ("seats", "seats IN ({v}, 1)", True),
    ("lifetime_value", "lifetime_value < {v}", True),
    ("lifetime_value", "lifetime_value = {v}", True),
    ("is_vip", "is_vip", True),
    ("is_vip", "is_vip = false", True),
    ("trial_ends_at", "trial_ends_at = {v}", True),
    ("trial_ends_at", "trial_ends_at <= {v}", True),
    ("trial_ends_at", "trial_ends_at > {v}", True),
    ("trial_ends_at", "trial_ends_at BETWEEN {v} AND {v}::date + 30", True),
    ("trial_ends_at", "trial_ends_at IN ({v}, {v}::date + 3)", True),
])
def test_contact_custom_fields_match_unpushed(read_db, column, where, pushed):
    value = _literal(read_db, "intercom_plain", "contacts", column)
    query = "SELECT id, {c} FROM {{schema}}.contacts WHERE ".format(c=column) + where.format(v=value)
    plan = read_db.explain(query.format(schema="intercom"))
    assert ("Request: POST /contacts/search" in plan) is pushed, plan
    rows = same_as_unpushed(read_db, query)
    if where.count("{v}") and "<>" not in where and "upper" not in where:
        assert rows, "the seeded value is found"


@pytest.mark.parametrize("column,where", [
    ("issue_kind", "issue_kind = {v} AND priority_score >= 100"),
    ("priority_score", "priority_score > {v}"),
    ("priority_score", "priority_score <= {v}"),
    ("refund_amount", "refund_amount > {v}"),
    ("refund_amount", "refund_amount < {v}"),
    ("escalated", "escalated"),
    ("follow_up_at", "follow_up_at >= {v}"),
    ("follow_up_at", "follow_up_at < {v}"),
])
def test_conversation_custom_fields_match_unpushed(read_db, column, where):
    value = _literal(read_db, "intercom_plain", "conversations", column)
    query = "SELECT id, {c} FROM {{schema}}.conversations WHERE ".format(c=column) + where.format(v=value)
    plan = read_db.explain(query.format(schema="intercom"))
    assert "Request: POST /conversations/search" in plan and f"{column} " in plan.split("Pushed filters:")[1], plan
    same_as_unpushed(read_db, query)


def _ticket_custom_columns(read_db):
    """(table, column, type) of every ticket-type table's custom field column imported with its id."""
    return read_db.rows(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'intercom' AND c.relname LIKE '%\\_tickets' AND a.attnum > 0 "
        "AND EXISTS (SELECT 1 FROM pg_options_to_table(a.attfdwoptions) WHERE option_name = 'attribute_id') "
        "ORDER BY 1, 2")


def test_ticket_type_table_custom_fields_are_one_search_each(read_db):
    columns = _ticket_custom_columns(read_db)
    searchable = [(t, c, pg_type) for t, c, pg_type in columns if pg_type not in ("text", "jsonb")]
    assert {pg_type.split("(")[0] for _, _, pg_type in searchable} >= {"integer", "boolean", "double precision"}
    for table, column, pg_type in searchable:
        value = _literal(read_db, "intercom_plain", table, column)
        wheres = [f"{column} = {value}"]
        if pg_type in ("integer", "double precision", "timestamp with time zone"):
            wheres += [f"{column} > {value}", f"{column} < {value}"]
        for where in wheres:
            query = f"SELECT id, {column} FROM {{schema}}.{table} WHERE {where}"
            plan = read_db.explain(query.format(schema="intercom"), verbose=True)
            assert '"field": "ticket_attribute.' in plan, (where, plan)
            rows, routes = read_db.calls(query.format(schema="intercom"))
            assert routes == {"POST /tickets/search": 1}, where
            assert sorted(rows) == sorted(same_as_unpushed(read_db, query)), where
            if "=" in where:
                assert rows, f"{table}: {where} finds the seeded ticket"
