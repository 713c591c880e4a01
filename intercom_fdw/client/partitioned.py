"""Concurrent reads of disjoint parts of one search, streamed through a bounded queue.

The caller (the engine) says what a part asks for (`request_for`), whether a part whose first
response it has seen should be replaced by smaller parts (`split`), and which of a part's items it
keeps (`keep`). Nothing here knows SQL or which field the parts cut.

- At most `concurrency` parts are read at once, each page by page in a worker thread (workers.py:
  signals stay with the backend thread); every call goes through the client's `_send`, so its
  throttle, retries and error mapping apply as to any read.
- Pages are handed over through a queue of `concurrency` pages: a worker waits while it is full,
  so memory holds at most about 2 x concurrency pages whatever the size of the scan. A page's whole
  items stay JSON text until the consumer takes them (decoding.deferred), which decodes each and
  applies `keep` just before its row is made, as a sequential scan does (the first page of a part,
  whose items `split` reads, is decoded in its worker).
- A part that is split gives up its first page (the smaller parts read it again) and its parts
  are queued for the workers; the reader ends when no part is left. The count of parts left holds
  one more while the consumer hands out the first ones: a part of one page may end before the
  consumer has handed out the next part, or even looked at the queue (a loaded machine, a fast
  server), and its end must not look like the end of them all.
- The first error ends the read: it is raised in the consumer's thread, and the other workers stop
  after their call in flight. Closing the stream early (a LIMIT, a cancelled query) stops them too.
"""
from __future__ import annotations

import functools
import queue
import threading
from typing import Any, Callable, Iterable, Iterator, List, Optional

from intercom_fdw.api_request import ApiRequest
from intercom_fdw.client import decoding
from intercom_fdw.client.paging import items_of, search_responses
from intercom_fdw.client.workers import worker_pool

_DONE = object()
# How often a waiting thread looks whether the read was stopped (seconds).
POLL_S = 0.1


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_parts(client, parts: Iterable[Any], request_for: Callable[[Any], ApiRequest],
               split: Callable[[Any, dict], Optional[List[Any]]], keep: Callable[[Any, dict], bool],
               concurrency: Optional[int] = None) -> Iterator[dict]:
    """The kept items of every part's search, as pages arrive (no order between parts)."""
    width = max(1, concurrency or client.concurrency)
    pages: "queue.Queue" = queue.Queue(maxsize=width)
    stop = threading.Event()
    lock = threading.Lock()
    outstanding = [1]  # parts not ended, plus the consumer's own until it has handed out every part
    scopes = []
    pool = worker_pool(width, "intercom_fdw-part")

    def put(value) -> bool:
        while not stop.is_set():
            try:
                pages.put(value, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def submit(part) -> None:
        with lock:
            outstanding[0] += 1
        pool.submit(run, part)

    def ended() -> bool:
        """One part ended (or the handing out of the first ones): whether nothing is left to read."""
        with lock:
            outstanding[0] -= 1
            return outstanding[0] == 0

    def run(part) -> None:
        try:
            if not stop.is_set():
                read(part)
        except BaseException as exc:  # handed to the consumer, raised there
            stop.set()
            _force_put(pages, _Failed(exc))
            return
        if ended():
            put(_DONE)

    def read(part) -> None:
        request = request_for(part)
        scope = client.interrupts.scope()  # stopped with the scan: its requests in flight are abandoned
        with lock:
            scopes.append(scope)
        # (whole items stay JSON text, decoded by the consumer: decoding.deferred)
        responses = search_responses(request, client._paging_context(request, scope, defer=True))
        try:
            for number, response in enumerate(responses):
                if stop.is_set():
                    return
                items = items_of(response, request.items_key)
                if number == 0:
                    items = list(decoding.decoded(items))  # split reads the first page's items
                    smaller = split(part, {**response, request.items_key: items})
                    if smaller:
                        for each in smaller:
                            submit(each)
                        return
                if items and not put((part, items)):
                    return
        finally:
            responses.close()

    try:
        for part in parts:
            submit(part)
        # When this ends the count, every part has ended and queued its pages, and no worker
        # queued _DONE: what is queued is all there is left.
        last = ended()
        while True:
            try:
                page = pages.get_nowait() if last else pages.get(timeout=POLL_S)
            except queue.Empty:
                if last:
                    return
                client.interrupts.check()  # a cancel ends the wait and aborts every part's request in flight
                continue
            if page is _DONE:
                return
            if isinstance(page, _Failed):
                raise page.error
            part, items = page
            yield from filter(functools.partial(keep, part), decoding.decoded(items))
    finally:
        stop.set()
        with lock:
            for scope in scopes:
                scope.stop()
        _drain(pages)
        pool.shutdown(wait=True, cancel_futures=True)
        _drain(pages)


def _force_put(pages: "queue.Queue", value) -> None:
    """Put `value` even into a full queue (an error must reach the consumer): drop a page for it."""
    while True:
        try:
            pages.put_nowait(value)
            return
        except queue.Full:
            _drain(pages, 1)


def _drain(pages: "queue.Queue", limit: Optional[int] = None) -> None:
    taken = 0
    while limit is None or taken < limit:
        try:
            pages.get_nowait()
        except queue.Empty:
            return
        taken += 1
