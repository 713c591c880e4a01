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
