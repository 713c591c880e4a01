"""The generic engine: runs any ScanPlan through the HTTP client and streams shaped rows.

Nothing here knows a particular object: the plan says which calls to make (one, several
concurrent ones, or one per row of a parent scan), which per-row extended requests to add, which
values a table option demands, and what LIMIT/OFFSET PostgreSQL handed over. Rows flow one at a
time from HTTP pages to PostgreSQL; only a local sort (an order the API could not give) collects.
"""
from __future__ import annotations

from dataclasses import replace
from itertools import islice
from typing import Any, Iterable, Iterator, Mapping, Sequence, Tuple

from intercom_fdw.client.partitioned import read_parts
from intercom_fdw.planning import ScanPlan
from intercom_fdw.planning.partition import split, window_query
from intercom_fdw.shaping import RowShaper, dig
from intercom_fdw.spec import Column, path_of

# Parent values (or rows needing extended fields) handed to the client per concurrent batch.
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


def rows(plan: ScanPlan, client, table_columns: Sequence[Column], selected: Iterable[str]) -> Iterator[dict]:
    """Rows holding the `selected` columns (of the table's columns), with the plan's table-option
    check, local sort and LIMIT/OFFSET applied."""
    needed = set(selected) | {name for name, _ in plan.required_values} | {name for name, _ in plan.sort_locally}
    shaper = RowShaper(c for c in table_columns if c.name in needed)
    found = objects(plan, client)
    if plan.member_values:
        found = _with_member_values(found, plan.member_values)
    stream = (shaper(item, inject) for item, inject in found)
    if plan.required_values:
        stream = (row for row in stream if _has_required_values(row, plan.required_values))
    if plan.sort_locally:
        stream = iter(_sorted(list(stream), plan.sort_locally))
    if plan.offset or plan.limit is not None:
        stop = None if plan.limit is None else plan.offset + plan.limit
        stream = islice(stream, plan.offset, stop)
    return stream


def _calls_objects(plan: ScanPlan, client):
    if plan.partitions:
        yield from _partitioned(plan, client)
        return
    if plan.child_calls:
        yield from _children(plan, client)
        return
    if len(plan.calls) == 1:
        call = plan.calls[0]
        for item in client.iter_items(call):
            yield item, call.inject
        return
    for batch in _batches(plan.calls):
        for call, items in zip(batch, client.get_many(batch, client.concurrency)):
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

    for item in read_parts(client, [partitions.window], request_for, split_window, keep, partitions.concurrency):
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
    values = (str(v) for v in parent_values if v is not None)
    for batch in _batches(values):
        calls = [child.call(v) for v in batch]
        for call, items in zip(calls, client.get_many(calls, client.concurrency)):
            for item in items:
                yield item, call.inject


def _with_extended(stream, plan: ScanPlan, client):
    # Each row leaves as soon as its own details are in: get_many keeps only `concurrency`
    # requests ahead of the rows taken, so a scan PostgreSQL stops early (its own LIMIT) does not
    # pay for the rest of the batch.
    extended = plan.extended
    key_path = path_of(extended.key)
    for batch in _batches(stream):
        keys = [dig(item, key_path) for item, _ in batch]
        details = iter(client.get_many([extended.call(k) for k in keys if k is not None], client.concurrency))
        for (item, inject), key in zip(batch, keys):
            found = next(details) if key is not None else None
            yield ({**item, **found[0]} if found else item), inject


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
