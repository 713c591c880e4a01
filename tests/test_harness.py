"""The harness itself: the throwaway cluster starts, runs SQL, and has the extensions we need, and
goes when pytest is ended by a signal."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intercom_fdw.tools.throwaway_pg import REPO


def test_cluster_runs_sql(pg):
    with pg.connect() as conn:
        assert conn.execute("SELECT 1 + 1").fetchone()[0] == 2
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("15")


def test_plpython_available(pg):
    with pg.connect() as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
    assert "plpython3u" in names


def test_a_cluster_whose_port_was_taken_meanwhile_starts_on_another(pg):
    """free_port() only finds a port free at that moment; the other runtime's run of scripts/test.sh
    (or any connect) may take it before the postmaster binds it: start() then moves to another."""
    import socket

    from intercom_fdw.tools.throwaway_pg import PgCluster

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cluster = PgCluster(runtime_name=pg.runtime)
        cluster.port = taken.getsockname()[1]
        try:
            cluster.start()
            assert cluster.port != taken.getsockname()[1]
            with cluster.connect() as conn:
                assert conn.execute("SELECT 1").fetchone()[0] == 1
            assert "Address already in use" in cluster.log.read_text()
        finally:
            cluster.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_to_pytest_stops_the_pg_cluster_and_removes_it(pg, tmp_path, signum):
    """pytest ended by `kill` (SIGTERM) or a closed terminal (SIGHUP) left its cluster running and
    /tmp/intercom_fdw_pg_* behind: Python's default for these signals runs no teardown."""
    told = tmp_path / "cluster_dir"
    env = {k: v for k, v in os.environ.items() if k != "INTERCOM_FDW_TEST_SUMMARY"}  # not a line of this run's
    run = subprocess.Popen([sys.executable, "-m", "pytest", "tests/harness/pg_until_signaled.py", "-q",
                            "-p", "no:cacheprovider"], cwd=REPO, env={**env, "PG_UNTIL_SIGNALED_FILE": str(told)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    directory = postmaster = None
    try:
        deadline = time.monotonic() + 120
        while not told.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert told.exists(), run.communicate(timeout=60)[0] if run.poll() is not None else "no cluster in 120 s"
        directory = Path(told.read_text())
        postmaster = int((directory / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, 0)  # running
        run.send_signal(signum)
        output = run.communicate(timeout=60)[0]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    try:  # gone, or a zombie (exited, not yet reaped by a container's init)
        stopped = Path(f"/proc/{postmaster}/status").read_text().split("State:")[1].split()[0] == "Z"
    except OSError:
        stopped = True
    if not stopped:
        os.kill(postmaster, signal.SIGQUIT)
    left = directory.exists()
    if left:
        subprocess.run(["rm", "-rf", str(directory)], check=False)
    assert stopped and not left, output
    assert run.returncode == 128 + signum, output
