"""EXPLAIN of parameterized nested loops: explain() never receives the join's value, so the FDW
adds what each scan requests per outer row; the emulator's counters check that claim."""
import pytest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def local_rows(read_db, api):
    contacts = [c for c in api.all("/contacts") if c.get("external_id")][:6]
    read_db.conn.execute("CREATE TABLE my_people (contact_id text PRIMARY KEY, user_id text)")
    with read_db.conn.cursor() as cursor:
        cursor.executemany("INSERT INTO my_people VALUES (%s, %s)", [(c["id"], c["external_id"]) for c in contacts])
    read_db.conn.execute("ANALYZE my_people")
    return contacts


def foreign_scan_lines(plan):
    return [line.strip() for line in plan.splitlines() if "Multicorn:" in line]


def test_join_to_a_child_table_explains_one_request_per_outer_row(read_db, local_rows):
    query = "SELECT m.contact_id, t.name FROM my_people m JOIN intercom.contact_tags t ON t.contact_id = m.contact_id"
    plan = read_db.explain(query)
    # PostgreSQL prints the join clause in the order the runtime built it
    assert "Nested Loop" in plan and ("Filter: (m.contact_id = contact_id)" in plan
                                      or "Filter: (contact_id = m.contact_id)" in plan), plan
    assert "Multicorn: Request: GET /contacts/$param/tags" in plan, plan
    assert ("Multicorn: Expected API calls: 1 per execution; $param is the value of contact_id that each "
            "execution gets (a nested loop executes the scan once per outer row)") in plan, plan
    assert "When a join supplies" not in plan, plan  # the scan is already the parameterized one
    _, routes = read_db.calls(query)
    assert routes == {"GET /contacts/{id}/tags": len(local_rows)}


def test_join_on_external_id_explains_a_search_per_outer_row(read_db, local_rows):
    query = "SELECT c.id FROM my_people m JOIN intercom.contacts c ON c.external_id = m.user_id"
    plan = read_db.explain(query, verbose=True)  # plain EXPLAIN names only the first few join columns
    lines = foreign_scan_lines(plan)
    assert any("Request: POST /contacts/search" in line for line in lines), plan
    assert any('"field": "external_id", "operator": "=", "value": "$param"' in line for line in lines), plan
    assert any("Expected API calls: about 1 per execution" in line for line in lines), plan
    rows, routes = read_db.calls(query)
    assert len(rows) == len(local_rows) and routes == {"POST /contacts/search": len(local_rows)}


def test_no_join_lines_when_a_constant_binds_the_key(read_db, local_rows):
    plan = read_db.explain(f"SELECT name FROM intercom.contact_tags WHERE contact_id = '{local_rows[0]['id']}'")
    assert not any("parameterized join" in line for line in foreign_scan_lines(plan)), plan
    assert "Request: GET /contacts/" in plan


def test_a_literal_question_mark_is_a_parameter_only_where_the_runtime_gives_stand_ins(read_db):
    # multicorn2 3.2 hands explain() '?' for a text parameter, so a literal '?' cannot be told from
    # one there (documented); the bundled runtime passes UNBOUND, so its EXPLAIN shows the literal.
    from tests.conftest import RUNTIME
    plan = read_db.explain("SELECT name FROM intercom.contact_tags WHERE contact_id = '?'")
    shown = "$param" if RUNTIME == "multicorn2" else "%3F"
    assert f"Request: GET /contacts/{shown}/tags" in plan, plan


GENERIC_PLANS = [
    # (parameter type, query with $1, the value, the request EXPLAIN and execution make)
    ("timestamptz", "SELECT count(*) FROM {schema}.contacts WHERE created_at >= $1", "2026-01-01 00:00+00",
     "POST /contacts/search", "created_at >= '$param'"),
    ("timestamptz", "SELECT count(*) FROM {schema}.conversations WHERE created_at < $1", "2026-03-01 00:00+00",
     "POST /conversations/search", "created_at < '$param'"),
    ("timestamptz", "SELECT count(*) FROM {schema}.activity_logs WHERE created_at >= $1", "2026-01-01 00:00+00",
     "GET /admins/activity_logs", "created_at >= '$param'"),
]


@pytest.mark.parametrize("pg_type, query, value, route, pushed", GENERIC_PLANS,
                         ids=[q[1].split("}.")[1].split()[0] for q in GENERIC_PLANS])
def test_explain_execute_of_a_generic_plan_shows_the_request_that_runs(read_db, pg_type, query, value, route, pushed):
    # A generic plan (plan_cache_mode force_generic_plan, or PostgreSQL's own choice from the 6th
    # EXECUTE of a prepared statement on, as psycopg and JDBC prepare them) plans $1 unknown. Its
    # EXPLAIN said "full scan: GET /contacts, Pushed filters: none, about 67 calls" for a date
    # parameter, while each EXECUTE sent one search with it.
    conn = read_db.conn
    conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        for schema in ("intercom", "intercom_plain"):
            conn.execute(f"PREPARE generic_{schema}({pg_type}) AS " + query.format(schema=schema))
        plan = read_db.explain(f"EXECUTE generic_intercom('{value}')")
        assert "$1" in plan, plan  # the generic plan indeed
        lines = foreign_scan_lines(plan)
        assert any(line.startswith(f"Multicorn: Request: {route}") for line in lines), plan
        assert f"Multicorn: Pushed filters: {pushed}" in lines, plan
        (rows, routes) = read_db.calls(f"EXECUTE generic_intercom('{value}')")
        assert rows == read_db.rows(f"EXECUTE generic_intercom_plain('{value}')")
        assert set(routes) == {route}, routes
    finally:
        conn.execute("DEALLOCATE ALL")
        conn.execute("RESET plan_cache_mode")


def test_explain_execute_of_a_partitioned_scan_starts_its_windows_at_the_parameter(read_db, emulator):
    from tests.integration.read_fixtures import import_tables
    import_tables(read_db.conn, "explain_part", emulator.url, emulator.token, ["contacts"], scan_mode="partitioned")
    conn = read_db.conn
    conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        conn.execute("PREPARE windows(timestamptz) AS SELECT count(*) FROM explain_part.contacts WHERE created_at >= $1")
        plan = read_db.explain("EXECUTE windows('2026-01-01 00:00+00')", verbose=True)
        lines = foreign_scan_lines(plan)
        assert any("Partitions: created_at windows over [$param, +inf)" in line for line in lines), plan
        body = next(line for line in lines if line.startswith("Multicorn: Request body:"))
        assert "$param" not in body, body  # the bound is the window's, not one more filter
        rows, routes = read_db.calls("EXECUTE windows('2026-01-01 00:00+00')")
        assert rows == read_db.rows("SELECT count(*) FROM intercom_plain.contacts WHERE created_at >= '2026-01-01 00:00+00'")
        assert set(routes) == {"POST /contacts/search"}
    finally:
        conn.execute("DEALLOCATE ALL")
        conn.execute("RESET plan_cache_mode")
