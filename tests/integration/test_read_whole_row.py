"""Whole-row references of a foreign table (`to_jsonb(c)`, `row_to_json(c)`, `c IS NULL`) on both runtimes.

The bundled runtime names every column for one, so the row holds every value. multicorn2 3.2 drops
the reference from the columns it passes (multicorn_compat/README.md): the row holds NULL wherever the
query names no column, and no argument tells the FDW. The README's way round it, expanding the row in a
subquery first, must give every value on both runtimes; the difference itself is checked as the
README states it, so a multicorn2 that changes it shows up here.
"""
import pytest

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from intercom_fdw.tools import throwaway_pg
from tests.integration.read_fixtures import Api, ReadDb, import_tables

pytestmark = pytest.mark.timeout(120)
CONTACTS = 40


@pytest.fixture(scope="module")
def whole_row_db(pg, db):
    config = EmulatorConfig(seed=31, token="tok-whole-row-5c1d", contacts=CONTACTS, companies=2,
                            conversations=2, tickets=1, articles=1)
    with start_in_thread(config, port=0) as server:
        with pg.connect(db) as conn:
            import_tables(conn, "whole_row", server.url, server.token, ("contacts",))
        with ReadDb(pg, db, Api(server.url, server.token)) as reader:
            yield reader


def listed(api):
    return {c["id"]: (c["email"], c["name"]) for c in api.all("/contacts")}


@pytest.mark.parametrize("query", [
    "SELECT s.row->>'id', s.row->>'email', s.row->>'name' FROM "
    "(SELECT to_jsonb(s) AS row FROM (SELECT * FROM whole_row.contacts) s) s",
    "SELECT to_jsonb(s)->>'id', row_to_json(s)->>'email', to_jsonb(s)->>'name' FROM "
    "(SELECT * FROM whole_row.contacts WHERE created_at > '2000-01-01') s ORDER BY s.id",
    "SELECT c.* FROM (SELECT id, email, name FROM whole_row.contacts) c",
])
def test_a_row_expanded_first_holds_every_value_on_both_runtimes(whole_row_db, query):
    rows = whole_row_db.rows(query)
    assert {r[0]: (r[1], r[2]) for r in rows} == listed(whole_row_db.api)
    assert len(rows) == CONTACTS


@pytest.mark.parametrize("query", [
    "SELECT to_jsonb(c)->>'id', to_jsonb(c)->>'email', to_jsonb(c)->>'name' FROM whole_row.contacts c",
    "SELECT c.id, row_to_json(c)->>'email', row_to_json(c)->>'name' FROM whole_row.contacts c ORDER BY c.id",
])
def test_a_whole_row_reference_holds_every_value_on_the_bundled_runtime_only(whole_row_db, query):
    rows = whole_row_db.rows(query)
    expected = listed(whole_row_db.api)
    if throwaway_pg.runtime() == "bundled":
        assert {r[0]: (r[1], r[2]) for r in rows} == expected
    else:  # README: NULL wherever the query names no column (the id only when it is named: ORDER BY c.id)
        assert all(r[1] is None and r[2] is None for r in rows)
        assert len(rows) == CONTACTS


def test_is_null_of_a_whole_row(whole_row_db):
    got = whole_row_db.rows("SELECT count(*) FILTER (WHERE c IS NULL), count(*) FROM whole_row.contacts c")
    # every column NULL makes the row IS NULL: what multicorn2 3.2 gives, and the README says so
    assert got == [(0 if throwaway_pg.runtime() == "bundled" else CONTACTS, CONTACTS)]
