"""IntercomClient: one Transport (transport.py) per (base URL, token, API version, options) and backend.

It knows paging, rate limits, retries, timeouts, auth headers and error mapping, and nothing
about SQL: callers describe reads as ApiRequest and get dicts back.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import logging
import os
import random
import threading
import time
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from intercom_fdw import __version__, errors
from intercom_fdw.client import decoding, error_mapping, totals
from intercom_fdw.client.interrupts import Interrupts, send
from intercom_fdw.client.paging import PAGERS_READING_ITEMS, PagingContext, iter_pages
from intercom_fdw.client.prefetch import PagesAhead
from intercom_fdw.client.workers import worker_pool
from intercom_fdw.client.policy import (
    TRANSPORT,
    backoff_delay,
    is_idempotent,
    retry_after_429,
    should_retry,
)
from intercom_fdw.api_request import ApiRequest, has_dot_segment
from intercom_fdw.client.scroll_lock import workspace_key, workspace_scroll_lock
from intercom_fdw.client.shared_budget import BudgetedThrottle, SharedBudget
from intercom_fdw.client.throttle import Throttle
from intercom_fdw.client.transport import TRANSPORT_ERRORS, Response, Transport, transport_kind

log = logging.getLogger("intercom_fdw.client")

USER_AGENT = f"intercom_fdw/{__version__}"
DEFAULT_API_VERSION = "2.14"


class IntercomClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        api_version: str = DEFAULT_API_VERSION,
        *,
        connect_timeout: float = 10,
        read_timeout: float = 60,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        concurrency: int = 8,
        read_concurrency: int = 32,  # options.DEFAULT_READ_CONCURRENCY, the FDW passes its option
        read_ahead: bool = True,
        scroll_wait_timeout: float = 300.0,
        scroll_lock_dir: Optional[str] = None,
        rate_limit_share: Optional[float] = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: Optional[random.Random] = None,
        interrupted: Optional[Callable[[], bool]] = None,
    ):
        """interrupted: answers whether the statement was interrupted (see interrupts.py); every wait
        and every request of this client then ends soon after it says so, with errors.Interrupted."""
        if not token:
            raise errors.AuthenticationError(
                "no Intercom access token", hint="set access_token in the USER MAPPING for this server"
            )
        errors.register_secret(token)
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.max_retries = max_retries
        self.concurrency = max(1, concurrency)
        self.read_concurrency = max(1, read_concurrency)  # get_many, get_as_completed, partitioned windows
        self.read_ahead = read_ahead
        self.calls_made = 0
        self._timeout = (connect_timeout, read_timeout)
        self._backoff = (backoff_base, backoff_cap)
        self._scroll_wait_timeout = scroll_wait_timeout
        self._scroll_lock_dir = scroll_lock_dir
        self._workspace_key = workspace_key(self.base_url, token)
        self._clock = clock
        self.interrupts = Interrupts(interrupted, sleep, clock)
        self._rng = rng or random.Random()
        self._calls_lock = threading.Lock()
        # One rate budget per workspace across the machine's backends (shared_budget.py); None: this client's own.
        # Their waits end on an interrupt (self.interrupts.sleep).
        waits = self.interrupts.sleep
        self._throttle = Throttle(clock, waits) if rate_limit_share is None else BudgetedThrottle(
            Throttle(clock, waits), SharedBudget(self._workspace_key, rate_limit_share, scroll_lock_dir, clock, waits))
        # The token goes in the transport's own Authorization header, which ~/.netrc never replaces.
        self._transport = Transport(
            self.base_url, token,
            {"Accept": "application/json", "Intercom-Version": self.api_version, "User-Agent": USER_AGENT},
            self._timeout, max_connections=max(self.concurrency, self.read_concurrency, 10))

    def __repr__(self) -> str:
        return f"IntercomClient(base_url={self.base_url!r}, api_version={self.api_version!r})"

    # ---- reads ------------------------------------------------------------------------------

    def iter_items(self, request: ApiRequest, read_ahead: Optional[bool] = None) -> Iterator[dict]:
        """The request's items, page by page, lazily; stops (and stops fetching) at max_items.

        Once the consumer has used up the first page (so a short read, such as a LIMIT PostgreSQL
        applies itself or one probe of a nested loop, costs no extra call), each following page is
        read in the background while the one before it is consumed (prefetch.py), unless
        read_ahead is False (or the client's `read_ahead` option is off).
        """
        if request.max_items == 0:
            return
        read_ahead = self.read_ahead if read_ahead is None else read_ahead
        scope = self.interrupts.scope()  # stopped by PagesAhead.close() for a page read ahead
        # (items decoded one by one as they are taken, where the pager reads none: decoding.deferred)
        context = self._paging_context(request, scope, defer=request.paging not in PAGERS_READING_ITEMS)
        pages = PagesAhead(iter_pages(request, context), scope)
        count = 0
        try:
            for number in itertools.count(1):
                page = pages.next_page()
                if page is None:
                    return
                if read_ahead and number > 1 and (request.max_items is None or count + len(page) < request.max_items):
                    pages.read_ahead()
                if request.max_items is None:
                    yield from decoding.decoded(page)
                    continue
                for item in decoding.decoded(page):
                    yield item
                    count += 1
                    if count >= request.max_items:
                        return
        finally:
            pages.close()  # abandons a page in flight; releases a scroll's workspace lock

    def get_many(self, requests: Iterable[ApiRequest], concurrency: Optional[int] = None) -> Iterator[List[dict]]:
        """Each request's items, in input order, with at most `concurrency` (the client's
        read_concurrency) requests in flight, starting with FIRST_READS (see _widening).

        A window of futures slides over the input: the head is yielded when done and more requests
        are submitted, so the pool never runs ahead of the consumer by more than the window.
        """
        width = max(1, concurrency or self.read_concurrency)
        wanted = _widening(width)
        pending = iter(requests)
        pool = worker_pool(width, "intercom_fdw")
        try:
            window = collections.deque(pool.submit(self._collect, r) for r in itertools.islice(pending, wanted(0)))
            taken = 0
            while window:
                items = self.interrupts.result(window.popleft())
                taken += 1
                for following in itertools.islice(pending, max(0, wanted(taken) - len(window))):
                    window.append(pool.submit(self._collect, following))
                yield items
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def get_as_completed(self, tagged: Iterable[Tuple[Any, ApiRequest]],
                         concurrency: Optional[int] = None) -> Iterator[Tuple[Any, List[dict]]]:
        """(tag, items) of each (tag, request), as each completes, with `concurrency` (the client's
        read_concurrency) requests in flight, starting with FIRST_READS (see _widening).

        Unlike get_many, a slow request holds back no other: a new one is sent as soon as any ends,
        so the calls keep the window in flight all along. The input is read lazily, at most the
        window ahead of what was yielded (memory flat however many requests there are).
        """
        width = max(1, concurrency or self.read_concurrency)
        wanted = _widening(width)
        pending = iter(tagged)
        pool = worker_pool(width, "intercom_fdw")
        flights: dict = {}
        try:
            for tag, request in itertools.islice(pending, wanted(0)):
                flights[pool.submit(self._collect, request)] = tag
            taken = 0
            while flights:
                for future in self.interrupts.first_done(flights):
                    tag = flights.pop(future)
                    items = future.result()
                    taken += 1
                    for following_tag, following in itertools.islice(pending, max(0, wanted(taken) - len(flights))):
                        flights[pool.submit(self._collect, following)] = following_tag
                    yield tag, items
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, request: ApiRequest) -> List[dict]:
        # no read-ahead: the fan-out's window bounds the calls in flight
        return list(self.iter_items(request, read_ahead=False))

    # ---- one logical call ---------------------------------------------------------------------

    def rate_limit(self) -> tuple:
        """(limit, remaining, reset epoch) of the newest rate-limit headers seen; Nones before any."""
        return self._throttle.last_state

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping] = None,
        json: Optional[Mapping] = None,
        idempotent: Optional[bool] = None,
        allow_404: bool = False,
        creates: bool = False,
    ) -> Optional[dict]:
        """One logical call with retries: parsed JSON, {} for an empty 2xx body, None for an allowed 404.
        `creates`: the call creates an object (ApiRequest.creates; it words a 409's hint)."""
        return self._send(method.upper(), path, params, json, idempotent, allow_404, self.interrupts,
                          creates=creates)

    def send(self, request: ApiRequest) -> Optional[dict]:
        """`call` for a single-call request (a write, an action): its method, path, params, body,
        whether it may be sent again, whether a 404 is an answer and whether it creates an object."""
        return self.call(request.method, request.path, params=request.params or None, json=request.body,
                         idempotent=request.idempotent, allow_404=request.allow_404, creates=request.creates)

    def _paging_context(self, request: ApiRequest, interrupts: Interrupts, defer: bool = False) -> PagingContext:
        """`defer`: whole items stay JSON text in the pages (decoding.deferred) for a consumer that
        decodes them (decoding.decoded)."""
        count_key = request.count_key
        decode = decoding.decoder_for(request.items_key, request.item_fields, defer)

        def fetch(target, params, body, idempotent):
            page = self._send(request.method.upper(), target, params, body, idempotent, request.allow_404, interrupts,
                              decode, page=True)
            if count_key is not None and isinstance(page, dict) and "total_count" in page:
                totals.record(self._workspace_key, count_key, page["total_count"], self._clock())
            return page

        return PagingContext(
            fetch=fetch,
            base_url=self.base_url,
            scroll_lock=lambda: workspace_scroll_lock(
                self._workspace_key, self._scroll_wait_timeout, self._clock, interrupts.sleep, self._scroll_lock_dir
            ),
            wait_for_open_scroll=self._open_scroll_waiter(interrupts),
        )

    def _open_scroll_waiter(self, interrupts: Interrupts) -> Callable[[int], bool]:
        """Waits between attempts to open a scroll while Intercom says another is open: at least a
        second, jittered, growing to 11 s, within scroll_wait_timeout for the whole scan."""
        deadline = None

        def wait(attempt: int) -> bool:
            nonlocal deadline
            now = self._clock()
            deadline = deadline if deadline is not None else now + self._scroll_wait_timeout
            if now >= deadline:
                return False
            interrupts.sleep(min(1.0 + backoff_delay(attempt, 1.0, 10.0, self._rng), deadline - now))
            return True

        return wait

    def _send(self, method, target, params, body, idempotent, allow_404, interrupts: Interrupts,
              decode: Optional[Callable[[bytes], Any]] = None, page: bool = False,
              creates: bool = False) -> Optional[dict]:
        """One call with retries; `decode` reads a 2xx body (default: all of it, decoding.decode).
        page: the call reads a page, which an empty body cannot be (it is retried as a cut answer)."""
        url = target if target.startswith(("http://", "https://")) else self.base_url + target
        path = urlsplit(url).path
        if has_dot_segment(path):
            # HTTP stacks resolve '.' and '..' before sending: /contacts/../tags would reach /tags.
            # Paths are bound by api_request.bind_path, which refuses such ids; this guards what
            # reaches the client any other way (a next-page URL from a response, a future caller).
            raise errors.ConfigurationError(f"refusing to send {method} {path}: the path has a '.' or '..' segment",
                                            hint="an id in the request is '.' or '..', which no Intercom object has")
        idempotent = is_idempotent(method, idempotent)
        unanswered = []  # an attempt sent without a usable answer (a 5xx, a cut connection): it may have been carried out
        try:
            return self._attempts(method, url, path, params, body, idempotent, allow_404, interrupts, decode, page,
                                  creates, unanswered)
        except errors.Interrupted as stop:
            # Stopped in a wait for the next attempt (backoff, the rate limit): the request "was not in
            # flight", but an earlier attempt may have reached Intercom, which the caller must say.
            if unanswered and not stop.in_flight:
                raise errors.Interrupted(in_flight=True) from None
            raise

    def _attempts(self, method, url, path, params, body, idempotent, allow_404, interrupts: Interrupts, decode,
                  page, creates, unanswered: list) -> Optional[dict]:
        attempt = 0
        while True:
            attempt += 1
            self._throttle.wait_turn(interrupts.sleep)
            interrupts.check()
            with self._calls_lock:
                self.calls_made += 1
            try:
                response = send(interrupts, self._transport.request, method, url, params, body)
            except TRANSPORT_ERRORS as exc:
                kind = transport_kind(exc)
                if kind == TRANSPORT:
                    unanswered.append(attempt)
                log.warning("%s %s: %s (attempt %d)", method, path, type(exc).__name__, attempt)
                if should_retry(method, idempotent, None, kind, attempt, self.max_retries):
                    interrupts.sleep(backoff_delay(attempt, *self._backoff, self._rng))
                    continue
                raise error_mapping.error_for_transport(exc, method, path, attempt, sent=kind == TRANSPORT) from None
            self._throttle.observe(response.headers)
            status = response.status_code
            request_id = response.headers.get("X-Request-Id")
            if log.isEnabledFor(logging.DEBUG):  # the request log; a hot path, so only when wanted
                log.debug(
                    "%s %s -> %d in %.0f ms (request_id %s)",
                    method, _path_and_query(response.url), status, response.elapsed * 1000, request_id,
                )
            if status < 300:
                if page and not response.content:
                    # Taken as a page without items, it would end the read here and drop the rest silently.
                    log.warning("%s %s -> %d with an empty body (attempt %d)", method, path, status, attempt)
                    if should_retry(method, idempotent, None, TRANSPORT, attempt, self.max_retries):
                        interrupts.sleep(backoff_delay(attempt, *self._backoff, self._rng))
                        continue
                    raise error_mapping.error_for_unreadable_body(status, method, path, "")
                return _parsed(response, method, path, decode or decoding.decode)
            if status < 400:
                # Intercom's API does not redirect; following one would turn a POST into a GET
                raise error_mapping.error_for_redirect(status, method, path, response.headers.get("Location"))
            if status == 404 and allow_404:
                return None
            if status >= 500 or status == 408:
                unanswered.append(attempt)
            if should_retry(method, idempotent, status, None, attempt, self.max_retries):
                delay = retry_after_429(response.headers, self._clock()) if status == 429 else None
                if delay is None:
                    delay = backoff_delay(attempt, *self._backoff, self._rng)
                log.info("%s %s -> %d; retrying in %.2f s (attempt %d)", method, path, status, delay, attempt)
                interrupts.sleep(delay)
                continue
            raise error_mapping.error_for_response(status, _body(response), method, path, request_id, creates)


def _parsed(response: Response, method: str, path: str, decode: Callable[[bytes], Any]):
    body = response.content
    if not body:
        return {}  # e.g. 202 from POST /events
    parsed = _parsed_json(response, body, method, path, decode)
    # JSON holds U+0000 only as the escape \u0000; PostgreSQL's text and jsonb cannot hold it at all.
    return _without_nul(parsed) if b"\\u0000" in body else parsed


# What stands in for U+0000 in every string Intercom sends: one such character must not make a
# table unreadable (PostgreSQL refuses the whole row), and U+FFFD shows that something was there.
NUL_REPLACEMENT = "\ufffd"


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", NUL_REPLACEMENT)
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _parsed_json(response: Response, body: bytes, method: str, path: str, decode: Callable[[bytes], Any]):
    if _is_utf8(response.encoding):
        try:
            # msgspec (decoding.py); what it refuses (not UTF-8, a BOM, lone surrogates, NaN, a page
            # a projection cannot read) goes to requests' parser, whole, as before
            parsed = decode(body)
        except decoding.MsgspecError:
            pass
        else:
            for items in parsed.values() if type(parsed) is dict else ():
                if type(items) is decoding.DeferredItems:  # for an item only a full decode refuses
                    items.whole = functools.partial(_whole_items, response, method, path, items.key)
            return parsed
    return _parsed_by_requests(response, method, path)


def _parsed_by_requests(response: Response, method: str, path: str):
    try:
        return response.json()
    except ValueError:
        raise error_mapping.error_for_unreadable_body(response.status_code, method, path, response.text) from None


def _whole_items(response: Response, method: str, path: str, key: str) -> list:
    """The items under `key` of a page read whole by requests' parser (a deferred page's, whose
    items msgspec could bound but one of which it cannot decode)."""
    return _parsed_by_requests(response, method, path)[key]


def _is_utf8(encoding: Optional[str]) -> bool:
    """requests decodes a body by its declared charset (JSON without one as UTF-8); msgspec reads UTF-8."""
    return encoding is None or encoding.lower().replace("-", "").replace("_", "") == "utf8"


def _body(response: Response):
    try:
        return response.json()
    except ValueError:
        return response.text


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# Per-row and per-id reads start with this many in flight and widen by one for each result PostgreSQL
# takes, up to the client's read_concurrency: a query that stops after a few rows (LIMIT 1, one probe of
# a nested loop) sends a few requests more than it uses, a long read soon keeps the whole width busy.
FIRST_READS = 4


def _widening(width: int) -> Callable[[int], int]:
    """How many requests may be in flight once `taken` results were yielded."""
    return lambda taken: min(width, FIRST_READS + taken)


# ---- one client per backend ------------------------------------------------------------------

_clients: dict = {}
_clients_lock = threading.Lock()


def client_for(base_url: str, token: str, api_version: str = DEFAULT_API_VERSION, **options) -> IntercomClient:
    """The backend's client for (base_url, token, version, options): one Session, kept alive."""
    key = (
        base_url.rstrip("/"),
        hashlib.sha256((token or "").encode()).hexdigest(),
        api_version,
        tuple(sorted(options.items())),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = IntercomClient(base_url, token, api_version, **options)
        return client


def table_counts(base_url: str, token: str) -> Callable[[str], Optional[int]]:
    """The whole-table counts this backend's clients of the workspace saw lately (totals.py); no call."""
    return totals.counts_for(workspace_key(base_url.rstrip("/"), token))


def backend_usage() -> dict:
    """What this backend's clients have sent so far: `calls` (every attempt, retries included) and the
    smallest rate-limit `remaining` last reported by Intercom (None before any response). Replication
    runs read it before and after each window: the count needs no emulator and no proxy."""
    with _clients_lock:
        clients = list(_clients.values())
    remaining = [c._throttle.remaining for c in clients if c._throttle.remaining is not None]
    return {"calls": sum(c.calls_made for c in clients), "remaining": min(remaining) if remaining else None}
