"""The FDW's row path at 0 ms latency: `SELECT count(c) FROM intercom.contacts c`, rows/s, both runtimes.

The whole-row reference makes the FDW produce every column of every row (`attrs` included). The
emulator serves from a process of its own; for each runtime a throwaway PostgreSQL runs the query
`--repeat` times in one backend, and the script prints, side by side:

- rows/s of wall time (what a user sees; on a loaded machine it includes waiting for a core), and
- rows per CPU second of the backend (user + system time of all its threads, from /proc): what one
  core would give, the figure the target "25,000 rows/s on one core" is about;
- the same two for a plain loop that GETs the pages with requests and parses them with orjson, in
  this process (the floor of any client: HTTP and JSON only, no rows).

Also printed: the load average, since two shared cores make every wall-clock figure noisy.

    .venv/bin/python bench/row_path.py [--contacts 20000] [--repeat 3] [--runtimes bundled multicorn2]
        [--query "SELECT count(id) FROM intercom.contacts"]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
import requests  # noqa: E402

from bench.profile_scan import TOKEN, contacts_table, cpu_seconds, start_emulator  # noqa: E402
from intercom_fdw.tools.throwaway_pg import PgCluster  # noqa: E402

QUERY = "SELECT count(c) FROM intercom.contacts c"
PAGE = 150


def plain_loop(url: str) -> tuple:
    """(rows, wall s, CPU s) of paging GET /contacts and parsing each page with orjson."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.14"})
    started, cpu = time.perf_counter(), time.process_time()
    count, params = 0, {"per_page": PAGE}
    while True:
        page = orjson.loads(session.get(f"{url}/contacts", params=params, timeout=60).content)
        count += len(page["data"])
        following = (page.get("pages") or {}).get("next")
        if not following:
            return count, time.perf_counter() - started, time.process_time() - cpu
        params = {"per_page": PAGE, "starting_after": following["starting_after"]}


def fdw_runs(runtime: str, url: str, repeat: int, query: str = QUERY) -> list:
    """[(rows, wall s, backend CPU s)] of the query, `repeat` times in one backend."""
    pg = PgCluster(runtime_name=runtime).start()
    try:
        pg.create_database("row_path")
        with pg.connect("row_path") as conn:
            backend = contacts_table(conn, url)
            runs = []
            for _ in range(repeat):
                cpu, started = cpu_seconds(backend), time.perf_counter()
                count = conn.execute(query).fetchone()[0]
                runs.append((count, time.perf_counter() - started, cpu_seconds(backend) - cpu))
            return runs
    finally:
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runtimes", nargs="+", default=["bundled", "multicorn2"])
    parser.add_argument("--query", default=QUERY, help="a query returning one count (default: the whole-row count)")
    args = parser.parse_args()

    emulator, url = start_emulator(args.contacts)
    try:
        figures = {"plain loop (requests + orjson, no rows)": [plain_loop(url) for _ in range(args.repeat)]}
        for runtime in args.runtimes:
            figures[f"{args.query} [{runtime}]"] = fdw_runs(runtime, url, args.repeat, args.query)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    print(f"{args.contacts:,} contacts, emulator latency 0 ms (its own process), {args.repeat} runs each, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  {'scan':<58} {'rows/s wall':>12} {'rows/CPU-s':>11}")
    for label, runs in figures.items():
        wall = statistics.median(rows / seconds for rows, seconds, _ in runs)
        cpu = statistics.median(rows / max(used, 1e-9) for rows, _, used in runs)
        print(f"  {label:<58} {wall:>12,.0f} {cpu:>11,.0f}")
    print("  target (issue): count(c) >= 25,000 rows/s on one core (rows per backend CPU second)")


if __name__ == "__main__":
    main()
