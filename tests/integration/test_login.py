"""`intercom-fdw login` end to end: the emulator's authorize page driven over plain HTTP as a browser
would, the local callback, the code exchange, the user mapping written into a throwaway PostgreSQL,
and a query through the FDW with the token it holds."""
import re
import threading
import webbrowser
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
import requests
from psycopg import sql

from intercom_fdw import errors
from intercom_fdw.tools.cli import main
from intercom_fdw.emulator import EmulatorConfig, OAuthApp, start_in_thread
from intercom_fdw.tools.login import LoginRequest, UserMappingTarget, login
from intercom_fdw.tools.throwaway_pg import free_port

CLIENT_ID = "login-test-app"
SECRET = "cs_login_IT_SECRET_31415"
SERVER = "intercom"
ROLE = "login_role"


@pytest.fixture(scope="module")
def callback_port():
    return free_port()


@pytest.fixture(scope="module")
def oauth_emulator(callback_port):
    app = OAuthApp(CLIENT_ID, SECRET, f"http://127.0.0.1:{callback_port}/callback")
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
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(ROLE)))
        conn.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER {} TO {}").format(sql.Identifier(SERVER),
                                                                             sql.Identifier(ROLE)))
    return name


class _Form(HTMLParser):
    """The sign-in form of the authorize page: its action and its hidden fields."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action")
        elif tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value", "")


class SigningInBrowser:
    """What a person does in the browser: open the page, sign in as `email`, follow the redirect
    to the local callback. Runs in a thread, as a real browser runs beside the waiting command."""

    def __init__(self, email):
        self.email, self.pages, self.failure, self.visit = email, [], None, None

    def __call__(self, url):
        self.visit = threading.Thread(target=self._sign_in, args=(url,), daemon=True)
        self.visit.start()
        return True

    def finished(self):
        """Wait until the browser has read the callback's page (the login may finish first)."""
        self.visit.join(10)
        return self

    def _sign_in(self, url):
        try:
            with requests.Session() as session:
                page = session.get(url, timeout=10)
                page.raise_for_status()
                form = _Form()
                form.feed(page.text)
                answer = session.post(urljoin(url, form.action), timeout=10,
                                      data={**form.fields, "email": self.email, "password": "any password"})
                self.pages.append(answer)  # requests follows the 302 to the callback
        except Exception as exc:  # seen by the test, which would otherwise only see a timeout
            self.failure = exc


def login_request(emulator, port, **overrides):
    fields = dict(client_id=CLIENT_ID, client_secret=SECRET, redirect_uri=f"http://127.0.0.1:{port}/callback",
                  authorize_url=emulator.url + "/oauth", token_url=emulator.url + "/auth/eagle/token", timeout_s=30)
    return LoginRequest(**{**fields, **overrides})


def cli_login(emulator, port, *arguments):
    """`intercom-fdw login` against the emulator; the exit status."""
    return main(["login", "--client-id", CLIENT_ID, "--redirect-uri", f"http://127.0.0.1:{port}/callback",
                 "--authorize-url", emulator.url + "/oauth", "--token-url", emulator.url + "/auth/eagle/token",
                 "--timeout", "30", *arguments])


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
