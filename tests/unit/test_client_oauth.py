""""Sign in with Intercom" helpers against a local token endpoint."""
from urllib.parse import parse_qs, urlsplit

import pytest

from intercom_fdw import errors
from intercom_fdw.tools.oauth import authorization_url, exchange_code
from tests.unit.test_client_intercom_double import Reply, error_list, replies, serve

SECRET = "cs_SECRET_client_998877"


def test_authorization_url_carries_client_state_and_redirect():
    url, state = authorization_url("app-123", "https://example.com/callback", state="s-1")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.intercom.com", "/oauth")
    assert parse_qs(parts.query) == {
        "response_type": ["code"], "client_id": ["app-123"],
        "redirect_uri": ["https://example.com/callback"], "state": ["s-1"],
    }
    assert state == "s-1"


def test_authorization_url_without_redirect_uses_the_apps_own():
    url, _ = authorization_url("app-123", None, state="s")
    assert parse_qs(urlsplit(url).query) == {"response_type": ["code"], "client_id": ["app-123"], "state": ["s"]}


def test_authorization_url_needs_a_client_id():
    with pytest.raises(errors.ConfigurationError, match="client_id"):
        authorization_url("", "https://x/cb")


def test_authorization_url_makes_an_unguessable_state():
    (url1, state1), (_, state2) = (authorization_url("a", "https://x/cb") for _ in range(2))
    assert state1 != state2 and len(state1) >= 20
    assert parse_qs(urlsplit(url1).query)["state"] == [state1]


def test_exchange_code_posts_code_and_credentials():
    answer = Reply(body={"token": "dG9rOmFiYw==", "access_token": "dG9rOmFiYw==", "token_type": "Bearer"})
    with serve(replies(answer)) as server:
        token = exchange_code("code-1", "app-123", SECRET, token_url=server.url + "/auth/eagle/token")
    assert token == "dG9rOmFiYw=="
    sent = server.seen[0]
    assert (sent.method, sent.path) == ("POST", "/auth/eagle/token")
    assert sent.body == {"grant_type": "authorization_code", "code": "code-1",
                         "client_id": "app-123", "client_secret": SECRET}


def test_exchange_code_accepts_the_legacy_token_field():
    with serve(replies(Reply(body={"token": "legacy-tok", "token_type": "Bearer"}))) as server:
        assert exchange_code("c", "app", SECRET, token_url=server.url + "/auth/eagle/token") == "legacy-tok"


def test_a_refused_code_is_an_authentication_error_without_the_secret():
    refused = Reply(401, error_list("unauthorized", f"bad client_secret {SECRET}", "req-o"))
    with serve(replies(refused)) as server:
        with pytest.raises(errors.AuthenticationError) as caught:
            exchange_code("code-1", "app-123", SECRET, token_url=server.url + "/auth/eagle/token")
    error = caught.value
    assert (error.status, error.code, error.request_id) == (401, "unauthorized", "req-o")
    assert "Intercom refused the authorization code (HTTP 401)" in str(error)
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert "sign in again" in error.hint


def test_an_answer_without_a_token_is_an_error():
    with serve(replies(Reply(body={"token_type": "Bearer"}))) as server:
        with pytest.raises(errors.AuthenticationError, match="without an access token"):
            exchange_code("c", "app", SECRET, token_url=server.url + "/auth/eagle/token")


def test_an_oauth_error_body_is_an_authentication_error():
    with serve(replies(Reply(body={"error": "invalid_grant", "error_description": "code expired"}))) as server:
        with pytest.raises(errors.AuthenticationError, match="invalid_grant: code expired"):
            exchange_code("c", "app", SECRET, token_url=server.url + "/auth/eagle/token")


def test_server_errors_and_unreachable_token_endpoints():
    with serve(replies(Reply(503, "maintenance"))) as server:
        with pytest.raises(errors.ServerError):
            exchange_code("c", "app", SECRET, token_url=server.url + "/auth/eagle/token")
    with pytest.raises(errors.TransportError):
        exchange_code("c", "app", SECRET, token_url="http://127.0.0.1:1/auth/eagle/token")
