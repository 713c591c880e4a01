"""What a scan will do, as data: the API calls, what was pushed, what is left to PostgreSQL.

The same ScanPlan object drives `engine.execute` and prints EXPLAIN's lines, so EXPLAIN shows
exactly the calls that run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import quote

from intercom_fdw.api_request import ApiRequest, UnaddressableId, bind_path
from intercom_fdw.planning.partition import PartitionedSearch
from intercom_fdw.planning.quals import Parameter
from intercom_fdw.spec import Endpoint


@dataclass(frozen=True)
class ApiCall(ApiRequest):
    """One logical request (the client pages it), plus what the rows do not carry themselves:
    `inject` holds column values such as a child row's parent key.
    """

    inject: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.max_items == 0:
            return f"{self.method} {self.path}: not sent (the value cannot be an Intercom id)"
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        paging = "" if self.paging in ("none", "unpaged") else f" ({self.paging} paging"
        if paging:
            paging += f", per_page {self.per_page})" if self.per_page else ")"
        # A parameter's placeholder (EXPLAIN of a parameterized scan) is shown as itself, not encoded.
        path = self.path.replace(quote(Parameter(), safe=""), Parameter())
        return f"{self.method} {path}{'?' + query if query else ''}{paging}"


def call_for(endpoint: Endpoint, path_values: Mapping[str, str] = None, params: Mapping[str, Any] = None,
             body=None, max_items=None, allow_404=False, inject=None, stand_in=None) -> ApiCall:
    """An ApiCall from an endpoint template: fills {placeholders}, sizes pages to the row limit.
    stand_in: the object's LimitedList, which its scroll may read instead (ApiRequest.stand_in).

    A read that finds nothing on a 404 (allow_404) with a value that cannot be an id ('..')
    reads nothing and sends nothing (max_items 0), which is what Intercom would answer for it."""
    try:
        path = bind_path(endpoint.path, path_values or {})
    except UnaddressableId:
        if not allow_404:
            raise
        path, max_items = endpoint.path, 0
    per_page = endpoint.per_page_cap
    if per_page and max_items:
        per_page = min(per_page, max(max_items, 1))
    return ApiCall(
        method=endpoint.method, path=path, params={**endpoint.params, **(params or {})}, body=body,
        paging=endpoint.paging, items_key=endpoint.items_key, per_page=per_page, max_items=max_items,
        allow_404=allow_404, inject=dict(inject or {}), reach=endpoint.reach,
        stand_in=(call_for(stand_in.endpoint), stand_in.max_rows) if stand_in else None,
    )


@dataclass(frozen=True)
class ChildCalls:
    """Calls made once per parent value; the values come from a scan of the parent table."""

    endpoint: Endpoint
    column: str
    path_param: Optional[str]
    query_param: Optional[str]
    parent_plan: "ScanPlan"
    parent_field: str
    embedded: Optional[str] = None  # children read from each parent object, no call per parent

    def call(self, value) -> ApiCall:
        return child_call(self.endpoint, self.column, self.path_param, self.query_param, value)


def child_call(endpoint: Endpoint, column: str, path_param, query_param, value, max_items=None) -> ApiCall:
    return call_for(
        endpoint,
        path_values={path_param: value} if path_param else None,
        params={query_param: value} if query_param else None,
        max_items=max_items, allow_404=True, inject={column: value},
    )


@dataclass(frozen=True)
class ExtendedRequests:
    """Per-row requests for columns the list leaves out (merged over the row before shaping)."""

    endpoint: Endpoint
    key: str
    columns: Tuple[str, ...]

    def call(self, key_value) -> ApiCall:
        return call_for(self.endpoint, {"id": key_value}, allow_404=True)


@dataclass(frozen=True)
class ScanPlan:
    table: str
    strategy: str
    calls: Tuple[ApiCall, ...] = ()
    child_calls: Optional[ChildCalls] = None
    extended: Optional[ExtendedRequests] = None
    pushed: Tuple[str, ...] = ()
    notes: Tuple[str, ...] = ()
    sort_locally: Tuple[Tuple[str, bool], ...] = ()  # (column, descending)
    # Column values every row must have although no qual asks for them (a ticket-type table's
    # ticket_type_id): PostgreSQL cannot re-check a table option, so the engine does.
    required_values: Tuple[Tuple[str, Any], ...] = ()
    # MemberFilter columns the query fixes: (column, path of the embedded list, key, wanted ids).
    # The engine gives each row the first wanted id its list holds (NULL otherwise), whatever
    # the route, so PostgreSQL's re-check keeps the same rows with and without pushdown.
    member_values: Tuple[Tuple[str, str, str, Tuple[str, ...]], ...] = ()
    # Several calls may return the same object (companies?tag_id=a and ?tag_id=b both list a
    # company carrying a and b): the engine passes each value of this field once.
    distinct_key: Optional[str] = None
    row_limit: Optional[int] = None  # the API stops after this many rows (every qual applied exactly)
    # LIMIT/OFFSET that PostgreSQL handed over (multicorn2 pushes them only for scans without WHERE
    # and then drops its own Limit node): the engine applies them to the rows it returns.
    limit: Optional[int] = None
    offset: int = 0
    expected_calls: str = "1"
    estimated_rows: int = 1000
    # Columns whose value is a parameter (EXPLAIN of a parameterized scan): the calls are per execution.
    parameters: Tuple[str, ...] = ()
    # The one search call is read as windows of a time field, concurrently (planning/partition.py).
    partitions: Optional[PartitionedSearch] = None
    # PostgreSQL was told the rows come in its ORDER BY (the API sorts): the engine keeps the API's
    # order; otherwise rows may leave in any order (per-row requests are yielded as they complete).
    in_order: bool = False

    def explain(self, verbose: bool = False):
        """EXPLAIN's lines for this plan (VERBOSE adds request bodies)."""
        lines = [f"Intercom {self.table}: {self.strategy}"]
        if self.child_calls:
            lines += [f"  parent {line}" for line in self.child_calls.parent_plan.explain(verbose)[1:]]
            endpoint = self.child_calls.endpoint
            if self.child_calls.embedded:
                lines.append(f"Rows embedded in each parent at {self.child_calls.embedded}")
            else:
                lines.append(f"Per {self.child_calls.column}: {endpoint.method} {endpoint.path}")
        shown = self.calls[:5]
        if not self.calls and not self.child_calls and not self.partitions:
            lines.append("Request: none" + (" (LIMIT 0)" if self.row_limit == 0 else ""))
        for call in shown:
            lines.append(f"Request: {call.describe()}")
            if verbose and call.body is not None:
                lines.append(f"Request body: {json.dumps(call.body, sort_keys=True)}")
        if len(self.calls) > len(shown):
            lines.append(f"... and {len(self.calls) - len(shown)} more requests like these (concurrent)")
        if self.partitions:
            lines += _partition_lines(self.partitions)
        lines.append("Pushed filters: " + (" AND ".join(self.pushed) if self.pushed else "none"))
        if self.extended:
            lines.append(f"Extended requests: yes, one {self.extended.endpoint.method} {self.extended.endpoint.path} "
                         f"per row for {', '.join(self.extended.columns)}")
        else:
            lines.append("Extended requests: no")
        if self.row_limit is not None:
            lines.append(f"Stops reading after {self.row_limit} rows")
        for column, members, key, values in self.member_values:
            lines.append(f"{column} is {' or '.join(repr(v) for v in values)} where the row's {members} "
                         f"holds that {key}, else NULL")
        if self.sort_locally:
            lines.append("Sorted locally by " + ", ".join(f"{c}{' DESC' if d else ''}" for c, d in self.sort_locally))
        if self.parameters:
            lines.append(f"Expected API calls: {self.expected_calls} per execution; $param is the value of "
                         f"{', '.join(self.parameters)} that each execution gets (a nested loop executes the "
                         "scan once per outer row)")
        else:
            lines.append(f"Expected API calls: {self.expected_calls}")
        lines += [f"Note: {note}" for note in self.notes]
        return lines


def _partition_lines(p: PartitionedSearch):
    margin = ("widened by 2 days each side (contact search compares dates by calendar day in the workspace's time "
              "zone)" if p.partitioning.calendar_days else "widened by 1 second each side")
    return [
        f"Partitions: {p.partitioning.column} windows over {p.window.describe()}, up to {p.read_concurrency} read "
        f"concurrently (option read_concurrency); a window whose first page counts more than {p.split_rows} rows "
        f"(total_count) is split into parts cut evenly between the earliest {p.partitioning.column} of that page "
        f"and its end (the open last window at the plan's now)",
        f"Each window: {p.partitioning.field} bounds in the search {margin}; rows outside the window's exact "
        f"bounds are dropped, so each row comes from one window",
    ]
