"""Benchmark: a 1,000-row `INSERT INTO intercom.contacts ... SELECT` through PostgreSQL and intercom_fdw
against the emulator at 50 ms latency, with the server option `concurrency` at 1 and above.

Each contact is one `POST /contacts`, so the rate limit (1,666 calls per 10 s, Intercom's 10,000 per
minute) caps any import at about 166 rows/s; at 50 ms per call, one call at a time gives 20 rows/s.
The rows go through bulk_insert in batches of modify_batch_size (default 50), each batch written with
`concurrency` calls in flight. Prints rows/s per concurrency next to those two figures; it fails
only on errors (and when the emulator does not hold exactly the rows inserted).

    .venv/bin/python bench/insert.py [--rows 1000] [--latency-ms 50] [--concurrency 1 8 16]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from psycopg import sql  # noqa: E402

from intercom_fdw.emulator import EmulatorConfig, start_in_thread  # noqa: E402
from intercom_fdw.tools.throwaway_pg import PgCluster  # noqa: E402

RATE_LIMIT_PER_10S = 1666
SEEDED = 10


def contacts_in(url: str, token: str) -> int:
    response = requests.get(f"{url}/contacts", params={"per_page": 1}, timeout=60,
                            headers={"Authorization": f"Bearer {token}", "Intercom-Version": "2.14"})
    response.raise_for_status()
    return response.json()["total_count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16])
    args = parser.parse_args()

    emulator = start_in_thread(EmulatorConfig(
        seed=3, token="bench-token", contacts=SEEDED, companies=2, conversations=2, tickets=1, articles=1,
        knobs={"latency_ms": args.latency_ms, "rate_limit_per_10s": RATE_LIMIT_PER_10S}))
    pg = PgCluster().start()
    try:
        pg.create_database("bench_insert")
        with pg.connect("bench_insert") as conn:
            conn.execute(f"CREATE TABLE staging AS SELECT g, 'Person ' || g AS name "
                         f"FROM generate_series(1, {args.rows}) g")
            for width in args.concurrency:
                server = f"c{width}"
                conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper "
                                     "'intercom_fdw.IntercomFdw', api_url {}, concurrency {})").format(
                    sql.Identifier(server), sql.Literal(emulator.url), sql.Literal(str(width))))
                conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})")
                             .format(sql.Identifier(server), sql.Literal(emulator.token)))
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(server)))
                conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts) FROM SERVER {} INTO {}")
                             .format(sql.Identifier(server), sql.Identifier(server)))

            ceiling = RATE_LIMIT_PER_10S / 10
            serial = 1000 / args.latency_ms if args.latency_ms else float("inf")
            print(f"{args.rows} rows, INSERT INTO <schema>.contacts (email, name) SELECT ... FROM staging; "
                  f"emulator latency {args.latency_ms} ms, rate limit {RATE_LIMIT_PER_10S} calls/10 s")
            print(f"ceiling set by the rate limit (1 call per row): {ceiling:.0f} rows/s sustained; "
                  f"one call at a time at {args.latency_ms} ms: {serial:.0f} rows/s")
            if args.rows <= RATE_LIMIT_PER_10S:
                print(f"({args.rows} calls fit in one 10 s slice, so a single import may run above the sustained "
                      f"ceiling; --rows 5000 shows the limit)")
            expected = SEEDED
            for width in args.concurrency:
                time.sleep(10)  # a fresh rate-limit window for each run
                started = time.perf_counter()
                conn.execute(sql.SQL("INSERT INTO {}.contacts (email, name) "
                                     "SELECT 'c' || {} || '.' || g || '@bench.example', name FROM staging")
                             .format(sql.Identifier(f"c{width}"), sql.Literal(width)))
                seconds = time.perf_counter() - started
                expected += args.rows
                print(f"concurrency {width:>2}: {args.rows / seconds:7.1f} rows/s ({seconds:.1f} s; "
                      f"{args.rows / seconds / ceiling:.0%} of the ceiling)")
            found = contacts_in(emulator.url, emulator.token)
            if found != expected:
                raise SystemExit(f"the emulator holds {found} contacts, expected {expected}")
    finally:
        pg.stop()
        emulator.stop()


if __name__ == "__main__":
    main()
