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
    differences, intercom, random_changes, replica_db, replicate, state,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=23, contacts=400, companies=20, conversations=60, tickets=20, articles=10) as server:
        yield server


def _terminate_mid_run(pg, db, replica_db, mode, victim):
    """Starts a run, terminates its backend once `victim` has committed two windows, returns the state."""
    with psycopg.connect(pg.dsn(db), autocommit=True) as doomed:
        pid = doomed.info.backend_pid
        outcome = {}

        def run():
            try:
                replicate(doomed, mode=mode)
            except psycopg.Error as error:
                outcome["error"] = error
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while True:
            row = replica_db.execute("SELECT status, windows FROM intercom_fdw.replication_state "
                                     "WHERE object = %s AND target_schema = 'intercom_replica'", (victim,)).fetchone()
            if row and row[0] == "running" and row[1] >= 2:
                break
            assert time.monotonic() < deadline and thread.is_alive(), "the run ended before it could be stopped"
            time.sleep(0.02)
        assert replica_db.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        thread.join()
    assert "error" in outcome
    return state(replica_db)[victim]


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


def test_faults_and_dropped_connections_change_nothing_in_the_result(replica_db, intercom):
    replicate(replica_db)
    random_changes(intercom, random.Random(8), deletes=True)
    intercom.knobs(fault_rate=0.1, drop_rate=0.05)
    try:
        replicate(replica_db)
        replicate(replica_db, mode="reconcile")
    finally:
        intercom.knobs(fault_rate=0, drop_rate=0)
    report = state(replica_db)
    assert {r["status"] for r in report.values()} == {"succeeded"}
    replicate(replica_db, schema="fresh_after_faults", mode="full")
    assert differences(replica_db, "intercom_replica", "fresh_after_faults") == {}
    retried = sum(r["api_calls"] for r in report.values())
    print(f"\ncalls of the incremental + reconcile runs with faults (retries included): {retried}")


def test_a_failed_object_is_reported_and_the_next_run_resumes_it(replica_db, intercom):
    intercom.knobs(fault_rate=1.0)
    try:
        with pytest.raises(psycopg.errors.Error) as failed:
            replicate(replica_db, objects=["contacts", "segments"])
    finally:
        intercom.knobs(fault_rate=0)
    assert "2 of 2 objects failed: contacts, segments" in failed.value.diag.message_primary
    report = state(replica_db)
    assert report["contacts"]["status"] == "failed" and report["contacts"]["error"]
    replicate(replica_db, objects=["contacts", "segments"])
    assert state(replica_db)["contacts"]["status"] == "succeeded"
