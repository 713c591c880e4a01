"""`intercom-fdw sync` as a user runs it: progress per object, a summary table, the exit status."""
import subprocess
import sys

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db  # noqa: F401  (fixtures)

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
