"""Every read endpoint answers in the shape Intercom's OpenAPI file describes (checked by the client)."""
import pytest

READ_PATHS = [
    "/me", "/admins", "/teams", "/tags", "/segments", "/segments?include_count=true", "/subscription_types",
    "/data_attributes", "/data_attributes?model=contact", "/data_attributes?model=company",
    "/data_attributes?model=conversation", "/ticket_types", "/ticket_states", "/help_center/help_centers",
    "/help_center/collections", "/articles", "/companies", "/companies?per_page=60&page=2",
    "/contacts?per_page=150", "/conversations?per_page=150",
    "/admins/activity_logs?created_at_after=0",
]


@pytest.mark.parametrize("path", READ_PATHS)
def test_list_endpoints_validate(api, path):
    assert api.get(path).status_code == 200


def _first(api, path, key="data"):
    return api.get(path).json()[key][0]


def test_get_by_id_endpoints_validate(api):
    admin = _first(api, "/admins", "admins")
    team = _first(api, "/teams", "teams")
    tag = _first(api, "/tags")
    segment = _first(api, "/segments", "segments")
    ticket_type = _first(api, "/ticket_types")
    help_center = _first(api, "/help_center/help_centers")
    collection = _first(api, "/help_center/collections")
    article = _first(api, "/articles")
    company = _first(api, "/companies")
    contacts = api.get("/contacts?per_page=150").json()["data"]
    conversation = _first(api, "/conversations", "conversations")
    for path in [f"/admins/{admin['id']}", f"/teams/{team['id']}", f"/tags/{tag['id']}",
                 f"/segments/{segment['id']}", f"/ticket_types/{ticket_type['id']}",
                 f"/help_center/help_centers/{help_center['id']}", f"/help_center/collections/{collection['id']}",
                 f"/articles/{article['id']}", f"/companies/{company['id']}",
                 f"/companies/{company['id']}/contacts", f"/companies/{company['id']}/segments",
                 f"/conversations/{conversation['id']}"]:
        assert api.get(path).status_code == 200, path
    for contact in contacts[:20]:
        cid = contact["id"]
        for path in [f"/contacts/{cid}", f"/contacts/{cid}/companies", f"/contacts/{cid}/segments",
                     f"/contacts/{cid}/subscriptions", f"/contacts/{cid}/tags", f"/contacts/{cid}/notes"]:
            assert api.get(path).status_code == 200, path
        if contact["external_id"]:
            assert api.get(f"/contacts/find_by_external_id/{contact['external_id']}").status_code == 200
        events = api.get("/events", params={"type": "user", "intercom_user_id": cid})
        assert events.status_code == 200
        summary = api.get("/events", params={"type": "user", "intercom_user_id": cid, "summary": "true"})
        assert summary.status_code == 200
    note_id = next(c["notes"]["data"][0]["id"] for c in contacts if c["notes"]["data"])
    assert api.get(f"/notes/{note_id}").status_code == 200


def test_searches_validate(api):
    contact = api.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"},
                                                 "pagination": {"per_page": 150}})
    assert contact.status_code == 200 and contact.json()["data"]
    conversations = api.post("/conversations/search", json={
        "query": {"operator": "AND", "value": [{"field": "open", "operator": "=", "value": True},
                                               {"field": "created_at", "operator": ">", "value": 0}]},
        "pagination": {"per_page": 150}})
    assert conversations.status_code == 200 and conversations.json()["conversations"]
    tickets = api.post("/tickets/search", json={"query": {"field": "created_at", "operator": ">", "value": 0},
                                                "pagination": {"per_page": 150}})
    assert tickets.status_code == 200 and tickets.json()["tickets"]
    ticket_id = tickets.json()["tickets"][0]["id"]
    assert api.get(f"/tickets/{ticket_id}").status_code == 200


def test_the_checker_catches_a_mismatch(api, emulator):
    """The conformance check itself can fail: a body of the wrong shape is refused."""
    import httpx

    from tests.emulator.openapi_check import check_response

    response = httpx.get(f"{emulator.url}/contacts", headers={"Authorization": f"Bearer {emulator.token}"})
    broken = httpx.Response(200, json={"type": "list", "data": [{"id": 12}], "total_count": "many"},
                            request=response.request)
    with pytest.raises(AssertionError, match="does not match"):
        check_response(broken)


def test_every_deviation_names_an_operation_of_the_file_or_says_it_is_not_in_it():
    from intercom_fdw.emulator.deviations import DEVIATIONS
    from tests.emulator.openapi_check import _templates

    operations = {(method, template) for method, _regex, template in _templates()}
    for deviation in DEVIATIONS:
        method, where = deviation.where
        if deviation.not_in_file or "*" in where:
            continue
        methods = {m for m, template in operations if template == where}
        assert methods and (method == "*" or method in methods), f"{deviation.where} is not in the OpenAPI file"
        assert deviation.reason


def test_every_seeded_object_by_id_validates(api, emulator):
    """Seeded data varies (leads without external_id, closed or snoozed conversations, unassigned tickets):
    every object of the session workspace, read by id, matches the file."""
    ws = emulator.state.workspaces[0]
    for path, table in (("/contacts", ws.contacts), ("/companies", ws.companies),
                        ("/conversations", ws.conversations), ("/tickets", ws.tickets)):
        for obj_id in list(table.by_id):
            assert api.get(f"{path}/{obj_id}").status_code == 200


def test_the_clients_check_what_they_receive(api):
    from tests.emulator.conftest import CHECKED

    before = dict(CHECKED)
    api.get("/me")
    api.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "lead"}})
    assert CHECKED["responses"] == before["responses"] + 2
    assert CHECKED["requests"] >= before["requests"] + 1  # the request with a body, at least
