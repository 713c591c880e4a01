"""INSERT of contacts that already exist (Intercom's 409 on email or external_id), through PostgreSQL
against the emulator, for each value of the table option on_conflict: 'skip' (the default) leaves
the contact and reports it, 'update' updates it, 'error' fails the statement. INSERT ... RETURNING
gives back the existing contact as Intercom holds it. Calls are counted by the emulator."""
import contextlib

import pytest
from psycopg.rows import dict_row

from tests.integration.read_fixtures import Api
from tests.integration.write_fixtures import WriteDb, import_schema, write_emulator  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def wdb(pg, db, write_emulator):  # noqa: F811
    conn = pg.connect(db, row_factory=dict_row)
    notices = []
    conn.add_notice_handler(lambda diag: notices.append((diag.message_primary, diag.message_detail)))
    import_schema(conn, write_emulator.url, write_emulator.token)
    wdb = WriteDb(conn, Api(write_emulator.url, write_emulator.token))
    wdb.notices = notices
    try:
        yield wdb
    finally:
        conn.close()


@pytest.fixture
def existing(wdb, request):
    """A contact created outside the statement under test, and the table back to the default option."""
    row = wdb.one("INSERT INTO intercom.contacts (email, name) VALUES (%s, 'Before') RETURNING id, email",
                  (f"existing-{request.node.name}@x.io",))
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (ADD on_conflict 'skip')")
    wdb.api.reset_counters()
    wdb.notices.clear()
    yield row
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (DROP on_conflict)")


def existed(wdb):
    return [(text, detail) for text, detail in wdb.notices if "already existed" in text]


def test_by_default_an_existing_contact_is_returned_as_it_is_and_reported(wdb, existing):
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (DROP on_conflict)")  # the default
    rows = wdb.rows("INSERT INTO intercom.contacts (email, name) VALUES (%s, 'After'), ('fresh-1@x.io', 'Fresh') "
                    "RETURNING id, email, name", (existing["email"],))
    assert rows[0] == {"id": existing["id"], "email": existing["email"], "name": "Before"}
    assert rows[1]["email"] == "fresh-1@x.io" and rows[1]["id"] != existing["id"]
    assert wdb.writes() == {"POST /contacts": 2}
    assert wdb.calls()["GET /contacts/{id}"] == 1, "RETURNING reads the existing contact"
    assert existed(wdb) == [("1 row(s) already existed in Intercom as contacts and were left as they are",
                             f"existing ids: {existing['id']}")]
    assert wdb.one("SELECT name FROM intercom.contacts WHERE id = %s", (existing["id"],)) == {"name": "Before"}
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (ADD on_conflict 'skip')")


@contextlib.contextmanager
def batch_size(wdb, rows):
    wdb.rows(f"ALTER FOREIGN TABLE intercom.contacts OPTIONS (ADD modify_batch_size '{rows}')")
    try:
        yield
    finally:
        wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (DROP modify_batch_size)")


def test_a_batched_insert_skips_without_reading_the_contact(wdb, existing):
    # bulk_insert: PostgreSQL uses no returned row, so the existing contact is not read (batches are the
    # default on the bundled runtime; on multicorn2 only with the option, see README)
    with batch_size(wdb, 50):
        wdb.rows("INSERT INTO intercom.contacts (email, name) SELECT %s, 'After'", (existing["email"],))
    assert wdb.calls() == {"POST /contacts": 1}
    assert existed(wdb)[0][1] == f"existing ids: {existing['id']}"
    assert wdb.one("SELECT name FROM intercom.contacts WHERE id = %s", (existing["id"],)) == {"name": "Before"}


def test_a_row_by_row_insert_reads_the_existing_contact_it_may_have_to_return(wdb, existing):
    # insert() cannot tell whether the statement has RETURNING, so it reads the contact back (the default
    # on multicorn2, where batches would drop RETURNING rows)
    with batch_size(wdb, 1):
        wdb.rows("INSERT INTO intercom.contacts (email, name) SELECT %s, 'After'", (existing["email"],))
    assert wdb.calls() == {"POST /contacts": 1, "GET /contacts/{id}": 1}
    assert wdb.one("SELECT name FROM intercom.contacts WHERE id = %s", (existing["id"],)) == {"name": "Before"}


def test_on_conflict_update_updates_the_existing_contact(wdb, existing):
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (SET on_conflict 'update')")
    row = wdb.one("INSERT INTO intercom.contacts (email, name) VALUES (%s, 'After') RETURNING id, name",
                  (existing["email"],))
    assert row == {"id": existing["id"], "name": "After"}
    assert wdb.writes() == {"POST /contacts": 1, "PUT /contacts/{id}": 1}
    assert existed(wdb)[0][0] == "1 row(s) already existed in Intercom as contacts and were updated " \
                                 "(on_conflict 'update')"
    assert wdb.one("SELECT name FROM intercom.contacts WHERE id = %s", (existing["id"],)) == {"name": "After"}


def test_on_conflict_error_fails_the_statement_naming_the_contact(wdb, existing):
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (SET on_conflict 'error')")
    diag = wdb.fails("INSERT INTO intercom.contacts (email, name) VALUES (%s, 'After')",
                     f"row 1: Intercom already holds this contacts object (id {existing['id']})",
                     (existing["email"],))
    assert "on_conflict 'skip'" in diag.message_hint and "on_conflict 'update'" in diag.message_hint
    assert wdb.writes() == {"POST /contacts": 1}
    assert wdb.one("SELECT name FROM intercom.contacts WHERE id = %s", (existing["id"],)) == {"name": "Before"}


def test_a_bad_on_conflict_value_is_an_error_before_any_call(wdb, existing):
    wdb.rows("ALTER FOREIGN TABLE intercom.contacts OPTIONS (SET on_conflict 'ignore')")
    diag = wdb.fails("INSERT INTO intercom.contacts (email) VALUES ('never@x.io')",
                     "invalid value 'ignore' for option on_conflict")
    assert diag.message_hint == "on_conflict takes 'skip', 'update', 'error' (default 'skip')"
    assert wdb.calls() == {}


def test_an_update_to_another_contacts_email_is_told_as_an_update(wdb, existing):
    # Intercom's 409 on PUT /contacts/{id}: another contact holds the email. The hint of a create ("update it
    # instead of creating it") does not fit: nothing was being created.
    other = wdb.one("INSERT INTO intercom.contacts (email, name) VALUES ('other-of-update@x.io', 'Other') RETURNING id")
    wdb.api.reset_counters()
    diag = wdb.fails("UPDATE intercom.contacts SET email = %s WHERE id = %s", "UPDATE on contacts, row 1: Intercom "
                     "answered HTTP 409 to PUT /contacts/", (existing["email"], other["id"]))
    assert "instead of creating" not in diag.message_hint
    assert diag.message_hint == ("another object in Intercom already holds a value this request sets that must be "
                                 "unique (a contact's email or external_id); change the value, or merge the two objects")
    assert wdb.writes() == {"PUT /contacts/{id}": 1}
