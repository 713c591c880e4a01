"""Retry and throttle decisions as pure functions (no I/O, no clock, no randomness of their own).

The HTTP loop in `http.py` asks these functions what to do; they are unit-tested exhaustively.
Intercom facts behind them (see shared/intercom-api-notes.md):
- a 429 means Intercom did not process the request, so it is always safe to send it again,
  after `X-RateLimit-Reset` (UNIX seconds);
- limits are enforced in 10-second slices and every response carries `X-RateLimit-Limit`,
  `X-RateLimit-Remaining` and `X-RateLimit-Reset`, so a client can slow down before a 429.
"""
from __future__ import annotations

from typing import Mapping, Optional

# What went wrong without an HTTP status:
#   "connect"   - no connection was established (connect timeout, refused, DNS): nothing was sent,
#                 so even a create may be sent again;
#   "transport" - the connection broke or timed out after the request may have been sent.
CONNECT = "connect"
TRANSPORT = "transport"

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})

# 501/505 say the server will never do this; every other 5xx may be transient.
_PERMANENT_SERVER_STATUSES = frozenset({501, 505})

# Throttle: below this share of the window's limit, calls are spread over the time to reset.
# Above it the client runs at full speed (a sleep per call would cost throughput for nothing).
THROTTLE_START_FRACTION = 0.2
# X-RateLimit-Reset has one-second resolution and clocks differ: never plan a 429 retry sooner.
MIN_RATE_LIMIT_WAIT = 1.0
MAX_RATE_LIMIT_WAIT = 60.0
# Intercom counts calls in 10-second slices; a fresh slice's budget is the whole `limit`.
RATE_LIMIT_SLICE_SECONDS = 10.0


def is_idempotent(method: str, idempotent: Optional[bool] = None) -> bool:
    """An explicit flag wins (search POSTs are idempotent); otherwise HTTP semantics decide."""
    if idempotent is not None:
        return idempotent
    return method.upper() in IDEMPOTENT_METHODS


def should_retry(
    method: str,
    idempotent: Optional[bool],
    status: Optional[int],
    error_kind: Optional[str],
    attempt: int,
    max_retries: int,
) -> bool:
    """May the request that just failed (its `attempt`-th send, from 1) be sent again?

    `status` is the HTTP status when there was a response, `error_kind` CONNECT/TRANSPORT otherwise.
    """
    if attempt > max_retries:
        return False
    if status == 429 or error_kind == CONNECT:
        return True  # Intercom did not process it / it never left this machine
    if not is_idempotent(method, idempotent):
        return False  # it may have reached Intercom: a second send could create a second object
    if error_kind == TRANSPORT or status == 408:
        return True
    return status is not None and status >= 500 and status not in _PERMANENT_SERVER_STATUSES


def backoff_delay(attempt: int, base: float, cap: float, rng) -> float:
    """Bounded exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))].

    `rng` is anything with `.random()` in [0, 1) (random.Random); jitter keeps several backends
    that failed together from retrying together.
    """
    exponent = min(max(attempt - 1, 0), 32)  # 2**32 * base exceeds any sane cap already
    ceiling = min(cap, base * (2 ** exponent))
    return rng.random() * ceiling


# Backoff of a resent create (seconds): short, Intercom's 5xx are brief.
RESEND_BACKOFF = (0.2, 5.0)


def should_resend_create(has_conflict_rule: bool, attempt: int, max_retries: int) -> bool:
    """A create failed ambiguously (a 5xx, a broken connection: it may have reached Intercom), so the
    client did not send it again: may the writer? Only where a second send cannot make a second
    object, because Intercom answers a duplicate create with a conflict naming the existing object
    (the spec's `Conflict` rule: contacts by email or external_id); and within max_retries."""
    return has_conflict_rule and attempt <= max_retries


def resend_delay(attempt: int, rng) -> float:
    """Seconds before the `attempt`-th resend of a create (backoff_delay within RESEND_BACKOFF)."""
    return backoff_delay(attempt, *RESEND_BACKOFF, rng)


def throttle_delay(
    remaining: Optional[int], reset_epoch: Optional[float], now: float, limit: Optional[int]
) -> float:
    """Seconds to leave between calls so that the remaining budget lasts until the window resets.

    With plenty left (at least THROTTLE_START_FRACTION of `limit`) there is no delay. Below that,
    the remaining calls are spread evenly over the seconds to reset; with none left, wait for the
    reset. Unknown headers mean no information, hence no delay.
    """
    if remaining is None or reset_epoch is None:
        return 0.0
    seconds_to_reset = max(reset_epoch - now, 0.0)
    if remaining <= 0:
        return seconds_to_reset
    low_water = limit * THROTTLE_START_FRACTION if limit else 1
    if remaining >= low_water:
        return 0.0
    return seconds_to_reset / remaining


def fresh_slice_spacing(limit: Optional[int]) -> float:
    """Seconds between sends at the start of a slice nothing has been spent from yet: its whole budget
    spread over the slice, so that workers that waited for the reset do not all go in the same instant.
    Unknown limit: no spacing (the first response will tell)."""
    return RATE_LIMIT_SLICE_SECONDS / limit if limit and limit > 0 else 0.0


def reserve_send_slot(
    now: float, next_slot: float, spacing: float, reset_epoch: Optional[float], limit: Optional[int]
) -> tuple:
    """(slot, next_slot): when the caller may send, and the earliest slot left for the caller after it.

    `spacing` (throttle_delay) was planned for the slice that ends at `reset_epoch`, so it never carries
    over into the next slice: a slot inside the old slice leaves the next one no later than the reset,
    and a slot at or after the reset is spaced for the fresh slice's budget (fresh_slice_spacing).
    Without this, the seconds left until a 429's reset would space every resend after it.
    """
    slot = max(now, next_slot)
    if reset_epoch is None:
        return slot, slot + spacing
    if slot < reset_epoch:
        return slot, min(slot + spacing, reset_epoch)
    return slot, slot + fresh_slice_spacing(limit)


def retry_after_429(headers: Mapping[str, str], now: float) -> Optional[float]:
    """Seconds to wait before resending a request that got 429, or None when the headers don't say.

    Intercom sends `X-RateLimit-Reset` (UNIX seconds); a standard `Retry-After` (seconds) is
    honoured too, for proxies. The wait is kept within [MIN_RATE_LIMIT_WAIT, MAX_RATE_LIMIT_WAIT]:
    a reset in the past (clock skew) still waits a little, a reset far away is not trusted blindly.
    """
    reset = _number(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        wait = reset - now
    else:
        wait = _number(headers.get("Retry-After"))
        if wait is None:
            return None
    return min(max(wait, MIN_RATE_LIMIT_WAIT), MAX_RATE_LIMIT_WAIT)


def rate_limit_state(headers: Mapping[str, str]) -> tuple:
    """(limit, remaining, reset_epoch) from a response's headers; None where absent or malformed."""
    limit = _number(headers.get("X-RateLimit-Limit"))
    remaining = _number(headers.get("X-RateLimit-Remaining"))
    reset = _number(headers.get("X-RateLimit-Reset"))
    return (
        int(limit) if limit is not None else None,
        int(remaining) if remaining is not None else None,
        reset,
    )


def _number(value) -> Optional[float]:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ---- interrupts (query cancel, statement_timeout, terminate) -------------------------------------
# Every wait of the client (429 resets, backoff, the throttle, the scroll lock, a request in flight,
# a worker's result) is cut into slices of at most this length, and the interrupt check runs between
# slices: a cancel ends any wait within this time, plus what shutting a connection down takes.
INTERRUPT_POLL_SECONDS = 0.05
# After a cancel, how long a wait still gives the thread it waited on to end (its connection was
# shut down, so it ends at once unless it is still connecting), before leaving it behind.
ABANDON_GRACE_SECONDS = 0.25


def wait_slice(remaining: float, poll: float = INTERRUPT_POLL_SECONDS) -> float:
    """The next piece of a wait with `remaining` seconds to go: at most `poll`, never negative."""
    return min(max(remaining, 0.0), poll)


def list_can_replace_scroll(total_count, reach: int) -> bool:
    """May a page-numbered list stand in for a scroll that cannot be opened (one is open already)?

    Only when it is exact: the list says how many objects there are (`total_count`) and reaches them
    all (Intercom's companies list stops at 10,000). Without a count, or beyond the reach, it cannot.
    """
    return isinstance(total_count, int) and not isinstance(total_count, bool) and 0 <= total_count <= reach
