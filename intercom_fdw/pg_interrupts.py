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

What the user sees (see `StatementCanceled`):
- bundled runtime (multicorn_compat): it reports a KeyboardInterrupt raised while an interrupt is
  pending as PostgreSQL itself would: SQLSTATE 57014 "canceling statement due to user request" or
  "... due to statement timeout"; a terminate is FATAL 57P01 "terminating connection due to
  administrator command".
- multicorn2 3.2: it reports an exception carrying `_is_multicorn_exception` as ERROR with its
  `message`, SQLSTATE XX000 (multicorn2 sets no code): "canceling statement due to user request or
  statement timeout" (the flags do not tell which). PostgreSQL then drops the pending cancel with the
  error; a pending terminate still ends the backend (FATAL 57P01) right after.
"""
from __future__ import annotations

import ctypes
from typing import Optional

from intercom_fdw.errors import CANCELED_MESSAGE

_FLAGS = ("InterruptPending", "QueryCancelPending", "ProcDiePending")
_COUNTS = ("InterruptHoldoffCount", "QueryCancelHoldoffCount", "CritSectionCount")


def interrupt_due(pending: int, cancel: int, die: int, holdoff: int, cancel_holdoff: int, critical: int) -> bool:
    """Would CHECK_FOR_INTERRUPTS() now stop the statement? (ProcessInterrupts' own conditions.)

    Nothing while interrupts are held off or in a critical section; a cancel not while cancels are
    held off (the backend is then reading a client message: the cancel waits); a terminate always.
    """
    if not pending or holdoff or critical:
        return False
    return bool(die) or (bool(cancel) and not cancel_holdoff)


class _BackendFlags:
    def __init__(self, library):
        self.flags = [ctypes.c_int.in_dll(library, name) for name in _FLAGS]  # sig_atomic_t is int
        self.counts = [ctypes.c_uint32.in_dll(library, name) for name in _COUNTS]

    def interrupted(self) -> bool:
        pending, cancel, die = (flag.value for flag in self.flags)
        holdoff, cancel_holdoff, critical = (count.value for count in self.counts)
        return interrupt_due(pending, cancel, die, holdoff, cancel_holdoff, critical)

    def terminating(self) -> bool:
        return bool(self.flags[2].value)


def _load() -> Optional[_BackendFlags]:
    try:
        return _BackendFlags(ctypes.CDLL(None))  # the process's own symbols: the postgres executable's
    except (OSError, ValueError):  # not inside a PostgreSQL backend (unit tests, tools)
        return None


_backend = _load()


def interrupted() -> bool:
    """Whether the statement is being canceled, timed out or its backend terminated; False outside a backend."""
    return _backend is not None and _backend.interrupted()


def terminating() -> bool:
    """Whether the backend is being terminated (pg_terminate_backend): it ends at PostgreSQL's next check."""
    return _backend is not None and _backend.terminating()


def in_backend() -> bool:
    return _backend is not None


class StatementCanceled(KeyboardInterrupt):
    """Raised by the FDW when the client gave up a wait because the backend was interrupted.

    A KeyboardInterrupt, because that is what the bundled runtime reports as PostgreSQL's own cancel
    (57014, or the FATAL of a terminate); it carries multicorn2's error-report attributes, because
    that is what multicorn2 3.2 reports as a plain ERROR with this message (XX000).
    """

    _is_multicorn_exception = True

    def __init__(self, terminating: bool = False):
        self.message = ("terminating connection due to administrator command" if terminating
                        else CANCELED_MESSAGE)
        self.code = 3  # multicorn.utils.REPORT_CODES[ERROR]: PostgreSQL ends a terminating backend itself
        self.hint = None
        self.detail = "intercom_fdw stopped waiting for Intercom when the backend was interrupted"
        super().__init__(self.message)


def canceled() -> StatementCanceled:
    return StatementCanceled(terminating=_backend is not None and _backend.terminating())
