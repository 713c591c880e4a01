"""Benchmark: CALL intercom_fdw.sync() pushing local edits of a contacts replica (updates and inserts),
next to the same edits written straight to the foreign table (UPDATE/INSERT on intercom.contacts, no
change log, no conflict check, no pull), then a second sync with nothing to send. Prints changes/s,
API calls (by kind, from the emulator's counters) and wall time.

Runs against its own emulator (latency `--latency-ms`) and throwaway PostgreSQL; the extension must be
this checkout's (PG_BIN, as for the tests). Figures only; it fails only on errors.

    .venv/bin/python bench/sync.py [--contacts 2000] [--updates 200] [--inserts 50] [--latency-ms 50]
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from psycopg import sql  # noqa: E402

from intercom_fdw.emulator import EmulatorConfig, start_in_thread  # noqa: E402
from intercom_fdw.tools.throwaway_pg import PgCluster  # noqa: E402


def counted(url: str, action) -> tuple:
    """(seconds, reads, writes) of action(): the emulator's calls, searches and list POSTs as reads."""
    requests.post(url + "/__emulator/counters/reset", timeout=30).raise_for_status()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    by_route = requests.get(url + "/__emulator/counters", timeout=30).json()["by_route"]
    writes = sum(n for r, n in by_route.items() if not r.startswith("GET") and not r.endswith(("/search", "/list")))
    return seconds, sum(by_route.values()) - writes, writes


def line(name: str, changes: int, seconds: float, reads: int, writes: int) -> str:
    per = f"{(reads + writes) / changes:5.2f} calls/change" if changes else " " * 17
    rate = f"{changes / seconds:7.1f} changes/s" if changes else " " * 17
    return f"  {name:<44} {changes:>5} changes, {reads:>5} reads + {writes:>5} writes, {per}, {seconds:7.1f} s, {rate}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--inserts", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed benchmark still stops its PostgreSQL
    emulator = start_in_thread(EmulatorConfig(seed=7, token="bench", contacts=args.contacts, companies=5,
                                              conversations=5, tickets=2, articles=2,
                                              knobs={"rate_limit_per_10s": 1_000_000}), port=0)
    pg = PgCluster().start()
    try:
        db = pg.create_database("bench")
        with pg.connect(db) as conn:
            conn.execute(sql.SQL("CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn OPTIONS "
                                 "(wrapper 'intercom_fdw.IntercomFdw', api_url {})").format(sql.Literal(emulator.url)))
            conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER intercom OPTIONS (access_token 'bench')")
            conn.execute("CREATE SCHEMA intercom")
            conn.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts) FROM SERVER intercom INTO intercom")
            conn.execute("CREATE EXTENSION intercom_fdw CASCADE")
            conn.execute("CALL intercom_fdw.sync(ARRAY['contacts'])")
            requests.patch(emulator.url + "/__emulator/config", json={"latency_ms": args.latency_ms}, timeout=30)
            print(f"{args.contacts} contacts; {args.updates} local updates and {args.inserts} local inserts; "
                  f"{args.latency_ms} ms emulator latency")
            ids = [r[0] for r in conn.execute("SELECT id FROM intercom_replica.contacts ORDER BY id").fetchall()]
            changes = args.updates + args.inserts

            def edit(table, tag, rows):
                for key in rows:
                    conn.execute(sql.SQL("UPDATE {} SET name = %s WHERE id = %s").format(sql.SQL(table)),
                                 (f"{tag} {key}", key))
                for i in range(args.inserts):
                    conn.execute(sql.SQL("INSERT INTO {} (email, name) VALUES (%s, 'New')").format(sql.SQL(table)),
                                 (f"{tag}-{i}@example.com",))
            direct = counted(emulator.url, lambda: edit("intercom.contacts", "direct", ids[:args.updates]))
            print(line("same edits straight to the foreign table", changes, *direct))
            edit("intercom_replica.contacts", "synced", ids[args.updates:2 * args.updates])
            pushed = counted(emulator.url, lambda: conn.execute("CALL intercom_fdw.sync(ARRAY['contacts'])"))
            print(line("CALL intercom_fdw.sync() (push + pull)", changes, *pushed))
            again = counted(emulator.url, lambda: conn.execute("CALL intercom_fdw.sync(ARRAY['contacts'])"))
            print(line("CALL intercom_fdw.sync() again, nothing to send", 0, *again))
    finally:
        pg.stop()
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
