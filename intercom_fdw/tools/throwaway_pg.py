"""A throwaway PostgreSQL 15 cluster, for the test suite and the demo: initdb in a temporary
folder, a free port, an unprivileged OS user when run as root. It relies on no system service
and is removed at stop. The backend's PYTHONPATH holds the checkout (so `intercom_fdw` and the
test FDWs in `tests/` import from the working tree), the runtime's `multicorn` Python package and
the virtual environment's site-packages (requests, psycopg, ...): PostgreSQL embeds Debian's
libpython, which knows nothing of the virtual environment.

`INTERCOM_FDW_RUNTIME` picks the Multicorn runtime:
- `bundled` (default): multicorn_compat/ in the private copy of PostgreSQL 15 that
  scripts/bootstrap.sh builds under .cache/bundled/ (else the system's, or `PG_BIN`'s), and
  multicorn_compat/python;
- `multicorn2`: real multicorn2 3.2 in the relocated PostgreSQL that scripts/build_multicorn2.sh
  builds under .cache/multicorn2/ (`INTERCOM_FDW_MULTICORN2_DIR` to use another build)."""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import psycopg

REPO = Path(__file__).resolve().parents[2]
SUPERUSER = "postgres"
RUNTIMES = ("bundled", "multicorn2")
PORT_ATTEMPTS = 5  # pg_ctl start, each time on a new port while the last one was taken


ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _exit_status(signum: int) -> BaseException:
    return SystemExit(128 + signum)


@contextlib.contextmanager
def cleaned_up_on_signals(ended_by: Callable[[int], BaseException] = _exit_status) -> Iterator[contextlib.ExitStack]:
    """An ExitStack whose clean-ups (a cluster's stop) run on every way out: a return, an exception,
    and SIGINT, SIGTERM or SIGHUP. Python's default for SIGTERM and SIGHUP ends the process at once,
    without running `finally` blocks; pg_ctl starts the postmaster in a session of its own, so it and
    its directory would outlive the process. Here SIGTERM and SIGHUP raise `ended_by(signal)`, by
    default SystemExit(128 + signal), an exit status like the signal's own (the demo; the suite's
    `pg` fixture raises pytest's Exit, which ends the session, where a SystemExit would only fail one
    test), and SIGINT KeyboardInterrupt as by default. From the first of them (or the start of the
    clean-up) on, these signals are ignored: a second Ctrl-C cannot cut the clean-up short. Signals
    go to the main thread only: elsewhere this is a plain ExitStack."""
    handled = ENDING_SIGNALS if threading.current_thread() is threading.main_thread() else ()
    previous = {signum: signal.getsignal(signum) for signum in handled}

    def ignore_them():
        for signum in handled:
            signal.signal(signum, signal.SIG_IGN)

    def end(signum, _frame):
        ignore_them()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise ended_by(signum)

    for signum in handled:
        signal.signal(signum, end)
    cleanups = contextlib.ExitStack()
    try:
        yield cleanups
    finally:
        ignore_them()
        try:
            cleanups.close()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def runtime(name: str | None = None) -> str:
    """The runtime named, by default the one of this process (INTERCOM_FDW_RUNTIME)."""
    name = name or os.environ.get("INTERCOM_FDW_RUNTIME", "") or "bundled"
    if name not in RUNTIMES:
        raise RuntimeError(f"INTERCOM_FDW_RUNTIME={name!r}: expected one of {', '.join(RUNTIMES)}")
    return name


def multicorn2_dir() -> Path:
    return Path(os.environ.get("INTERCOM_FDW_MULTICORN2_DIR", REPO / ".cache" / "multicorn2"))


def pg_bin(name: str | None = None) -> Path:
    """The PostgreSQL binaries of a runtime (by default the selected one)."""
    if runtime(name) == "multicorn2":
        path = multicorn2_dir() / "lib" / "postgresql" / "15" / "bin"
        if not (path / "postgres").exists():
            raise RuntimeError(f"multicorn2 is not built at {multicorn2_dir()}: "
                               f"run scripts/build_multicorn2.sh relocated {multicorn2_dir()}")
        return path
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    # scripts/bootstrap.sh builds the bundled runtime into a private copy of PostgreSQL too, so that
    # a runtime another checkout installs into the system's cannot change what this one tests.
    private = bundled_dir() / "lib" / "postgresql" / "15" / "bin"
    return private if (private / "postgres").exists() else Path("/usr/lib/postgresql/15/bin")


def bundled_dir() -> Path:
    return REPO / ".cache" / "bundled"


def runtime_python_dir(name: str | None = None) -> Path:
    """The folder of a runtime's `multicorn` Python package, first on the backend's PYTHONPATH."""
    if runtime(name) == "multicorn2":
        return multicorn2_dir() / "python"
    return REPO / "multicorn_compat" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_pythonpath(name: str | None = None) -> str:
    parts = [str(REPO), str(runtime_python_dir(name)), sysconfig.get_paths()["purelib"]]
    return os.pathsep.join(p for p in parts if os.path.isdir(p))


class PgCluster:
    def __init__(self, settings: dict | None = None, runtime_name: str | None = None):
        """runtime_name: "bundled" or "multicorn2"; by default INTERCOM_FDW_RUNTIME's."""
        self.settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
            "lc_messages": "C",
            # Foreign scans of remote APIs cost a lot by multicorn's model; JIT would only add noise.
            "jit": "off",
            **(settings or {}),
        }
        self.runtime = runtime(runtime_name)
        self.bin = pg_bin(self.runtime)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="intercom_fdw_pg_"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.os_user = "postgres" if os.geteuid() == 0 else None
        self.env = {**os.environ, "PYTHONPATH": backend_pythonpath(self.runtime), "LC_ALL": "C.UTF-8", "TZ": "UTC"}

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", "env", f"PYTHONPATH={self.env['PYTHONPATH']}"] + cmd
        return subprocess.run(cmd, env=self.env, check=check, capture_output=True, text=True)

    def start(self) -> "PgCluster":
        os.chmod(self.dir, 0o755)
        if self.os_user:
            pw = pwd.getpwnam(self.os_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8")
        opts = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        # free_port() only found a port that was free then: until the postmaster binds it, another
        # process (the other runtime's run of scripts/test.sh, any client's connect) may take it.
        for attempt in range(PORT_ATTEMPTS):
            logged = self.log.stat().st_size if self.log.exists() else 0
            started = self._run(
                self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {opts}", "start",
                check=False,
            )
            if started.returncode == 0:
                return self
            with open(self.log, "rb") as log:
                log.seek(logged)
                taken = b"Address already in use" in log.read()
            if not taken or attempt == PORT_ATTEMPTS - 1:
                raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {started.stderr.strip()}\n"
                                   + self.log_tail())
            self.port = free_port()
        return self

    def stop(self) -> None:
        if self.data.exists():
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def connect(self, dbname: str = "postgres", user: str = SUPERUSER, autocommit: bool = True, **kw):
        return psycopg.connect(self.dsn(dbname, user), autocommit=autocommit, **kw)

    def create_database(self, name: str, extensions=("multicorn",)) -> str:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        with self.connect(name) as conn:
            for ext in extensions:
                conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{ext}"')
        return name

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def is_alive(self) -> bool:
        try:
            with self.connect(connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def wait_until_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.is_alive():
                return
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not come back:\n" + self.log_tail())
