"""Filter columns for the API's membership filters, through PostgreSQL: companies' tag_id and
segment_id (GET /companies?tag_id=...), conversations' tag_id and contact_id and tickets'
contact_id (search on tag_ids / contact_ids). Calls counted by the emulator; rows compared with the
twin server that has pushdown 'false', which reads everything and marks members from each
object's embedded list."""
import pytest

from tests.integration.test_read_pushdown import same_as_unpushed

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def companies(api):
    return api.scroll_all("/companies/scroll")


def carrying(companies, members, wanted):
    return sorted(c["id"] for c in companies if wanted in [m["id"] for m in c[members][members]])


def test_companies_by_tag_are_one_filtered_list(read_db, companies):
    tag = next(c for c in companies if c["tags"]["tags"])["tags"]["tags"][0]["id"]
    query = "SELECT id, tag_id FROM {schema}.companies WHERE tag_id = %s"
    plan = read_db.explain(query.format(schema="intercom").replace("%s", f"'{tag}'"))
    assert f"Request: GET /companies?tag_id={tag} (page paging" in plan, plan
    assert f"tag_id is '{tag}' where the row's tags.tags holds that id, else NULL" in plan
    rows, routes = read_db.calls(query.format(schema="intercom"), (tag,))
    assert sorted(r[0] for r in rows) == carrying(companies, "tags", tag) and {r[1] for r in rows} == {tag}
    assert set(routes) == {"GET /companies"}
    assert rows and sorted(rows) == sorted(same_as_unpushed(read_db, query, (tag,)))


def test_companies_by_segment_and_by_several_tags(read_db, companies):
    segment = next(c for c in companies if c["segments"]["segments"])["segments"]["segments"][0]["id"]
    query = "SELECT id, segment_id FROM {schema}.companies WHERE segment_id = %s"
    rows, routes = read_db.calls(query.format(schema="intercom"), (segment,))
    assert sorted(r[0] for r in rows) == carrying(companies, "segments", segment) and set(routes) == {"GET /companies"}
    assert sorted(rows) == sorted(same_as_unpushed(read_db, query, (segment,)))
    # a company carrying both tags comes back once (one filtered list per tag)
    both = next(c for c in companies if len(c["tags"]["tags"]) > 1)["tags"]["tags"]
    tags = [both[0]["id"], both[1]["id"]]
    query = "SELECT id, tag_id FROM {schema}.companies WHERE tag_id = ANY(%s)"
    rows = same_as_unpushed(read_db, query, (tags,))
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == len(set(carrying(companies, "tags", tags[0]) + carrying(companies, "tags", tags[1])))


def test_a_join_on_tag_id_is_one_filtered_list_per_tag(read_db, companies):
    tags = sorted({t["id"] for c in companies for t in c["tags"]["tags"]})[:3]
    read_db.conn.execute("CREATE TABLE my_tags (tag_id text PRIMARY KEY)")
    with read_db.conn.cursor() as cursor:
        cursor.executemany("INSERT INTO my_tags VALUES (%s)", [(t,) for t in tags])
    read_db.conn.execute("ANALYZE my_tags")
    query = "SELECT m.tag_id, c.id FROM my_tags m JOIN {schema}.companies c ON c.tag_id = m.tag_id"
    plan = read_db.explain(query.format(schema="intercom"))
    # the parameterized scan shows the request each outer row makes
    assert "Nested Loop" in plan and "Request: GET /companies?tag_id=$param" in plan, plan
    assert "Expected API calls: about 1 per execution" in plan, plan
    rows, routes = read_db.calls(query.format(schema="intercom"))
    assert routes == {"GET /companies": len(tags)}
    assert sorted(rows) == sorted(same_as_unpushed(read_db, query))
    assert sorted(rows) == sorted((t, c) for t in tags for c in carrying(companies, "tags", t))


def test_no_condition_leaves_the_filter_columns_null(read_db):
    assert read_db.rows("SELECT count(*) FROM intercom.companies WHERE tag_id IS NOT NULL OR segment_id IS NOT NULL") \
        == [(0,)]


@pytest.mark.parametrize("table,column,members", [
    ("conversations", "contact_id", "contacts"), ("conversations", "tag_id", "tags"),
    ("conversations", "teammate_id", "teammates"), ("tickets", "contact_id", "contacts"),
])
def test_search_membership_columns_match_unpushed(read_db, api, table, column, members):
    everything = api.search_all(f"/{table}/search", table, {"field": "created_at", "operator": ">", "value": 0})
    wanted = next(o[members][members][0]["id"] for o in everything if o[members][members])
    query = f"SELECT id, {column} FROM {{schema}}.{table} WHERE {column} = %s"
    rows, routes = read_db.calls(query.format(schema="intercom"), (wanted,))
    assert routes == {f"POST /{table}/search": 1}
    assert sorted(r[0] for r in rows) == sorted(
        o["id"] for o in everything if wanted in [m["id"] for m in o[members][members]])
    assert sorted(rows) == sorted(same_as_unpushed(read_db, query, (wanted,)))
