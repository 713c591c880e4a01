"""Sync of articles, collections, conversations, tickets and ticket types (contacts and companies are in
test_sync.py): each one's local INSERT, UPDATE and (where Intercom allows it) DELETE reach Intercom
through the foreign tables, with the id written back; Intercom's own changes come back; a second sync
writes nothing; an operation Intercom does not allow is refused by the capture trigger."""
import psycopg
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db  # noqa: F401  (fixtures)
from tests.integration.sync_fixtures import changes, local_row, open_changes, sync, writes

pytestmark = pytest.mark.timeout(300)

OBJECTS = ["articles", "collections", "conversations", "tickets", "ticket_types"]


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=37, contacts=20, companies=4, conversations=8, tickets=6, articles=5) as server:
        yield server


@pytest.fixture(scope="module")
def synced(replica_db):
    sync(replica_db, objects=OBJECTS)
    return replica_db


def _one(db, query, *params):
    return db.execute(query, params).fetchone()[0]


def _cases(db, intercom):
    admin = intercom.send("GET", "/admins")["admins"][0]["id"]
    contact = _one(db, "SELECT id FROM intercom.contacts ORDER BY id LIMIT 1")
    ticket_type = _one(db, "SELECT id FROM intercom_replica.ticket_types ORDER BY id LIMIT 1")
    return {
        # object: (insert's columns and values, the column an update changes, Intercom's path and
        #          field of it, whether Intercom deletes it)
        "articles": ({"title": "Sync article", "author_id": admin, "body": "<p>Hi</p>"},
                     "title", "/articles/{}", lambda o: o["title"], True),
        "collections": ({"name": "Sync collection", "description": "made locally"},
                        "name", "/help_center/collections/{}", lambda o: o["name"], True),
        "conversations": ({"source_author_type": "user", "source_author_id": contact, "source_body": "Hello there"},
                          "title", "/conversations/{}", lambda o: o["title"], False),
        "tickets": ({"ticket_type_id": ticket_type, "contacts": psycopg.types.json.Jsonb([{"id": contact}]),
                     "title": "Sync ticket"},
                    "title", "/tickets/{}", lambda o: o["ticket_attributes"]["_default_title_"], False),
        "ticket_types": ({"name": "Sync type", "description": "made locally"},
                         "description", "/ticket_types/{}", lambda o: o["description"], False),
    }


@pytest.mark.parametrize("obj", OBJECTS)
def test_local_insert_update_and_delete_reach_intercom(synced, intercom, obj):
    db = synced
    values, column, path, field, deletes = _cases(db, intercom)[obj]
    names = ", ".join(f'"{c}"' for c in values)
    db.execute(f"INSERT INTO intercom_replica.{obj} ({names}) VALUES ({', '.join(['%s'] * len(values))})",
               tuple(values.values()))
    existing = _one(db, f"SELECT id FROM intercom_replica.{obj} WHERE id NOT LIKE 'local:%%' ORDER BY id LIMIT 1")
    db.execute(f'UPDATE intercom_replica.{obj} SET "{column}" = %s WHERE id = %s', (f"Edited {obj}", existing))
    intercom.reset_counters()
    sync(db, objects=[obj])
    made = [c for c in changes(db, obj) if c["op"] == "insert"][-1]
    assert made["status"] == "done" and made["intercom_id"] and not made["intercom_id"].startswith("local:")
    created = intercom.send("GET", path.format(made["intercom_id"]))
    assert local_row(db, obj, made["intercom_id"]) is not None and local_row(db, obj, made["key"]) is None
    assert field(intercom.send("GET", path.format(existing))) == f"Edited {obj}"
    assert local_row(db, obj, existing)[column] == f"Edited {obj}"
    assert sum(n for route, n in writes(intercom).items() if route.startswith("POST")) == 1, writes(intercom)
    if obj == "conversations":
        assert created["source"]["body"] == "<p>Hello there</p>"
    # Intercom's own change comes back, and a second sync writes nothing
    other = _one(db, f"SELECT id FROM intercom_replica.{obj} WHERE id <> %s ORDER BY id DESC LIMIT 1", existing)
    body = {"ticket_attributes": {"_default_title_": "From Intercom"}} if obj == "tickets" else {column: "From Intercom"}
    intercom.send("PUT", path.format(other), body)
    intercom.reset_counters()
    sync(db, objects=[obj])
    assert writes(intercom) == {} and open_changes(db) == []
    assert local_row(db, obj, other)[column] == "From Intercom"
    if deletes:
        db.execute(f"DELETE FROM intercom_replica.{obj} WHERE id = %s", (made["intercom_id"],))
        sync(db, objects=[obj])
        assert intercom.session.get(intercom.url + path.format(made["intercom_id"]), timeout=30).status_code == 404
    else:
        with pytest.raises(psycopg.errors.FeatureNotSupported) as refused:
            db.execute(f"DELETE FROM intercom_replica.{obj} WHERE id = %s", (existing,))
        assert f"Intercom does not allow delete of {obj}" in refused.value.diag.message_primary
        assert "insert, update" in refused.value.diag.message_hint
    intercom.reset_counters()
    sync(db, objects=[obj])
    assert writes(intercom) == {} and open_changes(db) == []


@pytest.mark.parametrize("obj", ["articles", "collections"])
def test_a_row_deleted_and_inserted_again_with_its_id_is_an_update_not_a_second_object(synced, intercom, obj):
    # DELETE then INSERT of a row with its Intercom id kept (an undo from a copy, a tool that writes by
    # delete + insert) was sent as a create: Intercom kept the object and gained a second one, and the
    # replica, its row renamed to the new id, lost the first for good (unchanged, no run reads it again).
    db = synced
    _, column, path, field, _ = _cases(db, intercom)[obj]
    listed = {"articles": "/articles", "collections": "/help_center/collections"}[obj]
    before = len(intercom.send("GET", listed, per_page=150)["data"])
    undone, edited = [r[0] for r in db.execute(
        f"SELECT id FROM intercom_replica.{obj} WHERE id NOT LIKE 'local:%%' ORDER BY id LIMIT 2").fetchall()]
    kept = _one(db, f'SELECT "{column}" FROM intercom_replica.{obj} WHERE id = %s', undone)
    for key, value in ((undone, kept), (edited, f"Put back {obj}")):
        db.execute(f"DELETE FROM intercom_replica.{obj} WHERE id = %s", (key,))
        db.execute(f'INSERT INTO intercom_replica.{obj} (id, "{column}") VALUES (%s, %s)', (key, value))
    intercom.reset_counters()
    sync(db, objects=[obj])
    assert writes(intercom) == {f"PUT {path.format('{id}')}": 1}, writes(intercom)
    assert len(intercom.send("GET", listed, per_page=150)["data"]) == before
    assert field(intercom.send("GET", path.format(edited))) == f"Put back {obj}"
    assert field(intercom.send("GET", path.format(undone))) == kept
    for key in (undone, edited):
        row = local_row(db, obj, key)
        assert row is not None and row["created_at"] is not None and row["_deleted_at"] is None, row
    assert open_changes(db) == []
    intercom.reset_counters()
    sync(db, objects=[obj])
    assert writes(intercom) == {} and open_changes(db) == []


def test_a_row_that_refers_to_another_row_made_locally_is_sent_with_that_rows_intercom_id(synced, intercom):
    # An article filed in a collection made locally (parent_id = the collection's local:... id, as
    # INSERT ... RETURNING id gave it), a ticket of a ticket type made locally: articles were pushed
    # before collections and tickets before ticket types, and the local id itself was sent, so both
    # were rejected on every run ('local:...' is no Intercom id), even once the parent existed.
    db = synced
    admin = intercom.send("GET", "/admins")["admins"][0]["id"]
    contact = _one(db, "SELECT id FROM intercom.contacts ORDER BY id LIMIT 1")
    collection = _one(db, "INSERT INTO intercom_replica.collections (name) VALUES ('Parent made here') RETURNING id")
    ticket_type = _one(db, "INSERT INTO intercom_replica.ticket_types (name) VALUES ('Type made here') RETURNING id")
    assert collection.startswith("local:") and ticket_type.startswith("local:")
    db.execute("INSERT INTO intercom_replica.articles (title, author_id, parent_id, parent_type) "
               "VALUES ('Child made here', %s, %s, 'collection')", (admin, collection))
    db.execute("INSERT INTO intercom_replica.tickets (ticket_type_id, contacts, title) VALUES (%s, %s, 'Typed here')",
               (ticket_type, psycopg.types.json.Jsonb([{"id": contact}])))
    lookalike = "local:00000000-0000-4000-8000-000000000000"  # a text like a local id, of no row: sent as it is
    db.execute("INSERT INTO intercom_replica.collections (name) VALUES (%s)", (lookalike,))
    sync(db, objects=OBJECTS)
    made = {c["key"]: c["intercom_id"] for c in changes(db) if c["op"] == "insert" and c["status"] == "done"}
    assert [c["name"] for c in intercom.send("GET", "/help_center/collections", per_page=150)["data"]].count(lookalike) == 1
    assert collection in made and ticket_type in made
    article = [a for a in intercom.send("GET", "/articles", per_page=150)["data"] if a["title"] == "Child made here"]
    assert len(article) == 1 and str(article[0]["parent_id"]) == made[collection]
    ticket = intercom.send("POST", "/tickets/search", {"query": {"field": "created_at", "operator": ">", "value": 0},
                                                       "pagination": {"per_page": 150}})["tickets"]
    ticket = [t for t in ticket if t["ticket_attributes"].get("_default_title_") == "Typed here"]
    assert len(ticket) == 1 and str(ticket[0]["ticket_type"]["id"]) == made[ticket_type]
    assert open_changes(db) == []
    assert _one(db, "SELECT parent_id FROM intercom_replica.articles WHERE title = 'Child made here'") == made[collection]


def test_a_row_that_refers_to_a_local_row_not_created_yet_waits_for_it_saying_so(synced, intercom):
    db = synced
    admin = intercom.send("GET", "/admins")["admins"][0]["id"]
    collection = _one(db, "INSERT INTO intercom_replica.collections (description) VALUES ('no name yet') RETURNING id")
    db.execute("INSERT INTO intercom_replica.articles (title, author_id, parent_id, parent_type) "
               "VALUES ('Waits for its collection', %s, %s, 'collection')", (admin, collection))
    with pytest.raises(psycopg.errors.Error) as failed:
        sync(db, objects=["collections", "articles"])
    article = [c for c in open_changes(db) if c["object"] == "articles"]
    assert [c["status"] for c in article] == ["rejected"]
    assert f"refers to {collection}, a row made locally that is not in Intercom yet" in article[0]["error"]
    assert "Waits for its collection" not in str(intercom.send("GET", "/articles", per_page=150))
    db.execute("UPDATE intercom_replica.collections SET name = 'Named now' WHERE id = %s", (collection,))
    sync(db, objects=["collections", "articles"])
    assert open_changes(db) == [] and "collections" in failed.value.diag.message_primary
    made = [c["intercom_id"] for c in changes(db, "collections") if c["key"] == collection][0]
    assert [str(a["parent_id"]) for a in intercom.send("GET", "/articles", per_page=150)["data"]
            if a["title"] == "Waits for its collection"] == [made]
