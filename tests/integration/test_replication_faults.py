"""Replication survives what goes wrong: a backend terminated mid-run (pg_terminate_backend) and
Intercom answering 5xx or cutting connections. After each, the next run ends equal to a fresh full
run: no row twice (the keys say so), none lost."""
import random
import threading
import time

import psycopg
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import (  # noqa: F401  (fixtures)
    differences, intercom, random_changes, replica_db, replicate, state, ticket_type_tables,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=23, contacts=250, companies=20, conversations=60, tickets=20, articles=10) as server:
        yield server


def _terminate_mid_run(pg, db, replica_db, mode, victim, objects=None, settings=(), stop="pg_terminate_backend",
                       schema="intercom_replica"):
    """Starts a run, terminates its backend (or `stop`s it otherwise) once `victim` has committed two
    windows, returns the state."""
    with psycopg.connect(pg.dsn(db), autocommit=True) as doomed:
        pid = doomed.info.backend_pid
        for setting in settings:
            doomed.execute(setting)
        outcome = {}

        def run():
            try:
                replicate(doomed, mode=mode, objects=objects, schema=schema)
            except psycopg.Error as error:
                outcome["error"] = error
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while True:
            row = replica_db.execute("SELECT status, windows FROM intercom_fdw.replication_state "
                                     "WHERE object = %s AND target_schema = %s", (victim, schema)).fetchone()
            if row and row[0] == "running" and row[1] >= 2:
                break
            assert time.monotonic() < deadline and thread.is_alive(), "the run ended before it could be stopped"
            time.sleep(0.02)
        assert replica_db.execute(f"SELECT {stop}(%s)", (pid,)).fetchone()[0]
        thread.join()
    assert "error" in outcome
    return {**state(replica_db, schema)[victim], "raised": outcome["error"]}


def test_a_run_terminated_mid_way_resumes_and_ends_equal_to_a_clean_run(pg, db, replica_db, intercom):
    intercom.knobs(latency_ms=5)
    try:
        replicate(replica_db, objects=["contacts"])
        random_changes(intercom, random.Random(3), deletes=False)
        stopped = _terminate_mid_run(pg, db, replica_db, "incremental", "notes")
        assert stopped["status"] == "running" and stopped["windows"] >= 2
        replicate(replica_db)
        assert state(replica_db)["notes"]["status"] == "succeeded"
        # a full run stopped part-way resumes where it was (its windows and seen keys stand)
        random_changes(intercom, random.Random(4), deletes=True)
        stopped = _terminate_mid_run(pg, db, replica_db, "full", "contact_companies")
        resumed_from = state(replica_db)["contact_companies"]["cursor"]
        assert resumed_from is not None
        replicate(replica_db, mode="full")
    finally:
        intercom.knobs(latency_ms=0)
    replicate(replica_db, schema="fresh", mode="full")
    assert differences(replica_db, "intercom_replica", "fresh") == {}


def test_a_canceled_run_says_so_and_the_next_one_resumes(pg, db, replica_db, intercom):
    # pg_cancel_backend (or statement_timeout) mid-run: the state row said running for ever after
    replicate(replica_db, objects=["contacts"], schema="canceled")
    intercom.knobs(latency_ms=20)
    try:
        stopped = _terminate_mid_run(pg, db, replica_db, "reconcile", "contacts", objects=["contacts"],
                                     settings=["SET intercom_fdw.replicate_window_rows = 40"], stop="pg_cancel_backend",
                                     schema="canceled")
    finally:
        intercom.knobs(latency_ms=0)
    diag = stopped["raised"].diag
    assert diag.sqlstate == "57014"
    # the procedure's own error (it said "spiexceptions.QueryCanceled: canceling statement ...", no more)
    assert diag.message_primary == "intercom_fdw.replicate(): canceling statement due to user request"
    assert diag.message_detail == ("contacts into canceled was stopped part-way (replication_state says canceled); "
                                   "the objects after it did not run")
    assert diag.message_hint == "the next run of the same mode resumes it from its last committed window"
    assert stopped["status"] == "canceled" and stopped["run_ended_at"] is not None, stopped
    assert stopped["error"] == ("canceling statement due to user request: the next run of the same mode resumes "
                                "from the last committed window")
    assert stopped["resume_at"] is not None
    # the committed windows are exactly the rows below the resume point, and the next run reads the others
    below = replica_db.execute("SELECT count(*) FROM canceled.contacts WHERE created_at < %s",
                               (stopped["resume_at"],)).fetchone()[0]
    assert stopped["rows_read"] == below, (stopped["rows_read"], below, stopped["resume_at"])
    replicate(replica_db, objects=["contacts"], schema="canceled", mode="reconcile")
    resumed = state(replica_db, "canceled")["contacts"]
    total = replica_db.execute("SELECT count(*) FROM intercom.contacts").fetchone()[0]
    assert resumed["status"] == "succeeded" and resumed["error"] is None
    assert resumed["rows_read"] == total - stopped["rows_read"], (resumed["rows_read"], stopped["rows_read"], total)


@pytest.mark.parametrize("victim", ["contacts", "notes"])
def test_a_window_and_its_resume_point_are_committed_together(pg, db, replica_db, intercom, victim):
    """A reconcile canceled at the moment its second window's resume point is written (created_at
    windows of contacts, 50-parent windows of notes): the window counted in the state row and its
    resume point are committed together or not at all. They were two commits, and a cancel between
    them left the window counted while resume_at still said the window before: the next run read that
    window again (a cancel sent as soon as a poll saw two windows counted met that gap 2 times in 16).

    The cancel is PostgreSQL's own (pg_cancel_backend of the run's backend), sent from a trigger on
    the state row's update that moves the resume point, then met by the trigger's pg_sleep."""
    schema = f"window_{victim}"
    replicate(replica_db, objects=["contacts", "notes"], schema=schema)
    total = replica_db.execute(f"SELECT count(*) FROM {schema}.{victim} WHERE _deleted_at IS NULL").fetchone()[0]
    replica_db.execute("CREATE FUNCTION public.cancel_me() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$BEGIN PERFORM pg_cancel_backend(pg_backend_pid()); PERFORM pg_sleep(30); RETURN NEW; END$$")
    replica_db.execute(f"CREATE TRIGGER cancel_me BEFORE UPDATE ON intercom_fdw.replication_state FOR EACH ROW "
                       f"WHEN (NEW.object = '{victim}' AND NEW.target_schema = '{schema}' AND NEW.windows = 2 "
                       "AND (NEW.resume_at, NEW.resume_key) IS DISTINCT FROM (OLD.resume_at, OLD.resume_key)) "
                       "EXECUTE FUNCTION public.cancel_me()")
    replica_db.commit()
    try:
        with psycopg.connect(pg.dsn(db), autocommit=True) as doomed:
            doomed.execute("SET intercom_fdw.replicate_window_rows = 40")
            with pytest.raises(psycopg.errors.QueryCanceled):
                replicate(doomed, objects=[victim], schema=schema, mode="reconcile")
    finally:
        replica_db.execute("DROP TRIGGER cancel_me ON intercom_fdw.replication_state")
        replica_db.execute("DROP FUNCTION public.cancel_me()")
        replica_db.commit()
    stopped = state(replica_db, schema)[victim]
    assert stopped["status"] == "canceled" and stopped["resume_at"] is not None, stopped
    replicate(replica_db, objects=[victim], schema=schema, mode="reconcile")
    resumed = state(replica_db, schema)[victim]
    assert resumed["status"] == "succeeded", resumed
    # each row read once over both runs (it was read twice: the window in both)
    assert stopped["rows_read"] + resumed["rows_read"] == total, (stopped["rows_read"], resumed["rows_read"], total)
    assert stopped["windows"] == 1  # the window met by the cancel is not counted: nothing of it was kept


def test_a_reconcile_or_a_full_list_terminated_mid_way_resumes_instead_of_restarting(pg, db, replica_db, intercom):
    objects = ["contacts", "notes", "articles", "collections"]
    replicate(replica_db, objects=objects, schema="intercom_replica")
    random_changes(intercom, random.Random(6), deletes=True)
    intercom.knobs(latency_ms=20)
    try:
        # contacts in created_at windows of about 40 rows: stopped after two, the reconcile goes on
        # after the second (the windows are disjoint: each contact is read once over both runs)
        stopped = _terminate_mid_run(pg, db, replica_db, "reconcile", "contacts", objects=["contacts", "notes"],
                                     settings=["SET intercom_fdw.replicate_window_rows = 40"])
        assert stopped["status"] == "running" and stopped["resume_at"] is not None
        replicate(replica_db, objects=["contacts", "notes"], mode="reconcile")
        resumed = state(replica_db)["contacts"]
        total = replica_db.execute("SELECT count(*) FROM intercom.contacts").fetchone()[0]
        assert stopped["rows_read"] > 0
        assert resumed["status"] == "succeeded" and resumed["rows_read"] <= total - stopped["rows_read"], (
            resumed["rows_read"], stopped["rows_read"], total)
        assert resumed["last_reconciled_at"] is not None
        # a child object's reconcile (50 parents a window) goes on after the last parent it had done
        full_read = state(replica_db)["notes"]["rows_read"]  # the reconcile above read every contact's notes
        stopped = _terminate_mid_run(pg, db, replica_db, "reconcile", "notes", objects=["contacts", "notes"])
        assert stopped["resume_at"] is not None and stopped["resume_key"] is not None
        replicate(replica_db, objects=["notes"], mode="reconcile")
        resumed = state(replica_db)["notes"]
        assert resumed["status"] == "succeeded" and resumed["rows_read"] < full_read, (resumed["rows_read"], full_read)
        # a full run of articles, one article per window: the resumed run reads only the rest by id
        stopped = _terminate_mid_run(pg, db, replica_db, "full", "articles", objects=["articles"],
                                     settings=["SET intercom_fdw.replicate_ids_per_window = 1"])
        listed = replica_db.execute("SELECT count(*) FROM intercom.articles").fetchone()[0]
        replicate(replica_db, objects=["articles"], mode="full")
        resumed = state(replica_db)["articles"]
        assert resumed["status"] == "succeeded" and resumed["rows_read"] <= listed - (stopped["windows"] - 1)
        # and an incremental run after them all still ends equal to a clean run
        replicate(replica_db, objects=objects)
    finally:
        intercom.knobs(latency_ms=0)
    replicate(replica_db, objects=objects, schema="fresh_resumed", mode="full")
    assert differences(replica_db, "intercom_replica", "fresh_resumed", objects) == {}


# The objects of every change kind, without the per-contact children (400 calls each would only
# multiply retries' backoff).
SAMPLE = ["contacts", "companies", "segments", "conversations", "tickets", "articles", "collections",
          "activity_logs", "company_segments", "conversation_parts"]


def test_faults_and_dropped_connections_change_nothing_in_the_result(replica_db, intercom):
    replicate(replica_db, objects=SAMPLE, schema="faulty")
    random_changes(intercom, random.Random(8), deletes=True)
    intercom.knobs(fault_rate=0.1, drop_rate=0.05)
    try:
        replicate(replica_db, objects=SAMPLE, schema="faulty")
        replicate(replica_db, objects=SAMPLE, schema="faulty", mode="reconcile")
    finally:
        intercom.knobs(fault_rate=0, drop_rate=0)
    report = state(replica_db, "faulty")
    assert {r["status"] for r in report.values()} == {"succeeded"}
    replicate(replica_db, objects=SAMPLE, schema="fresh_after_faults", mode="full")
    # the sample's tables, the ticket-type tables (replicated with tickets) included
    parts = ticket_type_tables(replica_db)
    assert parts and set(parts) <= set(report)
    assert differences(replica_db, "faulty", "fresh_after_faults", SAMPLE + parts) == {}
    print(f"\ncalls of the reconcile run with faults (retries included): {sum(r['api_calls'] for r in report.values())}")


def test_a_failed_object_is_reported_and_the_next_run_resumes_it(pg, db, replica_db, intercom, emulator):
    # a server that does not retry, so that the failure comes at once
    replica_db.execute(f"CREATE SERVER fragile FOREIGN DATA WRAPPER multicorn OPTIONS "
                       f"(wrapper 'intercom_fdw.IntercomFdw', api_url '{emulator.url}', max_retries '0')")
    replica_db.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER fragile OPTIONS (access_token '{emulator.token}')")
    replica_db.execute("CREATE SCHEMA fragile")
    replica_db.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts, segments) FROM SERVER fragile INTO fragile")
    intercom.knobs(fault_rate=1.0)
    try:
        with pytest.raises(psycopg.errors.Error) as failed:
            replicate(replica_db, objects=["contacts", "segments"], schema="fragile_replica", server="fragile")
    finally:
        intercom.knobs(fault_rate=0)
    assert "2 of 2 objects failed: contacts, segments" in failed.value.diag.message_primary
    report = state(replica_db, "fragile_replica")
    assert report["contacts"]["status"] == "failed" and "50" in report["contacts"]["error"], report["contacts"]["error"]
    replicate(replica_db, objects=["contacts", "segments"], schema="fragile_replica", server="fragile")
    assert state(replica_db, "fragile_replica")["contacts"]["status"] == "succeeded"
    replicate(replica_db, objects=["contacts", "segments"], schema="fragile_fresh", mode="full", server="intercom")
    assert differences(replica_db, "fragile_replica", "fragile_fresh", ["contacts", "segments"]) == {}


def test_a_statement_timeout_ends_the_whole_run_and_the_next_run_finishes_it(replica_db, intercom):
    # before, the timeout was recorded as the first object's failure and the next objects still ran
    intercom.knobs(latency_ms=400)
    started = time.monotonic()
    try:
        replica_db.execute("SET statement_timeout = '1200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            replicate(replica_db, objects=["contacts", "segments"], schema="timed_replica", mode="full",
                      server="intercom")  # (the test above made a second server)
    finally:
        replica_db.execute("RESET statement_timeout")
        intercom.knobs(latency_ms=0)
    assert time.monotonic() - started < 6
    report = state(replica_db, "timed_replica")
    assert "segments" not in report or report["segments"]["status"] != "succeeded", report
    assert all(r["status"] != "failed" for r in report.values()), report  # stopped, not failed
    replicate(replica_db, objects=["contacts", "segments"], schema="timed_replica", mode="full", server="intercom")
    assert {o: r["status"] for o, r in state(replica_db, "timed_replica").items()} == {
        "contacts": "succeeded", "segments": "succeeded"}
