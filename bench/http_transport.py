"""What one page costs the client's HTTP layer: requests' Session against urllib3, side by side.

One emulator (a process of its own, 0 ms latency) with `--contacts` contacts; this process pages
GET /contacts?per_page=150 `--repeat` times each way, reading every body whole, and prints the CPU
time of this process per row (the body's JSON is not parsed: that costs the same either way):

- requests: a Session with the client's headers (what the client sent with until this change);
- transport: intercom_fdw.client.transport.Transport (urllib3's pool manager), what it sends with now;
- client: IntercomClient.iter_items over the same pages, JSON parsing and paging included, no rows;
  once whole, once projected to the 2 fields a `SELECT count(id)` reads (client/decoding.py);
- the page split of a deferred read (client/decoding.py's `deferred`, items left as JSON text) over
  the same bodies read beforehand: in one pass (a page of the usual keys), and in two (the same
  bodies with one key more, `"scroll_param": null`, which the one pass refuses).

    .venv/bin/python bench/http_transport.py [--contacts 20000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
import requests  # noqa: E402

from bench.profile_scan import TOKEN, start_emulator  # noqa: E402
from intercom_fdw.api_request import ApiRequest  # noqa: E402
from intercom_fdw.client import decoding  # noqa: E402
from intercom_fdw.client.http import USER_AGENT, IntercomClient  # noqa: E402
from intercom_fdw.client.transport import Transport  # noqa: E402

PAGE = 150
HEADERS = {"Accept": "application/json", "Intercom-Version": "2.14", "User-Agent": USER_AGENT}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cursors(url: str) -> list:
    """The params of every page, read once beforehand, so both ways ask for the same pages."""
    session = requests.Session()
    session.headers.update({**HEADERS, "Authorization": f"Bearer {TOKEN}"})
    pages = [{"per_page": PAGE}]
    while True:
        following = (orjson.loads(session.get(f"{url}/contacts", params=pages[-1]).content).get("pages") or {}).get("next")
        if not following:
            return pages
        pages.append({"per_page": PAGE, "starting_after": following["starting_after"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    emulator, url = start_emulator(args.contacts)
    try:
        pages = cursors(url)
        session = requests.Session()
        session.headers.update({**HEADERS, "Authorization": f"Bearer {TOKEN}"})
        transport = Transport(url, TOKEN, HEADERS, (10, 60), max_connections=10)
        client = IntercomClient(url, TOKEN, read_ahead=False, rate_limit_share=None)
        contacts = ApiRequest("GET", "/contacts", paging="cursor", per_page=PAGE)
        bodies = [transport.request("GET", f"{url}/contacts", p).content for p in pages]
        with_a_key_more = [body.rstrip()[:-1] + b', "scroll_param": null}' for body in bodies]
        split = decoding.deferred("data")
        projected = ApiRequest("GET", "/contacts", paging="cursor", per_page=PAGE, item_fields=frozenset({"id", "type"}))
        ways = {
            "requests.Session": lambda: [session.get(f"{url}/contacts", params=p, timeout=60).content for p in pages],
            "Transport (urllib3)": lambda: [transport.request("GET", f"{url}/contacts", p).content for p in pages],
            "IntercomClient.iter_items": lambda: sum(1 for _ in client.iter_items(contacts)),
            "  the same, 2 fields": lambda: sum(1 for _ in client.iter_items(projected)),
            "page split, one pass": lambda: [split(body) for body in bodies],
            "page split, two passes": lambda: [split(body) for body in with_a_key_more],
        }
        figures = {label: [] for label in ways}
        for _ in range(args.repeat):
            for label, run in ways.items():  # interleaved, so the machine's load falls on each alike
                started = cpu()
                run()
                figures[label].append((cpu() - started) / args.contacts * 1e6)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    print(f"{args.contacts:,} contacts in {len(pages)} pages of {PAGE}, 0 ms, {args.repeat} runs each (median)")
    base = statistics.median(figures["requests.Session"])
    for label, runs in figures.items():
        print(f"  {label:<28} {statistics.median(runs):6.1f} us CPU/row  ({statistics.median(runs) / base:.2f} x requests)")


if __name__ == "__main__":
    main()
