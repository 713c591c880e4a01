"""`intercom-fdw replicate`: CALL intercom_fdw.replicate() from the command line, with a progress bar per
object (fed by the procedure's NOTICEs, which PostgreSQL sends as each window commits) and a summary
table read from intercom_fdw.replication_state. Exit status 1 when an object failed."""
from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
from typing import Dict, List, Optional

import psycopg
import psycopg.conninfo

from intercom_fdw.replication.runner import NOTICE_PREFIX
from intercom_fdw.replication.strategies import STRATEGIES

# "<object>: window <n>: read=.. inserted=.. updated=.. deleted=.. calls=.. remaining=.."
# "<object>: succeeded|failed: read=.. ..."
_NOTICE = re.compile(r"^(?P<object>\w+): (?P<what>window \d+|succeeded|failed): (?P<fields>.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)")

SUMMARY_COLUMNS = ("object", "status", "rows_read", "rows_inserted", "rows_updated", "rows_marked_deleted",
                   "api_calls", "windows", "seconds", "cursor", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("objects", nargs="*", metavar="OBJECT",
                        help="objects to replicate (default all: " + ", ".join(s.object for s in STRATEGIES) + ")")
    parser.add_argument("--dsn", required=True, help="libpq connection string of the database")
    parser.add_argument("--server", help="the intercom_fdw foreign server (default: the only one)")
    parser.add_argument("--schema", default="intercom_replica", help="target schema (default intercom_replica)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_const", dest="mode", const="full",
                      help="re-read everything (and mark what is gone)")
    mode.add_argument("--reconcile", action="store_const", dest="mode", const="reconcile",
                      help="list what Intercom still has and mark (or --delete) the rest")
    parser.add_argument("--delete", action="store_true", help="delete rows Intercom no longer has instead of "
                                                              "setting _deleted_at")
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="progress bars on stderr (auto: when it is a terminal)")


class Progress:
    """One tqdm bar per object, moved by the procedure's notices."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars: Dict[str, object] = {}

    def notice(self, diag) -> None:
        message = diag.message_primary or ""
        if not message.startswith(NOTICE_PREFIX):
            return
        match = _NOTICE.match(message[len(NOTICE_PREFIX):])
        if not match or not self.enabled:
            return
        from tqdm import tqdm

        obj, fields = match["object"], dict(_FIELD.findall(match["fields"]))
        bar = self.bars.get(obj)
        if bar is None:
            bar = self.bars[obj] = tqdm(desc=f"{obj:<18}", unit=" rows", position=len(self.bars), leave=True,
                                        dynamic_ncols=True)
        bar.n = int(fields.get("read", 0))
        postfix = {"calls": fields.get("calls"), "windows": match["what"].split()[-1]
                   if match["what"].startswith("window") else fields.get("windows")}
        if fields.get("remaining") not in (None, "None"):
            postfix["rate limit left"] = fields["remaining"]
        if match["what"] in ("succeeded", "failed"):
            postfix["status"] = match["what"]
        bar.set_postfix(postfix, refresh=False)
        bar.refresh()
        if match["what"] in ("succeeded", "failed"):
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def summary(conn, schema: str, objects: List[str], since: Optional[str] = None) -> List[dict]:
    """The state rows of `objects`, and of the per-table parts (ticket-type tables) run since `since`."""
    rows = conn.execute(
        "SELECT object, status, rows_read, rows_inserted, rows_updated, rows_marked_deleted, api_calls, windows, "
        "round(extract(epoch FROM run_ended_at - run_started_at)::numeric, 1) AS seconds, cursor::text AS cursor, "
        "split_part(error, E'\\n', 1) AS error FROM intercom_fdw.replication_state "
        "WHERE target_schema = %s AND (object = ANY(%s) OR run_started_at >= %s::timestamptz)",
        (schema, objects, since or "infinity")).fetchall()
    order = {s.object: i for i, s in enumerate(STRATEGIES)}
    parts = {s.object: i + 0.5 for i, s in enumerate(STRATEGIES) if s.per_table_option}
    after = min(parts.values(), default=99)  # the parts come right after their object
    return sorted((dict(zip(SUMMARY_COLUMNS, r)) for r in rows),
                  key=lambda r: (order.get(r["object"], after), r["object"]))


def format_table(rows: List[dict], columns=SUMMARY_COLUMNS) -> str:
    cells = [tuple(columns)] + [tuple("" if r[c] is None else str(r[c]) for c in columns) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Outcome:
    """How a CALL ended: `failure` (its ERROR's message, detail and hint), or `stopped_by` a signal
    (Ctrl-C, kill, a closed terminal), whose exit status (128 + the signal, as a shell gives a process
    the signal ended) is `status`."""

    def __init__(self):
        self.failure = self.detail = self.hint = None
        self.stopped_by: Optional[int] = None

    @property
    def status(self) -> Optional[int]:
        return None if self.stopped_by is None else 128 + self.stopped_by


_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class _Stopped(KeyboardInterrupt):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _canceling_on_signals(conn):
    """Ctrl-C (SIGINT), kill (SIGTERM) or a closed terminal (SIGHUP) during the CALL cancels it in the
    server; the CALL then ends with the procedure's 57014 error, the stop recorded in its state table.
    Python's default ended the process at once on SIGTERM or SIGHUP, and the CALL went on in its backend,
    calling Intercom, until its next NOTICE found the client gone (up to a window of 30,000 rows). The
    handler only asks the server to cancel, and raises nothing: a KeyboardInterrupt raised while the
    progress NOTICE handler runs is swallowed by psycopg's notice callback (a traceback printed, the
    CALL run on to its end). A second signal stops the wait itself (KeyboardInterrupt, which psycopg
    answers by canceling again). Yields the signals received."""
    received: List[int] = []

    def stop(signum, frame):
        received.append(signum)
        if len(received) > 1:
            raise _Stopped(signum)
        try:
            conn.cancel_safe(timeout=5)
        except psycopg.Error:  # not sent: raised here it could land in the notice callback; a second signal stops the wait
            pass

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def call(conn, query: str, params, canceled_hint: str) -> Outcome:
    """Runs the CALL. Ctrl-C (SIGINT), SIGTERM or SIGHUP is not an error of ours: the CALL was canceled
    in the server and the procedure has recorded the stop in its state table, which the summary shows;
    `canceled_hint` says what the next run does with it. (A CALL that ended before the cancel reached
    it stopped nothing, and is reported as it ended.)"""
    outcome = Outcome()
    with _canceling_on_signals(conn) as received:
        try:
            conn.execute(query, params)
        except psycopg.Error as error:
            if received and error.diag.sqlstate == "57014":
                outcome.stopped_by = received[0]
            else:
                outcome.failure = error.diag.message_primary or str(error)
                outcome.detail, outcome.hint = error.diag.message_detail, error.diag.message_hint
        except KeyboardInterrupt as stop:
            outcome.stopped_by = getattr(stop, "signum", signal.SIGINT)
    if outcome.stopped_by is not None:
        outcome.failure, outcome.hint = f"canceled ({_NAMES[outcome.stopped_by]})", canceled_hint
    return outcome


# TCP keepalives for a CLI's session, both ways (a DSN's own libpq keepalive settings are kept, and a
# server's shorter tcp_keepalives_* too): a network gone without a word is seen in about a minute, not
# after the OS's two hours. The backend then ends its CALL (client_connection_check_interval sees the
# dead socket), and the CLI's wait for the CALL ends with an error instead of hanging.
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 30, 10, 3
_CLIENT_KEEPALIVES = {"keepalives": "1", "keepalives_idle": str(KEEPALIVE_IDLE_S),
                      "keepalives_interval": str(KEEPALIVE_INTERVAL_S), "keepalives_count": str(KEEPALIVE_COUNT)}
_SERVER_KEEPALIVES = {"tcp_keepalives_idle": KEEPALIVE_IDLE_S, "tcp_keepalives_interval": KEEPALIVE_INTERVAL_S,
                      "tcp_keepalives_count": KEEPALIVE_COUNT}


def connect(dsn: str):
    """The session a CLI CALLs its procedure in: autocommit (the procedures commit as they go), and
    client_connection_check_interval set (PostgreSQL 14+). Killed (SIGKILL) or cut off by the network,
    the CLI cannot cancel its CALL, and PostgreSQL notices a lost client only when it next writes to
    it: the run went on calling Intercom until the second NOTICE after it (a window of up to 30,000
    rows). With the setting, the backend checks the socket every second, the FDW's waits see that
    check (pg_interrupts), and the backend ends within about a second of the socket's close; a network
    gone without a word is seen once TCP gives the connection up, which the keepalives above make
    about a minute (over TCP; a Unix socket has none)."""
    given = psycopg.conninfo.conninfo_to_dict(dsn)
    conn = psycopg.connect(dsn, autocommit=True, **{k: v for k, v in _CLIENT_KEEPALIVES.items() if k not in given})
    conn.execute("SELECT set_config('client_connection_check_interval', '1s', false) "
                 "WHERE current_setting('server_version_num')::int >= 140000")
    for name, value in _SERVER_KEEPALIVES.items():  # (0: the OS's default)
        conn.execute(f"SELECT set_config('{name}', '{value}', false) "
                     f"WHERE current_setting('{name}')::int NOT BETWEEN 1 AND {value}")
    return conn


def reading(conn, dsn: str):
    """A connection to read the summary on: `conn`, or a new one when psycopg closed it (a second
    Ctrl-C while it waited for the cancel, or a CALL that did not end after it)."""
    return conn if not conn.closed else psycopg.connect(dsn, autocommit=True)


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    # none named: NULL, as CALL intercom_fdw.replicate() without them (the objects the server has foreign
    # tables for, a NOTICE naming the others); naming all would fail each one not imported
    objects = args.objects or None
    progress = Progress(enabled=args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty()))
    with connect(args.dsn) as conn:  # (the procedure commits per window)
        conn.add_notice_handler(progress.notice)
        since = conn.execute("SELECT now()::text").fetchone()[0]
        try:
            outcome = call(conn, "CALL intercom_fdw.replicate(%s, %s, %s, %s, %s)",
                           (objects, args.schema, args.mode or "incremental", args.server,
                            "delete" if args.delete else "mark"),
                           "the objects it stopped are canceled in the summary; the next run of the same mode "
                           "resumes them from their last committed window")
        finally:
            progress.close()
        with reading(conn, args.dsn) as summary_conn:
            rows = summary(summary_conn, args.schema, objects or [], since) if summary_conn.execute(
                "SELECT to_regclass('intercom_fdw.replication_state') IS NOT NULL").fetchone()[0] else []
    if rows:
        print(format_table(rows), file=out)
    if outcome.failure:
        print(f"intercom-fdw replicate: {outcome.failure}" + (f"\nHINT: {outcome.hint}" if outcome.hint else ""),
              file=sys.stderr)
    if outcome.status is not None:
        return outcome.status
    return 1 if outcome.failure or any(r["status"] != "succeeded" for r in rows) else 0
