"""Is this PostgreSQL backend being interrupted? Read from the backend's own flags, from any thread.

A query cancel (pg_cancel_backend, a client's cancel request), a statement_timeout (its timer sends
the backend SIGINT) and a terminate (pg_terminate_backend, SIGTERM) only set flags; PostgreSQL acts
on them at its next CHECK_FOR_INTERRUPTS(), which never runs while Python waits on Intercom. So the
HTTP client is handed `interrupted()` (it polls it in every wait) and the FDW's edge raises
`StatementCanceled` once a wait gave up.

Why not `multicorn.utils.check_interrupts()`: in multicorn2 3.2 it runs CHECK_FOR_INTERRUPTS()
itself, which reports the cancel by longjmp straight through the Python frames (no `finally`
runs, the scroll lock and worker threads are left behind, the interpreter's state is broken). The
bundled runtime's version only raises KeyboardInterrupt, but the flags serve both runtimes.

The flags are globals the postgres executable exports (`nm -D .../bin/postgres`; miscadmin.h):
`volatile sig_atomic_t InterruptPending, QueryCancelPending, ProcDiePending` and
`volatile uint32 InterruptHoldoffCount, QueryCancelHoldoffCount, CritSectionCount`. Reading them is
what CHECK_FOR_INTERRUPTS() does; nothing here calls a PostgreSQL function.

A client gone (its process killed, the network down) is an interrupt too, of a terminate's kind: the
backend ends (FATAL "connection to client lost") at its next CHECK_FOR_INTERRUPTS(). PostgreSQL learns
of it only from the socket: a write that fails sets `ClientConnectionLost` (and InterruptPending); with
client_connection_check_interval set (PostgreSQL 14+; the replicate and sync CLIs set it), a timer sets
`CheckClientConnectionPending` and InterruptPending, and ProcessInterrupts() then polls the socket,
which never happens while Python waits. So when CheckClientConnectionPending is set this module polls
the client's socket itself, as pq_check_connection() does (POLLRDHUP, zero timeout): `MyProcPort`
(`Port *`, NULL in a process without a client) points at the connection, whose first field is
`pgsocket sock` (an int; libpq/libpq-be.h of PostgreSQL 15). Linux only (POLLRDHUP); elsewhere only
ClientConnectionLost is read.

Each call is cheap: nothing but InterruptPending is read while it is clear (the row path's case), and
the socket is polled only while a connection check is due.

What the user sees (see `StatementCanceled`):
- bundled runtime (multicorn_compat): it reports a KeyboardInterrupt raised while an interrupt is
  pending as PostgreSQL itself would: SQLSTATE 57014 "canceling statement due to user request" or
  "... due to statement timeout"; a terminate is FATAL 57P01 "terminating connection due to
  administrator command".
- multicorn2 3.2: it reports an exception carrying `_is_multicorn_exception` as ERROR with its
  `message`, SQLSTATE XX000 (multicorn2 sets no code): "canceling statement due to user request or
  statement timeout" (the flags do not tell which). PostgreSQL then drops the pending cancel with the
  error; a pending terminate still ends the backend (FATAL 57P01) right after, a lost client (FATAL
  08006 "connection to client lost") too.
"""
from __future__ import annotations

import ctypes
import select
from typing import Optional

from intercom_fdw.errors import CANCELED_MESSAGE

# PostgreSQL's messages of the FATAL that ends the backend (postgres.c, ProcessInterrupts)
TERMINATED = "terminating connection due to administrator command"
CLIENT_LOST = "connection to client lost"
_FLAGS = ("InterruptPending", "QueryCancelPending", "ProcDiePending")
_COUNTS = ("InterruptHoldoffCount", "QueryCancelHoldoffCount", "CritSectionCount")
# pq_check_connection()'s WL_SOCKET_CLOSED: the peer closed (POLLRDHUP), or the socket failed
_CLOSED = getattr(select, "POLLRDHUP", 0) and select.POLLRDHUP | select.POLLHUP | select.POLLERR


def interrupt_due(pending: int, cancel: int, die: int, holdoff: int, cancel_holdoff: int, critical: int,
                  client_lost: bool = False) -> bool:
    """Would CHECK_FOR_INTERRUPTS() now stop the statement? (ProcessInterrupts' own conditions.)

    Nothing while interrupts are held off or in a critical section; a cancel not while cancels are
    held off (the backend is then reading a client message: the cancel waits); a terminate or a lost
    client always.
    """
    if not pending or holdoff or critical:
        return False
    return bool(die) or client_lost or (bool(cancel) and not cancel_holdoff)


def socket_closed(fd: int) -> bool:
    """Whether the peer of socket `fd` has gone (pq_check_connection's test); False where it cannot tell."""
    if not _CLOSED or fd < 0:
        return False
    poller = select.poll()
    try:
        poller.register(fd, _CLOSED)
        return any(events & _CLOSED for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


class _BackendFlags:
    def __init__(self, library):
        self.pending, self.cancel, self.die = (ctypes.c_int.in_dll(library, name) for name in _FLAGS)  # sig_atomic_t
        self.counts = [ctypes.c_uint32.in_dll(library, name) for name in _COUNTS]
        try:  # PostgreSQL 14+
            self.check_due = ctypes.c_int.in_dll(library, "CheckClientConnectionPending")
            self.lost = ctypes.c_int.in_dll(library, "ClientConnectionLost")
            self.port = ctypes.c_void_p.in_dll(library, "MyProcPort")
        except ValueError:
            self.check_due = self.lost = self.port = None

    def client_lost(self) -> bool:
        if self.lost is None:
            return False
        if self.lost.value:
            return True
        if not self.check_due.value:
            return False
        port = self.port.value
        return bool(port) and socket_closed(ctypes.c_int.from_address(port).value)  # Port.sock: its first field

    def interrupted(self) -> bool:
        if not self.pending.value:
            return False
        holdoff, cancel_holdoff, critical = (count.value for count in self.counts)
        return interrupt_due(True, self.cancel.value, self.die.value, holdoff, cancel_holdoff, critical,
                             self.client_lost())

    def ending(self) -> Optional[str]:
        if self.die.value:
            return TERMINATED
        return CLIENT_LOST if self.client_lost() else None


def _load() -> Optional[_BackendFlags]:
    try:
        return _BackendFlags(ctypes.CDLL(None))  # the process's own symbols: the postgres executable's
    except (OSError, ValueError):  # not inside a PostgreSQL backend (unit tests, tools)
        return None


_backend = _load()


def interrupted() -> bool:
    """Whether the statement is being canceled, timed out or its backend terminated; False outside a backend."""
    return _backend is not None and _backend.interrupted()


def ending() -> Optional[str]:
    """Why the backend ends at PostgreSQL's next check, in PostgreSQL's words: it is being terminated
    (pg_terminate_backend) or its client is gone. None when it is not ending (or outside a backend)."""
    return None if _backend is None else _backend.ending()


def in_backend() -> bool:
    return _backend is not None


class StatementCanceled(KeyboardInterrupt):
    """Raised by the FDW when the client gave up a wait because the backend was interrupted.

    A KeyboardInterrupt, because that is what the bundled runtime reports as PostgreSQL's own cancel
    (57014, or the FATAL of a terminate); it carries multicorn2's error-report attributes, because
    that is what multicorn2 3.2 reports as a plain ERROR with this message (XX000).
    """

    _is_multicorn_exception = True

    def __init__(self, ending: Optional[str] = None):
        self.message = ending or CANCELED_MESSAGE
        self.code = 3  # multicorn.utils.REPORT_CODES[ERROR]: PostgreSQL ends a terminating backend itself
        self.hint = None
        self.detail = "intercom_fdw stopped waiting for Intercom when the backend was interrupted"
        super().__init__(self.message)


def canceled() -> StatementCanceled:
    return StatementCanceled(ending())
