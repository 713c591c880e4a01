"""Where a scan's time goes: py-spy samples of the PostgreSQL backend and of the emulator, one query.

The emulator runs in a process of its own (the CLI), so the two are sampled apart; the backend is
the one serving this script's connection (pg_backend_pid()). py-spy (`pip install py-spy`; it is a
profiling tool, not a dependency) attaches to each for the query's duration and the script prints,
per process, the functions holding the most samples: own time ("self") and with callees
("inclusive"), as shares of that process's samples. Idle threads are not sampled (py-spy's default),
so the shares are of CPU time.

    .venv/bin/python bench/profile_scan.py [--contacts 30000] [--latency-ms 0]
        [--query "SELECT count(c) FROM intercom.contacts c"] [--server-options "scan_mode 'partitioned'"]
        [--runtime bundled|multicorn2] [--native]
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from psycopg import sql  # noqa: E402

from intercom_fdw.tools.throwaway_pg import PgCluster, free_port  # noqa: E402

TOKEN = "profile-token"


def start_emulator(contacts: int) -> tuple:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "intercom_fdw.tools.cli", "emulator", "--port", str(port), "--seed", "42", "--token", TOKEN,
         "--contacts", str(contacts), "--rate-limit-per-10s", "1000000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            requests.get(f"{url}/__emulator/counters", timeout=1)
            return process, url
        except requests.RequestException:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the emulator did not start")
            time.sleep(0.2)


def contacts_table(conn, url: str, server_options: str = "") -> int:
    """Server `intercom` at `url` (plus `server_options`, SQL text), its user mapping and the table
    intercom.contacts, read once (Python, intercom_fdw and the client loaded); the backend's pid."""
    extra = f", {server_options}" if server_options else ""
    conn.execute(sql.SQL("CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn OPTIONS "
                         "(wrapper 'intercom_fdw.IntercomFdw', api_url {}" + extra + ")").format(sql.Literal(url)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER intercom OPTIONS (access_token {})")
                 .format(sql.Literal(TOKEN)))
    conn.execute("CREATE SCHEMA intercom")
    conn.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts) FROM SERVER intercom INTO intercom")
    conn.execute("SELECT id FROM intercom.contacts LIMIT 1").fetchall()
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid`, all its threads (from /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample(pid: int, out: str, native: bool = False) -> subprocess.Popen:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "-o", out,
                             ] + (["--native"] if native else ["--nonblocking"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summary(path: str, title: str, top: int) -> None:
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in open(path):
        stack, _, count = line.rstrip().rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"\n== {title}: {total} samples")
    for label, counter in (("self", own), ("inclusive", inclusive)):
        print(f"  -- {label}")
        for frame, n in counter.most_common(top):
            print(f"  {n / max(total, 1):6.1%}  {frame[:130]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=30_000)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--query", default="SELECT count(c) FROM intercom.contacts c")
    parser.add_argument("--server-options", default="")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--runtime", default=None, help="bundled or multicorn2 (default: INTERCOM_FDW_RUNTIME's)")
    parser.add_argument("--native", action="store_true", help="C frames of the backend too (py-spy --native)")
    args = parser.parse_args()

    emulator, url = start_emulator(args.contacts)
    requests.patch(f"{url}/__emulator/config", json={"latency_ms": args.latency_ms}, timeout=30).raise_for_status()
    pg = PgCluster(runtime_name=args.runtime).start()
    work = tempfile.mkdtemp(prefix="intercom_fdw-profile-")
    try:
        pg.create_database("profile")
        with pg.connect("profile") as conn:
            backend = contacts_table(conn, url, args.server_options)
            cpu = (cpu_seconds(backend), cpu_seconds(emulator.pid))
            started = time.perf_counter()
            conn.execute(args.query).fetchall()
            unsampled = time.perf_counter() - started
            cpu = (cpu_seconds(backend) - cpu[0], cpu_seconds(emulator.pid) - cpu[1])
            files = {"backend": os.path.join(work, "backend.txt"), "emulator": os.path.join(work, "emulator.txt")}
            spies = [sample(backend, files["backend"], args.native), sample(emulator.pid, files["emulator"])]
            time.sleep(1.0)  # py-spy attaches
            started = time.perf_counter()
            result = conn.execute(args.query).fetchall()
            seconds = time.perf_counter() - started
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            for spy in spies:
                spy.wait(timeout=60)
        print(f"{args.query!r} -> {result[0] if len(result) == 1 else len(result)} in {seconds:.2f} s "
              f"({args.contacts / seconds:,.0f} contacts/s; unsampled {unsampled:.2f} s, "
              f"{args.contacts / unsampled:,.0f} contacts/s, CPU s: backend {cpu[0]:.2f}, emulator {cpu[1]:.2f}), "
              f"emulator latency {args.latency_ms:g} ms, "
              f"load average {os.getloadavg()[0]:.1f}")
        summary(files["backend"], f"PostgreSQL backend {backend}", args.top)
        summary(files["emulator"], f"emulator process {emulator.pid}", args.top)
    finally:
        pg.stop()
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
