"""Benchmark: full and incremental replication (CALL intercom_fdw.replicate()) of contacts and of
conversations with their parts, next to a sequential baseline that pages the same endpoints one call
at a time as today's tools do (contacts and conversations searched in 30-day updated_at slices, then
GET /conversations/{id} for every conversation's parts). Prints rows/s, API calls and wall time.

Runs against its own emulator (latency `--latency-ms`) and throwaway PostgreSQL; the extension must be
this checkout's (PG_BIN, as for the tests). The full run runs twice: with partitioning turned off
(intercom_fdw.replicate_scan_mode 'sequential', into the schema bench_sequential), then as by
default (partitioned created_at windows read concurrently). Between the full and the incremental run, 1% of the
contacts are updated and 1% of the conversations get a reply. Figures only; it fails only on errors.

    .venv/bin/python bench/replicate.py [--contacts 100000] [--conversations 20000] [--latency-ms 50]
"""
from __future__ import annotations

import argparse
import random
import signal
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

DAY = 86400
OBJECTS = ["contacts", "conversations", "conversation_parts"]


def baseline(url: str, token: str, since: int, until: int) -> tuple:
    """(rows, calls, seconds): search contacts and conversations updated in [since, until) in 30-day
    slices, one page at a time, then GET each conversation found for its parts, one at a time."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                            "Intercom-Version": "2.14"})
    started, rows, calls = time.perf_counter(), 0, 0
    for path, key in (("/contacts/search", "data"), ("/conversations/search", "conversations")):
        found = []
        for low in range(since, until, 30 * DAY):
            query = {"operator": "AND", "value": [
                {"field": "updated_at", "operator": ">", "value": low - 1},
                {"field": "updated_at", "operator": "<", "value": min(low + 30 * DAY, until)}]}
            cursor = None
            while True:
                pagination = {"per_page": 150, **({"starting_after": cursor} if cursor else {})}
                page = session.post(url + path, json={"query": query, "pagination": pagination}, timeout=60).json()
                calls += 1
                found += page.get(key) or []
                cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
                if not cursor:
                    break
        rows += len(found)
        if key == "conversations":
            for conversation in found:
                parts = session.get(f"{url}/conversations/{conversation['id']}", timeout=60).json()
                calls += 1
                rows += len((parts.get("conversation_parts") or {}).get("conversation_parts") or [])
    return rows, calls, time.perf_counter() - started


def replicate(conn, mode: str, schema: str = "bench") -> tuple:
    started = time.perf_counter()
    conn.execute("CALL intercom_fdw.replicate(%s, %s, %s)", (OBJECTS, schema, mode))
    seconds = time.perf_counter() - started
    rows = conn.execute("SELECT sum(rows_read), sum(api_calls), sum(rows_inserted + rows_updated) "
                        "FROM intercom_fdw.replication_state WHERE target_schema = %s", (schema,)).fetchone()
    return int(rows[0]), int(rows[1]), int(rows[2]), seconds


_PER_OBJECT = ("SELECT object, api_calls, extract(epoch FROM run_ended_at - run_started_at)::float8 "
               "FROM intercom_fdw.replication_state WHERE target_schema = %s ORDER BY object")


def line(name: str, rows: int, calls: int, seconds: float, written=None) -> str:
    extra = f", {written:>7} written" if written is not None else ""
    return f"  {name:<34} {rows:>8} rows read{extra}, {calls:>6} calls, {seconds:8.1f} s, {rows / seconds:9.0f} rows/s"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed benchmark still stops its PostgreSQL
    emulator = start_in_thread(EmulatorConfig(seed=7, token="bench", contacts=args.contacts, companies=10,
                                              conversations=args.conversations, tickets=5, articles=5,
                                              knobs={"rate_limit_per_10s": 1_000_000}), port=0)
    pg = PgCluster().start()
    try:
        db = pg.create_database("bench")
        with pg.connect(db) as conn:
            conn.execute(sql.SQL("CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn OPTIONS "
                                 "(wrapper 'intercom_fdw.IntercomFdw', api_url {})").format(sql.Literal(emulator.url)))
            conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER intercom OPTIONS (access_token 'bench')")
            conn.execute("CREATE SCHEMA intercom")
            conn.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts, conversations, conversation_parts) "
                         "FROM SERVER intercom INTO intercom")
            conn.execute("CREATE EXTENSION intercom_fdw CASCADE")
            requests.patch(emulator.url + "/__emulator/config", json={"latency_ms": args.latency_ms}, timeout=30)
            print(f"{args.contacts} contacts, {args.conversations} conversations with parts, "
                  f"{args.latency_ms} ms emulator latency")
            now = int(time.time())
            since = now - 3 * 365 * DAY
            pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"))
            print("full:")
            # the same run with partitioning turned off: each created_at window one search paged in order
            conn.execute("SET intercom_fdw.replicate_scan_mode = 'sequential'")
            rows, calls, written, seconds = replicate(conn, "full", "bench_sequential")
            print(line("CALL ... (sequential windows)", rows, calls, seconds, written))
            print("    " + ", ".join(f"{obj} {obj_calls} calls {obj_seconds:.1f} s" for obj, obj_calls, obj_seconds in
                                     conn.execute(_PER_OBJECT, ("bench_sequential",)).fetchall()))
            conn.execute("RESET intercom_fdw.replicate_scan_mode")
            rows, calls, written, seconds = replicate(conn, "full")
            print(line("CALL intercom_fdw.replicate()", rows, calls, seconds, written))
            print("    " + ", ".join(f"{obj} {obj_calls} calls {obj_seconds:.1f} s" for obj, obj_calls, obj_seconds in
                                     conn.execute(_PER_OBJECT, ("bench",)).fetchall()))
            b_rows, b_calls, b_seconds = pool.submit(baseline, emulator.url, "bench", since, now + DAY).result()
            print(line("sequential baseline", b_rows, b_calls, b_seconds))
            session = requests.Session()
            session.headers.update({"Authorization": "Bearer bench", "Intercom-Version": "2.14"})
            requests.patch(emulator.url + "/__emulator/config", json={"latency_ms": 0}, timeout=30)
            rng = random.Random(1)
            ids = [r[0] for r in conn.execute("SELECT id FROM bench.contacts").fetchall()]
            for contact_id in rng.sample(ids, len(ids) // 100):
                session.put(f"{emulator.url}/contacts/{contact_id}", json={"name": "Changed"}, timeout=30)
            admin = session.get(f"{emulator.url}/admins", timeout=30).json()["admins"][0]["id"]
            conversations = [r[0] for r in conn.execute("SELECT id FROM bench.conversations").fetchall()]
            for conversation_id in rng.sample(conversations, max(1, len(conversations) // 100)):
                session.post(f"{emulator.url}/conversations/{conversation_id}/reply", timeout=30,
                             json={"message_type": "comment", "type": "admin", "admin_id": admin, "body": "hi"})
            requests.patch(emulator.url + "/__emulator/config", json={"latency_ms": args.latency_ms}, timeout=30)
            print("incremental, after 1% of contacts and of conversations changed:")
            started = int(time.time())
            rows, calls, written, seconds = replicate(conn, "incremental")
            print(line("CALL intercom_fdw.replicate()", rows, calls, seconds, written))
            for obj, obj_calls, obj_rows, obj_written in conn.execute(
                    "SELECT object, api_calls, rows_read, rows_inserted + rows_updated FROM intercom_fdw.replication_state "
                    "WHERE target_schema = 'bench' ORDER BY object").fetchall():
                print(f"    {obj:<20} {obj_calls:>5} calls, {obj_rows:>6} rows read (overlap included), "
                      f"{obj_written:>5} written")
            print(f"    contacts: ceil(changed / 150) = {-(-(len(ids) // 100) // 150)}")
            b_rows, b_calls, b_seconds = pool.submit(baseline, emulator.url, "bench", started - 2 * DAY,
                                                     started + DAY).result()
            print(line("sequential baseline (last 2 days)", b_rows, b_calls, b_seconds))
            print("again, nothing changed (the changes above are within the 15 minutes of search lag it re-reads):")
            rows, calls, written, seconds = replicate(conn, "incremental")
            print(line("CALL intercom_fdw.replicate()", rows, calls, seconds, written))
            print("    " + ", ".join(f"{obj} {obj_calls} calls" for obj, obj_calls in conn.execute(
                "SELECT object, api_calls FROM intercom_fdw.replication_state WHERE target_schema = 'bench' "
                "ORDER BY object").fetchall()))
            pool.shutdown()
    finally:
        pg.stop()
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
