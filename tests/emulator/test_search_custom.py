"""Custom attributes in the search, over HTTP: contacts' Date attributes by calendar day in the
workspace time zone, conversations' custom attributes, and tickets' ticket_attribute.{id}."""
import datetime as dt
from zoneinfo import ZoneInfo

from tests.emulator.test_search import _all_contacts, _ids, _search

EVERYTHING = {"field": "created_at", "operator": ">", "value": 0}


def _day(timestamp, tz):
    local = dt.datetime.fromtimestamp(timestamp, tz)
    start = dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    following = start.date() + dt.timedelta(days=1)
    return start.timestamp(), dt.datetime(following.year, following.month, following.day, tzinfo=tz).timestamp()


def test_contact_date_attributes_compare_by_day_in_the_workspace_time_zone(papi, admin_client):
    assert admin_client.patch("/__emulator/config", json={"timezone": "America/Los_Angeles"}).status_code == 200
    tz = ZoneInfo("America/Los_Angeles")
    contacts = [c for c in _all_contacts(papi) if c["custom_attributes"].get("trial_ends_at") is not None]
    pivot = sorted(c["custom_attributes"]["trial_ends_at"] for c in contacts)[len(contacts) // 2]
    start, end = _day(pivot, tz)
    field = "custom_attributes.trial_ends_at"
    assert _ids(_search(papi, {"field": field, "operator": "=", "value": pivot})) == {
        c["id"] for c in contacts if start <= c["custom_attributes"]["trial_ends_at"] < end}
    assert _ids(_search(papi, {"field": field, "operator": ">", "value": pivot})) == {
        c["id"] for c in contacts if c["custom_attributes"]["trial_ends_at"] >= end}
    assert _search(papi, {"field": field, "operator": ">=", "value": pivot}).status_code == 400


def test_conversation_custom_attributes(api):
    items = api.post("/conversations/search", json={"query": EVERYTHING, "pagination": {"per_page": 150}}).json()
    conversations = items["conversations"]
    kind = next(c["custom_attributes"]["issue_kind"] for c in conversations if c["custom_attributes"].get("issue_kind"))
    assert _ids(_search(api, {"field": "custom_attributes.issue_kind", "operator": "=", "value": kind.upper()},
                        "/conversations/search")) == {
        c["id"] for c in conversations if c["custom_attributes"].get("issue_kind") == kind}
    pivot = sorted(c["custom_attributes"]["follow_up_at"] for c in conversations
                   if c["custom_attributes"].get("follow_up_at"))[5]
    # conversations compare dates to the second, and `>` is "greater (or equal)"
    assert _ids(_search(api, {"field": "custom_attributes.follow_up_at", "operator": ">", "value": pivot},
                        "/conversations/search")) == {
        c["id"] for c in conversations if (c["custom_attributes"].get("follow_up_at") or 0) >= pivot}


def test_ticket_attributes_are_searched_by_attribute_id(api):
    tickets = api.post("/tickets/search", json={"query": EVERYTHING, "pagination": {"per_page": 150}}).json()["tickets"]
    checked = set()
    for ticket_type in api.get("/ticket_types").json()["data"]:
        for attribute in ticket_type["ticket_type_attributes"]["ticket_type_attributes"]:
            if attribute.get("default") or attribute["data_type"] not in ("integer", "decimal", "boolean", "list"):
                continue
            values = [t["ticket_attributes"].get(attribute["name"]) for t in tickets
                      if t["ticket_type"]["id"] == ticket_type["id"]]
            value = next(v for v in values if v is not None)
            # search values are strings, integers or booleans (OpenAPI): decimals by integer bounds
            operator, wanted = (">", int(value)) if attribute["data_type"] == "decimal" else ("=", value)
            found = _ids(_search(api, {"field": f"ticket_attribute.{attribute['id']}", "operator": operator,
                                       "value": wanted}, "/tickets/search"))
            assert found == {t["id"] for t in tickets if t["ticket_type"]["id"] == ticket_type["id"]
                             and t["ticket_attributes"].get(attribute["name"]) is not None
                             and (t["ticket_attributes"][attribute["name"]] >= wanted if operator == ">"
                                  else t["ticket_attributes"][attribute["name"]] == value)}
            checked.add(attribute["data_type"])
    assert checked == {"integer", "decimal", "boolean", "list"}
    assert _search(api, {"field": "ticket_attribute.no-such-id", "operator": "=", "value": 1},
                   "/tickets/search").status_code == 400
