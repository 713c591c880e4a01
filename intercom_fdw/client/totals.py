"""Whole-table counts seen in responses, kept a short while for row estimates at planning time.

Intercom's lists and searches say how many objects they hold (`total_count`). A read the planner
marks with a `count_key` (a scan of a whole table: no filter from SQL) records that count here,
per workspace (base URL and token, hashed) and key, in this backend's memory; planning then sizes
the table from it instead of the spec's fixed guess, so joins get sane plans, and asks Intercom
nothing: what is not here (never read, or older than TTL_S) falls back to the guess.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Optional, Tuple

# Counts change as objects are created: a few minutes keep estimates close enough for plans.
TTL_S = 300.0
_MAX_ENTRIES = 1024

_counts: Dict[Tuple[str, str], Tuple[int, float]] = {}
_lock = threading.Lock()


def record(workspace: str, key: str, total, now: Optional[float] = None) -> None:
    """Remember `total` (a response's total_count) for the table read under `key`."""
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        return
    with _lock:
        _counts.pop((workspace, key), None)
        _counts[(workspace, key)] = (total, time.time() if now is None else now)
        while len(_counts) > _MAX_ENTRIES:
            del _counts[next(iter(_counts))]


def lookup(workspace: str, key: str, now: Optional[float] = None, ttl: float = TTL_S) -> Optional[int]:
    """The count recorded for `key` within the last `ttl` seconds, else None."""
    with _lock:
        found = _counts.get((workspace, key))
    if found is None:
        return None
    total, seen = found
    return total if (time.time() if now is None else now) - seen <= ttl else None


def counts_for(workspace: str, now: Optional[float] = None) -> Callable[[str], Optional[int]]:
    """lookup() bound to one workspace and instant: what planning is handed."""
    return lambda key: lookup(workspace, key, now)
