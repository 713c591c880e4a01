"""The throttle's state across workers and rate-limit slices, with an injected clock and sleep."""
import pytest

from intercom_fdw.client.throttle import Throttle
from tests.unit.test_client_intercom_double import FakeClock

NOW = 1_700_000_000.0


def headers(remaining, reset, limit=100):
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset))}


def planned_waits(throttle, clock, workers):
    """What each of `workers` concurrent callers sleeps (the clock does not move while they plan)."""
    for _ in range(workers):
        throttle.wait_turn()
    return clock.sleeps


def test_after_a_429_every_waiting_worker_goes_at_the_reset_a_fresh_spacing_apart():
    clock = FakeClock(NOW, advance=False)
    throttle = Throttle(clock, clock.sleep)
    throttle.observe(headers(0, NOW + 6))  # the 429: 6 s left in the slice
    # 100 calls per 10-second slice: a tenth of a second apart, not 6 s apart
    assert planned_waits(throttle, clock, 4) == pytest.approx([6.0, 6.1, 6.2, 6.3])


def test_a_low_budget_is_spread_up_to_the_reset_and_not_beyond():
    clock = FakeClock(NOW, advance=False)
    throttle = Throttle(clock, clock.sleep)
    throttle.observe(headers(2, NOW + 5))  # 2 calls left for 5 s: 2.5 s apart until the reset
    assert planned_waits(throttle, clock, 4) == pytest.approx([2.5, 5.0, 5.1, 5.2])


def test_slots_planned_before_the_budget_came_back_are_dropped():
    clock = FakeClock(NOW, advance=False)
    throttle = Throttle(clock, clock.sleep)
    throttle.observe(headers(0, NOW + 6))
    planned_waits(throttle, clock, 3)
    clock.now = NOW + 6.05
    throttle.observe(headers(99, NOW + 16))  # the first resend succeeded: the new slice has plenty
    throttle.wait_turn()
    assert clock.sleeps == pytest.approx([6.0, 6.1, 6.2])  # the next caller did not sleep


def test_a_worker_asleep_under_an_old_plan_reserves_again_when_the_plan_changes():
    clock = FakeClock(NOW)
    news = [headers(0, NOW + 16)]  # while it sleeps, another worker's resend is refused again

    def sleep(seconds):
        clock.sleep(seconds)
        while news:
            throttle.observe(news.pop())

    throttle = Throttle(clock, sleep)
    throttle.observe(headers(0, NOW + 6))
    throttle.wait_turn()
    # it woke at the old reset, saw the newer slice's 429, and waited for that reset instead of sending
    assert clock.sleeps == pytest.approx([6.0, 10.0]) and clock.now == pytest.approx(NOW + 16)


def test_headers_of_an_older_slice_do_not_undo_a_newer_plan():
    clock = FakeClock(NOW + 7, advance=False)
    throttle = Throttle(clock, clock.sleep)
    throttle.observe(headers(0, NOW + 16))
    throttle.observe(headers(50, NOW + 6))  # a late response from the slice that ended at NOW + 6
    assert planned_waits(throttle, clock, 1) == pytest.approx([9.0])
