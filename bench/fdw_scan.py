"""Benchmark: a full contacts scan through PostgreSQL and intercom_fdw next to a plain Python loop
with `requests` over the same pages, and API calls per query next to the minimum possible.

Runs against its own emulator and throwaway PostgreSQL, once with 0 ms and once with 50 ms of
emulator latency, and prints figures only (it fails only on errors):

- rows/s of `SELECT count(c) FROM intercom.contacts c` (the whole-row reference makes the FDW
  produce every column of every row, `attrs` included, while PostgreSQL sends back one row) and
  of `COPY (SELECT * FROM intercom.contacts) TO STDOUT` (every value also formatted and sent),
  next to a loop that GETs /contacts?per_page=150&starting_after=... and parses the JSON.
  `SELECT count(id)` (one column) is shown too: the same pages with almost no shaping, so the
  gap between it and count(c) is what producing typed columns costs.
  The plain loop runs in a process of its own, as the FDW runs in its backend: the emulator
  serves from a thread of this process, and a loop sharing its GIL would be slowed by it.
  Runs alternate (plain, FDW, COPY) `--repeat` times; the ratio is FDW / plain of the medians.
- API calls of each pushdown case, read from the emulator's counters, next to the minimum.

    .venv/bin/python bench/fdw_scan.py [--contacts 20000] [--slow-contacts 4500] [--repeat 3]
"""
from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from psycopg import sql  # noqa: E402

from intercom_fdw.emulator import EmulatorConfig, start_in_thread  # noqa: E402
from intercom_fdw.tools.throwaway_pg import PgCluster  # noqa: E402

PAGE = 150  # Intercom's largest per_page for contacts
API_VERSION = "2.14"
ARTICLES = 20
FDW_SCAN = "SELECT count(c) FROM intercom.contacts c"
ID_SCAN = "SELECT count(id) FROM intercom.contacts"
COPY_SCAN = "COPY (SELECT * FROM intercom.contacts) TO STDOUT"


# ---- the plain loop (runs in a child process) --------------------------------------------------

def plain_scan(url: str, token: str) -> tuple:
    """(contacts, seconds) of paging through GET /contacts with requests and parsing every page."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                            "Intercom-Version": API_VERSION})
    session.get(f"{url}/contacts", params={"per_page": 1}, timeout=60).raise_for_status()  # connect
    started = time.perf_counter()
    count, params = 0, {"per_page": PAGE}
    while True:
        response = session.get(f"{url}/contacts", params=params, timeout=60)
        response.raise_for_status()
        page = response.json()
        count += len(page["data"])
        following = (page.get("pages") or {}).get("next")
        if not isinstance(following, dict) or not following.get("starting_after"):
            return count, time.perf_counter() - started
        params = {"per_page": PAGE, "starting_after": following["starting_after"]}


# ---- the emulator's counters -------------------------------------------------------------------

class Emulator:
    def __init__(self, contacts: int):
        self.server = start_in_thread(EmulatorConfig(
            seed=42, token="bench-token", contacts=contacts, companies=200, conversations=100, tickets=60,
            articles=ARTICLES))
        # The seeded workspace lives in this process: without this, full collections walking it
        # stall the emulator thread now and then (tens of ms), on whichever scan is running.
        gc.collect()
        gc.freeze()
        self.url, self.token = self.server.url, self.server.token
        self.api = requests.Session()
        self.api.headers.update({"Authorization": f"Bearer {self.token}", "Intercom-Version": API_VERSION,
                                 "Accept": "application/json"})

    def set_latency(self, ms: float) -> None:
        requests.patch(f"{self.url}/__emulator/config", json={"latency_ms": ms}, timeout=30).raise_for_status()

    def reset_counters(self) -> None:
        requests.post(f"{self.url}/__emulator/counters/reset", timeout=30).raise_for_status()

    def counters(self) -> dict:
        return requests.get(f"{self.url}/__emulator/counters", timeout=30).json()["by_route"]

    def get(self, path: str, **params) -> dict:
        response = self.api.get(self.url + path, params=params, timeout=60)
        response.raise_for_status()
        return response.json()


def set_up_database(pg: PgCluster, emulator: Emulator, dbname: str) -> None:
    pg.create_database(dbname)
    with pg.connect(dbname) as conn:
        conn.execute(sql.SQL("CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn OPTIONS "
                             "(wrapper 'intercom_fdw.IntercomFdw', api_url {})").format(sql.Literal(emulator.url)))
        conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER intercom OPTIONS (access_token {})")
                     .format(sql.Literal(emulator.token)))
        conn.execute("CREATE SCHEMA intercom")
        conn.execute("IMPORT FOREIGN SCHEMA intercom FROM SERVER intercom INTO intercom")
        conn.execute("CREATE FOREIGN TABLE public.articles_lean (id text, statistics_views integer) "
                     "SERVER intercom OPTIONS (object 'articles', suppress_extended_requests 'true')")
        contacts = emulator.get("/contacts", per_page=10)["data"]
        conn.execute("CREATE TABLE my_contacts (contact_id text PRIMARY KEY)")
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO my_contacts VALUES (%s)", [(c["id"],) for c in contacts])
        conn.execute("ANALYZE my_contacts")


# ---- rows/s --------------------------------------------------------------------------------------

def timed_query(conn, query: str) -> tuple:
    started = time.perf_counter()
    if query.startswith("COPY"):
        # Raw blocks, rows counted by their newlines (text format escapes those inside values):
        # parsing rows here would take the GIL from the emulator thread serving the scan.
        count = 0
        with conn.cursor().copy(query) as copy:
            for block in copy:
                count += bytes(block).count(b"\n")
    else:
        count = conn.execute(query).fetchone()[0]
    return count, time.perf_counter() - started


def throughput(pg, dbname, emulator: Emulator, plain_pool, repeat: int) -> dict:
    """{name: [rows/s per run]} for the plain loop, the FDW scans and the COPY export."""
    figures = {"plain": [], "fdw": [], "copy": [], "id": []}
    with pg.connect(dbname) as conn:
        conn.execute("SELECT id FROM intercom.contacts LIMIT 1").fetchall()  # Python, imports, client
        for _ in range(repeat):
            count, seconds = plain_pool.submit(plain_scan, emulator.url, emulator.token).result()
            figures["plain"].append((count, seconds))
            figures["fdw"].append(timed_query(conn, FDW_SCAN))
            figures["copy"].append(timed_query(conn, COPY_SCAN))
            figures["id"].append(timed_query(conn, ID_SCAN))
    counts = {name: {c for c, _ in runs} for name, runs in figures.items()}
    if len(set().union(*counts.values())) != 1:
        raise SystemExit(f"the scans disagree on the number of contacts: {counts}")
    return {name: [c / s for c, s in runs] for name, runs in figures.items()}


def print_throughput(rates: dict, contacts: int) -> None:
    labels = {"plain": "plain requests loop", "fdw": FDW_SCAN, "copy": COPY_SCAN, "id": ID_SCAN}
    for name, runs in rates.items():
        shown = ", ".join(f"{r:,.0f}" for r in runs)
        print(f"  {labels[name]:<52} median {statistics.median(runs):>9,.0f} rows/s   (runs: {shown})")
    plain = statistics.median(rates["plain"])
    ratios = "   ".join(f"{name} {statistics.median(rates[key]) / plain:.2f}"
                          for name, key in (("count(c)", "fdw"), ("COPY", "copy"), ("count(id)", "id")))
    print(f"  ratio FDW / plain:  {ratios}   (target >= 0.9 for all columns; {contacts:,} contacts, "
          f"{math.ceil(contacts / PAGE)} pages)")


# ---- API calls per query ---------------------------------------------------------------------------

def call_cases(emulator: Emulator, contacts: int) -> list:
    """(case, SQL, parameters, minimum calls) for each call-count check of the pushdown cases."""
    contact = next(c for c in emulator.get("/contacts", per_page=PAGE)["data"] if c.get("email"))
    company = next(c for c in emulator.get("/companies", per_page=50)["data"] if c.get("company_id"))
    articles = ARTICLES
    return [
        ("contacts WHERE id = x", "SELECT * FROM intercom.contacts WHERE id = %s", (contact["id"],), 1),
        ("contacts WHERE email = x (1 search)", "SELECT * FROM intercom.contacts WHERE email = %s",
         (contact["email"],), 1),
        (f"full scan of {contacts:,} contacts", "SELECT count(c) FROM intercom.contacts c", None,
         math.ceil(contacts / PAGE)),
        ("contacts LIMIT 5", "SELECT * FROM intercom.contacts LIMIT 5", None, 1),
        ("articles ORDER BY updated_at DESC LIMIT 10",
         "SELECT id, title, updated_at FROM intercom.articles ORDER BY updated_at DESC LIMIT 10", None, 1),
        ("10 local rows JOIN contact_tags",
         "SELECT m.contact_id, t.id, t.name FROM my_contacts m "
         "JOIN intercom.contact_tags t ON t.contact_id = m.contact_id", None, 10),
        (f"articles, statistics selected (list + {articles})",
         "SELECT id, title, statistics_views FROM intercom.articles", None, 1 + articles),
        ("articles, statistics not selected", "SELECT id, title FROM intercom.articles", None, 1),
        ("articles, suppress_extended_requests",
         "SELECT id, statistics_views FROM public.articles_lean", None, 1),
        ("companies WHERE company_id = x", "SELECT * FROM intercom.companies WHERE company_id = %s",
         (company["company_id"],), 1),
    ]


def print_call_counts(pg, dbname, emulator: Emulator, contacts: int) -> None:
    cases = call_cases(emulator, contacts)
    width = max(len(case) for case, *_ in cases)
    print(f"  {'case':<{width}}  {'calls':>5}  {'min':>5}  verdict  routes")
    with pg.connect(dbname) as conn:
        conn.execute("SELECT id FROM intercom.contacts LIMIT 1").fetchall()
        for case, query, params, minimum in cases:
            emulator.reset_counters()
            rows = conn.execute(query, params).fetchall()
            routes = emulator.counters()
            calls = sum(routes.values())
            verdict = "OK" if calls == minimum else ("over" if calls > minimum else "UNDER")
            shown = ", ".join(f"{route} x{n}" for route, n in sorted(routes.items()))
            print(f"  {case:<{width}}  {calls:>5}  {minimum:>5}  {verdict:<7}  {shown}  ({len(rows)} rows)")


# ---- main --------------------------------------------------------------------------------------------

def run_phase(pg, plain_pool, latency_ms: float, contacts: int, repeat: int) -> None:
    print(f"\n=== emulator latency {latency_ms:g} ms, {contacts:,} contacts")
    emulator = Emulator(contacts)
    try:
        dbname = f"bench_{int(latency_ms)}ms"
        set_up_database(pg, emulator, dbname)
        emulator.set_latency(latency_ms)
        print("Full contacts scan, rows/s:")
        print_throughput(throughput(pg, dbname, emulator, plain_pool, repeat), contacts)
        print("API calls per query (emulator counters):")
        print_call_counts(pg, dbname, emulator, contacts)
    finally:
        emulator.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts at 0 ms latency")
    parser.add_argument("--slow-contacts", type=int, default=4_500, help="contacts at 50 ms latency")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each scan (medians are compared)")
    args = parser.parse_args()

    pg = PgCluster().start()
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as plain_pool:
            for latency_ms, contacts in ((0, args.contacts), (50, args.slow_contacts)):
                run_phase(pg, plain_pool, latency_ms, contacts, args.repeat)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
