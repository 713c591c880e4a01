"""`intercom-fdw setup`: from an empty database to a working `intercom` schema, idempotently.

Each step looks at the catalog first and changes only what differs: the extensions (intercom_fdw
first, so that its option checks cover the server and mapping made next), the server, the caller's
user mapping and IMPORT FOREIGN SCHEMA into an empty schema. A second run changes nothing and says
so. `--refresh` then catches an imported schema up with its workspace (tools/schema_drift.py): the
columns of new custom attributes and the tables of new ticket types, added without dropping anything,
so views over the schema keep working. The token is read from an environment variable (never from
the command line, which `ps` shows) or comes from a browser sign-in (`--login`, tools/login.py);
it is registered as a secret so that no error shows it, and the statement carrying it runs with
statement logging off, as `intercom-fdw login` writes its mapping.

Before it writes a token (a new user mapping, or a token that differs from the mapping's), setup asks
Intercom whether it takes it (tools/token_check.py, doctor's check), at the endpoint the server will
have, before any other step: a token Intercom rejects, or one it could not be asked about (no answer, a
5xx), stops setup with nothing written, since every query would fail with it. `--no-check` writes it
unchecked: the check runs where setup runs, the queries from the PostgreSQL server, and only the
server may reach Intercom.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, List, Optional

import psycopg
from psycopg import sql

from intercom_fdw import errors
from intercom_fdw.options import FdwOptions
from intercom_fdw.tools import schema_drift, token_check

WRAPPER = "intercom_fdw.IntercomFdw"


@dataclass(frozen=True)
class SetupRequest:
    dsn: str
    token: str
    region: Optional[str] = None
    api_url: Optional[str] = None
    schema: str = "intercom"
    server: str = "intercom"
    refresh: bool = False
    check_token: bool = True  # False: --no-check
    token_from: str = "the token"  # where it came from, for messages: "the token in $INTERCOM_TOKEN"

    @property
    def endpoint(self):
        """The server's (option, value) asked for; None when neither --region nor --api-url was given."""
        if self.api_url:
            return "api_url", self.api_url
        return ("region", self.region) if self.region else None


def _options(array) -> dict:
    return dict(option.split("=", 1) for option in array or ())


def setup(request: SetupRequest, say: Callable[[str], None] = print) -> List[str]:
    """Run every step; returns what changed (empty: nothing did)."""
    errors.register_secret(request.token)
    changed: List[str] = []
    try:
        conn = psycopg.connect(request.dsn, autocommit=True)
    except psycopg.Error as exc:
        raise errors.ConfigurationError(f"cannot connect to PostgreSQL with --dsn: {exc}",
                                        hint="a libpq connection string, e.g. 'host=... dbname=... user=...'") from None
    # What the statements tell (IMPORT FOREIGN SCHEMA: the custom attributes it leaves out, and why)
    told: List[str] = []
    conn.add_notice_handler(lambda diag: told.append(diag.message_primary))
    with conn:
        try:
            server_options = _server_options(conn, request)
            mapping = _mapping_options(conn, request)
            moves = request.endpoint is not None and (server_options or {}).get(request.endpoint[0]) != request.endpoint[1]
            if mapping is None or mapping.get("access_token") != request.token or moves:
                # before any step: a refused token writes nothing (a token works in its own region only)
                _check_token(request, server_options, say)
            _extensions(conn, changed)
            _server(conn, request, server_options, changed)
            _user_mapping(conn, request, mapping, changed)
            imported_now = _schema(conn, request, changed)
            if request.refresh and not imported_now:
                _refresh(conn, request, changed)
        except psycopg.Error as exc:
            raise errors.ConfigurationError(
                f"setup stopped: {exc.diag.message_primary or exc}",
                hint=exc.diag.message_hint or "fix the cause and run setup again: what is done stays done",
                detail=exc.diag.message_detail) from None
    for line in changed:
        say(line)
    for notice in told:
        say(f"NOTICE: {notice}")
    say("nothing to change: the database is set up" + ("" if request.refresh else
        " (--refresh adds the tables and columns of ticket types and attributes new since the import)")
        if not changed else f"done: {len(changed)} change(s); `intercom-fdw setup` again changes nothing")
    return changed


def _extensions(conn, changed):
    have = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
    available = {row[0] for row in conn.execute("SELECT name FROM pg_available_extensions")}
    if "multicorn" not in have:
        if "multicorn" not in available:
            raise errors.ConfigurationError(
                "the multicorn extension is not installed in this PostgreSQL",
                hint="install multicorn2 (README, 'The runtime versus multicorn2'; docker/ builds an image)")
        conn.execute("CREATE EXTENSION multicorn")
        changed.append("created extension multicorn")
    if "intercom_fdw" not in have and "intercom_fdw" in available:
        conn.execute("CREATE EXTENSION intercom_fdw CASCADE")
        changed.append("created extension intercom_fdw (option checks and action functions)")


def _server_options(conn, request) -> Optional[dict]:
    """The options of the server named, None when there is none yet; refuses a server that is not ours."""
    row = conn.execute("SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s", (request.server,)).fetchone()
    if row is None:
        return None
    options = _options(row[0])
    if options.get("wrapper") != WRAPPER:
        raise errors.ConfigurationError(f"server {request.server!r} exists and is not an intercom_fdw server",
                                        hint="name another one with --server")
    return options


def _mapping_options(conn, request) -> Optional[dict]:
    row = conn.execute("SELECT umoptions FROM pg_user_mappings WHERE srvname = %s AND usename = current_user",
                       (request.server,)).fetchone()
    return None if row is None else _options(row[0])


def _check_token(request, server_options: Optional[dict], say) -> None:
    """Ask Intercom whether it takes the token, at the endpoint the server will have once _server ran."""
    if not request.check_token:
        say(f"{request.token_from} not checked with Intercom (--no-check)")
        return
    options = dict(server_options or {"region": "us"})
    if request.endpoint is not None:  # else the server keeps its endpoint (a new one: region us)
        options = {k: v for k, v in options.items() if k not in ("region", "api_url")}
        options.update([request.endpoint])
    fdw_options = FdwOptions.parse({**options, "access_token": request.token})
    try:
        _client, me = token_check.check_token(fdw_options)
    except errors.AuthenticationError as error:
        raise errors.AuthenticationError(
            f"Intercom at {fdw_options.base_url} rejected {request.token_from}, so setup wrote nothing: "
            f"{error.message}",
            hint="use an access token of this workspace (Intercom's Developer Hub: your app > Authentication); "
                 "a token works only in its own workspace's region, so check --region/--api-url too",
            status=error.status, code=error.code, request_id=error.request_id) from None
    except errors.IntercomError as error:
        raise type(error)(
            f"cannot check {request.token_from} with Intercom at {fdw_options.base_url}, so setup wrote nothing: "
            f"{error.message}",
            hint=(f"{error.hint}; " if error.hint else "") + "to write the token without checking it, run setup "
                 "again with --no-check",
            status=error.status, code=error.code, request_id=error.request_id) from None
    say(f"{request.token_from} checked with Intercom (GET /me): {token_check.who(me)}")


def _server(conn, request, options: Optional[dict], changed):
    name, value = request.endpoint or ("region", "us")
    server = sql.Identifier(request.server)
    if options is None:
        conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper {}, {} {})").format(
            server, sql.Literal(WRAPPER), sql.Identifier(name), sql.Literal(value)))
        changed.append(f"created server {request.server} ({name} {value})")
        return
    if request.endpoint is None:
        return  # neither --region nor --api-url: the server keeps the endpoint it has
    if options.get(name) == value and not ({"region", "api_url"} - {name}) & set(options):
        return
    other = "api_url" if name == "region" else "region"
    actions = [sql.SQL("{} {} {}").format(sql.SQL("SET" if name in options else "ADD"), sql.Identifier(name),
                                          sql.Literal(value))]
    if other in options:
        actions.append(sql.SQL("DROP {}").format(sql.Identifier(other)))
    conn.execute(sql.SQL("ALTER SERVER {} OPTIONS ({})").format(server, sql.SQL(", ").join(actions)))
    changed.append(f"changed server {request.server} to {name} {value}")


def _user_mapping(conn, request, mapping: Optional[dict], changed):
    if mapping is not None and mapping.get("access_token") == request.token:
        return
    server, token = sql.Identifier(request.server), sql.Literal(request.token)
    if mapping is None:
        statement = sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})").format(
            server, token)
    else:
        verb = sql.SQL("SET" if "access_token" in mapping else "ADD")
        statement = sql.SQL("ALTER USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS ({} access_token {})").format(
            server, verb, token)
    if conn.info.parameter_status("is_superuser") == "on":
        # The statement's text holds the token: keep it out of the server log (log_statement, and
        # log_min_error_statement should it fail); both are superuser-only settings.
        conn.execute("SET log_statement = 'none'")
        conn.execute("SET log_min_error_statement = panic")
    try:
        conn.execute(statement)
    finally:
        if conn.info.parameter_status("is_superuser") == "on":
            conn.execute("RESET log_statement")
            conn.execute("RESET log_min_error_statement")
    changed.append(("created" if mapping is None else "updated") + f" the user mapping for {conn.info.user} "
                   f"on server {request.server} (token not shown)")


def _schema(conn, request, changed) -> bool:
    """Import into an empty schema; True when it did."""
    schema = sql.Identifier(request.schema)
    if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (request.schema,)).fetchone() is None:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        changed.append(f"created schema {request.schema}")
    tables = conn.execute(
        "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = %s "
        "AND foreign_server_name = %s", (request.schema, request.server)).fetchone()[0]
    if tables:
        return False  # imported already: --refresh catches it up
    conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom FROM SERVER {} INTO {}").format(
        sql.Identifier(request.server), schema))
    count = conn.execute("SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = %s",
                         (request.schema,)).fetchone()[0]
    changed.append(f"imported {count} foreign tables into schema {request.schema}")
    return True


def _refresh(conn, request, changed):
    have = schema_drift.foreign_tables(conn, request.server, request.schema).get(request.schema, {})
    server_options = _options(conn.execute("SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s",
                                           (request.server,)).fetchone()[0])
    options = FdwOptions.parse({**server_options, "access_token": request.token})
    drift = schema_drift.schema_drift(schema_drift.api_client(options), have, request.schema)
    if drift.none:
        return
    with conn.transaction():  # all of it or nothing: a half-refreshed schema would be drift again
        for statement in schema_drift.catch_up_statements(drift, request.server):
            conn.execute(statement)
    for table, column in drift.missing_columns:
        changed.append(f"added column {column.name} ({column.pg_type}) to {request.schema}.{table}")
    for table in drift.missing_tables:
        changed.append(f"imported new table {request.schema}.{table}")


def run(args) -> int:
    try:
        if args.login:
            token, token_from = _signed_in_token(args), "the signed-in token"
        else:
            token_from = f"the token in ${args.token_env}"
            token = token_check.token_from_environment(args.token_env, ", or sign in with --login --client-id ID")
        setup(SetupRequest(args.dsn, token, args.region, args.api_url, args.schema, args.server, args.refresh,
                           check_token=not args.no_check, token_from=token_from))
    except errors.IntercomError as error:
        print(f"intercom-fdw setup: {error.message}" + (f"\n  HINT: {error.hint}" if error.hint else ""),
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("intercom-fdw setup: cancelled", file=sys.stderr)
        return 130
    return 0


def _signed_in_token(args) -> str:
    """--login: the token of a "Sign in with Intercom", for the workspace the admin signs in to."""
    from intercom_fdw.tools import login

    if not args.client_id:
        raise errors.ConfigurationError("--login needs --client-id (your Intercom app's client id)")
    try:  # before the browser: a wrong --dsn should not cost a sign-in
        psycopg.connect(args.dsn, connect_timeout=10).close()
    except psycopg.Error as exc:
        raise errors.ConfigurationError(f"cannot connect to PostgreSQL with --dsn: {exc}",
                                        hint="a libpq connection string, e.g. 'host=... dbname=... user=...'") from None
    return login.sign_in(login.request_from_args(args), login.browser_from_args(args))
