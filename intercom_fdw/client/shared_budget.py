"""One rate budget per workspace for every backend of the machine that uses the same token.

Intercom counts calls per app in 10-second slices and tells each response how many are left
(`X-RateLimit-Remaining`, `X-RateLimit-Reset`). A backend on its own learns that from its own
responses only: ten backends scanning at once each spend "the rest of the slice" and meet 429s.
Here every backend of the same (base URL, token) draws from one count kept in a small file in the
temp directory (named by the OS user and a hash, never the token), under an flock; where that file
cannot be used (another user's, a symlink), each process keeps its own count:

- `take()` spends one call of the current slice, or says how long to wait for the next one;
- `observe(headers)` lowers the count to what Intercom says is left (other apps, other machines
  spend from it too) and starts a new slice when the reset moves on;
- `share` keeps `limit * (1 - share)` of every slice for other apps of the workspace.

Nothing is known before the first response of a slice: calls go out, and the first answer sets
the count. A 429 still waits and retries as before (policy.py); this makes them rare.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
import threading
from typing import Callable, Mapping, Optional

from intercom_fdw.client.policy import INTERRUPT_POLL_SECONDS, rate_limit_state
from intercom_fdw.errors import Interrupted

# A reset further ahead than this is not from a 10-second slice (a stale file, a skewed clock): ignored.
MAX_RESET_AHEAD_S = 60
# Intercom counts calls in slices of this many seconds (its rate-limit documentation; the emulator's too).
SLICE_S = 10
# The threads of one backend (a partitioned scan's 32 workers) take turns here before the file's
# flock: otherwise they all queue on the flock, each waking the others (profiled: 17% of a scan's samples).
_PROCESS_LOCKS: dict = {}
_PROCESS_LOCKS_LOCK = threading.Lock()
# A holder keeps the file's lock for a read and a write of a few hundred bytes. A backend that finds it
# taken tries again after these waits (growing to the last), never blocking in flock: a blocked flock
# ends on no cancel, so one holder stopped (SIGSTOP, a debugger) would hang every backend of the workspace.
LOCK_RETRY_S = (0.0005, 0.001, 0.002, 0.005)


def _process_lock(path: str) -> threading.Lock:
    with _PROCESS_LOCKS_LOCK:
        return _PROCESS_LOCKS.setdefault(path, threading.Lock())


def budget_path(key: str, directory: Optional[str] = None) -> str:
    """One file per OS user: a file another user made first (a CLI run as root or as yourself on the
    database host) would otherwise stop every backend that cannot open it."""
    return os.path.join(directory or tempfile.gettempdir(), f"intercom_fdw-budget-{os.geteuid()}-{key}.json")


# The count of a process whose budget file cannot be used (by path): its own backends' calls only.
_PROCESS_STATES: dict = {}


class SharedBudget:
    def __init__(self, key: str, share: float = 1.0, directory: Optional[str] = None,
                 clock: Callable[[], float] = None, sleep: Callable[[float], None] = None):
        import time

        self.path = budget_path(key, directory)
        self._threads = _process_lock(self.path)
        self.share = min(max(share, 0.0), 1.0)
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep

    # ---- the state, under the file's lock ----------------------------------------------------
    def _update(self, change: Callable[[dict], Optional[float]], sleep: Callable[[float], None]) -> Optional[float]:
        """`change` applied to the state under both locks; `sleep` waits between tries for a lock and
        raises errors.Interrupted when the statement is interrupted (the client's interruptible sleep)."""
        while not self._threads.acquire(timeout=INTERRUPT_POLL_SECONDS):
            sleep(0)  # an interrupt check: a thread of this backend holds the lock (waiting for the file's)
        try:
            try:
                return self._update_file(change, sleep)
            except OSError:
                # No usable file (a symlink or a directory in its place, a full or read-only temp
                # directory): this process keeps its own count, and the queries go on.
                return change(_PROCESS_STATES.setdefault(self.path, {}))
        finally:
            self._threads.release()

    def _update_file(self, change: Callable[[dict], Optional[float]], sleep) -> Optional[float]:
        # Never through a symlink (fs.protected_symlinks is not everywhere), never a file of another user.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_uid != os.geteuid():
                raise PermissionError(f"{self.path} belongs to another user")
            tries = 0
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another process holds it
                    sleep(LOCK_RETRY_S[min(tries, len(LOCK_RETRY_S) - 1)])
                    tries += 1
            raw = os.pread(fd, 4096, 0)
            try:
                state = json.loads(raw) if raw else {}
            except ValueError:
                state = {}
            before = dict(state)
            result = change(state)
            if state != before:
                data = json.dumps(state).encode()
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
            return result
        finally:
            os.close(fd)  # releases the lock

    def take(self, sleep: Optional[Callable[[float], None]] = None) -> float:
        """Spend one call: 0.0 when it may go now, else the seconds to wait before asking again. `sleep`
        (default: the budget's) waits for the lock, and raises errors.Interrupted on an interrupt."""
        now = self._clock()

        def spend(state):
            reset = state.get("reset")
            if reset is not None and reset - now > MAX_RESET_AHEAD_S:
                reset = None  # not from a 10-second slice: a stale file, a skewed clock
            if reset is None or now >= reset:
                per_slice = state.get("slice")
                if reset is None or per_slice is None:
                    for key in ("left", "reset", "guessed"):
                        state.pop(key, None)  # nothing known: the call goes, and its answer sets the count
                    return 0.0
                # A new slice. Until one of its answers tells, it holds what one slice allows, and it
                # ends a whole number of slices after the last one: otherwise every backend's calls
                # would go unmetered until the first answer came back (on a loaded machine, more than
                # a slice's worth: 18 in a slice of 16, tests/integration/test_read_shared_budget.py).
                state["reset"] = reset + SLICE_S * (math.floor((now - reset) / SLICE_S) + 1)
                state["left"] = per_slice - 1
                state["guessed"] = True
                return 0.0
            left = state.get("left")
            if left is None or left > 0:
                if left is not None:
                    state["left"] = left - 1
                return 0.0
            return reset - now

        return self._update(spend, sleep or self._sleep)

    def wait_turn(self, sleep=None) -> None:
        """Returns when this backend may send; `sleep` (default: the budget's) waits (interruptibly, from
        the client) for the next slice."""
        sleep = sleep or self._sleep
        while True:
            wait = self.take(sleep)
            if wait <= 0:
                return
            sleep(wait)  # only a new slice brings budget back

    def observe(self, headers: Mapping[str, str]) -> None:
        limit, remaining, reset = rate_limit_state(headers)
        if remaining is None or reset is None:
            return
        reserve = round(limit * (1 - self.share)) if limit else 0
        usable = max(0, remaining - reserve)
        now = self._clock()

        def learn(state):
            per_slice = max(0, limit - reserve) if limit else state.get("slice")
            same_limit = per_slice == state.get("slice")
            if limit:
                state["slice"] = per_slice  # what one slice allows this server
            known = state.get("reset")
            if state.get("guessed") and reset > now:
                # The first answer of a slice take() began: its own reset, and no more than it has
                # left. Unless the limit changed: what take() counted was of the old one.
                left = state.get("left", usable)
                state["reset"], state["left"] = reset, min(left, usable) if same_limit else usable
                del state["guessed"]
                return None
            if known is not None and reset < known:
                return None  # an answer from an older slice
            if known is None or reset > known:
                state["reset"], state["left"] = reset, usable
                state.pop("guessed", None)
            else:
                left = state.get("left")
                state["left"] = usable if left is None else min(left, usable)
            return None

        try:
            self._update(learn, self._sleep)
        except Interrupted:
            # The statement was interrupted while this waited for the lock: the answer is not counted (the
            # next one will tell), and the caller, holding a response, sees the interrupt at its next check.
            pass


class BudgetedThrottle:
    """The client's own throttle (spacing within a backend) after the shared budget (across backends)."""

    def __init__(self, throttle, budget: SharedBudget):
        self._throttle, self._budget = throttle, budget

    def wait_turn(self, sleep=None) -> None:
        self._budget.wait_turn(sleep)
        self._throttle.wait_turn(sleep)

    def observe(self, headers: Mapping[str, str]) -> None:
        self._budget.observe(headers)
        self._throttle.observe(headers)

    @property
    def spacing(self) -> float:
        return self._throttle.spacing

    @property
    def remaining(self):
        """The last X-RateLimit-Remaining seen (http.backend_usage, for replication's reports)."""
        return self._throttle.remaining

    @property
    def last_state(self):
        return self._throttle.last_state
