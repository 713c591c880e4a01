"""PagesAhead: a pager's pages, with the following page read in a background thread.

While PostgreSQL consumes one page of rows, the next page's HTTP call and JSON parsing run in a
worker thread, so a scan waits for Intercom only when consuming a page is quicker than reading one.

- Bounded: one worker, at most one page in flight; it is read only when the caller asks for it
  (`read_ahead()`), so the caller decides when an extra call is worth it.
- The pager (a generator) is advanced by one thread at a time: the caller's thread, or the worker
  while the caller waits for the page it started. Whatever the pager holds (a companies scroll's
  workspace lock) it releases in whichever thread ends it; see scroll_lock.py.
- An error from a page read ahead is raised where that page is consumed, in the caller's thread.
- close() stops the scan's interrupt scope, so the page in flight is abandoned (its request's
  connection is shut down, interrupts.py) instead of awaited, then closes the pager and stops the
  worker: no thread outlives a scan. Waits for a page end within moments of an interrupt.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator, List, Optional

from intercom_fdw.client.interrupts import Interrupts
from intercom_fdw.client.workers import worker_pool

_END = object()


class PagesAhead:
    def __init__(self, pages: Iterator[List[dict]], interrupts: Optional[Interrupts] = None):
        """interrupts: the scope the pager's requests run in; close() stops it."""
        self._pages = pages
        self._interrupts = interrupts or Interrupts()
        self._worker: Optional[ThreadPoolExecutor] = None
        self._ahead: Optional[Future] = None

    def next_page(self) -> Optional[List[dict]]:
        """The next page (the one read ahead, if any), or None after the last."""
        if self._ahead is not None:
            ahead = self._ahead
            try:
                page = self._interrupts.result(ahead)  # the worker's error, if any, is raised here
            finally:
                if ahead.done():  # else interrupted while the worker still runs: close() settles it
                    self._ahead = None
        else:
            page = next(self._pages, _END)
        return None if page is _END else page

    def read_ahead(self) -> None:
        """Start reading the page after the one last returned (no-op if one is in flight)."""
        if self._ahead is not None:
            return
        if self._worker is None:
            self._worker = worker_pool(1, "intercom_fdw-ahead")
        started = threading.Event()
        self._ahead = self._worker.submit(self._next_in_worker, started)
        # Hand the GIL over until the worker runs: else it would wait for it while this thread
        # works through the page (in a backend, mostly C code that never lets it go), up to
        # Python's switch interval (5 ms) before the request even leaves.
        started.wait()

    def _next_in_worker(self, started: threading.Event):
        started.set()
        return next(self._pages, _END)

    def close(self) -> None:
        ahead, self._ahead = self._ahead, None
        ended = True
        if ahead is not None and not ahead.cancel():
            # the consumer is gone, so the page and any error are dropped; its requests stop at once
            # (when requests can be abandoned: a client with an interrupt check)
            self._interrupts.stop()
            ended = self._interrupts.settle(ahead)
        try:
            if ended:  # else the worker still runs the pager; it ends it (Interrupted) on its own
                self._pages.close()
        finally:
            if self._worker is not None:
                self._worker.shutdown(wait=ended)
                self._worker = None
