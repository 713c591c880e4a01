"""Which top-level statement this PostgreSQL backend runs, told without a query.

`statement_started()` is `statement_timestamp()` in microseconds, read by calling the backend's own
GetCurrentStatementStartTimestamp() (xact.c; the postgres executable exports it, `nm -D .../bin/postgres`).
PostgreSQL sets it when the backend receives a client's command (a simple Query message, or each
Parse, Bind and Execute of the extended protocol) and keeps it for everything that command runs: every
row of a statement, every statement of a PL/pgSQL function, DO block or procedure it calls (across the
procedure's COMMITs too). So two calls of an action function with the same value belong to one command
of the client, and a new command gets a new value (it starts at least a microsecond later). One Query
message of several statements (`SELECT ...; SELECT ...` sent as one string) shares one value: they run
in one implicit transaction, which an error rolls back whole.

Calling it costs no query, cannot fail and allocates nothing: it returns a static variable. That is
why it is called here rather than `SELECT statement_timestamp()`, which would cost a query per call and
fails while a cancel is pending (exactly when the answer is needed). pg_interrupts.py reads flags only,
from any thread; this is called only from the backend's own thread (PL/Python's).
"""
from __future__ import annotations

import ctypes
from typing import Callable, Optional


def _load() -> Optional[Callable[[], int]]:
    try:
        function = ctypes.CDLL(None).GetCurrentStatementStartTimestamp  # the postgres executable's symbols
    except (OSError, AttributeError):  # not inside a PostgreSQL backend (unit tests, tools)
        return None
    function.argtypes = []
    function.restype = ctypes.c_int64  # TimestampTz
    return function


_started = _load()


def statement_started() -> Optional[int]:
    """statement_timestamp() of the client command the backend runs (microseconds since 2000-01-01),
    or None outside a backend."""
    return _started() if _started is not None else None
