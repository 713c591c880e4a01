"""1,000-row imports through bulk_insert: a failure mid-way (Intercom 4xx on row 500) and fault injection
(5xx and dropped connections). Remote writes cannot roll back, so the checks are: the error names
the row and Intercom's message, a NOTICE tells what was written, and re-running the import completes
(existing contacts left alone and reported, by default) and never creates a second contact (counted
by the emulator itself, not through the FDW).
"""
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.read_fixtures import Api
from tests.integration.write_fixtures import WriteDb, import_schema, start_write_emulator

pytestmark = pytest.mark.timeout(300)
ROWS = 1000
SEEDED_CONTACTS = 10


@pytest.fixture
def fresh(pg, db, request):
    """A database schema reading an emulator of its own (the imports below add 1,000 contacts)."""
    emulator = start_write_emulator(contacts=SEEDED_CONTACTS, companies=2, conversations=2, tickets=1, articles=1)
    schema = "bulk_" + request.node.name.split("[")[0][-40:]
    conn = pg.connect(db, row_factory=dict_row)
    notices = []
    # a notice's diagnostic is readable only inside the handler
    conn.add_notice_handler(lambda diag: notices.append((diag.message_primary, diag.message_detail)))
    import_schema(conn, emulator.url, emulator.token, schema=schema, server=schema)
    conn.execute(f"CREATE TABLE {schema}_staging AS SELECT g, 'bulk' || g || '@example.com' AS email, "
                 f"'Person ' || g AS name, NULL::text AS owner_id FROM generate_series(1, {ROWS}) g")
    wdb = WriteDb(conn, Api(emulator.url, emulator.token))
    wdb.schema, wdb.staging, wdb.notices = schema, f"{schema}_staging", notices
    try:
        yield wdb
    finally:
        conn.close()
        emulator.stop()


def contacts_in_emulator(wdb) -> int:
    return wdb.api.get("/contacts", per_page=1)["total_count"]


def import_contacts(wdb):
    wdb.notices.clear()
    wdb.rows(f"INSERT INTO {wdb.schema}.contacts (email, name, owner_id) "
             f"SELECT email, name, owner_id FROM {wdb.staging} ORDER BY g")


def test_a_4xx_mid_way_names_the_row_reports_what_was_written_and_a_rerun_duplicates_nothing(fresh):
    wdb = fresh
    wdb.rows(f"UPDATE {wdb.staging} SET owner_id = '424242' WHERE g = 500")  # not an admin: Intercom says 400
    with pytest.raises(psycopg.Error) as caught:
        import_contacts(wdb)
    message = caught.value.diag.message_primary
    assert "row 500" in message and "owner_id 424242 is not an admin" in message
    written = contacts_in_emulator(wdb) - SEEDED_CONTACTS
    assert 450 <= written < 500  # earlier batches, and the rows of row 500's batch that went out with it
    notice = [(text, detail) for text, detail in wdb.notices if "already been written" in text]
    assert len(notice) == 1 and notice[0][0].startswith(f"{written} row(s)")
    assert len(notice[0][1].removeprefix("written ids: ").split(", ")) == written

    written_ids = set(notice[0][1].removeprefix("written ids: ").split(", "))

    # Fixed and re-run as it is (on_conflict 'skip', the default): the contacts written by the first
    # run are left as they are and reported, the missing ones are created, the statement completes.
    wdb.rows(f"UPDATE {wdb.staging} SET owner_id = NULL, name = name || ' (2)'")
    wdb.api.reset_counters()
    import_contacts(wdb)
    assert contacts_in_emulator(wdb) == SEEDED_CONTACTS + ROWS
    assert wdb.writes() == {"POST /contacts": ROWS}  # one create per row, no update
    existing = [(text, detail) for text, detail in wdb.notices if "already existed" in text]
    assert len(existing) == 1
    assert existing[0][0] == f"{written} row(s) already existed in Intercom as contacts and were left as they are"
    assert set(existing[0][1].removeprefix("existing ids: ").split(", ")) == written_ids
    assert wdb.one(f"SELECT name FROM {wdb.schema}.contacts WHERE email = 'bulk1@example.com'") == \
        {"name": "Person 1"}  # written by the first run, left as it was
    assert wdb.one(f"SELECT name FROM {wdb.schema}.contacts WHERE email = 'bulk{ROWS}@example.com'") == \
        {"name": f"Person {ROWS} (2)"}  # missing after the first run: created now

    # on_conflict 'error' keeps the strict behaviour: the first existing contact fails the statement.
    wdb.rows(f"ALTER FOREIGN TABLE {wdb.schema}.contacts OPTIONS (ADD on_conflict 'error')")
    with pytest.raises(psycopg.Error) as again:
        import_contacts(wdb)
    assert "row 1: Intercom already holds this contacts object (id " in again.value.diag.message_primary
    assert "on_conflict 'skip'" in again.value.diag.message_hint
    assert contacts_in_emulator(wdb) == SEEDED_CONTACTS + ROWS

    # on_conflict 'update': every existing contact is updated with the row's values.
    wdb.rows(f"ALTER FOREIGN TABLE {wdb.schema}.contacts OPTIONS (SET on_conflict 'update')")
    wdb.api.reset_counters()
    import_contacts(wdb)
    assert contacts_in_emulator(wdb) == SEEDED_CONTACTS + ROWS
    assert wdb.writes() == {"POST /contacts": ROWS, "PUT /contacts/{id}": ROWS}
    assert wdb.one(f"SELECT name FROM {wdb.schema}.contacts WHERE email = 'bulk1@example.com'") == \
        {"name": "Person 1 (2)"}


def test_faults_and_dropped_connections_never_duplicate_an_import(fresh):
    wdb = fresh
    wdb.knobs(fault_rate=0.1, drop_rate=0.05)
    try:
        wdb.api.reset_counters()
        import_contacts(wdb)  # 5xx and cut answers: creates are resent; a resend's 409 leaves the contact alone
        faults_seen = wdb.api.counters()["by_route"].get("POST /contacts", 0) - ROWS
        resent_409 = [text for text, _ in wdb.notices if "already existed" in text]
        import_contacts(wdb)  # the re-run, as it is: every contact exists and is left as it is
        rerun_notices = list(wdb.notices)
        writes = wdb.writes()
    finally:
        wdb.knobs(fault_rate=0, drop_rate=0)
    assert faults_seen > 50, "the faults were injected"
    # cut answers of creates that went through: their resend found the contact, and said so
    assert len(resent_409) == 1 and "answered a create resent after a failed attempt" in resent_409[0]
    assert "PUT /contacts/{id}" not in writes, "a resend's 409 or an existing contact is never updated"
    assert [text for text, _ in rerun_notices if "already existed" in text][0].startswith(
        f"{ROWS} row(s) already existed in Intercom as contacts and were left as they are")
    assert contacts_in_emulator(wdb) == SEEDED_CONTACTS + ROWS
    emails = {c["email"] for c in wdb.api.all("/contacts")}
    assert {f"bulk{g}@example.com" for g in range(1, ROWS + 1)} <= emails
