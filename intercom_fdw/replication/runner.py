"""The one engine that runs every replication strategy (strategies.py) over the foreign tables.

It talks to PostgreSQL through a `Database` (rows, commit, notice): in the procedure that is plpy
(plpython.py). Intercom is reached only by the SQL it runs over the foreign tables; the API call
count comes from the FDW's own client in the same backend (`backend_usage`). Each window is one
statement followed by a commit, together with the state row's cursor and counters, so a run that
stops anywhere resumes from its last committed window.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import traceback
from dataclasses import dataclass, replace
from typing import Callable, Dict, Iterator, List, Optional, Protocol, Sequence

from intercom_fdw.actions.connection import choose_server, parse_options
from intercom_fdw.client.http import backend_usage
from intercom_fdw.errors import CANCELED_MESSAGE, ConfigurationError, IntercomError
from intercom_fdw.objects import SPECS
from intercom_fdw.options import SCAN_MODES
from intercom_fdw.planning.partition import MIN_CALENDAR_WINDOW
from intercom_fdw.replication import planning as sql
from intercom_fdw.replication.planning import STATE_SCHEMA, Source, Table, ident, literal
from intercom_fdw.replication.strategies import (
    CREATED_WINDOW, CREATED_WINDOW_ROWS, IDS_PER_WINDOW, IDS_PER_WINDOW_SETTING, PARENTS_PER_WINDOW,
    SCAN_MODE_SETTING, STRATEGIES, STRATEGIES_BY_OBJECT, WINDOW_ROWS, WINDOW_ROWS_SETTING, Strategy,
)

MODES = ("incremental", "full", "reconcile")
DELETES = ("mark", "delete")
# One advisory lock space for all runs that write replica tables: (this class id, hashtext(target.object)).
# replicate() holds it for each object it runs; sync() (sync/runner.py) for each object it syncs, for
# the whole run (its push writes the replica rows too), beside a lock of its own (SYNC_LOCK_CLASS, same
# key) that only syncs take: holding both says the run is a sync.
LOCK_CLASS = "hashtext('intercom_fdw.replicate')"
SYNC_LOCK_CLASS = "hashtext('intercom_fdw.sync')"
NOTICE_PREFIX = "intercom_fdw.replicate: "
# Session setting on while a run writes replica tables: sync's capture triggers (sync/) skip those rows.
APPLYING_SETTING = "intercom_fdw.applying"


class Database(Protocol):
    def rows(self, query: str) -> List[dict]: ...
    # The rows of `query` fetched `batch` at a time; the query ends (its scan with it) when the
    # caller stops iterating. No commit may come before the iteration ends.
    def stream(self, query: str, batch: int) -> Iterator[dict]: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def notice(self, message: str) -> None: ...


class RunFailed(Exception):
    pass


@dataclass
class Counters:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    calls: int = 0
    windows: int = 0


def choose_objects(objects: Optional[Sequence[str]]) -> List[Strategy]:
    if not objects:
        return list(STRATEGIES)
    unknown = [o for o in objects if o not in STRATEGIES_BY_OBJECT]
    if unknown:
        raise ConfigurationError(f"unknown object(s) to replicate: {', '.join(unknown)}",
                                 hint="objects are: " + ", ".join(s.object for s in STRATEGIES))
    wanted = set(objects)
    return [s for s in STRATEGIES if s.object in wanted]  # parents before their children


def check_arguments(mode: str, deletes: str, target_schema: str) -> None:
    if mode not in MODES:
        raise ConfigurationError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if deletes not in DELETES:
        raise ConfigurationError(f"deletes must be one of {', '.join(DELETES)}, not {deletes!r}")
    if not target_schema:
        raise ConfigurationError("target_schema must be a schema name")


_SERVERS = """
SELECT s.srvname AS name, s.srvoptions AS options FROM pg_catalog.pg_foreign_server s
JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw WHERE w.fdwname = 'multicorn' ORDER BY 1"""

# How far back a first full read guesses the rows start (it sizes the first created_at window only).
FIRST_GUESS_S = 2 * 365 * 86400

# Each foreign table of the server with its `object` option, and the options that make it a part
# of that object (a ticket-type table's ticket_type_id). The name is always schema-qualified: the
# search_path may find a run's own target table of the same name first (regclass::text would not qualify).
_FOREIGN_TABLES = """
SELECT format('%%I.%%I', n.nspname, c.relname) AS foreign_table, c.relname AS name, o.object, o.options
FROM pg_catalog.pg_foreign_table ft
JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
CROSS JOIN LATERAL (SELECT max(substr(opt, 8)) FILTER (WHERE opt LIKE 'object=%%') AS object,
                           array_agg(split_part(opt, '=', 1)) AS options
                    FROM unnest(ft.ftoptions) AS opt) AS o
WHERE s.srvname = %s AND o.object IS NOT NULL AND c.relpersistence <> 't'  -- (not a run's reader, _reader)
ORDER BY 1"""

_FOREIGN_TABLE = """
SELECT ft.ftoptions AS options, s.srvname AS server, s.srvoptions AS server_options
FROM pg_catalog.pg_foreign_table ft JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
WHERE ft.ftrelid = %s::regclass"""

_COLUMN_OPTIONS = """
SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions AS options
FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""

# What a name in the target schema is, if anything: rows go only into tables (plain or partitioned).
_RELKIND = "SELECT c.relkind::text AS kind FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(%s)"
_NOT_TABLES = {"f": "a foreign table", "v": "a view", "m": "a materialized view", "S": "a sequence",
               "i": "an index", "I": "an index", "c": "a composite type", "t": "a TOAST table"}

# Replica columns of a type the foreign column's values reach only by an assignment cast (lossy) or no
# cast at all (_refuse_narrower_columns).
_NARROWER_COLUMNS = """
SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS replica_type,
       pg_catalog.format_type(f.atttypid, f.atttypmod) AS foreign_type
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_attribute f ON f.attrelid = {foreign}::regclass AND f.attname = a.attname AND f.attnum > 0
     AND NOT f.attisdropped
WHERE a.attrelid = to_regclass({replica}) AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid <> f.atttypid
  AND (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid) <> 'S'  -- text holds any value
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_cast c WHERE c.castsource = f.atttypid AND c.casttarget = a.atttypid
                  AND c.castcontext = 'i')
ORDER BY a.attnum"""

_COLUMNS = """
SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""


def interrupted(error: Exception) -> bool:
    """PostgreSQL's "operator intervention" errors (SQLSTATE class 57: query_canceled, admin_shutdown),
    as a statement inside the procedure raises them, or a foreign table's report of one on multicorn2
    (XX000, pg_interrupts.StatementCanceled's message): they end a run instead of failing one object."""
    return (str(getattr(error, "sqlstate", "") or "").startswith("57")
            or CANCELED_MESSAGE in str(error))


def canceled_reason(error: Exception) -> str:
    """The first line of an interrupt's error, without PL/Python's exception name."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else "canceled"
    return text.split(": ", 1)[1] if text.startswith(("spiexceptions.", "plpy.")) and ": " in text else text


class RunCanceled(Exception):
    """A run that a cancel or statement_timeout stopped, as the procedure reports it: PostgreSQL's reason
    (without PL/Python's exception name: the CALL said "spiexceptions.QueryCanceled: canceling ..."), its
    SQLSTATE (class 57; 57014 for a foreign table's report of it on multicorn2, XX000), and a detail
    and hint saying where the run stopped and what the next one does."""

    def __init__(self, reason: str, sqlstate: str, detail: str, hint: str):
        super().__init__(reason)
        self.reason, self.sqlstate, self.detail, self.hint = reason, sqlstate, detail, hint


def canceled_means(error: Exception, detail: str, hint: str) -> Optional[RunCanceled]:
    """What an interrupt (`interrupted`) means for the run it stopped, as the procedure reports it: a
    RunCanceled with PostgreSQL's reason and SQLSTATE, and `detail` (what the run had done) and `hint`
    (what the next run does). None for any other error; an inner run's RunCanceled (sync's pull) as it is."""
    if isinstance(error, RunCanceled):
        return error
    if not interrupted(error):
        return None
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    return RunCanceled(canceled_reason(error), sqlstate if sqlstate.startswith("57") else "57014", detail, hint)


@contextlib.contextmanager
def canceled_as(detail: str, hint: str) -> Iterator[None]:
    """Around a part of a run that has no state row to record a stop in (its setup, before its first
    object starts: the catalog read, the locks taken, the tables prepared; sync's steps after its
    push): a cancel or statement_timeout there ends the run with the procedure's own cancel error
    (canceled_means), saying `detail` and `hint`, as one during an object's run does, not with
    PostgreSQL's raw one and a Python traceback, nor as one object's failure. An inner run's
    RunCanceled (sync's pull) leaves as it is."""
    try:
        yield
    except Exception as error:
        canceled = canceled_means(error, detail, hint)
        if canceled is None:
            raise
        raise canceled from None


def after_an_interrupt(error: Exception, record: Callable[[str], None], detail: str, hint: str) -> Exception:
    """Records a run's interrupt (`record(reason)`) and returns the error to raise (RunCanceled, with
    `detail` and `hint`). On multicorn2 the cancel PostgreSQL had pending may act only on the first
    statement after the foreign table's report of it (XX000): then PostgreSQL's own report (57014) is
    recorded and raised."""
    if isinstance(error, RunCanceled):  # an inner run (sync's pull) recorded it already
        return error
    try:
        record(canceled_reason(error))
    except Exception as own:  # noqa: BLE001
        if not interrupted(own):
            raise
        record(canceled_reason(own))
        error = own
    return canceled_means(error, detail, hint)


def setting_up_replication(schema: str):
    """canceled_as, as replicate() says it."""
    return canceled_as(f"the run was stopped while it prepared, before any object started: nothing was replicated "
                      f"into {schema}", "the next run of the same mode resumes each object from its last committed "
                                        "window")


def advisory_lock_holders(db: "Database", lock_class: str, key: str) -> Optional[str]:
    """The pids (', '-separated) of the backends holding the advisory lock (lock_class, key), SQL expressions."""
    return db.rows(f"SELECT string_agg(pid::text, ', ') AS pids FROM pg_locks WHERE locktype = 'advisory' AND granted "
                   f"AND classid = ({lock_class})::oid AND objid = ({key})::oid")[0]["pids"]


def busy(what: str, state_table: str, pids: Optional[str]) -> ConfigurationError:
    """The refusal of a run that finds another run holding its lock: `what` and the holder's backend
    (`pids`; None when it let go in between: then running again is the way on)."""
    if not pids:
        return ConfigurationError(what + " (it has just ended)", hint="run this again")
    return ConfigurationError(
        f"{what} (backend {pids})",
        hint=f"wait for that run to end (intercom_fdw.{state_table} shows its progress), "
             f"or stop it with SELECT pg_terminate_backend({pids})")


class Replicator:
    def __init__(self, db: Database, target_schema: str, mode: str, deletes: str, server: Optional[str],
                 usage: Callable[[], dict] = backend_usage):
        self.db, self.schema, self.mode, self.deletes = db, target_schema, mode, deletes
        self.usage = usage
        servers = [(r["name"], parse_options(r["options"])) for r in db.rows(_SERVERS)]
        self.server = choose_server(servers, server)
        self.foreign: Dict[str, List[str]] = {}
        self.parts: Dict[str, List[Strategy]] = {}  # object -> the strategies of its per-table parts
        part_options = {s.per_table_option for s in STRATEGIES if s.per_table_option}
        for row in db.rows(_FOREIGN_TABLES % literal(self.server)):
            option = next((o for o in row["options"] if o in part_options), None)
            strategy = STRATEGIES_BY_OBJECT.get(row["object"])
            if option is None:
                self.foreign.setdefault(row["object"], []).append(row["foreign_table"])
            elif strategy is not None and strategy.per_table_option == option:
                self.parts.setdefault(row["object"], []).append(replace(
                    strategy, object=row["name"], per_table_option=None, foreign_table=row["foreign_table"],
                    part_of=strategy.object))

    # ---- the run ---------------------------------------------------------------------------
    def available(self, strategies: Sequence[Strategy]) -> List[Strategy]:
        """Those of `strategies` whose foreign table (and whose parent's) the server has: what
        `objects => NULL` replicates when only some tables were imported (the others get a NOTICE)."""
        self.refuse_ambiguous(strategies)
        kept = [s for s in strategies if len(self.foreign.get(s.object, ())) == 1]
        kept = [s for s in kept if not s.parent or any(k.object == s.parent for k in kept)]
        skipped = [s.object for s in strategies if s not in kept]
        if skipped:
            self.db.notice(f"not replicated, no foreign table of server {self.server} for them (or their parent): "
                           + ", ".join(skipped))
        return kept

    def refuse_ambiguous(self, strategies: Sequence[Strategy]) -> None:
        """Before anything runs: each object is read through one foreign table of the server. Two schemas
        imported from the same server (a copy for testing, a second IMPORT) leave no way to choose."""
        several = {s.object: self.foreign[s.object] for s in strategies if len(self.foreign.get(s.object, ())) > 1}
        for s in strategies:
            names = [p.object for p in self.parts.get(s.object, [])]
            for name in sorted({n for n in names if names.count(n) > 1}):
                several[name] = [p.foreign_table for p in self.parts[s.object] if p.object == name]
        if several:
            raise ConfigurationError(
                f'several foreign tables of server "{self.server}" read the same Intercom objects: '
                + "; ".join(f"{obj} ({', '.join(tables)})" for obj, tables in sorted(several.items())),
                hint="replication and sync read each object through one foreign table: drop the copies not "
                     "used (DROP FOREIGN TABLE, or DROP SCHEMA ... CASCADE), or import the other schema from a "
                     "server of its own (CREATE SERVER ... FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper "
                     "'intercom_fdw.IntercomFdw', ...), its user mapping, then IMPORT FOREIGN SCHEMA)")

    def run(self, strategies: Sequence[Strategy]) -> Dict[str, Optional[str]]:
        """Replicates each object in turn; returns object -> error (None when it succeeded)."""
        applying: Optional[str] = None  # the session's value, once set (a refused run restores it too)
        locked: Optional[List[Strategy]] = None
        results: Dict[str, Optional[str]] = {}
        try:
            with setting_up_replication(self.schema):
                self.refuse_ambiguous(strategies)
                # Asked first: CREATE SCHEMA IF NOT EXISTS alone tells every later run that it exists (IF
                # NOT EXISTS stays for a run into the same new schema that creates it meanwhile).
                if not self.db.rows(f"SELECT 1 FROM pg_namespace WHERE nspname = {literal(self.schema)}"):
                    self.db.rows(f"CREATE SCHEMA IF NOT EXISTS {ident(self.schema)}")
                applying = self.set_applying("on")
                self.db.commit()
                strategies = self.with_parts(strategies)
                self.lock(strategies)
                locked = strategies
            for strategy in locked:
                results[strategy.object] = self._run_object(strategy)
        finally:
            if locked is not None:
                self.unlock(locked)
            if applying is not None:
                self.set_applying(applying)
                self.db.commit()
        return results

    def with_parts(self, strategies: Sequence[Strategy]) -> List[Strategy]:
        """`strategies`, each followed by its per-table parts (the ticket-type tables after tickets)."""
        return [part for s in strategies for part in [s] + self.parts.get(s.object, [])]

    def _locked(self, strategies: Sequence[Strategy]) -> List[Strategy]:
        objects = ({s.object for s in strategies} | {s.parent for s in strategies if s.parent}
                   | {s.copies for s in strategies if s.copies})
        return [s for s in self.with_parts(STRATEGIES) if s.object in objects]

    def _lock_key(self, strategy: Strategy) -> str:
        return f"hashtext({literal(self.schema + '.' + strategy.object)})"

    def lock(self, strategies: Sequence[Strategy]) -> None:
        """Session advisory locks (they outlive the per-window commits) on the objects of `strategies`
        (with their parts: with_parts) for this schema: a second run refuses at once, naming the backend
        that holds them, rather than writing the same rows from what it read before the other's commits.
        A session takes them again (a sync's pull) without waiting; each lock() wants its unlock().

        A child object also locks its parent: no parent window is then in flight while it picks the
        parents changed since its cursor, so the cursor on the parents' `_replicated_at` needs no overlap.
        """
        taken = []
        for strategy in self._locked(strategies):
            key = self._lock_key(strategy)
            if self.db.rows(f"SELECT pg_try_advisory_lock({LOCK_CLASS}, {key}) AS ok")[0]["ok"]:
                taken.append(key)
                continue
            holder = self.db.rows(
                f"SELECT string_agg(l.pid::text, ', ') AS pids, bool_or(EXISTS (SELECT 1 FROM pg_locks s "
                f"WHERE s.pid = l.pid AND s.locktype = 'advisory' AND s.granted AND s.classid = ({SYNC_LOCK_CLASS})::oid "
                f"AND s.objid = ({key})::oid)) AS syncing FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
                f"AND l.classid = ({LOCK_CLASS})::oid AND l.objid = ({key})::oid")[0]
            for other in taken:
                self.db.rows(f"SELECT pg_advisory_unlock({LOCK_CLASS}, {other})")
            if holder["syncing"]:
                raise busy(f"{strategy.object} in {self.schema} is being synced by another run", "sync_state",
                           holder["pids"])
            raise busy(f"{strategy.object} is being replicated into {self.schema} by another run", "replication_state",
                       holder["pids"])

    def unlock(self, strategies: Sequence[Strategy]) -> None:
        """Lets go of what lock(strategies) took."""
        for strategy in self._locked(strategies):
            self.db.rows(f"SELECT pg_advisory_unlock({LOCK_CLASS}, {self._lock_key(strategy)})")

    def _run_object(self, strategy: Strategy) -> Optional[str]:
        counters = Counters()
        try:
            state = self._start(strategy)
            if self._add_new_columns(strategy):  # its cursor went: the state the run goes by changed
                state = self._state_row(strategy)
            runner = getattr(self, "_" + strategy.change)
            runner(strategy, state, counters)
            self._finish(strategy, counters, None)
            return None
        except Exception as error:  # recorded in the state table; the next object still runs
            if interrupted(error):  # a cancel or statement_timeout ends the whole run, now (its windows stay)
                raise self._canceled(strategy, error)
            message = error.message if isinstance(error, IntercomError) else str(error).strip()
            if isinstance(error, IntercomError) and error.hint:
                message += f"\nHINT: {error.hint}"
            if not isinstance(error, (IntercomError, RunFailed)) and type(error).__name__ != "SPIError":
                message = f"internal error: {type(error).__name__}: {message}\n{traceback.format_exc(limit=-3)}"
            self.db.rollback()
            self._finish(strategy, counters, message)
            return message

    # ---- state -----------------------------------------------------------------------------
    def set_applying(self, value: str) -> str:
        """Sets APPLYING_SETTING for the session (committed by the caller); returns the value it had."""
        return self.db.rows(f"SELECT coalesce(current_setting({literal(APPLYING_SETTING)}, true), '') AS was, "
                            f"set_config({literal(APPLYING_SETTING)}, {literal(value)}, false)")[0]["was"]

    def _where(self, strategy: Strategy) -> str:
        return f"object = {literal(strategy.object)} AND target_schema = {literal(self.schema)}"

    def _start(self, strategy: Strategy) -> dict:
        prior = self.db.rows(f"SELECT * FROM {STATE_SCHEMA}.replication_state WHERE {self._where(strategy)}")
        prior = prior[0] if prior else {}
        # A run of the same mode that never ended (canceled, timed out, its backend terminated) is
        # resumed: its committed windows stand, and a complete read keeps the keys it had seen.
        resuming = prior.get("status") in ("running", "canceled") and prior.get("mode") == self.mode
        self.db.rows(
            f"INSERT INTO {STATE_SCHEMA}.replication_state AS s (object, target_schema, server, mode, status, "
            "run_started_at) "
            f"VALUES ({literal(strategy.object)}, {literal(self.schema)}, {literal(self.server)}, "
            f"{literal(self.mode)}, 'running', now()) ON CONFLICT (object, target_schema) DO UPDATE SET "
            "server = EXCLUDED.server, mode = EXCLUDED.mode, status = 'running', error = NULL, "
            "run_started_at = EXCLUDED.run_started_at, run_ended_at = NULL, rows_read = 0, rows_inserted = 0, "
            "rows_updated = 0, rows_marked_deleted = 0, api_calls = 0, windows = 0"
            + (", cursor = NULL, cursor_key = NULL" if self.mode == "full" and not resuming else "")
            + ("" if resuming else ", resume_at = NULL, resume_key = NULL"))
        if not resuming:
            self.db.rows(f"DELETE FROM {STATE_SCHEMA}.replication_seen WHERE {self._where(strategy)}")
        if self.mode == "incremental" and strategy.marks_deletes and strategy.change != "reread":
            age = self.db.rows(f"SELECT last_reconciled_at::text AS at, (now() - last_reconciled_at)::text AS age "
                               f"FROM {STATE_SCHEMA}.replication_state WHERE {self._where(strategy)}")[0]
            self.db.notice(f"{strategy.object}: " + (f"last reconciled {age['age']} ago ({age['at']})" if age["at"]
                           else "never reconciled: deletes are marked by mode 'reconcile' or 'full'"))
        self.db.commit()
        return self._state_row(strategy)

    def _state_row(self, strategy: Strategy) -> dict:
        return self.db.rows(f"SELECT cursor::text AS cursor, cursor_key, run_started_at::text AS started, "
                            f"resume_at::text AS resume_at, resume_key "
                            f"FROM {STATE_SCHEMA}.replication_state WHERE {self._where(strategy)}")[0]

    def _canceled(self, strategy: Strategy, error: Exception) -> Exception:
        """The state row of the object a cancel or statement_timeout stopped says so (it said running);
        returns the error to raise. PostgreSQL has reported the interrupt already: statements still run
        until the error leaves the procedure. (A terminated backend ends at once: its row stays running,
        and is resumed.)"""
        def record(reason: str) -> None:
            self.db.rollback()  # the window in flight; the committed ones stand
            self.db.rows(f"UPDATE {STATE_SCHEMA}.replication_state SET status = 'canceled', error = "
                         f"{literal(reason + ': the next run of the same mode resumes from the last committed window')}, "
                         f"run_ended_at = clock_timestamp() WHERE {self._where(strategy)} AND status = 'running'")
            self.db.commit()
        return after_an_interrupt(
            error, record, f"{strategy.object} into {self.schema} was stopped part-way (replication_state says "
                           "canceled); the objects after it did not run",
            "the next run of the same mode resumes it from its last committed window")

    def _finish(self, strategy: Strategy, counters: Counters, error: Optional[str]) -> None:
        status = "failed" if error else "succeeded"
        # resume_at/resume_key say where the next run goes on, and only a canceled or terminated run
        # (status canceled, running) is resumed: an ended one, failed too, starts over (_start).
        self.db.rows(f"UPDATE {STATE_SCHEMA}.replication_state SET status = {literal(status)}, "
                     f"error = {literal(error)}, run_ended_at = clock_timestamp(), resume_at = NULL, "
                     f"resume_key = NULL WHERE {self._where(strategy)}")
        self.db.commit()
        self.db.notice(f"{strategy.object}: {status}: read={counters.read} inserted={counters.inserted} "
                       f"updated={counters.updated} deleted={counters.deleted} calls={counters.calls} "
                       f"windows={counters.windows}" + (f" error={error.splitlines()[0]}" if error else ""))

    def _window(self, strategy: Strategy, counters: Counters, statement: Callable[[], dict],
                reconciled: bool = False, reached: Sequence[str] = ()) -> dict:
        """Runs one window's statement and commits it with the state row: its counters and `reached`,
        the position the window got to (_resume_to, _cursor_to). One commit for both: a cancel between
        two commits left a window counted and its rows kept while the position still said the window
        before, and the resumed run read that window again."""
        before = self.usage()
        result = statement()
        after = self.usage()
        calls = after["calls"] - before["calls"]
        counters.windows += 1
        counters.read += result.get("read", 0)
        counters.inserted += result.get("inserted", 0)
        counters.updated += result.get("updated", 0)
        counters.deleted += result.get("gone", 0)
        counters.calls += calls
        sets = [f"rows_read = rows_read + {int(result.get('read', 0))}",
                f"rows_inserted = rows_inserted + {int(result.get('inserted', 0))}",
                f"rows_updated = rows_updated + {int(result.get('updated', 0))}",
                f"rows_marked_deleted = rows_marked_deleted + {int(result.get('gone', 0))}",
                f"api_calls = api_calls + {int(calls)}", "windows = windows + 1"]
        if after.get("remaining") is not None:
            sets.append(f"rate_limit_remaining = {int(after['remaining'])}")
        if reconciled:
            sets.append("last_reconciled_at = run_started_at")
        sets.extend(reached)
        self.db.rows(f"UPDATE {STATE_SCHEMA}.replication_state SET {', '.join(sets)} WHERE {self._where(strategy)}")
        self.db.commit()
        self.db.notice(f"{strategy.object}: window {counters.windows}: read={counters.read} "
                       f"inserted={counters.inserted} updated={counters.updated} deleted={counters.deleted} "
                       f"calls={counters.calls} remaining={after.get('remaining')}")
        return result

    # ---- tables ----------------------------------------------------------------------------
    def foreign_table(self, obj: str) -> str:
        """The foreign table (qualified) that reads Intercom `obj` for this server (sync reads through it too)."""
        part = next((p for parts in self.parts.values() for p in parts if p.object == obj), None)
        if part is not None:
            return part.foreign_table
        tables = self.foreign.get(obj, [])
        if len(tables) == 1:
            return tables[0]
        if not tables:
            raise ConfigurationError(
                f'no foreign table of server "{self.server}" reads Intercom {obj} (table option object \'{obj}\')',
                hint=f"IMPORT FOREIGN SCHEMA intercom LIMIT TO ({obj}) FROM SERVER {ident(self.server)} INTO ...;")
        raise ConfigurationError(f"several foreign tables of server \"{self.server}\" read Intercom {obj}: "
                                 f"{', '.join(tables)}", hint="keep one, or replicate through another server")

    def target_table(self, strategy: Strategy) -> Table:
        """The replica table, created with the foreign table's columns, or given those it lacks."""
        table = self._table(strategy)
        if not self._existing_columns(table):
            self.db.rows(sql.create_table(table))
        else:
            self._refuse_narrower_columns(strategy, table)
            self._add_new_columns(strategy, table)
        return table

    def _refuse_narrower_columns(self, strategy: Strategy, table: Table) -> None:
        """Before any read: a replica column whose type (a user's ALTER TABLE, or the foreign table's
        since) takes the foreign column's values only by an assignment cast, or not at all, would round
        them without a word (double precision into integer) or fail every run on a cast PostgreSQL names
        without a remedy. A type that holds them (an implicit cast: integer into bigint; text) is kept."""
        narrower = self.db.rows(_NARROWER_COLUMNS.format(
            replica=literal(table.qualified), foreign=literal(self.foreign_table(strategy.object))))
        if not narrower:
            return
        raise ConfigurationError(
            f"{table.qualified} cannot hold what its foreign table reads: "
            + ", ".join(f"{r['name']} is {r['replica_type']}, the foreign table's {r['foreign_type']}"
                        for r in narrower),
            hint="; ".join(f"ALTER TABLE {table.qualified} ALTER COLUMN {ident(r['name'])} TYPE {r['foreign_type']}"
                           for r in narrower)
                 + " (or DROP COLUMN it: the next run adds it back and reads every row once to fill it)")

    def _table(self, strategy: Strategy) -> Table:
        foreign = self.foreign_table(strategy.object)
        spec = SPECS.get(strategy.spec_object)
        # Filter columns (the API's membership filters) are NULL in every scan: nothing to replicate.
        skipped = {f.column for f in spec.member_filters} if spec else set()
        columns = tuple((r["name"], r["type"]) for r in self.db.rows(_COLUMNS % literal(foreign))
                        if r["name"] not in skipped)
        table = Table(self.schema, strategy.object, columns, strategy.key)
        self._refuse_other_than_a_table(table.qualified)
        return table

    def _existing_columns(self, table: Table) -> List[dict]:
        return self.db.rows(_COLUMNS.replace("%s::regclass", "to_regclass(%s)") % literal(table.qualified))

    def _add_new_columns(self, strategy: Strategy, table: Optional[Table] = None) -> bool:
        """Adds to an existing replica table the columns its foreign table has gained (a custom field
        imported since, IMPORT FOREIGN SCHEMA run again); True when it did.

        The rows the replica holds were read without them, and an incremental run reads only the rows
        changed since its cursor, while Intercom has the new columns' values for old rows too: the
        object's cursor (and any resume point) goes, in the same transaction as the ALTER, so this run
        (or the next, when sync added them) reads every row once, as a first run does."""
        table = table or self._table(strategy)
        existing = self._existing_columns(table)
        have = {r["name"] for r in existing}
        missing = [(n, t) for n, t in table.columns if n not in have]
        if not existing or not missing:
            return False
        self.db.rows(sql.add_columns(table, missing))
        self.db.rows(f"UPDATE {STATE_SCHEMA}.replication_state SET cursor = NULL, cursor_key = NULL, "
                     f"resume_at = NULL, resume_key = NULL WHERE {self._where(strategy)}")
        self.db.notice(f"{strategy.object}: new column{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(n for n, _ in missing)} in the foreign table, added to {table.qualified}: "
                       "this run reads every row once to fill them (the rows already replicated were read "
                       "without them), then goes on from a cursor again")
        return True

    def _refuse_other_than_a_table(self, qualified: str) -> None:
        """Before any read: a name in the target schema that is not a table (the schema of the foreign
        tables themselves, a view) must not receive the run's inserts, updates and deletes: through a
        foreign table they would reach Intercom."""
        found = self.db.rows(_RELKIND % literal(qualified))
        kind = found[0]["kind"] if found else None
        if kind is not None and kind not in ("r", "p"):
            raise ConfigurationError(
                f"{qualified} is {_NOT_TABLES.get(kind, 'not a table')}: replication and sync write their rows "
                "only into tables of their own",
                hint="replicate into a schema of its own (for example 'replica'); the foreign tables are the "
                     "source, never the target")

    def _parent_table(self, strategy: Strategy) -> Table:
        parent = STRATEGIES_BY_OBJECT[strategy.parent]
        qualified = f"{ident(self.schema)}.{ident(parent.object)}"
        self._refuse_other_than_a_table(qualified)
        if not self.db.rows(f"SELECT to_regclass({literal(qualified)}) IS NOT NULL AS ok")[0]["ok"]:
            raise RunFailed(f"{strategy.object} follows the changes of {parent.object}, which is not replicated "
                            f"into {self.schema}: replicate {parent.object} first (or with it)")
        return Table(self.schema, parent.object, (), parent.key)

    def _upsert(self, table: Table, source: Source, seen: bool = False) -> dict:
        statement = sql.upsert(table, source, (table.name, self.schema) if seen else None, self.deletes)
        return self.db.rows(statement)[0]

    def _mark_unseen(self, strategy: Strategy, table: Table, counters: Counters) -> None:
        unseen_since = None
        if strategy.lag:
            # A search shows new objects `lag` late: one created since the run's start - lag may be in
            # the replica (sync writes what it creates, read by id) though no search read showed it.
            since = self.db.rows(f"SELECT (run_started_at - interval '{int(strategy.lag.total_seconds())} seconds')"
                                 f"::text AS t FROM {STATE_SCHEMA}.replication_state WHERE {self._where(strategy)}"
                                 )[0]["t"]
            unseen_since = (SPECS[strategy.spec_object].partitioning.column, since)

        def mark():
            # The seen keys are fresh rows without statistics: without them the planner may pick a
            # nested loop that compares every replica row with every seen key.
            self.db.rows(f"ANALYZE {STATE_SCHEMA}.replication_seen")
            statement = sql.mark_unseen(table, strategy.object, self.schema, self.deletes, unseen_since)
            gone = self.db.rows(f"WITH gone AS ({statement} RETURNING 1) SELECT count(*) AS gone FROM gone")[0]
            self.db.rows(f"DELETE FROM {STATE_SCHEMA}.replication_seen WHERE {self._where(strategy)}")
            return gone
        self._window(strategy, counters, mark, reconciled=True)

    def _setting(self, name: str, default: int) -> int:
        value = self.db.rows(f"SELECT current_setting({literal(name)}, true) AS v")[0]["v"]
        return int(value) if value and value.isdigit() and int(value) > 0 else default

    def _interval_below(self, value: Optional[str], overlap) -> Optional[str]:
        if value is None:
            return None
        seconds = int(overlap.total_seconds())
        return self.db.rows(f"SELECT ({literal(value)}::timestamptz - interval '{seconds} seconds')::text AS t")[0]["t"]

    # ---- the change kinds (strategies.py) ----------------------------------------------------
    def _search(self, strategy: Strategy, state: dict, counters: Counters) -> None:
        table = self.target_table(strategy)
        foreign = self.foreign_table(strategy.object)
        complete = self.mode in ("full", "reconcile")
        if self.mode == "reconcile" and strategy.reconcile == "keys":
            self._list_keys(strategy, table, counters)
            return
        since = None
        if self.mode == "incremental" and state["cursor"] is not None:
            if self._descend(strategy, state, table, foreign, self._setting(WINDOW_ROWS_SETTING, WINDOW_ROWS),
                             counters):
                return
            since = (strategy.cursor, self._interval_below(state["cursor"], strategy.overlap))
        # full and reconcile: everything (from where a stopped run of the same mode got to: its
        # windows and seen keys stand); incremental: what changed since the cursor - overlap
        self._by_creation(strategy, state, table, since, complete, counters)
        if complete and strategy.marks_deletes:
            self._mark_unseen(strategy, table, counters)
        if self.mode != "reconcile":
            # Every row changed before the run's start - lag is in the replica now: the cursor is
            # the newest of them (_set_cursor keeps it at most that far below the start).
            newest = self.db.rows(f"SELECT max({ident(strategy.cursor)})::text AS at FROM {table.qualified} "
                                  "WHERE _deleted_at IS NULL")[0]["at"]
            if newest is not None:
                self._set_cursor(strategy, newest)

    def _by_creation(self, strategy: Strategy, state: dict, table: Table, since, complete: bool,
                     counters: Counters) -> None:
        """The object's rows (those whose `since` = (column, bound) column is at least the bound,
        all without it) in ascending windows of its immutable partition column (created_at), each
        one statement and one commit, recorded in `resume_at` for a stopped run to go on from.

        A window is read through _reader's foreign table: the FDW cuts it into parts of its own,
        with their margins, and reads them concurrently. A created_at never moves, so each row
        lies in exactly one window whatever changes while the run reads; the last window is open
        above. A window's span follows the rows the previous one read, towards `target` rows.
        """
        partitioning = SPECS[strategy.spec_object].partitioning
        column = partitioning.column
        # contact search's windows read DATE_MARGIN beyond each side: narrower ones read mostly margin
        narrowest = int(MIN_CALENDAR_WINDOW) if partitioning.calendar_days else 1
        target = self._setting(WINDOW_ROWS_SETTING, CREATED_WINDOW_ROWS)
        end = self._epoch(state["started"])
        start = self._epoch(state["resume_at"]) if state["resume_at"] else None
        base = start
        if base is None:
            # Where the rows start, for the first span only (the first window is open below): the
            # replica's earliest, else a guess: no call to Intercom for it. (The window the faults
            # test once lost after an `ORDER BY created_at LIMIT 1` probe was not the probe's doing:
            # a window of one page could come back empty, client/partitioned.py, now fixed.)
            base = self.db.rows(f"SELECT extract(epoch FROM min({ident(column)}))::float8 AS at "
                                f"FROM {table.qualified}")[0]["at"] or end - FIRST_GUESS_S
        span = max(narrowest, int((end - base) / 16)) if base < end else None
        reader = self._reader(strategy)
        try:
            while True:
                high = None if span is None or base + span >= end else int(base + span)
                source = Source(sql.time_window(reader, table.names, column, self._timestamp(start),
                                                self._timestamp(high), since), strategy.cursor)
                reached = [self._resume_to(self._timestamp(high))] if high is not None else []
                result = self._window(strategy, counters, lambda: self._upsert(table, source, seen=complete),
                                      reached=reached)
                if high is None:
                    break
                read = result["read"]
                span = max(narrowest, int(span * (min(4.0, max(0.25, target / read)) if read else 4.0)))
                start = base = high
        finally:
            self._drop_reader(reader)

    @staticmethod
    def _timestamp(epoch: Optional[float]) -> Optional[str]:
        return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()

    def _epoch(self, value: str) -> float:
        return self.db.rows(f"SELECT extract(epoch FROM {literal(value)}::timestamptz)::float8 AS at")[0]["at"]

    def _reader(self, strategy: Strategy) -> str:
        """A temporary foreign table of the run's own that reads as the object's foreign table does,
        in the scan mode SCAN_MODE_SETTING says ('partitioned' by default).

        The scan mode is a table option, and the FDW reads no session setting: a copy made for the
        run asks for partitioned reads without ALTERing the user's table (which would lock out
        the live queries). It has the same columns, column options (custom fields) and table
        options; where the server sets scan_mode, the server's value applies (it wins over a
        table's, and the option check rejects a table that differs). Dropped when the read ends;
        one a killed run left behind is replaced by the next.
        """
        mode = self.db.rows(f"SELECT coalesce(current_setting({literal(SCAN_MODE_SETTING)}, true), '') AS v"
                            )[0]["v"].strip().lower() or "partitioned"
        if mode not in SCAN_MODES:
            raise ConfigurationError(f"invalid value {mode!r} for setting {SCAN_MODE_SETTING}",
                                     hint="partitioned (the default) or sequential")
        foreign = self.foreign_table(strategy.object)
        found = self.db.rows(_FOREIGN_TABLE % literal(foreign))[0]
        options = {k: v for k, v in parse_options(found["options"]).items() if k != "scan_mode"}
        if "scan_mode" not in parse_options(found["server_options"]):
            options["scan_mode"] = mode
        columns = self.declared_columns(strategy.object)
        name = strategy.object
        if len(name.encode()) > 63:  # PostgreSQL's identifier limit: shortened, kept apart by a hash
            name = name.encode()[:50].decode(errors="ignore") + "_" + hashlib.md5(name.encode()).hexdigest()[:8]
        reader = f"pg_temp.{ident(name)}"
        self._drop_if_there(reader)
        self.db.rows(sql.create_foreign_table(reader, columns, found["server"], options))
        self.db.commit()
        return reader

    def declared_columns(self, obj: str) -> List[tuple]:
        """(name, type, options) of each column of the object's foreign table."""
        return [(r["name"], r["type"], parse_options(r["options"]))
                for r in self.db.rows(_COLUMN_OPTIONS % literal(self.foreign_table(obj)))]

    def _drop_if_there(self, reader: str) -> None:
        # (DROP ... IF EXISTS would send a NOTICE that it, or the session's temporary schema, is not there)
        if self.db.rows(f"SELECT to_regclass({literal(reader)}) IS NOT NULL AS there")[0]["there"]:
            self.db.rows(f"DROP FOREIGN TABLE {reader}")

    def _drop_reader(self, reader: str) -> None:
        try:
            self._drop_if_there(reader)
            self.db.commit()
        except Exception as error:  # a failed window's transaction: the next read replaces the table
            if interrupted(error):
                raise

    def _descend(self, strategy: Strategy, state: dict, table: Table, foreign: str, window: int,
                 counters: Counters) -> bool:
        """Reads the search newest first down to the cursor (which is at most the last run's start
        minus the search lag, _set_cursor), in one window; False when more than `window` rows
        changed (what was read is kept; the ascending windows read the rest).

        Contact search compares dates by day, so a bound would make it re-read up to two days below
        the cursor; sorted by `cursor` (to the second) and stopped at the first older row, it reads
        one page per 150 changed rows (and the client may have read the next page ahead)."""
        stop = self.db.rows(f"SELECT extract(epoch FROM {literal(state['cursor'])}::timestamptz)::float8 AS at"
                            )[0]["at"]
        outcome = {"reached": False}

        def statement():
            rows = []
            stream = self.db.stream(sql.newest_first_rows(foreign, table.names, strategy.cursor), 150)
            try:
                for row in stream:
                    if row["at"] is not None and row["at"] < stop:
                        outcome["reached"] = True
                        break
                    if len(rows) == window:
                        break
                    rows.append(row["row"])
                else:
                    outcome["reached"] = True  # the whole search read
            finally:
                stream.close()  # ends the scan: no page past the one holding the first older row
            if not rows:
                return {"read": 0, "high": None}
            return self._upsert(table, Source(sql.from_json(table, "[" + ", ".join(rows) + "]"), strategy.cursor))
        result = self._window(strategy, counters, statement)
        if outcome["reached"] and result.get("high") is not None:
            self._set_cursor(strategy, result["high"])
        return outcome["reached"]

    @staticmethod
    def _resume_to(value: str, key: Optional[str] = None) -> str:
        """The state row's SET clause of where a stopped run of the same mode goes on (_window commits it)."""
        return f"resume_at = {literal(value)}::timestamptz, resume_key = {literal(key)}"

    def _set_cursor(self, strategy: Strategy, value: str, key: Optional[str] = None) -> None:
        self.db.rows(f"UPDATE {STATE_SCHEMA}.replication_state SET {self._cursor_to(strategy, value, key)} "
                     f"WHERE {self._where(strategy)}")
        self.db.commit()

    @staticmethod
    def _cursor_to(strategy: Strategy, value: str, key: Optional[str] = None) -> str:
        # Never past the run's start: an object stamped in the future (a clock ahead) would otherwise
        # put the cursor beyond changes made before that time comes. And never past the run's start
        # minus the search lag: what changed then may not have been in the search yet, and the next
        # run reads from the cursor. (Once a lag has passed without changes, the cursor is the newest
        # change, and a run with nothing new reads one page.) The lag's bound is floored to the second:
        # Intercom stamps whole seconds, so a change the search may not show yet, made later in the
        # bound's second, is stamped below the bound, and a run stops at the first row older than the
        # cursor. (A child's cursor follows the replica's own times, to the microsecond, lag 0.)
        bound = f"run_started_at - interval '{int(strategy.lag.total_seconds())} seconds'"
        bound = f"date_trunc('second', {bound})" if strategy.lag else bound
        return f"cursor = least({literal(value)}::timestamptz, {bound}), cursor_key = {literal(key)}"

    def _list_keys(self, strategy: Strategy, table: Table, counters: Counters) -> None:
        foreign = self.foreign_table(strategy.object)

        def listed():
            key = sql.key_json("", table.key)
            return self.db.rows(
                f"WITH src AS MATERIALIZED ({sql.list_keys(foreign, table.key)}), "
                f"seen AS (INSERT INTO {STATE_SCHEMA}.replication_seen (object, target_schema, key) "
                f"SELECT {literal(strategy.object)}, {literal(self.schema)}, {key} FROM src ON CONFLICT DO NOTHING) "
                "SELECT count(*) AS read FROM src")[0]
        self._window(strategy, counters, listed)
        self._mark_unseen(strategy, table, counters)

    def _newest_first(self, strategy: Strategy, state: dict, counters: Counters) -> None:
        table = self.target_table(strategy)
        foreign = self.foreign_table(strategy.object)
        if self.mode == "reconcile" and strategy.reconcile == "keys":
            self._list_keys(strategy, table, counters)
            return
        bound = None if self.mode != "incremental" else self._interval_below(state["cursor"], strategy.overlap)
        key = table.key[0]
        listing = self._window(strategy, counters, lambda: self._probe(
            sql.newest_first_probe(foreign, table.key, strategy.cursor, bound), key))
        # The unchanged rows exist; the changed ones count as seen once read by id, so a resumed
        # run (its seen keys kept) skips those it had read.
        done = {r["key"] for r in self.db.rows(
            f"SELECT key->>0 AS key FROM {STATE_SCHEMA}.replication_seen WHERE {self._where(strategy)}")}
        unchanged = [k for k in listing["unchanged"] if k not in done]
        if unchanged:
            self.db.rows(f"INSERT INTO {STATE_SCHEMA}.replication_seen (object, target_schema, key) "
                         f"SELECT {literal(strategy.object)}, {literal(self.schema)}, jsonb_build_array(k) "
                         f"FROM unnest({sql.text_array(unchanged)}) AS k ON CONFLICT DO NOTHING")
            self.db.commit()
        ids = [k for k in listing["changed"] if k not in done]
        size = self._setting(IDS_PER_WINDOW_SETTING, IDS_PER_WINDOW)
        for start in range(0, len(ids), size):
            batch = ids[start:start + size]
            source = Source(sql.by_values(foreign, table.names, key, batch))
            self._window(strategy, counters, lambda: self._upsert(table, source, seen=True))
        if listing["newest"] is not None:
            self._set_cursor(strategy, listing["newest"])
        if strategy.marks_deletes:
            self._mark_unseen(strategy, table, counters)

    def _probe(self, probe: str, key: str) -> dict:
        rows = self.db.rows(probe)
        return {"read": 0, "changed": [r[key] for r in rows if r["changed"]],
                "unchanged": [r[key] for r in rows if not r["changed"]],
                "newest": rows[0]["_cursor"] if rows else None}

    def _created_windows(self, strategy: Strategy, state: dict, counters: Counters) -> None:
        table = self.target_table(strategy)
        foreign = self.foreign_table(strategy.object)
        if self.mode == "reconcile":
            self.db.notice(f"{strategy.object}: append-only, nothing to reconcile")
            return
        end = state["started"]
        low = self._interval_below(state["cursor"], strategy.overlap)
        while True:
            high = end if low is None else self.db.rows(
                f"SELECT least({literal(low)}::timestamptz + interval '{int(CREATED_WINDOW.total_seconds())} seconds',"
                f" {literal(end)}::timestamptz)::text AS t")[0]["t"]
            source = Source(sql.time_window(foreign, table.names, strategy.cursor, low, high))
            self._window(strategy, counters, lambda: self._upsert(table, source),
                         reached=[self._cursor_to(strategy, high)])
            if high == end:
                break
            low = high

    def _parents(self, strategy: Strategy, state: dict, counters: Counters) -> None:
        parent = self._parent_table(strategy)
        table = self.target_table(strategy)
        foreign = self.foreign_table(strategy.object)
        if not (self.mode == "reconcile" and strategy.reconcile == "parent"):
            # (time, key) of the last parent done: a resumed run goes on after it (a full one too;
            # a reconcile keeps its own position)
            if self.mode == "reconcile":
                after = (state["resume_at"], state["resume_key"]) if state["resume_at"] else None
            else:
                after = (state["cursor"], state["cursor_key"]) if state["cursor"] else None
            # Rows of the copied object changed up to now are covered once every listed parent is read.
            copied = f"{ident(self.schema)}.{ident(strategy.copies)}" if strategy.copies else None
            covered = self.db.rows(f"SELECT max(_replicated_at)::text AS at FROM {copied}")[0]["at"] if copied and \
                self.db.rows(f"SELECT to_regclass({literal(copied)}) IS NOT NULL AS ok")[0]["ok"] else None
            parents = self.db.rows(self._changed_parents(strategy, parent, table, after))
            for start in range(0, len(parents), PARENTS_PER_WINDOW):
                batch = parents[start:start + PARENTS_PER_WINDOW]
                keys = tuple(p["key"] for p in batch)
                source = Source(sql.by_values(foreign, table.names, strategy.parent_key, keys),
                                scope_column=(strategy.parent_key if strategy.marks_deletes and not strategy.ages_out
                                              else None),
                                scope_values=keys)
                at, last = batch[-1]["at"], batch[-1]["key"]
                reached = self._resume_to(at, last) if self.mode == "reconcile" else self._cursor_to(strategy, at, last)
                self._window(strategy, counters, lambda: self._upsert(table, source), reached=[reached])
                if strategy.cap:
                    self._record_capped(strategy, table, keys)
            if self.mode != "reconcile" and (parents or covered):
                # the pass is complete: its time, without a key (see _changed_parents)
                times = [literal(t) + "::timestamptz" for t in (parents[-1]["at"] if parents else None, covered,
                                                               state["cursor"]) if t]
                self._set_cursor(strategy, self.db.rows(f"SELECT greatest({', '.join(times)})::text AS t")[0]["t"])
        if strategy.marks_deletes:
            def orphans():
                return self.db.rows(f"WITH gone AS ({sql.mark_orphans(table, parent, strategy.parent_key, self.deletes)} "
                                    "RETURNING 1) SELECT count(*) AS gone FROM gone")[0]
            self._window(strategy, counters, orphans, reconciled=self.mode != "incremental")

    def _changed_parents(self, strategy: Strategy, parent: Table, table: Table, after) -> str:
        """The live parents whose replica row changed after `after` = (time, key) (all without it),
        oldest change first, with the parents listing a changed row of the object the children copy."""
        key = ident(parent.key[0])
        since = f" AND {{}}._replicated_at >= {literal(after[0])}::timestamptz" if after else ""
        select = (f"SELECT p.{key}::text AS key, p._replicated_at AS at FROM {parent.qualified} p "
                  f"WHERE p._deleted_at IS NULL" + since.format("p"))
        copied = f"{ident(self.schema)}.{ident(strategy.copies)}" if strategy.copies else None
        if copied and self.db.rows(f"SELECT to_regclass({literal(copied)}) IS NOT NULL AS ok")[0]["ok"]:
            select += (f" UNION ALL SELECT p.{key}::text, o._replicated_at FROM {table.qualified} c "
                       f"JOIN {copied} o ON o.id = c.id JOIN {parent.qualified} p ON p.{key} = "
                       f"c.{ident(strategy.parent_key)} WHERE p._deleted_at IS NULL AND c._deleted_at IS NULL"
                       + since.format("o"))
        if not after:
            having = ""
        elif after[1] is None:  # a pass that ended: every parent up to that time is done
            having = f" HAVING max(at) > {literal(after[0])}::timestamptz"
        else:
            having = f" HAVING (max(at), key) > ({literal(after[0])}::timestamptz, {literal(after[1])})"
        return (f"SELECT key, max(at)::text AS at FROM ({select}) AS changed GROUP BY key{having} "
                "ORDER BY max(at), key")

    def _record_capped(self, strategy: Strategy, table: Table, keys: Sequence[str]) -> None:
        """Parents whose list came back at the API's cap (conversations with 500 parts) may have more."""
        parent_key = ident(strategy.parent_key)
        self.db.rows(
            f"DELETE FROM {STATE_SCHEMA}.replication_capped WHERE object = {literal(strategy.object)} "
            f"AND target_schema = {literal(self.schema)} AND parent_id = ANY({sql.text_array(keys)})")
        self.db.rows(
            f"INSERT INTO {STATE_SCHEMA}.replication_capped (object, target_schema, parent_id, rows, cap) "
            f"SELECT {literal(strategy.object)}, {literal(self.schema)}, {parent_key}, count(*), {int(strategy.cap)} "
            f"FROM {table.qualified} WHERE {parent_key} = ANY({sql.text_array(keys)}) AND _deleted_at IS NULL "
            f"GROUP BY {parent_key} HAVING count(*) >= {int(strategy.cap)}")
        self.db.commit()

    def _reread(self, strategy: Strategy, state: dict, counters: Counters) -> None:
        table = self.target_table(strategy)
        source = Source(sql.everything(self.foreign_table(strategy.object), table.names))
        self._window(strategy, counters, lambda: self._upsert(table, source, seen=True))
        self._mark_unseen(strategy, table, counters)
