"""`intercom-fdw replicate` as a user runs it: progress per object, a summary table, the exit status."""
import subprocess
import sys

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import replica_db, state  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=31, contacts=60, companies=8, conversations=10, tickets=6, articles=5) as server:
        yield server


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "intercom_fdw.tools.cli", "replicate", *args],
                          capture_output=True, text=True, timeout=100)


def test_replicates_with_progress_and_a_summary(pg, db, replica_db):
    done = _cli("--dsn", pg.dsn(db), "--progress", "always", "contacts", "notes", "segments")
    assert done.returncode == 0, done.stderr
    header, rule, *lines = done.stdout.splitlines()
    assert header.split()[:3] == ["object", "status", "rows_read"]
    assert [line.split()[:2] for line in lines] == [["contacts", "succeeded"], ["segments", "succeeded"],
                                                     ["notes", "succeeded"]]
    assert "contacts" in done.stderr and "calls=" in done.stderr and "rows" in done.stderr
    assert state(replica_db)["contacts"]["rows_inserted"] == 60


def test_full_and_reconcile_and_another_schema(pg, db, replica_db):
    assert _cli("--dsn", pg.dsn(db), "--schema", "cli_copy", "--full", "segments").returncode == 0
    assert state(replica_db, "cli_copy")["segments"]["mode"] == "full"
    assert _cli("--dsn", pg.dsn(db), "--schema", "cli_copy", "--reconcile", "--delete", "segments").returncode == 0
    assert state(replica_db, "cli_copy")["segments"]["mode"] == "reconcile"


def test_a_failed_object_makes_the_exit_status_non_zero(pg, db, replica_db):
    done = _cli("--dsn", pg.dsn(db), "--schema", "cli_orphan", "segments", "company_segments")
    assert done.returncode == 1
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[2:]}
    assert "succeeded" in lines["segments"] and "failed" in lines["company_segments"]
    assert "replicate companies first" in lines["company_segments"]
    assert "1 of 2 objects failed: company_segments" in done.stderr
