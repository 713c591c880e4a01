"""The client's retry and throttle decisions: pure functions, tested exhaustively."""
import random

import pytest

from intercom_fdw.client import policy

from intercom_fdw.client.policy import (
    CONNECT,
    MAX_RATE_LIMIT_WAIT,
    MIN_RATE_LIMIT_WAIT,
    TRANSPORT,
    backoff_delay,
    fresh_slice_spacing,
    is_idempotent,
    rate_limit_state,
    reserve_send_slot,
    retry_after_429,
    should_retry,
    throttle_delay,
)

METHODS = ["GET", "POST", "PUT", "DELETE"]


@pytest.mark.parametrize(
    "method,flag,expected",
    [("GET", None, True), ("get", None, True), ("PUT", None, True), ("DELETE", None, True),
     ("POST", None, False), ("POST", True, True), ("GET", False, False)],
)
def test_is_idempotent(method, flag, expected):
    assert is_idempotent(method, flag) is expected


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("flag", [None, True, False])
def test_429_and_connect_errors_are_always_retried_within_budget(method, flag):
    assert should_retry(method, flag, 429, None, 1, 3)
    assert should_retry(method, flag, None, CONNECT, 3, 3)
    assert not should_retry(method, flag, 429, None, 4, 3)
    assert not should_retry(method, flag, None, CONNECT, 4, 3)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599, 408])
def test_server_errors_are_retried_only_when_idempotent(status):
    assert should_retry("GET", None, status, None, 1, 5)
    assert should_retry("PUT", None, status, None, 1, 5)
    assert should_retry("DELETE", None, status, None, 1, 5)
    assert should_retry("POST", True, status, None, 1, 5)  # search
    assert not should_retry("POST", None, status, None, 1, 5)  # create: may have been processed
    assert not should_retry("GET", False, status, None, 1, 5)  # e.g. a scroll continuation


def test_transport_errors_after_sending_are_retried_only_when_idempotent():
    assert should_retry("GET", None, None, TRANSPORT, 1, 5)
    assert should_retry("POST", True, None, TRANSPORT, 1, 5)
    assert not should_retry("POST", None, None, TRANSPORT, 1, 5)
    assert not should_retry("POST", False, None, TRANSPORT, 1, 5)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501, 505])
@pytest.mark.parametrize("method", METHODS)
def test_permanent_answers_are_never_retried(status, method):
    assert not should_retry(method, True, status, None, 1, 5)


def test_unknown_failures_without_status_are_not_retried():
    assert not should_retry("GET", None, None, None, 1, 5)


def test_retry_budget_counts_attempts():
    assert [should_retry("GET", None, 503, None, a, 2) for a in (1, 2, 3, 4)] == [True, True, False, False]
    assert not should_retry("GET", None, 503, None, 1, 0)


class FixedRng:
    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


def test_backoff_is_exponential_up_to_the_cap():
    top = FixedRng(0.999999)
    ceilings = [backoff_delay(a, 0.5, 10.0, top) for a in range(1, 8)]
    assert ceilings == pytest.approx([0.5, 1, 2, 4, 8, 10, 10], rel=1e-5)


def test_backoff_is_full_jitter():
    assert backoff_delay(3, 0.5, 10.0, FixedRng(0.0)) == 0.0
    assert backoff_delay(3, 0.5, 10.0, FixedRng(0.5)) == pytest.approx(1.0)
    rng = random.Random(7)
    samples = [backoff_delay(4, 1.0, 30.0, rng) for _ in range(2000)]
    assert all(0 <= s <= 8.0 for s in samples)
    assert min(samples) < 0.5 and max(samples) > 7.5  # spread over the whole range


def test_backoff_survives_huge_attempt_numbers():
    assert backoff_delay(10_000, 0.5, 30.0, FixedRng(0.5)) == pytest.approx(15.0)


NOW = 1_000_000.0


@pytest.mark.parametrize(
    "remaining,reset,limit,expected",
    [
        (None, NOW + 10, 1000, 0.0),  # no headers: no information
        (100, None, 1000, 0.0),
        (900, NOW + 10, 1000, 0.0),  # plenty left
        (200, NOW + 10, 1000, 0.0),  # exactly at the low-water mark: still full speed
        (100, NOW + 10, 1000, 0.1),  # 100 calls over 10 s
        (5, NOW + 10, 1000, 2.0),
        (1, NOW + 4, 1000, 4.0),
        (0, NOW + 7, 1000, 7.0),  # nothing left: wait for the reset
        (0, NOW - 3, 1000, 0.0),  # reset already passed
        (10, NOW - 3, 1000, 0.0),
        (0, NOW + 7, None, 7.0),  # limit unknown: only an empty budget slows down
        (3, NOW + 6, None, 0.0),
    ],
)
def test_throttle_delay(remaining, reset, limit, expected):
    assert throttle_delay(remaining, reset, NOW, limit) == pytest.approx(expected)


def test_throttle_spreads_the_remaining_budget_over_the_window():
    # 150 calls left of 1000, 9 s to the reset: the spaced calls end right at the reset.
    spacing = throttle_delay(150, NOW + 9, NOW, 1000)
    assert spacing * 150 == pytest.approx(9.0)


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"X-RateLimit-Reset": str(int(NOW + 6))}, 6.0),
        ({"X-RateLimit-Reset": str(int(NOW - 5))}, MIN_RATE_LIMIT_WAIT),  # clock skew
        ({"X-RateLimit-Reset": str(int(NOW + 3600))}, MAX_RATE_LIMIT_WAIT),
        ({"Retry-After": "3"}, 3.0),
        ({"X-RateLimit-Reset": str(int(NOW + 2)), "Retry-After": "9"}, 2.0),  # Intercom's header wins
        ({}, None),
        ({"X-RateLimit-Reset": "soon"}, None),
    ],
)
def test_retry_after_429(headers, expected):
    assert retry_after_429(headers, NOW) == (pytest.approx(expected) if expected is not None else None)


def test_rate_limit_state_reads_intercom_headers():
    assert rate_limit_state({"X-RateLimit-Limit": "1666", "X-RateLimit-Remaining": "12",
                             "X-RateLimit-Reset": "1700000010"}) == (1666, 12, 1700000010.0)
    assert rate_limit_state({}) == (None, None, None)
    assert rate_limit_state({"X-RateLimit-Remaining": "x"}) == (None, None, None)


@pytest.mark.parametrize("limit,expected", [(100, 0.1), (1000, 0.01), (None, 0.0), (0, 0.0)])
def test_a_fresh_slice_spreads_its_whole_budget_over_ten_seconds(limit, expected):
    assert fresh_slice_spacing(limit) == pytest.approx(expected)


@pytest.mark.parametrize(
    "now,next_slot,spacing,reset,limit,expected",
    [
        (NOW, 0.0, 0.0, NOW + 10, 1000, (NOW, NOW)),  # full speed
        (NOW, NOW + 1, 2.0, NOW + 10, 1000, (NOW + 1, NOW + 3)),  # spaced inside the slice
        (NOW, 0.0, 0.0, None, None, (NOW, NOW)),  # no headers seen yet
        (NOW, NOW + 1, 2.0, None, None, (NOW + 1, NOW + 3)),
        # the old slice's spacing stops at its reset: the next slot is the reset, not 4 s after it
        (NOW, NOW + 3, 5.0, NOW + 4, 100, (NOW + 3, NOW + 4)),
        # after a 429 (nothing left, 6 s to the reset): the first resend goes at the reset, the next
        # ones a tenth of a second apart (100 calls per slice), not 6 s apart
        (NOW, NOW + 6, 6.0, NOW + 6, 100, (NOW + 6, NOW + 6.1)),
        (NOW, NOW + 6.1, 6.0, NOW + 6, 100, (NOW + 6.1, NOW + 6.2)),
        (NOW + 7, NOW + 6.1, 6.0, NOW + 6, 100, (NOW + 7, NOW + 7.1)),  # woke late: now, then the fresh spacing
        (NOW + 7, NOW + 6.1, 6.0, NOW + 6, None, (NOW + 7, NOW + 7)),
    ],
)
def test_reserve_send_slot(now, next_slot, spacing, reset, limit, expected):
    assert reserve_send_slot(now, next_slot, spacing, reset, limit) == pytest.approx(expected)


@pytest.mark.parametrize("has_rule, attempt, expected", [
    (True, 1, True), (True, 3, True), (True, 4, False),  # within max_retries (3)
    (False, 1, False),  # no conflict rule: a second send could create a second object
])
def test_a_create_is_resent_only_where_a_duplicate_is_answered_with_a_conflict(has_rule, attempt, expected):
    assert policy.should_resend_create(has_rule, attempt, max_retries=3) is expected


def test_resend_delay_grows_within_its_bounds():
    class Top:
        @staticmethod
        def random():
            return 0.999999

    low, cap = policy.RESEND_BACKOFF
    assert policy.resend_delay(1, Top) == pytest.approx(low, rel=1e-4)
    assert policy.resend_delay(3, Top) == pytest.approx(4 * low, rel=1e-4)
    assert policy.resend_delay(30, Top) <= cap
