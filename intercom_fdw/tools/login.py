"""`intercom-fdw login`: "Sign in with Intercom" from a terminal, the token straight into a USER MAPPING.

The flow: the browser is sent to the authorization URL; Intercom redirects it to a redirect URL, which
Intercom requires to be HTTPS: either a one-shot HTTPS server on 127.0.0.1 (a self-signed certificate
made for the sign-in) receives it, or, with `--paste`, the user pastes the address the browser was sent
to; the redirect's `state` must be the one sent (CSRF); the code is exchanged with
`intercom_fdw.tools.oauth.exchange_code`; the token is written into a user mapping (or printed on request).
Progress goes to stderr and only a requested token to stdout, so `$(intercom-fdw login ... --print-token)`
captures the token alone. The client secret and the token are registered secrets: no error shows them.
"""
from __future__ import annotations

import datetime
import getpass
import html
import http.server
import ipaddress
import os
import secrets
import ssl
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg import sql

from intercom_fdw import errors
from intercom_fdw.tools import oauth

DEFAULT_REDIRECT_URI = "https://127.0.0.1:8765/callback"
DEFAULT_TIMEOUT_S = 300.0
CLIENT_SECRET_ENV = "INTERCOM_CLIENT_SECRET"
# The callback server binds the IPv4 loopback only: nothing outside this machine can reach it.
_LISTEN_HOST = "127.0.0.1"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost")
_SIGN_IN_AGAIN = "run `intercom-fdw login` again and sign in from the URL it prints"

Browser = Callable[[str], bool]


@dataclass(frozen=True)
class UserMappingTarget:
    """Where the token goes: the user mapping of `role` (None: CURRENT_USER; "PUBLIC") on `server`."""

    dsn: str
    server: str
    role: Optional[str] = None

    def describe(self) -> str:
        return f"user mapping for {self.role or 'CURRENT_USER'} on server {self.server}"

    def check(self) -> None:
        """Fail before the sign-in, not after it, when the database, server or role is wrong."""
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM pg_foreign_server WHERE srvname = %s", (self.server,)).fetchone() is None:
                raise errors.ConfigurationError(
                    f"no foreign server {self.server!r} in database {conn.info.dbname!r}",
                    hint="create it first (README, 'Set up in your database') or name the right one with --server",
                )
            if self._is_named_role() and conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (self.role,)
            ).fetchone() is None:
                raise errors.ConfigurationError(f"no role {self.role!r} in this cluster",
                                                hint="name an existing role with --role, or leave it out "
                                                     "for CURRENT_USER")
            # PostgreSQL's rule for CREATE/ALTER USER MAPPING: the server's owner (or a superuser) maps any
            # role; a role maps itself with USAGE on the server. Checked here because a refused statement
            # would be logged by the server together with the token it carries.
            allowed = conn.execute(
                "SELECT pg_has_role(srvowner, 'USAGE') OR (COALESCE(%s, current_user) = current_user"
                " AND has_server_privilege(oid, 'USAGE')) FROM pg_foreign_server WHERE srvname = %s",
                (self._usename(), self.server),
            ).fetchone()[0]
            if not allowed:
                raise errors.ConfigurationError(
                    f"role {conn.info.parameter_status('session_authorization')!r} may not write the "
                    f"{self.describe()}",
                    hint="connect with --dsn as the server's owner or a superuser, or as the mapped role "
                         "after GRANT USAGE ON FOREIGN SERVER to it")

    def write(self, token: str) -> str:
        """CREATE or ALTER the user mapping so that its access_token is `token`; 'created' or 'updated'."""
        errors.register_secret(token)
        user = self._user_sql()
        server = sql.Identifier(self.server)
        with self._connect() as conn:
            row = conn.execute(
                "SELECT umoptions FROM pg_user_mappings WHERE srvname = %s AND usename = COALESCE(%s, current_user)",
                (self.server, self._usename()),
            ).fetchone()
            if row is None:
                statement = sql.SQL("CREATE USER MAPPING FOR {} SERVER {} OPTIONS (access_token {})").format(
                    user, server, sql.Literal(token))
            else:
                has_token = any(option.startswith("access_token=") for option in row[0] or ())
                statement = sql.SQL("ALTER USER MAPPING FOR {} SERVER {} OPTIONS ({} access_token {})").format(
                    user, server, sql.SQL("SET" if has_token else "ADD"), sql.Literal(token))
            if conn.info.parameter_status("is_superuser") == "on":
                # The statement's text holds the token: keep it out of the server log, both where
                # log_statement ('ddl', 'all') logs every such statement and should it fail.
                conn.execute("SET log_statement = 'none'")
                conn.execute("SET log_min_error_statement = panic")
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                raise errors.ConfigurationError(
                    f"could not write the {self.describe()}: {exc.diag.message_primary or exc}",
                    hint=exc.diag.message_hint or "nothing was written; fix the cause and run login again",
                ) from None
        return "created" if row is None else "updated"

    def _connect(self) -> psycopg.Connection:
        try:
            errors.register_secret(psycopg.conninfo.conninfo_to_dict(self.dsn).get("password"))
            return psycopg.connect(self.dsn, autocommit=True)
        except psycopg.Error as exc:
            raise errors.ConfigurationError(f"cannot connect to PostgreSQL with --dsn: {exc}",
                                            hint="a libpq connection string, e.g. 'host=... dbname=... user=...'",
                                            ) from None

    def _is_public(self) -> bool:
        return (self.role or "").upper() == "PUBLIC"

    def _is_named_role(self) -> bool:
        return bool(self.role) and not self._is_public()

    def _usename(self) -> Optional[str]:
        """The mapped role as pg_user_mappings names it ('public' for PUBLIC); None for CURRENT_USER."""
        return "public" if self._is_public() else self.role

    def _user_sql(self) -> sql.Composable:
        if self._is_public():
            return sql.SQL("PUBLIC")
        return sql.Identifier(self.role) if self.role else sql.SQL("CURRENT_USER")


@dataclass(frozen=True)
class LoginRequest:
    client_id: str
    client_secret: str
    # None (paste mode only): left out of the authorization URL, so Intercom uses the app's default one.
    redirect_uri: Optional[str] = DEFAULT_REDIRECT_URI
    authorize_url: str = oauth.AUTHORIZE_URL
    token_url: str = oauth.TOKEN_URL
    timeout_s: float = DEFAULT_TIMEOUT_S
    target: Optional[UserMappingTarget] = None
    print_token: bool = False
    paste: bool = False  # no local listener: the user pastes the address the browser was sent to


def callback_address(redirect_uri: str) -> Tuple[int, str]:
    """(port, path) the local callback server answers for `redirect_uri`, which must be a loopback https URL."""
    parts = urlsplit(redirect_uri or "")
    hint = ("use a loopback redirect URI such as " + DEFAULT_REDIRECT_URI + ", registered as a redirect URL "
            "of your Intercom app, or --paste to paste the address the browser is sent to")
    if parts.scheme == "http":
        raise errors.ConfigurationError(
            f"redirect URI {redirect_uri!r} uses http: Intercom's redirect URLs must use HTTPS", hint=hint)
    if parts.scheme != "https" or parts.hostname not in _LOOPBACK_NAMES:
        raise errors.ConfigurationError(
            f"redirect URI {redirect_uri!r} is not https://127.0.0.1:PORT/... or https://localhost:PORT/...: "
            "the callback server listens on this machine's 127.0.0.1 only", hint=hint)
    try:
        port = parts.port or 443
    except ValueError:
        raise errors.ConfigurationError(f"redirect URI {redirect_uri!r} has an invalid port", hint=hint) from None
    return port, parts.path or "/"


def code_from_callback(params: Mapping[str, str], expected_state: str) -> str:
    """The authorization code of Intercom's redirect, after checking its `state` against the one sent."""
    # The state is checked first: an answer with a foreign state says nothing trustworthy, not even a denial.
    if not secrets.compare_digest(params.get("state", "").encode(), expected_state.encode()):
        raise errors.AuthenticationError(
            "the OAuth callback's state does not match the state this login sent (a possible cross-site "
            "request forgery, or an old sign-in page); no code was exchanged",
            hint=_SIGN_IN_AGAIN + ", in the browser that opens it", code="state_mismatch")
    error = params.get("error")
    if error == "access_denied":
        raise errors.AuthenticationError(
            "access was denied: the Intercom app was not authorized",
            hint=_SIGN_IN_AGAIN + " and choose to authorize access", code="access_denied")
    if error:
        description = params.get("error_description")
        raise errors.AuthenticationError(f"Intercom answered the sign-in with error {error}"
                                         + (f": {description}" if description else ""),
                                         hint=_SIGN_IN_AGAIN, code=error)
    if not params.get("code"):
        raise errors.AuthenticationError("the OAuth callback carries no authorization code", hint=_SIGN_IN_AGAIN)
    return params["code"]


def code_from_pasted_address(address: str, expected_state: str, redirect_uri: Optional[str]) -> str:
    """The code of the address the browser was redirected to, pasted by the user: it must be at
    `redirect_uri` (when one was sent) and carry the state sent."""
    address = (address or "").strip()
    parts = urlsplit(address)
    hint = ("paste the whole address from the browser's address bar after authorizing access, "
            "starting with " + (redirect_uri or "https://"))
    if not (parts.scheme and parts.netloc and parts.query):
        raise errors.AuthenticationError("the pasted text is not the address the browser was redirected to "
                                         "(no https://...?code=...&state=...)", hint=hint, code="bad_paste")
    if redirect_uri is not None:
        sent = urlsplit(redirect_uri)
        if (parts.scheme, parts.netloc.lower(), parts.path) != (sent.scheme, sent.netloc.lower(), sent.path):
            raise errors.AuthenticationError(f"the pasted address is not at the redirect URL {redirect_uri}",
                                             hint=hint, code="bad_paste")
    return code_from_callback(dict(parse_qsl(parts.query, keep_blank_values=True)), expected_state)


def _timed_out(timeout_s: float, where: str) -> errors.AuthenticationError:
    return errors.AuthenticationError(
        f"timed out after {timeout_s:g} s waiting for {where}",
        hint="open the printed URL, sign in and authorize access; check that this exact redirect URL "
             "is registered in your Intercom app; a longer wait: --timeout SECONDS", code="timeout")


class _Outcome:
    """The first answer of a sign-in (a code, or the AuthenticationError it brought), awaited with a timeout."""

    def __init__(self) -> None:
        self._answered = threading.Event()
        self._value: object = None

    def settle(self, decide: Callable[[], str]) -> Optional[errors.AuthenticationError]:
        """Record `decide()` unless an answer came first; the error of the recorded answer, if any."""
        if not self._answered.is_set():
            try:
                self._value = decide()
            except errors.AuthenticationError as error:
                self._value = error
            self._answered.set()
        return self._value if isinstance(self._value, errors.AuthenticationError) else None

    def wait(self, timeout_s: float, timed_out: errors.AuthenticationError) -> str:
        if not self._answered.wait(timeout_s):
            raise timed_out
        if isinstance(self._value, errors.AuthenticationError):
            raise self._value
        return self._value


class CallbackReceiver:
    """A one-shot HTTPS server on 127.0.0.1 for the redirect, with a self-signed certificate made for this
    sign-in: the first request to the callback path decides (a code, or why not); anything else gets a 404.
    Use as a context manager."""

    def __init__(self, redirect_uri: str, expected_state: str):
        port, self.path = callback_address(redirect_uri)
        self.redirect_uri = redirect_uri
        self._expected_state = expected_state
        self._outcome = _Outcome()
        self.certificate_pem, key_pem = self_signed_certificate()
        handler = type("BoundCallbackHandler", (_CallbackHandler,), {"receiver": self})
        try:
            self._server = _TlsServer((_LISTEN_HOST, port), handler, _tls_context(self.certificate_pem, key_pem))
        except OSError as exc:
            raise errors.ConfigurationError(
                f"cannot listen on {_LISTEN_HOST}:{port} for the OAuth callback: {exc.strerror or exc}",
                hint="stop what uses that port, or use another port in --redirect-uri "
                     "(and register that redirect URL in your Intercom app)") from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="intercom-fdw-login-callback", daemon=True)

    @property
    def waiting_message(self) -> str:
        return (f"Waiting for the redirect to {self.redirect_uri} ... Its page is served with a certificate made "
                f"for this sign-in (SHA-256 {certificate_fingerprint(self.certificate_pem)}): your browser will "
                "warn that it is not trusted; continue to 127.0.0.1 to finish.")

    def __enter__(self) -> "CallbackReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def accept(self, params: Mapping[str, str]) -> Optional[errors.AuthenticationError]:
        """Record the redirect's outcome (the first one wins); the error it carries, if any."""
        return self._outcome.settle(lambda: code_from_callback(params, self._expected_state))

    def wait(self, timeout_s: float) -> str:
        """The authorization code, once the browser comes back; raises when it does not or brings an error."""
        return self._outcome.wait(timeout_s, _timed_out(timeout_s, f"the browser to come back to {self.redirect_uri}"))


class PastedAddress:
    """Paste mode: the address the browser was redirected to, read as one line from `stream` (stdin)."""

    def __init__(self, redirect_uri: Optional[str], expected_state: str, stream=None):
        self.redirect_uri = redirect_uri
        self._expected_state = expected_state
        self._stream = stream if stream is not None else sys.stdin
        self._outcome = _Outcome()
        # A daemon thread, so that a timeout does not wait for a line that never comes.
        self._reader = threading.Thread(target=self._read, name="intercom-fdw-login-paste", daemon=True)

    waiting_message = ("After authorizing access the browser is sent to the redirect URL (the page may fail to "
                       "load: that is fine). Paste the whole address from its address bar here and press Enter:")

    def __enter__(self) -> "PastedAddress":
        self._reader.start()
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def _read(self) -> None:
        line = self._stream.readline()
        self._outcome.settle(lambda: code_from_pasted_address(line, self._expected_state, self.redirect_uri))

    def wait(self, timeout_s: float) -> str:
        return self._outcome.wait(timeout_s, _timed_out(timeout_s, "the pasted address"))


def self_signed_certificate() -> Tuple[bytes, bytes]:
    """(certificate, key) in PEM for 127.0.0.1 and localhost, valid for a day: the callback's HTTPS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intercom-fdw login callback")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(_LISTEN_HOST)),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def certificate_fingerprint(certificate_pem: bytes) -> str:
    digest = x509.load_pem_x509_certificate(certificate_pem).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def _tls_context(certificate_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reads files only: a private directory that is gone once the context holds the key.
    with tempfile.TemporaryDirectory(prefix="intercom-fdw-login-") as private:
        certificate_file, key_file = os.path.join(private, "cert.pem"), os.path.join(private, "key.pem")
        for path, data in ((certificate_file, certificate_pem), (key_file, key_pem)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(data)
        context.load_cert_chain(certificate_file, key_file)
    return context


class _TlsServer(http.server.ThreadingHTTPServer):
    """The handshake runs in each request's thread, under a timeout, so that a browser that connects and
    then rejects the certificate (or a stalled client) cannot hold up the one that signs in."""

    daemon_threads = True

    def __init__(self, address, handler, context: ssl.SSLContext):
        self._context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        request.settimeout(10)
        with self._context.wrap_socket(request, server_side=True) as tls:
            self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address) -> None:
        """Silent: a refused certificate or a dropped connection is the browser's business, and a
        traceback could show the request line, which carries the authorization code."""


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    receiver: CallbackReceiver

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        if url.path != self.receiver.path:
            self._answer(404, "This is not the intercom-fdw login callback.")
            return
        error = self.receiver.accept(dict(parse_qsl(url.query, keep_blank_values=True)))
        if error is None:
            self._answer(200, "Signed in to Intercom. You can close this tab and return to the terminal.")
        else:
            self._answer(400, f"Sign-in failed: {error}. Return to the terminal.")

    def _answer(self, status: int, text: str) -> None:
        body = (f'<!doctype html><html><head><meta charset="utf-8"><title>intercom-fdw login</title></head>'
                f"<body><p>{html.escape(text)}</p></body></html>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        """Silent: request lines carry the authorization code."""


def sign_in(request: LoginRequest, browser: Optional[Browser] = None) -> str:
    """The access token of a whole sign-in; `browser(url)` opens the authorization URL (None: only print it).
    `request.target` is checked first (not written): a sign-in whose token could not be stored is not begun."""
    if not request.client_secret:
        raise errors.ConfigurationError("no OAuth client secret",
                                        hint=f"set {CLIENT_SECRET_ENV} (or --client-secret) to your Intercom "
                                             "app's client secret")
    errors.register_secret(request.client_secret)
    if not request.timeout_s > 0:
        raise errors.ConfigurationError(f"--timeout must be a positive number of seconds, not {request.timeout_s:g}")
    if request.target is not None:
        request.target.check()
    if not request.paste:
        callback_address(request.redirect_uri)  # a bad redirect URI fails before a browser is sent anywhere
    url, state = oauth.authorization_url(request.client_id, request.redirect_uri,
                                         authorize_url=request.authorize_url)
    receiver = (PastedAddress(request.redirect_uri, state) if request.paste
                else CallbackReceiver(request.redirect_uri, state))
    with receiver:
        _say(f"Open this URL in a browser, sign in to Intercom and authorize access:\n\n    {url}\n")
        if browser is not None and not _opened(browser, url):
            _say("(No browser could be opened here: open the URL yourself.)")
        _say(f"(Waiting up to {request.timeout_s:g} s.) {receiver.waiting_message}")
        code = receiver.wait(request.timeout_s)
    return oauth.exchange_code(code, request.client_id, request.client_secret, token_url=request.token_url)


def login(request: LoginRequest, browser: Optional[Browser] = None) -> None:
    """Sign in, then store the token in `request.target` and/or print it."""
    token = sign_in(request, browser)
    if request.target is not None:
        done = request.target.write(token)
        _say(f"Signed in: {done} the {request.target.describe()} with the new access token.")
    if request.print_token:
        print(token, flush=True)
    elif request.target is None:
        _say("Signed in. The access token is not shown. To store it in a user mapping, run login again with "
             "--dsn 'host=... dbname=... user=...' --server SERVER [--role ROLE]; to print it, add --print-token.")


def request_from_args(args, target: Optional[UserMappingTarget] = None, print_token: bool = False) -> LoginRequest:
    """The LoginRequest of the sign-in arguments (cli.py's `sign_in_arguments`)."""
    given = {"redirect_uri": args.redirect_uri, "authorize_url": args.authorize_url,
             "token_url": args.token_url, "timeout_s": args.timeout}
    given = {name: value for name, value in given.items() if value is not None}
    if args.paste:
        # Without --redirect-uri, Intercom sends the browser to the app's default (first) redirect URL.
        given.setdefault("redirect_uri", None)
    return LoginRequest(client_id=args.client_id, client_secret=_client_secret(args.client_secret),
                        target=target, print_token=print_token, paste=args.paste, **given)


def browser_from_args(args) -> Optional[Browser]:
    import webbrowser

    return None if args.no_browser else webbrowser.open


def run(args) -> int:
    """`intercom-fdw login` (arguments from cli.py): 0 when signed in, 1 with a clear error otherwise."""
    try:
        target = None
        if args.dsn or args.server or args.role:
            if not (args.dsn and args.server):
                raise errors.ConfigurationError("--dsn and --server go together (--role is optional)",
                                                hint="--dsn 'host=... dbname=...' --server SERVER")
            target = UserMappingTarget(args.dsn, args.server, args.role)
        login(request_from_args(args, target, args.print_token), browser=browser_from_args(args))
    except errors.IntercomError as error:
        _say(f"intercom-fdw login: {error}" + (f"\nHINT: {error.hint}" if error.hint else ""))
        return 1
    except KeyboardInterrupt:
        _say("intercom-fdw login: cancelled")
        return 130
    return 0


def _client_secret(given: Optional[str]) -> str:
    """--client-secret, else the environment, else asked for without echo when there is a terminal."""
    secret = given or os.environ.get(CLIENT_SECRET_ENV, "")
    if not secret and sys.stdin.isatty():
        secret = getpass.getpass("Intercom app client secret: ")
    return secret


def _opened(browser: Browser, url: str) -> bool:
    try:
        return bool(browser(url))
    except Exception:  # webbrowser raises webbrowser.Error or OSError when nothing can show a page
        return False


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
