"""A synced table whose foreign table gained a column after its capture trigger was installed: a new
custom attribute in Intercom, then IMPORT FOREIGN SCHEMA again, and the column reaches the replica
(replicate() adds it, or the user's ALTER TABLE) before the next sync installs the trigger again.
An edit of that column is captured and the next sync sends it; a column Intercom cannot set, or one
the foreign table does not have, is still refused when it is made. A change captured for a column
the foreign table has lost since (an attribute archived, the schema imported again) is rejected by
the push saying so and how to send the rest."""
import psycopg
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db, replicate  # noqa: F401  (fixtures)
from tests.integration.sync_fixtures import all_of, local_row, open_changes, sync, sync_fails

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=44, contacts=10, companies=2, conversations=2, tickets=2, articles=2) as server:
        yield server


@pytest.fixture(scope="module")
def synced(replica_db):
    sync(replica_db, objects=["contacts"])
    return replica_db


def _contact(db, n):
    return db.execute("SELECT id FROM intercom_replica.contacts WHERE id NOT LIKE 'local:%%' ORDER BY id "
                      "OFFSET %s LIMIT 1", (n,)).fetchone()[0]


def _imported_again(db):
    db.execute("DROP FOREIGN TABLE intercom.contacts")
    db.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts) FROM SERVER intercom INTO intercom")


def _foreign_has(db, name):
    return db.execute("SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'intercom.contacts'::regclass "
                      "AND attname = %s AND NOT attisdropped", (name,)).fetchone()[0]


def _new_attribute_imported(db, intercom, name):
    """A custom attribute Intercom gains, and the contacts foreign table imported again with it."""
    made = intercom.send("POST", "/data_attributes", {"name": name, "model": "contact", "data_type": "string"})
    _imported_again(db)
    assert _foreign_has(db, name)
    return made["id"]


def test_an_edit_of_a_column_imported_after_the_trigger_is_captured_and_sent(synced, intercom):
    # Before: the trigger installed by the first sync knew only the columns of that time, and refused
    # the edit ("Intercom's API cannot change loyalty_tier of contacts"), though the API sets it and
    # the sync after would have sent it; the insert likewise.
    db = synced
    _new_attribute_imported(db, intercom, "loyalty_tier")
    replicate(db, objects=["contacts"])  # a scheduled replicate() adds the column to the replica
    key = _contact(db, 0)
    db.execute("UPDATE intercom_replica.contacts SET loyalty_tier = 'gold' WHERE id = %s", (key,))
    db.execute("INSERT INTO intercom_replica.contacts (email, loyalty_tier) VALUES ('tiered@example.com', 'silver')")
    assert [(c["op"], (c["new"] or {}).get("loyalty_tier")) for c in open_changes(db)] \
        == [("update", "gold"), ("insert", "silver")]
    sync(db, objects=["contacts"])
    assert intercom.send("GET", f"/contacts/{key}")["custom_attributes"]["loyalty_tier"] == "gold"
    [made] = [c for c in all_of(intercom, "/contacts") if c["email"] == "tiered@example.com"]
    assert made["custom_attributes"]["loyalty_tier"] == "silver"
    assert local_row(db, "contacts", key)["loyalty_tier"] == "gold"
    assert local_row(db, "contacts", made["id"])["loyalty_tier"] == "silver"
    assert open_changes(db) == []


def test_a_column_the_user_adds_to_the_replica_before_any_run_is_captured_and_sent(synced, intercom):
    db = synced
    _new_attribute_imported(db, intercom, "plan_level")
    db.execute("ALTER TABLE intercom_replica.contacts ADD COLUMN plan_level text")
    key = _contact(db, 1)
    db.execute("UPDATE intercom_replica.contacts SET plan_level = 'pro' WHERE id = %s", (key,))
    assert [c["new"] for c in open_changes(db)] == [{"plan_level": "pro"}]
    sync(db, objects=["contacts"])
    assert intercom.send("GET", f"/contacts/{key}")["custom_attributes"]["plan_level"] == "pro"
    assert local_row(db, "contacts", key)["plan_level"] == "pro"
    assert open_changes(db) == []


def test_a_local_column_and_a_column_the_api_cannot_set_are_still_refused_when_made(synced, intercom):
    db = synced
    db.execute("ALTER TABLE intercom_replica.contacts ADD COLUMN my_note text")
    key = _contact(db, 2)
    try:
        with pytest.raises(psycopg.errors.FeatureNotSupported) as refused:
            db.execute("UPDATE intercom_replica.contacts SET my_note = 'ours' WHERE id = %s", (key,))
        assert "cannot change my_note of contacts" in refused.value.diag.message_primary
        assert "the columns an update sets:" in refused.value.diag.message_hint
        with pytest.raises(psycopg.errors.FeatureNotSupported) as refused:
            db.execute("UPDATE intercom_replica.contacts SET email_domain = 'example.org' WHERE id = %s", (key,))
        assert "cannot change email_domain of contacts" in refused.value.diag.message_primary
    finally:
        db.execute("ALTER TABLE intercom_replica.contacts DROP COLUMN my_note")
    assert open_changes(db) == []


def test_a_change_of_a_column_the_foreign_table_lost_since_is_rejected_with_the_way_out(synced, intercom):
    # Before: the trigger (installed while the column was imported) captured the edit, and every sync
    # then rejected it with PostgreSQL's 'column "region_code" of relation "contacts" does not exist',
    # with no way out but deleting the row (the trigger installed again refuses the column, so the
    # edit cannot be undone as a change).
    db = synced
    attribute = _new_attribute_imported(db, intercom, "region_code")
    sync(db, objects=["contacts"])  # the column reaches the replica; the trigger knows it
    intercom.send("PUT", f"/data_attributes/{attribute}", {"archived": True})
    _imported_again(db)
    assert not _foreign_has(db, "region_code")
    key = _contact(db, 3)
    db.execute("UPDATE intercom_replica.contacts SET region_code = 'EU', name = 'Kept Name' WHERE id = %s", (key,))
    diag = sync_fails(db, objects=["contacts"])
    [change] = [c for c in open_changes(db) if c["key"] == key]
    assert change["status"] == "rejected"
    assert change["error"].startswith("Intercom's API cannot change region_code of contacts through "
                                      "intercom.contacts as it is now (region_code: no such column of it any "
                                      "more): the change cannot be sent"), change["error"]
    assert "region_code" in diag.message_detail
    fix = change["error"].split("drop those columns from it: ")[1].split("; or import")[0]
    assert fix == ("UPDATE intercom_fdw.sync_changes SET new = new - ARRAY['region_code'], old = old - "
                   f"ARRAY['region_code'] WHERE change_id IN ({change['change_id']})"), fix
    assert intercom.send("GET", f"/contacts/{key}")["name"] != "Kept Name"  # nothing of the change was sent
    db.execute(fix)
    sync(db, objects=["contacts"])
    assert intercom.send("GET", f"/contacts/{key}")["name"] == "Kept Name"
    assert open_changes(db) == []
