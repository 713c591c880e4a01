"""`intercom-fdw demo`: the README's main command.

Starts the emulator with seeded data (or uses a real workspace when given a token), a throwaway
PostgreSQL 15 with the Multicorn runtime, creates the server, the user mapping and the schema with
IMPORT FOREIGN SCHEMA, then tours the tables: for each step it prints the SQL, the API plan that
EXPLAIN shows, the rows, and (against the emulator) how many API calls the step made.
A normal end, an error, Ctrl-C (SIGINT), `kill` (SIGTERM) and a closed terminal (SIGHUP) all stop
the cluster and the emulator and remove the cluster's directory.
"""
from __future__ import annotations

import json
import signal
import sys
import urllib.request
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import psycopg
from psycopg import sql

from intercom_fdw.tools.throwaway_pg import PgCluster, cleaned_up_on_signals

SERVER = "intercom"
SCHEMA = "intercom"


@dataclass(frozen=True)
class TourStep:
    title: str
    statements: Sequence[str]  # the last one's rows are shown; EXPLAIN runs on it when `explain`
    explain: bool = True
    copy: bool = False  # the last statement is a COPY ... TO STDOUT


def tour(ticket_table: str) -> List[TourStep]:
    return [
        TourStep("A join with a local table: one API call per local row (a parameterized nested loop)", [
            "CREATE TABLE IF NOT EXISTS my_accounts AS "
            "SELECT external_id AS user_id, 'from our CRM' AS note FROM intercom.contacts "
            "WHERE external_id IS NOT NULL LIMIT 3",
            "ANALYZE my_accounts",
            "SELECT a.user_id, c.name, c.email, c.plan_tier FROM my_accounts a "
            "JOIN intercom.contacts c ON c.external_id = a.user_id",
        ]),
        TourStep("A custom field filter, pushed into Intercom's contact search", [
            "SELECT name, email, plan_tier, seats, is_vip FROM intercom.contacts "
            "WHERE plan_tier = 'enterprise' AND seats > 100 ORDER BY seats DESC LIMIT 5",
        ]),
        TourStep(f"A ticket-type table ({ticket_table}): a ticket search on its ticket_type_id", [
            f"SELECT id, title, ticket_state_category, created_at, ticket_attributes "
            f"FROM intercom.{ticket_table} LIMIT 3",
        ]),
        TourStep("A materialized view over conversations, and its refresh", [
            "CREATE MATERIALIZED VIEW IF NOT EXISTS conversation_states AS "
            "SELECT state, count(*) AS conversations FROM intercom.conversations GROUP BY state",
            "REFRESH MATERIALIZED VIEW conversation_states",
            "SELECT * FROM conversation_states ORDER BY conversations DESC",
        ], explain=False),
        TourStep("An export with COPY", [
            "COPY (SELECT id, name, company_id, user_count FROM intercom.companies ORDER BY name LIMIT 5) "
            "TO STDOUT WITH CSV HEADER",
        ], explain=False, copy=True),
    ]


def shown_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    return str(value)[:60]


def format_rows(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    shown = [[shown_value(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    line = lambda values: " | ".join(v.ljust(w) for v, w in zip(values, widths))  # noqa: E731
    out = [line(columns), "-+-".join("-" * w for w in widths)] + [line(r) for r in shown]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


class CallCounter:
    """Reads the emulator's request counter; a no-op against a real workspace."""

    def __init__(self, emulator_url: Optional[str]):
        self.url = emulator_url

    def total(self) -> Optional[int]:
        if not self.url:
            return None
        with urllib.request.urlopen(f"{self.url}/__emulator/counters", timeout=10) as response:
            return json.load(response)["total"]


def run_step(conn: psycopg.Connection, step: TourStep, calls: CallCounter, say: Callable[[str], None]) -> None:
    say(f"\n=== {step.title}")
    before = calls.total()
    *setup, last = step.statements
    for statement in setup:
        say(f"{statement};")
        conn.execute(statement)
    say(f"{last};")
    if step.explain:
        plan = [r[0] for r in conn.execute(f"EXPLAIN {last}").fetchall()]
        say("  EXPLAIN:\n" + "\n".join(f"    {line}" for line in plan))
    if step.copy:
        with conn.cursor().copy(last) as copy:
            say(b"".join(bytes(chunk) for chunk in copy).decode().rstrip())
    else:
        cursor = conn.execute(last)
        say(format_rows([d.name for d in cursor.description], cursor.fetchall()))
    after = calls.total()
    if before is not None:
        say(f"  API calls for this step (EXPLAIN included: none, it plans without calling): {after - before}")


def set_up_schema(conn: psycopg.Connection, api_url: Optional[str], region: Optional[str], token: str) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS multicorn")
    server_options = [("wrapper", "intercom_fdw.IntercomFdw")]
    server_options.append(("api_url", api_url) if api_url else ("region", region or "us"))
    conn.execute(sql.SQL("CREATE SERVER {} FOREIGN DATA WRAPPER multicorn OPTIONS ({})").format(
        sql.Identifier(SERVER),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in server_options)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER {} OPTIONS (access_token {})").format(
        sql.Identifier(SERVER), sql.Literal(token)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    conn.execute(sql.SQL("IMPORT FOREIGN SCHEMA intercom FROM SERVER {} INTO {}").format(
        sql.Identifier(SERVER), sql.Identifier(SCHEMA)))


def first_ticket_type_table(conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT foreign_table_name FROM information_schema.foreign_tables "
        "WHERE foreign_table_schema = %s AND foreign_table_name LIKE '%%\\_tickets' "
        "AND foreign_table_name <> 'tickets' ORDER BY 1 LIMIT 1", (SCHEMA,)).fetchone()
    return row[0] if row else "tickets"


def run_demo(token: Optional[str] = None, region: Optional[str] = None, api_url: Optional[str] = None,
             contacts: int = 500, seed: int = 42, wait: Optional[bool] = None,
             say: Callable[[str], None] = print) -> int:
    with cleaned_up_on_signals() as cleanups:
        emulator = None
        if token is None:
            from intercom_fdw.emulator import EmulatorConfig, start_in_thread

            emulator = start_in_thread(EmulatorConfig(seed=seed, token="demo-token", contacts=contacts), port=0)
            cleanups.callback(emulator.stop)
            api_url, token = emulator.url, emulator.token
            say(f"Intercom emulator: {api_url} (seed {seed}, {contacts} contacts)")
        cluster = PgCluster()  # its directory exists from here on: stop() removes it, started or not
        cleanups.callback(cluster.stop)
        cluster.start()
        cluster.create_database("intercom_demo", extensions=("multicorn",))
        with cluster.connect("intercom_demo") as conn:
            set_up_schema(conn, api_url, region, token)
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = %s",
                (SCHEMA,)).fetchone()[0]
            say(f"IMPORT FOREIGN SCHEMA intercom FROM SERVER {SERVER} INTO {SCHEMA}: {tables} foreign tables")
            calls = CallCounter(emulator.url if emulator else None)
            for step in tour(first_ticket_type_table(conn)):
                run_step(conn, step, calls, say)
        # Only a cluster that stays up can be connected to: without a terminal (or with wait=False)
        # the demo stops it on return, so it says that instead of a psql command that would fail.
        if wait if wait is not None else sys.stdin.isatty():
            say(f"\nConnect with: psql '{cluster.dsn('intercom_demo')}'   (then: SET search_path = {SCHEMA}, public;)")
            say("The emulator and PostgreSQL keep running until you press Ctrl-C.")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        else:
            say("\nThe throwaway PostgreSQL and the emulator stop now (not run in a terminal); "
                "run `make demo` in a terminal to keep them running and connect with psql.")
        return 0
