"""While a scan runs, the backend's cyclic garbage collector starts a collection of its youngest
generation only every scan_gc.SCAN_THRESHOLD containers allocated, not every 700 (a scan's
decoded pages hold no cycles: collecting them was 6% of a whole-row scan's CPU); the thresholds
in force before come back when the last scan ends, is closed, or fails. PL/Python, in the same
backend, reads them from the interpreter the runtime shares with it."""
import psycopg
import pytest

from intercom_fdw.scan_gc import SCAN_THRESHOLD
from tests.integration.read_fixtures import create_server


@pytest.fixture(scope="module")
def gc_db(pg, emulator):
    name = pg.create_database("read_scan_gc", extensions=("multicorn", "plpython3u"))
    with pg.connect(name) as conn:
        create_server(conn, "intercom", emulator.url, emulator.token)
        conn.execute("CREATE FOREIGN TABLE contacts (id text, email text) SERVER intercom OPTIONS (object 'contacts')")
        conn.execute("CREATE FUNCTION gc_threshold() RETURNS int[] LANGUAGE plpython3u "
                     "AS $$ import gc; return list(gc.get_threshold()) $$")
    return name


def thresholds(conn):
    return conn.execute("SELECT gc_threshold()").fetchone()[0]


def test_the_threshold_is_raised_while_scans_run_and_restored_after_the_last(pg, gc_db):
    with pg.connect(gc_db) as conn:
        before = thresholds(conn)
        assert before[0] < SCAN_THRESHOLD  # PostgreSQL's backends run Python's defaults
        with conn.transaction():
            conn.execute("DECLARE one CURSOR FOR SELECT id FROM contacts")
            conn.execute("DECLARE two CURSOR FOR SELECT email FROM contacts")
            assert conn.execute("FETCH 1 FROM one").fetchone()
            assert thresholds(conn) == [SCAN_THRESHOLD] + before[1:]
            assert conn.execute("FETCH 1 FROM two").fetchone()
            conn.execute("CLOSE one")
            assert thresholds(conn) == [SCAN_THRESHOLD] + before[1:]  # a scan still runs
            conn.execute("CLOSE two")
            assert thresholds(conn) == before
        rows = conn.execute("SELECT count(*) FROM (SELECT id FROM contacts) c").fetchone()[0]
        assert rows > 150  # more than one page, read to the end
        assert thresholds(conn) == before


def test_a_failed_scan_restores_the_threshold(pg, gc_db):
    with pg.connect(gc_db) as conn:
        before = thresholds(conn)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            conn.execute("SELECT id::int FROM contacts").fetchall()  # the first row fails, its scan open
        assert thresholds(conn) == before
