"""Reading one page ahead: overlap with the consumer, no extra calls on short reads, errors where
the page is consumed, no thread left behind, and the companies scroll lock still released."""
import gc
import signal
import threading
import time

import pytest

from intercom_fdw import errors
from intercom_fdw.client import ApiRequest
from intercom_fdw.client.prefetch import PagesAhead
from tests.unit.test_client_intercom_double import Reply, client_against, error_list, serve
from tests.unit.test_client_paging import cursor_list, ids
from tests.unit.test_client_scroll import COMPANIES, SCROLL, ScrollingIntercom, scan

ROWS = [{"type": "contact", "id": f"c{n}"} for n in range(9)]
PAGE = 3  # ROWS is 3 full pages: 3 calls
CONTACTS = ApiRequest("GET", "/contacts", paging="cursor", per_page=PAGE)


def slow(handler, seconds):
    def answer(request):
        reply = handler(request)
        reply.delay = seconds
        return reply

    return answer


def timed_scan(client, request, work_per_page):
    """(seconds the consumer waited for items, seconds in all), doing `work_per_page` per page."""
    items = client.iter_items(request)
    waited, started = 0.0, time.perf_counter()
    count = 0
    while True:
        asked = time.perf_counter()
        item = next(items, None)
        waited += time.perf_counter() - asked
        if item is None:
            return waited, time.perf_counter() - started
        count += 1
        if count % PAGE == 0:
            time.sleep(work_per_page)  # PostgreSQL working through the page's rows


def test_the_third_page_is_read_while_the_second_is_consumed():
    # pages take 200 ms to answer, the consumer 200 ms per page: without reading ahead it waits
    # 3 x 200 ms; reading ahead from the second page on, it waits only for pages 1 and 2
    with serve(slow(cursor_list(ROWS), 0.2)) as api:
        waited, total = timed_scan(client_against(api), CONTACTS, 0.2)
        waited_before, total_before = timed_scan(client_against(api, read_ahead=False), CONTACTS, 0.2)
    # (no absolute upper bound: on a loaded machine both scans wait longer than their pages take;
    # what reading ahead saves shows in the comparison of the two, measured side by side)
    assert waited >= 0.4, waited
    assert waited_before >= 0.6 and total_before >= 1.2
    assert waited < waited_before - 0.14 and total < total_before - 0.14
    assert len(api.seen) == 6  # 3 calls each: reading ahead never adds one at the end of a scan
    assert api.max_in_flight == 1


def calls_when_closing_after(k, read_ahead, request=CONTACTS):
    with serve(cursor_list(ROWS)) as api:
        items = client_against(api, read_ahead=read_ahead).iter_items(request)
        taken = [item for _, item in zip(range(k), items)]
        items.close()
        assert ids(taken) == ids(ROWS[:k])
        return len(api.seen)


@pytest.mark.parametrize("k", range(0, PAGE + 1))
def test_stopping_within_the_first_page_makes_no_extra_call(k):
    # a LIMIT that PostgreSQL applies itself, a probe of a nested loop, a cursor closed early
    assert calls_when_closing_after(k, read_ahead=True) == calls_when_closing_after(k, read_ahead=False)


@pytest.mark.parametrize("k", range(PAGE + 1, len(ROWS)))
def test_stopping_later_costs_at_most_the_page_read_ahead(k):
    before = calls_when_closing_after(k, read_ahead=False)
    assert before <= calls_when_closing_after(k, read_ahead=True) <= before + 1


@pytest.mark.parametrize("max_items", range(1, len(ROWS) + 2))
def test_max_items_never_reads_ahead_past_what_it_needs(max_items):
    request = ApiRequest("GET", "/contacts", paging="cursor", per_page=PAGE, max_items=max_items)
    with serve(cursor_list(ROWS)) as api:
        got = list(client_against(api).iter_items(request))
    assert ids(got) == ids(ROWS[:max_items])
    assert len(api.seen) == -(-min(max_items, len(ROWS)) // PAGE)


def test_an_error_on_a_page_read_ahead_is_raised_where_that_page_is_consumed():
    pages = cursor_list(ROWS)

    def handler(request):
        if request.query.get("starting_after") == str(2 * PAGE):
            return Reply(400, error_list("parameter_invalid", "bad cursor"))
        return pages(request)

    with serve(handler) as api:
        items = client_against(api).iter_items(CONTACTS)
        taken = [next(items) for _ in range(2 * PAGE)]  # pages 1 and 2; page 3 failed meanwhile
        assert ids(taken) == ids(ROWS[:2 * PAGE])
        with pytest.raises(errors.ApiRejectedError, match="bad cursor"):
            next(items)
    assert len(api.seen) == 3


def threads_but_the_doubles():
    """The read-ahead workers alive (the client names them). Counting every thread of the process
    made the test depend on others: scripted servers' connection threads and idle pools of earlier
    tests end whenever they are collected."""
    return sum(1 for t in threading.enumerate() if t.name.startswith("intercom_fdw-ahead"))


def test_no_thread_outlives_a_scan():
    before = threads_but_the_doubles()
    with serve(slow(cursor_list(ROWS), 0.05)) as api:
        client = client_against(api)

        assert len(list(client.iter_items(CONTACTS))) == len(ROWS)
        assert threads_but_the_doubles() == before

        items = client.iter_items(CONTACTS)
        [next(items) for _ in range(PAGE + 1)]  # page 3 is in flight now
        items.close()  # awaits it, then stops the worker
        assert threads_but_the_doubles() == before

        items = client.iter_items(CONTACTS)
        [next(items) for _ in range(PAGE + 1)]
        del items  # abandoned, not closed: the generator's finalizer does the same
        gc.collect()
        assert threads_but_the_doubles() == before

        calls = len(api.seen)
        time.sleep(0.2)
        assert len(api.seen) == calls  # nothing asked after the scans ended


def test_a_scroll_read_ahead_releases_its_lock_when_closed_or_done(tmp_path):
    with serve(ScrollingIntercom()) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        items = client.iter_items(SCROLL)
        [next(items) for _ in range(4)]  # the second page: the third is read ahead
        items.close()
        assert scan(client) == ids(COMPANIES)  # would fail to get the lock had it been kept
        assert scan(client) == ids(COMPANIES)
    assert not [t for t in threading.enumerate() if t.name.startswith("intercom_fdw-ahead")]


def test_the_worker_leaves_signals_to_the_backend_thread():
    seen = []

    def pager():
        while True:
            seen.append((threading.current_thread().name, signal.pthread_sigmask(signal.SIG_BLOCK, [])))
            yield [len(seen)]

    pages = PagesAhead(pager())
    assert pages.next_page() == [1]
    pages.read_ahead()
    assert pages.next_page() == [2]
    pages.close()
    (_, mine), (worker, blocked) = seen
    assert worker.startswith("intercom_fdw-ahead") and signal.SIGINT in blocked and signal.SIGUSR1 in blocked
    assert signal.SIGINT not in mine


def test_the_page_ahead_starts_before_the_consumer_gets_back_to_work():
    # In a backend the consumer spends most of its time in C code that keeps the GIL; the worker
    # must have started its request before that, not after (here: a C loop that never yields it).
    entered = []

    def pager():
        while True:
            entered.append(time.perf_counter())
            yield [len(entered)]

    pages = PagesAhead(pager())
    assert pages.next_page() == [1]
    pages.read_ahead()  # the worker thread starts here
    assert pages.next_page() == [2]
    pages.read_ahead()  # the worker is idle, waiting for work (and for the GIL)
    busy_from = time.perf_counter()
    sum(range(10 ** 7))  # holds the GIL throughout
    busy_until = time.perf_counter()
    assert pages.next_page() == [3]
    pages.close()
    assert busy_until - busy_from > 0.02
    assert entered[2] < busy_from
