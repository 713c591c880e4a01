"""Shared by the replication tests: a small seeded emulator of their own, a database with the
workspace imported and `CREATE EXTENSION intercom_fdw`, Intercom changed through plain HTTP (never
through intercom_fdw), and the comparison of two replica schemas.

The extension must be the one of this checkout (sql/): run the tests with PG_BIN pointing at a
PostgreSQL where `make -C sql install` put it.
"""
import random
import threading
import time

import psycopg
import pytest
import requests
from psycopg import sql

from intercom_fdw.replication.runner import APPLYING_SETTING
from intercom_fdw.replication.strategies import STRATEGIES

OBJECTS = tuple(s.object for s in STRATEGIES)
BOOKKEEPING = ("_replicated_at", "_deleted_at")


class Intercom:
    """Writes to the emulator over HTTP, as an Intercom user would, and reads its counters."""

    def __init__(self, url, token):
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Intercom-Version": "2.14",
                                     "Accept": "application/json"})

    def send(self, method, path, body=None, **params):
        response = self.session.request(method, self.url + path, json=body, params=params, timeout=30)
        assert response.status_code < 300, (method, path, body, response.status_code, response.text)
        return response.json() if response.content else None

    def calls(self):
        return requests.get(self.url + "/__emulator/counters", timeout=30).json()

    def reset_counters(self):
        requests.post(self.url + "/__emulator/counters/reset", timeout=30).raise_for_status()

    def knobs(self, **knobs):
        requests.patch(self.url + "/__emulator/config", json=knobs, timeout=30).raise_for_status()


def setup_database(conn, url, token, limit_to=()):
    conn.execute(sql.SQL("CREATE SERVER intercom FOREIGN DATA WRAPPER multicorn OPTIONS "
                         "(wrapper 'intercom_fdw.IntercomFdw', api_url {}, max_retries '6')").format(sql.Literal(url)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER intercom OPTIONS (access_token {})").format(
        sql.Literal(token)))
    conn.execute("CREATE SCHEMA intercom")
    conn.execute("IMPORT FOREIGN SCHEMA intercom " + (f"LIMIT TO ({', '.join(limit_to)}) " if limit_to else "")
                 + "FROM SERVER intercom INTO intercom")
    conn.execute("CREATE EXTENSION intercom_fdw CASCADE")
    if not conn.execute("SELECT to_regprocedure('intercom_fdw.replicate(text[], name, text, name, text)')").fetchone()[0]:
        pytest.fail("the installed intercom_fdw extension has no replicate(): install this checkout's sql/ "
                    "into a PostgreSQL copy and set PG_BIN (see README, Replicate)")


def replicate(conn, *, objects=None, schema="intercom_replica", mode="incremental", deletes="mark", server=None):
    notices = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
    try:
        conn.execute("CALL intercom_fdw.replicate(%s, %s, %s, %s, %s)", (objects, schema, mode, server, deletes))
    finally:
        conn._notice_handlers.clear()
    return notices


def state(conn, schema="intercom_replica"):
    rows = conn.execute("SELECT * FROM intercom_fdw.replication_state WHERE target_schema = %s", (schema,))
    names = [c.name for c in rows.description]
    return {r[0]: dict(zip(names, r)) for r in rows.fetchall()}


def applying(conn) -> str:
    """The session's APPLYING_SETTING: sync's capture triggers skip the session's writes while it is on."""
    return conn.execute("SELECT coalesce(current_setting(%s, true), '')", (APPLYING_SETTING,)).fetchone()[0]


def canceled_while_blocked(pg, db, call, waiting_for="Lock"):
    """Runs `call(conn)` in a session of its own, cancels it once it waits for a lock (or another
    `waiting_for`, a wait_event_type of pg_stat_activity: 'Timeout' for a pg_sleep), and returns the
    error's diag, having checked that the run left the session as it found it: APPLYING_SETTING off
    (the session's own edits of a synced table are captured again) and no advisory lock held."""
    conn = psycopg.connect(pg.dsn(db), autocommit=True)
    try:
        failed = []

        def run():
            try:
                call(conn)
            except psycopg.Error as error:
                failed.append(error)
        thread = threading.Thread(target=run)
        thread.start()
        with psycopg.connect(pg.dsn(db), autocommit=True) as admin:
            deadline = time.monotonic() + 30
            while not admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s "
                                    "AND wait_event_type = %s", (conn.info.backend_pid, waiting_for)).fetchone()[0]:
                assert thread.is_alive() and time.monotonic() < deadline, failed
                time.sleep(0.02)
            admin.execute("SELECT pg_cancel_backend(%s)", (conn.info.backend_pid,))
        thread.join(30)
        assert failed, "not canceled"
        assert applying(conn) == ""
        assert not conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND pid = pg_backend_pid()").fetchone()[0]
        return failed[0].diag
    finally:
        conn.close()


def columns(conn, schema, table):
    return [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", (f'"{schema}"."{table}"',)).fetchall() if r[0] not in BOOKKEEPING]


def ticket_type_tables(conn, schema="intercom"):
    """The ticket-type foreign tables IMPORT made (one per ticket type): replicated with tickets."""
    return sorted(r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid "
        "WHERE c.relnamespace = %s::regnamespace AND EXISTS (SELECT 1 FROM unnest(ft.ftoptions) o "
        "WHERE o LIKE 'ticket_type_id=%%')", (schema,)).fetchall())


def differences(conn, replica, fresh, objects=None, outside=None):
    """{object: (rows only in the replica's live rows, rows only in the fresh one)}, for tables that differ.

    `objects` None: every table of the fresh schema (the 16 objects, conversation parts and the
    ticket-type tables).

    `outside` {object: (column, values)} leaves out, on both sides, the rows whose column holds one of
    the values (what an incremental run is documented not to see).
    """
    found = {}
    if objects is None:
        objects = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1",
                                              (fresh,)).fetchall()]
        assert set(OBJECTS) <= set(objects), objects
    for table in objects:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns(conn, fresh, table))
        column, values = (outside or {}).get(table, ("id", []))
        keep = sql.SQL("NOT ({} = ANY({}))").format(sql.Identifier(column), sql.Literal(list(values)))
        live = sql.SQL("SELECT {} FROM {}.{} WHERE _deleted_at IS NULL AND {}").format(
            cols, sql.Identifier(replica), sql.Identifier(table), keep)
        other = sql.SQL("SELECT {} FROM {}.{} WHERE {}").format(cols, sql.Identifier(fresh), sql.Identifier(table),
                                                                keep)
        only_live = conn.execute(sql.SQL("SELECT to_jsonb(d) - 'attrs' FROM ({} EXCEPT ALL {}) d").format(
            live, other)).fetchall()
        only_fresh = conn.execute(sql.SQL("SELECT to_jsonb(d) - 'attrs' FROM ({} EXCEPT ALL {}) d").format(
            other, live)).fetchall()
        if only_live or only_fresh:
            found[table] = (only_live[:3], only_fresh[:3], len(only_live), len(only_fresh))
    return found


def unseen_by_incremental(changes, ticket_type_tables=()):
    """What an incremental run cannot see (README, Replicate: the "incremental misses" column), as
    `differences(outside=...)`: contacts whose notes, tags or company links changed (Intercom moves no
    `updated_at` for these and offers no change feed; a deleted company unlinks its contacts),
    archived and deleted contacts with their children, deleted conversations with their parts, and
    deleted tickets."""
    contacts = sorted(set(changes["noted"]) | set(changes["tagged"]) | set(changes["linked"])
                      | {changes["archived"], changes["deleted"]})
    conversations = sorted(changes["deleted_conversations"])
    by_contact = {t: ("contact_id", contacts) for t in ("notes", "contact_companies", "contact_segments", "events")}
    return {"contacts": ("id", contacts), "company_contacts": ("id", contacts), **by_contact,
            "conversations": ("id", conversations), "conversation_parts": ("conversation_id", conversations),
            "tickets": ("id", changes["deleted_tickets"]),
            **{t: ("id", changes["deleted_tickets"]) for t in ticket_type_tables}}


def random_changes(api: Intercom, rng: random.Random, deletes: bool):
    """Creates, updates (and with `deletes`, archives and deletes) the objects the replica follows."""
    contacts = api.send("GET", "/contacts", per_page=150)["data"]
    admin = api.send("GET", "/admins")["admins"][0]["id"]
    stamp = rng.randrange(10**9)
    made = [api.send("POST", "/contacts", {"email": f"new{stamp}-{i}@example.com", "name": f"New {i}"})
            for i in range(3)]
    for contact in rng.sample(contacts, 5):
        api.send("PUT", f"/contacts/{contact['id']}", {"name": f"Renamed {rng.randrange(10**6)}"})
    companies = api.send("GET", "/companies", per_page=60)["data"]
    for company in rng.sample(companies, 2):
        api.send("PUT", f"/companies/{company['id']}", {"industry": f"Industry {rng.randrange(1000)}"})
    conversation = api.send("POST", "/conversations", {"from": {"type": "user", "id": made[0]["id"]},
                                                      "body": "Hello from the test"})
    conversations = api.send("GET", "/conversations", per_page=150)["conversations"]
    for c in rng.sample(conversations, 3):
        api.send("POST", f"/conversations/{c['id']}/reply",
                 {"message_type": "comment", "type": "admin", "admin_id": admin, "body": "A reply"})
    ticket_type = api.send("GET", "/ticket_types")["data"][0]["id"]
    new_ticket = api.send("POST", "/tickets", {"ticket_type_id": ticket_type, "contacts": [{"id": made[1]["id"]}],
                                               "ticket_attributes": {"_default_title_": f"New ticket {stamp}"}})
    tickets = api.send("POST", "/tickets/search", {"query": {"field": "created_at", "operator": ">",
                                                            "value": 0}, "pagination": {"per_page": 50}})["tickets"]
    for t in rng.sample(tickets, 2):
        api.send("PUT", f"/tickets/{t['id']}", {"ticket_attributes": {"_default_title_": f"T {rng.randrange(1000)}"}})
    articles = api.send("GET", "/articles", per_page=150)["data"]
    api.send("PUT", f"/articles/{rng.choice(articles)['id']}", {"title": f"Retitled {rng.randrange(1000)}"})
    api.send("POST", "/articles", {"title": f"Article {stamp}", "author_id": int(admin)})
    collections = api.send("GET", "/help_center/collections", per_page=150)["data"]
    api.send("PUT", f"/help_center/collections/{rng.choice(collections)['id']}", {"name": f"C {rng.randrange(1000)}"})
    api.send("POST", "/help_center/collections", {"name": f"Collection {stamp}"})
    if not deletes:
        return
    noted = [c["id"] for c in rng.sample(contacts, rng.randrange(1, 4))]
    for contact_id in noted:
        api.send("POST", f"/contacts/{contact_id}/notes", {"body": f"A note {rng.randrange(1000)}", "admin_id": admin})
    tag = api.send("POST", "/tags", {"name": f"tag-{stamp}"})
    tagged = [c["id"] for c in rng.sample(contacts, rng.randrange(1, 4))]
    for contact_id in tagged:
        api.send("POST", f"/contacts/{contact_id}/tags", {"id": tag["id"]})
    api.send("POST", "/tags", {"name": f"tag-{stamp}", "companies": [{"id": rng.choice(companies)["id"]}]})
    linked = [made[2]["id"], rng.choice(contacts)["id"]]
    for contact_id in linked:
        api.send("POST", f"/contacts/{contact_id}/companies", {"id": rng.choice(companies)["id"]})
    # untag and detach what an earlier round (or the seed) attached
    for contact in rng.sample([c for c in contacts if c["tags"]["data"]], 1):
        api.send("DELETE", f"/contacts/{contact['id']}/tags/{contact['tags']['data'][0]['id']}")
        tagged.append(contact["id"])
    for contact in rng.sample([c for c in contacts if c["companies"]["data"]], 1):
        api.send("DELETE", f"/contacts/{contact['id']}/companies/{contact['companies']['data'][0]['id']}")
        linked.append(contact["id"])
    # a company goes, and with it its links to its contacts
    company = rng.choice(companies)
    members = [c["id"] for c in api.send("GET", f"/companies/{company['id']}/contacts", per_page=150)["data"]]
    api.send("DELETE", f"/companies/{company['id']}")
    linked += members
    ticket = rng.choice([t for t in tickets if t["id"] != new_ticket["id"]])["id"]  # replicated by an earlier run
    api.send("DELETE", f"/tickets/{ticket}")
    spared = {m["id"] for m in made} | set(noted) | set(tagged) | set(linked)
    victims = rng.sample([c for c in contacts if c["id"] not in spared], 2)
    api.send("POST", f"/contacts/{victims[0]['id']}/archive")
    api.send("DELETE", f"/contacts/{victims[1]['id']}")
    api.send("DELETE", f"/articles/{articles[-1]['id']}")
    api.send("DELETE", f"/help_center/collections/{collections[-1]['id']}")
    api.send("DELETE", f"/conversations/{conversation['conversation_id']}")  # created and gone between runs
    old = rng.choice([c for c in conversations if c["id"] != conversation["conversation_id"]])["id"]  # replicated
    api.send("DELETE", f"/conversations/{old}")
    return {"archived": victims[0]["id"], "deleted": victims[1]["id"], "noted": noted, "tagged": tagged,
            "linked": linked, "deleted_conversations": [conversation["conversation_id"], old],
            "deleted_tickets": [ticket]}


@pytest.fixture(scope="module")
def replica_db(pg, db, emulator):
    with pg.connect(db) as conn:
        setup_database(conn, emulator.url, emulator.token)
    conn = pg.connect(db)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="module")
def intercom(emulator):
    return Intercom(emulator.url, emulator.token)


def open_connection(pg, db):
    return psycopg.connect(pg.dsn(db), autocommit=True)


def ctrl_c_during(argv, ready, env=None, deadline_s=60, signum=None):
    """Runs the command `argv` (an `intercom-fdw replicate` or `sync`), presses Ctrl-C (SIGINT; or sends
    `signum`) once `ready()` is true, and returns (the finished process's stdout, stderr and exit
    status, seconds from the signal to its exit)."""
    import os
    import signal
    import subprocess
    import time

    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + deadline_s
        while not ready():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never got under way"
            time.sleep(0.05)
        pressed = time.monotonic()
        process.send_signal(signum or signal.SIGINT)
        out, err = process.communicate(timeout=30)
        return out, err, process.returncode, time.monotonic() - pressed
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def killed_while_calling(conn, intercom, argv, call, env=None, latency_ms=5000):
    """Runs the CLI `argv` with each Intercom answer `latency_ms` late, SIGKILLs it once its CALL
    (`call`: how its query starts) has a request in flight, and asserts that the CALL's backend ends
    within 3 s and Intercom is called no more (`conn`: a session of the test's own)."""
    import os
    import subprocess

    before = intercom.calls()["total"]
    intercom.knobs(latency_ms=latency_ms)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        backend = None
        while backend is None or intercom.calls()["total"] == before:  # the CALL has a request in flight
            assert process.poll() is None and time.monotonic() < deadline, "the run never got under way"
            time.sleep(0.05)
            found = conn.execute("SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                                 (call + "%",)).fetchone()
            backend = found and found[0]
        process.kill()
        process.wait(10)
        killed = time.monotonic()
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone()[0]:
            assert time.monotonic() - killed < 3, "the backend of the killed CLI still runs its CALL"
            time.sleep(0.05)
        print(f"the backend ended {time.monotonic() - killed:.2f} s after the kill")
        calls = intercom.calls()["total"]
        time.sleep(2)
        assert intercom.calls()["total"] == calls  # nothing calls Intercom any more
    finally:
        intercom.knobs(latency_ms=0)
        if process.poll() is None:
            process.kill()
            process.wait(10)
