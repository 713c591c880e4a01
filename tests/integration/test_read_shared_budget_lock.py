"""A backend stopped while it holds the workspace's budget file (client/shared_budget.py) locked, by
SIGSTOP or a debugger, must not make the other backends' scans uncancelable: they wait for that lock
in slices that check for an interrupt, so statement_timeout and pg_cancel_backend end them, and they
go on once the lock is free. Here this test process holds the lock the way such a backend would."""
import fcntl
import glob
import os
import tempfile
import time

import psycopg
import pytest

from intercom_fdw.client.scroll_lock import workspace_key
from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import create_server
from tests.integration.test_cancel import assert_canceled

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def budget_server(pg, db):
    config = EmulatorConfig(seed=33, token="tok-budget-lock-5d1f", contacts=300, companies=2, conversations=2,
                            tickets=1, articles=1)
    with start_in_thread(config, port=0) as server:
        with pg.connect(db) as conn:
            create_server(conn, "budget_lock", server.url, server.token)
            conn.execute("CREATE FOREIGN TABLE public.budget_lock_contacts (id text) SERVER budget_lock "
                         "OPTIONS (object 'contacts')")
            conn.execute("CREATE FOREIGN TABLE public.budget_lock_windows (id text, created_at timestamptz) "
                         "SERVER budget_lock OPTIONS (object 'contacts', scan_mode 'partitioned')")
        yield server


def budget_file(server) -> str:
    """The budget file the backends made (named by their OS user and the workspace key)."""
    key = workspace_key(server.url, server.token)
    found = glob.glob(os.path.join(tempfile.gettempdir(), f"intercom_fdw-budget-*-{key}.json"))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("table", ["budget_lock_contacts", "budget_lock_windows"])
def test_a_scan_waiting_for_a_budget_file_another_backend_holds_still_ends_on_cancel(pg, db, budget_server, table):
    with pg.connect(db) as conn:
        assert conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()[0] == 300  # makes the file
        fd = os.open(budget_file(budget_server), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            conn.execute("SET statement_timeout = '1s'")
            started = time.monotonic()
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(f"SELECT count(*) FROM public.{table}")
            assert time.monotonic() - started < 10
            assert_canceled(caught.value, "statement timeout")
            conn.execute("RESET statement_timeout")
        finally:
            os.close(fd)  # the stopped backend goes on: the lock is free
        assert conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()[0] == 300
