"""Partitioned search planning (pure): windows cover every value exactly once, search bounds hold
each window, and the planner picks partitioned reads only where they read no more than needed."""
import json
import random

import pytest

from intercom_fdw.objects import spec_for
from intercom_fdw.planning import Condition, ScanOptions, SortKey, plan_scan
from intercom_fdw.planning.partition import (
    DAY, OPEN_END, PartitionedSearch, Window, first_window, search_bounds, split, window_query,
)
from intercom_fdw.planning.search import DATE_MARGIN
from intercom_fdw.spec import Partitioning

NOW = 1_780_000_000
CONTACTS, SECONDS = Partitioning(calendar_days=True), Partitioning()


def plan_for(partitioning, window=Window(), concurrency=8):
    return PartitionedSearch(partitioning, window, NOW, 1500, concurrency)


def owners(windows, value):
    return [w for w in windows if w.holds(value)]


@pytest.mark.parametrize("partitioning", [CONTACTS, SECONDS])
@pytest.mark.parametrize("window", [Window(), Window(NOW - 400 * DAY, None), Window(None, NOW - 3 * DAY),
                                    Window(NOW - 90 * DAY, NOW - 10 * DAY)])
def test_a_split_covers_its_window_exactly_once(partitioning, window):
    rng = random.Random(7)
    for total in (1501, 20_000, 10 ** 6):
        parts = split(window, total, NOW - 700 * DAY, plan_for(partitioning, window))
        assert 1 < len(parts) <= 65  # 64 parts, and for an open end the part after the plan's now
        assert parts[0].start == window.start and parts[-1].end == window.end
        assert all(a.end == b.start for a, b in zip(parts, parts[1:]))
        assert all(p.start is None or p.end is None or p.start < p.end for p in parts)
        if partitioning.calendar_days:
            assert all(p.end % DAY == 0 for p in parts[:-1])
        for value in [rng.randrange(0, OPEN_END) for _ in range(2000)] + [p.start for p in parts if p.start]:
            assert len(owners(parts, value)) == (1 if window.holds(value) else 0)


def test_a_small_window_is_not_split():
    assert split(Window(), 1500, NOW - DAY * 100, plan_for(SECONDS)) == [Window()]
    one_day = Window(NOW - DAY, NOW)
    assert split(one_day, 10 ** 6, NOW - DAY, plan_for(CONTACTS, one_day)) == [one_day]


def test_enough_parts_for_every_worker():
    parts = split(Window(), 6000, NOW - 700 * DAY, plan_for(SECONDS, concurrency=16))
    assert len(parts) >= 20  # 2 per worker, each of at least 2 pages: 6000 rows are 20 parts of 2 pages


@pytest.mark.parametrize("partitioning, concurrency, total, expected", [
    (CONTACTS, 32, 51_000, 32), (SECONDS, 32, 51_000, 64),  # 34 windows of 1,500 wanted: one round (two for
    (CONTACTS, 8, 51_000, 32), (SECONDS, 8, 51_000, 32),    # SECONDS, whose first split gives every worker 2)
    (CONTACTS, 8, 4_000, 8), (SECONDS, 8, 4_000, 16),       # every worker one window (two for SECONDS)
    (CONTACTS, 16, 200_000, 64), (CONTACTS, 5, 30_000, 20),
])
def test_a_split_makes_whole_rounds_of_windows(partitioning, concurrency, total, expected):
    window = Window(NOW - 700 * DAY, NOW - DAY)
    parts = split(window, total, NOW - 700 * DAY, plan_for(partitioning, window, concurrency))
    assert len(parts) == expected


@pytest.mark.parametrize("window", [Window(NOW - 50 * DAY, NOW - 20 * DAY), Window(), Window(5, None)])
def test_search_bounds_hold_the_window(window):
    after, before = search_bounds(CONTACTS, window)
    if window.start is not None:
        assert after == window.start - DATE_MARGIN
    if window.end is not None:
        assert before == window.end + DATE_MARGIN
    after, before = search_bounds(SECONDS, window)
    assert after == (0 if window.start is None else window.start - 1)
    assert before == (OPEN_END if window.end is None else window.end)


def test_window_query_fills_the_placeholders_only():
    plan = plan_scan(spec_for("contacts"), [Condition("email", "like", "%@a.com")], ["id"],
                     options=ScanOptions(scan_mode="partitioned", now=NOW))
    query = window_query(plan.calls[0].body["query"], CONTACTS, Window(1000 * DAY, 1010 * DAY))
    assert query == {"operator": "AND", "value": [
        {"field": "created_at", "operator": ">", "value": 1000 * DAY - DATE_MARGIN},
        {"field": "created_at", "operator": "<", "value": 1010 * DAY + DATE_MARGIN},
        {"field": "email", "operator": "$", "value": "@a.com"}]}


def test_bounds_on_created_at_make_the_first_window_one_second_wide_of_them():
    window, used = first_window(SECONDS, [Condition("created_at", ">", 100), Condition("created_at", "<=", 200),
                                          Condition("email", "=", "x")])
    assert window == Window(100, 201) and len(used) == 2


@pytest.mark.parametrize("partitioning", [CONTACTS, SECONDS])
@pytest.mark.parametrize("op,value", [("<", 253402300799), ("<=", 253402300799), ("=", 253402300799),
                                      (">", -62135596800), (">=", -62135596800), ("=", -62135596800),
                                      (">", OPEN_END + 1), ("<", -2)])
def test_bounds_outside_the_open_ends_leave_the_window_open(partitioning, op, value):
    # Near year 1 or 9999, a bound moved out by DATE_MARGIN would be no date the search can take.
    window, used = first_window(partitioning, [Condition("created_at", op, value)])
    assert window == Window() and used == []
    after, before = search_bounds(partitioning, window)
    assert -62135596800 < after < before < 253402300799


@pytest.mark.parametrize("table", ["contacts", "conversations", "tickets"])
def test_partitioned_only_when_asked_and_useful(table):
    spec = spec_for(table)
    partitioned = ScanOptions(scan_mode="partitioned", now=NOW)
    assert plan_scan(spec, [], ["id"], options=partitioned).partitions is not None
    assert plan_scan(spec, [], ["id"], options=ScanOptions(now=NOW)).partitions is None  # default sequential
    assert plan_scan(spec, [], ["id"], limit=10, options=partitioned).partitions is None
    assert plan_scan(spec, [], ["id"], [SortKey("created_at", True)], options=partitioned).partitions is None
    assert plan_scan(spec, [Condition("id", "=", "x")], ["id"], options=partitioned).partitions is None
    lines = "\n".join(plan_scan(spec, [], ["id"], options=partitioned).explain())
    assert "Partitions: created_at windows" in lines and "may be missing" in lines


def test_ticket_type_tables_keep_their_type_in_every_window():
    plan = plan_scan(spec_for("tickets"), [], ["id"],
                     options=ScanOptions(scan_mode="partitioned", now=NOW, table_options={"ticket_type_id": "7"}))
    query = window_query(plan.calls[0].body["query"], SECONDS, Window(10, 20))
    assert {"field": "ticket_type_id", "operator": "=", "value": "7"} in query["value"]


@pytest.mark.parametrize("table", ["contacts", "conversations", "tickets"])
@pytest.mark.parametrize("rows, concurrency", [(10_000, 8), (100_000, 32), (51_000, 32), (2_000, 8)])
def test_explain_counts_the_windows_the_split_makes(table, rows, concurrency):
    options = ScanOptions(scan_mode="partitioned", now=NOW, read_concurrency=concurrency, row_estimate=rows)
    plan = plan_scan(spec_for(table), [], ["id"], options=options)
    partitions = plan.partitions
    made = split(partitions.window, rows, NOW - 700 * DAY, partitions)
    pages = -(-rows // 150)
    expected = f"about {pages + len(made) + 1} (" if len(made) > 1 else f"about {pages}"
    assert plan.expected_calls.startswith(expected), (plan.expected_calls, len(made))


def test_a_parameter_bound_is_the_first_window_while_explain_runs():
    # EXPLAIN EXECUTE of a generic plan (created_at >= $1): the windows started at -inf with the
    # bound in the search body, where execution starts the windows at the value and sends no such filter
    from intercom_fdw.planning.quals import Parameter, conditions_from_qual
    [bound] = conditions_from_qual("created_at", ">=", Parameter(), "timestamp with time zone")
    planned = plan_scan(spec_for("contacts"), [bound], ["id"], (), None, None,
                        ScanOptions(now=NOW, scan_mode="partitioned"))
    assert planned.partitions.window.start == "$param" and planned.partitions.window.end is None
    assert "created_at windows over [$param, +inf)" in "\n".join(planned.explain())
    assert "$param" not in json.dumps(planned.calls[0].body)
    assert planned.pushed == ("created_at >= '$param'",)
