"""The generic write engine: runs the WriteRequests of requests.py through the HTTP client.

One `StatementWriter` per INSERT/UPDATE/DELETE statement (the glue drops it in end_modify). It
numbers rows across bulk_insert batches, sends a batch with bounded concurrency (the client's
throttle is shared by the threads, so the rate limit holds), and remembers what was written: a
remote write cannot be rolled back, so when row k fails the error names row k and Intercom's
message, and `WriteFailed.written` tells the glue which ids had already reached Intercom.

Existing objects: a create that Intercom refuses because the object exists (a `Conflict` rule:
contacts, 409 on email or external_id) is handled by the table option on_conflict: 'skip' (the
default) leaves the object as it is and goes on, 'update' updates it with the row's values,
'error' fails the statement. Skipped and updated rows are counted, and `existing_notice` tells
how many there were and their ids at the end of the statement, so re-running an import completes.

Resends: the client never resends a write that may have reached Intercom unless the call is
idempotent (create-or-update endpoints, PUT, DELETE). Creates with a `Conflict` rule (contacts)
are resent here after an ambiguous failure (5xx, dropped connection), because a resend cannot
create a second object. Its 409 cannot tell the first attempt's object from one that existed
before the statement, so it is treated as an existing object (never updated unless on_conflict
is 'update'), in every mode, 'error' included: the statement must not fail because of a fault
it recovered from. The NOTICE counts such rows apart.

Interrupts: a cancel, a statement_timeout or a terminate ends the client's waits with
`errors.Interrupted` (client/interrupts.py); the rows still in the works stop (a request in flight
is abandoned, its row remembered as unknown) and the Interrupted goes on up. The report of what
was written (`stopped_notices()`: the ids, the rows whose outcome is unknown) is given when the
transaction rolls back, for every statement stopped part-way, between two of our calls (PostgreSQL's
own check between rows) or inside one: not before, because a message sent while an interrupt is
pending makes PostgreSQL act on the interrupt inside the report (errfinish's CHECK_FOR_INTERRUPTS),
which would longjmp through the Python frames under multicorn2.
"""
from __future__ import annotations

import collections
import random
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from intercom_fdw.api_request import bind_path
from intercom_fdw.client.interrupts import Interrupts
from intercom_fdw.client.policy import resend_delay, should_resend_create
from intercom_fdw.client.workers import worker_pool
from intercom_fdw.errors import (
    ApiRejectedError, IntercomError, Interrupted, InvalidValueError, ServerError, TransportError,
    may_have_reached_intercom,
)
from intercom_fdw.options import DEFAULT_ON_CONFLICT
from intercom_fdw.shaping import RowShaper
from intercom_fdw.writing.requests import ROWID_COLUMN, TableWrites, WriteRequest

# The NOTICEs list at most this many written (or existing) ids, and count the rest.
LISTED_IDS = 10000


class WriteFailed(IntercomError):
    """A row of the statement failed; `written` lists the objects already written by the statement."""

    def __init__(self, message, hint=None, detail=None, written: Sequence[str] = (), written_count: int = 0,
                 cause=None, existing_notice: Optional[Tuple[str, str]] = None, unsure: Sequence[int] = (),
                 written_rows: Sequence[int] = ()):
        super().__init__(message, hint=hint, detail=detail, status=getattr(cause, "status", None),
                         code=getattr(cause, "code", None), request_id=getattr(cause, "request_id", None))
        self.cause = cause  # what failed: its class gives the report's SQLSTATE (errors.sqlstate_of)
        self.written = list(written)
        self.written_rows = list(written_rows)  # the statement's row numbers of `written`
        self.written_count = max(written_count, len(self.written))
        self.existing_notice = existing_notice  # StatementWriter.existing_notice() at the failure
        self.unsure = sorted(unsure)  # rows that failed without a usable answer: they may have been written

    def notice(self) -> Optional[Tuple[str, str]]:
        """(message, detail) telling what reached Intercom before the failure, or None when nothing did."""
        return _written_notice(self.written, self.written_count, self.written_rows)

    def notices(self) -> List[Tuple[str, str]]:
        """Every NOTICE due before the error: what was written, which rows may have been, and which
        rows already existed."""
        unsure = (f"{len(self.unsure)} row(s) failed without a usable answer and may have reached Intercom",
                  "rows: " + ", ".join(map(str, self.unsure))) if self.unsure else None
        return [n for n in (self.notice(), unsure, self.existing_notice) if n]


def _written_notice(written: Sequence[str], count: int, rows: Sequence[int] = ()) -> Optional[Tuple[str, str]]:
    if not count:
        return None
    which = (f"row{'s' if count > 1 else ''} {row_ranges(rows)}{', and more' if count > len(rows) else ''}; "
             if rows else "")
    return (f"{count} row(s) had already been written to Intercom and stay there "
            f"({which}a remote write cannot be rolled back)", "written ids: " + listed_ids(written, count))


def row_ranges(rows: Sequence[int]) -> str:
    """Row numbers as ranges, in order: 1-5, 7, 9-14."""
    ranges: List[List[int]] = []
    for row in sorted(set(rows)):
        if ranges and row == ranges[-1][1] + 1:
            ranges[-1][1] = row
        else:
            ranges.append([row, row])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def listed_ids(ids: Sequence[str], count: int) -> str:
    """The ids, and how many more there were than listed."""
    more = count - len(ids)
    return ", ".join(ids) + (f", and {more} more" if more else "")


class StatementWriter:
    def __init__(self, table: TableWrites, client, on_conflict: str = DEFAULT_ON_CONFLICT, sleep=None,
                 rng=None):
        self.table = table
        self.client = client
        self.on_conflict = on_conflict
        self.rows_seen = 0
        self.written: List[str] = []  # the first LISTED_IDS of them
        self.written_rows: List[int] = []  # their row numbers in the statement
        self.written_count = 0
        self.existing: List[str] = []  # ids of rows that already existed (on_conflict), the first LISTED_IDS
        self.existing_count = 0
        self.existing_on_resend = 0  # of those, found by a resend: the first attempt may have created them
        # rows whose request was in flight when the statement was interrupted, or had been sent without a
        # usable answer (and was waiting to be sent again): whether they were written is unknown
        self.unknown: List[int] = []
        self.reported = False  # a report of what was written went out with the statement's error
        self._shaper = RowShaper(table.spec.columns)
        self._interrupts = getattr(client, "interrupts", None) or Interrupts()
        self._sleep = sleep or self._interrupts.sleep
        self._rng = rng or random.Random()

    # -- INSERT ------------------------------------------------------------------------------------
    def insert(self, rows: Sequence[Mapping[str, Any]], returning: bool = True) -> List[dict]:
        """Creates the rows (one call each, concurrently); the shaped objects Intercom returned.

        A row whose object exists already gives the existing object (read by id, updated with
        on_conflict 'update'); with `returning` False (bulk_insert: PostgreSQL uses no result)
        a skipped row gives only its id, saving the read.
        """
        first = self.rows_seen + 1
        self.rows_seen += len(rows)
        try:
            requests = [self.table.insert_request(values, first + i) for i, values in enumerate(rows)]
        except InvalidValueError as error:
            raise self._failed(error.message, error, error.hint) from None
        jobs = [(lambda r=request, v=values, n=first + i: self._create(r, v, n, returning))
                for i, (request, values) in enumerate(zip(requests, rows))]
        return self._run(jobs, first, "INSERT")

    def _create(self, request: WriteRequest, values, row: int, returning: bool):
        try:
            response = self._send_create(request)
        except IntercomError as error:
            existing = self.table.existing_id(error)
            if existing is None:
                raise
            if self.on_conflict == "error":
                raise ApiRejectedError(
                    f"Intercom already holds this {self.table.spec.table} object (id {existing}): {error.message}",
                    hint="to leave existing objects as they are, ALTER FOREIGN TABLE ... OPTIONS (SET on_conflict "
                         "'skip'); to update them, (SET on_conflict 'update'); or leave the row out",
                    status=error.status, code=error.code, request_id=error.request_id) from None
            return self._existing(existing, values, row, returning, resent=False)
        if isinstance(response, _ResentConflict):
            return self._existing(response.id, values, row, returning, resent=True)
        return self._finish(request, response)

    def _send_create(self, request: WriteRequest):
        resend = self.table.rules.conflict is not None
        attempt = 0
        unanswered = False  # an earlier send failed without a usable answer: it may have created the object
        while True:
            attempt += 1
            try:
                return self._call(request)
            except (ServerError, TransportError) as error:
                unanswered = unanswered or may_have_reached_intercom(error)
                if not should_resend_create(resend, attempt, self.client.max_retries):
                    raise
                try:
                    self._sleep(resend_delay(attempt, self._rng))
                except Interrupted:
                    raise Interrupted(in_flight=unanswered) from None
            except Interrupted as stop:  # the resend waited (for the rate limit) or was in flight
                raise Interrupted(in_flight=stop.in_flight or unanswered) from None
            except ApiRejectedError as error:
                existing = self.table.existing_id(error)
                if attempt > 1 and existing is not None:
                    return _ResentConflict(existing)
                raise

    def _existing(self, existing_id: str, values, row: int, returning: bool, resent: bool) -> "_Existing":
        if self.on_conflict == "update":
            request = self.table.upsert_request(existing_id, values, row)
            shaped = self._finish(request, self._call(request))
        elif returning:
            shaped = self.current(existing_id)
        else:
            shaped = {ROWID_COLUMN: existing_id}
        return _Existing(existing_id, shaped, resent)

    def existing_notice(self) -> Optional[Tuple[str, str]]:
        """(message, detail) telling which rows of the statement already existed, or None when none did."""
        if not self.existing_count:
            return None
        done = "were updated (on_conflict 'update')" if self.on_conflict == "update" else \
            "were left as they are"
        resent = (f"; {self.existing_on_resend} of them answered a create resent after a failed attempt, which "
                  f"may have created them" if self.existing_on_resend else "")
        return (f"{self.existing_count} row(s) already existed in Intercom as {self.table.spec.table} and {done}"
                + resent, "existing ids: " + listed_ids(self.existing, self.existing_count))

    # -- UPDATE / DELETE -----------------------------------------------------------------------------
    def update(self, rowid, new: Mapping[str, Any], remembered: Optional[Mapping[str, Any]]) -> Optional[dict]:
        """Sends the changed columns; the shaped object Intercom returned, or None when nothing changed.

        `remembered` is the row the scan gave for this rowid (ScanMemory); without all its columns
        the old values are read by id.
        """
        self.table.operation("update")
        self.rows_seen += 1
        row = self.rows_seen
        scanned = remembered is not None and set(new) <= set(remembered)
        try:
            old = remembered if scanned else self.current(rowid)
            request = self.table.update_request(rowid, new, old, row, scanned)
        except IntercomError as error:
            raise self._failed(error.message, error, error.hint) from None
        if request is None:
            return None
        return self._run([lambda: self._finish(request, self._call(request))], row, "UPDATE")[0]

    def delete(self, rowid, remembered: Optional[Mapping[str, Any]]) -> None:
        self.table.operation("delete")
        self.rows_seen += 1
        row = self.rows_seen
        keys = self.table.path_keys("delete")
        if keys and remembered is None:
            raise self._failed(
                f"DELETE on {self.table.label}, row {row}: cannot tell which {', '.join(keys)} the row "
                f"with id {rowid} belongs to", None,
                f"delete through a plain filter on the table, e.g. DELETE FROM {self.table.spec.table} "
                f"WHERE {keys[0]} = '...' AND id = '...'")
        old = remembered or {}
        request = self.table.delete_request(rowid, old, row)
        self._run([lambda: self._deleted(request)], row, "DELETE", written_id=lambda _: self._describe(rowid, old))

    def _deleted(self, request: WriteRequest) -> dict:
        self._call(request)  # a 404 is an answer (delete_request): the object is gone either way
        return {}

    def current(self, rowid) -> dict:
        """The object as Intercom has it now (old values for an UPDATE whose scan row is unknown)."""
        return self._shaper(self._get(rowid))

    def _get(self, object_id) -> dict:
        get = self.table.spec.get
        if get is None:
            raise InvalidValueError(f"{self.table.spec.table}: the object with id {object_id} cannot be read back",
                                    hint="update rows through a plain scan of the table")
        return self.client.call("GET", bind_path(get.path, {"id": object_id}))

    # -- running -------------------------------------------------------------------------------------
    def _call(self, request: WriteRequest):
        return self.client.send(request)

    def _finish(self, request: WriteRequest, response) -> dict:
        if request.result_id:  # the response names the object: read it (conversations answer a message)
            response = self._get((response or {}).get(request.result_id))
        return self._shaper(response or {}, request.inject)

    def _run(self, jobs, first: int, verb: str, written_id=None) -> List[dict]:
        written_id = written_id or (lambda shaped: self._describe(shaped.get(ROWID_COLUMN), shaped))
        results: List[Any] = [None] * len(jobs)
        failures: Dict[int, IntercomError] = {}
        stop = threading.Event()  # after a failure, rows not yet started are not sent
        width = min(max(1, self.client.concurrency), len(jobs))
        interrupt = None
        if width == 1:
            outcomes = []
            for job in jobs:
                try:
                    outcomes.append(self._outcome(job, stop))
                except Interrupted as error:
                    interrupt = error
                    outcomes.append((None, error))
                    break
        else:
            pool = worker_pool(width, "intercom_fdw_write")
            futures = [pool.submit(self._outcome, job, stop) for job in jobs]
            try:
                for future in futures:
                    self._interrupts.result(future)
            except Interrupted as error:
                interrupt = error  # the workers see it too: their waits and requests end at once
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            outcomes = [_settled(future) for future in futures]
        for i, (result, error) in enumerate(outcomes):
            if isinstance(error, Interrupted):
                interrupt = interrupt or error
                if error.in_flight:
                    self.unknown.append(first + i)
            elif interrupt is not None and error is not None:
                pass  # the statement is stopped anyway; rows that failed wrote nothing
            elif error is not None:
                failures[first + i] = error
            elif isinstance(result, _Existing):
                results[i] = result.row
                self._count_existing(result, written_id, first + i)
            elif result is not _SKIPPED:
                results[i] = result
                self._count_written(written_id(result), first + i)
        if interrupt is not None:
            raise interrupt  # stopped_notices() tells, at the rollback
        if failures:
            row = min(failures)
            error = failures[row]
            others = [f"row {n}: {e.message}" for n, e in sorted(failures.items()) if n != row]
            # rows of this call that the failure stopped before they were sent (a batch is sent
            # `concurrency` rows at a time: rows after the failed one may be written, these were not)
            skipped = [first + i for i, (result, _) in enumerate(outcomes) if result is _SKIPPED]
            last = first + len(jobs) - 1
            not_sent = (f"not sent: rows {row_ranges(skipped)}, nor any row after row {last}" if skipped
                        else f"not sent: any row after row {last}")
            detail = "; ".join(filter(None, [error.detail] + others[:10] + [not_sent]))
            message = error.message if isinstance(error, InvalidValueError) else \
                f"{verb} on {self.table.label}, row {row}: {error.message}"
            hint = error.hint
            # A 5xx or a lost answer does not tell whether Intercom carried the write out (the client
            # does not resend a create that could make a second object): say so, or a re-run may
            # write the row twice (a conversation: a second message to the customer).
            unsure = [n for n, e in failures.items() if may_have_reached_intercom(e)]
            if row in unsure:
                message += f" (row {row} may have reached Intercom: whether it was written is unknown)"
                hint = (f"look in Intercom for row {row} (and any other row the NOTICE lists) before running it "
                        f"again: it may have been written, though no usable answer came back")
            raise self._failed(message, error, hint, detail or None, unsure)
        return results

    def _count_written(self, object_id: str, row: int) -> None:
        self.written_count += 1
        if len(self.written) < LISTED_IDS:
            self.written.append(object_id)
            self.written_rows.append(row)

    def _count_existing(self, existing: "_Existing", written_id, row: int) -> None:
        self.existing_count += 1
        self.existing_on_resend += existing.resent
        if len(self.existing) < LISTED_IDS:
            self.existing.append(existing.id)
        if self.on_conflict == "update":  # an update reached Intercom: it stays whatever follows
            self._count_written(written_id(existing.row), row)

    @staticmethod
    def _outcome(job, stop: threading.Event):
        if stop.is_set():
            return _SKIPPED, None
        try:
            return job(), None
        except IntercomError as error:
            stop.set()
            return None, error

    def stopped_notices(self) -> List[Tuple[str, str]]:
        """What a statement stopped part-way (interrupted, or failed between our calls) had written:
        the ids, the rows whose request was in flight (outcome unknown), and the rows that existed."""
        unknown = None
        if self.unknown:
            rows = sorted(self.unknown)
            unknown = (f"{len(rows)} request(s) were in flight (or sent without a usable answer) when the statement "
                       f"was stopped: whether they reached Intercom is unknown", "rows: " + ", ".join(map(str, rows)))
        return [n for n in (_written_notice(self.written, self.written_count, self.written_rows), unknown,
                            self.existing_notice()) if n]

    def _failed(self, message, cause, hint, detail=None, unsure=()) -> WriteFailed:
        self.reported = True
        return WriteFailed(message, hint=hint, detail=detail if detail is not None else getattr(cause, "detail", None),
                           written=self.written, written_count=self.written_count, cause=cause,
                           existing_notice=self.existing_notice(), unsure=unsure, written_rows=self.written_rows)

    def _describe(self, rowid, row: Mapping) -> str:
        keys = [str(row.get(k)) for k in self.table.path_keys("delete") or self.table.path_keys("insert")]
        return "/".join(keys + [str(rowid)])


_SKIPPED = object()


def _settled(future):
    """A finished job's (result, error): an interrupted job gives its Interrupted, a job never started is skipped."""
    if future.cancelled():
        return _SKIPPED, None
    error = future.exception()
    return (None, error) if error is not None else future.result()


class _ResentConflict:
    """A resent create answered with the create conflict: the object exists (maybe the first attempt's)."""

    def __init__(self, object_id: str):
        self.id = object_id


class _Existing:
    """A created row whose object already existed: its id, the row to give back, and whether a resend found it."""

    def __init__(self, object_id: str, row: dict, resent: bool):
        self.id, self.row, self.resent = object_id, row, resent


class ScanMemory:
    """The rows a scan of this table handed to PostgreSQL, by rowid, for the UPDATE or DELETE that
    follows: multicorn passes update()/delete() only the rowid value, while an UPDATE must know
    the old values (to send only what changed) and a child table's DELETE its parent key.

    PostgreSQL's ModifyTable pulls one row from the scan and then writes it, so while the scan
    runs the row being written is the last one scanned. When a plan reads the whole scan first
    (a sort, a hash join), the rowid must identify one remembered row: for a child table, rows
    of several parents sharing the rowid are ambiguous and None is returned.
    """

    def __init__(self, keys: Iterable[str] = (), limit: int = 10000):
        self.keys = tuple(keys)
        self.limit = limit
        self._rows: "collections.OrderedDict[str, list]" = collections.OrderedDict()
        self._last: Optional[dict] = None
        self._scanning = False

    def watch(self, rows: Iterable[dict]):
        """Passes the rows through, remembering them."""
        self._rows.clear()
        self._scanning = True
        try:
            for row in rows:
                self._remember(row)
                yield row
        finally:
            self._scanning = False

    def _remember(self, row: dict) -> None:
        self._last = row
        rowid = str(row.get(ROWID_COLUMN))
        same = self._rows.get(rowid)
        if same is None:
            self._rows[rowid] = [row]
            if len(self._rows) > self.limit:
                self._rows.popitem(last=False)
        elif self.keys:
            same.append(row)
        else:
            same[0] = row

    def row(self, rowid) -> Optional[dict]:
        rowid = str(rowid)
        if self._scanning and self._last is not None and str(self._last.get(ROWID_COLUMN)) == rowid:
            return self._last
        candidates = self._rows.get(rowid) or []
        distinct = {tuple(str(r.get(k)) for k in self.keys) for r in candidates}
        return candidates[-1] if len(distinct) == 1 else None

    def forget(self) -> None:
        self._rows.clear()
        self._last = None
