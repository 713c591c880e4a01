"""An ordered table of objects by id: the unit every paging style walks.

Order is insertion order (what Intercom's cursor lists follow for these objects). Deletion leaves a
tombstone so that a position stays valid for cursors handed out earlier.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Optional, Tuple


class Table:
    __slots__ = ("by_id", "_order", "_pos")

    def __init__(self) -> None:
        self.by_id: Dict[str, dict] = {}
        self._order: List[Optional[str]] = []
        self._pos: Dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def __contains__(self, obj_id: str) -> bool:
        return obj_id in self.by_id

    def get(self, obj_id: str) -> Optional[dict]:
        return self.by_id.get(obj_id)

    def add(self, obj_id: str, obj: dict) -> dict:
        self.by_id[obj_id] = obj
        self._pos[obj_id] = len(self._order)
        self._order.append(obj_id)
        return obj

    def remove(self, obj_id: str) -> Optional[dict]:
        obj = self.by_id.pop(obj_id, None)
        if obj is not None:
            self._order[self._pos.pop(obj_id)] = None
        return obj

    def values(self) -> Iterator[dict]:
        return iter(self.by_id.values())

    def positioned(self) -> Iterator[Tuple[int, dict]]:
        """(position, object) of every stored object, in order."""
        by_id = self.by_id
        return ((pos, by_id[obj_id]) for pos, obj_id in enumerate(self._order) if obj_id is not None)

    def at_positions(self, positions: List[int]) -> Iterator[dict]:
        """The stored objects at `positions` (ascending), skipping deleted ones."""
        order, by_id = self._order, self.by_id
        for pos in positions:
            obj_id = order[pos]
            if obj_id is not None:
                yield by_id[obj_id]

    def scan(self, start: int, limit: int, visible: Callable[[dict], bool]) -> Tuple[List[dict], int]:
        """Up to `limit` visible objects from position `start`, and the position after the last one."""
        out: List[dict] = []
        order, by_id = self._order, self.by_id
        pos, end = start, len(order)
        while pos < end and len(out) < limit:
            obj_id = order[pos]
            pos += 1
            if obj_id is not None:
                obj = by_id[obj_id]
                if visible(obj):
                    out.append(obj)
        return out, pos

    def has_visible_from(self, start: int, visible: Callable[[dict], bool]) -> bool:
        order, by_id = self._order, self.by_id
        for pos in range(start, len(order)):
            obj_id = order[pos]
            if obj_id is not None and visible(by_id[obj_id]):
                return True
        return False
