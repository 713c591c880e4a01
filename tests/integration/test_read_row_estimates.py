"""Row estimates from the total_count a recent whole-table read reported, without a call at planning.

Before any scan a table is sized by its spec's guess; after a full scan in the same backend, EXPLAIN
sizes it by the count Intercom gave (the emulator's), and planning sends nothing. A ticket-type
table is counted apart from the tickets it is cut from, and a filtered scan records nothing. The
counts change join plans: a local table of more rows than the real count's pages but fewer than the
guess's is joined by a search per row before the scan, by one read of the foreign table after it.
"""
import json

import pytest

pytestmark = pytest.mark.timeout(120)

JOIN = ("SELECT count(*) FROM intercom.contacts c JOIN local_names n ON n.name = c.name")


def plan(read_db, query):
    explained = read_db.rows("EXPLAIN (FORMAT JSON) " + query)[0][0]
    return (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]


def scan_rows(node, relation):
    """Plan Rows of the scan of `relation` in a plan tree."""
    if node.get("Relation Name") == relation:
        return node["Plan Rows"]
    for child in node.get("Plans", ()):
        found = scan_rows(child, relation)
        if found is not None:
            return found
    return None


def node_types(node):
    yield node["Node Type"]
    for child in node.get("Plans", ()):
        yield from node_types(child)


@pytest.fixture(scope="module")
def estimates_db(pg, db, emulator, api):
    # A fresh backend: no count recorded yet (counts live in the backend that read them).
    from tests.integration.read_fixtures import ReadDb, create_servers

    with pg.connect(db) as conn:
        create_servers(conn, emulator.url, emulator.token)
        # More names than the pages of the 300 contacts (2), fewer than those of the spec's guess (10,000:
        # 67): PostgreSQL prices a search per name as a page of rows (planning/scan.py ROWS_PER_CALL).
        conn.execute("CREATE TABLE local_names AS SELECT 'name ' || g AS name FROM generate_series(1, 30) g")
        conn.execute("ANALYZE local_names")
    reader = ReadDb(pg, db, api)
    try:
        yield reader
    finally:
        reader.conn.close()


def test_a_full_scan_sizes_the_table_for_later_plans_without_a_call(estimates_db, api):
    contacts = len(api.all("/contacts"))
    assert contacts != 10000
    assert scan_rows(plan(estimates_db, "SELECT * FROM intercom.contacts"), "contacts") == 10000  # the spec's guess
    assert "Nested Loop" in set(node_types(plan(estimates_db, JOIN)))  # a search per local row

    estimates_db.rows("SELECT count(*) FROM intercom.contacts WHERE length(id) > 0")  # checked by SQL: still whole
    api.reset_counters()
    assert scan_rows(plan(estimates_db, "SELECT * FROM intercom.contacts"), "contacts") == contacts
    filtered = scan_rows(plan(estimates_db, "SELECT * FROM intercom.contacts WHERE email = 'x@example.com'"),
                         "contacts")
    assert filtered < contacts  # a pushed filter keeps a share of the counted rows
    joined = set(node_types(plan(estimates_db, JOIN)))
    assert "Hash Join" in joined and "Nested Loop" not in joined
    assert api.counters()["total"] == 0  # planning asked Intercom nothing
    estimates_db.rows(JOIN)
    assert api.counters()["by_route"] == {"GET /contacts": -(-contacts // 150)}  # one scan, not a call per name


def test_filtered_scans_record_no_count_and_ticket_type_tables_are_counted_apart(estimates_db, api):
    guess = scan_rows(plan(estimates_db, "SELECT * FROM intercom.conversations"), "conversations")
    estimates_db.rows("SELECT count(*) FROM intercom.conversations WHERE state = 'open'")
    assert scan_rows(plan(estimates_db, "SELECT * FROM intercom.conversations"), "conversations") == guess

    tables = [r[0] for r in estimates_db.rows(
        "SELECT foreign_table_name FROM information_schema.foreign_tables WHERE foreign_table_schema = 'intercom' "
        "AND foreign_table_name LIKE '%\\_tickets' ORDER BY 1")]
    first, second = tables[0], tables[1]
    # (SELECT id: a column such as contact_id, NULL without a join's value, raises the estimate on purpose)
    before = scan_rows(plan(estimates_db, f"SELECT id FROM intercom.{second}"), second)
    count = estimates_db.rows(f"SELECT count(*) FROM intercom.{first}")[0][0]
    all_tickets = estimates_db.rows("SELECT count(*) FROM intercom.tickets")[0][0]
    assert count < all_tickets
    assert scan_rows(plan(estimates_db, f"SELECT id FROM intercom.{first}"), first) == max(count, 1)
    assert scan_rows(plan(estimates_db, "SELECT id FROM intercom.tickets"), "tickets") == all_tickets
    assert scan_rows(plan(estimates_db, f"SELECT id FROM intercom.{second}"), second) == before


@pytest.mark.parametrize("query, routes", [
    ("SELECT cv.id, c.email FROM {schema}.conversations cv JOIN {schema}.contacts c ON c.id = cv.source_author_id",
     {"GET /conversations": 1, "GET /contacts": 2}),
    ("SELECT a.id, b.email FROM {schema}.contacts a JOIN {schema}.contacts b ON b.id = a.id",
     {"GET /contacts": 4}),
    ("SELECT a.id, b.name FROM {schema}.admins a JOIN {schema}.admins b USING (id)", {"GET /admins": 2}),
    ("SELECT a.id, b.id FROM {schema}.admins a JOIN {schema}.admins b ON b.id < a.id", {"GET /admins": 2}),
], ids=["conversations_to_contacts", "contacts_self_join", "admins_self_join", "admins_inequality_join"])
def test_two_foreign_tables_are_joined_by_reading_each_once(estimates_db, api, query, routes):
    # A lookup per outer row was priced as one row of a full scan, so PostgreSQL looked up every
    # conversation's contact (GET /contacts/{id}: 121 calls for 120 conversations), with or without counts.
    rows, made = estimates_db.calls(query.format(schema="intercom"))
    assert made == routes
    assert sorted(rows) == sorted(estimates_db.rows(query.format(schema="intercom_plain")))


def test_a_self_join_of_companies_still_looks_one_side_up(estimates_db, api):
    # A full scan of companies is a scroll, one per workspace at a time: two at once are refused, so
    # the loop of lookups stays (README, Row estimates).
    rows, made = estimates_db.calls("SELECT count(*) FROM intercom.companies a JOIN intercom.companies b USING (id)")
    assert rows[0][0] > 0 and made["GET /companies/{id}"] == rows[0][0], made


def test_a_join_on_an_inequality_reads_the_inner_table_once(estimates_db, api):
    # The bundled runtime took `b.id < a.id` for the path key id (as if `b.id = a.id`) and priced a
    # scan per outer row as a lookup: each read all companies (35 list reads for 35 companies).
    query = "SELECT count(*) FROM intercom.companies a JOIN intercom.companies b ON b.id < a.id"
    rows, made = estimates_db.calls(query)
    companies = len(api.scroll_all("/companies/scroll"))
    assert rows == [(companies * (companies - 1) // 2,)]
    assert "GET /companies/{id}" not in made and sum(made.values()) <= 4, made
