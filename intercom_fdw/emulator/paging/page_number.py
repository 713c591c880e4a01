"""Page-number paging: `page` + `per_page`, answered with `pages.total_pages`.

Intercom's companies list stops at 10,000 companies (intercom-api-notes.md): deeper pages are
refused, which is why full scans use the scroll.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from intercom_fdw.emulator.apierror import invalid


@dataclass(frozen=True)
class PageLimits:
    default: int = 15
    maximum: int = 60
    reach: int = 10_000  # how deep the list goes at all


def _positive_int(raw, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be an integer") from None
    if value < 1:
        raise invalid(f"{name} must be a positive integer")
    return value


def numbered_page(items: Sequence, page_raw, per_page_raw, limits: PageLimits,
                  next_url: Optional[str] = None) -> Tuple[Sequence, dict]:
    page = _positive_int(page_raw, "page", 1)
    per_page = _positive_int(per_page_raw, "per_page", limits.default)
    if per_page > limits.maximum:
        raise invalid(f"per_page must be at most {limits.maximum}")
    if (page - 1) * per_page >= limits.reach:
        raise invalid(f"page is too deep: this list returns at most {limits.reach} results; use the scroll")
    reachable = min(len(items), limits.reach)
    start = (page - 1) * per_page
    chunk = items[start:min(start + per_page, reachable)]
    total_pages = max(1, -(-reachable // per_page))
    pages = {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages}
    if next_url is not None:
        pages["next"] = f"{next_url}?page={page + 1}&per_page={per_page}" if page < total_pages else None
    return chunk, pages
