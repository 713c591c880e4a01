"""A write whose answer was lost (the connection cut after Intercom carried it out, or a 5xx) tells
that its row may have reached Intercom. A create that must not be sent twice (a conversation: a
second send is a second message to the customer) used to fail with only "no usable answer from
Intercom ... HINT check api_url/region and network", while the conversation was there: re-running
the INSERT, as that suggests, wrote it twice."""
import psycopg
import pytest

from tests.integration.write_fixtures import own_write_db

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def wdb(pg, db):
    with own_write_db(pg, db) as wdb:
        yield wdb


@pytest.fixture
def calm(wdb):
    wdb.notices.clear()
    yield
    wdb.knobs(drop_route="", drop_rate=0, fault_rate=0)


def conversations_with(wdb, body):
    return [c["id"] for c in wdb.api.all("/conversations", items_key="conversations")
            if body in ((c.get("source") or {}).get("body") or "")]


def test_a_create_whose_answer_was_lost_says_it_may_have_reached_intercom(wdb, calm):
    author = wdb.api.all("/contacts")[0]["id"]
    wdb.knobs(drop_route="POST /conversations", drop_rate=1)
    with pytest.raises(psycopg.Error) as caught:
        wdb.rows("INSERT INTO intercom.conversations (source_author_type, source_author_id, source_body) "
                 "VALUES ('user', %s, 'lost answer one')", (author,))
    diag = caught.value.diag
    assert conversations_with(wdb, "lost answer one"), "the emulator carried out the create"
    assert "INSERT on conversations, row 1" in diag.message_primary
    assert "may have reached Intercom" in diag.message_primary, diag.message_primary
    assert "before running it again" in (diag.message_hint or ""), diag.message_hint
    assert "check api_url/region and network" not in (diag.message_hint or "")
    unknown = [(text, detail) for _, text, detail in wdb.notices if "may have reached Intercom" in text]
    assert unknown == [("1 row(s) failed without a usable answer and may have reached Intercom", "rows: 1")], \
        wdb.notices


def test_a_create_answered_with_a_server_error_says_it_may_have_reached_intercom(wdb, calm):
    wdb.knobs(fault_rate=1)
    with pytest.raises(psycopg.Error) as caught:
        wdb.rows("INSERT INTO intercom.tags (name) VALUES ('fault one'), ('fault two')")
    assert "may have reached Intercom" in caught.value.diag.message_primary, caught.value.diag.message_primary


def test_a_value_json_cannot_hold_is_refused_before_any_call(wdb, calm):
    contact = wdb.api.all("/contacts")[0]["id"]
    wdb.api.reset_counters()
    for value in ("NaN", "Infinity", "-Infinity"):
        diag = wdb.fails(f"UPDATE intercom.contacts SET lifetime_value = '{value}' WHERE id = %s",
                         "invalid value", (contact,))
        assert "column lifetime_value" in diag.message_primary and "reached" not in diag.message_primary
        assert "finite number" in diag.message_hint, diag.message_hint
    assert wdb.writes() == {} and not wdb.notices


def test_a_refused_create_says_nothing_of_the_kind(wdb, calm):
    diag = wdb.fails("INSERT INTO intercom.data_attributes (name, model, data_type) VALUES "
                     "('created_at', 'contact', 'string')", "INSERT on data_attributes, row 1")
    assert "may have reached" not in diag.message_primary
    assert not [text for _, text, _ in wdb.notices if "may have reached" in text]


def row_numbers(text):
    """The row numbers a NOTICE or DETAIL names: '1-5, 7' -> {1, 2, 3, 4, 5, 7}."""
    found = set()
    for part in text.split(", "):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def test_a_batch_stopped_by_a_failed_row_says_which_rows_were_written_and_which_not(wdb, calm):
    # Rows go `concurrency` (8) at a time: when row 6 fails, rows after it may be written already. The
    # NOTICE used to list only Intercom's ids, which do not tell which rows to write again.
    wdb.rows("ALTER FOREIGN TABLE intercom.data_attributes OPTIONS (ADD modify_batch_size '50')")
    try:
        names = [f"batch_{n}" for n in range(1, 21)]
        names[5] = "created_at"  # Intercom refuses it: contacts have that attribute already
        with pytest.raises(psycopg.Error) as caught:
            wdb.rows("INSERT INTO intercom.data_attributes (name, model, data_type) "
                     "SELECT name, 'contact', 'string' FROM unnest(%s::text[]) WITH ORDINALITY AS r(name, n) "
                     "ORDER BY n", (names,))
    finally:
        wdb.rows("ALTER FOREIGN TABLE intercom.data_attributes OPTIONS (DROP modify_batch_size)")
    diag = caught.value.diag
    assert "row 6" in diag.message_primary
    there = {a["name"] for a in wdb.api.get("/data_attributes", model="contact")["data"]}
    written = {n for n, name in enumerate(names, 1) if name in there and name != "created_at"}
    (message, _), = [(m, d) for _, m, d in wdb.notices if "had already been written" in m]
    assert message.startswith(f"{len(written)} row(s) had already been written")
    listed = message.split("(row", 1)[1].split(";")[0].lstrip("s ")
    assert row_numbers(listed) == written, message
    # how many rows after row 6 started before its failure stopped the others depends on timing
    detail = diag.message_detail
    not_sent = row_numbers(detail.split("not sent: rows ", 1)[1].split(", nor")[0]) if "not sent: rows " in detail \
        else set()
    assert "nor any row after row 20" in detail or "not sent: any row after row 20" in detail, detail
    assert not_sent == set(range(1, 21)) - written - {6}, detail
