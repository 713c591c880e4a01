"""The companies scroll: one open scroll per workspace, expiring after a minute unused.

Documented by Intercom for `GET /companies/scroll`: a second scroll while one is open fails; a scroll
not used for one minute expires and its `scroll_param` then fails; the page after the last companies
has an empty `data` and closes the scroll.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from intercom_fdw.emulator.apierror import ApiError
from intercom_fdw.emulator.table import Table

SCROLL_IDLE_EXPIRY_S = 60.0
SCROLL_PAGE_SIZE = 50


@dataclass
class OpenScroll:
    param: str
    position: int
    last_used: float


def scroll_page(state: Optional[OpenScroll], scroll_param: Optional[str], table: Table,
                visible: Callable[[dict], bool], now: float) -> Tuple[List[dict], str, Optional[OpenScroll]]:
    """The next page, its scroll_param, and the scroll state that follows it (None once closed)."""
    if state is not None and now - state.last_used > SCROLL_IDLE_EXPIRY_S:
        state = None  # expired
    if not scroll_param:
        if state is not None:
            raise ApiError(400, "scroll_exists", "scroll already exists for this workspace: only one scroll "
                           "may be open at a time; finish it or wait one minute for it to expire")
        state = OpenScroll(str(uuid.uuid4()), 0, now)
    elif state is None or state.param != scroll_param:
        raise ApiError(404, "scroll_not_found", "scroll_param not found: the scroll has expired (one minute "
                       "unused) or ended; start a new scroll")
    items, after = table.scan(state.position, SCROLL_PAGE_SIZE, visible)
    if not items:
        return [], state.param, None
    return items, state.param, OpenScroll(state.param, after, now)
