"""Replication against Intercom's clock: whole-second stamps next to the database's microseconds, and
a workspace clock set apart from the database's (the emulator's clock_offset_s knob)."""
import math
import time

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db, replicate, state  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=53, contacts=40, companies=6, conversations=8, tickets=4, articles=4) as server:
        yield server


def test_a_change_stamped_in_the_second_the_cursor_stops_in_is_read_by_the_next_run(replica_db, intercom):
    # A search object's cursor stays the search lag (15 min) below the run's start, a time with
    # microseconds, while Intercom stamps whole seconds: a contact created in that second but just after
    # it (stamped with the second, so below the cursor), which the search did not show yet, was never
    # read, since the next run stops at the first row older than the cursor.
    db = replica_db
    replicate(db, objects=["contacts"])
    try:
        with db.transaction():  # the run's start is this transaction's now(), known before the run
            start = db.execute("SELECT extract(epoch FROM now())::float8").fetchone()[0]
            if start == math.floor(start):
                pytest.skip("the run starts on a whole second: no part of a second to fall into")
            changed = db.execute("SELECT id FROM intercom.contacts ORDER BY id LIMIT 1").fetchone()[0]
            intercom.send("PUT", f"/contacts/{changed}", {"name": "Changed Now"})  # newer than the cursor
            # the workspace clock at the second the cursor falls in (start - 15 min, floored)
            second = math.floor(start - 900)
            intercom.knobs(search_index_delay_s=3600, clock_offset_s=second + 0.5 - time.time())
            late = intercom.send("POST", "/contacts", {"email": "in-the-cursors-second@example.com"})
            intercom.knobs(clock_offset_s=0)
            assert late["created_at"] == late["updated_at"] == second
            replicate(db, objects=["contacts"])
        cursor = db.execute("SELECT extract(epoch FROM cursor) FROM intercom_fdw.replication_state "
                            "WHERE object = 'contacts' AND target_schema = 'intercom_replica'").fetchone()[0]
        assert cursor <= second
    finally:
        intercom.knobs(search_index_delay_s=0, clock_offset_s=0)  # the pending contact reaches the search
    replicate(db, objects=["contacts"])
    assert db.execute("SELECT count(*) FROM intercom_replica.contacts WHERE id = %s", (late["id"],)).fetchone()[0] == 1
    assert state(db)["contacts"]["status"] == "succeeded"
