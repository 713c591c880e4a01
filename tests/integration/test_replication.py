"""CALL intercom_fdw.replicate() through PostgreSQL against the emulator: incremental runs end equal to a
fresh full run after random changes, no-change runs cost a constant number of calls, a second run at
once refuses, and the state table reports what each run did."""
import random
import threading
import time

import psycopg
import pytest

from intercom_fdw.replication.runner import LOCK_CLASS
from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import (  # noqa: F401  (fixtures)
    OBJECTS, applying, canceled_while_blocked, differences, intercom, random_changes, replica_db, replicate,
    setup_database, state, ticket_type_tables, unseen_by_incremental,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=11, contacts=150, companies=15, conversations=40, tickets=20, articles=10) as server:
        yield server


def test_first_run_creates_every_table_with_keys_and_bookkeeping(replica_db):
    notices = replicate(replica_db)
    report = state(replica_db)
    parts = ticket_type_tables(replica_db)
    assert parts and set(report) == set(OBJECTS) | set(parts)  # one table per ticket type, with tickets
    for part in parts:
        assert report[part]["rows_inserted"] == replica_db.execute(
            f'SELECT count(*) FROM intercom."{part}"').fetchone()[0] > 0, part
    assert {r["status"] for r in report.values()} == {"succeeded"}, {o: r["error"] for o, r in report.items()}
    assert report["contacts"]["rows_inserted"] == replica_db.execute(
        "SELECT count(*) FROM intercom.contacts").fetchone()[0]
    assert all(r["api_calls"] > 0 for o, r in report.items() if o != "events"), report
    key = replica_db.execute(
        "SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'intercom_replica.notes'::regclass AND i.indisprimary").fetchone()[0]
    assert key == ["contact_id", "id"]
    events = replica_db.execute("SELECT count(*) FROM intercom.events WHERE contact_id IN "
                                "(SELECT id FROM intercom.contacts)").fetchone()[0]
    assert events > 0 and report["events"]["rows_inserted"] == events  # events have no id of their own
    types = dict(replica_db.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'intercom_replica' "
        "AND table_name = 'contacts'").fetchall())
    assert types["_replicated_at"] == types["_deleted_at"] == "timestamp with time zone"
    assert types["updated_at"] == "timestamp with time zone" and types["attrs"] == "jsonb"
    foreign = {r[0] for r in replica_db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'intercom' "
        "AND table_name = 'contacts'").fetchall()}
    assert foreign <= set(types), "custom field columns included"
    assert any("contacts: succeeded" in n for n in notices)
    assert not [n for n in notices if "does not exist, skipping" in n]  # a DROP ... IF EXISTS's NOTICE


def test_a_run_without_changes_makes_a_constant_number_of_calls(replica_db, intercom):
    replicate(replica_db)
    intercom.reset_counters()
    notices = replicate(replica_db)
    # every run after the first said 'schema "intercom_replica" already exists, skipping'
    assert not [n for n in notices if "already exists, skipping" in n], notices
    report = state(replica_db)
    calls = {o: r["api_calls"] for o, r in report.items()}
    print("\ncalls per object, no change:", calls)
    assert sum(r["rows_inserted"] + r["rows_updated"] + r["rows_marked_deleted"] for r in report.values()) == 0
    assert intercom.calls()["total"] == sum(calls.values())  # the client's count is the emulator's
    assert calls["contacts"] == calls["conversations"] == calls["tickets"] == 1
    assert all(calls[part] == 1 for part in ticket_type_tables(replica_db))
    for child in ("notes", "contact_companies", "contact_segments", "events", "company_contacts",
                  "company_segments", "conversation_parts"):
        assert calls[child] == 0, child
    # one page of the newest-first list, and the newest row again by id (it is within the overlap)
    assert calls["articles"] <= 2 and calls["collections"] <= 2


def test_incremental_equals_full_after_random_changes(replica_db, intercom):
    """Seeded random changes between runs, over all 16 objects: after each incremental run every
    target table equals a fresh full run, except exactly the rows the README says an incremental
    run cannot see (notes, tags and company links that move no `updated_at`, archived and deleted
    contacts and conversations); a reconcile then makes them equal too."""
    rng = random.Random(5)
    replicate(replica_db)
    # round 1: changes that move updated_at (and deletes of articles and collections): exact at once
    random_changes(intercom, rng, deletes=False)
    replicate(replica_db)
    replicate(replica_db, schema="fresh_1", mode="full")
    assert differences(replica_db, "intercom_replica", "fresh_1") == {}
    for round_ in (2, 3):
        changes = random_changes(intercom, rng, deletes=True)
        replicate(replica_db)
        fresh = f"fresh_{round_}"
        replicate(replica_db, schema=fresh, mode="full")
        unseen = unseen_by_incremental(changes, ticket_type_tables(replica_db))
        # everything else is exact after the incremental run alone, articles' and collections'
        # deletes and companies' tags included
        assert differences(replica_db, "intercom_replica", fresh, outside=unseen) == {}
        gone = replica_db.execute(
            "SELECT (SELECT count(*) FROM intercom_replica.articles WHERE _deleted_at IS NOT NULL), "
            "(SELECT count(*) FROM intercom_replica.collections WHERE _deleted_at IS NOT NULL)").fetchone()
        assert gone == (round_ - 1, round_ - 1)
        # the unseen rows do differ (the test's changes reached Intercom), until a reconcile
        print("\nunseen:", {k: v[2:] for k, v in differences(replica_db, "intercom_replica", fresh).items()})
        assert set(differences(replica_db, "intercom_replica", fresh)) >= {"contacts", "notes", "conversations",
                                                                           "tickets", "contact_companies"}
        replicate(replica_db, mode="reconcile")
        assert differences(replica_db, "intercom_replica", fresh) == {}
        marked = dict(replica_db.execute("SELECT id, _deleted_at IS NOT NULL FROM intercom_replica.contacts "
                                         "WHERE id = ANY(%s)", ([changes["archived"], changes["deleted"]],)).fetchall())
        assert marked == {changes["archived"]: True, changes["deleted"]: True}
    assert state(replica_db)["contacts"]["last_reconciled_at"] is not None


def test_reconcile_can_delete_instead_of_marking(replica_db, intercom):
    replicate(replica_db, objects=["articles"], schema="deleting")
    victim = replica_db.execute("SELECT id FROM deleting.articles ORDER BY id LIMIT 1").fetchone()[0]
    intercom.send("DELETE", f"/articles/{victim}")
    replicate(replica_db, objects=["articles"], schema="deleting", mode="reconcile", deletes="delete")
    assert replica_db.execute("SELECT count(*) FROM deleting.articles WHERE id = %s", (victim,)).fetchone()[0] == 0
    assert state(replica_db, "deleting")["articles"]["rows_marked_deleted"] == 1


def test_a_run_that_ends_leaves_no_resume_point(replica_db):
    # resume_at and resume_key say where an unfinished run goes on: a run that ended kept the last
    # window's (contacts in created_at windows, notes after the last parent of a reconcile), as if
    # it had stopped there.
    replica_db.execute("SET intercom_fdw.replicate_window_rows = 40")
    try:
        for mode in ("full", "reconcile"):
            replicate(replica_db, objects=["contacts", "notes"], schema="resumeless", mode=mode)
            for obj in ("contacts", "notes"):
                row = state(replica_db, "resumeless")[obj]
                assert row["status"] == "succeeded" and row["windows"] > 1, (mode, row)
                assert (row["resume_at"], row["resume_key"]) == (None, None), (mode, row)
    finally:
        replica_db.execute("RESET intercom_fdw.replicate_window_rows")


def test_a_second_run_at_once_refuses(pg, db, replica_db, intercom):
    replicate(replica_db, objects=["conversations"])  # the parent of conversation_parts: replicated first
    intercom.knobs(latency_ms=150)
    try:
        with psycopg.connect(pg.dsn(db), autocommit=True) as first:
            failed = []

            def run():
                try:
                    replicate(first, objects=["conversation_parts"], mode="full")
                except psycopg.Error as error:  # reported below
                    failed.append(error)

            running = threading.Thread(target=run)
            running.start()
            try:
                pid = first.info.backend_pid
                deadline = time.monotonic() + 30
                while not replica_db.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory'",
                                             (pid,)).fetchone()[0]:
                    assert running.is_alive() and time.monotonic() < deadline, failed
                    time.sleep(0.05)
                with pytest.raises(psycopg.errors.Error) as refused:
                    replicate(replica_db, objects=["conversation_parts"])
                # the parent's lock is taken first
                assert (f"conversations is being replicated into intercom_replica by another run (backend {pid})"
                        in refused.value.diag.message_primary)
                assert f"pg_terminate_backend({pid})" in refused.value.diag.message_hint
                # a child run locks its parent too: no conversations window may be in flight meanwhile
                with pytest.raises(psycopg.errors.Error, match="conversations is being replicated"):
                    replicate(replica_db, objects=["conversations"])
            finally:
                running.join()
    finally:
        intercom.knobs(latency_ms=0)
    assert not failed and state(replica_db)["conversation_parts"]["status"] == "succeeded"


def test_a_refused_run_leaves_the_session_captured_again(pg, db, replica_db):
    # A run refused (another run holds the object's lock) left the session's intercom_fdw.applying 'on':
    # the session's own edits of a synced table were no longer captured, and never reached Intercom.
    with psycopg.connect(pg.dsn(db), autocommit=True) as other:
        other.execute(f"SELECT pg_advisory_lock({LOCK_CLASS}, hashtext('intercom_replica.segments'))")
        with pytest.raises(psycopg.Error, match="segments is being replicated into intercom_replica by another run"):
            replicate(replica_db, objects=["segments"])
    assert applying(replica_db) == ""


def test_a_cancel_while_the_run_prepares_is_the_procedures_own(pg, db, replica_db, intercom):
    # A cancel before the first object started (here: creating the target schema, which another session
    # is creating in a transaction still open) said "spiexceptions.QueryCanceled: canceling statement ..."
    # with a Python traceback, not what the run had done and what the next one does.
    with psycopg.connect(pg.dsn(db)) as other:  # (a transaction: the schema is not committed)
        other.execute("CREATE SCHEMA being_prepared")
        diag = canceled_while_blocked(pg, db, lambda conn: replicate(conn, objects=["segments"],
                                                                     schema="being_prepared"))
        other.rollback()
    assert (diag.sqlstate, diag.message_primary, diag.message_detail, diag.message_hint) == (
        "57014", "intercom_fdw.replicate(): canceling statement due to user request",
        "the run was stopped while it prepared, before any object started: nothing was replicated into being_prepared",
        "the next run of the same mode resumes each object from its last committed window")
    assert state(replica_db, "being_prepared") == {}


def test_bad_arguments_fail_before_any_call(replica_db, intercom):
    intercom.reset_counters()
    for args, message in ((dict(mode="sometimes"), "mode must be one of"),
                          (dict(objects=["contacts", "leads"]), "unknown object(s) to replicate: leads"),
                          (dict(deletes="shred"), "deletes must be one of")):
        with pytest.raises(psycopg.errors.Error, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
            replicate(replica_db, **args)
        assert caught.value.diag.message_primary.startswith("intercom_fdw.replicate(): "), caught.value
    assert intercom.calls()["total"] == 0


def test_a_child_without_its_parent_replica_fails_clearly(replica_db):
    with pytest.raises(psycopg.errors.Error, match="1 of 1 objects failed: notes"):
        replicate(replica_db, objects=["notes"], schema="orphan")
    report = state(replica_db, "orphan")["notes"]
    assert report["status"] == "failed" and "replicate contacts first" in report["error"]


@pytest.mark.parametrize("mode", ["full", "reconcile"])
def test_the_foreign_tables_schema_is_never_a_target(replica_db, intercom, mode):
    # Into the schema of the foreign tables, the run's upserts and a reconcile's deletes of what it did
    # not see would go through the foreign tables to Intercom: refused before any call or write.
    intercom.reset_counters()
    with pytest.raises(psycopg.errors.Error, match="2 of 2 objects failed"):
        replicate(replica_db, objects=["articles", "companies"], schema="intercom", mode=mode, deletes="delete")
    report = state(replica_db, "intercom")
    for obj in ("articles", "companies"):
        assert report[obj]["status"] == "failed"
        assert f'"intercom"."{obj}" is a foreign table: replication and sync write their rows only into ' \
               "tables of their own" in report[obj]["error"]
        assert "replicate into a schema of its own" in report[obj]["error"]
    calls = intercom.calls()["by_route"]
    assert not [route for route in calls if not route.startswith("GET ")], calls
    assert not [route for route in calls if "articles" in route or "companies" in route], calls


@pytest.mark.parametrize("objects", [None, ["segments"], ["tickets"]])
def test_two_schemas_imported_from_one_server_refuse_before_any_call(replica_db, intercom, objects):
    # objects => NULL used to replicate nothing and succeed, saying no foreign table read them
    replica_db.execute("CREATE SCHEMA twin")
    try:
        replica_db.execute("IMPORT FOREIGN SCHEMA intercom FROM SERVER intercom INTO twin")
        intercom.reset_counters()
        with pytest.raises(psycopg.errors.Error) as caught:
            replicate(replica_db, objects=objects, schema="twin_replica")
        message = caught.value.diag.message_primary
        assert 'several foreign tables of server "intercom" read the same Intercom objects: ' in message
        assert "segments (intercom.segments, twin.segments)" in message or objects == ["tickets"]
        if objects != ["segments"]:  # a ticket type's table of each schema, too
            assert "bug_report_tickets (intercom.bug_report_tickets, twin.bug_report_tickets)" in message
        assert "import the other schema from a server of its own" in caught.value.diag.message_hint
        assert intercom.calls()["total"] == 0
        assert replica_db.execute("SELECT to_regnamespace('twin_replica')").fetchone()[0] is None
    finally:
        replica_db.execute("DROP SCHEMA twin CASCADE")


def test_a_search_path_that_finds_the_replica_first_still_reads_intercom(pg, db, replica_db):
    # The target's tables share the foreign tables' names: the run names the foreign ones with their schema.
    with psycopg.connect(pg.dsn(db), autocommit=True) as conn:
        conn.execute("SET search_path = path_first, intercom, public")
        replicate(conn, objects=["companies", "contacts"], schema="path_first", mode="full")
    report = state(replica_db, "path_first")
    assert {r["status"] for r in report.values()} == {"succeeded"}, report
    for obj in ("companies", "contacts"):
        assert report[obj]["rows_read"] == replica_db.execute(
            f"SELECT count(*) FROM path_first.{obj}").fetchone()[0] == replica_db.execute(
            f"SELECT count(*) FROM intercom.{obj}").fetchone()[0] > 0


def test_inside_a_transaction_block_the_run_commits_with_the_caller(pg, db, replica_db):
    with psycopg.connect(pg.dsn(db)) as conn:  # not autocommit: psycopg opens a transaction
        notices = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        conn.execute("CALL intercom_fdw.replicate(ARRAY['segments'], 'in_transaction')")
        assert any("called inside a transaction block" in n for n in notices)
        conn.rollback()
    assert replica_db.execute("SELECT to_regclass('in_transaction.segments')").fetchone()[0] is None
    with psycopg.connect(pg.dsn(db)) as conn:
        conn.execute("CALL intercom_fdw.replicate(ARRAY['segments'], 'in_transaction')")
        conn.commit()
    assert state(replica_db, "in_transaction")["segments"]["status"] == "succeeded"


@pytest.mark.parametrize("setup", ["CREATE SCHEMA actions; CREATE EXTENSION intercom_fdw SCHEMA actions",
                                   "CREATE SCHEMA intercom_fdw; CREATE EXTENSION intercom_fdw SCHEMA intercom_fdw"])
def test_the_procedure_lives_in_intercom_fdw_whatever_the_extension_schema(pg, setup):
    name = pg.create_database("replication_schema_" + str(abs(hash(setup)) % 1000), extensions=("plpython3u",))
    with pg.connect(name) as conn:
        for statement in setup.split("; "):
            conn.execute(statement)
        assert conn.execute("SELECT to_regprocedure('intercom_fdw.replicate(text[], name, text, name, text)') "
                            "IS NOT NULL AND to_regclass('intercom_fdw.replication_state') IS NOT NULL").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                            "WHERE n.nspname IN ('actions', 'intercom_fdw') AND p.proname = 'close_conversation'"
                            ).fetchone()[0] == 1
        conn.execute("DROP EXTENSION intercom_fdw")
        assert conn.execute("SELECT to_regclass('intercom_fdw.replication_state')").fetchone()[0] is None


def test_contacts_that_search_shows_late_are_caught_by_the_next_run(replica_db, intercom):
    replicate(replica_db, objects=["contacts"])
    intercom.knobs(search_index_delay_s=3)
    try:
        late = intercom.send("POST", "/contacts", {"email": "late-in-search@example.com"})["id"]
        replicate(replica_db, objects=["contacts"])
        count = "SELECT count(*) FROM intercom_replica.contacts WHERE id = %s"
        assert replica_db.execute(count, (late,)).fetchone()[0] == 0  # not in search yet
        time.sleep(3.5)
        replicate(replica_db, objects=["contacts"])  # the overlap re-reads below the cursor
        assert replica_db.execute(count, (late,)).fetchone()[0] == 1
    finally:
        intercom.knobs(search_index_delay_s=0)


def test_conversations_at_the_500_part_cap_are_recorded(replica_db):
    replicate(replica_db, objects=["conversations", "conversation_parts"])
    at_cap = {r[0] for r in replica_db.execute(
        "SELECT conversation_id FROM intercom_replica.conversation_parts WHERE _deleted_at IS NULL "
        "GROUP BY 1 HAVING count(*) >= 500").fetchall()}
    recorded = {r[0] for r in replica_db.execute(
        "SELECT parent_id FROM intercom_fdw.replication_capped WHERE object = 'conversation_parts' "
        "AND target_schema = 'intercom_replica' AND cap = 500").fetchall()}
    assert at_cap and recorded == at_cap


def test_a_role_with_the_documented_grants_replicates(pg, db, replica_db, emulator):
    replica_db.execute("CREATE ROLE analyst LOGIN")
    replica_db.execute("GRANT USAGE ON FOREIGN SERVER intercom TO analyst")
    replica_db.execute(f"CREATE USER MAPPING FOR analyst SERVER intercom OPTIONS (access_token '{emulator.token}')")
    replica_db.execute("GRANT USAGE ON SCHEMA intercom TO analyst")
    replica_db.execute("GRANT SELECT ON ALL TABLES IN SCHEMA intercom TO analyst")
    replica_db.execute("GRANT USAGE ON SCHEMA intercom_fdw TO analyst")
    replica_db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA intercom_fdw TO analyst")
    replica_db.execute(f'GRANT CREATE ON DATABASE "{db}" TO analyst')
    with psycopg.connect(pg.dsn(db, user="analyst"), autocommit=True) as analyst:
        replicate(analyst, objects=["segments", "help_centers"], schema="analyst_copy")
    assert state(replica_db, "analyst_copy")["segments"]["status"] == "succeeded"


def test_a_full_run_marks_what_is_gone_and_a_child_can_be_deleted(replica_db, intercom):
    replicate(replica_db, objects=["collections", "contacts", "notes"], schema="full_marks")
    victim = replica_db.execute("SELECT id FROM full_marks.collections ORDER BY id LIMIT 1").fetchone()[0]
    intercom.send("DELETE", f"/help_center/collections/{victim}")
    contact = replica_db.execute("SELECT contact_id FROM full_marks.notes WHERE _deleted_at IS NULL "
                                 "ORDER BY 1 LIMIT 1").fetchone()[0]
    intercom.send("DELETE", f"/contacts/{contact}")
    replicate(replica_db, objects=["collections", "contacts", "notes"], schema="full_marks", mode="full",
              deletes="delete")
    assert replica_db.execute("SELECT count(*) FROM full_marks.collections WHERE id = %s", (victim,)).fetchone()[0] == 0
    assert replica_db.execute("SELECT count(*) FROM full_marks.contacts WHERE id = %s", (contact,)).fetchone()[0] == 0
    assert replica_db.execute("SELECT count(*) FROM full_marks.notes WHERE contact_id = %s",
                              (contact,)).fetchone()[0] == 0  # the gone contact's notes went with it
    report = state(replica_db, "full_marks")
    assert report["collections"]["rows_marked_deleted"] == 1 and report["notes"]["rows_marked_deleted"] >= 1


def test_all_objects_means_those_imported(pg, emulator):
    name = pg.create_database("replication_some_tables", extensions=("multicorn", "plpython3u"))
    with pg.connect(name) as conn:
        setup_database(conn, emulator.url, emulator.token, limit_to=("segments", "help_centers", "notes"))
        notices = replicate(conn)
        assert sorted(state(conn)) == ["help_centers", "segments"]
        assert any("not replicated, no foreign table of server intercom for them (or their parent): contacts" in n
                   for n in notices)
        with pytest.raises(psycopg.errors.Error, match="no foreign table of server \"intercom\" reads Intercom contacts"):
            replicate(conn, objects=["contacts", "notes"])
