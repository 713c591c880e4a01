"""ApiRequest: one logical call to Intercom: a read (one endpoint, all of its pages), a write or an action.

A plain value with no I/O, shared by the planners (of reads, writes and actions, which build requests)
and the HTTP client (which sends and pages them), so that neither imports the other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, FrozenSet, Mapping, Optional, Tuple
from urllib.parse import quote

from intercom_fdw.errors import InvalidValueError

PAGING_STYLES = ("none", "unpaged", "cursor", "page", "next_url", "scroll", "search")
SINGLE_CALL_STYLES = ("none", "unpaged")
# Intercom's default page size on most lists (contacts, companies search, notes...).
DEFAULT_PER_PAGE = 50


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
    # (list, reach): a page-numbered list of the same objects that a scroll may read instead when
    # Intercom will not open one (another scroll is open), if the list reaches them all (see paging.py)
    stand_in: Optional[Tuple["ApiRequest", int]] = None
    # A single call ("none"/"unpaged"): may it be sent again after it may have reached Intercom?
    # None lets the method decide (policy.is_idempotent); writes and actions say it from their rules.
    repeatable: Optional[bool] = None
    # A single call that creates an object (an INSERT's): Intercom's 409 then means the object
    # exists, while for any other call it means another object holds a value that must be unique.
    creates: bool = False
    # Set when the request reads a whole table: its responses' total_count is recorded under this
    # key (client/totals.py) for the planner's row estimates.
    count_key: Optional[str] = None
    # The top-level keys of each item the reader uses (None: all of them): the client then decodes
    # only those (client/decoding.py). Only what the rows need; never part of what is sent.
    item_fields: Optional[FrozenSet[str]] = None
    # "page" paging: the list returns at most this many items (Endpoint.reach)
    reach: Optional[int] = None

    def __post_init__(self):
        if self.paging not in PAGING_STYLES:
            raise ValueError(f"unknown paging style {self.paging!r}; one of {', '.join(PAGING_STYLES)}")
        if self.max_items is not None and self.max_items < 0:
            raise ValueError(f"max_items must be >= 0, not {self.max_items}")
        if self.per_page is not None and self.per_page < 1:
            raise ValueError(f"per_page must be >= 1, not {self.per_page}")

    @property
    def idempotent(self) -> Optional[bool]:
        """A request that pages is a read, even as a POST (search, POST /companies/list), so it may
        be retried; a single call says so in `repeatable`, or leaves it to the method (a POST may create)."""
        return self.repeatable if self.paging in SINGLE_CALL_STYLES else True

    @property
    def page_size(self) -> Optional[int]:
        """per_page to ask for: the requested size, shrunk to max_items (LIMIT pushdown).

        With max_items but no per_page, at most DEFAULT_PER_PAGE: the caller did not say what the
        endpoint accepts, and no Intercom list refuses its own default size.
        """
        if self.per_page:
            return min(self.per_page, self.max_items) if self.max_items else self.per_page
        return min(self.max_items, DEFAULT_PER_PAGE) if self.max_items else None


# ---- ids in request paths ---------------------------------------------------------------------
# Every {placeholder} of an endpoint's path is filled here, for reads, writes and actions alike.
# Values come from SQL (constants, joins, rows being written): each becomes one percent-encoded path
# segment, so '/', '?', '#' and '%' cannot change the path; '.' and '..' cannot be encoded away (HTTP
# stacks resolve them, also as %2E) and an empty id would make '//', so those are refused: no
# Intercom object has such an id.
_PLACEHOLDER = re.compile(r"{(\w+)}")
_NOT_A_SEGMENT = ("", ".", "..")


class UnaddressableId(InvalidValueError):
    """A value that cannot be an Intercom id in a request path ('', '.' or '..')."""

    def __init__(self, name: str, value: str):
        self.name = name
        self.value = value
        super().__init__(f"{value!r} is not a valid {name}: no Intercom id is empty, '.' or '..'",
                         hint=f"check where the {name} comes from; an id is a path segment of the request")


def path_placeholders(template: str) -> Tuple[str, ...]:
    """The names of a path template's {placeholders}, in order."""
    return tuple(_PLACEHOLDER.findall(template))


def path_segment(name: str, value: Any) -> str:
    text = str(value)
    if text in _NOT_A_SEGMENT:
        raise UnaddressableId(name, text)
    return quote(text, safe="")


def bind_path(template: str, values: Mapping[str, Any]) -> str:
    """`template` with each {name} replaced by values[name] as one encoded path segment.

    Raises UnaddressableId for a value that cannot be an id, KeyError for a name without a value."""
    return _PLACEHOLDER.sub(lambda m: path_segment(m.group(1), values[m.group(1)]), template)


def has_dot_segment(path: str) -> bool:
    """True for a path that an HTTP stack would rewrite ('/a/../b', '/a/./b', '/a/..')."""
    return any(segment in (".", "..") for segment in path.split("/"))
