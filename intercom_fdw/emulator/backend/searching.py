"""Search runs shared by contacts, conversations and tickets: validation, matching, sort, paging.

Matches are cached per (query, sort, workspace version) so that walking the pages of one search
does not re-evaluate the query on every page. A query that bounds a date or integer field (a
partitioned scan's `created_at` windows) is evaluated only on the objects a sorted index of that
field puts within its widened bounds (search.range_bounds), in table order as before: the same
matches, without reading the whole table for each of a scan's many windows.
"""
from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import Callable, Iterable, List, Tuple

import orjson

from intercom_fdw.emulator.apierror import ApiError
from intercom_fdw.emulator.backend import Req, Runtime, SearchContext, require_body
from intercom_fdw.emulator.paging.cursor import CursorLimits, per_page_value, sequence_page
from intercom_fdw.emulator.search import SearchSchema, compile_query, range_bounds, sort_key
from intercom_fdw.emulator.table import Table
from intercom_fdw.emulator.workspace import Workspace

_CACHE: "OrderedDict[tuple, List[dict]]" = OrderedDict()
# A partitioned scan pages up to 65 windows (one search each) at once, from several backends:
# a smaller cache would evict a window's matches between its pages and evaluate it again each page.
_CACHE_SIZE = 512
# Sorted indexes of one field: (workspace uid, version, schema, field) -> (values, positions, others).
_INDEXES: "OrderedDict[tuple, tuple]" = OrderedDict()
_INDEXES_SIZE = 16


def _field_index(ws: Workspace, schema: SearchSchema, table: Table, name: str, ctx) -> tuple:
    """(sorted numeric values, their table positions, positions of objects without a number)."""
    key = (ws.uid, ws.version, schema.name, name)
    found = _INDEXES.get(key)
    if found is None:
        read = schema.fields[name].read
        numbered, others = [], []
        for pos, obj in table.positioned():
            value = read(obj, ctx)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                numbered.append((value, pos))
            else:
                others.append(pos)
        numbered.sort()
        found = _INDEXES[key] = ([v for v, _ in numbered], [p for _, p in numbered], others)
        while len(_INDEXES) > _INDEXES_SIZE:
            _INDEXES.popitem(last=False)
    return found


def _candidates(ws: Workspace, schema: SearchSchema, table: Table, query, ctx) -> Iterable[dict]:
    """The objects the query could match, in table order: all of them, or those a range index keeps."""
    bounds = range_bounds(query, schema)
    if bounds is None:
        return table.values()
    name, low, high = bounds
    values, positions, others = _field_index(ws, schema, table, name, ctx)
    first = 0 if low is None else bisect.bisect_left(values, low)
    last = len(values) if high is None else bisect.bisect_right(values, high)
    return table.at_positions(sorted(positions[first:last] + others))


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
        matches = [obj for obj in _candidates(ws, schema, table, body["query"], ctx) if visible(obj) and predicate(obj)]
        if order is not None:
            matches.sort(key=order, reverse=body["sort"].get("order") == "descending")
        if cacheable:
            _CACHE[key] = matches
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    chunk, pages = sequence_page(matches, per_page, pagination.get("starting_after"))
    return chunk, pages, len(matches)
