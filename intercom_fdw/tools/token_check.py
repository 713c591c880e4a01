"""Whether Intercom takes a token: `GET /me` ("identify an admin"), which Intercom answers for any
valid token, whatever permissions its app was given, and refuses with 401 for any other.

`doctor` reports the answer; `setup` checks a token this way before it writes it into a user mapping.
"""
from __future__ import annotations

import os
from typing import Tuple

from intercom_fdw import errors
from intercom_fdw.options import FdwOptions
from intercom_fdw.tools import schema_drift


def token_from_environment(var: str, other_way: str = "") -> str:
    """The token in environment variable `var` (setup's and demo's --token-env: a token given on the
    command line shows in `ps` and the shell's history). `other_way` ends the HINT when it is unset."""
    token = os.environ.get(var or "")
    if not token:
        raise errors.ConfigurationError(f"environment variable {var} is not set or empty",
                                        hint=f"export {var}=... (the workspace's access token)" + other_way)
    return token


def check_token(options: FdwOptions) -> Tuple[object, dict]:
    """(the client, Intercom's /me answer) for the token and endpoint of `options`. Raises
    errors.AuthenticationError when Intercom rejects the token (401/403), another IntercomError when
    it cannot tell (no answer, 5xx, 429, a URL that is not Intercom's API)."""
    client = schema_drift.api_client(options, connect_timeout=5, read_timeout=20)
    return client, client.call("GET", "/me") or {}


def who(me: dict) -> str:
    """The admin and workspace a /me answer names."""
    app = me.get("app") or {}
    return (f"admin {me.get('email')}, workspace {app.get('name')} "
            f"({app.get('id_code')}, region {app.get('region')})")
