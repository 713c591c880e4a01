"""ApiRequest: one logical read from Intercom (one endpoint, all of its pages)."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional

PAGING_STYLES = ("none", "unpaged", "cursor", "page", "next_url", "scroll", "search")


@dataclass(frozen=True)
class ApiRequest:
    """What to call and how its pages chain; the pagers in `paging.py` know the rest.

    paging: "none" (one call; the response itself is the item when items_key is None),
    "unpaged" (one call, items under items_key), "cursor", "page", "next_url", "scroll",
    "search" (see paging.py for each style and which endpoints use it).
    """

    method: str
    path: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    body: Optional[Mapping[str, Any]] = None
    paging: str = "none"
    items_key: Optional[str] = "data"
    per_page: Optional[int] = None
    max_items: Optional[int] = None
    allow_404: bool = False

    def __post_init__(self):
        if self.paging not in PAGING_STYLES:
            raise ValueError(f"unknown paging style {self.paging!r}; one of {', '.join(PAGING_STYLES)}")
        if self.max_items is not None and self.max_items < 0:
            raise ValueError(f"max_items must be >= 0, not {self.max_items}")
        if self.per_page is not None and self.per_page < 1:
            raise ValueError(f"per_page must be >= 1, not {self.per_page}")

    @property
    def idempotent(self) -> Optional[bool]:
        """Search POSTs only read, so they may be retried; otherwise the method decides."""
        return True if self.paging == "search" else None

    @property
    def page_size(self) -> Optional[int]:
        """per_page to ask for: the requested size, shrunk to max_items (LIMIT pushdown)."""
        sizes = [n for n in (self.per_page, self.max_items) if n]
        return min(sizes) if sizes else None
