"""NULL where a request wants a value: a join's NULL outer value, NULL in an IN list, and LIMIT 0.

multicorn hands `col = NULL` (a parameter that evaluated to NULL, in a parameterized nested loop)
the same way as `col IS NULL`. On a column no row leaves NULL (the id of an object read by id, a
child table's parent key, the tag_id of tag_contacts) neither matches a row: such a scan must send
nothing. It used to read the whole table per NULL outer row (GET /contacts for `c.id = NULL`,
every contact's tags for contact_tags) or fail the query (tag_contacts: "needs a filter"). NULL in
an IN list was sent as the text 'None' (GET /contacts/None). EXPLAIN's count of calls is checked
against the emulator's counters.
"""
import pytest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def outer(read_db, api):
    contact = next(c for c in api.all("/contacts") if (c.get("tags") or {}).get("data"))
    tag_id = contact["tags"]["data"][0]["id"]
    read_db.conn.execute("CREATE TABLE outer_keys (n int, contact_id text, tag_id text)")
    read_db.conn.execute("INSERT INTO outer_keys VALUES (1, NULL, NULL), (2, %s, %s), (3, NULL, NULL)",
                         (contact["id"], tag_id))
    read_db.conn.execute("ANALYZE outer_keys")
    return contact["id"], tag_id


@pytest.fixture
def nested_loops(read_db):
    read_db.conn.execute("SET enable_hashjoin = off")
    read_db.conn.execute("SET enable_mergejoin = off")
    read_db.conn.execute("SET enable_material = off")
    yield
    for setting in ("enable_hashjoin", "enable_mergejoin", "enable_material"):
        read_db.conn.execute(f"RESET {setting}")


def plain_rows(read_db, query):
    return sorted(read_db.rows(query.replace("intercom.", "intercom_plain.")))


@pytest.mark.parametrize("query, route", [
    ("SELECT o.n, c.id FROM outer_keys o JOIN intercom.contacts c ON c.id = o.contact_id", "GET /contacts/{id}"),
    ("SELECT o.n, t.id FROM outer_keys o JOIN intercom.contact_tags t ON t.contact_id = o.contact_id",
     "GET /contacts/{id}/tags"),
    ("SELECT o.n, c.id FROM outer_keys o JOIN intercom.tag_contacts c ON c.tag_id = o.tag_id",
     "POST /contacts/search"),
])
def test_a_null_outer_value_of_a_nested_loop_sends_nothing(read_db, outer, nested_loops, query, route):
    plan = read_db.explain(query)
    assert "Nested Loop" in plan and "$param" in plan, plan
    rows, routes = read_db.calls(query)
    assert rows and {n for n, _ in rows} == {2}, rows
    assert routes == {route: 1}, routes  # the one non-NULL outer row; nothing for the two NULLs
    assert sorted(rows) == plain_rows(read_db, query)


def test_null_in_an_in_list_is_not_sent(read_db, outer):
    contact_id, _ = outer
    query = f"SELECT id FROM intercom.contacts WHERE id IN ('{contact_id}', NULL)"
    assert "None" not in read_db.explain(query)
    rows, routes = read_db.calls(query)
    assert rows == [(contact_id,)] and routes == {"GET /contacts/{id}": 1}, routes
    # only NULLs: no value can match, so nothing is read
    for query in ("SELECT id FROM intercom.contacts WHERE email IN (NULL, NULL)",
                  "SELECT id FROM intercom.contact_tags WHERE contact_id = ANY (ARRAY[NULL]::text[])"):
        plan = read_db.explain(query)
        assert "Expected API calls: 0" in plan and "None" not in plan, plan
        assert read_db.calls(query) == ([], {})


@pytest.mark.parametrize("query", [
    "SELECT id FROM intercom.contacts LIMIT 0",
    "SELECT id FROM intercom.companies LIMIT 0",
    "SELECT id FROM intercom.contacts WHERE id = '..'",
    "SELECT id FROM intercom.contacts WHERE id IS NULL",
])
def test_explain_counts_no_call_where_none_is_sent(read_db, query):
    plan = read_db.explain(query)
    assert "Expected API calls: 0" in plan, plan
    if "'..'" not in query:  # the reason EXPLAIN gives is the query's own
        assert "cannot be an Intercom id" not in plan, plan
    assert read_db.calls(query) == ([], {})
