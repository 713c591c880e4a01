"""Fewer garbage collections while scans run: the cyclic collector has nothing to find in a scan.

CPython starts a collection of its youngest generation each time 700 more container objects
(dicts, lists) have been allocated than freed. A scan holds two pages of decoded JSON (the one
being shaped, the one read ahead): 150 contacts of about 12 dicts and lists each, 3,600 and
more. So the default collected twice per page, each time walking objects that were all still
alive (JSON holds no cycles; rows are freed when their last reference goes), promoting them to
the older generations, whose collections walked them again: 365 collections in a 30,000-contact
scan, 6% of the backend's CPU (measured with gc.callbacks, bench/row_path.py before and after).

While any scan runs, the youngest generation's threshold is `SCAN_THRESHOLD`, above what a scan
of contacts holds at once (it then runs no collection at all). Only the threshold changes:
garbage that is cyclic still raises the count, and still gets collected, once per that many
containers instead of per 700. The thresholds in force before the first scan come back when the
last one ends (a scan's generator ends, is closed, or is released), unless something else set
other thresholds meanwhile.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

SCAN_THRESHOLD = 10_000

_lock = threading.Lock()
_scans = 0
_before: Optional[Tuple[int, ...]] = None  # the thresholds the first running scan replaced


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the youngest generation's threshold to SCAN_THRESHOLD (never lower it) for the block."""
    global _scans, _before
    with _lock:
        if _scans == 0:
            _before = gc.get_threshold()
            if _before[0] < SCAN_THRESHOLD:
                gc.set_threshold(SCAN_THRESHOLD, *_before[1:])
        _scans += 1
    try:
        yield
    finally:
        with _lock:
            _scans -= 1
            if _scans == 0:
                if gc.get_threshold() == (max(_before[0], SCAN_THRESHOLD),) + _before[1:]:
                    gc.set_threshold(*_before)
                _before = None
