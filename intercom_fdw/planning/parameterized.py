"""What a scan does inside a parameterized nested loop, for EXPLAIN. Pure: no I/O.

In a join such as `JOIN intercom.contact_tags t ON t.contact_id = m.contact_id`, PostgreSQL may
run the foreign scan once per outer row with the join value as a qual (the path keys of
`path_keys` make that path cheap). That value is known only at execution: explain() does not
receive the qual (this runtime leaves such quals out; multicorn2 evaluates them before any outer
row exists), so the plan it prints is the plan without it. The FDW cannot tell from explain()'s
arguments whether the scan is parameterized; PostgreSQL shows that itself, as the scan's Filter
on the outer column. So EXPLAIN adds, for the path keys, what each such scan would request: the
same planner, run with a placeholder value, so these lines cannot disagree with execution.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Sequence
from urllib.parse import quote

from intercom_fdw.planning.quals import Condition, Parameter
from intercom_fdw.planning.scan import ScanOptions, path_keys, plan_scan
from intercom_fdw.spec import ObjectSpec

_BOUND = ("=", "in")  # conditions that fix a column to known values


# Plain EXPLAIN names this many join columns a line; VERBOSE names them all (contacts have ~25).
_NAMED_IN_BRIEF = 3


def parameterized_lines(spec: ObjectSpec, conditions: Sequence[Condition], options: ScanOptions,
                        verbose: bool = True) -> List[str]:
    """EXPLAIN lines for the scans a parameterized nested loop would run, one per request shape,
    for the path keys that no constant binds already (the printed plan uses those)."""
    bound = {c.column for c in conditions if c.op in _BOUND}
    keys = [columns for columns, _ in path_keys(spec, options.pushdown) if not set(columns) <= bound]
    options = replace(options, strict=False)
    shapes: Dict[str, List[str]] = {}
    for columns in keys:
        placeholders = [Condition(column, "=", Parameter()) for column in columns]
        plan = plan_scan(spec, list(conditions) + placeholders, (), options=options)
        if not plan.calls:
            continue
        request = plan.calls[0].describe()
        for marker in (quote(Parameter(), safe=""), Parameter()):
            request = request.replace(marker, "{" + columns[0] + "}")
        calls = plan.expected_calls
        per_row = f"{calls} call{'' if calls.split()[-1] == '1' else 's'} per outer row"
        shapes.setdefault(f"{request}, {per_row}", []).append(" + ".join(columns))
    return [f"When a join supplies {_named(columns, verbose)} (parameterized nested loop): {shape}, instead of the above"
            for shape, columns in shapes.items()]


def _named(columns: List[str], verbose: bool) -> str:
    if verbose or len(columns) <= _NAMED_IN_BRIEF + 1:
        return ", ".join(columns)
    more = len(columns) - _NAMED_IN_BRIEF
    return f"{', '.join(columns[:_NAMED_IN_BRIEF])} or {more} other columns (EXPLAIN VERBOSE lists them)"
