"""`intercom-fdw login` without Intercom: the callback checks (pure) and the one-shot callback server.

The token endpoint in these tests is unreachable on purpose: a test that expects a sign-in failure
would get a TransportError instead if the login had gone on to exchange a code.
"""
import os
import socket
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from intercom_fdw import errors
from intercom_fdw.tools.login import (CallbackReceiver, LoginRequest, PastedAddress, UserMappingTarget,
                                      callback_address, code_from_callback, code_from_pasted_address, login)
from intercom_fdw.tools.throwaway_pg import free_port

# The callback's certificate is self-signed: the stand-in browsers here accept it, as a person would.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

SECRET = "cs_login_SECRET_55aa77"
UNREACHABLE_TOKEN_URL = "http://127.0.0.1:1/auth/eagle/token"


# --- the redirect's parameters (pure) ---

def test_a_matching_state_gives_the_code():
    assert code_from_callback({"code": "c-1", "state": "s-1"}, "s-1") == "c-1"


@pytest.mark.parametrize("params", [{"code": "c-1", "state": "forged"}, {"code": "c-1"},
                                    {"error": "access_denied", "state": "forged"}])
def test_a_foreign_or_missing_state_is_refused_before_anything_else(params):
    with pytest.raises(errors.AuthenticationError, match="state does not match") as caught:
        code_from_callback(params, "s-1")
    assert caught.value.code == "state_mismatch" and "login` again" in caught.value.hint


def test_a_denial_says_access_was_denied():
    with pytest.raises(errors.AuthenticationError, match="access was denied") as caught:
        code_from_callback({"error": "access_denied", "state": "s"}, "s")
    assert caught.value.code == "access_denied"


def test_other_oauth_errors_are_named_with_their_description():
    with pytest.raises(errors.AuthenticationError, match="error invalid_scope: scope unknown"):
        code_from_callback({"error": "invalid_scope", "error_description": "scope unknown", "state": "s"}, "s")


def test_a_redirect_without_code_is_an_error():
    with pytest.raises(errors.AuthenticationError, match="no authorization code"):
        code_from_callback({"state": "s"}, "s")


def test_non_ascii_states_are_compared_without_crashing():
    with pytest.raises(errors.AuthenticationError, match="state does not match"):
        code_from_callback({"code": "c", "state": "é"}, "s")


@pytest.mark.parametrize("uri,port,path", [("https://127.0.0.1:8765/callback", 8765, "/callback"),
                                           ("https://localhost:9000", 9000, "/"),
                                           ("https://127.0.0.1/cb", 443, "/cb")])
def test_callback_address_of_loopback_redirects(uri, port, path):
    assert callback_address(uri) == (port, path)


@pytest.mark.parametrize("uri", ["https://example.com:8765/callback", "https://0.0.0.0:8765/cb",
                                 "https://127.0.0.1:99999/cb", "ftp://127.0.0.1/cb", ""])
def test_callback_address_refuses_what_the_local_server_cannot_answer(uri):
    with pytest.raises(errors.ConfigurationError, match="redirect URI") as caught:
        callback_address(uri)
    assert "127.0.0.1" in caught.value.hint and "--paste" in caught.value.hint


def test_an_http_redirect_uri_is_refused_as_intercom_refuses_it():
    with pytest.raises(errors.ConfigurationError, match="uses http: Intercom's redirect URLs must use HTTPS"):
        callback_address("http://127.0.0.1:8765/callback")


# --- the whole login with a browser that comes back with chosen parameters ---

class ReturningBrowser:
    """Comes back to the redirect URI of the authorization URL with `params` (`state` from the URL
    unless given), the way Intercom's redirect would; keeps the page it got."""

    def __init__(self, **params):
        self.params, self.page, self.urls, self.visit = params, None, [], None

    def __call__(self, url):
        self.urls.append(url)
        query = parse_qs(urlsplit(url).query)
        params = {"state": query["state"][0], **self.params}
        callback = f"{query['redirect_uri'][0]}?{urlencode(params)}"
        self.visit = threading.Thread(target=self._visit, args=(callback,), daemon=True)
        self.visit.start()
        return True

    def _visit(self, callback):
        self.page = requests.get(callback, timeout=10, verify=False)  # the callback's self-signed certificate

    def returned_page(self):
        """The callback's page; the login may finish before the browser has read it."""
        self.visit.join(10)
        return self.page


def request(port, **overrides):
    fields = dict(client_id="app-1", client_secret=SECRET, redirect_uri=f"https://127.0.0.1:{port}/callback",
                  token_url=UNREACHABLE_TOKEN_URL, timeout_s=10)
    return LoginRequest(**{**fields, **overrides})


def test_login_refuses_a_callback_with_another_state_and_exchanges_nothing(capsys):
    browser = ReturningBrowser(code="c-1", state="forged-state")
    with pytest.raises(errors.AuthenticationError, match="state does not match"):
        login(request(free_port()), browser=browser)
    page = browser.returned_page()
    assert page.status_code == 400 and "Sign-in failed" in page.text
    assert SECRET not in capsys.readouterr().err


def test_login_reports_a_denial(capsys):
    browser = ReturningBrowser(error="access_denied")
    with pytest.raises(errors.AuthenticationError, match="access was denied"):
        login(request(free_port()), browser=browser)
    assert "access was denied" in browser.returned_page().text
    assert browser.urls[0] in capsys.readouterr().err  # the URL is printed as well as opened


def test_login_times_out_when_the_browser_never_comes_back(capsys):
    with pytest.raises(errors.AuthenticationError, match="timed out after 0.3 s") as caught:
        login(request(free_port(), timeout_s=0.3), browser=None)
    assert caught.value.code == "timeout" and "--timeout" in caught.value.hint
    assert "state=" in capsys.readouterr().err


def test_a_browser_that_cannot_open_is_not_an_error_the_url_is_printed(capsys):
    def no_browser(url):
        raise OSError("no display")

    with pytest.raises(errors.AuthenticationError, match="timed out"):
        login(request(free_port(), timeout_s=0.2), browser=no_browser)
    assert "open the URL yourself" in capsys.readouterr().err


def test_login_needs_a_client_secret_and_a_positive_timeout():
    with pytest.raises(errors.ConfigurationError, match="no OAuth client secret") as caught:
        login(request(free_port(), client_secret=""))
    assert "INTERCOM_CLIENT_SECRET" in caught.value.hint
    with pytest.raises(errors.ConfigurationError, match="--timeout"):
        login(request(free_port(), timeout_s=0))


def test_the_callback_server_answers_its_path_only_over_https_and_keeps_the_first_answer(tmp_path):
    port = free_port()
    with CallbackReceiver(f"https://127.0.0.1:{port}/callback", "s-1") as receiver:
        trusted = tmp_path / "callback.pem"
        trusted.write_bytes(receiver.certificate_pem)  # verified: the certificate names 127.0.0.1
        base = f"https://127.0.0.1:{port}"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base + "/callback?code=c-0&state=s-1", timeout=5)  # not trusted by default
        with socket.create_connection(("127.0.0.1", port)):  # a client that never shakes hands holds up nobody
            assert requests.get(base + "/favicon.ico", timeout=5, verify=str(trusted)).status_code == 404
            assert requests.get(base + "/callback?code=c-1&state=s-1", timeout=5, verify=str(trusted)).status_code == 200
        assert requests.get(base + "/callback?code=c-2&state=bad", timeout=5, verify=str(trusted)).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/callback?code=c-3&state=s-1", timeout=5)  # no plain http
        assert receiver.wait(1) == "c-1"
    assert "PRIVATE KEY" not in receiver.certificate_pem.decode()


def test_a_busy_callback_port_is_a_clear_error():
    port = free_port()
    with CallbackReceiver(f"https://127.0.0.1:{port}/callback", "s"):
        with pytest.raises(errors.ConfigurationError, match=f"cannot listen on 127.0.0.1:{port}") as caught:
            CallbackReceiver(f"https://127.0.0.1:{port}/callback", "s")
    assert "--redirect-uri" in caught.value.hint


# --- paste mode ---

def test_a_pasted_address_gives_its_code_after_its_place_and_state_are_checked():
    sent = "https://example.com/intercom/callback"
    assert code_from_pasted_address(f"  {sent}?code=c-9&state=s-9\n", "s-9", sent) == "c-9"
    assert code_from_pasted_address("https://anywhere.example/cb?code=c-9&state=s-9", "s-9", None) == "c-9"
    for pasted, message in [("c-9", "not the address"), ("", "not the address"),
                            ("https://evil.example/intercom/callback?code=c&state=s-9", "not at the redirect URL"),
                            (f"{sent}?code=c-9&state=other", "state does not match"),
                            (f"{sent}?error=access_denied&state=s-9", "access was denied")]:
        with pytest.raises(errors.AuthenticationError, match=message):
            code_from_pasted_address(pasted, "s-9", sent)


def test_paste_mode_times_out_when_nothing_is_pasted():
    reading, writing = os.pipe()
    with os.fdopen(reading) as stream, os.fdopen(writing, "w"):
        receiver = PastedAddress(None, "s", stream)
        with receiver, pytest.raises(errors.AuthenticationError, match="timed out after 0.2 s waiting for the "
                                                                       "pasted address"):
            receiver.wait(0.2)


@pytest.mark.parametrize("dsn", ["host=127.0.0.1 port=1 dbname=x password=pw_SECRET_91",
                                 "password=pw_SECRET_91 not-a-keyword"])
def test_an_unusable_dsn_is_a_clear_error_without_its_password(dsn):
    with pytest.raises(errors.ConfigurationError, match="cannot connect to PostgreSQL with --dsn") as caught:
        UserMappingTarget(dsn, "intercom").check()
    assert "pw_SECRET_91" not in str(caught.value) and "connection string" in caught.value.hint
