"""The sync engine: pushes each synced table's change log through its foreign table, then pulls Intercom's
changes with replication's incremental run (replication/runner.py), all in one session whose
APPLYING_SETTING is on (PUSHING during the push), so nothing sync or replication writes into a replica
table is captured; the pull keeps the local values of changes still pending (the trigger, sqlgen.py).

Each row's pending log entries become one net change (resolve.py), sent on its own and committed on its
own: a change Intercom rejects is marked `rejected` with its error and the others go on; it is retried
by the next run. Before a write is sent its entries are marked `pushing` and committed (the intent), so
a run killed after Intercom created an object but before its id was written back knows on the next
run that a create may have happened, and looks the object up (objects.py: a natural key, or the
recovery columns and the time of the first attempt) before creating anything.
"""
from __future__ import annotations

import json
import re
import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from intercom_fdw.client.http import backend_usage
from intercom_fdw.custom_fields import table_spec
from intercom_fdw.errors import ConfigurationError, IntercomError
from intercom_fdw.objects import SPECS
from intercom_fdw.replication import planning as sql
from intercom_fdw.replication.planning import STATE_SCHEMA, Source, Table, ident, literal
from intercom_fdw.replication.runner import (
    SYNC_LOCK_CLASS, Database, Replicator, advisory_lock_holders, after_an_interrupt, busy, interrupted, canceled_as)
from intercom_fdw.replication.strategies import STRATEGIES_BY_OBJECT
from intercom_fdw.sync.objects import (
    CREATED_SLACK, DEFAULT_SEARCH_LAG, SEARCH_LAG_SETTING, SYNC_OBJECTS, SYNC_OBJECTS_BY_NAME, SyncObject,
)
from intercom_fdw.sync.resolve import RULES, Conflict, NetChange, delete_wins, net_change, resolve
from intercom_fdw.writing.requests import TableWrites

NOTICE_PREFIX = "intercom_fdw.sync: "
# The id the capture trigger gives a row made locally until its push writes Intercom's back (sqlgen.py).
LOCAL_ID = re.compile(r"^local:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TRIGGER_NAME = "intercom_fdw_sync_capture"
# Runs of sync exclude each other per object and schema. A run also holds replication's lock on each
# of its objects (Replicator.lock), for the whole run: its push writes the replica rows (ids written
# back, rows read again) as replication's windows do, and a window read from Intercom before a push
# and written after it would bring back what the push replaced.
LOCK_CLASS = SYNC_LOCK_CLASS
# APPLYING_SETTING's value while the push writes what it decided (ids written back, Intercom's values
# of columns it won): not captured, and, unlike 'on' (replication's pull), not keeping the local
# values of pending changes (sqlgen.py's trigger).
PUSHING = "pushing"


def after_the_push(results: Dict[str, "ObjectResult"]):
    """replication's canceled_as for the steps after the push (the pull, the rows it marked deleted
    read back by id): what the push sent is done (sync_changes), and the next run pulls again."""
    pushed = sum(r.counters.changes_pushed for r in results.values())
    return canceled_as(f"the run was stopped after its push, before its pull ended: the {pushed} changed rows it "
                       "pushed reached Intercom (done in intercom_fdw.sync_changes)",
                       "the next run pulls Intercom's changes again (and pushes what is still pending)")


def setting_up_sync():
    """replication's canceled_as, as sync() says it (a table replicated for the first time stays so)."""
    return canceled_as("the run was stopped while it prepared its tables, before any change was pushed: nothing was "
                      "pushed to Intercom", "the next run pushes the changes not yet done, then pulls Intercom's")


class Rejected(Exception):
    """A change that cannot be sent as it is (Intercom no longer has the row, say)."""


class Held(Exception):
    """A create that may have reached Intercom and cannot be found yet: neither resent nor failed."""


def choose_objects(objects: Optional[Sequence[str]]) -> List[SyncObject]:
    if not objects:
        return list(SYNC_OBJECTS)
    unknown = [o for o in objects if o not in SYNC_OBJECTS_BY_NAME]
    if unknown:
        raise ConfigurationError(f"unknown object(s) to sync: {', '.join(unknown)}",
                                 hint="objects are: " + ", ".join(s.object for s in SYNC_OBJECTS))
    return [s for s in SYNC_OBJECTS if s.object in set(objects)]


def check_arguments(conflict: str, target_schema: str) -> None:
    if conflict not in RULES:
        raise ConfigurationError(f"conflict must be one of {', '.join(RULES)}, not {conflict!r}")
    if not target_schema:
        raise ConfigurationError("target_schema must be a schema name")


@dataclass
class Counters:
    changes_pushed: int = 0
    created: int = 0
    linked: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    rejected: int = 0
    held: int = 0
    push_api_calls: int = 0

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in vars(self).items())


@dataclass
class ObjectResult:
    counters: Counters
    error: Optional[str] = None  # the push or the pull failed as a whole
    rejected: List[str] = field(default_factory=list)  # "<key>: <first line of its error>"


def _message(error: Exception) -> str:
    message = error.message if isinstance(error, IntercomError) else str(error).strip()
    # plpy's errors (SPIError and its per-SQLSTATE subclasses) are PostgreSQL's own, already clear
    spi = any(c.__name__ == "SPIError" for c in type(error).__mro__)
    if not isinstance(error, (IntercomError, Rejected, Held)) and not spi:
        message = f"internal error: {type(error).__name__}: {message}\n{traceback.format_exc(limit=-3)}"
    return message


class Syncer:
    def __init__(self, db: Database, target_schema: str, rule: str, server: Optional[str],
                 usage: Callable[[], dict] = backend_usage, notice: Optional[Callable[[str], None]] = None):
        self.db, self.schema, self.rule, self.usage = db, target_schema, rule, usage
        self.notice = notice or db.notice
        self.replicator = Replicator(db, target_schema, "incremental", "mark", server, usage)
        self.server = self.replicator.server
        self.capture: Dict[str, Dict[str, Any]] = {}  # object -> its trigger's columns (_capture_columns)

    # ---- the run ---------------------------------------------------------------------------
    def run(self, objects: Sequence[SyncObject]) -> Dict[str, ObjectResult]:
        applying: Optional[str] = None  # the session's value, once set (restored however the run ends)
        locked: List[SyncObject] = []
        replicated = self.replicator.with_parts([STRATEGIES_BY_OBJECT[o.object] for o in objects])
        replication_locked = False
        results: Dict[str, ObjectResult] = {}
        try:
            with setting_up_sync():
                self.check_privileges(objects)
                if self.db.rows(f"SELECT to_regnamespace({literal(ident(self.schema))}) IS NULL AS missing"
                                )[0]["missing"]:
                    self.db.rows(f"CREATE SCHEMA {ident(self.schema)}")  # (IF NOT EXISTS: a NOTICE each run)
                applying = self.replicator.set_applying("on")
                self.db.commit()
                for obj in objects:
                    self._lock(obj)
                    locked.append(obj)
                self.replicator.lock(replicated)  # before any write (the trigger's DDL too): a replicate() refuses
                replication_locked = True
                tables: Dict[str, Table] = {}
                fresh: List[str] = []  # replicated by this run for the first time: pulled already, nothing to push
                for obj in objects:
                    try:
                        tables[obj.object] = self._enable(obj, fresh)
                    except Exception as error:  # noqa: BLE001  (reported per object; the others go on)
                        self.db.rollback()
                        if interrupted(error):  # a cancel or statement_timeout ends the run (canceled_as)
                            raise
                        results[obj.object] = ObjectResult(Counters(), _message(error))
                # rows marked deleted since the last run started (by its pull, or a replicate() since) are
                # checked again when the list leaves some out; read before the push overwrites the state row
                since = {o.object: self._last_start(o) for o in objects if o.listed_partially and o.object in tables}
                self.replicator.set_applying(PUSHING)
                self.db.commit()  # committed: a change's rollback does not undo it
            for obj in objects:
                if obj.object in tables:
                    results[obj.object] = self._push(obj, tables[obj.object])
            with after_the_push(results):
                self._pull(objects, tables, fresh, since, results)
        finally:
            if replication_locked:
                self.replicator.unlock(replicated)
            for obj in locked:
                self.db.rows(f"SELECT pg_advisory_unlock({LOCK_CLASS}, {self._lock_key(obj)})")
            if applying is not None:
                self.replicator.set_applying(applying)
                self.db.commit()
        return results

    def _pull(self, objects: Sequence[SyncObject], tables: Dict[str, Table], fresh: List[str],
              since: Dict[str, Optional[str]], results: Dict[str, ObjectResult]) -> None:
        """The run's pull (replication of the objects pushed, but those it replicated first), then the rows
        the pull marked deleted that Intercom's list leaves out, read back by id."""
        self.replicator.set_applying("on")
        self.db.commit()
        pull_start = self.db.rows("SELECT now()::text AS t")[0]["t"]
        to_pull = [STRATEGIES_BY_OBJECT[o.object] for o in objects if o.object in tables and o.object not in fresh]
        pulled = self.replicator.run(to_pull) if to_pull else {}
        for name, error in pulled.items():  # the pull may also replicate parts of an object (tables of its own)
            result = results.setdefault(name, ObjectResult(Counters()))
            if error and not result.error:
                result.error = f"pull (replication) failed: {error.splitlines()[0]}"
        for name, last_start in since.items():
            obj = SYNC_OBJECTS_BY_NAME[name]
            try:
                self._restore_unlisted(obj, tables[name], last_start or pull_start)
            except Exception as error:  # noqa: BLE001  (reported per object)
                self.db.rollback()
                if interrupted(error):  # a cancel or statement_timeout ends the run (after_the_push)
                    raise
                if not results[name].error:
                    results[name].error = f"checking the rows the pull marked deleted failed: {_message(error)}"

    def check_privileges(self, objects: Sequence[SyncObject]) -> None:
        """What the caller lacks of what a run needs (README, Synchronize: Roles), said at once rather than
        as a change rejected or a state write failed mid-run. Replication checks its own."""
        needs = [(f"{STATE_SCHEMA}.{t}", "table", p) for t in ("sync_changes", "sync_conflicts", "sync_state")
                 for p in ("SELECT", "INSERT", "UPDATE")]
        needs += [(f"{STATE_SCHEMA}.{s}", "sequence", "USAGE")
                  for s in ("sync_changes_change_id_seq", "sync_conflicts_conflict_id_seq")]
        for obj in objects:
            try:
                foreign = self.replicator.foreign_table(obj.object)
            except ConfigurationError:
                continue  # reported for this object alone when it is enabled
            needs += [(foreign, "table", p) for p in ("SELECT",) + tuple(op.upper() for op in obj.operations)]
            qualified = f"{ident(self.schema)}.{ident(obj.object)}"
            needs += [(qualified, "table", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRIGGER")]
        checks = ", ".join(
            f"({literal(n)}, {literal(p)}, to_regclass({literal(n)}) IS NULL OR "
            + (f"has_sequence_privilege({literal(n)}, {literal(p)})" if kind == "sequence"
               else f"has_table_privilege({literal(n)}, {literal(p)})") + ")"
            for n, kind, p in needs)
        missing = self.db.rows(f"SELECT current_user AS who, name, privilege FROM (VALUES {checks}) v(name, privilege, ok) "
                               "WHERE NOT ok")
        if missing:
            lacking = ", ".join(f"{m['privilege']} on {m['name']}" for m in missing)
            raise ConfigurationError(
                f"role {missing[0]['who']} lacks privileges sync needs: {lacking}",
                hint="GRANT them, or run sync as the owner of the replica tables (README, Synchronize: Roles)")

    def _lock_key(self, obj: SyncObject) -> str:
        return f"hashtext({literal(self.schema + '.' + obj.object)})"

    def _lock(self, obj: SyncObject) -> None:
        if not self.db.rows(f"SELECT pg_try_advisory_lock({LOCK_CLASS}, {self._lock_key(obj)}) AS ok")[0]["ok"]:
            raise busy(f"{obj.object} in {self.schema} is being synced by another run", "sync_state",
                       advisory_lock_holders(self.db, LOCK_CLASS, self._lock_key(obj)))

    def _enable(self, obj: SyncObject, fresh: List[str]) -> Table:
        """The replica table (replicated first when it does not exist yet: its name then goes into `fresh`)
        with its capture trigger."""
        strategy = STRATEGIES_BY_OBJECT[obj.object]
        qualified = f"{ident(self.schema)}.{ident(obj.object)}"
        if not self.db.rows(f"SELECT to_regclass({literal(qualified)}) IS NOT NULL AS ok")[0]["ok"]:
            error = self.replicator.run([strategy])[obj.object]
            if error:
                raise RuntimeError(f"the first replication of {obj.object} failed: {error.splitlines()[0]}")
            fresh.append(obj.object)
        table = self.replicator.target_table(strategy)
        self.capture[obj.object] = self._capture_columns(obj)
        self.db.rows(f"CREATE OR REPLACE TRIGGER {TRIGGER_NAME} BEFORE INSERT OR UPDATE OR DELETE ON {table.qualified} "
                     f"FOR EACH ROW EXECUTE FUNCTION {STATE_SCHEMA}.sync_capture("
                     f"{literal(obj.object)}, {literal(','.join(obj.operations))}, "
                     f"{literal(json.dumps(self.capture[obj.object]))})")
        self.db.commit()
        return table

    def _capture_columns(self, obj: SyncObject) -> Dict[str, Any]:
        """The trigger's third argument: the columns Intercom's API sets on insert and on update, of the
        object's foreign table (its custom fields included) as the foreign table's writes would take
        them, and which foreign table and columns that was computed from. A column the foreign table
        gains later (a custom attribute imported since) is none of those: the trigger captures it,
        and the next run installs the trigger again, from the columns of then (sqlgen.py)."""
        declared = self.replicator.declared_columns(obj.object)
        writes = TableWrites(table_spec(SPECS[obj.object], declared))
        found = self.db.rows(f"SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c "
                             f"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                             f"WHERE c.oid = {literal(self.replicator.foreign_table(obj.object))}::regclass")[0]
        return {**{op: sorted(writes.writable(getattr(writes.rules, op)))
                   for op in ("insert", "update") if getattr(writes.rules, op) is not None},
                "columns": sorted(name for name, _, _ in declared),
                "foreign_schema": found["schema"], "foreign_table": found["name"]}

    def _last_start(self, obj: SyncObject) -> Optional[str]:
        rows = self.db.rows(f"SELECT run_started_at::text AS t FROM {STATE_SCHEMA}.sync_state WHERE {self._where(obj)}")
        return rows[0]["t"] if rows else None

    def _restore_unlisted(self, obj: SyncObject, table: Table, since: str) -> None:
        """Rows marked deleted since `since` that Intercom still has, read by id (SyncObject.listed_partially:
        its lists leave them out) and restored with Intercom's values; the ones it has no more stay marked."""
        marked = [r["id"] for r in self.db.rows(
            f"SELECT id FROM {table.qualified} WHERE _deleted_at >= {literal(since)}::timestamptz ORDER BY id")]
        if marked:
            self._refresh(table, self.replicator.foreign_table(obj.object), marked)
            left = self.db.rows(f"SELECT count(*) AS n FROM {table.qualified} WHERE _deleted_at IS NOT NULL "
                                f"AND id = ANY({sql.text_array(marked)})")[0]["n"]
            self.db.commit()
            self.notice(f"{obj.object}: {len(marked) - left} of the {len(marked)} rows the pull marked deleted are "
                        "still in Intercom (its list leaves them out; read by id): restored")

    # ---- push ------------------------------------------------------------------------------
    def _where(self, obj: SyncObject) -> str:
        return f"object = {literal(obj.object)} AND target_schema = {literal(self.schema)}"

    def _push(self, obj: SyncObject, table: Table) -> ObjectResult:
        counters = Counters()
        rejected: List[str] = []
        self._state(obj, "start")
        before = self.usage()["calls"]
        entries = self.db.rows(
            f"SELECT change_id, key, op, {self._canonical(table, 'c.old')} AS old, "
            f"{self._canonical(table, 'c.new')} AS new, "
            "extract(epoch FROM changed_at)::float8 AS at, "
            "extract(epoch FROM first_attempt_at)::float8 AS first_attempt_at, "
            f"changed_by, {_may_make(table)} AS allowed "
            f"FROM {STATE_SCHEMA}.sync_changes c WHERE {self._where(obj)} AND status <> 'done' ORDER BY change_id")
        rows: Dict[str, List[dict]] = {}
        for entry in entries:
            if not entry["allowed"]:  # not what the table's trigger logs for that role: never sent
                message = (f"logged by role {entry['changed_by']}, which may not {entry['op']} "
                           + ("these columns of " if entry["op"] != "delete" else "rows of ")
                           + f"{table.qualified}: sync sends a change only when the role that logged it may "
                           "make it on the replica table")
                counters.rejected += 1
                rejected.append(f"{entry['key']}: {message}")
                self._mark([entry["change_id"]], "rejected", message)
                continue
            entry["old"] = json.loads(entry["old"]) if entry["old"] else None
            entry["new"] = json.loads(entry["new"]) if entry["new"] else None
            rows.setdefault(entry["key"], []).append(entry)
        foreign = self.replicator.foreign_table(obj.object)
        for done, (key, group) in enumerate(rows.items(), 1):
            net = net_change(group)
            try:
                self._refuse_unsendable(obj, foreign, net, group)
                net.new = self._with_intercom_ids(net.new)
                self._send(obj, table, foreign, key, net, counters)
                counters.changes_pushed += 1
            except Held as held:
                self.db.rollback()
                counters.held += 1
                self._mark(net.change_ids, "pushing", str(held))
            except Exception as error:  # noqa: BLE001  (recorded in the log; the next change still goes)
                self.db.rollback()
                if interrupted(error):  # a cancel, statement_timeout or terminate ends the run
                    counters.push_api_calls = self.usage()["calls"] - before
                    raise after_an_interrupt(
                        error, lambda reason: self._state(obj, "canceled", counters, reason),
                        f"the push of {obj.object} was stopped after {counters.changes_pushed} of {len(rows)} "
                        "changed rows (sync_state says canceled); the objects after it did not run",
                        "the changes not yet done are pushed by the next run (those sent when it stopped are "
                        "checked against Intercom first)")
                message = _message(error)
                counters.rejected += 1
                rejected.append(f"{key}: {message.splitlines()[0]}")
                self._mark(net.change_ids, "rejected", message)
            counters.push_api_calls = self.usage()["calls"] - before
            self.notice(f"{obj.object}: pushing {done}/{len(rows)}: {counters.line()}")
        counters.push_api_calls = self.usage()["calls"] - before
        self._state(obj, "end", counters)
        self.notice(f"{obj.object}: pushed: {counters.line()}")
        return ObjectResult(counters, None, rejected)

    def _refuse_unsendable(self, obj: SyncObject, foreign: str, net: NetChange, group: Sequence[dict]) -> None:
        """A change of columns the foreign table's writes do not set as it is now, refused with the way out.
        The trigger refuses those when the change is made, from the columns of when it was installed:
        a column imported since it was is captured (sqlgen.py's sync_gained_column) and checked here,
        and one captured before the foreign table lost it (a custom attribute archived, the schema
        imported again) would fail on every run with PostgreSQL's "column ... does not exist"."""
        if net.op not in ("insert", "update"):
            return
        capture = self.capture[obj.object]
        unsendable: Dict[str, List[int]] = {}
        for entry in group:
            if entry["op"] in ("insert", "update"):
                for column in entry["new"] or {}:
                    if column not in capture.get(entry["op"], ()):
                        unsendable.setdefault(column, []).append(entry["change_id"])
        if not unsendable:
            return
        columns = sorted(unsendable)
        gone = [c for c in columns if c not in capture["columns"]]
        ids = sorted({i for found in unsendable.values() for i in found})
        names = "ARRAY[" + ", ".join(literal(c) for c in columns) + "]"
        raise Rejected(
            f"Intercom's API cannot {'set' if net.op == 'insert' else 'change'} {', '.join(columns)} of {obj.object} "
            f"through {foreign} as it is now"
            + (f" ({', '.join(gone)}: no such column of it any more)" if gone else "")
            + f": the change cannot be sent (HINT: to send the rest of it, drop those columns from it: UPDATE "
            f"{STATE_SCHEMA}.sync_changes SET new = new - {names}, old = old - {names} WHERE change_id IN "
            f"({', '.join(str(int(i)) for i in ids)}){'; or import the column again' if gone else ''}; the columns "
            f"{'a create' if net.op == 'insert' else 'an update'} sets: {', '.join(capture.get(net.op, ()))})")

    def _with_intercom_ids(self, values: Dict[str, Any]) -> Dict[str, Any]:
        """`values` with each local id (a row made locally, named by the id INSERT ... RETURNING gave it:
        an article's collection, a ticket's type) replaced by the Intercom id that row was created with.
        Objects are pushed referenced first (SYNC_OBJECTS); a row not created yet cannot be named."""
        found: set = set()

        def collect(value):
            if isinstance(value, str) and LOCAL_ID.match(value):
                found.add(value)
            elif isinstance(value, dict):
                for v in value.values():
                    collect(v)
            elif isinstance(value, list):
                for v in value:
                    collect(v)
        collect(values)
        if not found:
            return values
        # (a text that merely looks like a local id, but is no row's, is sent as it is)
        logged = {r["key"]: r["intercom_id"] for r in self.db.rows(
            f"SELECT key, max(intercom_id) AS intercom_id FROM {STATE_SCHEMA}.sync_changes "
            f"WHERE target_schema = {literal(self.schema)} AND op = 'insert' "
            f"AND key = ANY({sql.text_array(sorted(found))}) GROUP BY key")}
        known = {k: v for k, v in logged.items() if v is not None}
        missing = sorted(logged.keys() - known.keys())
        if missing:
            raise Rejected(f"it refers to {', '.join(missing)}, a row made locally that is not in Intercom yet (not "
                           "synced, or rejected): it is sent once that row is created (HINT: sync that row first, "
                           "or fix its rejected change)")

        def mapped(value):
            if isinstance(value, str):
                return known.get(value, value)
            if isinstance(value, dict):
                return {k: mapped(v) for k, v in value.items()}
            if isinstance(value, list):
                return [mapped(v) for v in value]
            return value
        return mapped(values)

    def _state(self, obj: SyncObject, when: str, counters: Optional[Counters] = None,
               reason: Optional[str] = None) -> None:
        if when == "start":
            self.db.rows(
                f"INSERT INTO {STATE_SCHEMA}.sync_state AS s (object, target_schema, server, conflict_rule, status, "
                f"run_started_at) VALUES ({literal(obj.object)}, {literal(self.schema)}, {literal(self.server)}, "
                f"{literal(self.rule)}, 'pushing', now()) ON CONFLICT (object, target_schema) DO UPDATE SET "
                "server = EXCLUDED.server, conflict_rule = EXCLUDED.conflict_rule, status = 'pushing', error = NULL, "
                "run_started_at = EXCLUDED.run_started_at, run_ended_at = NULL, changes_pushed = 0, created = 0, "
                "linked = 0, updated = 0, deleted = 0, conflicts = 0, rejected = 0, held = 0, push_api_calls = 0")
        else:  # "end", or "canceled": what was pushed before a cancel or statement_timeout stopped the run
            sets = ", ".join(f"{k} = {int(v)}" for k, v in vars(counters).items())
            status = "canceled" if when == "canceled" else "rejected" if counters.rejected else "pushed"
            error = (f"{reason}: the changes not yet done are pushed by the next run (those sent when it "
                     "stopped are checked against Intercom first)") if when == "canceled" else None
            self.db.rows(f"UPDATE {STATE_SCHEMA}.sync_state SET status = {literal(status)}, {sets}, "
                         f"error = {literal(error)}, run_ended_at = clock_timestamp() WHERE {self._where(obj)}")
        self.db.commit()

    def _mark(self, change_ids: Sequence[int], status: str, error: Optional[str] = None,
              intercom_id: Optional[str] = None) -> None:
        # attempts: the runs that tried the change, whatever came of it (first_attempt_at: the first write sent)
        self.db.rows(f"UPDATE {STATE_SCHEMA}.sync_changes SET attempts = attempts + 1, status = {literal(status)}, error = {literal(error)}, "
                     f"intercom_id = coalesce({literal(intercom_id)}, intercom_id) "
                     f"WHERE change_id = ANY({_ids(change_ids)})")
        self.db.commit()

    def _attempt(self, net: NetChange) -> None:
        """The intent, committed before a write is sent: the next run knows the write may have happened."""
        self.db.rows(f"UPDATE {STATE_SCHEMA}.sync_changes SET status = 'pushing', "
                     "first_attempt_at = coalesce(first_attempt_at, clock_timestamp()), pushed_at = clock_timestamp() "
                     f"WHERE change_id = ANY({_ids(net.change_ids)})")
        self.db.commit()

    def _send(self, obj: SyncObject, table: Table, foreign: str, key: str, net: NetChange,
              counters: Counters) -> None:
        if net.op is None:  # inserted and deleted locally before any push
            self._mark(net.change_ids, "done")
            return
        getattr(self, "_send_" + net.op)(obj, table, foreign, key, net, counters)

    def _send_insert(self, obj, table, foreign, key, net, counters) -> None:
        intercom_id = self._find_existing(obj, table, foreign, net)
        if intercom_id is not None:
            remote = self._read(table, foreign, intercom_id)
            if remote is None:
                raise Rejected(f"{obj.object} {intercom_id}, which the local insert matches, cannot be read "
                               "from Intercom")
            self._link(obj, table, foreign, intercom_id, net, remote, counters)
            counters.linked += 1
            self._write_back(obj, table, key, intercom_id, net)
            self._refresh_row(obj, table, foreign, intercom_id, net)
        else:
            self._attempt(net)
            cols = ", ".join(ident(c) for c in net.new)
            intercom_id = self.db.rows(
                f"INSERT INTO {foreign} ({cols}) SELECT {cols} FROM "
                f"jsonb_populate_record(NULL::{table.qualified}, {literal(json.dumps(net.new))}::jsonb) "
                "RETURNING id")[0]["id"]
            counters.created += 1
            self._write_back(obj, table, key, intercom_id, net)
            self._refresh_row(obj, table, foreign, intercom_id, net)
            if obj.unique:
                # The FDW's no-duplicate rule may have answered with an object that existed (a contact
                # that search did not list yet, 409): its values then differ from the row's and go
                # through the conflict rule as a linked row's do. Created by us, they are the row's.
                if self._link(obj, table, foreign, intercom_id, net, self._local(table, intercom_id), counters):
                    self._refresh_row(obj, table, foreign, intercom_id, net)
        self._mark(net.change_ids, "done", intercom_id=intercom_id)

    def _link(self, obj, table, foreign, intercom_id, net, remote, counters) -> bool:
        """A local insert that Intercom already holds: its values are a change against that object, with
        no known base (every differing column is a conflict the rule decides). True when it sent some."""
        resolution = resolve(self.rule, None, net.new, remote["row"], net.changed_at, remote["updated"])
        self._record(obj, intercom_id, resolution.conflicts, net, remote, counters)
        if resolution.push:
            self._attempt(net)
            self._update_remote(table, foreign, intercom_id, resolution.push)
        return bool(resolution.push)

    def _send_update(self, obj, table, foreign, key, net, counters) -> None:
        remote = self._read(table, foreign, key)
        if remote is None and not self.db.rows(f"SELECT 1 FROM {table.qualified} WHERE id = {literal(key)}"):
            # Deleted in Intercom and, since, in the replica (replicate() with deletes => 'delete'): no row is
            # left on either side to send the update to, or to delete to drop it. Intercom's delete wins
            # (an id cannot be made again), a conflict on the row, as a local delete of a changed row is.
            conflict = Conflict("_row", net.new, None, net.base, "intercom")
            self._record(obj, key, [conflict], net, {"row": None, "updated": None}, counters)
            self._mark(net.change_ids, "done")
            return
        if remote is None:
            raise Rejected(f"{obj.object} {key} is not in Intercom any more (deleted there?): the update cannot "
                           "be sent (HINT: the next reconcile marks the row deleted; delete it locally to drop "
                           "the change)")
        resolution = resolve(self.rule, net.base, net.new, remote["row"], net.changed_at, remote["updated"])
        self._record(obj, key, resolution.conflicts, net, remote, counters)
        if resolution.push:
            self._attempt(net)
            if not self._update_remote(table, foreign, key, resolution.push):
                raise Rejected(f"{obj.object} {key} is not in Intercom any more: the update found no row")
            counters.updated += 1
        if resolution.push.keys() != net.new.keys() or net.reinserted:
            # Intercom kept some columns (it won a conflict, or already had the value), or the row was
            # inserted again with only some of them: the local row takes Intercom's now. Pushed columns
            # are the local values already; the pull brings the rest.
            self._refresh_row(obj, table, foreign, key, net)
        self._mark(net.change_ids, "done")

    def _send_delete(self, obj, table, foreign, key, net, counters) -> None:
        if net.created is not None:
            # The row was made locally and deleted before its id came back, and its create was sent:
            # the object that create may have made is the one to delete (else it stays in Intercom and
            # the pull brings the deleted row back). Only one created since the attempt: a unique key may
            # also find an object that was there before, which the local insert was linked to.
            key = self._find_existing(obj, table, foreign, replace(net, new=net.created))
            since = net.first_attempt_at - CREATED_SLACK.total_seconds()
            if key is None or not self.db.rows(f"SELECT 1 FROM {foreign} WHERE id = {literal(key)} "
                                               f"AND created_at >= to_timestamp({since!r})"):
                self._mark(net.change_ids, "done")
                return
            self._attempt(net)
            self.db.rows(f"DELETE FROM {foreign} WHERE id = {literal(key)} RETURNING id")
            self.db.rows(f"DELETE FROM {table.qualified} WHERE id = {literal(key)}")  # a pull may have brought it
            counters.deleted += 1
            self._mark(net.change_ids, "done", intercom_id=key)
            return
        remote = self._read(table, foreign, key)
        if remote is None:  # gone from Intercom already
            self._mark(net.change_ids, "done")
            return
        base_updated = net.base.get("updated_at") if net.base else None
        base_epoch = self.db.rows(f"SELECT extract(epoch FROM {literal(base_updated)}::timestamptz)::float8 AS t"
                                  )[0]["t"] if base_updated else None
        verdict = delete_wins(self.rule, base_epoch, remote["updated"], net.deleted_at or 0.0)
        if verdict is not None:
            conflict = Conflict("_row", None, remote["row"], net.base, "local" if verdict else "intercom")
            self._record(obj, key, [conflict], net, remote, counters)
        if verdict is False:  # Intercom's newer version stays, and comes back into the local table
            self._refresh_row(obj, table, foreign, key, net)
        else:
            self._attempt(net)
            self.db.rows(f"DELETE FROM {foreign} WHERE id = {literal(key)} RETURNING id")
            counters.deleted += 1
        self._mark(net.change_ids, "done")

    # ---- reads and writes through the foreign table ----------------------------------------
    @staticmethod
    def _canonical(table: Table, e: str) -> str:
        """SQL giving the jsonb `e` with each value as this session renders the table's type (a time
        written in another TimeZone compares equal)."""
        return (f"(SELECT jsonb_object_agg(k, to_jsonb(r) -> k) FROM jsonb_populate_record(NULL::{table.qualified}, "
                f"{e}) r, jsonb_object_keys({e}) k)")

    def _read(self, table: Table, foreign: str, key: str) -> Optional[dict]:
        """Intercom's current row (GET by id), as jsonb in the replica's types, and its updated_at."""
        cols = ", ".join(ident(c) for c in table.names)
        rows = self.db.rows(f"SELECT to_jsonb(f) AS row, extract(epoch FROM f.updated_at)::float8 AS updated "
                            f"FROM (SELECT {cols} FROM {foreign} WHERE id = {literal(key)}) f")
        if not rows:
            return None
        return {"row": json.loads(rows[0]["row"]), "updated": rows[0]["updated"]}

    def _local(self, table: Table, key: str) -> dict:
        """The replica row as _read gives Intercom's (the same types, so the same JSON)."""
        rows = self.db.rows(f"SELECT to_jsonb(t) - '_replicated_at' - '_deleted_at' AS row, "
                            f"extract(epoch FROM t.updated_at)::float8 AS updated FROM {table.qualified} t "
                            f"WHERE id = {literal(key)}")
        return {"row": json.loads(rows[0]["row"]), "updated": rows[0]["updated"]}

    def _update_remote(self, table: Table, foreign: str, key: str, values: Dict[str, Any]) -> bool:
        return bool(self.db.rows(_update_by_id(foreign, table, key, values) + " RETURNING id"))

    def _refresh(self, table: Table, foreign: str, key: Union[str, Sequence[str]]) -> None:
        """The replica row (or rows) as Intercom now has it (GET by id; current at once, unlike search)."""
        keys = [key] if isinstance(key, str) else list(key)
        self.db.rows(sql.upsert(table, Source(sql.by_values(foreign, table.names, "id", keys))))

    def _refresh_row(self, obj: SyncObject, table: Table, foreign: str, key: str, net: NetChange) -> None:
        """The pushed row as Intercom has it now, but for the columns of local edits logged after this run
        read the log (made while it pushed): those keep their local values, as a pull keeps them, and
        are the next run's to send."""
        self._refresh(table, foreign, key)
        later: Dict[str, Any] = {}
        for row in self.db.rows(f"SELECT new FROM {STATE_SCHEMA}.sync_changes WHERE {self._where(obj)} "
                                f"AND key = {literal(key)} AND status <> 'done' AND op IN ('insert', 'update') "
                                f"AND NOT change_id = ANY({_ids(net.change_ids)}) ORDER BY change_id"):
            later.update(json.loads(row["new"]) if isinstance(row["new"], str) else row["new"] or {})
        later = {c: v for c, v in later.items() if c in table.names}
        if later:
            self.db.rows(_update_by_id(table.qualified, table, key, later))

    def _find_existing(self, obj: SyncObject, table: Table, foreign: str, net: NetChange) -> Optional[str]:
        """The Intercom object a local insert already is: by a natural key, or (after an attempt that may
        have created it) by the recovery columns among objects created since that attempt."""
        types = dict(table.columns)

        def equal(column):
            return f"{ident(column)} = {literal(_text(net.new[column]))}::{types[column]}"
        for columns in obj.unique:
            if all(net.new.get(c) is not None for c in columns):
                found = self.db.rows(f"SELECT id FROM {foreign} WHERE {' AND '.join(equal(c) for c in columns)} "
                                     "ORDER BY id LIMIT 1")
                if found:
                    return found[0]["id"]
        if not obj.recover or not net.attempted:
            return None
        def matches(column):
            if column in obj.contains:
                return f"strpos({ident(column)}, {literal(_text(net.new[column]))}) > 0"
            return equal(column)
        where = [matches(c) for c in obj.recover if net.new.get(c) is not None]
        if not where:  # nothing to tell it from others created meanwhile (the FDW refuses such a row anyway)
            return None
        since = net.first_attempt_at - CREATED_SLACK.total_seconds()
        where.append(f"created_at >= to_timestamp({since!r})")
        found = self.db.rows(f"SELECT id FROM {foreign} WHERE {' AND '.join(where)} ORDER BY created_at LIMIT 1")
        if found:
            return found[0]["id"]
        if obj.searched:
            young = self.db.rows(
                f"SELECT to_timestamp({net.first_attempt_at!r}) > now() - coalesce(nullif(current_setting("
                f"{literal(SEARCH_LAG_SETTING)}, true), ''), {literal(DEFAULT_SEARCH_LAG)})::interval AS young")
            if young[0]["young"]:
                raise Held(f"an earlier attempt may have created this {obj.object} and Intercom's search, which "
                           "shows new objects minutes late, does not list it yet: held until the attempt is older "
                           f"than {SEARCH_LAG_SETTING}, then looked up again (and created if still not found)")
        return None

    def _write_back(self, obj: SyncObject, table: Table, key: str, intercom_id: str, net: NetChange) -> None:
        """The local row takes its Intercom id; a row linked to one the replica holds already is merged into it."""
        if key == intercom_id:
            return
        exists = self.db.rows(f"SELECT 1 FROM {table.qualified} WHERE id = {literal(intercom_id)}")
        if exists:
            self.db.rows(f"DELETE FROM {table.qualified} WHERE id = {literal(key)}")
        else:
            self.db.rows(f"UPDATE {table.qualified} SET id = {literal(intercom_id)} WHERE id = {literal(key)}")
        # entries of the row captured after this run read the log follow it to its new key
        self.db.rows(f"UPDATE {STATE_SCHEMA}.sync_changes SET key = {literal(intercom_id)} WHERE {self._where(obj)} "
                     f"AND key = {literal(key)} AND status <> 'done' "
                     f"AND NOT change_id = ANY({_ids(net.change_ids)})")

    def _record(self, obj: SyncObject, key: str, conflicts: Sequence[Conflict], net: NetChange, remote: dict,
                counters: Counters) -> None:
        if not conflicts:
            return
        counters.conflicts += len(conflicts)
        values = []
        for c in conflicts:
            at = net.changed_at.get(c.column)
            values.append(
                f"({literal(obj.object)}, {literal(self.schema)}, {literal(key)}, {literal(c.column)}, "
                f"{literal(json.dumps(c.local))}::jsonb, {literal(json.dumps(c.intercom))}::jsonb, "
                f"{literal(json.dumps(c.base))}::jsonb, "
                f"{'to_timestamp(' + repr(at) + ')' if at is not None else 'NULL'}, "
                f"{'to_timestamp(' + repr(remote['updated']) + ')' if remote['updated'] is not None else 'NULL'}, "
                f"{literal(self.rule)}, {literal(c.winner)}, {_ids(net.change_ids)})")
        self.db.rows(f"INSERT INTO {STATE_SCHEMA}.sync_conflicts (object, target_schema, key, \"column\", local_value, "
                     "intercom_value, base_value, local_changed_at, intercom_updated_at, rule, winner, change_ids) "
                     "VALUES " + ", ".join(values) + " ON CONFLICT DO NOTHING")


def _may_make(table: Table) -> str:
    """SQL: whether the role that logged change `c` (changed_by, set by the log's own trigger) may make
    it on the replica table: DELETE on it, or INSERT/UPDATE on every column the change sets."""
    relation = f"{literal(table.qualified)}::regclass"
    return (f"coalesce((SELECT CASE WHEN c.op = 'delete' THEN has_table_privilege(r.oid, {relation}, 'DELETE') "
            f"ELSE has_any_column_privilege(r.oid, {relation}, upper(c.op)) AND NOT EXISTS ("
            "SELECT 1 FROM jsonb_object_keys(coalesce(c.new, '{}'::jsonb)) AS k "
            f"WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = {relation} "
            "AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped) "
            f"OR NOT has_column_privilege(r.oid, {relation}, k, upper(c.op))) END "
            "FROM pg_catalog.pg_roles r WHERE r.rolname = c.changed_by), false)")


def _update_by_id(relation: str, table: Table, key: str, values: Dict[str, Any]) -> str:
    """SQL: UPDATE `relation` (the replica table or its foreign table) setting `values` (JSON values,
    read as the replica table's types) on the row `key`."""
    record = f"jsonb_populate_record(NULL::{table.qualified}, {literal(json.dumps(values))}::jsonb)"
    sets = ", ".join(f"{ident(c)} = ({record}).{ident(c)}" for c in values)
    return f"UPDATE {relation} SET {sets} WHERE id = {literal(key)}"


def _ids(change_ids: Sequence[int]) -> str:
    return f"ARRAY[{', '.join(str(int(i)) for i in change_ids)}]::bigint[]"


def _text(value: Any) -> str:
    """A JSON value as PostgreSQL's text of it (the literal compared with a typed column)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
