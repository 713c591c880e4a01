"""INSERT, UPDATE and DELETE through the foreign tables, one test per cell of the DML matrix (README's table), one per
rejected cell, and one per rule. Every write is read back through the foreign tables; rejections
and rule violations are proven to happen before any write call by the emulator's counters.
"""
import json

import pytest
import requests

from intercom_fdw.objects import SPECS
from tests.integration.write_fixtures import wdb, write_emulator  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.timeout(180)

ADMIN = "991100"
TICKET_TYPE_TABLE = "bug_report_tickets"  # ticket type 5500 of the seeded workspace
ALLOWED = {
    "contacts": "IUD", "companies": "IUD", "tags": "IUD", "articles": "IUD", "collections": "IUD",
    "contact_companies": "ID", "contact_subscriptions": "ID", "contact_tags": "ID",
    "conversations": "IU", "tickets": "IU", TICKET_TYPE_TABLE: "IU", "ticket_types": "IU",
    "data_attributes": "I", "notes": "I",
}


def test_the_matrix_is_the_specs():
    from_specs = {t: "".join(op[0].upper() for op in s.writes.operations) for t, s in SPECS.items()
                  if s.writes.operations}
    assert from_specs == {t: ops for t, ops in ALLOWED.items() if t != TICKET_TYPE_TABLE}


def test_every_allowed_cell_has_its_test():
    """Adding a write to a spec needs its test here: test_<operation>_<table>..."""
    names = [name for name in globals() if name.startswith("test_")]
    missing = [f"test_{op}_{table}" for table, spec in SPECS.items() for op in spec.writes.operations
               if not any(name == f"test_{op}_{table}" or name.startswith(f"test_{op}_{table}_") for name in names)]
    assert missing == []


@pytest.fixture
def contact_id(wdb):
    return wdb.one("INSERT INTO intercom.contacts (email) VALUES ('fixture.' || gen_random_uuid() || '@x.io') "
                   "RETURNING id")["id"]


def last_body(wdb, route):
    logged = requests.get(wdb.api.url + "/__emulator/requests", params={"limit": 20}, timeout=30).json()["requests"]
    body = [r for r in logged if r["route"] == route][-1]["body"]
    return json.loads(body) if isinstance(body, str) else body


# --- contacts ---------------------------------------------------------------------------------------

def test_insert_contacts_returns_what_intercom_created(wdb):
    row = wdb.one("INSERT INTO intercom.contacts (email, name, plan_tier, seats, is_vip, trial_ends_at) "
                  "VALUES ('ins@x.io', 'Ins', 'pro', 5, true, '2027-01-02') "
                  "RETURNING id, created_at, role, email_domain, plan_tier")
    assert row["id"] and row["created_at"] and row["role"] == "user" and row["email_domain"] == "x.io"
    back = wdb.one("SELECT email, name, plan_tier, seats, is_vip, trial_ends_at::text FROM intercom.contacts "
                   "WHERE id = %s", (row["id"],))
    assert back == {"email": "ins@x.io", "name": "Ins", "plan_tier": "pro", "seats": 5, "is_vip": True,
                    "trial_ends_at": "2027-01-02"}


def test_update_contacts_sends_only_the_changed_columns(wdb, contact_id):
    wdb.api.reset_counters()
    updated = wdb.one("UPDATE intercom.contacts SET name = 'Renamed', seats = 7 WHERE id = %s "
                      "RETURNING name, seats, updated_at", (contact_id,))
    assert updated["name"] == "Renamed" and updated["seats"] == 7
    assert last_body(wdb, "PUT /contacts/{id}") == {"name": "Renamed", "custom_attributes": {"seats": 7}}
    assert wdb.writes() == {"PUT /contacts/{id}": 1}
    assert wdb.calls()["GET /contacts/{id}"] == 1, "old values come from the UPDATE's own scan"
    assert wdb.one("SELECT name, seats FROM intercom.contacts WHERE id = %s", (contact_id,)) == \
        {"name": "Renamed", "seats": 7}


def test_update_without_change_makes_no_call(wdb, contact_id):
    wdb.api.reset_counters()
    wdb.rows("UPDATE intercom.contacts SET name = name WHERE id = %s", (contact_id,))
    assert wdb.writes() == {}


def test_delete_contacts(wdb, contact_id):
    deleted = wdb.rows("DELETE FROM intercom.contacts WHERE id = %s RETURNING id", (contact_id,))
    assert deleted == [{"id": contact_id}]
    assert wdb.rows("SELECT id FROM intercom.contacts WHERE id = %s", (contact_id,)) == []


# --- companies, tags, articles, collections -----------------------------------------------------------

def test_insert_companies_creates_or_updates_by_company_id(wdb):
    first = wdb.one("INSERT INTO intercom.companies (company_id, name, size, account_tier) "
                    "VALUES ('acme-1', 'Acme', 10, 'gold') RETURNING id, created_at, name")
    again = wdb.one("INSERT INTO intercom.companies (company_id, name) VALUES ('acme-1', 'Acme Inc') RETURNING id")
    assert again["id"] == first["id"]
    back = wdb.one("SELECT name, size, account_tier FROM intercom.companies WHERE id = %s", (first["id"],))
    assert back == {"name": "Acme Inc", "size": 10, "account_tier": "gold"}
    assert len(wdb.rows("SELECT id FROM intercom.companies WHERE company_id = 'acme-1'")) == 1


def test_update_companies(wdb):
    company = wdb.one("INSERT INTO intercom.companies (company_id, name) VALUES ('upd-1', 'U') RETURNING id")["id"]
    wdb.rows("UPDATE intercom.companies SET industry = 'retail', employee_band = 3 WHERE id = %s", (company,))
    assert wdb.one("SELECT industry, employee_band FROM intercom.companies WHERE id = %s", (company,)) == \
        {"industry": "retail", "employee_band": 3}


def test_delete_companies(wdb):
    company = wdb.one("INSERT INTO intercom.companies (company_id, name) VALUES ('del-1', 'D') RETURNING id")["id"]
    assert wdb.rows("DELETE FROM intercom.companies WHERE id = %s RETURNING id", (company,)) == [{"id": company}]
    assert wdb.rows("SELECT id FROM intercom.companies WHERE id = %s", (company,)) == []


def test_insert_tags_by_name_never_duplicates(wdb):
    first = wdb.one("INSERT INTO intercom.tags (name) VALUES ('ins-tag') RETURNING id, name")
    again = wdb.one("INSERT INTO intercom.tags (name) VALUES ('ins-tag') RETURNING id")
    assert again["id"] == first["id"]
    assert wdb.rows("SELECT id FROM intercom.tags WHERE name = 'ins-tag'") == [{"id": first["id"]}]


def test_update_tags_renames(wdb):
    tag = wdb.one("INSERT INTO intercom.tags (name) VALUES ('old-name') RETURNING id")["id"]
    wdb.rows("UPDATE intercom.tags SET name = 'new-name' WHERE id = %s", (tag,))
    assert wdb.one("SELECT name FROM intercom.tags WHERE id = %s", (tag,)) == {"name": "new-name"}


def test_delete_tags(wdb):
    tag = wdb.one("INSERT INTO intercom.tags (name) VALUES ('doomed') RETURNING id")["id"]
    wdb.rows("DELETE FROM intercom.tags WHERE id = %s", (tag,))
    assert wdb.rows("SELECT id FROM intercom.tags WHERE id = %s", (tag,)) == []


def test_insert_articles(wdb):
    row = wdb.one("INSERT INTO intercom.articles (title, body, author_id, state) "
                  f"VALUES ('How to', '<p>x</p>', '{ADMIN}', 'published') RETURNING id, url, created_at")
    assert row["url"] and row["created_at"]
    assert wdb.one("SELECT title, state, author_id FROM intercom.articles WHERE id = %s", (row["id"],)) == \
        {"title": "How to", "state": "published", "author_id": ADMIN}


def test_update_articles(wdb):
    article = wdb.one(f"INSERT INTO intercom.articles (title, author_id) VALUES ('T', '{ADMIN}') RETURNING id")["id"]
    wdb.rows("UPDATE intercom.articles SET title = 'T2', description = 'd' WHERE id = %s", (article,))
    assert wdb.one("SELECT title, description FROM intercom.articles WHERE id = %s", (article,)) == \
        {"title": "T2", "description": "d"}


def test_delete_articles(wdb):
    article = wdb.one(f"INSERT INTO intercom.articles (title, author_id) VALUES ('X', '{ADMIN}') RETURNING id")["id"]
    wdb.rows("DELETE FROM intercom.articles WHERE id = %s", (article,))
    assert wdb.rows("SELECT id FROM intercom.articles WHERE id = %s", (article,)) == []


def test_insert_collections(wdb):
    row = wdb.one("INSERT INTO intercom.collections (name, description) VALUES ('Guides', 'all') "
                  "RETURNING id, url, help_center_id")
    assert row["url"] and row["help_center_id"]
    assert wdb.one("SELECT name, description FROM intercom.collections WHERE id = %s", (row["id"],)) == \
        {"name": "Guides", "description": "all"}


def test_update_collections(wdb):
    collection = wdb.one("INSERT INTO intercom.collections (name) VALUES ('C') RETURNING id")["id"]
    wdb.rows("UPDATE intercom.collections SET name = 'C2' WHERE id = %s", (collection,))
    assert wdb.one("SELECT name FROM intercom.collections WHERE id = %s", (collection,)) == {"name": "C2"}


def test_delete_collections(wdb):
    collection = wdb.one("INSERT INTO intercom.collections (name) VALUES ('gone') RETURNING id")["id"]
    wdb.rows("DELETE FROM intercom.collections WHERE id = %s", (collection,))
    assert wdb.rows("SELECT id FROM intercom.collections WHERE id = %s", (collection,)) == []


# --- child tables: the rowid is the child's id, the parent key comes from the scanned row ---------------

def test_insert_contact_companies(wdb, contact_id):
    company = wdb.one("SELECT id FROM intercom.companies WHERE id = (SELECT min(id) FROM intercom.companies)")["id"]
    row = wdb.one("INSERT INTO intercom.contact_companies (contact_id, id) VALUES (%s, %s) "
                  "RETURNING contact_id, id, name", (contact_id, company))
    assert row["contact_id"] == contact_id and row["id"] == company and row["name"] is not None
    assert wdb.rows("SELECT id FROM intercom.contact_companies WHERE contact_id = %s", (contact_id,)) == \
        [{"id": company}]


def test_delete_contact_companies(wdb, contact_id):
    company = wdb.one("SELECT min(id) AS id FROM intercom.companies")["id"]
    wdb.rows("INSERT INTO intercom.contact_companies (contact_id, id) VALUES (%s, %s)", (contact_id, company))
    wdb.rows("DELETE FROM intercom.contact_companies WHERE contact_id = %s AND id = %s", (contact_id, company))
    assert wdb.rows("SELECT id FROM intercom.contact_companies WHERE contact_id = %s", (contact_id,)) == []


def test_insert_contact_subscriptions(wdb, contact_id):
    wdb.rows("INSERT INTO intercom.contact_subscriptions (contact_id, id, consent_type) VALUES (%s, '3301', 'opt_in')",
             (contact_id,))
    assert {"id": "3301"} in wdb.rows("SELECT id FROM intercom.contact_subscriptions WHERE contact_id = %s",
                                      (contact_id,))


def test_delete_contact_subscriptions(wdb, contact_id):
    wdb.rows("INSERT INTO intercom.contact_subscriptions (contact_id, id, consent_type) VALUES (%s, '3302', 'opt_in')",
             (contact_id,))
    wdb.rows("DELETE FROM intercom.contact_subscriptions WHERE contact_id = %s AND id = '3302'", (contact_id,))
    assert {"id": "3302"} not in wdb.rows("SELECT id FROM intercom.contact_subscriptions WHERE contact_id = %s",
                                          (contact_id,))


def test_insert_contact_tags(wdb, contact_id):
    row = wdb.one("INSERT INTO intercom.contact_tags (contact_id, id) VALUES (%s, '7000') "
                  "RETURNING contact_id, id, name, applied_at", (contact_id,))
    assert row["name"] == "vip" and row["applied_at"] and row["contact_id"] == contact_id
    assert wdb.rows("SELECT id FROM intercom.contact_tags WHERE contact_id = %s", (contact_id,)) == [{"id": "7000"}]


def test_delete_contact_tags_of_several_contacts(wdb):
    contacts = [wdb.one("INSERT INTO intercom.contacts (email) VALUES (%s) RETURNING id", (f"tagged{i}@x.io",))["id"]
                for i in range(3)]
    for contact in contacts:
        wdb.rows("INSERT INTO intercom.contact_tags (contact_id, id) VALUES (%s, '7002')", (contact,))
    # The same tag id for several contacts: each deleted row keeps its own contact_id.
    wdb.rows("DELETE FROM intercom.contact_tags WHERE contact_id = ANY(%s) AND id = '7002'", (contacts[:2],))
    left = wdb.rows("SELECT contact_id FROM intercom.contact_tags WHERE contact_id = ANY(%s) AND id = '7002'",
                    (contacts,))
    assert left == [{"contact_id": contacts[2]}]


# --- conversations, tickets, ticket types ------------------------------------------------------------

def test_insert_conversations(wdb, contact_id):
    row = wdb.one("INSERT INTO intercom.conversations (source_author_type, source_author_id, source_body) "
                  "VALUES ('user', %s, 'Hello') RETURNING id, state, created_at, source_body", (contact_id,))
    assert row["state"] == "open" and row["created_at"] and "Hello" in row["source_body"]
    back = wdb.one("SELECT source_author_id, contacts FROM intercom.conversations WHERE id = %s", (row["id"],))
    assert back["source_author_id"] == contact_id and back["contacts"][0]["id"] == contact_id


def test_update_conversations(wdb, contact_id):
    conversation = wdb.one("INSERT INTO intercom.conversations (source_author_type, source_author_id, source_body) "
                           "VALUES ('user', %s, 'Hi') RETURNING id", (contact_id,))["id"]
    wdb.rows("UPDATE intercom.conversations SET title = 'Billing', read = true, priority_score = 4 WHERE id = %s",
             (conversation,))
    assert wdb.one("SELECT title, read, priority_score FROM intercom.conversations WHERE id = %s",
                   (conversation,)) == {"title": "Billing", "read": True, "priority_score": 4}


def test_insert_tickets(wdb, contact_id):
    row = wdb.one("INSERT INTO intercom.tickets (ticket_type_id, contacts, title) "
                  "VALUES ('5502', jsonb_build_array(jsonb_build_object('id', %s::text)), 'Dark mode') "
                  "RETURNING id, ticket_id, open, ticket_state_category", (contact_id,))
    assert row["open"] is True and row["ticket_id"]
    assert wdb.one("SELECT title, ticket_type_id FROM intercom.tickets WHERE id = %s", (row["id"],)) == \
        {"title": "Dark mode", "ticket_type_id": "5502"}


def test_update_tickets(wdb, contact_id):
    ticket = wdb.one("INSERT INTO intercom.tickets (ticket_type_id, contacts, title) "
                     "VALUES ('5502', jsonb_build_array(jsonb_build_object('id', %s::text)), 'T') RETURNING id",
                     (contact_id,))["id"]
    wdb.rows("UPDATE intercom.tickets SET title = 'T2', ticket_state_id = '4403' WHERE id = %s", (ticket,))
    assert wdb.one("SELECT title, ticket_state_id, open FROM intercom.tickets WHERE id = %s", (ticket,)) == \
        {"title": "T2", "ticket_state_id": "4403", "open": False}


def test_insert_ticket_type_table_fills_ticket_attributes(wdb, contact_id):
    row = wdb.one(f"INSERT INTO intercom.{TICKET_TYPE_TABLE} (contacts, title, affected_users, reproducible) "
                  "VALUES (jsonb_build_array(jsonb_build_object('id', %s::text)), 'Crash', 12, true) "
                  "RETURNING id, ticket_type_id", (contact_id,))
    assert row["ticket_type_id"] == "5500"
    assert last_body(wdb, "POST /tickets")["ticket_attributes"] == {
        "_default_title_": "Crash", "affected_users": 12, "reproducible": True}
    assert last_body(wdb, "POST /tickets")["ticket_type_id"] == "5500"
    assert wdb.one(f"SELECT title, affected_users, reproducible FROM intercom.{TICKET_TYPE_TABLE} WHERE id = %s",
                   (row["id"],)) == {"title": "Crash", "affected_users": 12, "reproducible": True}


def test_update_ticket_type_table(wdb, contact_id):
    ticket = wdb.one(f"INSERT INTO intercom.{TICKET_TYPE_TABLE} (contacts, title) "
                     "VALUES (jsonb_build_array(jsonb_build_object('id', %s::text)), 'Bug') RETURNING id",
                     (contact_id,))["id"]
    wdb.rows(f"UPDATE intercom.{TICKET_TYPE_TABLE} SET affected_users = 99 WHERE id = %s", (ticket,))
    assert last_body(wdb, "PUT /tickets/{id}") == {"ticket_attributes": {"affected_users": 99}}
    assert wdb.one(f"SELECT affected_users FROM intercom.{TICKET_TYPE_TABLE} WHERE id = %s", (ticket,)) == \
        {"affected_users": 99}


def test_insert_ticket_types(wdb):
    row = wdb.one("INSERT INTO intercom.ticket_types (name, description, category) "
                  "VALUES ('Outage', 'down', 'Tracker') RETURNING id, ticket_type_attributes, archived")
    assert row["archived"] is False and {a["name"] for a in row["ticket_type_attributes"]} >= {"_default_title_"}
    assert wdb.one("SELECT name, category FROM intercom.ticket_types WHERE id = %s", (row["id"],)) == \
        {"name": "Outage", "category": "Tracker"}


def test_update_ticket_types(wdb):
    ticket_type = wdb.one("INSERT INTO intercom.ticket_types (name) VALUES ('Temp') RETURNING id")["id"]
    wdb.rows("UPDATE intercom.ticket_types SET description = 'later', archived = true WHERE id = %s", (ticket_type,))
    assert wdb.one("SELECT description, archived FROM intercom.ticket_types WHERE id = %s", (ticket_type,)) == \
        {"description": "later", "archived": True}


# --- data attributes, notes -----------------------------------------------------------------------------

def test_insert_data_attributes(wdb):
    row = wdb.one("INSERT INTO intercom.data_attributes (name, model, data_type, description) "
                  "VALUES ('nps', 'contact', 'integer', 'score') RETURNING id, full_name, custom, created_at")
    assert row["custom"] is True and row["created_at"]
    assert wdb.one("SELECT data_type, description FROM intercom.data_attributes "
                   "WHERE model = 'contact' AND name = 'nps'") == {"data_type": "integer", "description": "score"}


def test_insert_notes(wdb, contact_id):
    row = wdb.one(f"INSERT INTO intercom.notes (contact_id, body, author_id) VALUES (%s, 'Called', '{ADMIN}') "
                  "RETURNING id, created_at, author_id", (contact_id,))
    assert row["author_id"] == ADMIN and row["created_at"]
    assert wdb.rows("SELECT id, body FROM intercom.notes WHERE contact_id = %s", (contact_id,)) == \
        [{"id": row["id"], "body": "<p>Called</p>"}]


# --- rejected cells ---------------------------------------------------------------------------------------

def _rejected_cells():
    tables = sorted(set(SPECS) | {TICKET_TYPE_TABLE})
    return [(t, op) for t in tables for op in "IUD" if op not in ALLOWED.get(t, "")]


REJECTED = _rejected_cells()
# UPDATE of the tables that allow DELETE only is refused at the first row, after the scan's reads:
# PostgreSQL asks for the rowid without saying whether it plans an UPDATE or a DELETE, and both read
# every column when the DELETE has RETURNING *. These need a row to write.
EXISTING_ROW = {
    "contact_companies": "contact_id = (SELECT min(contact_id) FROM intercom.contact_companies "
                         "WHERE contact_id IN (SELECT id FROM intercom.contacts ORDER BY created_at LIMIT 5))",
    "contact_subscriptions": "contact_id = (SELECT min(id) FROM intercom.contacts)",
    "contact_tags": "contact_id = (SELECT contact_id FROM intercom.contact_tags LIMIT 1)",
}


def first_column(wdb, table):
    return wdb.one("SELECT column_name FROM information_schema.columns WHERE table_schema = 'intercom' "
                   "AND table_name = %s ORDER BY ordinal_position LIMIT 1", (table,))["column_name"]


@pytest.mark.parametrize("table,op", REJECTED, ids=[f"{t}-{op}" for t, op in REJECTED])
def test_rejected_cell(wdb, table, op):
    column = first_column(wdb, table)
    where = EXISTING_ROW.get(table) if op == "U" else None
    if where:
        assert wdb.rows(f"SELECT 1 FROM intercom.{table} WHERE {where}"), f"no row in {table} to write"
    statement = {
        "I": f"INSERT INTO intercom.{table} DEFAULT VALUES",
        "U": f'UPDATE intercom.{table} SET "{column}" = "{column}"' + (f" WHERE {where}" if where else ""),
        "D": f"DELETE FROM intercom.{table}",
    }[op]
    verb = {"I": "INSERT", "U": "UPDATE", "D": "DELETE"}[op]
    wdb.api.reset_counters()
    diag = wdb.fails(statement, "not supported by the Intercom API")
    # ticket-type tables are tickets to the API, and their errors say so
    assert verb in diag.message_primary and (table if table in SPECS else "tickets") in diag.message_primary
    assert "allows" in (diag.message_hint or "")
    if where:
        assert wdb.writes() == {}
    else:
        assert wdb.calls() == {}, "rejected before any call"


def test_delete_returning_all_columns_of_an_update_only_table_is_refused_before_any_write(wdb):
    wdb.api.reset_counters()
    wdb.fails("DELETE FROM intercom.conversations WHERE id = (SELECT min(id) FROM intercom.conversations) "
              "RETURNING *", "DELETE on conversations is not supported by the Intercom API")
    assert wdb.writes() == {}


def test_update_joined_with_its_own_table_is_not_taken_for_a_delete(wdb, contact_id):
    conversation = wdb.one("INSERT INTO intercom.conversations (source_author_type, source_author_id, source_body) "
                           "VALUES ('user', %s, 'Hi') RETURNING id", (contact_id,))["id"]
    wdb.rows("UPDATE intercom.conversations c SET title = 'joined' FROM intercom.conversations c2 "
             "WHERE c.id = c2.id AND c2.id = %s", (conversation,))
    assert wdb.one("SELECT title FROM intercom.conversations WHERE id = %s", (conversation,)) == {"title": "joined"}


# --- rules -----------------------------------------------------------------------------------------------

def test_rule_contacts_need_email_or_external_id(wdb):
    wdb.api.reset_counters()
    diag = wdb.fails("INSERT INTO intercom.contacts (name) VALUES ('Nobody')", "email or external_id must be set")
    assert "row 1" in diag.message_primary and diag.message_hint
    assert wdb.calls() == {}


@pytest.mark.parametrize("columns,values,message", [
    ("source_author_type, source_author_id, source_body", "'admin', 'x', 'b'", "not one of user, lead, contact"),
    ("source_author_type, source_body", "'user', 'b'", "source_author_id must be set"),
    ("source_author_type, source_author_id", "'user', 'x'", "source_body must be set"),
])
def test_rule_conversations_need_from_type_from_id_and_body(wdb, columns, values, message):
    wdb.api.reset_counters()
    diag = wdb.fails(f"INSERT INTO intercom.conversations ({columns}) VALUES ({values})", message)
    assert diag.message_hint
    assert wdb.calls() == {}


def test_rule_data_attributes_only_for_contacts_and_companies(wdb):
    wdb.api.reset_counters()
    diag = wdb.fails("INSERT INTO intercom.data_attributes (name, model, data_type) "
                     "VALUES ('x', 'conversation', 'string')", "model is 'conversation', not one of contact, company")
    assert "contacts and companies" in diag.message_hint
    assert wdb.calls() == {}


def test_rule_ticket_type_table_keeps_its_ticket_type(wdb, contact_id):
    wdb.api.reset_counters()
    diag = wdb.fails(f"INSERT INTO intercom.{TICKET_TYPE_TABLE} (ticket_type_id, contacts, title) "
                     "VALUES ('5502', '[]', 'x')", "this table holds the tickets of ticket type 5500")
    assert "ticket_type_id" in diag.message_hint
    assert wdb.calls() == {}


def test_rule_varchar_length_of_the_custom_field_mapping(wdb):
    # Declared text, but Intercom's contact text attributes hold 255 characters (custom_fields.py).
    wdb.rows("CREATE FOREIGN TABLE IF NOT EXISTS intercom.contacts_loose (email text, "
             "plan_tier text OPTIONS (custom_attribute 'plan_tier', data_type 'string')) "
             "SERVER intercom OPTIONS (object 'contacts')")
    wdb.api.reset_counters()
    diag = wdb.fails("INSERT INTO intercom.contacts_loose VALUES ('long@x.io', repeat('x', 256))",
                     "column plan_tier has 256 characters")
    assert "255" in diag.message_primary and "255" in diag.message_hint
    assert wdb.calls() == {}


@pytest.mark.parametrize("statement,column,why", [
    ("INSERT INTO intercom.contacts (email, created_at) VALUES ('ro@x.io', now())", "created_at", "cannot be set"),
    ("INSERT INTO intercom.contacts (email, attrs) VALUES ('ro@x.io', '{}')", "attrs", "read-only"),
    (f"INSERT INTO intercom.{TICKET_TYPE_TABLE} (contacts, title, severity) VALUES ('[]', 'x', 'high')",
     "severity", "read-only"),
    ("INSERT INTO intercom.refund_request_tickets (contacts, title, approved_at) VALUES ('[]', 'x', now())",
     "approved_at", "read-only"),
])
def test_rule_read_only_columns_are_rejected_on_insert(wdb, statement, column, why):
    wdb.api.reset_counters()
    diag = wdb.fails(statement, f"column {column} ")
    assert why in diag.message_primary and column in diag.message_hint
    assert wdb.calls() == {}


def test_rule_read_only_columns_are_rejected_on_update(wdb, contact_id):
    wdb.api.reset_counters()
    diag = wdb.fails("UPDATE intercom.contacts SET email_domain = 'elsewhere.io' WHERE id = %s",
                     "column email_domain cannot be set", (contact_id,))
    assert "writable columns" in diag.message_hint
    assert wdb.writes() == {}


def test_contact_custom_field_update_is_visible_by_id_at_once(wdb, contact_id):
    wdb.knobs(custom_attribute_delay_s=60)
    try:
        wdb.rows("UPDATE intercom.contacts SET plan_tier = 'fresh' WHERE id = %s", (contact_id,))
        assert wdb.one("SELECT plan_tier FROM intercom.contacts WHERE id = %s", (contact_id,)) == \
            {"plan_tier": "fresh"}
        # A full scan reads the list, which (like Intercom's) shows the old value for a while.
        scanned = {r["id"]: r["plan_tier"] for r in wdb.rows("SELECT id, plan_tier FROM intercom.contacts")}
        assert scanned[contact_id] != "fresh"
    finally:
        wdb.knobs(custom_attribute_delay_s=0)


def test_every_write_request_matches_the_openapi_file(wdb):
    """Runs last in this module: the write requests of all the tests above, against Intercom's file."""
    import httpx

    from tests.emulator.openapi_check import INTERCOM_BASE, check_request

    logged = requests.get(wdb.api.url + "/__emulator/requests", params={"limit": 1000}, timeout=30).json()["requests"]
    writes = [r for r in logged if r["method"] != "GET" and not r["path"].endswith(("/search", "/list"))]
    assert len({(r["method"], r["route"]) for r in writes}) >= 20
    for sent in writes:
        check_request(httpx.Request(sent["method"], INTERCOM_BASE + sent["path"], params=sent["query"],
                                    json=sent["body"] if sent["body"] not in (None, "") else None,
                                    headers={"Intercom-Version": "2.14", "Accept": "application/json",
                                             "Authorization": "Bearer checked-elsewhere"}))
