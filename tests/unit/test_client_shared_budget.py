"""client/shared_budget.py: one count per workspace, shared through a file by every client."""
import fcntl
import os
import time

import pytest

from intercom_fdw.client.shared_budget import LOCK_RETRY_S, SharedBudget
from intercom_fdw.errors import Interrupted


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def headers(remaining, reset, limit=100):
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}


def budgets(tmp_path, clock, n=2, share=1.0):
    return [SharedBudget("k", share, str(tmp_path), clock, clock.sleep) for _ in range(n)]


def test_two_clients_spend_one_count(tmp_path):
    clock = Clock()
    a, b = budgets(tmp_path, clock)
    assert a.take() == 0.0  # nothing known yet: the call goes
    a.observe(headers(3, 1010))
    assert [a.take(), b.take(), a.take()] == [0.0, 0.0, 0.0]
    assert b.take() == 10.0  # the count is spent: wait for the reset
    clock.now = 1010
    assert b.take() == 0.0  # a new slice


def test_headers_lower_the_count_and_an_older_slice_changes_nothing(tmp_path):
    clock = Clock()
    a, b = budgets(tmp_path, clock)
    a.observe(headers(50, 1010))
    b.observe(headers(1, 1010))  # another app (or machine) spent the rest
    assert a.take() == 0.0 and a.take() == 10.0
    a.observe(headers(90, 1000))  # a late answer from the previous slice
    assert a.take() == 10.0


def test_share_leaves_headroom(tmp_path):
    clock = Clock()
    (a,) = budgets(tmp_path, clock, n=1, share=0.9)
    a.observe(headers(12, 1010, limit=100))  # 10 of every 100 are left to others: 2 usable
    assert [a.take(), a.take(), a.take()] == [0.0, 0.0, 10.0]


def test_wait_turn_sleeps_until_the_reset(tmp_path):
    clock = Clock()
    (a,) = budgets(tmp_path, clock, n=1)
    a.observe(headers(0, 1003))
    a.wait_turn()
    assert clock.now >= 1003


def test_a_budgeted_throttle_reports_what_the_clients_own_throttle_saw():
    # http.backend_usage reads `remaining` from every client's throttle, budgeted or not
    from intercom_fdw.client.shared_budget import BudgetedThrottle
    from intercom_fdw.client.throttle import Throttle

    own = Throttle(lambda: 0.0, lambda s: None)
    own.remaining = 42
    assert BudgetedThrottle(own, budget=None).remaining == 42


def test_a_new_slice_holds_what_one_slice_allows_until_its_first_answer(tmp_path):
    clock = Clock()
    a, b = budgets(tmp_path, clock)
    a.observe(headers(0, 1010, limit=5))
    assert b.take() == 10.0
    clock.now = 1012  # the slice turned over (Intercom's next reset: 1020) and no answer of it came yet
    assert [a.take(), b.take(), a.take(), b.take(), a.take()] == [0.0] * 5
    assert b.take() == 8.0  # five calls in flight: the slice's whole budget
    b.observe(headers(1, 1020, limit=5))  # its first answer: Intercom saw 4; still none for us
    assert a.take() == 8.0
    clock.now = 1020
    assert a.take() == 0.0


def test_a_late_answer_of_the_old_slice_does_not_undo_the_new_one(tmp_path):
    clock = Clock()
    a, = budgets(tmp_path, clock, n=1)
    a.observe(headers(0, 1010, limit=3))
    clock.now = 1010.5
    assert [a.take(), a.take(), a.take()] == [0.0] * 3
    a.observe(headers(40, 1010, limit=3))  # an answer from the slice that ended at 1010
    assert a.take() == 9.5
    a.observe(headers(2, 1020, limit=3))  # the new slice's own answer
    assert a.take() == 9.5  # min(our count, Intercom's): nothing left either way


def test_a_raised_limit_is_taken_from_the_new_slice_s_first_answer(tmp_path):
    clock = Clock()
    a, = budgets(tmp_path, clock, n=1)
    a.observe(headers(0, 1010, limit=1))  # a slice of one call, spent
    clock.now = 1010
    assert a.take() == 0.0  # the new slice's one call
    assert a.take() == 10.0
    a.observe(headers(99_999, 1020, limit=100_000))  # its answer: the limit is now 100,000
    assert [a.take() for _ in range(50)] == [0.0] * 50


def test_a_file_that_cannot_be_used_leaves_each_process_its_own_count(tmp_path):
    # Another user's file (a CLI run as someone else on the database host), a symlink or a directory in
    # its place: the calls go on, counted by this process alone, and nothing is written through it.
    import os

    from intercom_fdw.client.shared_budget import budget_path

    clock = Clock()
    path = budget_path("k", str(tmp_path))
    target = tmp_path / "elsewhere"
    target.write_text("")
    os.symlink(target, path)
    a, b = budgets(tmp_path, clock)
    assert a.take() == 0.0
    a.observe(headers(2, 1010))
    assert [a.take(), b.take(), a.take()] == [0.0, 0.0, 10.0]  # one count for the process still
    assert target.read_text() == "" and os.path.islink(path)  # nothing written through the link
    os.unlink(path)
    if os.geteuid() == 0:  # a file of another user (only root can make one here)
        with open(path, "w") as made:
            made.write('{"reset": 1010, "left": 50, "slice": 50}')  # plenty, were it read
        os.chown(path, 65534, 65534)
        c = SharedBudget("k", 1.0, str(tmp_path), clock, clock.sleep)
        assert c.take() == 10.0  # this process's own count (spent above), not the other user's file
        assert open(path).read() == '{"reset": 1010, "left": 50, "slice": 50}'


def test_the_file_name_holds_the_os_user_and_never_the_token(tmp_path):
    import os

    from intercom_fdw.client.scroll_lock import workspace_key
    from intercom_fdw.client.shared_budget import budget_path

    path = budget_path(workspace_key("https://api.intercom.io", "secret-token-123"), str(tmp_path))
    assert f"-{os.geteuid()}-" in os.path.basename(path) and "secret-token-123" not in path


class Interrupting:
    """An interruptible sleep as the client's: raises errors.Interrupted once `after` waits have passed."""

    def __init__(self, after):
        self.after, self.waits = after, []

    def __call__(self, seconds):
        if len(self.waits) >= self.after:
            raise Interrupted()
        self.waits.append(seconds)


def held(path):
    """The budget file's lock taken by another open file (as another backend would hold it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_budget_file_locked_by_a_stopped_backend_does_not_stop_a_cancel(tmp_path):
    clock = Clock()
    (a,) = budgets(tmp_path, clock, n=1)
    a.observe(headers(3, 1010))
    fd = held(a.path)
    try:
        sleep = Interrupting(after=5)
        with pytest.raises(Interrupted):
            a.wait_turn(sleep)  # a blocking flock would never return
        assert sleep.waits == list(LOCK_RETRY_S) + [LOCK_RETRY_S[-1]]
        # observe() holds an answer already: an interrupt while it waits loses the count, not the answer
        b = SharedBudget("k", 1.0, str(tmp_path), clock, Interrupting(after=2))
        b.observe(headers(0, 1010))
    finally:
        os.close(fd)
    assert a.take() == 0.0  # the lock is free again; the skipped answer (0 left) was not counted


def test_the_budget_lock_is_taken_once_its_holder_lets_go(tmp_path):
    clock = Clock()
    (a,) = budgets(tmp_path, clock, n=1)
    a.observe(headers(3, 1010))
    fd = held(a.path)

    def sleep(seconds):
        sleep.waits += 1
        if sleep.waits == 3:
            os.close(fd)  # the other backend is done

    sleep.waits = 0
    assert a.take(sleep) == 0.0 and sleep.waits == 3
    assert [a.take(), a.take(), a.take()] == [0.0, 0.0, 10.0]  # the count goes on from the file: 3 left, then 2, 1, 0


def test_a_thread_waiting_for_another_threads_turn_sees_an_interrupt(tmp_path):
    clock = Clock()
    (a,) = budgets(tmp_path, clock, n=1)
    a._threads.acquire()  # another thread of this backend is in the file (and stuck there)
    try:
        started = time.monotonic()
        with pytest.raises(Interrupted):
            a.take(Interrupting(after=1))
        assert time.monotonic() - started < 5
    finally:
        a._threads.release()
