"""Per-token rate limit in 10-second slices, as Intercom enforces it (intercom-api-notes.md)."""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

SLICE_S = 10


class RateDecision(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    reset: int  # UNIX seconds when the current slice ends

    def headers(self) -> dict:
        """The headers Intercom puts on every response."""
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


class RateLimiter:
    def __init__(self) -> None:
        self._slices: Dict[str, Tuple[int, int]] = {}  # token -> (slice start, calls in it)

    def take(self, token: str, now: float, limit: int) -> RateDecision:
        start = int(now) - int(now) % SLICE_S
        slice_start, used = self._slices.get(token, (start, 0))
        if slice_start != start:
            used = 0
        if used >= limit:
            return RateDecision(False, limit, 0, start + SLICE_S)
        used += 1
        self._slices[token] = (start, used)
        return RateDecision(True, limit, limit - used, start + SLICE_S)

    def peek(self, token: str, now: float, limit: int) -> RateDecision:
        start = int(now) - int(now) % SLICE_S
        slice_start, used = self._slices.get(token, (start, 0))
        used = used if slice_start == start else 0
        return RateDecision(used < limit, limit, max(0, limit - used), start + SLICE_S)
