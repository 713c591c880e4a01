"""The search grammar over HTTP: operators per field type, nesting, limits, dates by calendar day."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest


def _search(api, query, path="/contacts/search", per_page=150, **extra):
    return api.post(path, json={"query": query, "pagination": {"per_page": per_page}, **extra})


def _all_contacts(api):
    out, cursor = [], None
    while True:
        page = api.get("/contacts", params={"per_page": 150, **({"starting_after": cursor} if cursor else {})}).json()
        out += page["data"]
        cursor = (page["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            return out


def _ids(response):
    body = response.json()
    assert response.status_code == 200, body
    return {item["id"] for item in body.get("data", body.get("conversations", body.get("tickets")))}


def test_string_operators(api):
    contacts = _all_contacts(api)
    email = contacts[0]["email"]
    assert _ids(_search(api, {"field": "email", "operator": "=", "value": email})) == {contacts[0]["id"]}
    domain = contacts[0]["email_domain"]
    assert _ids(_search(api, {"field": "email", "operator": "$", "value": domain})) == {
        c["id"] for c in contacts if c["email"].endswith(domain)}
    first = contacts[0]["name"].split()[0]
    assert _ids(_search(api, {"field": "name", "operator": "^", "value": first})) == {
        c["id"] for c in contacts if c["name"].lower().startswith(first.lower())}
    assert _ids(_search(api, {"field": "name", "operator": "~", "value": "an"})) == {
        c["id"] for c in contacts if "an" in c["name"].lower()}
    leads = {c["id"] for c in contacts if c["role"] == "lead"}
    assert _ids(_search(api, {"field": "role", "operator": "!=", "value": "user"})) == leads
    assert _ids(_search(api, {"field": "role", "operator": "IN", "value": ["lead"]})) == leads
    assert _ids(_search(api, {"field": "role", "operator": "NIN", "value": ["user"]})) == leads


def test_integer_and_boolean_operators(api):
    contacts = _all_contacts(api)
    owned = [c for c in contacts if c["owner_id"] is not None]
    owner = owned[0]["owner_id"]
    assert _ids(_search(api, {"field": "owner_id", "operator": ">=", "value": owner})) == {
        c["id"] for c in owned if c["owner_id"] >= owner}
    assert _ids(_search(api, {"field": "unsubscribed_from_emails", "operator": "=", "value": True})) == {
        c["id"] for c in contacts if c["unsubscribed_from_emails"]}
    seats = {c["id"] for c in contacts if c["custom_attributes"].get("seats", -1) > 250}
    assert _ids(_search(api, {"field": "custom_attributes.seats", "operator": ">", "value": 250})) == seats


def test_nested_and_or(api):
    contacts = _all_contacts(api)
    query = {"operator": "AND", "value": [
        {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "lead"},
                                     {"field": "browser", "operator": "=", "value": "firefox"}]},
        {"operator": "OR", "value": [{"field": "os", "operator": "!=", "value": "Linux"}]}]}
    expected = {c["id"] for c in contacts if (c["role"] == "lead" or c["browser"] == "firefox") and c["os"] != "Linux"}
    assert _ids(_search(api, query)) == expected


def test_nesting_deeper_than_two_levels_is_refused(api):
    leaf = {"field": "role", "operator": "=", "value": "lead"}
    too_deep = {"operator": "AND", "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [leaf]}]}]}
    response = _search(api, too_deep)
    assert response.status_code == 400 and "Nested" in response.json()["errors"][0]["message"]
    assert response.json()["type"] == "error.list"


def test_more_than_fifteen_filters_in_a_group_is_refused(api):
    leaf = {"field": "role", "operator": "=", "value": "lead"}
    assert _search(api, {"operator": "OR", "value": [leaf] * 15}).status_code == 200
    response = _search(api, {"operator": "OR", "value": [leaf] * 16})
    assert response.status_code == 400 and "15" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("operator", ["!=", ">=", "<=", "IN", "NIN", "~"])
def test_date_fields_accept_only_equal_less_greater(api, operator):
    value = [1] if operator in ("IN", "NIN") else 1_700_000_000
    response = _search(api, {"field": "created_at", "operator": operator, "value": value})
    assert response.status_code == 400 and "created_at" in response.json()["errors"][0]["message"]


def test_tag_id_takes_only_equal_and_not_equal(api):
    contacts = _all_contacts(api)
    tag_id = next(c["tags"]["data"][0]["id"] for c in contacts if c["tags"]["data"])
    assert _search(api, {"field": "tag_id", "operator": "=", "value": tag_id}).status_code == 200
    assert _search(api, {"field": "tag_id", "operator": "IN", "value": [tag_id]}).status_code == 400


def test_wrong_value_types_and_unknown_fields_are_refused(raw_api):
    api = raw_api
    assert _search(api, {"field": "created_at", "operator": "=", "value": "foobar"}).status_code == 400
    assert _search(api, {"field": "no_such_field", "operator": "=", "value": "x"}).status_code == 400
    assert _search(api, {"field": "custom_attributes.nope", "operator": "=", "value": "x"}).status_code == 400
    assert _search(api, {"field": "email", "operator": "LIKE", "value": "x"}).status_code == 400
    assert api.post("/contacts/search", json={"pagination": {"per_page": 5}}).status_code == 400


@pytest.mark.parametrize("value", [253402300799 + 2 * 86400, -62135596800 - 2 * 86400, 253402300799])
def test_a_contact_date_that_is_no_day_of_years_1_to_9999_is_a_400(raw_api, value):
    # The day of 9999-12-31 ends in year 10000: no date to compare by day (a 500 before).
    for operator in ("=", "<", ">"):
        response = _search(raw_api, {"field": "created_at", "operator": operator, "value": value})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["type"] == "error.list" and body["request_id"], body
        assert body["errors"][0]["code"] == "parameter_invalid" and "created_at" in body["errors"][0]["message"]


def _day_bounds(ts, tz):
    local = dt.datetime.fromtimestamp(ts, tz)
    start = dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    nxt = start.date() + dt.timedelta(days=1)
    return start.timestamp(), dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()


@pytest.mark.parametrize("timezone", ["UTC", "Pacific/Auckland"])
def test_dates_compare_by_calendar_day_in_the_workspace_time_zone(papi, admin_client, timezone):
    assert admin_client.patch("/__emulator/config", json={"timezone": timezone}).status_code == 200
    tz = ZoneInfo(timezone)
    contacts = _all_contacts(papi)
    pivot = sorted(c["created_at"] for c in contacts)[150]
    start, end = _day_bounds(pivot, tz)
    assert _ids(_search(papi, {"field": "created_at", "operator": "=", "value": pivot})) == {
        c["id"] for c in contacts if start <= c["created_at"] < end}
    # `>` starts at the next day: contacts later on the same day are not matched.
    assert _ids(_search(papi, {"field": "created_at", "operator": ">", "value": pivot})) == {
        c["id"] for c in contacts if c["created_at"] >= end}
    assert _ids(_search(papi, {"field": "created_at", "operator": "<", "value": pivot})) == {
        c["id"] for c in contacts if c["created_at"] < start}


def test_search_pagination_and_sort(api):
    query = {"field": "role", "operator": "=", "value": "user"}
    seen, cursor = [], None
    while True:
        pagination = {"per_page": 40, **({"starting_after": cursor} if cursor else {})}
        page = api.post("/contacts/search", json={"query": query, "pagination": pagination,
                                                  "sort": {"field": "created_at", "order": "descending"}}).json()
        seen += page["data"]
        cursor = (page["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            break
    assert len(seen) == page["total_count"] == len({c["id"] for c in seen})
    stamps = [c["created_at"] for c in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert len(api.post("/contacts/search", json={"query": query}).json()["data"]) == 50  # default page size
    assert api.post("/contacts/search", json={"query": query, "pagination": {"per_page": 151}}).status_code == 400


def test_conversation_search_and_list_leave_parts_out_get_has_them(api):
    found = api.post("/conversations/search", json={"query": {"field": "state", "operator": "=", "value": "open"}})
    assert found.status_code == 200
    assert all("conversation_parts" not in c for c in found.json()["conversations"])
    listed = api.get("/conversations").json()["conversations"]
    assert all("conversation_parts" not in c for c in listed)
    full = api.get(f"/conversations/{listed[0]['id']}").json()
    assert full["conversation_parts"]["type"] == "conversation_part.list"


def test_conversation_get_caps_parts_at_500(api):
    long_one = api.get("/conversations/100000003").json()  # seeded with 503 parts
    assert long_one["conversation_parts"]["total_count"] == 503
    assert len(long_one["conversation_parts"]["conversation_parts"]) == 500


def test_conversation_search_fields(api):
    conversations = api.post("/conversations/search", json={
        "query": {"field": "created_at", "operator": ">", "value": 0}, "pagination": {"per_page": 150}}).json()
    items = conversations["conversations"]
    assigned = {c["id"] for c in items if c["admin_assignee_id"] is not None}
    assert _ids(_search(api, {"field": "admin_assignee_id", "operator": ">", "value": 0},
                        "/conversations/search")) == assigned
    contact_id = items[0]["contacts"]["contacts"][0]["id"]
    assert _ids(_search(api, {"field": "contact_ids", "operator": "=", "value": contact_id},
                        "/conversations/search")) == {
        c["id"] for c in items if contact_id in [x["id"] for x in c["contacts"]["contacts"]]}
    pivot = items[10]["created_at"]  # conversations compare to the second, inclusively
    assert _ids(_search(api, {"field": "created_at", "operator": ">", "value": pivot}, "/conversations/search")) == {
        c["id"] for c in items if c["created_at"] >= pivot}


def test_ticket_search_fields(api):
    everything = api.post("/tickets/search", json={"query": {"field": "created_at", "operator": ">", "value": 0},
                                                   "pagination": {"per_page": 150}}).json()["tickets"]
    assert len(everything) == 60
    assert _ids(_search(api, {"field": "category", "operator": "=", "value": "task"}, "/tickets/search")) == {
        t["id"] for t in everything if t["category"] == "Back-office"}
    assert _search(api, {"field": "category", "operator": "=", "value": "Back-office"},
                   "/tickets/search").status_code == 400
    assert _ids(_search(api, {"field": "state", "operator": "=", "value": "resolved"}, "/tickets/search")) == {
        t["id"] for t in everything if t["ticket_state"]["category"] == "resolved"}
    pivot = sorted(t["created_at"] for t in everything)[30]
    assert _ids(_search(api, {"field": "created_at", "operator": "<=", "value": pivot}, "/tickets/search")) == {
        t["id"] for t in everything if t["created_at"] <= pivot}
    title = everything[0]["ticket_attributes"]["_default_title_"]
    assert everything[0]["id"] in _ids(_search(api, {"field": "title", "operator": "=", "value": title},
                                               "/tickets/search"))


def test_every_field_of_intercoms_tables_is_searchable(api):
    """The field tables in the endpoint descriptions of the OpenAPI file, read from the file itself."""
    import re

    from tests.emulator.openapi_check import openapi

    for path in ("/contacts/search", "/conversations/search", "/tickets/search"):
        text = (openapi().spec / "paths" / path / "post").read_value()["description"]
        fields = re.findall(r"^\|\s*([a-z_][a-z_.{}]*)\s*\|\s*(String|Integer|Date|Boolean)", text, re.M)
        assert len(fields) > 10, path
        for name, kind in fields:
            if "{" in name:
                continue  # custom_attributes.{name}, ticket_attribute.{id}: covered by other tests
            value = {"String": "x", "Integer": 1, "Date": 1_700_000_000, "Boolean": True}[kind]
            if name == "category":
                value = "request"  # ticket categories are searched by these terms
            response = api.post(path, json={"query": {"field": name, "operator": "=", "value": value}})
            assert response.status_code == 200, (path, name, response.text)


def _search_all(api, query, path="/contacts/search"):
    """Every match of `query`, in the order of the pages."""
    out, cursor = [], None
    while True:
        pagination = {"per_page": 50, **({"starting_after": cursor} if cursor else {})}
        body = api.post(path, json={"query": query, "pagination": pagination}).json()
        out += [item["id"] for item in body.get("data", body.get("conversations", body.get("tickets")))]
        cursor = ((body.get("pages") or {}).get("next") or {}).get("starting_after")
        if not cursor:
            return out


@pytest.mark.parametrize("path", ["/contacts/search", "/conversations/search", "/tickets/search"])
def test_date_range_searches_match_the_same_objects_in_the_same_order_as_unindexed_ones(api, path):
    # A top-level AND with bounds on created_at is evaluated on the objects a sorted index keeps;
    # the same filters under an OR of one (never indexed) read the whole table: both must agree.
    times = sorted({item["created_at"] for item in _search_all_items(api, path)})
    assert len(times) > 10
    for low, high in [(times[2], times[-3]), (times[len(times) // 3], times[len(times) // 2]), (times[0], times[0])]:
        bounds = [{"field": "created_at", "operator": ">", "value": low},
                  {"field": "created_at", "operator": "<", "value": high}]
        indexed = _search_all(api, {"operator": "AND", "value": bounds})
        whole = _search_all(api, {"operator": "OR", "value": [{"operator": "AND", "value": bounds}]})
        assert indexed == whole
        lone = {"field": "created_at", "operator": ">", "value": low}
        assert _search_all(api, lone) == _search_all(api, {"operator": "OR", "value": [lone]})


def _search_all_items(api, path):
    body = api.post(path, json={"query": {"field": "created_at", "operator": ">", "value": 0},
                                "pagination": {"per_page": 150}}).json()
    return body.get("data", body.get("conversations", body.get("tickets")))
