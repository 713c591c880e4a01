"""client/partitioned.py: parts read concurrently, split, filtered, through a bounded queue."""
import json
import threading
import time

import pytest

from intercom_fdw.api_request import ApiRequest
from intercom_fdw.client import decoding
from intercom_fdw.client.interrupts import Interrupts
from intercom_fdw.client.paging import PagingContext
from intercom_fdw.client.partitioned import read_parts


class FakeSearch:
    """A 'client' whose search over the values 0..n-1 filters by the body's [lo, hi) and pages by 10."""

    def __init__(self, n, delay=0.0, fail_at=None):
        self.n, self.delay, self.fail_at = n, delay, fail_at
        self.concurrency = 4
        self.calls = 0
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.interrupts = Interrupts()  # nothing interrupts a unit test

    def _paging_context(self, request, interrupts, defer=False):
        """defer: pages whose items are JSON text, as the client's deferred decoder gives them."""
        def fetch(path, params, body, idempotent):
            with self.lock:
                self.calls += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                calls = self.calls
            try:
                time.sleep(self.delay)
                if self.fail_at is not None and calls >= self.fail_at:
                    raise RuntimeError("boom")
                lo, hi = body["lo"], body["hi"]
                values = list(range(max(lo, 0), min(hi, self.n)))
                start = int(body["pagination"].get("starting_after") or 0)
                page = values[start:start + 10]
                more = start + 10 < len(values)
                found = {"data": [{"v": v} for v in page], "total_count": len(values),
                         "pages": {"next": {"starting_after": str(start + 10)} if more else None}}
                return decoding.deferred("data")(json.dumps(found).encode()) if defer else found
            finally:
                with self.lock:
                    self.in_flight -= 1

        return PagingContext(fetch=fetch, base_url="http://x", scroll_lock=None, wait_for_open_scroll=None)


def request_for(part):
    return ApiRequest("POST", "/s", body={"lo": part[0], "hi": part[1]}, paging="search", per_page=10)


def halves(part, response):
    lo, hi = part
    if response["total_count"] > 20 and hi - lo > 1:
        mid = (lo + hi) // 2
        return [(lo, mid), (mid, hi)]
    return None


def test_every_value_once_across_splits():
    client = FakeSearch(500)
    got = [item["v"] for item in read_parts(client, [(0, 1000)], request_for, halves, lambda p, i: True)]
    assert sorted(got) == list(range(500))
    assert client.max_in_flight <= 4


def test_keep_filters_rows():
    client = FakeSearch(100)
    got = list(read_parts(client, [(0, 100)], request_for, lambda p, r: None, lambda p, i: i["v"] % 2 == 0))
    assert sorted(i["v"] for i in got) == list(range(0, 100, 2))


def test_items_are_decoded_and_kept_in_the_consumers_thread_but_the_first_pages_split_reads():
    # each item is decoded just before its row (decoding.deferred), as in a sequential scan, not in a worker
    client, kept_in, split_saw = FakeSearch(100), set(), []

    def split(part, response):
        split_saw.extend(type(item) for item in response["data"])
        return halves(part, response)

    def keep(part, item):
        kept_in.add(threading.current_thread() is threading.main_thread())
        return True

    got = list(read_parts(client, [(0, 100)], request_for, split, keep))
    assert sorted(i["v"] for i in got) == list(range(100))
    assert kept_in == {True} and set(split_saw) == {dict}


def test_an_error_reaches_the_consumer_and_stops_the_workers():
    client = FakeSearch(10_000, delay=0.005, fail_at=15)
    with pytest.raises(RuntimeError, match="boom"):
        list(read_parts(client, [(0, 10_000)], request_for, halves, lambda p, i: True))
    calls = client.calls
    time.sleep(0.1)
    assert client.calls == calls  # no worker left running


def test_closing_early_stops_reading():
    client = FakeSearch(100_000, delay=0.002)
    quarters = lambda part, response: ([(q, q + 25_000) for q in range(0, 100_000, 25_000)]
                                       if part == (0, 100_000) else None)
    stream = read_parts(client, [(0, 100_000)], request_for, quarters, lambda p, i: True)
    first = [next(stream) for _ in range(5)]
    stream.close()
    calls = client.calls
    time.sleep(0.1)
    assert len(first) == 5 and client.calls == calls and calls < 30  # bounded by the queue, not by the 10,000 pages


def _handed_out_slowly(parts, served, after_the_last=True):
    """The parts, each after every part before it was read to its end (and, after_the_last, the end
    of them after that of the last): as when the backend thread is not scheduled while a worker
    reads a one-page part (a loaded machine, a fast server)."""
    for number, part in enumerate(parts):
        if number:
            assert served.wait(5), "the part handed out before was never read"
            time.sleep(0.2)  # its worker queues its page, then counts it ended
        served.clear()
        yield part
    if after_the_last:
        assert served.wait(5)
        time.sleep(0.2)


def test_parts_that_end_before_the_reader_waits_for_them_lose_no_row():
    # A part of one page can end (its page queued, the count of parts down to 0, _DONE queued)
    # before the consumer has handed out every part: it must still read what is queued, and wait
    # for the parts handed out later. (Before, it returned at once when it found the count at 0,
    # and a replication window read as one part came back empty in about 1 run in 5 of the faults
    # test; the rows of parts handed out after an ended one were lost too.)
    served = threading.Event()

    class Served(FakeSearch):
        def _paging_context(self, request, interrupts, defer=False):
            ctx = super()._paging_context(request, interrupts, defer)

            def fetch(*args):
                page = ctx.fetch(*args)
                served.set()
                return page
            return PagingContext(fetch=fetch, base_url=ctx.base_url, scroll_lock=None, wait_for_open_scroll=None)

    for parts, after_the_last in (([(0, 5)], True), ([(0, 5), (5, 9)], True), ([(0, 5), (5, 9)], False),
                                  ([(0, 3), (3, 6), (6, 9)], False)):
        got = [item["v"] for item in read_parts(Served(9), _handed_out_slowly(parts, served, after_the_last),
                                                request_for, lambda p, r: None, lambda p, i: True)]
        assert sorted(got) == list(range(parts[-1][1])), (parts, after_the_last)


def test_no_part_reads_nothing():
    client = FakeSearch(10)
    assert list(read_parts(client, [], request_for, lambda p, r: None, lambda p, i: True)) == []
    assert client.calls == 0
