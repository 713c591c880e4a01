"""Contacts-list throughput of the Intercom emulator: contacts per second at per_page 150, on one core.

With --seed-only: how long seeding takes and how much memory it peaks at (target: 100,000 contacts with
their related objects in under 15 s and 1.5 GB).

The emulator runs in its own process pinned to one CPU (when the OS allows pinning); this process walks
`GET /contacts?per_page=150` over one keep-alive connection for a fixed time and prints the rate.
Target: at least 50,000 contacts/s, so the emulator is never what an FDW benchmark measures.

    .venv/bin/python bench/emulator_throughput.py [--contacts 100000] [--seconds 10] [--seed-only]
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import socket
import time


NEXT_CURSOR = re.compile(rb'"next":\{"per_page":\d+,"starting_after":"([^"]+)"\}')


def _serve(port: int, contacts: int, cpu: int, ready) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    from intercom_fdw.emulator.config import EmulatorConfig
    from intercom_fdw.emulator.server import serve

    serve(EmulatorConfig(seed=42, token="bench", contacts=contacts, knobs={"rate_limit_per_10s": 10**9}),
          "127.0.0.1", port, log_level="warning", on_ready=lambda _state: ready.set())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed_only(contacts: int) -> None:
    import resource

    from intercom_fdw.emulator.config import EmulatorConfig
    from intercom_fdw.emulator.seed import seed_workspace

    sizes = EmulatorConfig(contacts=contacts).sizes()
    started = time.perf_counter()
    ws = seed_workspace(["bench"], 42, sizes)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seeded {len(ws.contacts)} contacts, {len(ws.companies)} companies, {len(ws.conversations)} "
          f"conversations ({sum(map(len, ws.conversation_parts.values()))} parts), {len(ws.tickets)} tickets, "
          f"{len(ws.notes)} notes, {sum(map(len, ws.events.values()))} events in {elapsed:.2f} s; "
          f"peak memory {peak_mb:,.0f} MB -> {'OK' if elapsed < 15 and peak_mb < 1536 else 'ABOVE'} "
          f"target 15 s / 1.5 GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed-only", action="store_true", help="measure seeding time and memory only")
    args = parser.parse_args()
    if args.seed_only:
        _seed_only(args.contacts)
        return
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    server_cpu = cpus[0]
    if hasattr(os, "sched_setaffinity") and len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))  # the client stays off the server's core
    port = _free_port()
    ready = multiprocessing.Event()
    started = time.perf_counter()
    server = multiprocessing.Process(target=_serve, args=(port, args.contacts, server_cpu, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(120):
            raise SystemExit("the emulator did not start")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": "Bearer bench", "Intercom-Version": "2.14"}
        for _ in range(100):  # wait for the socket
            try:
                connection.request("GET", "/me", headers=headers)
                connection.getresponse().read()
                break
            except OSError:
                connection.close()
                time.sleep(0.1)
        print(f"seeded {args.contacts} contacts and started in {time.perf_counter() - started:.1f} s; "
              f"server pinned to CPU {server_cpu}")
        contacts = pages = 0
        cursor = None
        deadline = time.perf_counter() + args.seconds
        begin = time.perf_counter()
        while time.perf_counter() < deadline:
            path = "/contacts?per_page=150" + (f"&starting_after={cursor}" if cursor else "")
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"GET {path} answered {response.status}: {body[:300]!r}")
            # Light client work (count and cursor without a full JSON parse): the server is measured.
            contacts += body.count(b'{"type":"contact","id"')
            pages += 1
            found = NEXT_CURSOR.search(body, len(body) - 400)
            cursor = found.group(1).decode() if found else None
        elapsed = time.perf_counter() - begin
        connection.close()
        rate = contacts / elapsed
        print(f"{pages} pages, {contacts} contacts in {elapsed:.1f} s: {rate:,.0f} contacts/s "
              f"({pages / elapsed:,.0f} pages/s) -> {'OK' if rate >= 50_000 else 'BELOW'} target 50,000 contacts/s")
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
