"""A ROLLBACK (or ROLLBACK TO SAVEPOINT) undoes nothing in Intercom, and says so: a WARNING names
the rows the rolled-back statements wrote, which stay there. Both used to be silent: after
`BEGIN; INSERT INTO intercom.tags ...; ROLLBACK;` the tag was in Intercom and nothing said it."""
import pytest

from tests.integration.write_fixtures import own_write_db

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def wdb(pg, db):
    with own_write_db(pg, db) as wdb:
        yield wdb


def run(wdb, *statements):
    """Each statement's WARNINGs, in order."""
    said = []
    for statement in statements:
        wdb.notices.clear()
        wdb.rows(statement)
        said.append([(message, detail) for severity, message, detail in wdb.notices if severity == "WARNING"])
    return said


def tag_id(wdb, name):
    return next(t["id"] for t in wdb.api.get("/tags")["data"] if t["name"] == name)


def test_a_rolled_back_transaction_says_what_stays_in_intercom(wdb):
    said = run(wdb, "BEGIN", "INSERT INTO intercom.tags (name) VALUES ('rb one'), ('rb two')", "ROLLBACK")
    assert said[:2] == [[], []]
    ids = ", ".join(sorted([tag_id(wdb, "rb one"), tag_id(wdb, "rb two")]))
    (message, detail), = said[2]
    assert message == ("tags: the transaction rolled back, but 2 row(s) its statements wrote to Intercom stay "
                       "there (a remote write cannot be rolled back)"), message
    assert sorted(detail.removeprefix("written ids: ").split(", ")) == ids.split(", "), detail


def test_rollback_to_savepoint_names_only_the_rows_written_since(wdb):
    said = run(wdb, "BEGIN", "INSERT INTO intercom.tags (name) VALUES ('sp before')", "SAVEPOINT s",
               "UPDATE intercom.tags SET name = 'sp renamed' WHERE name = 'sp before'",
               "INSERT INTO intercom.tags (name) VALUES ('sp after')", "ROLLBACK TO SAVEPOINT s", "COMMIT")
    (message, detail), = said[5]
    assert message == ("tags: the rollback of a savepoint (or subtransaction) undid nothing in Intercom: 2 row(s) "
                       "written there since it began stay (a remote write cannot be rolled back)"), message
    assert detail == f"written ids: {tag_id(wdb, 'sp renamed')}, {tag_id(wdb, 'sp after')}", detail
    assert said[6] == [], "the commit keeps the first insert, written before the savepoint: nothing to say"


def test_a_released_savepoint_passes_its_rows_to_the_transaction(wdb):
    said = run(wdb, "BEGIN", "SAVEPOINT s", "INSERT INTO intercom.tags (name) VALUES ('released')",
               "RELEASE SAVEPOINT s", "ROLLBACK")
    (message, detail), = said[4]
    assert "1 row(s)" in message and detail == f"written ids: {tag_id(wdb, 'released')}"


def test_committed_and_autocommitted_writes_say_nothing(wdb):
    assert run(wdb, "INSERT INTO intercom.tags (name) VALUES ('auto')", "BEGIN",
               "INSERT INTO intercom.tags (name) VALUES ('committed')", "COMMIT", "BEGIN", "ROLLBACK") == [[]] * 6


def test_a_rollback_with_a_savepoint_open_names_every_row_once(wdb):
    said = run(wdb, "BEGIN", "INSERT INTO intercom.tags (name) VALUES ('open outer')", "SAVEPOINT s",
               "INSERT INTO intercom.tags (name) VALUES ('open inner')", "ROLLBACK")
    details = sorted(detail for _, detail in said[4])
    assert details == sorted([f"written ids: {tag_id(wdb, 'open outer')}", f"written ids: {tag_id(wdb, 'open inner')}"])
