"""Interrupts: every wait of the client ends soon after `interrupted()` says so, a request in flight
is abandoned (its connection shut down, its thread gone), and the pure decisions behind them."""
import socket
import sys
import threading
import time
from concurrent.futures import Future

import pytest

from intercom_fdw import errors, pg_interrupts
from intercom_fdw.client import ApiRequest
from intercom_fdw.client.interrupts import Interrupts
from intercom_fdw.client.policy import ABANDON_GRACE_SECONDS, INTERRUPT_POLL_SECONDS, list_can_replace_scroll, wait_slice
from tests.unit.test_client_intercom_double import Reply, TOKEN, error_list, serve
from tests.unit.test_client_paging import cursor_list
from intercom_fdw.client import IntercomClient

SOON = INTERRUPT_POLL_SECONDS + 0.15  # what "soon after the interrupt" may take here


class Flag:
    """An interrupt check that says yes `after` seconds from its creation (or when set)."""

    def __init__(self, after=None):
        self.at = None if after is None else time.monotonic() + after

    def set(self):
        self.at = time.monotonic()

    def __call__(self):
        return self.at is not None and time.monotonic() >= self.at


def our_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("intercom_fdw")]


def ended_within(seconds, action):
    started = time.monotonic()
    with pytest.raises(errors.Interrupted) as caught:
        action()
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"{elapsed:.2f} s"
    return caught.value


# ---- pure decisions ------------------------------------------------------------------------------

def test_wait_slices_are_short_and_never_negative():
    assert wait_slice(10.0) == INTERRUPT_POLL_SECONDS
    assert wait_slice(0.01) == 0.01
    assert wait_slice(-1.0) == 0.0


@pytest.mark.parametrize("total, ok", [(0, True), (60, True), (10_000, True), (10_001, False), (None, False),
                                       ("12", False), (True, False), (-1, False)])
def test_the_list_replaces_a_scroll_only_when_it_reaches_every_object(total, ok):
    assert list_can_replace_scroll(total, 10_000) is ok


@pytest.mark.parametrize("flags, due", [
    ((0, 1, 0, 0, 0, 0), False),  # InterruptPending not set: nothing to do yet
    ((1, 1, 0, 0, 0, 0), True),  # a cancel
    ((1, 0, 1, 0, 0, 0), True),  # a terminate
    ((1, 1, 0, 1, 0, 0), False),  # interrupts held off (HOLD_INTERRUPTS)
    ((1, 1, 0, 0, 0, 1), False),  # a critical section
    ((1, 1, 0, 0, 1, 0), False),  # cancels held off: the cancel waits
    ((1, 0, 1, 0, 1, 0), True),  # ... a terminate does not
    ((1, 0, 0, 0, 0, 0), False),  # another interrupt (a latch, a barrier): not ours to act on
])
def test_an_interrupt_is_due_when_process_interrupts_would_act_on_it(flags, due):
    assert pg_interrupts.interrupt_due(*flags) is due


@pytest.mark.parametrize("flags, due", [
    ((1, 0, 0, 0, 0, 0), True),  # the client is gone: the backend ends (FATAL) at the next check
    ((1, 0, 0, 0, 1, 0), True),  # ... cancels held off do not keep it
    ((1, 0, 0, 1, 0, 0), False),  # ... interrupts held off do
    ((0, 0, 0, 0, 0, 0), False),  # InterruptPending not set yet
])
def test_a_lost_client_is_due_as_a_terminate_is(flags, due):
    assert pg_interrupts.interrupt_due(*flags, client_lost=True) is due


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POLLRDHUP is Linux's")
def test_a_socket_whose_peer_went_is_closed_and_one_whose_peer_is_there_is_not():
    ours, peer = socket.socketpair()
    try:
        peer.sendall(b"unread")  # data waiting is not a close
        assert not pg_interrupts.socket_closed(ours.fileno())
        peer.close()
        assert pg_interrupts.socket_closed(ours.fileno())
    finally:
        ours.close()
    assert not pg_interrupts.socket_closed(-1)  # PGINVALID_SOCKET


def test_outside_a_backend_nothing_is_interrupted():
    assert not pg_interrupts.in_backend()
    assert pg_interrupts.interrupted() is False


def test_the_cancel_exception_is_what_both_runtimes_report_as_a_cancel():
    canceled = pg_interrupts.canceled()
    assert isinstance(canceled, KeyboardInterrupt)  # the bundled runtime: PostgreSQL's own 57014 report
    assert canceled._is_multicorn_exception and canceled.code == 3  # multicorn2: an ERROR with this message
    assert canceled.message.startswith("canceling statement")


# ---- waits -----------------------------------------------------------------------------------------

def test_a_long_sleep_ends_soon_after_the_interrupt():
    ended_within(0.3 + SOON, lambda: Interrupts(Flag(after=0.3)).sleep(60))


def test_waiting_for_a_future_ends_soon_after_the_interrupt():
    ended_within(0.2 + SOON, lambda: Interrupts(Flag(after=0.2)).result(Future()))


def test_without_an_interrupt_check_waits_are_plain():
    slept = []
    interrupts = Interrupts(sleep=slept.append)
    interrupts.sleep(42)
    assert slept == [42] and not interrupts.active
    done = Future()
    done.set_result(7)
    assert interrupts.result(done) == 7


def test_a_stopped_scope_is_interrupted_and_its_parent_is_not():
    parent = Interrupts(Flag())
    scope = parent.scope()
    scope.stop()
    assert scope.pending() and not parent.pending()
    with pytest.raises(errors.Interrupted):
        scope.check()


def test_settle_waits_for_the_end_unless_the_statement_is_interrupted():
    flag = Flag()
    interrupts = Interrupts(flag)
    later = Future()
    threading.Timer(0.2, later.set_result, (1,)).start()
    assert interrupts.settle(later)
    flag.set()
    started = time.monotonic()
    assert not interrupts.settle(Future())
    assert time.monotonic() - started < ABANDON_GRACE_SECONDS + 0.1


# ---- requests ----------------------------------------------------------------------------------------

def client(api, flag, **options):
    return IntercomClient(api.url, TOKEN, read_timeout=30, max_retries=3, interrupted=flag, **options)


def test_a_request_in_flight_is_abandoned_and_its_thread_ends():
    with serve(lambda request: Reply(200, {"type": "admin"}, delay=5)) as api:
        interrupt = ended_within(0.3 + SOON, lambda: client(api, Flag(after=0.3)).call("GET", "/me"))
        assert interrupt.in_flight
        time.sleep(0.05)
        assert our_threads() == []


def test_a_rate_limit_wait_ends_soon_after_the_interrupt():
    reset = str(int(time.time()) + 30)
    with serve(lambda request: Reply(429, error_list("rate_limit_exceeded", "slow down"),
                                     {"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"})) as api:
        interrupt = ended_within(0.3 + SOON, lambda: client(api, Flag(after=0.3)).call("GET", "/me"))
        assert not interrupt.in_flight  # it was waiting, no request out


ROWS = [{"type": "contact", "id": f"c{n}"} for n in range(6)]
CONTACTS = ApiRequest("GET", "/contacts", paging="cursor", per_page=2)


def slow_third_page(request):
    reply = cursor_list(ROWS)(request)
    if request.query.get("starting_after") == "4":
        reply.delay = 5
    return reply


def test_get_many_and_read_ahead_leave_no_thread_behind():
    with serve(slow_third_page) as api:
        flag = Flag()
        items = client(api, flag).iter_items(CONTACTS)
        [next(items) for _ in range(3)]  # page 3 is being read ahead now
        flag.set()
        ended_within(SOON + 0.1, lambda: list(items))
        fan = client(api, Flag(after=0.3)).get_many([CONTACTS] * 4, concurrency=2)
        ended_within(0.3 + SOON + 0.1, lambda: list(fan))
        time.sleep(0.05)
        assert our_threads() == []


def test_closing_a_scan_abandons_the_page_read_ahead_at_once():
    with serve(slow_third_page) as api:
        items = client(api, Flag()).iter_items(CONTACTS)
        [next(items) for _ in range(3)]
        started = time.monotonic()
        items.close()
        assert time.monotonic() - started < SOON


def test_an_abort_after_the_answer_leaves_the_pooled_connection_to_the_next_request():
    # A worker's flight is unregistered only after its request returns, by which time urllib3 has put
    # the connection back in the pool; a scope stopped in between (a scan closed early) aborts the
    # flight. It must not shut down the socket that the next request, maybe another statement's
    # write, has taken from the pool meanwhile.
    from urllib3.util.connection import is_connection_dropped

    from intercom_fdw.client import interrupts
    from intercom_fdw.client.transport import Transport

    with serve(lambda request: Reply(200, {"type": "admin"})) as api:
        transport = Transport(api.url, TOKEN, {"Accept": "application/json"}, (5, 5), max_connections=2)
        flight = interrupts.InFlight()
        interrupts._current.flight = flight
        try:
            assert transport.request("GET", api.url + "/me").status_code == 200
        finally:
            interrupts._current.flight = None
        pool = transport._manager.connection_from_url(api.url)
        taken = pool._get_conn()  # the next request's checkout, before the stale abort
        assert flight.abort()  # the request had been sent
        assert not is_connection_dropped(taken)
        pool._put_conn(taken)
        assert transport.request("GET", api.url + "/me").status_code == 200
