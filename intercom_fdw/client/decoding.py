"""Decoding answers with msgspec: integers exact at any size, and only the fields a read uses.

- `decode(body)`: the whole JSON. msgspec parses a scan's pages as fast as orjson and keeps an
  integer beyond 64 bits exact (orjson made it a float, so every page was first searched for
  19-digit numbers to send such bodies to the standard library: ~2 us of CPU per row).
- `projection(items_key, fields)`: a page whose items keep only the given top-level keys (each
  with its whole value; a missing one is None). msgspec skips the other keys without building
  them: `bench/http_transport.py` prints the cost per row side by side. The rest of the page
  (paging cursors, total_count) is decoded whole.
- `deferred(items_key)`: a page whose items are still their JSON text (`DeferredItems` of
  msgspec.Raw, views of the body), each decoded by `decoded()` when its row is made. A page of 150
  contacts decoded at once is about a megabyte of objects, out of the core's caches by the time
  its rows are shaped and converted; one item decoded just before is in them, and reuses the
  memory the item before it freed. `bench/row_path.py`'s `count(c)` took 22% less CPU per row
  (57.5 us to 45.0, median of 10 rounds side by side). Scanning the items' bounds checks the
  page's JSON syntax; what only a full decode finds in an item (bytes that are not UTF-8, a number
  beyond a double) makes `decoded()` read the rest of the page from `DeferredItems.whole()`,
  the whole page as the client reads what msgspec refuses.

Both raise msgspec.MsgspecError for what they cannot read (not UTF-8, a BOM, lone surrogates,
NaN, items that are not objects); the client then decodes the body as requests would.
"""
from __future__ import annotations

import functools
import operator
from operator import attrgetter
from typing import Any, Callable, FrozenSet, Iterator, List, Optional

import msgspec

MsgspecError = msgspec.MsgspecError
_ANY = msgspec.json.Decoder()
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])


def decode(body: bytes) -> Any:
    return _ANY.decode(body)


@functools.lru_cache(maxsize=256)
def projection(items_key: str, fields: FrozenSet[str]) -> Callable[[bytes], Any]:
    """A decoder of pages whose `items_key` list holds objects, keeping only `fields` of each."""
    names = sorted(fields)
    # Struct fields are Python identifiers; the JSON keys are whatever Intercom names them.
    slots = [f"f{i}" for i in range(len(names))]
    item = msgspec.defstruct("Item", [(slot, Any, None) for slot in slots], rename=dict(zip(slots, names)), gc=False)
    items = msgspec.json.Decoder(List[item])
    values = attrgetter(*slots) if len(slots) > 1 else (lambda one, get=attrgetter(slots[0]): (get(one),))

    def decode_page(body: bytes) -> Any:
        return _page(body, items_key, lambda raw: [dict(zip(names, values(one))) for one in items.decode(raw)])

    return decode_page


def _page(body: bytes, items_key: str, decode_items: Callable[[msgspec.Raw], Any]) -> dict:
    """A page with its `items_key` read by `decode_items`, its other keys decoded whole."""
    return {key: decode_items(raw) if key == items_key else _ANY.decode(raw) for key, raw in _TOP.decode(body).items()}


class DeferredItems(list):
    """A page's items as msgspec.Raw. `key`: the page's key of them; `whole`: set by the client, a
    callable giving the page's items decoded whole, for an item msgspec cannot decode."""

    __slots__ = ("key", "whole")


_RAW_ITEMS = msgspec.json.Decoder(List[msgspec.Raw])


# The keys besides the items that Intercom's list and search pages hold. A page of just these is split
# in one pass (`_one_pass`); one with any other key, in two (`_page`).
PAGE_KEYS = ("type", "pages", "total_count")


@functools.lru_cache(maxsize=64)
def deferred(items_key: str) -> Callable[[bytes], Any]:
    """A decoder of pages whose `items_key` list keeps its items as JSON text (the rest decoded
    whole); a body holding the escape of U+0000 is decoded whole (the client replaces that
    character in every string of a page it reads)."""
    one_pass = _one_pass(items_key)

    def deferred_items(raw: msgspec.Raw) -> DeferredItems:
        return _deferred(_RAW_ITEMS.decode(raw), items_key)

    def decode_page(body: bytes) -> Any:
        if b"\\u0000" in body:
            return _ANY.decode(body)
        try:
            return one_pass(body)
        except msgspec.ValidationError:  # another key, items that are not a list: two passes
            return _page(body, items_key, deferred_items)

    return decode_page


def _deferred(raws: List[msgspec.Raw], items_key: str) -> DeferredItems:
    items = DeferredItems(raws)
    items.key, items.whole = items_key, None
    return items


def _one_pass(items_key: str) -> Callable[[bytes], dict]:
    """A page of `items_key` and PAGE_KEYS only, split in one pass over its bytes: a struct that
    refuses any other key (msgspec.ValidationError), its items as msgspec.Raw. Two passes (a dict
    of Raw, then the items' Raw) take about 3 us of CPU more per contact (bench/http_transport.py)."""
    others = [key for key in PAGE_KEYS if key != items_key]
    slots = [f"f{i}" for i in range(len(others))]
    page = msgspec.defstruct("Page", [("items", List[msgspec.Raw])] + [(slot, Any, msgspec.UNSET) for slot in slots],
                             rename={"items": items_key, **dict(zip(slots, others))}, forbid_unknown_fields=True,
                             gc=False)
    decoder, unset = msgspec.json.Decoder(page), msgspec.UNSET

    def split(body: bytes) -> dict:
        found = decoder.decode(body)
        parts = {key: value for key, slot in zip(others, slots) if (value := getattr(found, slot)) is not unset}
        parts[items_key] = _deferred(found.items, items_key)
        return parts

    return split


def decoded(items: List[Any]) -> Iterator[Any]:
    """The items of a page, those of DeferredItems decoded one by one as they are taken."""
    if type(items) is not DeferredItems:
        yield from items
        return
    rest = iter(items)  # (map and yield from: no bytecode per item)
    try:
        yield from map(_ANY.decode, rest)
    except MsgspecError:  # raised by the decode of the item before `rest`
        yield from items.whole()[len(items) - operator.length_hint(rest) - 1:]


def decoder_for(items_key: Optional[str], fields: Optional[FrozenSet[str]],
                defer: bool = False) -> Optional[Callable[[bytes], Any]]:
    """The projection for a paged read, or for one that wants every field the deferred decoder
    (`defer`: its pager reads no item), or None (decode whole): its items are not a top-level list."""
    if not items_key or "." in items_key:
        return None
    if fields is None:
        return deferred(items_key) if defer else None
    return projection(items_key, frozenset(fields))
