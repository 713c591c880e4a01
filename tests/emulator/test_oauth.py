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
        assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1/callback"
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
