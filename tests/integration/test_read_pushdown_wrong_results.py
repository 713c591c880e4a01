"""Pushdown bugs found by differential fuzzing (pushdown on against 'false', same emulator), each
reproduced before its fix: filters whose pushed form dropped or duplicated rows SQL keeps."""
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.test_read_pushdown import same_as_unpushed


@pytest.fixture(scope="module")
def emulator():
    # A workspace of its own: a test here adds contacts.
    with running_emulator(seed=17, contacts=120, companies=12, conversations=60, tickets=10, articles=4) as server:
        yield server


@pytest.fixture(scope="module")
def contact_owner(api):
    return next(c["owner_id"] for c in api.all("/contacts") if c.get("owner_id") is not None)


@pytest.fixture(scope="module")
def assignee(api):
    return next(c["admin_assignee_id"] for c in api.all("/conversations", items_key="conversations")
                if c.get("admin_assignee_id"))


@pytest.mark.parametrize("shape", ["0{}", " {}", "+{}", "{} ", "{}_0"])
@pytest.mark.parametrize("op", ["<>", "NOT IN", "="])
def test_text_columns_holding_integers_compare_as_text(read_db, contact_owner, assignee, shape, op):
    # int() reads '0990503', ' 990503', '+990503' and '9905_03' as 990503; SQL compares the text.
    for table, column, value in (("contacts", "owner_id", contact_owner),
                                 ("conversations", "admin_assignee_id", assignee)):
        text = shape.format(value)
        where = f"{column} NOT IN (%s)" if op == "NOT IN" else f"{column} {op} %s"
        rows = same_as_unpushed(read_db, f"SELECT id FROM {{schema}}.{table} WHERE {where}", (text,))
        if op != "=":
            assert rows, "every row with an owner differs from a non-canonical spelling"


def test_an_empty_string_in_an_in_list_of_companies_returns_each_company_once(read_db, api):
    company = api.get("/companies", per_page=1)["data"][0]
    for column, value in (("name", company["name"]), ("company_id", company["company_id"])):
        rows = same_as_unpushed(read_db, f"SELECT id FROM {{schema}}.companies WHERE {column} IN (%s, '')", (value,))
        assert len(rows) == 1
        rows = same_as_unpushed(read_db, f"SELECT id FROM {{schema}}.companies WHERE {column} IN (%s, %s)",
                                (value, value.upper()))
        assert len({r[0] for r in rows}) == len(rows)


def test_source_body_is_searched_word_by_word(read_db, api):
    conversation = next(c for c in api.all("/conversations", items_key="conversations")
                        if len((c.get("source") or {}).get("body") or "") > 20)
    body = conversation["source"]["body"]
    text = body.replace("<p>", "").replace("</p>", "")
    words = text.split()
    assert len(words) >= 2, body
    two_words, one_word = " ".join(words[:2]), words[1].strip(".,!?")
    for pattern in (f"%{two_words}%", f"%{one_word}%", f"%{one_word[1:-1]}%", f"%{body[-8:]}", f"{body[:8]}%", body):
        rows = same_as_unpushed(read_db, "SELECT id FROM {schema}.conversations WHERE source_body LIKE %s", (pattern,))
        assert (conversation["id"],) in rows, pattern
    explain = read_db.explain(f"SELECT id FROM intercom.conversations WHERE source_body LIKE '%{one_word}%'")
    assert '"field": "source.body", "operator": "~"' in read_db.explain(
        f"SELECT id FROM intercom.conversations WHERE source_body LIKE '%{one_word}%'", verbose=True), explain
    assert "source.body" not in read_db.explain(
        f"SELECT id FROM intercom.conversations WHERE source_body LIKE '%{two_words}%'", verbose=True)


@pytest.mark.parametrize("pattern", ["%Σ", "%σ%", "ΑΣ", "%İ%", "%ı"])
def test_case_rules_that_depend_on_context_are_left_to_postgresql(read_db, api, pattern):
    # A contact named 'ΑΣ' ends with 'Σ' in SQL; str.lower() makes it 'ας', which does not contain 'σ'.
    contacts = [c for c in api.all("/contacts") if c.get("email")]
    assert contacts
    for name in ("ΑΣ", "ΚΑΙ ΑΣΣ", "Dİyarbakır"):
        if not read_db.rows("SELECT 1 FROM intercom.contacts WHERE name = %s", (name,)):
            api.post("/contacts", {"role": "user", "email": f"{abs(hash(name))}@casing.example.com", "name": name})
    query = "SELECT id FROM {schema}.contacts WHERE name LIKE %s"
    same_as_unpushed(read_db, query, (pattern,))
    assert "Request: POST /contacts/search" not in read_db.explain(
        query.format(schema="intercom").replace("%s", f"'{pattern}'"))


@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns", "UTC"])
def test_timestamp_and_date_constants_are_read_in_the_session_time_zone(read_db, api, zone):
    # PostgreSQL compares timestamptz with a timestamp or date in the session's TimeZone.
    conversation = api.all("/conversations", items_key="conversations")[3]
    contact = api.all("/contacts")[5]
    read_db.conn.execute(f"SET TimeZone = '{zone}'")
    try:
        for table, created in (("conversations", conversation["created_at"]), ("contacts", contact["created_at"])):
            local = read_db.rows("SELECT to_timestamp(%s)::timestamp, to_timestamp(%s)::date", (created, created))[0]
            for where, value in (("created_at = %s::timestamp", local[0]), ("created_at IN (%s::timestamp)", local[0]),
                                 ("created_at = ANY(ARRAY[%s::timestamp])", local[0]),
                                 ("created_at >= %s::timestamp", local[0]), ("created_at <= %s::timestamp", local[0]),
                                 ("created_at >= %s::date", local[1]), ("created_at < %s::date + 1", local[1]),
                                 ("created_at::date = %s", local[1])):
                rows = same_as_unpushed(read_db, f"SELECT id FROM {{schema}}.{table} WHERE {where}", (value,))
                assert rows, (table, where, value)
    finally:
        read_db.conn.execute("RESET TimeZone")
