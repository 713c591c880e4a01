"""tag_contacts and segment_contacts: the contacts of a tag or a segment in one contact search
(POST /contacts/search on tag_id / segment_id), where contact_tags makes one request per contact.
Calls counted by the emulator; EXPLAIN of contact_tags without a contact says which table to use."""
import psycopg
import pytest

pytestmark = pytest.mark.timeout(300)


def _members(api, member, value):
    return sorted(c["id"] for c in api.search_all("/contacts/search", "data",
                                                   {"field": f"{member}_id", "operator": "=", "value": value}))


@pytest.fixture(scope="module")
def busiest_tag(api):
    tags = [t["id"] for t in api.get("/tags")["data"]]
    return max(tags, key=lambda t: len(_members(api, "tag", t)))


def test_contacts_of_a_tag_are_one_search(read_db, api, busiest_tag):
    expected = _members(api, "tag", busiest_tag)
    assert 10 < len(expected) <= 150  # one page of 150
    rows, routes = read_db.calls("SELECT id, tag_id, email FROM intercom.tag_contacts WHERE tag_id = %s",
                                 (busiest_tag,))
    assert sorted(r[0] for r in rows) == expected and {r[1] for r in rows} == {busiest_tag}
    assert routes == {"POST /contacts/search": 1}

    # The same question through contact_tags: one request per contact, plus the contacts list.
    via_children, child_routes = read_db.calls(
        "SELECT contact_id FROM intercom.contact_tags WHERE id = %s", (busiest_tag,))
    assert sorted(r[0] for r in via_children) == expected
    assert child_routes["GET /contacts/{id}/tags"] == len(api.all("/contacts")) > 10 * len(expected)


def test_contacts_of_a_segment_and_of_several_tags(read_db, api):
    segment = api.get("/segments")["segments"][0]["id"]
    rows, routes = read_db.calls("SELECT id FROM intercom.segment_contacts WHERE segment_id = %s", (segment,))
    assert sorted(r[0] for r in rows) == _members(api, "segment", segment)
    assert set(routes) == {"POST /contacts/search"}

    tags = [t["id"] for t in api.get("/tags")["data"]][:2]
    rows, routes = read_db.calls("SELECT tag_id, id FROM intercom.tag_contacts WHERE tag_id = ANY(%s)", (tags,))
    assert sorted(rows) == sorted((t, c) for t in tags for c in _members(api, "tag", t))
    assert sum(routes.values()) == len(tags)  # one search per tag, each under 150 contacts


def test_explain_says_one_search_and_contact_tags_points_to_it(read_db, busiest_tag):
    plan = read_db.explain(f"SELECT id FROM intercom.tag_contacts WHERE tag_id = '{busiest_tag}'")
    assert "one search per tag_id" in plan and "Request: POST /contacts/search" in plan, plan
    verbose = read_db.explain(f"SELECT id FROM intercom.tag_contacts WHERE tag_id = '{busiest_tag}'", verbose=True)
    assert '"field": "tag_id"' in verbose and f'"value": "{busiest_tag}"' in verbose, verbose

    for query in (f"SELECT contact_id FROM intercom.contact_tags WHERE id = '{busiest_tag}'",
                  "SELECT ct.contact_id FROM intercom.tags t JOIN intercom.contact_tags ct ON ct.id = t.id "
                  "WHERE t.name = 'vip'"):
        plan = read_db.explain(query)
        assert "read tag_contacts WHERE tag_id = '...' instead" in plan, plan
    plan = read_db.explain("SELECT contact_id FROM intercom.contact_segments")
    assert "read segment_contacts WHERE segment_id = '...' instead" in plan, plan


def test_a_tag_is_required(read_db):
    with pytest.raises(psycopg.Error) as caught:
        read_db.rows("SELECT id FROM intercom.tag_contacts")
    assert "needs a filter on one of: tag_id" in str(caught.value)
