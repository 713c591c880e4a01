"""Intercom's answers and transport failures -> the classes of intercom_fdw.errors, with a HINT.

This is the one place where an HTTP outcome becomes an error; the FDW and the SQL functions
both see these classes. Messages never include headers or bodies we sent, and every string
passes through errors.scrub() in IntercomError.__init__.
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from intercom_fdw import errors

HINTS = {
    401: "check the access_token of your USER MAPPING (and that it belongs to this region's workspace)",
    403: "the token lacks a permission this endpoint needs: check the app's permissions "
    "in Intercom's Developer Hub, then reinstall the app or issue a new token",
    404: "the object does not exist in this workspace (or was deleted, merged or archived)",
    429: "lower the server's rate_limit_share, concurrency or read_concurrency, or try later; the workspace's "
         "limit is shared with every app and session",
}
# 409: a create finds its object there already; any other request (an update, an action) sets a value
# that another object holds and that Intercom keeps unique (contacts: email and external_id, api notes).
CREATE_CONFLICT_HINT = "the object already exists in Intercom; update it instead of creating it"
CONFLICT_HINT = ("another object in Intercom already holds a value this request sets that must be unique "
                 "(a contact's email or external_id); change the value, or merge the two objects")
CLIENT_ERROR_HINT = "Intercom rejected the request's values; check them against Intercom's message"
# A 4xx whose body is not Intercom's error list (a front end's plain text, e.g. for a request line
# too long to read): there is no message of Intercom's to check against.
UNEXPLAINED_CLIENT_ERROR_HINT = ("Intercom refused the request without an error message of its own; check the "
                                 "values it sends: an id or value may be malformed or too long")
SERVER_ERROR_HINT = "Intercom failed on its side; try again later (see https://www.intercomstatus.com)"
TRANSPORT_HINT = "check api_url/region and network"
NOT_JSON_HINT = "check that api_url points at Intercom's API and not at a web page or proxy login"


def error_for_response(
    status: int, body, method: str, path: str, request_id: Optional[str] = None, creates: bool = False
) -> errors.IntercomError:
    """The error for a non-2xx answer. `body` is the parsed JSON (Intercom's `error.list`) or text;
    `creates`: the request creates an object (ApiRequest.creates), which a 409 then says exists."""
    code, message, extra = intercom_error_fields(body)
    if isinstance(body, dict):
        request_id = body.get("request_id") or request_id
    what = f"Intercom answered HTTP {status} to {method} {path}"
    if code or message:
        what += ": " + ": ".join(part for part in (code, message) if part)
    kwargs = dict(status=status, code=code, request_id=request_id, detail=extra)
    if status in (401, 403):
        return errors.AuthenticationError(what, hint=HINTS[status], **kwargs)
    if status == 404:
        return errors.NotFoundError(what, hint=HINTS[404], **kwargs)
    if status == 429:
        return errors.RateLimitedError(what, hint=HINTS[429], **kwargs)
    if status >= 500:
        return errors.ServerError(what, hint=SERVER_ERROR_HINT, **kwargs)
    if status == 409:
        return errors.ApiRejectedError(what, hint=CREATE_CONFLICT_HINT if creates else CONFLICT_HINT, **kwargs)
    explained = isinstance(body, dict) and bool(code or message)
    return errors.ApiRejectedError(
        what, hint=HINTS.get(status, CLIENT_ERROR_HINT if explained else UNEXPLAINED_CLIENT_ERROR_HINT), **kwargs)


def error_for_transport(exc: BaseException, method: str, path: str, attempts: int,
                        sent: bool = True) -> errors.TransportError:
    """`sent`: the last attempt may have reached Intercom (not a failure to connect, not a request
    that could not be written)."""
    reason = f"{type(exc).__name__}: {exc}"
    error = errors.TransportError(
        f"no usable answer from Intercom for {method} {path} after {attempts} attempt(s): {reason}",
        hint=TRANSPORT_HINT,
    )
    error.sent = sent
    return error


def error_for_redirect(status: int, method: str, path: str, location: Optional[str]) -> errors.IntercomError:
    message = f"Intercom answered HTTP {status} to {method} {path}"
    if location:
        target = urlsplit(location)
        message += f": a redirect to {target.scheme}://{target.netloc}{target.path}"  # no query: it may carry data
    return errors.ConfigurationError(
        message,
        hint="api_url must be the API's own base URL (https, no redirects); for Intercom use region instead",
        status=status,
    )


def error_for_unreadable_body(status: int, method: str, path: str, text: str) -> errors.IntercomError:
    return errors.ServerError(
        f"Intercom answered HTTP {status} to {method} {path} with a body that is not JSON: {text[:200]!r}",
        hint=NOT_JSON_HINT,
        status=status,
    )


def intercom_error_fields(body) -> tuple:
    """(code, message, detail) of Intercom's `{"type": "error.list", "errors": [...]}`.

    The first entry gives code and message; further entries go to the detail. Bodies that are
    not an error list (proxies, HTML) give their first characters as the message.
    """
    if isinstance(body, dict):
        entries = body.get("errors") or []
        if entries:
            code, message = errors.first_error(entries)
            rest = [f"{e.get('code')}: {e.get('message')}" for e in entries[1:] if isinstance(e, dict)]
            return code, message, ("; ".join(rest) or None)
        return body.get("code"), body.get("message"), None
    text = (body or "").strip()
    return None, (text[:200] or None), None
