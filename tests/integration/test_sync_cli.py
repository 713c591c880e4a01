"""`intercom-fdw sync` as a user runs it: progress per object, a summary table, the exit status."""
import subprocess
import sys

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import (  # noqa: F401  (fixtures)
    ctrl_c_during, intercom, killed_while_calling, replica_db, setup_database,
)
from tests.integration.sync_fixtures import open_changes

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=43, contacts=20, companies=4, conversations=4, tickets=3, articles=3) as server:
        yield server


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "intercom_fdw.tools.cli", "sync", *args],
                          capture_output=True, text=True, timeout=100)


def _lines(done):
    header, rule, *lines = done.stdout.splitlines()
    assert header.split()[:3] == ["object", "push", "changes_pushed"]
    return {line.split()[0]: line.split() for line in lines}


def test_syncs_with_progress_and_a_summary(pg, db, replica_db, intercom):
    first = _cli("--dsn", pg.dsn(db), "contacts", "companies")
    assert first.returncode == 0, first.stderr
    key = replica_db.execute("SELECT id FROM intercom_replica.contacts ORDER BY id LIMIT 1").fetchone()[0]
    replica_db.execute("UPDATE intercom_replica.contacts SET name = 'From The CLI' WHERE id = %s", (key,))
    done = _cli("--dsn", pg.dsn(db), "--progress", "always", "--conflict", "local_wins", "contacts", "companies")
    assert done.returncode == 0, done.stderr
    lines = _lines(done)
    assert lines["contacts"][:5] == ["contacts", "pushed", "1", "0", "0"] and lines["contacts"][5] == "1"
    assert lines["contacts"][11] == "succeeded" and lines["companies"][1:3] == ["pushed", "0"]
    assert "contacts push" in done.stderr and "contacts" in done.stderr  # the push's bar and the pull's
    assert intercom.send("GET", f"/contacts/{key}")["name"] == "From The CLI"


def test_a_rejected_change_makes_the_exit_status_non_zero(pg, db, replica_db):
    _cli("--dsn", pg.dsn(db), "contacts")
    replica_db.execute("INSERT INTO intercom_replica.contacts (name) VALUES ('Nobody')")
    done = _cli("--dsn", pg.dsn(db), "contacts")
    assert done.returncode == 1
    contacts = _lines(done)["contacts"]
    assert contacts[1] == "rejected" and contacts[8] == "1"
    assert "external_id" in done.stdout
    assert "1 of 1 objects failed or had rejected changes: contacts" in done.stderr and "HINT" in done.stderr
    replica_db.execute("DELETE FROM intercom_replica.contacts WHERE name = 'Nobody'")
    assert _cli("--dsn", pg.dsn(db), "contacts").returncode == 0


def _renamed_after_a_sync(pg, db, replica_db, prefix, count):
    """Syncs contacts, then renames `count` of them locally ("<prefix> <id>"); their ids."""
    assert _cli("--dsn", pg.dsn(db), "contacts").returncode == 0
    keys = [r[0] for r in replica_db.execute("SELECT id FROM intercom_replica.contacts WHERE id NOT LIKE 'local:%%' "
                                             "ORDER BY id LIMIT %s", (count,)).fetchall()]
    for key in keys:
        replica_db.execute("UPDATE intercom_replica.contacts SET name = %s WHERE id = %s", (f"{prefix} {key}", key))
    return keys


def test_ctrl_c_stops_the_run_says_so_and_the_next_run_pushes_the_rest_once(pg, db, replica_db, intercom):
    # Ctrl-C during the CALL printed a Python traceback (KeyboardInterrupt), no summary and no word of what
    # became of the changes, and the process died by the signal. Now: the summary (contacts' push canceled),
    # what the next run does, exit status 130; the next run pushes the rest.
    keys = _renamed_after_a_sync(pg, db, replica_db, "Ctrl-C", 10)

    def one_pushed():
        return replica_db.execute("SELECT count(*) FROM intercom_fdw.sync_changes WHERE object = 'contacts' "
                                  "AND status = 'done' AND key = ANY(%s) AND new->>'name' LIKE 'Ctrl-C %%'",
                                  (keys,)).fetchone()[0] >= 1

    intercom.knobs(latency_ms=300)
    try:
        out, err, status, seconds = ctrl_c_during(
            [sys.executable, "-m", "intercom_fdw.tools.cli", "sync", "--dsn", pg.dsn(db), "contacts"], one_pushed)
    finally:
        intercom.knobs(latency_ms=0)
    print(f"exit {status} {seconds:.2f} s after Ctrl-C\n{out}\n{err}")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert status == 130 and seconds < 2
    assert "intercom-fdw sync: canceled (Ctrl-C)" in err and "pushed by the next run" in err
    assert _lines(subprocess.CompletedProcess((), status, out, err))["contacts"][1] == "canceled", out
    assert [c for c in open_changes(replica_db) if c["object"] == "contacts"]  # stopped part-way
    assert _cli("--dsn", pg.dsn(db), "contacts").returncode == 0
    assert open_changes(replica_db) == []
    assert {intercom.send("GET", f"/contacts/{k}")["name"] for k in keys} == {f"Ctrl-C {k}" for k in keys}


def test_a_run_whose_cli_was_killed_stops_calling_intercom(pg, db, replica_db, intercom):
    # As replicate's: SIGKILL left the push going on, a change after another, until the second NOTICE after
    # the kill failed. The backend ends within about a second; the next run pushes the rest.
    keys = _renamed_after_a_sync(pg, db, replica_db, "Killed", 5)
    killed_while_calling(replica_db, intercom, [sys.executable, "-m", "intercom_fdw.tools.cli", "sync", "--dsn",
                                                pg.dsn(db), "contacts"], "CALL intercom_fdw.sync")
    assert [c for c in open_changes(replica_db) if c["object"] == "contacts"]  # stopped part-way
    assert _cli("--dsn", pg.dsn(db), "contacts").returncode == 0
    assert {intercom.send("GET", f"/contacts/{k}")["name"] for k in keys} == {f"Killed {k}" for k in keys}


def test_no_object_named_syncs_those_imported_as_the_procedure_does(pg, emulator):
    # As intercom-fdw replicate: given no object, the CLI named all 7, so a server with only contacts
    # failed the other six ('no foreign table ...') and exited 1.
    name = pg.create_database("sync_cli_some_tables", extensions=("multicorn", "plpython3u"))
    with pg.connect(name) as conn:
        setup_database(conn, emulator.url, emulator.token, limit_to=("contacts",))
    done = _cli("--dsn", pg.dsn(name))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert list(_lines(done)) == ["contacts"]
