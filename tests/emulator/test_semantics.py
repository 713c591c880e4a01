"""Intercom behaviours the schema does not show (intercom-api-notes.md), one test each."""
import time

from tests.emulator.conftest import validating_client


def test_article_list_leaves_statistics_out_get_has_them(api):
    listed = api.get("/articles").json()["data"]
    assert listed and all("statistics" not in a for a in listed)
    assert api.get(f"/articles/{listed[0]['id']}").json()["statistics"]["type"] == "article_statistics"


def test_contacts_embed_at_most_ten_tags_notes_companies(api):
    crowded = next(c for c in api.get("/contacts", params={"per_page": 150}).json()["data"]
                   if c["tags"]["total_count"] > 10)
    for kind in ("tags", "notes", "companies"):
        embed = crowded[kind]
        assert len(embed["data"]) == 10 and embed["has_more"] is True and embed["total_count"] > 10
        assert embed["url"] == f"/contacts/{crowded['id']}/{kind}"
    assert len(api.get(crowded["tags"]["url"]).json()["data"]) == crowded["tags"]["total_count"]
    assert len(api.get(crowded["companies"]["url"]).json()["companies"]) == crowded["companies"]["total_count"]
    assert api.get(crowded["notes"]["url"]).json()["total_count"] == crowded["notes"]["total_count"]


def test_there_is_no_ticket_list(raw_api):
    response = raw_api.get("/tickets")  # not an operation of the file: the request cannot validate
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"


def test_archived_contacts_are_hidden_from_lists_until_unarchived(papi):
    contact = papi.get("/contacts", params={"per_page": 1}).json()["data"][0]
    papi.post(f"/contacts/{contact['id']}/archive")
    listed = papi.get("/contacts", params={"per_page": 150}).json()
    assert contact["id"] not in [c["id"] for c in listed["data"]] and listed["total_count"] == 299
    found = papi.post("/contacts/search", json={"query": {"field": "id", "operator": "=", "value": contact["id"]}})
    assert found.json()["data"] == []
    assert papi.get(f"/contacts/{contact['id']}").status_code == 200
    papi.post(f"/contacts/{contact['id']}/unarchive")
    assert papi.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"] == contact["id"]


def test_custom_attributes_follow_the_data_attributes_that_exist(papi):
    contact = papi.get("/contacts", params={"per_page": 1}).json()["data"][0]
    names = {a["name"] for a in papi.get("/data_attributes", params={"model": "contact"}).json()["data"] if a["custom"]}
    assert set(contact["custom_attributes"]) <= names
    types = {a["data_type"] for a in papi.get("/data_attributes").json()["data"] if a["custom"]}
    assert types == {"string", "integer", "float", "boolean", "date"}
    unknown = papi.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"favourite_colour": "red"}})
    assert unknown.status_code == 400 and "favourite_colour" in unknown.json()["errors"][0]["message"]
    wrong_type = papi.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"seats": "many"}})
    assert wrong_type.status_code == 400
    papi.post("/data_attributes", json={"name": "favourite_colour", "model": "contact", "data_type": "string"})
    assert papi.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"favourite_colour": "red"}}).json()[
        "custom_attributes"]["favourite_colour"] == "red"


def test_ticket_attributes_follow_the_ticket_type(api):
    for ticket_type in api.get("/ticket_types").json()["data"]:
        names = {a["name"] for a in ticket_type["ticket_type_attributes"]["ticket_type_attributes"]}
        assert {"_default_title_", "_default_description_"} <= names
    ticket = api.post("/tickets/search", json={"query": {"field": "created_at", "operator": ">", "value": 0}}).json()[
        "tickets"][0]
    ticket_type = api.get(f"/ticket_types/{ticket['ticket_type']['id']}").json()
    assert set(ticket["ticket_attributes"]) <= {a["name"] for a in
                                                ticket_type["ticket_type_attributes"]["ticket_type_attributes"]}


def test_admin_assignees_are_integers_in_conversations_strings_in_tickets(api):
    conversation = next(c for c in api.get("/conversations", params={"per_page": 50}).json()["conversations"]
                        if c["admin_assignee_id"] is not None)
    assert isinstance(conversation["admin_assignee_id"], int)
    tickets = api.post("/tickets/search", json={"query": {"field": "created_at", "operator": ">", "value": 0},
                                                "pagination": {"per_page": 60}}).json()["tickets"]
    assert all(isinstance(t["admin_assignee_id"], str) for t in tickets)
    assert "0" in {t["admin_assignee_id"] for t in tickets}  # "0" = unassigned


def test_events_list_only_the_last_90_days_summaries_count_all(papi, private_emulator):
    ws = private_emulator.state.workspaces[0]
    contact_id = next(cid for cid, events in ws.events.items()
                      if any(e["created_at"] < time.time() - 90 * 86400 for e in events))
    listed = papi.get("/events", params={"type": "user", "intercom_user_id": contact_id}).json()
    assert listed["type"] == "event.list"
    assert all(e["created_at"] >= time.time() - 90 * 86400 - 5 for e in listed["events"])
    summary = papi.get("/events", params={"type": "user", "intercom_user_id": contact_id, "summary": "true"}).json()
    assert sum(e["count"] for e in summary["events"]) == len(ws.events[contact_id]) > len(listed["events"])
    email = ws.contacts.get(contact_id)["email"]
    assert papi.get("/events", params={"type": "user", "email": email}).json()["events"] == listed["events"]
    assert papi.get("/events", params={"intercom_user_id": contact_id}).status_code == 400  # type=user needed


def test_activity_logs_need_a_window(api, raw_api):
    assert raw_api.get("/admins/activity_logs").status_code == 400
    everything = api.get("/admins/activity_logs", params={"created_at_after": 0, "per_page": 150}).json()
    logs = everything["activity_logs"]
    pivot = sorted(log["created_at"] for log in logs)[len(logs) // 2]
    after = api.get("/admins/activity_logs", params={"created_at_after": pivot, "per_page": 150}).json()
    assert all(log["created_at"] >= pivot for log in after["activity_logs"])
    before = api.get("/admins/activity_logs", params={"created_at_after": 0, "created_at_before": pivot,
                                                      "per_page": 150}).json()
    assert all(log["created_at"] <= pivot for log in before["activity_logs"])


def test_eventual_consistency_of_custom_attributes(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"custom_attribute_delay_s": 1.5})
    contact = papi.get("/contacts", params={"per_page": 1}).json()["data"][0]
    old = contact["custom_attributes"].get("plan_tier")
    new = "enterprise" if old != "enterprise" else "free"
    papi.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"plan_tier": new}})
    assert papi.get(f"/contacts/{contact['id']}").json()["custom_attributes"]["plan_tier"] == new  # by id: at once
    assert papi.get("/contacts", params={"per_page": 1}).json()["data"][0]["custom_attributes"].get("plan_tier") == old
    query = {"field": "id", "operator": "=", "value": contact["id"]}
    assert papi.post("/contacts/search", json={"query": query}).json()["data"][0]["custom_attributes"].get(
        "plan_tier") == old
    time.sleep(1.6)
    assert papi.get("/contacts", params={"per_page": 1}).json()["data"][0]["custom_attributes"]["plan_tier"] == new
    assert papi.post("/contacts/search", json={"query": query}).json()["data"][0]["custom_attributes"][
        "plan_tier"] == new


def test_workspaces_see_only_their_own_data():
    from intercom_fdw.emulator import EmulatorConfig, start_in_thread

    with start_in_thread(EmulatorConfig(seed=7, token="alpha", contacts=40,
                                        extra_workspace_tokens=["beta"], extra_workspace_contacts=30)) as server, \
            validating_client(server.url, "alpha") as as_alpha, validating_client(server.url, "beta") as as_beta:
        alpha = as_alpha.get("/contacts", params={"per_page": 150}).json()
        beta = as_beta.get("/contacts", params={"per_page": 150}).json()
        assert alpha["total_count"] == 40 and beta["total_count"] == 30
        assert not {c["id"] for c in alpha["data"]} & {c["id"] for c in beta["data"]}
        assert as_beta.get(f"/contacts/{alpha['data'][0]['id']}").status_code == 404
        assert as_alpha.get("/me").json()["app"]["id_code"] != as_beta.get("/me").json()["app"]["id_code"]


def test_seeding_is_deterministic():
    from intercom_fdw.emulator.config import WorkspaceSizes
    from intercom_fdw.emulator.seed import seed_workspace

    one = seed_workspace(["a"], 5, WorkspaceSizes(50).resolved(), anchor=1_700_000_000)
    two = seed_workspace(["a"], 5, WorkspaceSizes(50).resolved(), anchor=1_700_000_000)
    other = seed_workspace(["a"], 6, WorkspaceSizes(50).resolved(), anchor=1_700_000_000)
    assert list(one.contacts.values()) == list(two.contacts.values())
    assert list(one.conversations.values()) == list(two.conversations.values())
    assert list(one.contacts.values()) != list(other.contacts.values())
