"""Decoding answers with msgspec: integers exact at any size, and only the fields a read uses.

- `decode(body)`: the whole JSON. msgspec parses a scan's pages as fast as orjson and keeps an
  integer beyond 64 bits exact (orjson made it a float, so every page was first searched for
  19-digit numbers to send such bodies to the standard library: ~2 us of CPU per row).
- `projection(items_key, fields)`: a page whose items keep only the given top-level keys (each
  with its whole value; a missing one is None). msgspec skips the other keys without building
  them: `bench/http_transport.py` prints the cost per row side by side. The rest of the page
  (paging cursors, total_count) is decoded whole.

Both raise msgspec.MsgspecError for what they cannot read (not UTF-8, a BOM, lone surrogates,
NaN, items that are not objects); the client then decodes the body as requests would.
"""
from __future__ import annotations

import functools
from operator import attrgetter
from typing import Any, Callable, FrozenSet, List, Optional

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
        page = {}
        for key, raw in _TOP.decode(body).items():
            if key == items_key:
                page[key] = [dict(zip(names, values(one))) for one in items.decode(raw)]
            else:
                page[key] = _ANY.decode(raw)
        return page

    return decode_page


def decoder_for(items_key: Optional[str], fields: Optional[FrozenSet[str]]) -> Optional[Callable[[bytes], Any]]:
    """The projection for a paged read, or None (decode whole) when it wants every field or its
    items are not a top-level list."""
    if fields is None or not items_key or "." in items_key:
        return None
    return projection(items_key, frozenset(fields))
