"""get_rel_size() answers of any magnitude give the planner sane estimates: rows as
PostgreSQL clamps them (1 .. 1e100), the width an int32 from 1 to MaxAllocSize."""
import math

import pytest

MAX_ALLOC_SIZE = 0x3FFFFFFF


@pytest.mark.parametrize("rel_size, rows, width", [
    ("(1e30, 2**40)", 1e30, MAX_ALLOC_SIZE),
    ("(0, -5)", 1, 1),
    ("(float('inf'), float('nan'))", 1e100, 1),
    ("(12.4, 7.9)", 12, 7),
])
def test_rel_size_is_clamped_to_sane_estimates(fdw, rel_size, rows, width):
    fdw.table("sized", "a text", rel_size=rel_size, rows="[{'a': 'x'}]")
    [[[plan]]] = fdw.sql("EXPLAIN (FORMAT JSON) SELECT * FROM sized")
    plan = plan["Plan"]
    assert (plan["Plan Rows"], plan["Plan Width"]) == (rows, width)
    assert math.isfinite(plan["Total Cost"]) and plan["Total Cost"] >= rows * width
    assert fdw.sql("SELECT * FROM sized") == [("x",)]


def plan_of(fdw, query):
    [[[plan]]] = fdw.sql("EXPLAIN (FORMAT JSON) " + query)
    return plan["Plan"]


def test_costs_and_widths_follow_multicorn2(fdw):
    """Total cost rows * width for the plain, parameterized and LIMIT paths, the startup
    cost from _startup_cost (10 in the test FDW), and get_rel_size()'s width in the plan
    even where PostgreSQL computes the target's width itself (sorted, LIMIT)."""
    fdw.table("costed", "d date, t timestamp", rel_size="(20, 30)", can_sort="true", can_limit="true",
              path_keys="[(('d',), 2)]", rows="[]")
    plain = plan_of(fdw, "SELECT * FROM costed")
    assert (plain["Startup Cost"], plain["Total Cost"], plain["Plan Rows"], plain["Plan Width"]) == (10, 600, 20, 30)
    ordered = plan_of(fdw, "SELECT * FROM costed ORDER BY d")
    assert (ordered["Node Type"], ordered["Total Cost"], ordered["Plan Width"]) == ("Foreign Scan", 600, 30)
    limited = plan_of(fdw, "SELECT * FROM costed ORDER BY d LIMIT 3 OFFSET 1")
    assert (limited["Node Type"], limited["Startup Cost"], limited["Total Cost"], limited["Plan Rows"],
            limited["Plan Width"]) == ("Foreign Scan", 10, 90, 3, 30)
    fdw.sql("DROP TABLE IF EXISTS many_dates; CREATE TABLE many_dates (d date)")
    fdw.sql("INSERT INTO many_dates SELECT DATE '2024-01-01' + i FROM generate_series(1, 1000) i")
    fdw.sql("ANALYZE many_dates")
    fdw.table("costed", "d date, t timestamp", rel_size="(100000000, 30)", path_keys="[(('d',), 2)]", rows="[]")
    joined = plan_of(fdw, "SELECT * FROM many_dates m JOIN costed c ON c.d = m.d")
    inner = [p for p in joined["Plans"] if p["Node Type"] == "Foreign Scan"][0]
    assert (inner["Startup Cost"], inner["Total Cost"], inner["Plan Rows"]) == (10, 60, 2), joined


@pytest.mark.parametrize("limit", [0, 2, 10 ** 12])
def test_pushed_limit_costs_its_count_times_width(fdw, limit):
    """LIMIT n pushed is n rows at n * width; beyond the table's rows * width that costs more
    than a Limit over the scan, so PostgreSQL keeps its own Limit (as under multicorn2)."""
    fdw.table("limited_est", "a text", rel_size="(20, 10)", can_limit="true",
              rows=f"[{{'a': str(i)}} for i in range(5)][:{limit}]")
    plan = plan_of(fdw, f"SELECT * FROM limited_est LIMIT {limit}")
    if limit * 10 < 200:
        assert (plan["Node Type"], plan["Plan Rows"], plan["Total Cost"]) == ("Foreign Scan", limit, limit * 10)
    else:
        assert plan["Node Type"] == "Limit" and plan["Plans"][0]["Total Cost"] == 200
    assert len(fdw.sql(f"SELECT * FROM limited_est LIMIT {limit}")) == min(limit, 5)
