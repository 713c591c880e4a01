"""Waits that end soon after the statement is interrupted, and requests that can be abandoned.

The client knows nothing of PostgreSQL. It is given `interrupted`, a callable answering whether the
statement was interrupted (cancel request, statement_timeout, terminate); the FDW passes one that
reads the backend's own flags, safe from any thread. Then:

- every wait (a 429's reset, backoff, the throttle, the companies scroll lock, a worker's result)
  runs in slices of policy.INTERRUPT_POLL_SECONDS and checks between them;
- a request sent from the backend's own thread (Python's main thread) runs in a thread of its own
  while the backend thread waits for it the same way; on an interrupt its connection's socket is
  shut down (`InFlight.abort`), which ends the request thread's read at once, and the wait raises
  `errors.Interrupted`;
- a request sent from a worker thread (read-ahead, get_many, bulk writes) runs in that thread,
  registered with its scope and every scope above it: whoever sees the statement interrupted
  aborts every registered request of the client, and a scope's stop() aborts its own. A worker
  registers before it checks for an interrupt, and the flags stay set while the backend thread is
  still in our code (waiting for that worker), so no request can start unseen after an abort.
  (A thread per request there too would cost a hand-over of the GIL per page: in a backend the
  runtime holds it while PostgreSQL works, so each hand-over waits out Python's switch interval.)

A scope (`Interrupts.scope()`) is stopped like an interrupt by its owner: a scan that no longer
wants the page read ahead stops that page's requests without waiting for them.

What can outlive an interrupt: a request thread still opening its TCP connection (or its TLS
handshake, before the socket exists) cannot be woken; it is left behind (a daemon thread) and
ends at the client's connect timeout, sending nothing once it is connected.
Without `interrupted` (unit tests, tools outside PostgreSQL) requests run in the calling thread
and waits are plain sleeps, as before.
"""
from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from concurrent.futures import Future
from typing import Callable, Optional

import urllib3.connection
import urllib3.connectionpool

from intercom_fdw.errors import Interrupted
from intercom_fdw.client.policy import ABANDON_GRACE_SECONDS, INTERRUPT_POLL_SECONDS, wait_slice
from intercom_fdw.client.workers import start_thread


class Interrupts:
    def __init__(self, interrupted: Optional[Callable[[], bool]] = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, parent: Optional["Interrupts"] = None):
        self._interrupted = interrupted
        self._sleep = sleep
        self._clock = clock
        self._parent = parent
        self._stopped = threading.Event()
        self._flights_lock = threading.Lock()
        self._flights: set = set()  # requests in flight in worker threads, of this scope and those below

    @property
    def active(self) -> bool:
        """Whether anything can interrupt (an interrupt check was given)."""
        return self._interrupted is not None

    def scope(self) -> "Interrupts":
        """A child that is interrupted with this one, and also when stopped itself."""
        return Interrupts(self._interrupted, self._sleep, self._clock, parent=self)

    def stop(self) -> None:
        """Interrupt this scope (and those below it): its waits end, its requests are abandoned."""
        self._stopped.set()
        self._abort_flights()

    def pending(self) -> bool:
        return self._stopped_here() or self._statement_interrupted()

    def _stopped_here(self) -> bool:
        node = self
        while node is not None:
            if node._stopped.is_set():
                return True
            node = node._parent
        return False

    def _root(self) -> "Interrupts":
        node = self
        while node._parent is not None:
            node = node._parent
        return node

    def _statement_interrupted(self) -> bool:
        interrupted = self._root()._interrupted
        return interrupted is not None and bool(interrupted())

    def check(self, in_flight: bool = False) -> None:
        if self._stopped_here():
            raise Interrupted(in_flight)
        if self._statement_interrupted():
            self._root()._abort_flights()  # the statement is over: every request of the client ends
            raise Interrupted(in_flight)

    def _register(self, flight: "InFlight") -> None:
        node = self
        while node is not None:
            with node._flights_lock:
                node._flights.add(flight)
            node = node._parent

    def _unregister(self, flight: "InFlight") -> None:
        node = self
        while node is not None:
            with node._flights_lock:
                node._flights.discard(flight)
            node = node._parent

    def _abort_flights(self) -> None:
        with self._flights_lock:
            flights = list(self._flights)
        for flight in flights:
            flight.abort()

    def sleep(self, seconds: float) -> None:
        if not self.active:
            self._sleep(seconds)
            return
        deadline = self._clock() + seconds
        while True:
            self.check()
            left = deadline - self._clock()
            if left <= 0:
                return
            self._sleep(wait_slice(left))

    def result(self, future: Future):
        """The future's result (or its exception), waiting in slices that check for an interrupt."""
        if not self.active:
            return future.result()
        while True:
            self.check()
            try:
                return future.result(timeout=INTERRUPT_POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                continue

    def first_done(self, futures) -> set:
        """The futures of `futures` that are done, once at least one is, waiting in slices that
        check for an interrupt."""
        while True:
            if self.active:
                self.check()
            done, _ = concurrent.futures.wait(futures, timeout=INTERRUPT_POLL_SECONDS if self.active else None,
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            if done:
                return done

    def settle(self, future: Future) -> bool:
        """Wait for a future nobody wants any more (cleanup): until it ends, or, once the statement is
        interrupted, for at most ABANDON_GRACE_SECONDS. Never raises. True when it ended.

        This scope's own stop() does not cut the wait short: the owner stops a scope to make its
        requests end (they do at once when requests can be abandoned, else at their own pace)."""
        while not future.done():
            if self._statement_interrupted():
                concurrent.futures.wait([future], timeout=ABANDON_GRACE_SECONDS)
                return future.done()
            concurrent.futures.wait([future], timeout=INTERRUPT_POLL_SECONDS)
        return True


# ---- requests that another thread can abandon ------------------------------------------------------

_current = threading.local()  # the InFlight of the request this thread is sending


class InFlight:
    """The connection of one request; `abort()` (from any thread) shuts its socket down."""

    def __init__(self):
        self._lock = threading.Lock()
        self._connection = None
        self.aborted = False
        self.started = False  # the request reached a connection: it may have been sent

    def attach(self, connection) -> None:
        with self._lock:
            self._connection = connection
            self.started = True
            if self.aborted:
                _shut_down(connection)
                raise ConnectionAbortedError("request abandoned after an interrupt")

    def detach(self, connection) -> None:
        """The request is over and its connection goes back to the pool: an abort from now on (the
        flight is unregistered only after the request returns) must leave it alone, or it would shut
        down the socket of whichever request takes the connection next."""
        with self._lock:
            if self._connection is connection:
                self._connection = None

    def abort(self) -> bool:
        """Shut the request's connection down; whether the request may have been sent."""
        with self._lock:
            self.aborted = True
            if self._connection is not None:
                _shut_down(self._connection)
            return self.started


def _shut_down(connection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a recv()/send() blocked in the request thread
        except OSError:
            pass


class _Abortable:
    """Registers the connection with the sending thread's InFlight before it connects or sends."""

    def connect(self):
        flight = getattr(_current, "flight", None)
        if flight is not None:
            flight.attach(self)
        super().connect()
        if flight is not None:
            flight.attach(self)  # aborted while connecting: the new socket is shut down at once

    def request(self, *args, **kwargs):
        flight = getattr(_current, "flight", None)
        if flight is not None:
            flight.attach(self)
        return super().request(*args, **kwargs)


class _HTTPConnection(_Abortable, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Abortable, urllib3.connection.HTTPSConnection):
    pass


class _Detaching:
    """Detaches a connection from the sending thread's InFlight as it goes back to the pool (urllib3
    puts it back in the thread that sent the request, once the answer is read)."""

    def _put_conn(self, conn) -> None:
        flight = getattr(_current, "flight", None)
        if flight is not None and conn is not None:
            flight.detach(conn)
        super()._put_conn(conn)


class _HTTPPool(_Detaching, urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_Detaching, urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def abortable_pools() -> dict:
    """urllib3's pool classes by scheme, for a pool manager (or an HTTP proxy's) whose connections an
    interrupted wait can shut down."""
    return {"http": _HTTPPool, "https": _HTTPSPool}


def send(interrupts: Interrupts, request: Callable, *args, **kwargs):
    """`request(*args, **kwargs)` (a Transport's request), abandoned on an interrupt with
    `errors.Interrupted`, its `in_flight` telling whether the request may have been sent. From the
    main (backend) thread it runs in a thread of its own, awaited with `interrupts`; from a worker,
    in the worker, registered so that an interrupt seen anywhere aborts it."""
    if not interrupts.active:
        return request(*args, **kwargs)
    flight = InFlight()
    if threading.current_thread() is not threading.main_thread():
        return _send_in_worker(interrupts, flight, request, args, kwargs)
    future: Future = Future()

    def run():
        _current.flight = flight
        try:
            future.set_result(request(*args, **kwargs))
        except BaseException as exc:  # handed to the waiting thread
            future.set_exception(exc)
        finally:
            _current.flight = None

    thread = start_thread(run, "intercom_fdw-http")
    try:
        return interrupts.result(future)
    except Interrupted:
        in_flight = flight.abort()
        thread.join(ABANDON_GRACE_SECONDS)
        raise Interrupted(in_flight) from None


def _send_in_worker(interrupts: Interrupts, flight: InFlight, request: Callable, args, kwargs):
    interrupts._register(flight)
    try:
        interrupts.check()  # after registering: from here on an abort reaches this request
        _current.flight = flight
        try:
            return request(*args, **kwargs)
        except Exception:
            if flight.aborted:
                raise Interrupted(flight.started) from None
            raise
        finally:
            _current.flight = None
    finally:
        interrupts._unregister(flight)
