"""Calls are proportional to changes: an incremental contacts run reads the search newest first and
stops at the cursor, so after 320 of 5,000 contacts changed it makes ceil(320 / 150) calls plus at
most two (the page where it stops, and the page the client reads ahead), and no other request; a run
without changes makes one call. (bench/replicate.py prints the figure for 1% of 100,000 contacts.)"""
import datetime
import math
import random
import time

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db, replicate, state  # noqa: F401

pytestmark = pytest.mark.timeout(240)
CONTACTS = 5000
CHANGED = 320


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
    # what the cursor's 15 minutes of search lag re-read (the day-granular bound of an ascending
    # search would re-read two days)
    overlap = replica_db.execute(
        "SELECT count(*) FROM intercom_replica.contacts WHERE updated_at >= %s - interval '15 minutes'",
        (cursor,)).fetchone()[0]
    two_days = replica_db.execute(
        "SELECT count(*) FROM intercom_replica.contacts WHERE updated_at >= %s - interval '2 days 15 minutes'",
        (cursor,)).fetchone()[0]
    ids = [r[0] for r in replica_db.execute("SELECT id FROM intercom_replica.contacts").fetchall()]
    changed = random.Random(1).sample(ids, CHANGED)
    for number, contact_id in enumerate(changed):
        if number == len(changed) - 10:
            time.sleep(1.1)  # the last 10 in a second of their own (the quiet run below reads that second)
        intercom.send("PUT", f"/contacts/{contact_id}", {"name": "Changed"})
    intercom.reset_counters()
    replicate(replica_db, objects=["contacts"])
    run = state(replica_db)["contacts"]
    calls = intercom.calls()
    print(f"\n{CONTACTS} contacts, {len(changed)} changed, {overlap} within the search lag below the cursor "
          f"({two_days} within 2 days): {run['api_calls']} calls (ceil(changed / 150) = "
          f"{math.ceil(len(changed) / 150)}), {run['rows_read']} rows read, {run['rows_updated']} updated")
    assert run["rows_updated"] == len(changed) and run["rows_inserted"] == 0
    assert run["rows_read"] <= len(changed) + overlap
    # the page read ahead when the read stopped at the cursor may be counted by one side only: sent
    # after the run counted its calls, or counted by the client and abandoned before it reached Intercom
    assert set(calls["by_route"]) == {"POST /contacts/search"}
    assert abs(run["api_calls"] - calls["total"]) <= 1
    assert calls["total"] <= math.ceil(len(changed) / 150) + 2
    # nothing changed since: the cursor stays 15 minutes (the search lag) below the last run's start,
    # so it reads again the changes just made (one may not have been in the search yet), then stops
    after = state(replica_db)["contacts"]
    # (floored to the second: Intercom stamps whole seconds)
    assert after["cursor"] == (after["run_started_at"] - datetime.timedelta(minutes=15)).replace(microsecond=0)
    lag = replica_db.execute("SELECT count(*) FROM intercom_replica.contacts WHERE updated_at >= %s",
                             (after["cursor"],)).fetchone()[0]
    intercom.reset_counters()
    replicate(replica_db, objects=["contacts"])
    again = state(replica_db)["contacts"]
    print(f"no change: {again['api_calls']} calls, {again['rows_read']} rows read ({lag} within the lag)")
    assert again["rows_updated"] == again["rows_inserted"] == 0 and again["rows_read"] == lag
    total = intercom.calls()["total"]
    assert abs(total - again["api_calls"]) <= 1 and max(total, again["api_calls"]) <= math.ceil((lag + 1) / 150) + 1
    # 15 minutes without a change put the cursor at the newest change (least(newest, start - lag));
    # the test cannot wait them out, so it puts the cursor there: it reads only the rows of that
    # second (the last 10 changes): one page
    newest = replica_db.execute("SELECT max(updated_at) FROM intercom_replica.contacts").fetchone()[0]
    replica_db.execute("UPDATE intercom_fdw.replication_state SET cursor = %s "
                       "WHERE object = 'contacts' AND target_schema = 'intercom_replica'", (newest,))
    intercom.reset_counters()
    replicate(replica_db, objects=["contacts"])
    quiet = state(replica_db)["contacts"]
    ties = replica_db.execute("SELECT count(*) FROM intercom_replica.contacts WHERE updated_at >= %s",
                              (newest,)).fetchone()[0]
    print(f"quiet: {quiet['api_calls']} calls, {quiet['rows_read']} rows read ({ties} at the newest second)")
    assert quiet["rows_read"] == ties < lag
    assert intercom.calls()["total"] == quiet["api_calls"] == 1
