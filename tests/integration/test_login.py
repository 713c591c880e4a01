"""`intercom-fdw login` end to end: the emulator's authorize page driven by a real headless browser
(chromium through selenium) and, for the many other cases, over HTTP as a browser would; the local
HTTPS callback or the pasted address, the code exchange, the user mapping written into a throwaway
PostgreSQL, and a query through the FDW with the token it holds. Every failed sign-in leaves the
user mapping as it was."""
import re
import shutil
import threading
import time
import webbrowser
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from psycopg import sql

from intercom_fdw import errors
from intercom_fdw.tools.cli import main
from intercom_fdw.emulator import EmulatorConfig, OAuthApp, start_in_thread
from intercom_fdw.tools import oauth
from intercom_fdw.tools.login import LoginRequest, UserMappingTarget, login
from intercom_fdw.tools.throwaway_pg import free_port
from tests.integration.oauth_browser import SigningInBrowser, pasted_stdin  # noqa: F401 (a fixture)

# The callback's certificate is made for each sign-in: the stand-in browsers accept it, as a person would.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

CLIENT_ID = "login-test-app"
SECRET = "cs_login_IT_SECRET_31415"
SERVER = "intercom"
ROLE = "login_role"
UNMAPPED = "login_unmapped"  # the failed sign-ins target this role's mapping, which must stay absent
PASTE_URI = "https://paste.example/intercom/callback"  # registered; nothing listens there


@pytest.fixture(scope="module")
def callback_port():
    return free_port()


@pytest.fixture(scope="module")
def oauth_emulator(callback_port):
    app = OAuthApp(CLIENT_ID, SECRET, f"https://127.0.0.1:{callback_port}/callback", (PASTE_URI,))
    server = start_in_thread(EmulatorConfig(seed=7, contacts=20, oauth_apps=[app]), port=0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin_email(oauth_emulator):
    admins = requests.get(oauth_emulator.url + "/admins", timeout=10, headers={
        "Authorization": f"Bearer {oauth_emulator.token}", "Intercom-Version": "2.14"}).json()["admins"]
    return admins[0]["email"]


@pytest.fixture(scope="module")
def login_db(pg, oauth_emulator):
    name = pg.create_database("test_login")
    with pg.connect(name) as conn:
        conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS "
                             "(wrapper 'intercom_fdw.IntercomFdw', api_url {})").format(
            sql.Identifier(SERVER), sql.Literal(oauth_emulator.url)))
        for role in (ROLE, UNMAPPED):
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER {} TO {}").format(sql.Identifier(SERVER),
                                                                                 sql.Identifier(role)))
    return name


def login_request(emulator, port, **overrides):
    fields = dict(client_id=CLIENT_ID, client_secret=SECRET, redirect_uri=f"https://127.0.0.1:{port}/callback",
                  authorize_url=emulator.url + "/oauth", token_url=emulator.url + "/auth/eagle/token", timeout_s=30)
    return LoginRequest(**{**fields, **overrides})


def cli_login(emulator, port, *arguments):
    """`intercom-fdw login` against the emulator; the exit status."""
    return main(["login", "--client-id", CLIENT_ID, "--redirect-uri", f"https://127.0.0.1:{port}/callback",
                 "--authorize-url", emulator.url + "/oauth", "--token-url", emulator.url + "/auth/eagle/token",
                 "--timeout", "30", *arguments])


def mapping_of(pg, dbname, usename):
    with pg.connect(dbname) as conn:
        return conn.execute("SELECT umoptions FROM pg_user_mappings WHERE srvname = %s AND usename = %s",
                            (SERVER, usename)).fetchone()


def mapped_token(pg, dbname, usename):
    with pg.connect(dbname) as conn:
        row = conn.execute("SELECT umoptions FROM pg_user_mappings WHERE srvname = %s AND usename = %s",
                           (SERVER, usename)).fetchone()
    assert row is not None, f"no user mapping for {usename}"
    options = dict(option.split("=", 1) for option in row[0] or ())
    return options.get("access_token")


def admins_through_the_fdw(pg, dbname, schema, role=None):
    """Import the admins table and count it, all as `role` (default: the superuser), so its own mapping is used."""
    with pg.connect(dbname) as conn:
        owner = sql.SQL(" AUTHORIZATION {}").format(sql.Identifier(role)) if role else sql.SQL("")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}{}").format(sql.Identifier(schema), owner))
        if role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom LIMIT TO (admins) FROM SERVER {} INTO {}").format(
            sql.Identifier(SERVER), sql.Identifier(schema)))
        return conn.execute(sql.SQL("SELECT count(*) > 0 FROM {}.admins").format(sql.Identifier(schema))).fetchone()[0]


def me(emulator, token):
    return requests.get(emulator.url + "/me", timeout=10, headers={
        "Authorization": f"Bearer {token}", "Intercom-Version": "2.14"})


def test_login_creates_then_updates_the_user_mapping_with_a_working_token(pg, login_db, oauth_emulator,
                                                                          callback_port, admin_email, capsys):
    target = UserMappingTarget(pg.dsn(login_db), SERVER)
    browser = SigningInBrowser(admin_email)
    login(login_request(oauth_emulator, callback_port, target=target), browser=browser)
    assert browser.finished().failure is None and browser.pages[0].status_code == 200
    assert "Signed in to Intercom" in browser.pages[0].text  # the callback page, after the redirect
    first = mapped_token(pg, login_db, "postgres")
    assert first and first != oauth_emulator.token  # a new token, issued by the OAuth exchange
    assert me(oauth_emulator, first).json()["email"] == admin_email
    assert admins_through_the_fdw(pg, login_db, "via_oauth") is True
    assert "created the user mapping for CURRENT_USER on server intercom" in capsys.readouterr().err
    assert first not in pg.log_tail(100000)

    login(login_request(oauth_emulator, callback_port, target=target), browser=SigningInBrowser(admin_email))
    second = mapped_token(pg, login_db, "postgres")
    assert second not in (first, None)
    assert admins_through_the_fdw(pg, login_db, "via_oauth_again") is True
    output = capsys.readouterr()
    assert "updated the user mapping" in output.err
    assert second not in output.out + output.err and SECRET not in output.out + output.err


def test_the_token_stays_out_of_a_server_log_that_logs_ddl(pg, login_db, oauth_emulator, callback_port,
                                                           admin_email):
    with pg.connect(login_db) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'ddl'").format(sql.Identifier(login_db)))
    try:
        login(login_request(oauth_emulator, callback_port, target=UserMappingTarget(pg.dsn(login_db), SERVER)),
              browser=SigningInBrowser(admin_email))
        token = mapped_token(pg, login_db, "postgres")
        with pg.connect(login_db) as conn:
            conn.execute("CREATE TEMP TABLE ddl_logging_control ()")
        log = pg.log_tail(100000)
        assert token and "ddl_logging_control" in log  # the control: this database's DDL is logged
        assert token not in log
    finally:
        with pg.connect(login_db) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} RESET log_statement").format(sql.Identifier(login_db)))


def test_cli_writes_the_mapping_of_a_role_and_shows_neither_secret_nor_token(pg, login_db, oauth_emulator,
                                                                             callback_port, admin_email,
                                                                             capsys, monkeypatch):
    browser = SigningInBrowser(admin_email)
    monkeypatch.setattr(webbrowser, "open", browser)  # the stdlib's browser launcher, not our code
    monkeypatch.setenv("INTERCOM_CLIENT_SECRET", SECRET)
    status = cli_login(oauth_emulator, callback_port, "--dsn", pg.dsn(login_db), "--server", SERVER, "--role", ROLE)
    output = capsys.readouterr()
    assert status == 0, output.err
    token = mapped_token(pg, login_db, ROLE)
    assert token and me(oauth_emulator, token).status_code == 200
    assert token not in output.out + output.err and SECRET not in output.out + output.err
    assert "/oauth?" in output.err and f"created the user mapping for {ROLE}" in output.err
    assert output.out == ""
    assert admins_through_the_fdw(pg, login_db, "as_login_role", role=ROLE) is True


def test_cli_adds_a_token_to_a_public_mapping_without_one(pg, login_db, oauth_emulator, callback_port,
                                                         admin_email, capsys, monkeypatch):
    with pg.connect(login_db) as conn:
        conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER {}").format(sql.Identifier(SERVER)))
    monkeypatch.setattr(webbrowser, "open", SigningInBrowser(admin_email))
    monkeypatch.setenv("INTERCOM_CLIENT_SECRET", SECRET)
    status = cli_login(oauth_emulator, callback_port, "--dsn", pg.dsn(login_db), "--server", SERVER,
                       "--role", "public")
    assert status == 0, capsys.readouterr().err
    token = mapped_token(pg, login_db, "public")
    assert me(oauth_emulator, token).status_code == 200
    assert "updated the user mapping for public" in capsys.readouterr().err


def test_print_token_prints_the_token_alone_on_stdout(oauth_emulator, callback_port, admin_email, capsys,
                                                      monkeypatch):
    monkeypatch.setattr(webbrowser, "open", SigningInBrowser(admin_email))
    status = cli_login(oauth_emulator, callback_port, "--client-secret", SECRET, "--print-token")
    output = capsys.readouterr()
    assert status == 0, output.err
    token = output.out.strip()
    assert output.out == token + "\n" and me(oauth_emulator, token).json()["email"] == admin_email
    assert token not in output.err and SECRET not in output.err


def test_without_dsn_or_print_token_the_token_is_not_shown_and_the_way_is_told(oauth_emulator, callback_port,
                                                                             admin_email, capsys):
    login(login_request(oauth_emulator, callback_port), browser=SigningInBrowser(admin_email))
    output = capsys.readouterr()
    assert output.out == "" and "--dsn" in output.err and "--print-token" in output.err
    assert not re.search(r"dG9r[\w-]{20,}", output.err)  # the emulator's tokens start with dG9r


def test_a_wrong_client_secret_is_a_token_endpoint_error_without_the_secret(oauth_emulator, callback_port,
                                                                          admin_email, capsys, monkeypatch):
    wrong = "cs_WRONG_secret_2718"
    monkeypatch.setattr(webbrowser, "open", SigningInBrowser(admin_email))
    monkeypatch.setenv("INTERCOM_CLIENT_SECRET", wrong)
    status = cli_login(oauth_emulator, callback_port, "--print-token")
    output = capsys.readouterr()
    assert status == 1 and output.out == ""
    assert "Intercom refused the authorization code (HTTP 401)" in output.err and "HINT:" in output.err
    assert wrong not in output.err


def test_a_missing_server_fails_before_the_sign_in(pg, login_db, oauth_emulator, callback_port):
    browser = SigningInBrowser("nobody@example.com")
    target = UserMappingTarget(pg.dsn(login_db), "no_such_server")
    with pytest.raises(errors.ConfigurationError, match="no foreign server 'no_such_server'"):
        login(login_request(oauth_emulator, callback_port, target=target), browser=browser)
    with pytest.raises(errors.ConfigurationError, match="no role 'no_such_role'"):
        login(login_request(oauth_emulator, callback_port, target=UserMappingTarget(pg.dsn(login_db), SERVER,
                                                                                    "no_such_role")),
              browser=browser)
    assert browser.pages == [] and browser.failure is None  # the browser was never sent to sign in


def test_a_role_that_may_not_write_the_mapping_fails_before_the_sign_in(pg, login_db, oauth_emulator,
                                                                       callback_port):
    with pg.connect(login_db) as conn:
        conn.execute("DROP ROLE IF EXISTS login_outsider")
        conn.execute("CREATE ROLE login_outsider LOGIN")
    browser = SigningInBrowser("nobody@example.com")
    for role in (ROLE, None, "PUBLIC"):  # another role, itself without USAGE, PUBLIC without owning the server
        target = UserMappingTarget(pg.dsn(login_db, user="login_outsider"), SERVER, role)
        with pytest.raises(errors.ConfigurationError, match="'login_outsider' may not write the user mapping") \
                as caught:
            login(login_request(oauth_emulator, callback_port, target=target), browser=browser)
        assert "GRANT USAGE ON FOREIGN SERVER" in caught.value.hint
    assert browser.pages == [] and browser.failure is None


def test_dsn_without_server_is_refused(capsys):
    assert main(["login", "--client-id", CLIENT_ID, "--client-secret", SECRET, "--dsn", "dbname=x"]) == 1
    assert "--dsn and --server go together" in capsys.readouterr().err


# --- the ways a sign-in fails: each a clear message, and the user mapping left as it was ---

def _tampered_state(location):
    parts = urlsplit(location)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return parts._replace(query=urlencode({**query, "state": "a-forged-state"})).geturl()


def _used_by_someone_else(emulator):
    def exchange_first(location):
        code = parse_qs(urlsplit(location).query)["code"][0]
        oauth.exchange_code(code, CLIENT_ID, SECRET, token_url=emulator.url + "/auth/eagle/token")
        return location
    return exchange_first


@pytest.mark.parametrize("case", ["wrong state", "denied consent", "wrong client secret", "reused code", "timeout"])
def test_a_failed_sign_in_says_why_and_stores_nothing(case, pg, login_db, oauth_emulator, callback_port,
                                                      admin_email, capsys, monkeypatch):
    wrong_secret = "cs_WRONG_secret_1618"
    browser, secret, timeout, expected = {
        "wrong state": (SigningInBrowser(admin_email, on_redirect=_tampered_state), SECRET, "30",
                        "state does not match the state this login sent"),
        "denied consent": (SigningInBrowser(admin_email, deny=True), SECRET, "30",
                           "access was denied: the Intercom app was not authorized"),
        "wrong client secret": (SigningInBrowser(admin_email), wrong_secret, "30",
                                "Intercom refused the authorization code (HTTP 401)"),
        "reused code": (SigningInBrowser(admin_email, on_redirect=_used_by_someone_else(oauth_emulator)), SECRET,
                        "30", "code is invalid, expired or already used"),
        "timeout": (None, SECRET, "0.5", "timed out after 0.5 s waiting for the browser to come back"),
    }[case]
    if browser is None:
        monkeypatch.setattr(webbrowser, "open", lambda url: True)  # a browser that is never used
    else:
        monkeypatch.setattr(webbrowser, "open", browser)
    monkeypatch.setenv("INTERCOM_CLIENT_SECRET", secret)
    main_args = ["login", "--client-id", CLIENT_ID, "--redirect-uri", f"https://127.0.0.1:{callback_port}/callback",
                 "--authorize-url", oauth_emulator.url + "/oauth", "--token-url",
                 oauth_emulator.url + "/auth/eagle/token", "--timeout", timeout,
                 "--dsn", pg.dsn(login_db), "--server", SERVER, "--role", UNMAPPED]
    status = main(main_args)
    output = capsys.readouterr()
    assert status == 1 and expected in output.err, output.err
    assert "HINT:" in output.err and output.out == ""
    assert mapping_of(pg, login_db, UNMAPPED) is None
    assert SECRET not in output.err and wrong_secret not in output.err
    assert not re.search(r"dG9r[\w-]{20,}", output.err)
    if browser is not None:
        assert browser.finished().failure is None
        if case in ("wrong state", "denied consent"):
            assert browser.pages[0].status_code == 400 and "Sign-in failed" in browser.pages[0].text
            assert re.search(r"code=[\w-]{8,}", browser.pages[0].text) is None


# --- paste mode: no local server; the address the browser was sent to, pasted on stdin ---

@pytest.mark.parametrize("redirect", [PASTE_URI, None])
def test_paste_mode_signs_in_with_the_pasted_address(redirect, pg, login_db, oauth_emulator, admin_email,
                                                     capsys, monkeypatch, pasted_stdin):
    browser = SigningInBrowser(admin_email, paste_into=pasted_stdin)
    monkeypatch.setattr(webbrowser, "open", browser)
    monkeypatch.setenv("INTERCOM_CLIENT_SECRET", SECRET)
    chosen = ["--redirect-uri", redirect] if redirect else []  # None: the app's default redirect URL
    status = main(["login", "--paste", "--client-id", CLIENT_ID, *chosen, "--authorize-url", oauth_emulator.url + "/oauth",
                   "--token-url", oauth_emulator.url + "/auth/eagle/token", "--timeout", "30",
                   "--dsn", pg.dsn(login_db), "--server", SERVER, "--role", ROLE])
    output = capsys.readouterr()
    assert status == 0, output.err
    assert "Paste the whole address" in output.err
    assert ("redirect_uri=" in output.err) == (redirect is not None)
    token = mapped_token(pg, login_db, ROLE)
    assert me(oauth_emulator, token).json()["email"] == admin_email
    assert token not in output.err and SECRET not in output.err


def test_paste_mode_refuses_an_address_with_another_state_and_stores_nothing(pg, login_db, oauth_emulator,
                                                                            admin_email, capsys, monkeypatch,
                                                                            pasted_stdin):
    monkeypatch.setattr(webbrowser, "open", SigningInBrowser(admin_email, on_redirect=_tampered_state,
                                                             paste_into=pasted_stdin))
    status = main(["login", "--paste", "--client-id", CLIENT_ID, "--client-secret", SECRET, "--redirect-uri",
                   PASTE_URI, "--authorize-url", oauth_emulator.url + "/oauth", "--token-url",
                   oauth_emulator.url + "/auth/eagle/token", "--timeout", "30",
                   "--dsn", pg.dsn(login_db), "--server", SERVER, "--role", UNMAPPED])
    assert status == 1 and "state does not match" in capsys.readouterr().err
    assert mapping_of(pg, login_db, UNMAPPED) is None


def test_an_unregistered_or_http_redirect_uri_gets_no_code(oauth_emulator, callback_port, admin_email, capsys,
                                                          monkeypatch):
    browser = SigningInBrowser(admin_email)
    monkeypatch.setattr(webbrowser, "open", browser)
    unregistered = free_port()  # not callback_port + 1: that one may be another process's
    while unregistered == callback_port:
        unregistered = free_port()
    status = cli_login(oauth_emulator, unregistered, "--client-secret", SECRET, "--print-token",
                       "--timeout", "3")  # a port not registered with the app: the emulator refuses it
    assert status == 1 and "timed out" in capsys.readouterr().err
    refused = browser.finished().failure  # the authorize page itself refuses: no form, no redirect, no code
    assert isinstance(refused, requests.HTTPError) and refused.response.status_code == 400
    assert "not a redirect URL registered" in refused.response.text
    assert main(["login", "--client-id", CLIENT_ID, "--client-secret", SECRET, "--redirect-uri",
                 f"http://127.0.0.1:{callback_port}/callback"]) == 1
    assert "Intercom's redirect URLs must use HTTPS" in capsys.readouterr().err


# --- a real browser ---

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def chromium():
    """Headless chromium through chromedriver (Debian's packages, installed by scripts/bootstrap.sh).
    It accepts the callback's self-signed certificate, as a person clicks through the warning."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), "run scripts/bootstrap.sh: chromium is missing"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--ignore-certificate-errors", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # no download: the given driver
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


class ChromiumSignIn:
    """The person at the keyboard: types the email and password into the authorize page and clicks
    "Authorize access"; chromium follows the redirect to the local HTTPS callback."""

    def __init__(self, driver, email):
        self.driver, self.email, self.failure, self.visit = driver, email, None, None

    def __call__(self, url):
        self.visit = threading.Thread(target=self._sign_in, args=(url,), daemon=True)
        self.visit.start()
        return True

    def _sign_in(self, url):
        from selenium.webdriver.common.by import By

        try:
            self.driver.get(url)
            self.driver.find_element(By.NAME, "email").send_keys(self.email)
            self.driver.find_element(By.NAME, "password").send_keys("a password")
            self.driver.find_element(By.XPATH, "//button[normalize-space()='Authorize access']").click()
        except Exception as exc:
            self.failure = exc

    def landed_on(self):
        self.visit.join(20)
        return self.driver.current_url, self.driver.find_element("tag name", "body").text


def test_sign_in_with_intercom_in_a_real_browser(pg, login_db, oauth_emulator, callback_port, admin_email,
                                                 chromium, capsys):
    started = time.monotonic()
    with pg.connect(login_db) as conn:
        conn.execute(sql.SQL("DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER {}").format(sql.Identifier(SERVER)))
    person = ChromiumSignIn(chromium, admin_email)
    login(login_request(oauth_emulator, callback_port, target=UserMappingTarget(pg.dsn(login_db), SERVER)),
          browser=person)
    url, text = person.landed_on()
    assert person.failure is None
    assert url.startswith(f"https://127.0.0.1:{callback_port}/callback?") and "Signed in to Intercom" in text
    token = mapped_token(pg, login_db, "postgres")
    assert me(oauth_emulator, token).json()["email"] == admin_email
    assert admins_through_the_fdw(pg, login_db, "via_chromium") is True
    output = capsys.readouterr()
    assert "created the user mapping for CURRENT_USER" in output.err and "SHA-256" in output.err
    assert token not in output.out + output.err and SECRET not in output.out + output.err
    assert time.monotonic() - started < 30
