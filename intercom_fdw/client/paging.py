"""Intercom's paging styles, each written once. A pager turns an ApiRequest into a lazy stream of
pages (lists of items); it never holds more than the current page, so a consumer that stops
early (LIMIT) stops the fetching too.

Which endpoints use which style (API 2.14; checked against the OpenAPI file and the API notes):
- "none"/"unpaged": one call - get-by-id, admins, teams, tags, segments, data attributes, ticket
  types, subscription types, help centers, sub-resources such as /contacts/{id}/tags.
- "cursor": `per_page` + `starting_after`, next cursor at `pages.next.starting_after` (schema
  `cursor_pages`): contacts, conversations, articles, help center collections, notes.
- "page": `page` + `per_page` until `pages.total_pages` or no `pages.next`: GET /companies and
  POST /companies/list (query parameters page/per_page; their `pages` carry total_pages).
- "next_url": follow `pages.next` as given (/events, /admins/activity_logs).
- "scroll": GET /companies/scroll, then `scroll_param` until an empty `data`. See CompanyScroll.
- "search": POST with body `pagination: {per_page, starting_after}`, next at `pages.next.starting_after`.

What the file says about `pages.next`, endpoint by endpoint, and why both "cursor" and
"next_url" accept either shape of it:
- GET /events: the schema declares no `pages`; the example's `pages.next` is a URL.
- GET /admins/activity_logs: schema `cursor_pages` (an object with `starting_after`), example
  `next: null`; Intercom's documentation shows a URL. Declares no per_page, hence "next_url"
  sends per_page only when the caller asked for one.
- GET /conversations, GET /contacts/{id}/notes: schema `cursor_pages` -> object.
- GET /companies/{id}/contacts: schema `cursor_pages`, but the example answers page/per_page/
  total_pages and no `next`, and no paging parameter is declared: one page unless a `next` comes.
- GET /contacts/{id}/companies, /ai/external_pages: schema `pages_link` -> `next` is a URL.
A scan that meets the other shape than expected follows it instead of stopping short.

A URL from `pages.next` is re-rooted on the client's base URL: the token is only ever sent to
the configured host (a proxy or the emulator stays in the path even when the upstream answers
with its own absolute URLs).
"""
from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import dataclass
from typing import Callable, ContextManager, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from intercom_fdw import errors
from intercom_fdw.api_request import ApiRequest
from intercom_fdw.client.decoding import DeferredItems
from intercom_fdw.client.policy import list_can_replace_scroll
from intercom_fdw.client.scroll_lock import ScrollOpenInThisSession

log = logging.getLogger("intercom_fdw.client")

# fetch(path or URL, query params, JSON body, idempotent) -> parsed JSON, or None for an allowed 404
Fetch = Callable[[str, Optional[Mapping], Optional[Mapping], Optional[bool]], Optional[dict]]
Page = List[dict]

# A scroll that Intercom ends (stale scroll_param, its "please restart the scroll" 500) is started
# again at most this many times per scan.
MAX_SCROLL_RESTARTS = 3


@dataclass
class PagingContext:
    fetch: Fetch
    base_url: str
    # context manager held for the whole of a scroll (the per-workspace lock)
    scroll_lock: Callable[[], ContextManager]
    # wait before asking for a new scroll while another is open; False once the wait is used up
    wait_for_open_scroll: Callable[[int], bool]


def iter_pages(request: ApiRequest, ctx: PagingContext) -> Iterator[Page]:
    return iter(PAGERS[request.paging](request, ctx))


# ---- the styles ----------------------------------------------------------------------------

def single_call(request: ApiRequest, ctx: PagingContext) -> Iterator[Page]:
    """"none" and "unpaged": one call."""
    page = ctx.fetch(request.path, dict(request.params), request.body, request.idempotent)
    yield items_of(page, request.items_key)


def cursor_pages(request: ApiRequest, ctx: PagingContext) -> Iterator[Page]:
    """"cursor": per_page + starting_after in the query string."""
    return _follow_pages_next(request, ctx, request.page_size)


def next_url_pages(request: ApiRequest, ctx: PagingContext) -> Iterator[Page]:
    """"next_url": follow pages.next; per_page only when asked for explicitly."""
    return _follow_pages_next(request, ctx, request.page_size if request.per_page else None)


def _follow_pages_next(request: ApiRequest, ctx: PagingContext, size: Optional[int]) -> Iterator[Page]:
    params = dict(request.params)
    if size:
        params["per_page"] = size
    target, query = request.path, params
    seen_links = set()
    while True:
        page = ctx.fetch(target, query, request.body, request.idempotent)
        items = items_of(page, request.items_key)
        if not items:
            return
        yield items
        link = next_link(page)
        if link is None or link in seen_links:
            return  # a repeated link would loop forever: Intercom has no further data for us
        seen_links.add(link)
        kind, value = link
        if kind == "url":
            target, query = reroot(value, ctx.base_url), None
        else:
            target, query = request.path, {**params, "starting_after": value}


def numbered_pages(request: ApiRequest, ctx: PagingContext) -> Iterator[Page]:
    """"page": page=1, 2, ... until pages.total_pages (or, without it, until no pages.next).

    A list with a reach (Intercom's companies lists stop at 10,000) that ends there while its
    total_count says there are more fails: it used to end as if it held them all (WHERE tag_id =
    'x' of 10,500 tagged companies gave 10,000 rows). A read that stops sooner (a LIMIT) never
    meets that end."""
    total, count = None, 0
    for page in _numbered_responses(request, ctx):
        if total is None:
            total = (page or {}).get("total_count")
        items = items_of(page, request.items_key)
        count += len(items)
        yield items
    if request.reach is not None and isinstance(total, int) and count >= request.reach and total > count:
        query = "&".join(f"{k}={v}" for k, v in sorted(request.params.items()))
        raise errors.UnsupportedOperationError(
            f"{request.method} {request.path}{'?' + query if query else ''} matches {total} objects, but Intercom's "
            f"list returns at most {request.reach}: the other {total - count} would be missing",
            hint="read them through a full scan that PostgreSQL filters and sorts: the same table on a server "
                 "with pushdown 'false' scrolls every object; or narrow the filter, or add a LIMIT (of at most "
                 f"{request.reach} rows)")


def _numbered_responses(request: ApiRequest, ctx: PagingContext) -> Iterator[dict]:
    """The responses of a "page" list that hold items (numbered_pages' pages, with their `total_count`)."""
    params = dict(request.params)
    if request.page_size:
        params["per_page"] = request.page_size
    number = 1
    while True:
        page = ctx.fetch(request.path, {**params, "page": number}, request.body, request.idempotent)
        items = items_of(page, request.items_key)
        if not items:
            return
        yield page
        pages = (page or {}).get("pages") or {}
        total = pages.get("total_pages")
        if (total is not None and number >= total) or (total is None and not pages.get("next")):
            return
        number += 1


def search_pages(request: ApiRequest, ctx: PagingContext) -> Iterator[Page]:
    """"search": POST; the pagination lives in the body."""
    for response in search_responses(request, ctx):
        yield items_of(response, request.items_key)


def search_responses(request: ApiRequest, ctx: PagingContext) -> Iterator[dict]:
    """The search's responses whole (their `total_count` too), page by page, while they hold items."""
    pagination = {"per_page": request.page_size} if request.page_size else {}
    cursor = None
    seen_cursors = set()
    while True:
        body = dict(request.body or {})
        body["pagination"] = {**pagination, **({"starting_after": cursor} if cursor else {})}
        page = ctx.fetch(request.path, dict(request.params) or None, body, request.idempotent)
        if not items_of(page, request.items_key):
            return
        yield page
        link = next_link(page)
        if link is None or link[0] != "cursor" or link[1] in seen_cursors:
            return  # a cursor met before (A -> A, A -> B -> A) would page forever, as in _follow_pages_next
        seen_cursors.add(link[1])
        cursor = link[1]


class CompanyScroll:
    """"scroll": GET /companies/scroll, then ?scroll_param=... until an empty `data`.

    - One scroll per workspace: the whole scan holds the workspace lock (scroll_lock.py), so
      scans from several backends wait for each other instead of failing.
    - If Intercom still refuses to open a scroll (one opened by another tool, by a scan of ours
      abandoned less than a minute ago, which Intercom keeps open until it expires, or by our own
      first attempt whose answer was lost: the resend finds it open and nothing can reopen it,
      since the API has no call to close a scroll or find its scroll_param), the scan reads the
      request's `stand_in` instead, the plain page-numbered list of the same companies, when its
      first page's total_count shows that it reaches all of them (Intercom's list stops at 10,000).
      Beyond that it waits and asks again, within the same bounded wait.
    - If Intercom ends a scroll midway (scroll_param stale or expired, or the 500 whose message
      says "restart the scroll operation"), the scan restarts from the beginning, at most
      MAX_SCROLL_RESTARTS times, and skips the companies it already yielded (by id). That set
      of ids is the only state that grows with the scan; it is what makes a restart invisible.
    - Continuation calls are sent as non-idempotent: resending a scroll_param after a 5xx or a
      dropped connection is exactly what Intercom says not to do, so those go to a restart.
    """

    def __init__(self, request: ApiRequest, ctx: PagingContext):
        self.request = request
        self.ctx = ctx

    def __iter__(self) -> Iterator[Page]:
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(self.ctx.scroll_lock())
            except ScrollOpenInThisSession:
                # This session's own scroll is open (a cursor still reading companies, the other side of
                # a self-join): the list reads the same companies, where it reaches them all.
                if self.request.stand_in is None:
                    raise
                listed = self._stand_in()
                first = next(listed, None)
                if first is None or not list_can_replace_scroll(first.get("total_count"), self.request.stand_in[1]):
                    listed.close()
                    raise
                log.info("companies scroll: this session's scroll is open; reading the list instead")
                yield from _unseen_pages(itertools.chain([first], listed), self.request.stand_in[0], set())
                return
            yield from self._scan()

    def _scan(self) -> Iterator[Page]:
        yielded_ids = set()
        restarts = waits = 0
        scroll_param = None
        while True:
            continuing = scroll_param is not None
            params = {**self.request.params, **({"scroll_param": scroll_param} if continuing else {})}
            try:
                page = self.ctx.fetch(self.request.path, params, None, False if continuing else self.request.idempotent)
            except errors.IntercomError as exc:
                action = scroll_recovery(exc, continuing)
                if action == "restart" and restarts < MAX_SCROLL_RESTARTS:
                    restarts += 1
                    log.info("companies scroll ended by Intercom (%s); restarting it (%d)", exc, restarts)
                    scroll_param = None
                    continue
                if action == "wait":
                    if not waits and self.request.stand_in is not None:
                        stand_in = self._stand_in()
                        first = next(stand_in, None)
                        if first is not None and list_can_replace_scroll(first.get("total_count"),
                                                                         self.request.stand_in[1]):
                            log.info("companies scroll: another scroll is open; reading the list instead")
                            yield from _unseen_pages(itertools.chain([first], stand_in), self.request.stand_in[0],
                                                     yielded_ids)
                            return
                        stand_in.close()
                    waits += 1
                    if self.ctx.wait_for_open_scroll(waits):
                        continue
                raise
            items = items_of(page, self.request.items_key)
            fresh = _unseen(items, yielded_ids)
            if fresh:
                yield fresh
            scroll_param = (page or {}).get("scroll_param")
            if not items or not scroll_param:
                return


    def _stand_in(self) -> Iterator[dict]:
        return _numbered_responses(self.request.stand_in[0], self.ctx)


def _unseen(items: Page, yielded_ids: set) -> Page:
    fresh = [item for item in items if _identity(item) not in yielded_ids]
    yielded_ids.update(_identity(item) for item in fresh)
    return fresh


def _unseen_pages(responses: Iterator[dict], request: ApiRequest, yielded_ids: set) -> Iterator[Page]:
    for response in responses:
        fresh = _unseen(items_of(response, request.items_key), yielded_ids)
        if fresh:
            yield fresh


def scroll_recovery(error: errors.IntercomError, continuing: bool) -> str:
    """What a scroll does about an error: "restart" it, "wait" for another scroll, or "raise".

    continuing: the failed call carried a scroll_param (the scroll was open).
    """
    if isinstance(error, (errors.AuthenticationError, errors.RateLimitedError)):
        return "raise"  # a new scroll would fail the same way
    if continuing and isinstance(
        error, (errors.NotFoundError, errors.ApiRejectedError, errors.ServerError, errors.TransportError)
    ):
        return "restart"
    text = f"{error.code or ''} {error.message or ''}".lower()
    if not continuing and isinstance(error, (errors.ApiRejectedError, errors.ServerError)) and "scroll" in text:
        return "wait"  # Intercom: "Each app can only have 1 scroll open at a time"
    return "raise"


def _identity(item: dict):
    return item.get("id") if isinstance(item, dict) and item.get("id") is not None else repr(item)


PAGERS = {
    "none": single_call,
    "unpaged": single_call,
    "cursor": cursor_pages,
    "page": numbered_pages,
    "next_url": next_url_pages,
    "scroll": CompanyScroll,
    "search": search_pages,
}
# The pagers that look into items (a scroll skips those it yielded, by id): their pages' items are
# decoded whole; the other pagers' may stay JSON text until the consumer decodes them (decoding.deferred).
PAGERS_READING_ITEMS = frozenset({"scroll"})


# ---- reading a page -------------------------------------------------------------------------

def items_of(page: Optional[dict], items_key: Optional[str]) -> Page:
    """The rows of one page: under `items_key` (dotted for nested lists), or the page itself."""
    if page is None:
        return []  # an allowed 404
    if items_key is None:
        return [page]
    value = page
    for part in items_key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if type(value) is DeferredItems:
        return value  # a list already, its consumer decodes it (decoding.decoded)
    return list(value or [])


def next_link(page: Optional[dict]) -> Optional[Tuple[str, str]]:
    """("url", url) or ("cursor", starting_after) from `pages.next`, or None on the last page."""
    pages = (page or {}).get("pages")
    if not isinstance(pages, dict):
        return None
    following = pages.get("next")
    if isinstance(following, str) and following:
        return ("url", following)
    if isinstance(following, dict) and following.get("starting_after"):
        return ("cursor", following["starting_after"])
    return None


def reroot(url: str, base_url: str) -> str:
    """`url`'s path and query on `base_url`'s scheme, host and path prefix."""
    target, base = urlsplit(url), urlsplit(base_url)
    prefix = base.path.rstrip("/")
    path = target.path if (not prefix or target.path.startswith(prefix + "/")) else prefix + target.path
    return f"{base.scheme}://{base.netloc}{path}" + (f"?{target.query}" if target.query else "")
