"""The client-side throttle shared by every thread of one client (get_many's pool included)."""
from __future__ import annotations

import threading
from typing import Callable, Mapping

from intercom_fdw.client.policy import rate_limit_state, throttle_delay


class Throttle:
    """Hands out send slots `spacing` seconds apart; the spacing follows the last rate-limit headers.

    Spacing is per client, not per thread: with 8 threads in flight the workspace still sees
    one call every `spacing` seconds, which is what spreading the remaining budget requires.
    """

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._spacing = 0.0
        self._next_slot = 0.0

    def wait_turn(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._spacing
        if slot > now:
            self._sleep(slot - now)

    def observe(self, headers: Mapping[str, str]) -> None:
        limit, remaining, reset = rate_limit_state(headers)
        with self._lock:
            now = self._clock()
            self._spacing = throttle_delay(remaining, reset, now, limit)
            if self._spacing:
                # the very next call already keeps its distance (with none left: waits for the reset)
                self._next_slot = max(self._next_slot, now + self._spacing)
            else:
                self._next_slot = 0.0  # budget is back: drop slots planned under the old spacing

    @property
    def spacing(self) -> float:
        return self._spacing
