""""Sign in with Intercom": authorize page -> redirect with code and state -> token exchange -> /me."""
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.emulator.conftest import validating_client

CLIENT = {"client_id": "emulator-client", "client_secret": "emulator-secret"}


def _sign_in(client, email, password="secret", state="xyz"):
    return client.post("/oauth/authorize", data={"client_id": CLIENT["client_id"], "state": state,
                                                 "email": email, "password": password})


def test_oauth_flow_gives_a_token_for_the_admin_who_signed_in(private_emulator):
    admin = private_emulator.state.workspaces[0].admins.get(list(private_emulator.state.workspaces[0].admins.by_id)[2])
    with httpx.Client(base_url=private_emulator.url) as browser:
        page = browser.get("/oauth", params={"client_id": CLIENT["client_id"], "state": "xyz"})
        assert page.status_code == 200 and page.headers["X-RateLimit-Limit"]
        assert 'type="email"' in page.text and 'type="password"' in page.text and "Authorize access" in page.text
        assert re.search(r'name="state" value="xyz"', page.text)
        redirect = _sign_in(browser, admin["email"])
        assert redirect.status_code == 302
        location = urlsplit(redirect.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == "https://127.0.0.1/callback"
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"] and query["code"][0]
        exchanged = browser.post("/auth/eagle/token", data={**CLIENT, "code": query["code"][0]})
        assert exchanged.status_code == 200 and exchanged.headers["X-RateLimit-Remaining"]
        body = exchanged.json()
        assert body["token_type"] == "Bearer" and body["token"] == body["access_token"]
        again = browser.post("/auth/eagle/token", data={**CLIENT, "code": query["code"][0]})
        assert again.status_code == 400 and again.json()["errors"][0]["code"] == "invalid_grant"  # one use
    with validating_client(private_emulator.url, body["access_token"]) as api:
        me = api.get("/me").json()
        assert me["id"] == admin["id"] and me["email"] == admin["email"]
        assert api.get("/contacts", params={"per_page": 1}).status_code == 200


def test_oauth_refuses_bad_credentials(private_emulator):
    admin_email = next(iter(private_emulator.state.workspaces[0].admins.values()))["email"]
    with httpx.Client(base_url=private_emulator.url) as browser:
        assert browser.get("/oauth", params={"client_id": "unknown"}).status_code == 400
        refused = _sign_in(browser, "nobody@example.com")
        assert refused.status_code == 401 and "incorrect" in refused.text
        assert _sign_in(browser, admin_email, password="").status_code == 401
        code = parse_qs(urlsplit(_sign_in(browser, admin_email).headers["location"]).query)["code"][0]
        wrong_secret = browser.post("/auth/eagle/token", json={**CLIENT, "client_secret": "nope", "code": code})
        assert wrong_secret.status_code == 401 and "nope" not in wrong_secret.text
        assert browser.post("/auth/eagle/token", json={**CLIENT, "code": "made-up"}).status_code == 400
        assert browser.post("/auth/eagle/token", json={**CLIENT, "code": code}).status_code == 200  # JSON works too


def test_the_redirect_url_is_a_registered_one_matched_exactly_and_never_an_unregistered_one():
    from intercom_fdw.emulator import EmulatorConfig, OAuthApp, start_in_thread

    app = OAuthApp("two-urls", "s3", "https://example.com/cb", ("https://127.0.0.1:8765/callback",))
    server = start_in_thread(EmulatorConfig(seed=3, contacts=5, oauth_apps=[app]), port=0)
    try:
        email = next(iter(server.state.workspaces[0].admins.values()))["email"]
        with httpx.Client(base_url=server.url) as browser:
            def sign_in(redirect_uri, **extra):
                return browser.post("/oauth/authorize", data={"client_id": "two-urls", "state": "st",
                                                              "redirect_uri": redirect_uri, "email": email,
                                                              "password": "pw", **extra})

            default = sign_in("")  # no redirect_uri: the first registered one
            assert default.headers["location"].startswith("https://example.com/cb?")
            chosen = sign_in("https://127.0.0.1:8765/callback")
            assert chosen.headers["location"].startswith("https://127.0.0.1:8765/callback?")
            page = browser.get("/oauth", params={"client_id": "two-urls", "state": "st",
                                                 "redirect_uri": "https://127.0.0.1:8765/callback"})
            assert 'name="redirect_uri" value="https://127.0.0.1:8765/callback"' in page.text
            for other in ("http://127.0.0.1:8765/callback", "https://127.0.0.1:8765/callback/",
                          "https://127.0.0.1:8766/callback", "https://example.com/cb?x=1", "https://evil.example/cb"):
                assert browser.get("/oauth", params={"client_id": "two-urls", "redirect_uri": other}).status_code == 400
                refused = sign_in(other)
                assert refused.status_code == 400 and "location" not in refused.headers
                assert "redirect_uri is not a redirect URL registered" in refused.text
            code = parse_qs(urlsplit(chosen.headers["location"]).query)["code"][0]
            exchanged = browser.post("/auth/eagle/token", data={"client_id": "two-urls", "client_secret": "s3",
                                                                "code": code, "redirect_uri": "https://example.com/cb"})
            assert exchanged.status_code == 400 and exchanged.json()["errors"][0]["code"] == "invalid_grant"
    finally:
        server.stop()


def test_apps_cannot_register_a_redirect_url_intercom_would_refuse():
    import pytest

    from intercom_fdw.emulator import OAuthApp

    for uri in ("http://127.0.0.1:8765/callback", "http://localhost/cb", "https:///cb", "https://example.com/cb#x"):
        with pytest.raises(ValueError, match="redirect URL"):
            OAuthApp("app", "secret", "https://example.com/ok", (uri,))


def test_cancel_on_the_authorize_page_redirects_with_access_denied_and_the_state(private_emulator):
    with httpx.Client(base_url=private_emulator.url) as browser:
        page = browser.get("/oauth", params={"client_id": CLIENT["client_id"], "state": "st-1"})
        assert ">Cancel</button>" in page.text
        denied = browser.post("/oauth/authorize", data={"client_id": CLIENT["client_id"], "state": "st-1",
                                                        "deny": "1"})
        assert denied.status_code == 302
        assert parse_qs(urlsplit(denied.headers["location"]).query) == {"error": ["access_denied"], "state": ["st-1"]}
    assert not private_emulator.state.oauth_codes
