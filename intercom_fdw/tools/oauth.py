""""Sign in with Intercom": the OAuth authorization-code flow, with authlib.

The browser goes to `authorization_url(...)`; Intercom redirects back with `code` and `state`;
`exchange_code(...)` trades the code for an access token. Intercom's tokens do not expire and
there is no refresh token, so the access token is all a USER MAPPING needs.
"""
from __future__ import annotations

from typing import Optional, Tuple
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

from intercom_fdw import errors
from intercom_fdw.client import error_mapping

AUTHORIZE_URL = "https://app.intercom.com/oauth"
TOKEN_URL = "https://api.intercom.io/auth/eagle/token"
TIMEOUT = (10, 30)
_CODE_HINT = (
    "authorization codes are single-use and short-lived: sign in again; "
    "check the client_id and client_secret of your Intercom app"
)


def authorization_url(
    client_id: str, redirect_uri: Optional[str], state: Optional[str] = None, authorize_url: str = AUTHORIZE_URL
) -> Tuple[str, str]:
    """(URL to send the browser to, state to check on the way back); a random state unless given.

    redirect_uri None leaves it out: Intercom then redirects to the URL configured in the app.
    """
    if not client_id:
        raise errors.ConfigurationError("no OAuth client_id", hint="use the client id of your Intercom app")
    with OAuth2Session(client_id=client_id, redirect_uri=redirect_uri) as session:
        return session.create_authorization_url(authorize_url, state=state)


def exchange_code(code: str, client_id: str, client_secret: str, token_url: str = TOKEN_URL) -> str:
    """The access token for an authorization code. Intercom answers
    `{"token": ..., "access_token": ..., "token_type": "Bearer"}`; either token field is accepted."""
    errors.register_secret(client_secret)
    errors.register_secret(code)
    with OAuth2Session(
        client_id=client_id, client_secret=client_secret, token_endpoint_auth_method="client_secret_post"
    ) as session:
        session.register_compliance_hook("access_token_response", _raise_for_intercom_error)
        try:
            token = session.fetch_token(token_url, code=code, grant_type="authorization_code", timeout=TIMEOUT)
        except OAuthError as exc:
            raise errors.AuthenticationError(
                f"Intercom refused the authorization code: {exc.error}: {exc.description or ''}",
                hint=_CODE_HINT,
            ) from None
        except requests.RequestException as exc:
            raise error_mapping.error_for_transport(exc, "POST", token_url, 1) from None
    access_token = token.get("access_token") or token.get("token")
    if not access_token:
        raise errors.AuthenticationError(
            "Intercom's token endpoint answered without an access token",
            hint="check token_url; it should be Intercom's /auth/eagle/token",
        )
    errors.register_secret(access_token)
    return access_token


def _raise_for_intercom_error(response: requests.Response) -> requests.Response:
    """Intercom reports a bad code with an HTTP error and its own `error.list`, which authlib
    would otherwise read as a token without an access_token."""
    status = response.status_code
    if status < 400:
        return response
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if status >= 500 or status == 429:
        raise error_mapping.error_for_response(status, body, "POST", urlsplit(response.url).path)
    code, message, detail = error_mapping.intercom_error_fields(body)
    raise errors.AuthenticationError(
        f"Intercom refused the authorization code (HTTP {status}): {code or ''} {message or ''}".strip(),
        hint=_CODE_HINT,
        detail=detail,
        status=status,
        code=code,
        request_id=body.get("request_id") if isinstance(body, dict) else None,
    )
