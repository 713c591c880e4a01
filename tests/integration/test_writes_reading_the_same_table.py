"""A statement that writes a table while reading it (DELETE ... WHERE, INSERT INTO t SELECT ... FROM t)
sees the table as it was when the statement started, as PostgreSQL's own tables do. The scan read
page after page while the writes went on: `DELETE FROM intercom.contacts WHERE email LIKE 'h%'` of 262
contacts deleted 150 and reported DELETE 150 (the deletes shifted the rest out of the next page), and
`INSERT INTO intercom.contacts (email) SELECT 'h' || email FROM intercom.contacts` of 162 contacts
inserted 262, copying 100 of its own new rows (they came on later pages)."""
import pytest

from tests.integration.write_fixtures import own_write_db

pytestmark = pytest.mark.timeout(300)

CONTACTS = 180  # more than one page (150) of the contacts list and search


@pytest.fixture(scope="module")
def wdb(pg, db):
    with own_write_db(pg, db, contacts=CONTACTS) as wdb:
        yield wdb


def emails(wdb):
    return [c.get("email") for c in wdb.api.all("/contacts")]


def test_insert_select_from_the_same_table_copies_each_row_once(wdb):
    before = [e for e in emails(wdb) if e]
    assert len(before) > 150
    result = wdb.conn.execute("INSERT INTO intercom.contacts (email) "
                              "SELECT 'copy-' || email FROM intercom.contacts WHERE email IS NOT NULL")
    after = emails(wdb)
    assert result.rowcount == len(before)
    assert not [e for e in after if e and e.startswith("copy-copy-")]
    assert sorted(e for e in after if e and e.startswith("copy-")) == sorted("copy-" + e for e in before)


def test_delete_of_more_than_a_page_deletes_every_row(wdb):
    copies = [e for e in emails(wdb) if e and e.startswith("copy-")]
    assert len(copies) > 150
    result = wdb.conn.execute("DELETE FROM intercom.contacts WHERE email LIKE 'copy-%'")
    assert result.rowcount == len(copies)
    assert not [e for e in emails(wdb) if e and e.startswith("copy-")]


def test_a_select_after_an_explained_update_in_the_same_transaction_streams_again(wdb):
    # EXPLAIN UPDATE plans a write it never runs: the SELECT after it, in the same transaction, is no
    # write's scan and must stop at the first page that gives its row, not read the table first.
    query = "SELECT id FROM intercom.contacts WHERE email ~ '@' LIMIT 1"
    wdb.api.reset_counters()
    wdb.conn.execute(query).fetchall()
    alone = wdb.api.counters()["total"]
    with wdb.conn.transaction():
        wdb.conn.execute("EXPLAIN UPDATE intercom.contacts SET name = 'x' WHERE email ~ '@'").fetchall()
        wdb.api.reset_counters()
        assert len(wdb.conn.execute(query).fetchall()) == 1
        after_explain = wdb.api.counters()["total"]
    assert alone == 1 and after_explain == alone, (alone, after_explain)
