"""The FDW's row path at 0 ms latency: `SELECT count(c) FROM intercom.contacts c`, rows/s, both runtimes.

The whole-row reference makes the FDW produce every column of every row (`attrs` included). The
emulator serves from a process of its own; for each runtime a throwaway PostgreSQL runs the query
in one backend, in `--repeat` rounds of the plain loop and then each runtime, and the script prints,
side by side:

- rows/s of wall time (what a user sees; on a loaded machine it includes waiting for a core), and
- rows per CPU second of the backend (user + system time of all its threads, from /proc): what one
  core would give, the figure the target "25,000 rows/s on one core" is about;
- the best run's rows per CPU second too: the two vCPUs of this machine share their host, and one
  run of the same work has been seen to take 1.6 times the CPU of another (the least CPU a run took
  is the cost of the work itself, as `timeit` reads its repeats);
- the same for a plain loop that GETs the pages with requests and parses them with orjson, in
  this process (the floor of any client: HTTP and JSON only, no rows).

Also printed: the load average, since two shared cores make every wall-clock figure noisy.

    .venv/bin/python bench/row_path.py [--contacts 20000] [--repeat 5] [--runtimes bundled multicorn2]
        [--query "SELECT count(id) FROM intercom.contacts" --query "SELECT count(attrs) FROM intercom.contacts" ...]
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
# The plain loop's rows per CPU second on the machine the issue measured (its target, 25,000, is 0.54 of it).
ISSUE_PLAIN_LOOP = 46_000


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


class Backend:
    """A throwaway PostgreSQL of one runtime with the contacts table, and one backend that reads it."""

    def __init__(self, runtime: str, url: str):
        self.pg = PgCluster(runtime_name=runtime).start()
        self.pg.create_database("row_path")
        self.conn = self.pg.connect("row_path")
        self.pid = contacts_table(self.conn, url)

    def run(self, query: str) -> tuple:
        """(rows, wall s, backend CPU s) of the query."""
        cpu, started = cpu_seconds(self.pid), time.perf_counter()
        count = self.conn.execute(query).fetchone()[0]
        return count, time.perf_counter() - started, cpu_seconds(self.pid) - cpu

    def stop(self) -> None:
        self.conn.close()
        self.pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runtimes", nargs="+", default=["bundled", "multicorn2"])
    parser.add_argument("--query", action="append", dest="queries", metavar="QUERY",
                        help="a query returning one count; repeat it to measure several side by side "
                             "(default: the whole-row count)")
    args = parser.parse_args()
    queries = args.queries or [QUERY]

    emulator, url = start_emulator(args.contacts)
    backends = {}
    plain_label = "plain loop (requests + orjson, no rows)"
    figures = {plain_label: []}
    try:
        for runtime in args.runtimes:
            backends[runtime] = Backend(runtime, url)
            for query in queries:
                figures[f"{query} [{runtime}]"] = []
        plain_loop(url)  # the emulator's first list serialises its contacts: not measured
        # Rounds: the plain loop, then each runtime, `repeat` times, so that a slow spell of the
        # shared host weighs on all of them alike (one round's ratios compare like with like).
        for _ in range(args.repeat):
            figures[plain_label].append(plain_loop(url))
            for runtime, backend in backends.items():
                for query in queries:
                    figures[f"{query} [{runtime}]"].append(backend.run(query))
    finally:
        for backend in backends.values():
            backend.stop()
        emulator.terminate()
        emulator.wait(timeout=30)
    print(f"{args.contacts:,} contacts, emulator latency 0 ms (its own process), {args.repeat} rounds, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"  {'scan':<58} {'rows/s wall':>12} {'rows/CPU-s':>11} {'best':>8} {'us/row':>7} {'x plain':>8}")
    plain = [rows / max(used, 1e-9) for rows, _, used in figures[plain_label]]
    for label, runs in figures.items():
        wall = statistics.median(rows / seconds for rows, seconds, _ in runs)
        cpu = [rows / max(used, 1e-9) for rows, _, used in runs]
        ratio = statistics.median(one / loop for one, loop in zip(cpu, plain))
        print(f"  {label:<58} {wall:>12,.0f} {statistics.median(cpu):>11,.0f} {max(cpu):>8,.0f} "
              f"{1e6 / statistics.median(cpu):>7.1f} {ratio:>8.2f}")
    print("  target (issue): count(c) >= 25,000 rows/s on one core (rows per backend CPU second); x plain: the")
    print("  median over the rounds of the scan's rows/CPU-s over the plain loop's in the same round (on the")
    print("  issue's machine the plain loop made 46,000 rows/s: the target is 0.54 of it)")
    print("  us/row: backend CPU per row (median); the difference between two queries is what the columns")
    print("  the second one adds cost")
    for label, runs in list(figures.items())[1:]:
        if not label.startswith(QUERY + " ["):
            continue
        rates = [rows / max(used, 1e-9) for rows, _, used in runs]
        cpu = statistics.median(rates)
        verdict = "met" if cpu >= 25_000 else "NOT met"
        if label.endswith("[multicorn2]"):  # README: multicorn2 passes no column for a whole-row reference
            verdict = "not comparable (multicorn2 asks for no column here: nothing is shaped)"
            print(f"  {label}: {verdict} ({cpu:,.0f})")
            continue
        print(f"  {label}: {verdict} on this machine now ({cpu:,.0f} rows per CPU second)")
        # The same rounds' ratio at the speed of the issue's machine, where the plain loop made 46,000 rows
        # per CPU second: this machine's shared cores change speed by up to 2x from hour to hour, which
        # the ratio to the plain loop of the same round takes out (it held within 0.50 to 0.58 across it).
        scaled = statistics.median(one / loop for one, loop in zip(rates, plain)) * ISSUE_PLAIN_LOOP
        print(f"  {label}: {'met' if scaled >= 25_000 else 'NOT met'} at the issue machine's speed "
              f"(x plain {scaled / ISSUE_PLAIN_LOOP:.2f} x {ISSUE_PLAIN_LOOP:,}: {scaled:,.0f})")


if __name__ == "__main__":
    main()
