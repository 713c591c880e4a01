"""plan_scan: from (conditions, columns, sort keys, limit) to a ScanPlan. Pure: no I/O, no clock.

Routes, most specific first: get by id; one call per parent value; the required filter (events);
list parameters; the search API (sorted when the sort key is one of the search's orderings); an
ordered list or a sorted match-everything search; the limited list for a LIMIT (companies: no
scroll for a few rows); the full scan (list, match-everything search, fixed fan-out or one call
per row of the parent table). A route consumes some conditions;
whatever it does not consume exactly stays with PostgreSQL, which re-checks every qual anyway.
LIMIT is pushed only when every condition is consumed exactly, so the API never returns fewer
rows than the query needs.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, List, Mapping, Optional, Sequence, Tuple

from intercom_fdw.errors import ConfigurationError
from intercom_fdw.planning.partition import (
    PAGES_PER_WINDOW, PartitionedSearch, first_window, placeholder_filters, wanted_windows,
)
from intercom_fdw.planning.plan import ApiCall, ChildCalls, ExtendedRequests, ScanPlan, call_for, child_call
from intercom_fdw.planning.quals import Condition, Parameter, has_parameter, narrowest
from intercom_fdw.planning.search import build_query, search_filters
from intercom_fdw.shaping import FIRST_INSTANT, LAST_INSTANT
from intercom_fdw.spec import ObjectSpec

MAX_CONCURRENT_LOOKUPS = 500  # ids or parent values beyond this: a scan is cheaper than lookups


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False
    # NULLS FIRST? None: PostgreSQL's default for the direction (NULLS FIRST only when DESC).
    nulls_first: Optional[bool] = None


# Reads in flight (a partitioned scan's windows, per-row and per-id requests; option read_concurrency):
# Intercom's default limit (10,000 calls a minute, 166 a second) times a call's latency, up to 190 ms.
# More in flight than the budget allows only wait for it (client/shared_budget.py); per-row reads start
# narrower and widen as PostgreSQL takes their rows (client/http.py). `concurrency` (bulk writes) stays
# at 8, the careful figure for writes. Here because planning shows it and imports no client; options.py
# reads it.
DEFAULT_READ_CONCURRENCY = 32


@dataclass(frozen=True)
class ScanOptions:
    pushdown: bool = True
    suppress_extended_requests: bool = False
    table_options: Mapping[str, str] = field(default_factory=dict)
    now: int = 0  # UNIX seconds, for default time windows (passed in: planning reads no clock)
    row_estimate: Optional[int] = None
    # strict: a missing required filter is an error (execution); lenient for sizing and EXPLAIN.
    strict: bool = True
    # "sequential" (the list, or one search, paged in order) or "partitioned" (searches read as
    # concurrent created_at windows, where the spec declares partitioning); options.SCAN_MODES.
    scan_mode: str = "sequential"
    read_concurrency: int = DEFAULT_READ_CONCURRENCY  # option read_concurrency: windows read at once (EXPLAIN shows it)
    # count_key -> the table's total_count a recent whole-table read reported (client/totals.py), or
    # None: the row estimate's base, before the row_estimate option and the spec's guess.
    table_counts: Optional[Callable[[str], Optional[int]]] = None


PARTITION_LAG_NOTE = ("partitioned: read from the search index, which lags the list by minutes; objects created "
                      "in the last minutes may be missing (scan_mode 'sequential' reads the list where there is one)")


def supported_sortkeys(spec: ObjectSpec, sortkeys: Sequence[SortKey], pushdown: bool = True) -> List[SortKey]:
    """The sort keys the API can deliver in order: one key matching one of the spec's orderings,
    with NULLs where PostgreSQL puts them by default (where the engine's local sort puts them too)."""
    if not pushdown or len(sortkeys) != 1:
        return []
    key = sortkeys[0]
    if key.nulls_first is not None and key.nulls_first != key.descending:
        return []
    if any(o.column == key.column and o.descending == key.descending for o in spec.orderings):
        return [key]
    return []


# What one call per execution of a parameterized scan costs, in rows. multicorn prices a scan at
# rows * width (its rows, the path key's): a lookup priced at its one row cost what one row of a full
# scan costs, so PostgreSQL joined two foreign tables (conversations to contacts on id, a self-join)
# with a GET per outer row, 121 calls where reading each table once takes 3. A call is priced as the
# page of rows a list call brings (Intercom's largest per_page), so a nested loop wins where its calls
# are fewer than the full scan's pages. (Its EXPLAIN shows these rows for each execution.) Not for a
# table whose full scan is a scroll: one may be open per workspace, so a query reading such a table
# twice (a self-join) runs only with one side looked up per row.
ROWS_PER_CALL = 150


def _rows_per_lookup(spec: ObjectSpec) -> int:
    return 1 if spec.list is not None and spec.list.paging == "scroll" else ROWS_PER_CALL


def path_keys(spec: ObjectSpec, pushdown: bool = True) -> List[Tuple[Tuple[str, ...], int]]:
    """Columns whose `=` value makes a cheap request: parameterized nested loops use them.

    Filter columns (spec.MemberFilter) are keys even without pushdown: they have a value only
    when their qual reaches the scan, so a join on them is right only as a parameterized loop.
    """
    keys = []
    per_call = _rows_per_lookup(spec)
    if pushdown and spec.get:
        keys.append((("id",), per_call))
    if pushdown and spec.parent and not spec.parent.values:
        keys.append(((spec.parent.column,), spec.row_estimate))
    if spec.required:
        keys += [((column,), spec.row_estimate) for column in spec.required.params]
    if pushdown:
        keys += [((f.column,), per_call) for f in spec.list_filters]
        keys += [((f.column,), per_call) for f in spec.search_fields
                 if f.kind in ("string", "id", "member") and f.column != "id"]
    keys += [((m.column,), 1) for m in spec.member_filters if ((m.column,), 1) not in keys]
    present = set(spec.column_names)  # a hand-written table may leave key columns out
    return [(columns, rows) for columns, rows in keys if set(columns) <= present]


def plan_scan(spec: ObjectSpec, conditions: Iterable[Condition], columns: Iterable[str],
              sortkeys: Sequence[SortKey] = (), limit: Optional[int] = None, offset: Optional[int] = None,
              options: ScanOptions = ScanOptions()) -> ScanPlan:
    conditions = [c for c in conditions if spec.column(c.column) is not None]
    columns = set(columns)
    wanted_rows = None if limit is None else limit + (offset or 0)
    route = _Route.choose(spec, conditions, sortkeys, options, wanted_rows)
    plan = route.plan
    exact = all(c in route.exact for c in conditions)
    in_order = bool(sortkeys) and route.ordered
    sort_locally = tuple((k.column, k.descending) for k in sortkeys) if sortkeys and not in_order else ()
    row_limit = wanted_rows if (wanted_rows is not None and exact and not sort_locally
                                and not plan.required_values) else None
    extended = _extended(spec, columns, route, options)
    key = table_count_key(spec, options.table_options)
    counted = options.table_counts(key) if options.table_counts else None
    if _reads_whole_table(route) and len(plan.calls) == 1:
        plan = replace(plan, calls=(replace(plan.calls[0], count_key=key),))
    estimate = _estimate(spec, route, options, row_limit, counted)
    unbound = _unbound_filter_columns(spec, conditions, columns)
    notes = plan.notes + _omission_notes(spec, route) + (
        spec.search_notes if _sends_search(plan) and not plan.partitions else ())
    if unbound and route.kind not in ("lookup", "nothing"):
        notes += (f"{', '.join(unbound)} NULL unless a WHERE {unbound[0]} = ... or a join's value reaches the scan "
                  f"(the row estimate is raised so that a join on {unbound[0]} runs as a parameterized nested loop)",)
    return ScanPlan(
        table=spec.table, strategy=plan.strategy, calls=_limit_calls(plan.calls, row_limit),
        child_calls=plan.child_calls, extended=extended,
        pushed=tuple(_describe(c, spec) for c in route.pushed) + plan.pushed, notes=notes,
        sort_locally=sort_locally, row_limit=row_limit, required_values=plan.required_values,
        member_values=_member_values(spec, conditions), distinct_key=plan.distinct_key,
        limit=limit, offset=offset or 0,
        expected_calls=_expected_calls(spec, route, row_limit, extended, estimate),
        estimated_rows=UNBOUND_FILTER_ESTIMATE if unbound and route.kind not in ("lookup", "nothing") else estimate,
        parameters=tuple(dict.fromkeys(c.column for c in conditions if has_parameter(c.value))),
        partitions=plan.partitions, in_order=in_order,
    )


def _omission_notes(spec: ObjectSpec, route: "_Route") -> Tuple[str, ...]:
    omits = spec.list_omits
    if omits is None or {c.column for c in route.pushed if c.op in ("=", "in")} & set(omits.found_by):
        return ()
    return (omits.note,)


def _sends_search(plan: ScanPlan) -> bool:
    return any(call.paging == "search" for call in plan.calls)


# A scan reading a filter column no qual binds: priced out like a scan missing its required
# filter, so that PostgreSQL joins on that column through the parameterized path (which binds it)
# rather than a hash or merge join over NULLs.
UNBOUND_FILTER_ESTIMATE = 10 ** 9


def _unbound_filter_columns(spec, conditions, columns):
    bound = {c.column for c in conditions if c.op in ("=", "in")}
    return [m.column for m in spec.member_filters if m.column in columns and m.column not in bound]


def _member_values(spec, conditions):
    found = []
    for member in spec.member_filters:
        values, _ = _equal_values(conditions, member.column)
        if values is not None:
            found.append((member.column, member.members, member.key, tuple(values)))
    return tuple(found)


def _limit_calls(calls: Tuple[ApiCall, ...], row_limit: Optional[int]) -> Tuple[ApiCall, ...]:
    if row_limit == 0:
        return ()  # LIMIT 0 (every qual applied exactly): nothing to read, nothing sent
    if row_limit is None or len(calls) != 1 or calls[0].max_items is not None:
        return calls
    call = calls[0]
    per_page = min(call.per_page, max(row_limit, 1)) if call.per_page else None
    return (replace(call, max_items=row_limit, per_page=per_page),)


class _Route:
    """The chosen way to read: the plan skeleton and which conditions it consumed (exactly or widened)."""

    def __init__(self, plan: ScanPlan, pushed=(), exact=(), ordered=False, kind="list", applies_table_values=False,
                 rows_per_call=None):
        self.plan, self.pushed, self.exact, self.ordered, self.kind = plan, list(pushed), list(exact), ordered, kind
        # What each call returns at most, when the route knows it (a get by id: one row).
        self.rows_per_call = rows_per_call
        # The request itself filters on the table option's values (a ticket-type table's search):
        # the engine need not re-check them, so a LIMIT can be pushed as for any exact filter.
        self.applies_table_values = applies_table_values

    @classmethod
    def choose(cls, spec, conditions, sortkeys, options, wanted_rows=None) -> "_Route":
        # (column, value) a table option fixes (a ticket-type table's ticket_type_id)
        table_values = tuple((column, options.table_options[option])
                             for option, column in spec.table_filters.items() if options.table_options.get(option))
        routes = [lambda: cls._matching_nothing(spec, conditions),
                  lambda: cls._by_required_filter(spec, conditions, options)]
        if options.pushdown:
            routes = [
                routes[0],
                lambda: cls._by_id(spec, conditions),
                lambda: cls._by_parent_value(spec, conditions),
                *routes,
                lambda: cls._by_list_filter(spec, conditions),
                lambda: cls._by_search(spec, conditions, table_values, sortkeys),
                lambda: cls._ordered(spec, sortkeys, table_values),
                lambda: cls._limited(spec, conditions, sortkeys, wanted_rows),
            ]
        route = next((r for r in (make() for make in routes) if r), None)
        route = route or cls._full_scan(spec, conditions, options, table_values)
        if cls._partitionable(spec, route, options, wanted_rows):
            route = cls._partitioned(spec, conditions, table_values, options)
        if not route.applies_table_values:
            route.plan = replace(route.plan, required_values=table_values)
        return route

    @staticmethod
    def _partitionable(spec, route, options, wanted_rows) -> bool:
        """A full scan or an unsorted search without LIMIT, where the spec can be read as windows.
        (A LIMIT or an order reads one sequential search: windows would read more than it needs.)"""
        if options.scan_mode != "partitioned" or not options.pushdown or wanted_rows is not None:
            return False
        if not (spec.partitioning and spec.search and spec.match_all is not None) or route.ordered:
            return False
        full_list = route.kind == "list" and route.plan.strategy == "full scan"
        return full_list or route.kind == "search"

    @classmethod
    def _partitioned(cls, spec, conditions, table_values, options):
        part = spec.partitioning
        window, bounded = first_window(part, conditions)
        candidates = []
        for condition in conditions:
            field = spec.search_field(condition.column)
            if field and condition not in bounded:
                filters = search_filters(condition, field)
                if filters:
                    candidates.append((condition, filters))
        query, pushed = build_query(candidates, _fixed_filters(spec, table_values) + placeholder_filters(part))
        call = call_for(spec.search, body={"query": query})
        partitions = PartitionedSearch(part, window, options.now, PAGES_PER_WINDOW * (call.per_page or 50),
                                       options.read_concurrency)
        plan = ScanPlan(spec.table, f"partitioned search ({part.column} windows, read concurrently)", (call,),
                        pushed=_table_filter_text(table_values), notes=(PARTITION_LAG_NOTE,), partitions=partitions)
        return cls(plan, bounded + pushed, (), kind="search", applies_table_values=True)

    # -- routes ---------------------------------------------------------------------------------
    @classmethod
    def _matching_nothing(cls, spec, conditions):
        """No row, and no call, when a condition matches no row: a comparison with NULL (quals.py:
        `never`), `IN` of an empty array, and `col IS NULL` on a column no row leaves NULL
        (spec.never_null). The last is also how multicorn2 3.2 hands over an outer row's NULL join
        value (it passes `key = NULL` as it passes `key IS NULL`). Each used to read the whole table
        for PostgreSQL to filter to nothing (a child table: a call per parent), or, on a table that
        needs a filter (tag_contacts), to refuse the query."""
        for condition in conditions:
            if condition.op == "never":
                what = f"{condition}: a comparison with NULL is never true"
            elif condition.op == "is null" and condition.column in spec.never_null:
                what = f"{condition.column} is NULL"
            elif condition.op == "in" and not condition.value:
                what = f"{condition.column} = ANY of an empty array"
            else:
                continue
            return cls(ScanPlan(spec.table, f"no row can match ({what})", ()), [condition], [condition],
                       kind="nothing")
        return None

    @classmethod
    def _by_id(cls, spec, conditions):
        if not spec.get:
            return None
        ids, used = _equal_values(conditions, "id")
        if ids is None or len(ids) > MAX_CONCURRENT_LOOKUPS:
            return None
        calls = tuple(call_for(spec.get, {"id": v}, allow_404=True) for v in ids)
        return cls(ScanPlan(spec.table, "get by id" + (" (concurrent)" if len(calls) > 1 else ""), calls),
                   used, used, kind="lookup", rows_per_call=1)

    @classmethod
    def _by_parent_value(cls, spec, conditions):
        parent = spec.parent
        if not parent:
            return None
        values, used = _equal_values(conditions, parent.column)
        if values is None or len(values) > MAX_CONCURRENT_LOOKUPS:
            return None
        if parent.values:
            # The API takes only these values (an enum: data attributes' model); any other matches
            # no row, and asking for it would be an API error (400) instead of SQL's empty result.
            values = [v for v in values if v in parent.values]
        calls = tuple(child_call(spec.list, parent.column, parent.path_param, parent.query_param, v) for v in values)
        strategy = f"one request per {parent.column}" + (" (concurrent)" if len(calls) > 1 else "")
        return cls(ScanPlan(spec.table, strategy, calls), used, used, kind="lookup")

    @classmethod
    def _by_required_filter(cls, spec, conditions, options):
        required = spec.required
        if not required:
            return None
        for column, param in required.params.items():
            values, used = _equal_values(conditions, column)
            if values is not None:
                # An unknown contact is a 404: no rows, as SQL expects, not an error. An empty value
                # names no contact (Intercom would answer 400 for the missing parameter): no call.
                if required.search:
                    calls = tuple(call_for(spec.search, body={"query": {"field": param, "operator": "=", "value": v}},
                                           inject={column: v}, allow_404=True)
                                  for v in values if v != "")
                    strategy = f"one search per {column}"
                else:
                    calls = tuple(call_for(spec.list, params={param: v}, inject={column: v}, allow_404=True)
                                  for v in values if v != "")
                    strategy = f"one request per {column}"
                return cls(ScanPlan(spec.table, strategy, calls), used, used, kind="lookup")
        if options.strict:
            nulled = [c.column for c in conditions if c.op == "is null" and c.column in required.params]
            if nulled:
                # multicorn passes a join's NULL value as `IS NULL`: the join names no contact for that row
                raise ConfigurationError(
                    f"a query on {spec.table} needs a filter on one of: {', '.join(required.params)}; "
                    f"{nulled[0]} is NULL here (IS NULL, or a joined row's NULL value), which names none",
                    hint=f"Keep the NULLs out of the join (WHERE <joined column> IS NOT NULL on the other "
                         f"side), or {required.hint[0].lower()}{required.hint[1:]}",
                )
            raise ConfigurationError(
                f"a query on {spec.table} needs a filter on one of: {', '.join(required.params)}",
                hint=required.hint,
            )
        return cls(ScanPlan(spec.table, "needs a filter", (), notes=(required.hint,)), kind="unanswerable")

    @classmethod
    def _by_list_filter(cls, spec, conditions):
        for list_filter in spec.list_filters:
            values, used = _equal_values(conditions, list_filter.column)
            # An empty value is no filter to Intercom (GET /companies?name= lists every company):
            # only a full scan finds the rows whose value is ''.
            if values is not None and len(values) <= MAX_CONCURRENT_LOOKUPS and "" not in values:
                endpoint = list_filter.endpoint or spec.list
                calls = tuple(call_for(endpoint, params={list_filter.param: v}, allow_404=True) for v in values)
                exact = used if list_filter.exact else []
                strategy = "filtered list" + (" per value (concurrent)" if len(calls) > 1 else "")
                # Values can reach one object twice: a company holds several tags, and Intercom may
                # match names other than SQL does (case): each object is returned once.
                plan = ScanPlan(spec.table, strategy, calls, distinct_key="id" if len(calls) > 1 else None)
                return cls(plan, used, exact, kind="filtered")
        return None

    @classmethod
    def _by_search(cls, spec, conditions, table_values, sortkeys):
        if not spec.search:
            return None
        candidates = []
        for condition in conditions:
            field = spec.search_field(condition.column)
            if field:
                filters = search_filters(condition, field)
                if filters:
                    candidates.append((condition, filters))
        if not candidates:
            return None
        query, pushed = build_query(candidates, _fixed_filters(spec, table_values))
        return cls._search(spec, query, "search", table_values, _search_ordering(spec, sortkeys), pushed)

    @classmethod
    def _search(cls, spec, query, strategy, table_values, ordering=None, pushed=()):
        body = {"query": query, **({"sort": dict(ordering.sort_body)} if ordering else {})}
        if ordering:
            strategy += f", sorted by {ordering.column}{' DESC' if ordering.descending else ''}"
        plan = ScanPlan(spec.table, strategy, (call_for(spec.search, body=body),), pushed=_table_filter_text(table_values),
                        notes=_caveats(ordering))
        return cls(plan, pushed, (), ordered=ordering is not None, kind="search", applies_table_values=True)

    @classmethod
    def _ordered(cls, spec, sortkeys, table_values):
        ordering = _search_ordering(spec, sortkeys)
        if ordering:
            return cls._search(spec, _match_all_query(spec, table_values), "search matching everything",
                               table_values, ordering)
        for key in supported_sortkeys(spec, sortkeys):
            ordering = next(o for o in spec.orderings if o.column == key.column and o.descending == key.descending)
            endpoint = ordering.endpoint or spec.list
            strategy = f"list in API order ({key.column}{' DESC' if key.descending else ''})"
            return cls(ScanPlan(spec.table, strategy, (call_for(endpoint),), notes=_caveats(ordering)), ordered=True)
        return None

    @classmethod
    def _limited(cls, spec, conditions, sortkeys, wanted_rows):
        """A scan that needs only its first rows (LIMIT, nothing left to filter or sort) reads the
        spec's limited list, when it has one that reaches that far."""
        limited = spec.limited_list
        if not limited or wanted_rows is None or wanted_rows > limited.max_rows or conditions or sortkeys:
            return None
        return cls(ScanPlan(spec.table, f"list of the first {wanted_rows} rows", (call_for(limited.endpoint),)))

    @classmethod
    def _full_scan(cls, spec, conditions, options, table_values):
        if spec.list and spec.window:
            return cls._windowed(spec, conditions, options)
        if spec.parent and spec.parent.values:
            parent = spec.parent
            calls = tuple(child_call(spec.list, parent.column, parent.path_param, parent.query_param, v)
                          for v in parent.values)
            return cls(ScanPlan(spec.table, f"one request per {parent.column}", calls), kind="fanout")
        if spec.parent:
            return cls._per_parent_row(spec, options)
        if spec.list:
            return cls(ScanPlan(spec.table, "full scan", (call_for(spec.list, stand_in=spec.limited_list),)))
        if spec.search and spec.match_all is not None:
            return cls._search(spec, _match_all_query(spec, table_values), "full scan (search matching everything)",
                               table_values)
        raise ConfigurationError(f"{spec.table} cannot be scanned without a filter",
                                 hint="Add WHERE id = '...'")

    @classmethod
    def _windowed(cls, spec, conditions, options):
        window = spec.window
        afters, befores = [], []
        pushed = []
        if options.pushdown:
            for condition in conditions:
                value = condition.value
                if condition.column != window.column or not isinstance(value, (int, Parameter)):
                    continue
                # (EXPLAIN of a parameter, a generic plan's $1: the request names it, a second wider)
                if condition.op in (">", ">=", "="):
                    afters.append(value if isinstance(value, Parameter) else value - 1)
                    pushed.append(condition)
                if condition.op in ("<", "<=", "="):
                    befores.append(value if isinstance(value, Parameter) else value + 1)
                    pushed.append(condition)
        after, before = narrowest(afters, max), narrowest(befores, min)
        notes = ()
        if after is None:
            # The API needs a lower bound; any default later than the epoch would drop rows that
            # SQL keeps (`created_at < '2020-01-01'` read nothing with a 30-day default).
            after = 0
            notes = (f"no lower bound on {window.column}: reading the whole log "
                     f"(add WHERE {window.column} >= ... to read less)",)
        params = {window.after_param: str(after)}
        if before is not None:
            params[window.before_param] = str(before)
        plan = ScanPlan(spec.table, "time window", (call_for(spec.list, params=params),), notes=notes)
        return cls(plan, pushed, ())

    @classmethod
    def _per_parent_row(cls, spec, options):
        parent = spec.parent
        parent_plan = plan_scan(parent.parent_spec, (), [parent.parent_column], options=ScanOptions(
            pushdown=options.pushdown, suppress_extended_requests=True, now=options.now, strict=options.strict))
        child = ChildCalls(spec.list, parent.column, parent.path_param, parent.query_param, parent_plan,
                           parent.parent_column, parent.embedded)
        plan = ScanPlan(spec.table, f"one request per row of {parent.parent}", (), child_calls=child,
                        notes=(f"add WHERE {parent.column} = ... (or join on it) to avoid reading every "
                               f"{parent.parent} row",) + ((parent.scan_note,) if parent.scan_note else ()))
        return cls(plan, kind="children")


def _describe(condition: Condition, spec: ObjectSpec) -> str:
    """The condition as SQL, timestamps shown as ISO text (the planner holds UNIX seconds)."""
    column = spec.column(condition.column)
    if column is not None and column.convert in ("unix_timestamp", "unix_date") and isinstance(condition.value, int) \
            and FIRST_INSTANT <= condition.value <= LAST_INSTANT:  # (ISO text holds years 1 to 9999 only)
        when = dt.datetime.fromtimestamp(condition.value, dt.timezone.utc).isoformat()
        return f"{condition.column} {condition.op} '{when}'"
    return str(condition)


def _search_ordering(spec, sortkeys):
    """The search ordering that gives the single sort key, if the spec declares one."""
    if len(sortkeys) != 1:
        return None
    key = sortkeys[0]
    return next((o for o in spec.orderings
                 if o.search_sort and o.column == key.column and o.descending == key.descending), None)


def _caveats(ordering) -> Tuple[str, ...]:
    return (ordering.caveat,) if ordering and ordering.caveat else ()


def _match_all_query(spec, table_values):
    """A search query for every row of the table: its table options' filters, or the spec's match_all."""
    fixed = _fixed_filters(spec, table_values)
    return fixed[0] if len(fixed) == 1 else ({"operator": "AND", "value": fixed} if fixed else dict(spec.match_all))


def _fixed_filters(spec, table_values):
    return [{"field": spec.search_field(column).field, "operator": "=", "value": value}
            for column, value in table_values]


def _table_filter_text(table_values) -> Tuple[str, ...]:
    return tuple(f"{column} = '{value}' (table option)" for column, value in table_values)


def _equal_values(conditions, column) -> Tuple[Optional[list], list]:
    """Values the column must take (from = and IN, intersected), and the conditions that say so."""
    values, used = None, []
    for condition in conditions:
        if condition.column != column or condition.op not in ("=", "in"):
            continue
        these = [condition.value] if condition.op == "=" else list(condition.value)
        these = [v if isinstance(v, str) else str(v) for v in these]
        values = these if values is None else [v for v in values if v in these]
        used.append(condition)
    if values is not None:
        values = list(dict.fromkeys(values))
    return values, used


def _extended(spec, columns, route, options) -> Optional[ExtendedRequests]:
    extended = spec.extended
    if not extended or options.suppress_extended_requests or not columns & set(extended.columns):
        return None
    if route.kind == "lookup" and spec.get and spec.get.path == extended.endpoint.path:
        return None  # the by-id response already has the extended fields
    return ExtendedRequests(extended.endpoint, extended.key, extended.columns)


def table_count_key(spec, table_options: Mapping[str, str]) -> str:
    """The key of a table's count (client/totals.py): the object's table and the table options
    that choose its rows (a ticket-type table's ticket_type_id)."""
    fixed = sorted((option, table_options[option]) for option in spec.table_filters if table_options.get(option))
    return spec.table + "".join(f";{option}={value}" for option, value in fixed)


def _reads_whole_table(route) -> bool:
    """The route's one call returns every row of the table (no filter from SQL, no local check of
    table options): its total_count is the table's."""
    if route.pushed or route.plan.required_values or route.plan.child_calls:
        return False
    return (route.kind == "list" and route.plan.strategy == "full scan") or route.kind == "search"


def _estimate(spec, route, options, row_limit, counted=None) -> int:
    # A row_estimate option is the user's word; a count Intercom gave lately beats the spec's guess.
    base = options.row_estimate or counted or spec.row_estimate
    plan = route.plan
    if route.kind == "unanswerable":
        # Fails at execution: priced out, so that a join supplying the filter (a parameterized
        # path) always wins.
        return 10 ** 9
    if route.kind == "nothing":
        return 1  # (PostgreSQL's least estimate)
    if route.kind == "lookup":
        per_call = route.rows_per_call or base
        estimate = max(1, len(plan.calls)) * per_call
    elif route.kind == "children":
        # every parent row's children: far more than one parent's, which makes PostgreSQL prefer
        # a parameterized nested loop whenever the parent key comes from a join
        estimate = plan.child_calls.parent_plan.estimated_rows * base
    elif route.kind == "filtered":
        # a list parameter (company_id, name, tag_id) keeps few rows per value, as path_keys says
        estimate = len(plan.calls) * max(1, base // 1000)
    elif route.kind == "search" and route.pushed:
        # An equality on a searchable field (email, external_id) is nearly unique; anything else
        # keeps about a tenth of the rows per filter.
        divisor = 1
        for condition in route.pushed:
            divisor *= 1000 if condition.op == "=" else 10
        estimate = max(1, base // divisor)
    else:
        estimate = base
    return min(estimate, row_limit) if row_limit is not None else estimate


def _expected_calls(spec, route, row_limit, extended, estimate) -> str:
    plan = route.plan
    if row_limit == 0:
        return "0"  # LIMIT 0: the engine stops before the first call
    if plan.child_calls and plan.child_calls.embedded:
        text = plan.child_calls.parent_plan.expected_calls
    elif plan.child_calls:
        text = f"1 per {plan.child_calls.column} + the {spec.parent.parent} scan"
    else:
        total = 0
        for call in plan.calls:
            if call.max_items == 0:
                continue  # not sent: its value cannot be an Intercom id (call_for)
            if call.paging in ("none", "unpaged"):
                total += 1
            else:
                rows = row_limit if row_limit is not None else (estimate if len(plan.calls) == 1 else spec.row_estimate)
                total += max(1, math.ceil(rows / (call.per_page or 50)))
        known = row_limit is not None or all(c.paging in ("none", "unpaged") for c in plan.calls)
        text = str(total) if known else f"about {total}"
        if plan.partitions:
            partitions = plan.partitions
            windows = 1
            if estimate > partitions.split_rows:  # as split() cuts it, plus the open end's window after `now`
                windows = wanted_windows(estimate, True, partitions) + (partitions.window.end is None)
            if windows > 1:
                text = f"about {total + windows + 1} ({total} pages, one more first page per window a split makes)"
    if extended:
        text += " + 1 per row (extended fields)"
    return text
