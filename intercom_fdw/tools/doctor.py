"""`intercom-fdw doctor`: what stands between this database and working queries, each with its fix.

Looks, changes nothing: the Multicorn runtime (which one, its version), the extensions, the package
as the server's Python imports it, on real multicorn2 what would let a statement crash a backend there
(foreign partitions, auto_explain, who may COPY FROM), the server and the caller's user mapping, the token (GET /me from
here, with the server's region or api_url), the rate-limit headroom its answer's X-RateLimit-*
headers show, the schema's drift from the workspace (the tables and custom-attribute columns
IMPORT FOREIGN SCHEMA would create today that are missing; tools/schema_drift.py), and the capture
triggers of synced tables made for other columns than their foreign tables have now. The exit
status is 1 when any check fails. The token is registered as a secret: no message shows it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import psycopg

from intercom_fdw import errors
from intercom_fdw.actions.connection import WRAPPER_CLASS
from intercom_fdw.actions.sqlgen import INTERCOM_FOREIGN_PARTITIONS, INTERCOM_FOREIGN_TABLES
from intercom_fdw.options import FdwOptions
from intercom_fdw.replication.planning import literal
from intercom_fdw.sync.runner import TRIGGER_NAME
from intercom_fdw.tools import schema_drift, token_check


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    says: str
    fix: str = ""

    def line(self) -> str:
        # What is said is scrubbed of every registered token (the label would look like one to scrub).
        text = f"[{'ok' if self.ok else 'FAIL'}] {self.check}: {errors.scrub(self.says)}"
        return text + (f"\n       fix: {self.fix}" if self.fix and not self.ok else "")


def _options(array) -> dict:
    return dict(option.split("=", 1) for option in array or ())


def diagnose(dsn: str, server: str = "intercom", schema: Optional[str] = None) -> List[Finding]:
    found: List[Finding] = []
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as exc:
        return [Finding("database", False, f"cannot connect: {exc}".strip(), "check --dsn (a libpq connection string)")]
    with conn:
        _runtime(conn, found)
        _extension(conn, found)
        _capture_triggers(conn, found)
        if _package(conn, found) == "multicorn2":
            _multicorn2_crashes(conn, found)
        options = _server_and_mapping(conn, server, found)
        if options is not None:
            client = _token(options, found)
            if client is not None:
                _drift(conn, client, server, schema, found)
    return found


def _extension_versions(conn, name: str) -> Optional[tuple]:
    """(default_version, installed_version) of extension `name`, None when this PostgreSQL lacks it."""
    return conn.execute("SELECT default_version, installed_version FROM pg_available_extensions "
                        "WHERE name = %s", (name,)).fetchone()


def _runtime(conn, found):
    row = _extension_versions(conn, "multicorn")
    if row is None:
        found.append(Finding("runtime", False, "no multicorn extension in this PostgreSQL",
                             "install multicorn2 (docker/ builds an image; README 'The runtime versus multicorn2')"))
    elif row[1] is None:
        found.append(Finding("runtime", False, f"multicorn {row[0]} is available but not created in this database",
                             "as a superuser: CREATE EXTENSION multicorn (or intercom-fdw setup)"))
    else:
        found.append(Finding("runtime", True, f"multicorn extension {row[1]}"))


def _extension(conn, found):
    row = _extension_versions(conn, "intercom_fdw")
    if row is None:
        found.append(Finding("intercom_fdw extension", False, "not installed in this PostgreSQL",
                             "make -C sql install (its option checks and action functions)"))
    elif row[1] is None:
        found.append(Finding("intercom_fdw extension", False, f"{row[0]} available, not created",
                             "CREATE EXTENSION intercom_fdw CASCADE (before the server: it checks options)"))
    elif row[1] != row[0]:
        found.append(Finding("intercom_fdw extension", False, f"{row[1]} created, {row[0]} installed",
                             f"ALTER EXTENSION intercom_fdw UPDATE TO '{row[0]}'"))
    else:
        found.append(Finding("intercom_fdw extension", True, row[1]))


# The capture triggers of synced tables (sync/runner.py installs them): the replica table, its object
# and the trigger's arguments (object, operations, and the JSON of the columns it was made for).
_CAPTURE_TRIGGERS = """
SELECT n.nspname AS schema, c.relname AS name, t.tgargs AS args
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = %s AND NOT t.tgisinternal ORDER BY 1, 2"""

_FOREIGN_COLUMNS = """
SELECT a.attname FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind = 'f'
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"""


def _capture_triggers(conn, found):
    """Each synced table's capture trigger against its foreign table as it is now. The trigger refuses
    an edit Intercom's API cannot make from the columns of when a sync installed it (every sync installs
    it again): a column imported since is captured and checked by the push (fine, said); one it still
    takes as settable that the foreign table has lost is captured and then rejected by every push; a
    trigger from before it knew its columns refuses the edits of a column imported since."""
    triggers = conn.execute(_CAPTURE_TRIGGERS, (TRIGGER_NAME,)).fetchall()
    if not triggers:
        found.append(Finding("sync triggers", True, "no synced table"))
        return
    problems, fixes, notes = [], [], []
    for schema, name, raw in triggers:
        args = [a.decode() for a in bytes(raw).split(b"\0")[:-1]]
        obj, replica = args[0] if args else name, f"{schema}.{name}"
        try:
            capture = json.loads(args[2]) if len(args) > 2 else {}
        except ValueError:  # not what sync installs (a trigger of that name made by hand)
            capture = {}
        if not isinstance(capture, dict):
            capture = {}
        fix = f"CALL intercom_fdw.sync(ARRAY[{literal(obj)}], {literal(schema)})"
        if "columns" not in capture:
            problems.append(f"{replica}: installed before the trigger knew its foreign table's columns, so it "
                            "refuses edits of columns imported since")
            fixes.append(fix)
            continue
        foreign = f"{capture['foreign_schema']}.{capture['foreign_table']}"
        now = {r[0] for r in conn.execute(_FOREIGN_COLUMNS, (capture["foreign_schema"], capture["foreign_table"]))}
        if not now:
            problems.append(f"{replica}: its foreign table {foreign} is gone, so the next sync of {obj} fails")
            fixes.append(f"IMPORT FOREIGN SCHEMA intercom LIMIT TO ({obj}) FROM SERVER ... INTO "
                         f"{capture['foreign_schema']}, then {fix}")
            continue
        settable = sorted(set(capture.get("insert", ())) | set(capture.get("update", ())))
        lost = [c for c in settable if c not in now]
        gained = sorted(now - set(capture["columns"]))
        if lost:
            problems.append(f"{replica}: captures edits of {', '.join(lost)}, which {foreign} no longer has, "
                            "and every sync rejects them")
            fixes.append(fix)
        elif gained:
            notes.append(f"{replica} captures {', '.join(gained)}, imported since its trigger was installed "
                         "(checked when sync pushes them; the next sync installs the trigger again)")
    if problems:
        found.append(Finding("sync triggers", False, "capture triggers out of date: " + "; ".join(problems),
                             "; ".join(fixes) + " (a sync installs the trigger again from the foreign table's "
                             "columns; it also sends the pending changes)"))
        return
    found.append(Finding("sync triggers", True, f"{len(triggers)} synced table{'s' if len(triggers) > 1 else ''}"
                         + ("; " + "; ".join(notes) if notes
                            else ", each capture trigger made for its foreign table's columns")))


_PROBE = """
DO LANGUAGE plpython3u $probe$
import importlib.util
found = {}
for name in ("intercom_fdw", "multicorn"):
    try:
        module = __import__(name)
        found[name] = getattr(module, "__file__", "?")
    except Exception as error:
        found[name] = "ERROR " + type(error).__name__ + ": " + str(error)
plpy.notice(repr(found))
$probe$"""


def _package(conn, found) -> Optional[str]:
    """The runtime the server's Python imports ("bundled" or "multicorn2"), None when not told."""
    if conn.execute("SELECT 1 FROM pg_language WHERE lanname = 'plpython3u'").fetchone() is None:
        found.append(Finding("package", True, "not checked (plpython3u not created: the first query will tell)"))
        return None
    notices = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
    try:
        conn.execute(_PROBE)
    except psycopg.Error as exc:
        found.append(Finding("package", True, f"not checked ({exc.diag.message_primary})"))
        return None
    import ast

    seen = ast.literal_eval(notices[-1]) if notices else {}
    broken = {k: v for k, v in seen.items() if str(v).startswith("ERROR")}
    if broken:
        found.append(Finding("package", False, "the server's Python cannot import " + "; ".join(
            f"{k} ({v[6:]})" for k, v in broken.items()),
            "pip install intercom_fdw into the Python PostgreSQL embeds, or put it on the server's PYTHONPATH"))
        return None
    bundled = "multicorn_compat" in str(seen.get("multicorn"))
    runtime = "bundled (multicorn_compat)" if bundled else "multicorn2"
    found.append(Finding("package", True, f"the server's Python imports intercom_fdw from {seen.get('intercom_fdw')}; "
                                          f"runtime {runtime}"))
    return "bundled" if bundled else "multicorn2"


# Intercom foreign tables that are partitions, with the table each is attached to.
_FOREIGN_PARTITIONS = f"""
SELECT f.ftrelid::regclass::text, i.inhparent::regclass::text
FROM {INTERCOM_FOREIGN_PARTITIONS}
JOIN pg_inherits i ON i.inhrelid = f.ftrelid
ORDER BY 1"""

# Roles that may log in, are not superusers, and may INSERT into some Intercom foreign table.
_INSERTING_ROLES = f"""
SELECT r.rolname
FROM pg_roles r
WHERE r.rolcanlogin AND NOT r.rolsuper AND EXISTS (
    SELECT 1 FROM {INTERCOM_FOREIGN_TABLES}
    WHERE has_any_column_privilege(r.oid, f.ftrelid, 'INSERT'))
ORDER BY 1"""

_AUTO_EXPLAIN = """
SELECT concat_ws(',', current_setting('shared_preload_libraries'), current_setting('session_preload_libraries'),
                 current_setting('local_preload_libraries')),
       current_setting('auto_explain.log_min_duration', true)"""


def _multicorn2_crashes(conn, found):
    """What lets a statement crash a backend on multicorn2 3.2 (README, multicorn2 differences), and
    restart every session of the cluster: a foreign partition made before the extension's check
    existed, auto_explain printing plans, and (told, not a problem in itself) who may COPY FROM."""
    partitions = conn.execute(_FOREIGN_PARTITIONS).fetchall()
    if partitions:
        found.append(Finding(
            "foreign partitions", False,
            "an INSERT, UPDATE or COPY routed into " + ", ".join(f"{t} (a partition of {p})" for t, p in partitions)
            + " crashes the backend on multicorn2 3.2 (no BeginForeignInsert), restarting every session",
            "; ".join(f"ALTER TABLE {p} DETACH PARTITION {t}" for t, p in partitions)
            + " (write the foreign table directly; read it with local tables through a UNION ALL view)"))
    else:
        found.append(Finding("foreign partitions", True, "no Intercom foreign table is a partition"))
    libraries, duration = conn.execute(_AUTO_EXPLAIN).fetchone()
    loaded = any(lib.strip().split("/")[-1].removesuffix(".so") == "auto_explain" for lib in libraries.split(","))
    if loaded and duration not in (None, "-1"):
        found.append(Finding(
            "auto_explain", False,
            f"auto_explain is preloaded and logs plans (log_min_duration {duration}): on multicorn2 3.2 printing the "
            "plan of a scan driven by a parameter of a by-reference type other than text (an array as in id = ANY($1) "
            "of a generic plan or ANY(ARRAY(SELECT ...)), numeric, jsonb, uuid) crashes the backend, as EXPLAIN does, "
            "so such a query crashes it when it runs",
            "ALTER ROLE ... SET auto_explain.log_min_duration = -1 (or ALTER DATABASE ...) for the roles that query "
            "Intercom tables, or drop auto_explain from the *_preload_libraries"))
    roles = [row[0] for row in conn.execute(_INSERTING_ROLES).fetchall()]
    if roles:
        more = f" and {len(roles) - 10} more" if len(roles) > 10 else ""
        who = (f"roles besides superusers that may: {', '.join(roles[:10])}{more} "
               "(REVOKE INSERT from those that do not write to Intercom)")
    else:
        who = "no role besides superusers may"
    found.append(Finding("COPY FROM", True, "COPY ... FROM into an Intercom foreign table crashes the backend on "
                                            "multicorn2 3.2, and only the INSERT privilege keeps a role from it "
                                            f"(INSERT ... SELECT from a table COPY filled is safe); {who}"))


def _server_and_mapping(conn, server, found) -> Optional[FdwOptions]:
    row = conn.execute("SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s", (server,)).fetchone()
    if row is None or _options(row[0]).get("wrapper") != WRAPPER_CLASS:
        found.append(Finding("server", False, f"no intercom_fdw server named {server!r}",
                             "intercom-fdw setup --dsn ... --token-env VAR (or --server NAME)"))
        return None
    server_options = _options(row[0])
    found.append(Finding("server", True, f"{server} ({', '.join(f'{k} {v}' for k, v in server_options.items() if k in ('region', 'api_url'))})"))
    mapping = conn.execute("SELECT umoptions FROM pg_user_mappings WHERE srvname = %s AND usename = current_user",
                           (server,)).fetchone()
    token = _options(mapping[0]).get("access_token") if mapping else None
    errors.register_secret(token)
    if not token:
        found.append(Finding("user mapping", False, f"no user mapping with an access_token for {conn.info.user}",
                             f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (access_token '...') "
                             "(or intercom-fdw setup / login)"))
        return None
    found.append(Finding("user mapping", True, f"{conn.info.user} has an access_token (not shown)"))
    try:
        return FdwOptions.parse({**server_options, "access_token": token})
    except errors.IntercomError as error:
        found.append(Finding("server options", False, error.message, error.hint or ""))
        return None


def _token(options, found):
    try:
        client, me = token_check.check_token(options)
    except errors.AuthenticationError as error:
        found.append(Finding("token", False, error.message,
                             "a valid token: ALTER USER MAPPING FOR CURRENT_USER SERVER ... OPTIONS (SET access_token "
                             "'...') or intercom-fdw setup --token-env VAR"))
        return None
    except errors.IntercomError as error:
        found.append(Finding("token", False, error.message, error.hint or "check the server's region or api_url"))
        return None
    found.append(Finding("token", True, f"GET /me: {token_check.who(me)}"))
    found.append(_headroom(*client.rate_limit(), now=time.time()))
    return client


# Below this share of a slice's calls left, whatever else uses the app's budget will slow queries down.
LOW_HEADROOM = 0.10


def _headroom(limit, remaining, reset, now: float) -> Finding:
    """The rate-limit headroom that the X-RateLimit-* headers of the /me answer show."""
    if limit is None or remaining is None:
        return Finding("rate limit", True, "not reported by this endpoint (no X-RateLimit-* headers)")
    resets = f", resets in {max(0, round(reset - now))} s" if reset is not None else ""
    says = f"{remaining} of {limit} calls left in this rate-limit slice{resets}"
    if limit > 0 and remaining / limit < LOW_HEADROOM:
        return Finding("rate limit", False, says + ": something else is using most of this app's budget",
                       "find what else calls Intercom with this app or workspace (replication, other sessions, "
                       "other integrations); give this server a smaller share with OPTIONS (ADD rate_limit_share "
                       "'0.5') or fewer parallel calls with OPTIONS (ADD concurrency '2', ADD read_concurrency '8')")
    return Finding("rate limit", True, says)


def _drift(conn, client, server, schema, found):
    tables = schema_drift.foreign_tables(conn, server, schema)
    schemas = sorted(tables)
    if not tables:
        found.append(Finding("schema", False, f"no foreign table on server {server}"
                             + (f" in schema {schema}" if schema else ""),
                             f"IMPORT FOREIGN SCHEMA intercom FROM SERVER {server} INTO {schema or 'intercom'} "
                             "(or intercom-fdw setup)"))
        return
    if len(schemas) > 1:
        found.append(Finding("schema", True, f"tables in {', '.join(schemas)}: checking {schemas[0]} (--schema picks)"))
    target = schemas[0]
    try:
        drift = schema_drift.schema_drift(client, tables[target], target)
    except errors.IntercomError as error:
        found.append(Finding("schema", False, f"cannot read the workspace's attributes: {error.message}", error.hint or ""))
        return
    if drift.none:
        found.append(Finding("schema", True, f"{target} has every table and column the workspace has today"))
        return
    found.append(Finding("schema", False, f"{target} is behind the workspace: {drift.describe()}",
                         f"intercom-fdw setup --dsn ... --token-env VAR --schema {target} --server {server} --refresh "
                         "(adds them; views over the schema keep working)"))


def run(args, say: Callable[[str], None] = print) -> int:
    findings = diagnose(args.dsn, args.server, args.schema)
    for finding in findings:
        say(finding.line())
    failed = [f for f in findings if not f.ok]
    say(f"{len(failed)} problem(s)" if failed else "all checks passed")
    return 1 if failed else 0
