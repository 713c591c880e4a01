"""Partitioned search reads: disjoint windows of an immutable time field (created_at), as data.

Pure: no I/O, no clock (`now` comes from the plan). The engine reads windows concurrently and
splits a window whose first page says it is large (`total_count`); these functions say what each
window asks the search for, which of its rows it keeps, and how a window is split.

Why windows never give a row twice or miss one:
- windows are half-open, [start, end), and a split cuts one window into adjacent ones that cover
  it exactly; the first window is open below and the last open above (None), so together they
  cover every value;
- the search is asked for a superset of each window (contact search compares dates by calendar
  day in the workspace's unknown time zone: DATE_MARGIN on each side; conversation and ticket
  search compare to the second with `>`/`<` strict or "or equal": one second), and the engine
  keeps only the rows whose value lies in the window's exact bounds, so each row comes from the
  one window holding its (immutable) value.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

from intercom_fdw.planning.quals import Parameter, narrowest
from intercom_fdw.planning.search import DATE_MARGIN
from intercom_fdw.spec import Partitioning

# A window whose first page says it holds more than this many pages is split (a part made by a
# split only beyond twice this: its count includes the margins, and splitting it again costs more
# margins and one more first page).
PAGES_PER_WINDOW = 20
# Contact windows are at least this wide: each reads DATE_MARGIN more on both sides.
MIN_CALENDAR_WINDOW = 4 * DATE_MARGIN
# At most this many windows from one split (its first page is read again by each part anyway).
MAX_SPLIT = 64
# Stand-ins for the open ends: every created_at Intercom holds lies between them (match_all's own
# lower bound, and 2100-01-01).
OPEN_START = 0
OPEN_END = 4102444800
DAY = 86400
# The placeholders the planned query holds where each window's bounds go (EXPLAIN VERBOSE shows them).
START_PLACEHOLDER = "{window start}"
END_PLACEHOLDER = "{window end}"


@dataclass(frozen=True)
class Window:
    """[start, end) in UNIX seconds; None: open on that side."""

    start: Optional[int] = None
    end: Optional[int] = None

    def holds(self, value) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False  # a row without the field: no window's search returns it either
        return (self.start is None or value >= self.start) and (self.end is None or value < self.end)

    def describe(self) -> str:
        def when(t):
            if isinstance(t, Parameter):  # EXPLAIN of a parameter's bound (a generic plan's $1)
                return t
            return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

        return f"[{'-inf' if self.start is None else when(self.start)}, {'+inf' if self.end is None else when(self.end)})"


@dataclass(frozen=True)
class PartitionedSearch:
    """How a search is read as windows: the plan's part the engine runs and EXPLAIN prints."""

    partitioning: Partitioning
    window: Window  # the first window (the query's own bounds on the field, if any)
    now: int  # the plan's clock: where the open last window is cut when split
    split_rows: int  # a window said to hold more rows than this is split
    read_concurrency: int  # windows read at once


def placeholder_filters(partitioning: Partitioning) -> List[dict]:
    """The two filters a window adds to the search query, with placeholders for its bounds."""
    return [{"field": partitioning.field, "operator": ">", "value": START_PLACEHOLDER},
            {"field": partitioning.field, "operator": "<", "value": END_PLACEHOLDER}]


def search_bounds(partitioning: Partitioning, window: Window) -> Tuple[int, int]:
    """(after, before): `field > after AND field < before` returns at least every row of the window."""
    if partitioning.calendar_days:
        # "> d" starts at the day after d's, "< d" stops at the start of d's day, in the workspace's
        # time zone: moved out by more than the longest day, the bounds hold the window whatever the zone.
        after = OPEN_START if window.start is None else window.start - DATE_MARGIN
        before = OPEN_END + DATE_MARGIN if window.end is None else window.end + DATE_MARGIN
    else:
        # "> s - 1" is ">= s" if Intercom's > is strict, wider if inclusive; "< e" likewise.
        after = OPEN_START if window.start is None else window.start - 1
        before = OPEN_END if window.end is None else window.end
    return after, before


def window_query(query, partitioning: Partitioning, window: Window):
    """The planned query with the window's bounds in place of the placeholders."""
    after, before = search_bounds(partitioning, window)
    values = {START_PLACEHOLDER: after, END_PLACEHOLDER: before}

    def fill(node):
        if isinstance(node, dict):
            value = node.get("value")
            if isinstance(value, str) and value in values and node.get("field") == partitioning.field:
                return {**node, "value": values[node["value"]]}
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        return node

    return fill(query)


def split(window: Window, total: int, earliest: Optional[int], plan: PartitionedSearch) -> List[Window]:
    """The windows that replace `window`, whose first page said it holds `total` rows and whose
    earliest value on that page is `earliest`; [window] when not worth it.

    Cut points are spread evenly between the earliest value and the window's end (the plan's `now`
    for the open last window), whole days for a calendar-day search; the parts cover the window
    exactly, the first keeping its start and the last its end.
    """
    top = window == plan.window
    if total <= (plan.split_rows if top else 2 * plan.split_rows):
        return [window]
    granularity = DAY if plan.partitioning.calendar_days else 1
    narrowest = MIN_CALENDAR_WINDOW if plan.partitioning.calendar_days else 1
    known = [v for v in (window.start, earliest) if v is not None]
    low = max(known) if known else None
    high = window.end if window.end is not None else plan.now
    if low is None or high - low < 2 * narrowest:
        return [window]
    parts = min(wanted_windows(total, top, plan), (high - low) // narrowest)
    cuts = []
    for i in range(1, parts):
        cut = low + (high - low) * i // parts
        cut -= cut % granularity
        if (window.start is None or cut > window.start) and cut < high and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    if window.end is None and (not cuts or cuts[-1] < high):
        cuts.append(high - high % granularity)  # the open last window keeps only what arrives after `now`
        if len(cuts) > 1 and cuts[-1] <= cuts[-2]:
            cuts.pop()
    if not cuts:
        return [window]
    bounds = [window.start] + cuts + [window.end]
    return [Window(a, b) for a, b in zip(bounds, bounds[1:])]


def wanted_windows(total: int, top: bool, plan: PartitionedSearch) -> int:
    """How many windows a split of a window said to hold `total` rows makes (`top`: the first
    window, the query's own), before the window's width limits them; also EXPLAIN's estimate."""
    # None of more than split_rows rows if the rows are spread evenly; and the first split makes
    # enough parts that every worker has two to read (each of at least two pages), one for a
    # calendar-day search: each of its windows reads 2 x DATE_MARGIN more (measured with 100,000
    # contacts over 700 days: 64 windows read 36% more rows than there are, 32 windows 18%).
    wanted = math.ceil(total / plan.split_rows)
    if top:
        per_page = max(1, plan.split_rows // PAGES_PER_WINDOW)
        per_worker = 1 if plan.partitioning.calendar_days else 2
        wanted = max(wanted, min(per_worker * plan.read_concurrency, math.ceil(total / (2 * per_page))))
        if wanted > plan.read_concurrency:
            # Whole rounds, the nearest number of them: a last round of fewer windows than workers
            # leaves the others idle while it reads its windows page by page. 34 windows at concurrency
            # 32 were two rounds of about 24 pages (with the margins), the second read by 2 workers;
            # 32 windows are one round of 25 pages (64 would read 64 windows' margins: 11% more calls).
            wanted = max(1, round(wanted / plan.read_concurrency)) * plan.read_concurrency
    return min(MAX_SPLIT, wanted)


def first_window(partitioning: Partitioning, conditions) -> Tuple[Window, list]:
    """The query's own bounds on the partition column as the first window, and the conditions
    that gave them (PostgreSQL re-checks them: the window is only where the search looks)."""
    start = end = None
    used = []
    for c in conditions:
        if c.column != partitioning.column or not isinstance(c.value, (int, Parameter)) or isinstance(c.value, bool):
            continue
        if isinstance(c.value, Parameter):
            # EXPLAIN of a parameter (a generic plan's $1): the window execution starts from its value
            low = c.value if c.op in (">", ">=", "=") else None
            high = c.value if c.op in ("<", "<=", "=") else None
        else:
            # Values are whole seconds rounded down (planning/quals.py): a bound is kept one second wide
            # so that a fractional constant never cuts off the second it falls in.
            low = c.value if c.op in (">", ">=", "=") else None
            high = c.value + 1 if c.op in ("<", "<=", "=") else None
            # A bound outside the open ends narrows nothing the search holds, and one near year 1 or 9999
            # moved out by DATE_MARGIN would be no date the search can take: the window stays open there.
            low, high = (b if b is not None and OPEN_START <= b <= OPEN_END else None for b in (low, high))
        if low is not None:
            start = narrowest([start, low], max)
        if high is not None:
            end = narrowest([end, high], min)
        if low is not None or high is not None:
            used.append(c)
    return Window(start, end), used
