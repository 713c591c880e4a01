"""The client-side throttle shared by every thread of one client (get_many's pool included)."""
from __future__ import annotations

import threading
from typing import Callable, Mapping, Optional

from intercom_fdw.client.policy import rate_limit_state, reserve_send_slot, throttle_delay


class Throttle:
    """Hands out send slots `spacing` seconds apart; the spacing follows the last rate-limit headers.

    Spacing is per client, not per thread: with 8 threads in flight the workspace still sees
    one call every `spacing` seconds, which is what spreading the remaining budget requires.

    A spacing is a plan for one rate-limit slice (the one ending at `reset`); reserve_send_slot keeps
    it from reaching into the next slice. When the plan changes (a newer slice, or the budget is back),
    the `plan` counter moves on, and a worker that slept under the old plan reserves its slot again.
    """

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._spacing = 0.0
        self._next_slot = 0.0
        self._reset = None
        self._limit = None
        self._plan = 0
        self.remaining = None  # the last X-RateLimit-Remaining seen (reported by replication runs)
        self.last_state = (None, None, None)  # (limit, remaining, reset epoch) of the newest slice seen

    def wait_turn(self, sleep: Optional[Callable[[float], None]] = None) -> None:
        """Returns when the caller may send; `sleep` (default: the throttle's) waits for the slot."""
        sleep = sleep or self._sleep
        while True:
            with self._lock:
                now = self._clock()
                slot, self._next_slot = reserve_send_slot(now, self._next_slot, self._spacing, self._reset,
                                                          self._limit)
                plan = self._plan
            if slot <= now:
                return
            sleep(slot - now)
            with self._lock:
                if self._plan == plan:
                    return

    def observe(self, headers: Mapping[str, str]) -> None:
        limit, remaining, reset = rate_limit_state(headers)
        with self._lock:
            if reset is not None and self._reset is not None and reset < self._reset:
                return  # a response from an older slice, overtaken by a newer one: nothing to learn
            self.last_state = (limit, remaining, reset)
            now = self._clock()
            new_slice = reset != self._reset
            self._reset = reset
            self._limit = limit if limit is not None else self._limit
            self.remaining = remaining if remaining is not None else self.remaining
            self._spacing = throttle_delay(remaining, reset, now, limit)
            if not self._spacing:
                if self._next_slot > now:
                    self._plan += 1  # budget is back: slots planned under the old spacing are void
                self._next_slot = 0.0
            elif new_slice:
                self._plan += 1
                self._next_slot = now + self._spacing  # with none left: the reset
            else:
                # the very next call already keeps its distance
                self._next_slot = max(self._next_slot, now + self._spacing)

    @property
    def spacing(self) -> float:
        return self._spacing
