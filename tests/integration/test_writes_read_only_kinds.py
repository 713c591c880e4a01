"""Custom columns of the read-only kinds (File upload, List) are refused on INSERT and UPDATE with an
error naming the column, before any API call: on a ticket-type table whose type gained a files
attribute (read at IMPORT time) and on contacts columns declared by hand."""
import pytest
from psycopg.rows import dict_row

from tests.integration.read_fixtures import Api
from tests.integration.write_fixtures import WriteDb, import_schema, start_write_emulator

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def kinds_db(pg, db):
    with start_write_emulator() as server:
        api = Api(server.url, server.token)
        bug_report = next(t for t in api.get("/ticket_types")["data"] if t["name"] == "Bug report")
        api.post(f"/ticket_types/{bug_report['id']}/attributes",
                 {"name": "screenshots", "description": "what the customer saw", "data_type": "files"})
        with pg.connect(db, row_factory=dict_row) as conn:
            import_schema(conn, server.url, server.token)
            conn.execute("CREATE FOREIGN TABLE intercom.contacts_with_kinds (id text, email text, "
                         "documents jsonb OPTIONS (custom_attribute 'documents', data_type 'files'), "
                         "shoe_size text OPTIONS (custom_attribute 'shoe_size', data_type 'list')) "
                         "SERVER intercom OPTIONS (object 'contacts')")
            yield WriteDb(conn, api)


def test_the_files_attribute_is_a_jsonb_column(kinds_db):
    assert kinds_db.one("SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a "
                        "WHERE a.attrelid = 'intercom.bug_report_tickets'::regclass AND a.attname = 'screenshots'") \
        == {"type": "jsonb"}


@pytest.mark.parametrize("statement,column", [
    ("INSERT INTO intercom.bug_report_tickets (contacts, title, screenshots) VALUES ('[]', 'x', '[]')",
     "screenshots"),
    ("INSERT INTO intercom.bug_report_tickets (contacts, title, severity) VALUES ('[]', 'x', 'High')", "severity"),
    ("INSERT INTO intercom.contacts_with_kinds (email, documents) VALUES ('files@x.io', '[]')", "documents"),
    ("INSERT INTO intercom.contacts_with_kinds (email, shoe_size) VALUES ('list@x.io', 'large')", "shoe_size"),
])
def test_insert_into_a_read_only_kind_names_the_column_before_any_call(kinds_db, statement, column):
    kinds_db.api.reset_counters()
    diag = kinds_db.fails(statement, f"column {column} ")
    assert "read-only" in diag.message_primary and column in diag.message_hint
    assert kinds_db.calls() == {}


@pytest.mark.parametrize("table,column,value", [
    ("bug_report_tickets", "screenshots", "'[]'::jsonb"),
    ("bug_report_tickets", "severity", "'Critical'"),
    ("contacts_with_kinds", "documents", "'[]'::jsonb"),
    ("contacts_with_kinds", "shoe_size", "'large'"),
])
def test_update_of_a_read_only_kind_names_the_column_before_any_write(kinds_db, table, column, value):
    row_id = kinds_db.rows(f"SELECT id FROM intercom.{table} LIMIT 1")[0]["id"]
    kinds_db.api.reset_counters()
    diag = kinds_db.fails(f"UPDATE intercom.{table} SET {column} = {value} WHERE id = %s", f"column {column} ",
                          (row_id,))
    assert "read-only" in diag.message_primary and column in diag.message_hint
    assert kinds_db.writes() == {}
