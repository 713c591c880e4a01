"""The generic engine: runs any ScanPlan through the HTTP client and streams shaped rows.

Nothing here knows a particular object: the plan says which calls to make (one, several
concurrent ones, or one per row of a parent scan), which per-row extended requests to add, which
values a table option demands, and what LIMIT/OFFSET PostgreSQL handed over. Rows flow one at a
time from HTTP pages to PostgreSQL; only a local sort (an order the API could not give) collects.
"""
from __future__ import annotations

from dataclasses import replace
from collections import deque
from itertools import islice, repeat, starmap
from typing import Any, FrozenSet, Iterable, Iterator, Mapping, Optional, Sequence, Tuple

from intercom_fdw.client.partitioned import read_parts
from intercom_fdw.scan_gc import fewer_collections
from intercom_fdw.planning import ScanPlan
from intercom_fdw.planning.partition import split, window_query
from intercom_fdw.shaping import Row, RowShaper, dig
from intercom_fdw.spec import Column, path_of

# A plan's own calls (several ids looked up at once) handed to the client per concurrent batch.
BATCH = 64


def objects(plan: ScanPlan, client) -> Iterator[Tuple[dict, Mapping[str, Any]]]:
    """(object, injected column values) for every object the plan's calls return, lazily."""
    stream = _calls_objects(plan, client)
    if plan.distinct_key:
        stream = _distinct(stream, path_of(plan.distinct_key))
    if plan.extended:
        stream = _with_extended(stream, plan, client)
    if plan.row_limit is not None:
        stream = islice(stream, plan.row_limit)
    return stream


def rows(plan: ScanPlan, client, table_columns: Sequence[Column], selected: Iterable[str],
         jsonb_objects: Iterable[str] = (), order: Optional[Sequence[str]] = None,
         unix_seconds: Iterable[str] = ()) -> Iterator[Row]:
    """Rows holding the `selected` columns (of the table's columns), with the plan's table-option
    check, local sort and LIMIT/OFFSET applied; `jsonb_objects`, `unix_seconds`: the RowShaper's (the
    runtime's choice).
    Given `order` (column names), rows may be tuples of the columns in that order, the RowShaper's:
    where the plan reads rows by name (the table-option check, a local sort), they stay dicts."""
    compared = {name for name, _ in plan.required_values} | {name for name, _ in plan.sort_locally}
    needed = set(selected) | compared
    # (columns compared here keep their text and datetimes: JSON text compares and sorts, dicts do
    # not, and the values compared with are datetimes)
    shaper = RowShaper((c for c in table_columns if c.name in needed), set(jsonb_objects) - compared,
                       None if compared else order, set(unix_seconds) - compared, injected_columns(plan))
    fields = item_fields(plan, shaper.columns)
    if fields is not None:
        plan = replace(plan, calls=tuple(replace(call, item_fields=fields) for call in plan.calls))
    found = objects(plan, client)
    if plan.member_values:
        found = _with_member_values(found, plan.member_values)
    stream = _shaped(found, shaper.shape)
    if plan.required_values:
        stream = (row for row in stream if _has_required_values(row, plan.required_values))
    if plan.sort_locally:
        stream = iter(_sorted(list(stream), plan.sort_locally))
    if plan.offset or plan.limit is not None:
        stop = None if plan.limit is None else plan.offset + plan.limit
        stream = islice(stream, plan.offset, stop)
    return stream


def injected_columns(plan: ScanPlan) -> FrozenSet[str]:
    """The columns whose values the plan's objects may come with (objects()' and
    _with_member_values' second element): its calls' inject, a child scan's parent key column
    (ChildCalls.call and _children), the MemberFilter columns."""
    names = {name for call in plan.calls for name in call.inject}
    if plan.child_calls:
        names.add(plan.child_calls.column)
    names.update(column for column, _, _, _ in plan.member_values)
    return frozenset(names)


def _shaped(found, shape) -> Iterator[Row]:
    # (the rows' one generator, so the collector's threshold is raised for no extra layer per row)
    with fewer_collections():
        yield from starmap(shape, found)  # (no bytecode per row here)


def item_fields(plan: ScanPlan, columns: Iterable[Column]) -> Optional[FrozenSet[str]]:
    """The top-level keys of the plan's own items that the rows and the engine read (the client
    then decodes only those), or None for all: `attrs` (the whole object) is among the columns."""
    keys = {"id", "type"}  # a scroll recognises items by id (paging.py); type is every object's own
    for column in columns:
        if column.name == "attrs":
            return None
        if column.source:
            keys.add(column.source[0])
    paths = [plan.distinct_key, plan.extended and plan.extended.key,
             plan.partitions and plan.partitions.partitioning.field]
    paths += [members for _, members, _, _ in plan.member_values]
    keys.update(path_of(p)[0] for p in paths if p)
    return frozenset(keys)


def _calls_objects(plan: ScanPlan, client):
    if plan.partitions:
        yield from _partitioned(plan, client)
        return
    if plan.child_calls:
        yield from _children(plan, client)
        return
    if len(plan.calls) == 1:
        call = plan.calls[0]
        yield from zip(client.iter_items(call), repeat(call.inject))
        return
    for batch in _batches(plan.calls):
        for call, items in zip(batch, client.get_many(batch)):
            for item in items:
                yield item, call.inject


def _partitioned(plan: ScanPlan, client):
    """The plan's one search read as windows of its partition field, concurrently (partition.py)."""
    call, partitions = plan.calls[0], plan.partitions
    field = path_of(partitions.partitioning.field)

    def request_for(window):
        # Only the first window (the whole table, when SQL filters nothing) reports the table's count.
        return replace(call, body={**call.body, "query": window_query(call.body["query"], partitions.partitioning,
                                                                        window)},
                       count_key=call.count_key if window == partitions.window else None)

    def split_window(window, response):
        # The earliest value on the first page: where the evenly spread cuts start (only the
        # balance of the parts depends on it, not which rows they hold).
        values = [dig(item, field) for item in response.get(call.items_key) or () if isinstance(item, dict)]
        values = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and window.holds(v)]
        parts = split(window, response.get("total_count") or 0, min(values) if values else None, partitions)
        return parts if len(parts) > 1 else None

    def keep(window, item):
        return window.holds(dig(item, field))

    for item in read_parts(client, [partitions.window], request_for, split_window, keep, partitions.read_concurrency):
        yield item, call.inject


def _children(plan: ScanPlan, client):
    child = plan.child_calls
    field = path_of(child.parent_field)
    if child.embedded:
        for parent, _ in objects(child.parent_plan, client):
            value = dig(parent, field)
            for item in dig(parent, path_of(child.embedded)) or ():
                yield item, {child.column: None if value is None else str(value)}
        return
    parent_values = (dig(item, field) for item, _ in objects(child.parent_plan, client))
    calls = (child.call(str(v)) for v in parent_values if v is not None)
    for call, items in _per_row(plan, client, ((call, call) for call in calls)):
        for item in items:
            yield item, call.inject


def _with_extended(stream, plan: ScanPlan, client):
    # Each row leaves as soon as its own details are in, `read_concurrency` requests in flight all along
    # (_per_row), so a scan PostgreSQL stops early (its own LIMIT) pays for at most that many more.
    extended = plan.extended
    key_path = path_of(extended.key)

    def tagged():
        for item, inject in stream:
            key = dig(item, key_path)
            if key is None:
                yield (item, inject), None
            else:
                yield (item, inject), extended.call(key)

    for (item, inject), found in _per_row(plan, client, tagged()):
        yield ({**item, **found[0]} if found else item), inject


def _per_row(plan: ScanPlan, client, tagged):
    """(tag, items) of each (tag, request) (request None: nothing to send, items None), with
    `read_concurrency` requests in flight all along (fewer at first: client/http.py's FIRST_READS).
    Yielded as each completes, unless PostgreSQL was told the rows come in order (plan.in_order):
    then in input order. The input is read lazily, at most `read_concurrency` requests ahead, so
    memory stays flat and a LIMIT stops the requests too."""
    if plan.in_order:
        held = deque()  # (tag, whether its request was sent), in input order

        def in_order():
            for tag, request in tagged:
                held.append((tag, request is not None))
                if request is not None:
                    yield request

        for items in client.get_many(in_order()):
            while True:
                tag, sent = held.popleft()
                yield tag, (items if sent else None)
                if sent:
                    break
        while held:
            yield held.popleft()[0], None
        return
    unsent = deque()  # rows with nothing to send, read while looking for the next request

    def sendable():
        for tag, request in tagged:
            if request is None:
                unsent.append(tag)
            else:
                yield tag, request

    for tag, items in client.get_as_completed(sendable()):
        while unsent:
            yield unsent.popleft(), None
        yield tag, items
    while unsent:
        yield unsent.popleft(), None


def _distinct(stream, key):
    seen = set()
    for item, inject in stream:
        value = dig(item, key)
        if value is None or value not in seen:
            seen.add(value)
            yield item, inject


def _with_member_values(stream, member_values):
    """Each object's filter columns (spec.MemberFilter): the first wanted id its embedded list
    holds, else None; the same whether the API filtered the objects or not."""
    wanted = [(column, path_of(members), path_of(key), values) for column, members, key, values in member_values]
    for item, inject in stream:
        values = dict(inject)
        for column, members, key, ids in wanted:
            held = {str(dig(m, key)) for m in dig(item, members) or () if dig(m, key) is not None}
            values[column] = next((v for v in ids if v in held), None)
        yield item, values


def _batches(iterable: Iterable, size: int = BATCH):
    iterator = iter(iterable)
    while True:
        batch = list(islice(iterator, size))
        if not batch:
            return
        yield batch


def _has_required_values(row: dict, required) -> bool:
    return all(row.get(name) is not None and str(row.get(name)) == str(value) for name, value in required)


def _sorted(rows_: list, keys) -> list:
    # PostgreSQL's defaults: NULLS LAST ascending, NULLS FIRST descending.
    for name, descending in reversed(keys):
        present = [r for r in rows_ if r.get(name) is not None]
        missing = [r for r in rows_ if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=descending)
        rows_ = missing + present if descending else present + missing
    return rows_
