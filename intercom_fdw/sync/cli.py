"""`intercom-fdw sync`: CALL intercom_fdw.sync() from the command line, with a progress bar per object for
the push (fed by the procedure's NOTICEs, sent as each change commits) and replication's bars for the
pull, and a summary table read from intercom_fdw.sync_state and replication_state. Exit status 1 when
an object failed or a change was rejected."""
from __future__ import annotations

import argparse
import re
import sys
from typing import List, Optional

from intercom_fdw.replication.cli import Progress, call, connect, format_table, reading
from intercom_fdw.sync.objects import SYNC_OBJECTS
from intercom_fdw.sync.resolve import RULES
from intercom_fdw.sync.runner import NOTICE_PREFIX

# "<object>: pushing <n>/<m>: changes_pushed=.. created=.. ..." and "<object>: pushed: ..."
_NOTICE = re.compile(r"^(?P<object>\w+): (?:pushing (?P<done>\d+)/(?P<total>\d+)|pushed): (?P<fields>.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)")

SUMMARY_COLUMNS = ("object", "push", "changes_pushed", "created", "linked", "updated", "deleted", "conflicts",
                   "rejected", "held", "push_calls", "pull", "pulled_rows", "pull_calls", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("objects", nargs="*", metavar="OBJECT",
                        help="objects to sync (default all: " + ", ".join(s.object for s in SYNC_OBJECTS) + ")")
    parser.add_argument("--dsn", required=True, help="libpq connection string of the database")
    parser.add_argument("--server", help="the intercom_fdw foreign server (default: the only one)")
    parser.add_argument("--schema", default="intercom_replica", help="schema of the synced tables "
                                                                     "(default intercom_replica)")
    parser.add_argument("--conflict", choices=RULES, default="intercom_wins",
                        help="which side a column changed on both sides keeps (default intercom_wins)")
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="progress bars on stderr (auto: when it is a terminal)")


class SyncProgress(Progress):
    """replication's bars for the pull, and one bar per object for the push (changes sent of those pending)."""

    def notice(self, diag) -> None:
        message = diag.message_primary or ""
        if not message.startswith(NOTICE_PREFIX):
            super().notice(diag)
            return
        match = _NOTICE.match(message[len(NOTICE_PREFIX):])
        if not match or not self.enabled:
            return
        from tqdm import tqdm

        name = f"{match['object']} push"
        bar = self.bars.get(name)
        if bar is None:
            bar = self.bars[name] = tqdm(desc=f"{name:<18}", unit=" changes", position=len(self.bars), leave=True,
                                         dynamic_ncols=True)
        fields = dict(_FIELD.findall(match["fields"]))
        if match["total"]:
            bar.total, bar.n = int(match["total"]), int(match["done"])
        bar.set_postfix({k: fields.get(k) for k in ("conflicts", "rejected", "push_api_calls")}, refresh=False)
        bar.refresh()
        if not match["total"]:
            bar.close()


def summary(conn, schema: str, objects: List[str], since: Optional[str] = None) -> List[dict]:
    """The state rows of `objects`, or (none named) of those whose push started since `since`."""
    rows = conn.execute(
        "SELECT s.object, s.status, s.changes_pushed, s.created, s.linked, s.updated, s.deleted, s.conflicts, "
        "s.rejected, s.held, s.push_api_calls, r.status, r.rows_inserted + r.rows_updated + r.rows_marked_deleted, "
        "r.api_calls, coalesce(split_part(r.error, E'\\n', 1), (SELECT split_part(c.error, E'\\n', 1) FROM "
        "intercom_fdw.sync_changes c WHERE c.object = s.object AND c.target_schema = s.target_schema "
        "AND c.status = 'rejected' ORDER BY c.change_id LIMIT 1)) "
        "FROM intercom_fdw.sync_state s LEFT JOIN intercom_fdw.replication_state r "
        "ON r.object = s.object AND r.target_schema = s.target_schema "
        "WHERE s.target_schema = %s AND (s.object = ANY(%s) OR s.run_started_at >= %s::timestamptz)",
        (schema, objects, since or "infinity")).fetchall()
    order = {s.object: i for i, s in enumerate(SYNC_OBJECTS)}
    return sorted((dict(zip(SUMMARY_COLUMNS, r)) for r in rows), key=lambda r: order.get(r["object"], 99))


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    # none named: NULL, as CALL intercom_fdw.sync() without them (those of the 7 the server has foreign
    # tables for); naming all would fail each one not imported
    objects = args.objects or None
    progress = SyncProgress(enabled=args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty()))
    with connect(args.dsn) as conn:  # (the procedure commits per change)
        conn.add_notice_handler(progress.notice)
        since = conn.execute("SELECT now()::text").fetchone()[0]
        try:
            outcome = call(conn, "CALL intercom_fdw.sync(%s, %s, %s, %s)",
                           (objects, args.schema, args.conflict, args.server),
                           "the objects it stopped are canceled in the summary; the changes not yet done are "
                           "pushed by the next run (those sent when it stopped are checked against Intercom first)")
        finally:
            progress.close()
        with reading(conn, args.dsn) as summary_conn:
            rows = summary(summary_conn, args.schema, objects or [], since) if summary_conn.execute(
                "SELECT to_regclass('intercom_fdw.sync_state') IS NOT NULL").fetchone()[0] else []
    if rows:
        print(format_table(rows, SUMMARY_COLUMNS), file=out)
    if outcome.failure:
        print(f"intercom-fdw sync: {outcome.failure}" + (f"\nDETAIL: {outcome.detail}" if outcome.detail else "")
              + (f"\nHINT: {outcome.hint}" if outcome.hint else ""), file=sys.stderr)
    if outcome.status is not None:
        return outcome.status
    return 1 if outcome.failure or any(r["push"] != "pushed" or r["pull"] != "succeeded" for r in rows) else 0
