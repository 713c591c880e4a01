"""Calls are proportional to changes: an incremental contacts run after 1% of 5,000 contacts changed
reads one search page per 150 changed contacts (plus the overlap it re-reads) and no other request.
(bench/replicate.py prints the same figure for 100,000 contacts.)"""
import math
import random

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db, replicate, state  # noqa: F401

pytestmark = pytest.mark.timeout(240)
CONTACTS = 5000


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=41, contacts=CONTACTS, companies=5, conversations=5, tickets=3, articles=3) as server:
        yield server


def test_incremental_contacts_cost_one_call_per_150_changes(replica_db, intercom):
    replica_db.execute("SET intercom_fdw.replicate_window_rows = 1500")  # several windows of 10 pages
    replicate(replica_db, objects=["contacts"])
    first = state(replica_db)["contacts"]
    assert first["rows_inserted"] == CONTACTS and first["windows"] >= 3  # committed window by window
    cursor = first["cursor"]
    overlap = replica_db.execute(
        "SELECT count(*) FROM intercom_replica.contacts WHERE updated_at >= %s - interval '2 days 15 minutes'",
        (cursor,)).fetchone()[0]
    ids = [r[0] for r in replica_db.execute("SELECT id FROM intercom_replica.contacts").fetchall()]
    changed = random.Random(1).sample(ids, CONTACTS // 100)
    for contact_id in changed:
        intercom.send("PUT", f"/contacts/{contact_id}", {"name": "Changed"})
    intercom.reset_counters()
    replicate(replica_db, objects=["contacts"])
    run = state(replica_db)["contacts"]
    calls = intercom.calls()
    print(f"\n{CONTACTS} contacts, {len(changed)} changed, {overlap} re-read in the overlap: "
          f"{run['api_calls']} calls (ceil(changed / 150) = {math.ceil(len(changed) / 150)}), "
          f"{run['rows_read']} rows read, {run['rows_updated']} updated")
    assert run["rows_updated"] == len(changed) and run["rows_inserted"] == 0
    assert run["rows_read"] <= len(changed) + overlap
    assert calls["by_route"] == {"POST /contacts/search": run["api_calls"]}
    assert run["api_calls"] <= math.ceil((len(changed) + overlap) / 150) + 1
    # nothing changed since: the overlap (the last 2 days, the 50 changes included) is all it reads
    intercom.reset_counters()
    replicate(replica_db, objects=["contacts"])
    again = state(replica_db)["contacts"]
    assert again["rows_updated"] == again["rows_inserted"] == 0
    assert intercom.calls()["total"] == again["api_calls"] <= run["api_calls"]
