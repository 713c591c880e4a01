"""The error hierarchy shared by the FDW, the SQL functions and the HTTP client.

Every error carries a message (what failed, where), an optional HINT and DETAIL, and, when it
came from Intercom, the HTTP status, Intercom's error code and the request id. Messages are
scrubbed of secrets and their long values shortened in one place: `IntercomError.__init__` (and
`reported_detail` for what is added later), so no path can forget it.
"""
from __future__ import annotations

import os
import re
import traceback
from typing import Iterable, Optional

# Values registered here (access tokens, client secrets) are replaced wherever an error
# would show them. Bearer-looking strings are scrubbed even when nobody registered them.
_secrets: set = set()
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A value of dots only is a placeholder ("export INTERCOM_TOKEN=..." in a HINT), no secret to hide.
_SECRET_FIELDS = re.compile(
    r"""((?:access_token|client_secret|token|password)['"]?\s*[:=]\s*['"]?)(?!\.+(?:['"\s,&}]|$))[^'"\s,&}]+""",
    re.IGNORECASE,
)


def register_secret(value: Optional[str]) -> None:
    """Remember a secret so that no error message, hint or detail can ever contain it."""
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: Optional[str]) -> Optional[str]:
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    text = _BEARER.sub(r"\1[secret]", text)
    return _SECRET_FIELDS.sub(r"\1[secret]", text)


# A value echoed in an error (an id from SQL in a request path, a value of a row, Intercom's text) is
# shown whole up to LONGEST_VALUE characters; a longer one keeps its first SHOWN_START characters and
# says how long it was: `WHERE id = repeat('z', 100000)` made a 100 KB error. A value is a run of
# characters without blanks, quotes, '/' (so a path keeps its other segments) or the punctuation
# that follows a value in a message (':', ',', ';'); LONGEST_TEXT bounds whatever such runs leave
# long (a long value with blanks).
LONGEST_VALUE = 200
SHOWN_START = 40
LONGEST_TEXT = 4000
_LONG_VALUE = re.compile(r"""[^\s/'":,;]{%d,}""" % (LONGEST_VALUE + 1))


def _shortened(value: str) -> str:
    return f"{value[:SHOWN_START]}…({len(value)} characters)"


def shortened(text: Optional[str]) -> Optional[str]:
    """`text` with every value longer than LONGEST_VALUE cut to its start and its length."""
    if not text or len(text) <= LONGEST_VALUE:
        return text
    text = _LONG_VALUE.sub(lambda match: _shortened(match.group()), text)
    return text if len(text) <= LONGEST_TEXT else text[:LONGEST_TEXT] + f"…({len(text)} characters in all)"


def reported_text(text: Optional[str]) -> Optional[str]:
    """What an error may show of `text`: scrubbed of secrets first (a shortened secret would show its
    start), then shortened."""
    return shortened(scrub(text))


class IntercomError(Exception):
    """Base class. `str(error)` is the scrubbed message."""

    def __init__(
        self,
        message: str,
        hint: Optional[str] = None,
        detail: Optional[str] = None,
        status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
    ):
        self.message = reported_text(message)
        self.hint = reported_text(hint)
        self.detail = reported_text(detail)
        self.status = status
        self.code = code
        self.request_id = request_id
        super().__init__(self.message)


class ConfigurationError(IntercomError):
    """Bad server, table or user mapping options; bad arguments to an SQL function."""


class UnsupportedOperationError(IntercomError):
    """An operation the Intercom API does not offer for this object (e.g. DELETE on admins)."""


class InvalidValueError(IntercomError):
    """A written row breaks a rule of the Intercom API; found before any call."""


class AuthenticationError(IntercomError):
    """401/403 from Intercom, or no token at all."""


class NotFoundError(IntercomError):
    """404 from Intercom."""


class RateLimitedError(IntercomError):
    """429 from Intercom after the client stopped waiting."""


class ApiRejectedError(IntercomError):
    """Any other 4xx: Intercom understood the request and refused it."""


class InternalError(IntercomError):
    """Not Intercom's and not the user's: a bug of ours (errors.as_reported)."""


class ServerError(IntercomError):
    """5xx from Intercom after the last retry (Intercom may have carried the request out first)."""

    sent = True


def may_have_reached_intercom(error: BaseException) -> bool:
    """Whether a failed request may have been carried out all the same: a 5xx, or no usable answer
    to a request that was sent (a cut connection, a timeout), as opposed to Intercom's refusal."""
    return isinstance(error, (ServerError, TransportError)) and bool(error.sent)


class TransportError(IntercomError):
    """No usable HTTP response: connection refused or dropped, timeout, TLS. `sent`: the request may
    have reached Intercom (false when the connection was never made or the request never written)."""

    sent = True


# What intercom_fdw says of a statement it stopped waiting for on a cancel or statement_timeout, where
# it cannot hand PostgreSQL its own report (multicorn2's foreign tables, the PL/Python functions).
CANCELED_MESSAGE = "canceling statement due to user request or statement timeout"


class CanceledError(IntercomError):
    """An edge's report of Interrupted where it cannot hand PostgreSQL its own cancel (PL/Python).
    `in_flight`: as Interrupted's, the request had been sent, so whether it reached Intercom is unknown."""

    in_flight = False


class Interrupted(BaseException):
    """The backend was interrupted (query cancel, statement_timeout, terminate): every wait of the
    client ends with it. A BaseException, like KeyboardInterrupt, so that no `except Exception`
    (a retry loop, a scroll restart, a failed row) takes it for an Intercom error; the FDW's edge
    turns it into the runtime's own cancel report.

    `in_flight`: a request had been sent and was abandoned, so whether it reached Intercom is unknown.
    """

    def __init__(self, in_flight: bool = False):
        super().__init__("the statement was interrupted (cancel request, statement_timeout or terminate)")
        self.in_flight = in_flight


def first_error(errors: Iterable[dict]) -> tuple:
    """(code, message) of the first entry of Intercom's `error.list` body."""
    for entry in errors or ():
        return entry.get("code"), entry.get("message")
    return None, None


# ---- how the SQL edges report an error (fdw.py for the foreign tables, actions/plpython.py) -----

# SQLSTATEs by error class where the edge can set one (PL/Python can; multicorn2 reports every
# foreign-table error as XX000): bad arguments and options are the caller's to fix.
SQLSTATES = {
    ConfigurationError: "22023",  # invalid_parameter_value
    InvalidValueError: "22023",
    AuthenticationError: "28000",  # invalid_authorization_specification
    UnsupportedOperationError: "0A000",  # feature_not_supported
    InternalError: "XX000",  # internal_error
    CanceledError: "57014",  # query_canceled
}
FDW_ERROR_SQLSTATE = "HV000"  # fdw_error


def sqlstate_of(error: IntercomError) -> str:
    """The SQLSTATE of the error's class (or of its nearest listed ancestor), else fdw_error; an error
    that wraps what failed (a failed write's `cause`) takes the SQLSTATE of that."""
    cause = getattr(error, "cause", None)
    source = cause if isinstance(cause, IntercomError) else error
    return next((SQLSTATES[cls] for cls in type(source).__mro__ if cls in SQLSTATES), FDW_ERROR_SQLSTATE)


def as_reported(error: Exception) -> IntercomError:
    """What an SQL edge reports for `error`: ours as it is; anything else (a bug of ours) as an
    internal error naming its type and the line that raised it, scrubbed like ours (its text could
    hold a token) and without the traceback."""
    if isinstance(error, IntercomError):
        return error
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    where = f"raised in {last.name} ({os.path.basename(last.filename)}:{last.lineno})" if last else None
    return InternalError(f"internal error: {type(error).__name__}: {error}",
                         hint="this is a bug of intercom_fdw; please report it with the statement that failed",
                         detail=where)


def reported_detail(error: IntercomError) -> Optional[str]:
    """The DETAIL of a report: the error's own, then what Intercom said (status, code, request id)."""
    parts = [error.detail] if error.detail else []
    if error.status is not None:
        parts.append(f"HTTP status {error.status}")
    if error.code:
        parts.append(f"Intercom error code {error.code}")
    if error.request_id:
        parts.append(f"request id {error.request_id}")
    return reported_text("; ".join(parts)) if parts else None
