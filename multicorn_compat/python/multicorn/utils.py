"""Logging to PostgreSQL, as in multicorn2's `multicorn.utils`.

Levels are the `logging` constants. DEBUG, INFO and WARNING are sent to the server
log/client at once (INFO shows as NOTICE, as under multicorn2). ERROR and CRITICAL
raise `MulticornException`: the runtime turns it into a PostgreSQL ERROR once the
Python call has returned, so `finally` blocks and context managers still run.
"""
from logging import CRITICAL, DEBUG, ERROR, INFO, WARNING

try:
    from ._utils import _log_to_postgres, check_interrupts
except ImportError:  # imported outside a PostgreSQL backend (unit tests, tooling)
    def _log_to_postgres(message, level=0, hint=None, detail=None):
        pass

    def check_interrupts():
        pass

REPORT_CODES = {DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3, CRITICAL: 4}

__all__ = ["log_to_postgres", "check_interrupts", "MulticornException", "REPORT_CODES",
           "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class MulticornException(Exception):
    """Raised by log_to_postgres(..., ERROR); carries what the ERROR report shows."""

    def __init__(self, message, code, hint, detail):
        super().__init__(message)
        self._is_multicorn_exception = True
        self.message = message
        self.code = code
        self.hint = hint
        self.detail = detail


def log_to_postgres(message, level=INFO, hint=None, detail=None):
    code = REPORT_CODES.get(level)
    if code is None:
        raise KeyError("Not a valid log level")
    if level in (ERROR, CRITICAL):
        raise MulticornException(message, code, hint, detail)
    _log_to_postgres(message, code, hint=hint, detail=detail)
