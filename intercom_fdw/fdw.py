"""IntercomFdw: the Multicorn class. The only module that imports multicorn; thin glue only.

It converts Multicorn's arguments (Qual, SortKey, ColumnDefinition) into the neutral forms of
planning/, asks plan_scan for a plan, and hands the plan to the engine (execute) or prints it
(explain). Writes go to writing/statement.py: one StatementWriter per statement, and the scan's rows are
remembered (ScanMemory) for the update()/delete() that follow, since multicorn passes those only
the rowid. Every IntercomError leaves through `log_to_postgres(ERROR)` with its HINT and DETAIL;
a failed write first tells in a NOTICE what had already reached Intercom. An INSERT whose rows
already existed (on_conflict) says so in a NOTICE when the statement ends.
"""
from __future__ import annotations

import functools
import time
import weakref

import multicorn
from multicorn import ColumnDefinition, ForeignDataWrapper, TableDefinition, UNBOUND
from multicorn.utils import ERROR, INFO, REPORT_CODES, WARNING, MulticornException, log_to_postgres

from intercom_fdw import engine, pg_interrupts, pg_statement, pg_types, schema_import
from intercom_fdw.actions import statement_calls
from intercom_fdw.client import client_for, table_counts
from intercom_fdw.custom_fields import table_spec
from intercom_fdw.errors import (
    ConfigurationError, Interrupted, UnsupportedOperationError, as_reported, reported_detail, reported_text,
    sqlstate_of,
)
from intercom_fdw.objects import spec_for
from intercom_fdw.options import FdwOptions, import_options, validate_options
from intercom_fdw.planning import (
    ScanOptions, SortKey, conditions_from_qual, path_keys, plan_scan, supported_sortkeys,
)
from intercom_fdw.planning.parameterized import parameterized_lines
from intercom_fdw.planning.quals import Parameter, is_unknown_at_planning
from intercom_fdw.writing.requests import ROWID_COLUMN, TableWrites
from intercom_fdw.writing.statement import LISTED_IDS, ScanMemory, StatementWriter, WriteFailed, listed_ids

# multicorn2 3.2 gives explain() a stand-in for a parameter's value ('?', PostgreSQL's epoch); the
# bundled runtime gives multicorn.UNBOUND, so a literal '?' there is a literal.
_PARAMETERS_AS_STAND_INS = not getattr(multicorn, "PARAMETERS_AS_UNBOUND", False)
# The bundled runtime builds jsonb from a dict or list itself (the value jsonb_in gives for its JSON
# text), so scans hand it jsonb columns' objects as they are; multicorn2 3.2 needs the text.
_JSONB_FROM_PYTHON = bool(getattr(multicorn, "JSONB_FROM_PYTHON", False))
_TIMESTAMPTZ_FROM_UNIX_SECONDS = bool(getattr(multicorn, "TIMESTAMPTZ_FROM_UNIX_SECONDS", False))


def _reported(method):
    """Report every error as a PostgreSQL error with HINT and DETAIL: ours (already scrubbed) and,
    as an internal error, anything else (errors.as_reported, as the SQL functions do). A cancel the
    runtime raises in Python (KeyboardInterrupt, not an Exception) passes through to the runtime."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Interrupted as error:  # a BaseException: the client gave up a wait for a cancel
            failure = error
        except Exception as error:
            failure = as_reported(error)
        _report(failure)

    return wrapper


def _read_before_writing(rows):
    """The scan's rows, all read before the first is handed on: the statement writes the table it
    reads (DELETE/UPDATE ... WHERE, INSERT INTO t SELECT ... FROM t). Streamed, the writes changed the
    pages still to come: deletes shifted rows out of the next page (a DELETE of 262 contacts deleted
    150), and created rows came on later pages (an INSERT ... SELECT copied its own new rows). Read
    first, the statement sees the table as it was when it started, as PostgreSQL's own tables do.
    The cost is memory for the rows (a DELETE reads only their ids)."""
    yield from list(rows)


def _reported_rows(rows):
    try:
        yield from rows
    except Interrupted as error:
        failure = error
    except Exception as error:
        failure = as_reported(error)
    else:
        return
    _report(failure)


def _report(error):
    # Outside the `except` block, so the report carries no chained traceback.
    if isinstance(error, Interrupted):  # the client gave up a wait: a cancel, statement_timeout or terminate
        # Nothing is logged here: a message sent while the interrupt is pending makes PostgreSQL act on
        # it inside the report (see writing/statement.py). What a write had written is told by rollback().
        raise pg_interrupts.canceled()  # each runtime reports it as a cancel (see pg_interrupts)
    for message, detail in error.notices() if isinstance(error, WriteFailed) else ():
        log_to_postgres(message, INFO, detail=detail)
    # What log_to_postgres(ERROR) raises, plus the error class's SQLSTATE: the bundled runtime reports
    # it, multicorn2 3.2 reports every error as XX000 (internal_error).
    failure = MulticornException(error.message, REPORT_CODES[ERROR], error.hint, reported_detail(error))
    failure.sqlstate = sqlstate_of(error)
    raise failure


# Rows per bulk INSERT batch when no option says otherwise, each batch written `concurrency` rows at a time.
DEFAULT_BATCH_SIZE = 50
# Whether the runtime turns batching off for INSERT ... RETURNING (as postgres_fdw does): the bundled
# runtime does and says so; real multicorn2 3.2 does not.
RUNTIME_KEEPS_RETURNING = bool(getattr(multicorn, "BATCHES_WITHOUT_RETURNING", False))
# Whether a scan a join parameter drives keeps the join's other conditions: the bundled runtime's does;
# real multicorn2 3.2 applies none of them (README, multicorn2 differences), which EXPLAIN then says.
_PARAMETERIZED_SCANS_KEEP_JOIN_CONDITIONS = bool(getattr(multicorn, "PARAMETERIZED_SCANS_KEEP_JOIN_CONDITIONS", False))
# Whether the runtime starts COPY FROM and rows routed into a foreign partition (BeginForeignInsert):
# the bundled runtime does; real multicorn2 3.2 does not, and such a write crashes the backend before
# the FDW is called. The extension's event trigger asks (actions/plpython.py) before a foreign table
# of ours becomes a partition.
ROUTES_TO_FOREIGN_PARTITIONS = bool(getattr(multicorn, "BEGIN_FOREIGN_INSERT", False))


def _clear_dropped_qual_error():
    """Clear the error multicorn2 3.2 leaves set when it drops a qual value it cannot convert.

    multicorn2 converts a date or timestamp (without time zone) qual value to a Python date or
    datetime, which holds only years 1 to 9999: for 'infinity', '-infinity', a BC date or a year past
    9999 (all valid in PostgreSQL) the conversion fails, and multicorn2 leaves that qual out of the
    list but the ValueError set. Python raises it at the next check of the error indicator, in
    whatever code runs then (the end of a loop over the quals); multicorn2's own check before it
    calls execute() or explain() reports it as "Error in python: ValueError". The qual is rightly not
    pushed (PostgreSQL re-checks every qual), so the error is cleared: an empty loop makes Python
    check the indicator. The bundled runtime leaves no such error, so this is a no-op there."""
    try:
        for _ in ():
            pass
    except ValueError:
        pass


class _AfterDroppedQuals:
    """A method multicorn2 looks up (and then checks for a Python error) after converting the quals
    it passes: the lookup clears the error a dropped qual left set (_clear_dropped_qual_error)."""

    def __init__(self, method):
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, instance, owner=None):
        _clear_dropped_qual_error()
        return self.method.__get__(instance, owner)


def _sort_keys(sortkeys):
    # nulls_first None (a runtime that does not say): PostgreSQL's default for the direction
    return [SortKey(k.attname, bool(k.is_reversed), None if k.nulls_first is None else bool(k.nulls_first))
            for k in sortkeys]


class _ImportedTable(TableDefinition):
    """A table IMPORT FOREIGN SCHEMA creates: the runtime hands `to_statement` the server's name (the
    only place multicorn tells it), recorded as the table option server_name for hints."""

    def to_statement(self, schema_name, server_name):
        self.options = {**self.options, "server_name": server_name}
        return super().to_statement(schema_name, server_name)


class IntercomFdw(ForeignDataWrapper):
    @_reported
    def __init__(self, fdw_options, fdw_columns):
        super().__init__(fdw_options, fdw_columns)
        self.options = FdwOptions.parse(fdw_options)
        if not self.options.object:
            raise ConfigurationError("the foreign table has no object option",
                                     hint="add OPTIONS (object 'contacts') (or another Intercom object), "
                                          "or create the tables with IMPORT FOREIGN SCHEMA")
        base = spec_for(self.options.object)
        self.pg_types = {name: column.type_name for name, column in fdw_columns.items()}
        # (a domain over jsonb, or an array of it, takes text as before)
        self.jsonb_objects = frozenset(name for name, type_name in self.pg_types.items()
                                       if _JSONB_FROM_PYTHON and type_name == "jsonb")
        # (likewise: a domain over timestamptz, or an array of it, takes datetimes)
        self.unix_seconds = frozenset(name for name, type_name in self.pg_types.items()
                                      if _TIMESTAMPTZ_FROM_UNIX_SECONDS and pg_types.is_zoned_timestamp(type_name))
        declared = [(name, c.type_name, c.options or {}) for name, c in fdw_columns.items()]
        # Scans hand rows over as tuples of every column in the table's order (fdw_columns's, its
        # columns but the dropped ones), which both runtimes take as a row (multicorn2's
        # pythonSequenceToTuple): no dict to build, no look-up of each column by name.
        self.column_order = tuple(fdw_columns)
        self.spec = table_spec(base, declared)
        self.writes = TableWrites(self.spec, self.options.table_options())
        rules = self.spec.writes
        keys = sorted(set(self.writes.path_keys("update")) | set(self.writes.path_keys("delete")))
        self.scan_memory = ScanMemory(keys) if rules.update or rules.delete else None
        self._writer = None
        self._modify_planned = False
        self._rowid_asked = False
        # What the transaction's finished write statements wrote, as (subtransaction level, ids, count):
        # a ROLLBACK or ROLLBACK TO SAVEPOINT undoes nothing in Intercom, and says what stays there.
        self._level = 1
        self._transaction_writes = []
        # Scans still open: multicorn2 never releases the rows of a failed or cancelled scan (no
        # EndForeignScan after an error), so the transaction's end closes them (its pages read
        # ahead, a companies scroll's lock); the bundled runtime releases them itself.
        self._scans = weakref.WeakSet()

    # -- planning --------------------------------------------------------------------------------
    def _plan(self, conditions, columns, sortkeys=None, limit=None, offset=None, strict=True):
        return plan_scan(self.spec, conditions, columns, _sort_keys(sortkeys or ()), limit, offset,
                         self._scan_options(strict))

    def _conditions(self, quals, explaining=False):
        """Planning's conditions for the runtime's quals. While EXPLAIN runs, a parameter's value
        (a join's outer value, a subquery's result) is not known: the runtime passes UNBOUND or, on
        multicorn2, a stand-in (quals.is_unknown_at_planning), planned as a Parameter, so EXPLAIN shows the request that runs.
        The bundled runtime marks the quals of null tests (Qual.null_test); multicorn2 3.2 has no such mark."""
        _clear_dropped_qual_error()
        conditions = []
        for qual in quals:
            pg_type = self.pg_types.get(qual.field_name, "text")
            value = qual.value
            if value is UNBOUND or (explaining and _PARAMETERS_AS_STAND_INS
                                    and is_unknown_at_planning(value, pg_type)):
                value = Parameter()
            conditions += conditions_from_qual(qual.field_name, qual.operator, value, pg_type,
                                               getattr(qual, "null_test", None))
        return conditions

    def _scan_options(self, strict):
        return ScanOptions(
            pushdown=self.options.pushdown, suppress_extended_requests=self.options.suppress_extended_requests,
            table_options=self.options.table_options(), now=int(time.time()),
            row_estimate=self.options.row_estimate, strict=strict,
            scan_mode=self.options.scan_mode, read_concurrency=self.options.read_concurrency,
            table_counts=self._table_counts(),
        )

    def _table_counts(self):
        # What this backend's scans of the workspace lately reported (no call): planning sizes tables from it.
        if not self.options.token:
            return None
        return table_counts(self.options.base_url, self.options.token)

    @_reported
    def get_rel_size(self, quals, columns):
        if self._rowid_asked:
            self._rowid_asked = False
            self._refuse_planned_modify(columns)
        plan = self._plan(self._conditions(quals), columns, strict=False)
        return plan.estimated_rows, 40 * max(1, len(columns))

    @_reported
    def get_path_keys(self):
        return path_keys(self.spec, self.options.pushdown)

    @_reported
    def can_sort(self, sortkeys):
        keys = _sort_keys(sortkeys)
        supported = set(supported_sortkeys(self.spec, keys, self.options.pushdown))
        return [k for k, key in zip(sortkeys, keys) if key in supported]

    def can_limit(self, limit, offset):
        # multicorn2 offers LIMIT/OFFSET only for scans without WHERE and then drops its Limit
        # node: the engine applies both exactly (and stops paging early when it can).
        return self.options.pushdown

    @_AfterDroppedQuals
    @_reported
    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        conditions = self._conditions(quals, explaining=True)
        plan = self._plan(conditions, columns, sortkeys, limit, offset, strict=False)
        # A scan a parameter drives already shows its request per execution; any other: what it would
        # request were a parameterized nested loop to supply a path key (in a join planned later).
        joined = [] if plan.parameters else parameterized_lines(self.spec, conditions,
                                                                self._scan_options(strict=False), verbose)
        if plan.parameters and not _PARAMETERIZED_SCANS_KEEP_JOIN_CONDITIONS:
            joined.append(f"Warning: if this scan is the inner side of a join, multicorn2 3.2 applies none of the "
                          f"join's conditions other than those on {', '.join(plan.parameters)} (wrong results: "
                          f"see the README's multicorn2 differences for the way round it)")
        return [reported_text(line) for line in plan.explain(verbose) + joined]

    # -- execution -------------------------------------------------------------------------------
    @_AfterDroppedQuals
    @_reported
    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        plan = self._plan(self._conditions(quals), columns, sortkeys, limit, offset)
        client = self._client()
        memory = self.scan_memory if self._modify_planned and ROWID_COLUMN in columns else None
        selected = set(columns) | set(memory.keys) if memory else columns
        # (rows remembered for an UPDATE keep JSON text: up to ScanMemory's limit of them, text is smaller;
        # and they stay dicts, which ScanMemory reads by column name)
        rows = engine.rows(plan, client, self.spec.columns, selected, () if memory else self.jsonb_objects,
                           None if memory else self.column_order, () if memory else self.unix_seconds)
        if self._modify_planned:
            rows = _read_before_writing(rows)
        scan = _reported_rows(memory.watch(rows) if memory else rows)
        self._scans.add(scan)
        return scan

    # -- writes ----------------------------------------------------------------------------------
    def _refuse_planned_modify(self, columns):
        """PostgreSQL asked for the rowid while planning an UPDATE or DELETE of this table, just
        before sizing it: refuse here, before any call, what the API does not allow. An UPDATE
        always reads every column (multicorn2 and the runtime ask for the whole row), so fewer
        columns mean a DELETE; a DELETE ... RETURNING * can only be refused at its first row."""
        rules = self.spec.writes
        if rules.update or rules.delete:
            if rules.delete or set(self.spec.column_names) <= set(columns):
                return
            self.writes.operation("delete")
        raise UnsupportedOperationError(
            f"UPDATE and DELETE on {self.spec.table} are not supported by the Intercom API",
            hint=f"{self.spec.table} allows {self.writes.allowed()}")

    @property
    def rowid_column(self):
        # multicorn asks when PostgreSQL plans an UPDATE or DELETE (then get_rel_size follows) and
        # when any write starts, INSERT included, before the scan runs; it must always answer.
        # Only scans of a statement that asked remember their rows (a plain SELECT keeps nothing).
        self._rowid_asked = self._modify_planned = True
        return ROWID_COLUMN

    @property
    def modify_batch_size(self):
        # multicorn2 3.2 batches an INSERT with RETURNING as well, and PostgreSQL's batch path then
        # drops the rows bulk_insert() returns: there, batches (and their concurrency) only when the
        # table or server asks for them. The bundled runtime writes RETURNING row by row itself.
        if self.options.modify_batch_size is not None:
            return self.options.modify_batch_size
        return DEFAULT_BATCH_SIZE if RUNTIME_KEEPS_RETURNING else 1

    @_reported
    def insert(self, values):
        self._rowid_asked = False  # asked by the INSERT's start, not by a plan
        # RETURNING, triggers and CHECK OPTIONs come through here: a row that existed gives the existing object
        return self._statement().insert([values])[0]

    @_reported
    def bulk_insert(self, all_values):
        self._rowid_asked = False
        return self._statement().insert(all_values, returning=False)  # PostgreSQL batches only plain INSERTs

    @_reported
    def update(self, rowid, newvalues):
        memory = self.scan_memory
        return self._statement().update(rowid, newvalues, memory.row(rowid) if memory else None)

    @_reported
    def delete(self, rowid):
        memory = self.scan_memory
        self._statement().delete(rowid, memory.row(rowid) if memory else None)

    def _statement(self) -> StatementWriter:
        if self._writer is None:
            self._writer = StatementWriter(self.writes, self._client(), self.options.on_conflict)
        return self._writer

    def end_modify(self):
        writer = self._writer
        notice = writer.existing_notice() if writer is not None else None
        if writer is not None and writer.written_count:
            room = max(0, LISTED_IDS - sum(len(ids) for _, ids, _ in self._transaction_writes))
            self._transaction_writes.append((self._level, writer.written[:room], writer.written_count))
        self._end_statement()
        if notice:
            log_to_postgres(notice[0], INFO, detail=notice[1])

    def begin(self, serializable):
        self._level, self._transaction_writes = 1, []

    def sub_begin(self, level):
        self._level = level

    def sub_commit(self, level):
        # RELEASE SAVEPOINT: what was written since is the enclosing (sub)transaction's now
        self._transaction_writes = [(min(lvl, level - 1), ids, count) for lvl, ids, count in self._transaction_writes]
        self._level = level - 1

    def commit(self):
        self._transaction_writes = []
        self._end_statement()
        self._close_scans()

    def rollback(self):
        self._report_stopped_statement()
        self._report_rolled_back(1, lambda count: (
            f"{self.spec.table}: the transaction rolled back, but {count} row(s) its statements wrote to Intercom "
            f"stay there (a remote write cannot be rolled back)"))
        self._end_statement()
        self._close_scans()

    def _report_rolled_back(self, level, message):
        """A WARNING naming what the finished statements of the (sub)transactions at `level` and deeper
        wrote, which the rollback leaves in Intercom (interrupts are held off during an abort)."""
        undone = [(ids, count) for lvl, ids, count in self._transaction_writes if lvl >= level]
        self._transaction_writes = [entry for entry in self._transaction_writes if entry[0] < level]
        self._level = max(1, level - 1)
        count = sum(n for _, n in undone)
        if count:
            ids = [i for listed, _ in undone for i in listed][:LISTED_IDS]
            log_to_postgres(message(count), WARNING, detail="written ids: " + listed_ids(ids, count))

    def _close_scans(self):
        for scan in list(self._scans):
            scan.close()  # runs the scan's finally blocks: threads stopped, scroll locks released
        self._scans.clear()

    def sub_rollback(self, level):
        self._report_stopped_statement()
        self._report_rolled_back(level, lambda count: (
            f"{self.spec.table}: the rollback of a savepoint (or subtransaction) undid nothing in Intercom: "
            f"{count} row(s) written there since it began stay (a remote write cannot be rolled back)"))
        self._end_statement()

    def _report_stopped_statement(self):
        # A write statement stopped part-way (canceled, timed out, terminated, or failed elsewhere in
        # the plan) reaches no end_modify: say what it wrote. Interrupts are held off during an abort,
        # so the WARNING is safe here on both runtimes.
        writer = self._writer
        if writer is not None and not writer.reported:
            for message, detail in writer.stopped_notices():
                log_to_postgres(message, WARNING, detail=detail)
        # The action functions' calls of the statement (per row, from a statement this table takes part
        # in) when no action's error named them: the statement failed elsewhere (another error, a cancel
        # while the scan or PostgreSQL ran). Said once, whichever table's rollback comes first.
        actions = statement_calls.CALLS.untold(pg_statement.statement_started())
        if actions:
            message, detail, hint = map(reported_text, actions)  # the calls' labels hold ids
            log_to_postgres(message, WARNING, detail=detail, hint=hint)

    def _end_statement(self):
        # A statement's row numbers and written ids start afresh with the next statement, also
        # after an error (PostgreSQL then skips end_modify, but the transaction rolls back).
        self._writer = None
        self._modify_planned = self._rowid_asked = False
        if self.scan_memory is not None:
            self.scan_memory.forget()

    def _client(self):
        return client_for(self.options.base_url, self.options.token, self.options.api_version,
                          interrupted=pg_interrupts.interrupted, **self.options.client_options())

    @classmethod
    @_reported
    def validate(cls, options, catalog):
        """Options of one server, table, user mapping or column (catalog names those), for a
        validator that runs at CREATE/ALTER time."""
        validate_options(catalog, options)

    # -- IMPORT FOREIGN SCHEMA -------------------------------------------------------------------
    @classmethod
    @_reported
    def import_schema(cls, schema, srv_options, options, restriction_type, restricts):
        merged = import_options(srv_options, options)
        parsed = FdwOptions.parse({k: v for k, v in merged.items() if k not in ("object", "ticket_type_id")})
        client = client_for(parsed.base_url, parsed.token, parsed.api_version, interrupted=pg_interrupts.interrupted,
                            **parsed.client_options())
        definitions = schema_import.table_definitions(client, restriction_type, restricts, now=int(time.time()))
        for table in definitions:
            for reason in table.skipped:
                log_to_postgres(reported_text(f"{table.name}: {reason}"), INFO)
        for unmatched in schema_import.unmatched_names(definitions, restriction_type, restricts):
            log_to_postgres(reported_text(unmatched), INFO)
        return [
            _ImportedTable(
                table.name,
                columns=[ColumnDefinition(c.name, type_name=c.pg_type, options=dict(c.options)) for c in table.columns],
                options=table.options,
            )
            for table in definitions
        ]
