"""CALL intercom_fdw.sync() and CALL intercom_fdw.replicate() of the same object in two sessions.

Both write the replica table (sync its push's ids and reads, replication its windows), and each
decides what to write from what the other has committed: a replicate() window read before a push
and written after it wrote back Intercom's value from before the push, over the pushed local edit
(the change was done, so the capture trigger no longer kept the local value). They take the same
lock: the one that comes second refuses at once, naming the backend that holds it.

The tests sequence the two backends with row locks held by a third session (a window's rows are read
from Intercom before any is written; a push reads Intercom's row before it marks its change
`pushing`), and pg_stat_activity shows where each one waits."""
import threading
import time

import psycopg
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db, replicate  # noqa: F401  (fixtures)
from tests.integration.sync_fixtures import changes, local_row, open_changes, sync, sync_fails, writes

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=43, contacts=12, companies=3, conversations=2, tickets=2, articles=6) as server:
        yield server


@pytest.fixture(scope="module")
def synced(replica_db):
    sync(replica_db, objects=["collections"])
    return replica_db


def _collection(db, n):
    return db.execute("SELECT id FROM intercom_replica.collections ORDER BY id OFFSET %s LIMIT 1", (n,)).fetchone()[0]


def _until(condition, what, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def _waits_on_a_lock(db, pid):
    return db.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                      (pid,)).fetchone()[0] is True


def _in_thread(target, conn, outcome, name, **kwargs):
    def run():
        try:
            outcome[name] = target(conn, **kwargs)
        except psycopg.Error as error:
            outcome[name + "_error"] = error.diag
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_replicate_started_while_sync_pushes_refuses_and_the_pushed_edit_stays(pg, db, synced, intercom):
    # Before: replicate() ran beside the push. Its window read the collection from Intercom before the
    # push sent the local name and wrote it after the push marked the change done: the replica row
    # went back to Intercom's old name (the log said done, Intercom had the new name), and sync's pull
    # failed on replicate's lock.
    key = _collection(synced, 0)
    old_name = intercom.send("GET", f"/help_center/collections/{key}")["name"]
    synced.execute("UPDATE intercom_replica.collections SET name = 'Named Here' WHERE id = %s", (key,))
    # a change on Intercom's side too: the next replicate() reads the collection again
    intercom.send("PUT", f"/help_center/collections/{key}", {"description": "Described In Intercom"})
    [change] = [c["change_id"] for c in open_changes(synced) if c["key"] == key]
    outcome = {}
    with psycopg.connect(pg.dsn(db), autocommit=True) as holder_log, \
            psycopg.connect(pg.dsn(db), autocommit=True) as holder_row, \
            psycopg.connect(pg.dsn(db), autocommit=True) as syncing, \
            psycopg.connect(pg.dsn(db), autocommit=True) as replicating:
        holder_log.execute("BEGIN")
        holder_log.execute("SELECT 1 FROM intercom_fdw.sync_changes WHERE change_id = %s FOR UPDATE", (change,))
        holder_row.execute("BEGIN")
        holder_row.execute("SELECT 1 FROM intercom_replica.collections WHERE id = %s FOR UPDATE", (key,))
        sync_pid, replicate_pid = syncing.info.backend_pid, replicating.info.backend_pid
        sync_thread = _in_thread(sync, syncing, outcome, "sync", objects=["collections"])
        # the push has read Intercom's row and waits to mark the change pushing
        _until(lambda: _waits_on_a_lock(synced, sync_pid), "the push waits to mark its change pushing")
        replicate_thread = _in_thread(replicate, replicating, outcome, "replicate", objects=["collections"])
        # replicate() refuses, or has read the collection from Intercom and waits to write it
        _until(lambda: not replicate_thread.is_alive() or _waits_on_a_lock(synced, replicate_pid),
               "replicate() refuses or waits to write its window")
        holder_log.execute("COMMIT")  # the push goes on: PUT, the change done
        _until(lambda: [c["status"] for c in changes(synced, "collections") if c["change_id"] == change] == ["done"]
               or not sync_thread.is_alive(), "the push is done")
        holder_row.execute("COMMIT")
        sync_thread.join(60)
        replicate_thread.join(60)
        assert not sync_thread.is_alive() and not replicate_thread.is_alive()
    assert intercom.send("GET", f"/help_center/collections/{key}")["name"] == "Named Here"
    row = local_row(synced, "collections", key)
    assert (row["name"], row["description"]) == ("Named Here", "Described In Intercom"), (old_name, row, outcome)
    refused = outcome.get("replicate_error")
    assert refused is not None, outcome
    assert (f"collections in intercom_replica is being synced by another run (backend {sync_pid})"
            in refused.message_primary), refused.message_primary
    assert f"pg_terminate_backend({sync_pid})" in refused.message_hint
    assert "sync_error" not in outcome, outcome["sync_error"].message_primary
    assert open_changes(synced) == []


def test_a_sync_started_while_replicate_runs_refuses_before_sending_anything(pg, db, synced, intercom):
    # Before: the sync waited for the replicate() window in flight (its capture trigger's CREATE OR
    # REPLACE TRIGGER), sent its changes while replicate() went on, and its pull failed on replicate's
    # lock; with a lock_timeout it failed on that, saying nothing of the other run.
    key = _collection(synced, 1)
    synced.execute("UPDATE intercom_replica.collections SET name = 'Renamed Here' WHERE id = %s", (key,))
    intercom.send("PUT", f"/help_center/collections/{key}", {"description": "Also Described There"})
    outcome = {}
    with psycopg.connect(pg.dsn(db), autocommit=True) as holder_row, \
            psycopg.connect(pg.dsn(db), autocommit=True) as replicating:
        holder_row.execute("BEGIN")
        holder_row.execute("SELECT 1 FROM intercom_replica.collections WHERE id = %s FOR UPDATE", (key,))
        replicate_pid = replicating.info.backend_pid
        replicate_thread = _in_thread(replicate, replicating, outcome, "replicate", objects=["collections"])
        try:
            _until(lambda: _waits_on_a_lock(synced, replicate_pid), "replicate() waits to write its window")
            intercom.reset_counters()
            synced.execute("SET lock_timeout = '5s'")
            try:
                started = time.monotonic()
                diag = sync_fails(synced, objects=["collections"])
                took = time.monotonic() - started
            finally:
                synced.execute("RESET lock_timeout")
        finally:
            holder_row.execute("COMMIT")
            replicate_thread.join(60)
    assert (f"collections is being replicated into intercom_replica by another run (backend {replicate_pid})"
            in diag.message_primary), diag.message_primary
    assert f"pg_terminate_backend({replicate_pid})" in diag.message_hint
    assert took < 4, took  # at once, not after a lock wait
    assert writes(intercom) == {}
    assert "replicate_error" not in outcome, outcome["replicate_error"].message_primary
    # replicate() kept the pending local name; the next sync sends it
    assert local_row(synced, "collections", key)["name"] == "Renamed Here"
    sync(synced, objects=["collections"])
    assert intercom.send("GET", f"/help_center/collections/{key}")["name"] == "Renamed Here"
    row = local_row(synced, "collections", key)
    assert (row["name"], row["description"]) == ("Renamed Here", "Also Described There")
    assert open_changes(synced) == []
