"""`make demo` (intercom_fdw.tools.demo.run_demo): it offers a psql command only for a cluster that is still up."""
import re
import signal

import psycopg
import pytest

from intercom_fdw.tools.demo import run_demo

pytestmark = pytest.mark.timeout(300)


# `pg` is not used: run_demo starts its own throwaway cluster, on the runtime of the run; the fixture
# marks the test as touching PostgreSQL, so that it runs on both runtimes.
def test_without_a_terminal_the_demo_says_it_stopped(pg):
    said = []
    assert run_demo(contacts=60, wait=False, say=said.append) == 0
    assert not any("Connect with" in line for line in said), said[-3:]
    assert "stop now" in said[-1]


def test_in_a_terminal_the_psql_command_reaches_the_running_cluster(pg, monkeypatch):
    said, answered = [], []

    def pause():  # what Ctrl-C ends: by then the cluster must answer the command the demo printed
        dsn = re.search(r"Connect with: psql '([^']+)'", "\n".join(said)).group(1)
        with psycopg.connect(dsn) as conn:
            answered.append(conn.execute("SELECT count(*) FROM intercom.admins").fetchone()[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(signal, "pause", pause)
    assert run_demo(contacts=60, wait=True, say=said.append) == 0
    assert answered and answered[0] > 0
