"""`make demo` (intercom_fdw.tools.demo.run_demo): it offers a psql command only for a cluster that is still up,
and a signal (SIGTERM, SIGHUP, SIGINT) stops that cluster and removes it as a normal exit does."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import psycopg
import pytest
import requests

from intercom_fdw.tools.demo import run_demo
from intercom_fdw.tools.throwaway_pg import REPO

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


def test_against_a_workspace_the_token_comes_from_an_environment_variable(pg, emulator, monkeypatch, capsys):
    # The README's "against a real workspace" passed the token as --token, where `ps` and the shell's
    # history show it, while setup reads it from a variable: demo does the same with --token-env.
    from intercom_fdw.tools.cli import main

    monkeypatch.setenv("DEMO_WORKSPACE_TOKEN", emulator.token)
    assert main(["demo", "--token-env", "DEMO_WORKSPACE_TOKEN", "--api-url", emulator.url, "--no-wait"]) == 0
    said = capsys.readouterr().out
    assert "IMPORT FOREIGN SCHEMA intercom FROM SERVER intercom INTO intercom" in said and "(3 rows)" in said
    assert emulator.token not in said
    monkeypatch.delenv("DEMO_WORKSPACE_TOKEN")
    assert main(["demo", "--token-env", "DEMO_WORKSPACE_TOKEN", "--api-url", emulator.url, "--no-wait"]) == 1
    said = capsys.readouterr().err
    assert "environment variable DEMO_WORKSPACE_TOKEN is not set or empty" in said
    assert "HINT: export DEMO_WORKSPACE_TOKEN=... (the workspace's access token)" in said  # not =[secret]


def _processes_of(postmaster_pid: int) -> List[int]:
    """The postmaster and its children (the backends, the checkpointer...) still running; a zombie
    (exited, not yet reaped by a container's init) is not running."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = dict(line.split(":\t", 1) for line in (entry / "status").read_text().splitlines()
                          if ":\t" in line)
        except (OSError, ValueError):
            continue
        if status.get("State", "").startswith("Z"):
            continue
        if int(status.get("Pid", 0)) == postmaster_pid or int(status.get("PPid", 0)) == postmaster_pid:
            found.append(int(status["Pid"]))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_demo_and_removes_its_cluster(pg, signum):
    """`intercom-fdw demo` waiting for psql, ended by `kill -TERM`, a closed terminal (SIGHUP) or Ctrl-C
    (SIGINT): its PostgreSQL and emulator stop and the cluster's directory goes, as on a normal exit."""
    demo = subprocess.Popen([sys.executable, "-m", "intercom_fdw.tools.cli", "demo", "--contacts", "60", "--wait"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    data = postmaster = None
    try:
        said = []
        for line in demo.stdout:  # until it is ready: the psql command it prints
            said.append(line)
            if "Connect with: psql" in line:
                break
        text = "".join(said)
        dsn = re.search(r"Connect with: psql '([^']+)'", text)
        assert dsn, text[-2000:]
        emulator_url = re.search(r"Intercom emulator: (http://\S+)", text).group(1)
        with psycopg.connect(dsn.group(1)) as conn:
            data = Path(conn.execute("SHOW data_directory").fetchone()[0])
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        assert _processes_of(postmaster)

        demo.send_signal(signum)
        rest = demo.communicate(timeout=60)[0]
        running, directory_left = _processes_of(postmaster), data.parent.exists()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if postmaster is not None and postmaster in _processes_of(postmaster):
            os.kill(postmaster, signal.SIGQUIT)  # what the demo left running: an immediate shutdown
            time.sleep(2)
        if data is not None:
            shutil.rmtree(data.parent, ignore_errors=True)
    assert running == [], rest
    assert not directory_left, rest
    # Ctrl-C is how the demo's wait ends; a kill or a hang-up exits with the signal's status.
    assert demo.returncode == (0 if signum == signal.SIGINT else 128 + signum), rest
    assert "Traceback" not in rest, rest
    with pytest.raises(requests.ConnectionError):
        requests.get(emulator_url + "/__emulator/counters", timeout=5)
