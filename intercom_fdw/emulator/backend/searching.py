"""Search runs shared by contacts, conversations and tickets: validation, matching, sort, paging.

Matches are cached per (query, sort, workspace version) so that walking the pages of one search
does not re-evaluate the query on every page.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, List, Tuple

import orjson

from intercom_fdw.emulator.apierror import ApiError
from intercom_fdw.emulator.backend import Req, Runtime, SearchContext, require_body
from intercom_fdw.emulator.paging.cursor import CursorLimits, per_page_value, sequence_page
from intercom_fdw.emulator.search import SearchSchema, compile_query, sort_key
from intercom_fdw.emulator.table import Table
from intercom_fdw.emulator.workspace import Workspace

_CACHE: "OrderedDict[tuple, List[dict]]" = OrderedDict()
# A partitioned scan pages up to 65 windows (one search each) at once, from several backends:
# a smaller cache would evict a window's matches between its pages and evaluate it again each page.
_CACHE_SIZE = 512


def run_search(ws: Workspace, rt: Runtime, req: Req, schema: SearchSchema, table: Table, ctx: SearchContext,
               visible: Callable[[dict], bool] = lambda _o: True) -> Tuple[List[dict], dict, int]:
    body = require_body(req)
    if "query" not in body:
        raise ApiError(400, "parameter_not_found", "query parameter is required")
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise ApiError(400, "parameter_invalid", "pagination must be an object")
    per_page = per_page_value(pagination.get("per_page"), CursorLimits(schema.default_per_page, 150))
    tz = rt.knobs.timezone
    key = (ws.uid, ws.version, schema.name, orjson.dumps(body["query"], option=orjson.OPT_SORT_KEYS),
           orjson.dumps(body.get("sort"), option=orjson.OPT_SORT_KEYS), tz)
    # While time decides what search sees, results are not cached: they change without a write
    # bumping ws.version, so a cached page would outlive the delay.
    cacheable = not ws.stale_custom_attributes and not ws.unindexed_contacts
    matches = _CACHE.get(key) if cacheable else None
    if matches is None:
        predicate = compile_query(body["query"], schema, ctx, tz)
        order = sort_key(body.get("sort"), schema, ctx)
        matches = [obj for obj in table.values() if visible(obj) and predicate(obj)]
        if order is not None:
            matches.sort(key=order, reverse=body["sort"].get("order") == "descending")
        if cacheable:
            _CACHE[key] = matches
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    chunk, pages = sequence_page(matches, per_page, pagination.get("starting_after"))
    return chunk, pages, len(matches)
