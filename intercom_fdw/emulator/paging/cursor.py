"""Cursor paging: `per_page` + `starting_after`; the next cursor is `pages.next.starting_after`.

The cursor is opaque to clients (as Intercom's are) and carries the position to resume from and the
page number, so `pages.page` counts up as a client walks the list. A list answered this way also
takes `page` (the number `pages.page` and `pages.total_pages` count in, which Intercom's official
SDKs send to page articles and other such lists); `starting_after` wins when both are given. A page
after the last is empty, so a client that pages by number always ends.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import orjson

from intercom_fdw.emulator.apierror import ApiError, invalid
from intercom_fdw.emulator.table import Table


@dataclass(frozen=True)
class CursorLimits:
    """Page size rules of one endpoint: its default and the cap the API enforces."""

    default: int
    maximum: int = 150


def encode(position: int, page: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([position, page])).decode().rstrip("=")


def decode(cursor: str) -> Tuple[int, int]:
    try:
        position, page = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(position, int) and isinstance(page, int) and position >= 0 and page >= 1:
            return position, page
    except Exception:
        pass
    raise invalid("starting_after is invalid: use the value of pages.next.starting_after from the previous page")


def per_page_value(raw, limits: CursorLimits) -> int:
    if raw is None or raw == "":
        return limits.default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid("per_page must be an integer") from None
    if value < 1:
        raise invalid("per_page must be a positive integer")
    if value > limits.maximum:
        raise ApiError(400, "parameter_invalid", f"per_page must be at most {limits.maximum}")
    return value


def page_number(raw) -> int:
    if raw is None or raw == "":
        return 1
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid("page must be an integer") from None
    if value < 1:
        raise invalid("page must be a positive integer")
    return value


def start_of(cursor: Optional[str], page_raw=None, per_page: int = 1) -> Tuple[int, int]:
    """(position, page number) of a page: the cursor's, else that of page `page_raw` counted in
    `per_page` objects (a position among the visible objects for `table_page`)."""
    if cursor:
        return decode(cursor)
    page = page_number(page_raw)
    return (page - 1) * per_page, page


def pages_block(page: int, per_page: int, total_count: int, next_position: Optional[int]) -> dict:
    block = {"type": "pages", "page": page, "per_page": per_page,
             "total_pages": max(1, -(-total_count // per_page))}
    if next_position is not None:
        block["next"] = {"per_page": per_page, "starting_after": encode(next_position, page + 1)}
    return block


def table_page(table: Table, per_page: int, cursor: Optional[str], visible: Callable[[dict], bool],
               total_count: int, page_raw=None) -> Tuple[List[dict], dict]:
    """One page of a stored table, skipping objects `visible` rejects (archived contacts, ...)."""
    position, page = start_of(cursor, page_raw, per_page)
    if not cursor and position:  # a page number counts visible objects: find where the page starts
        _skipped, position = table.scan(0, position, visible)
    items, after = table.scan(position, per_page, visible)
    more = len(items) == per_page and table.has_visible_from(after, visible)
    return items, pages_block(page, per_page, total_count, after if more else None)


def sequence_page(items: Sequence, per_page: int, cursor: Optional[str], page_raw=None) -> Tuple[Sequence, dict]:
    """One page of an already computed sequence (search results, sub-resources)."""
    position, page = start_of(cursor, page_raw, per_page)
    chunk = items[position:position + per_page]
    after = position + len(chunk)
    return chunk, pages_block(page, per_page, len(items), after if after < len(items) else None)
