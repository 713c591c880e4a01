"""Write endpoints and actions: each answers as the OpenAPI file says and changes what reads show."""


def _contact(papi, **query):
    return papi.get("/contacts", params={"per_page": 5, **query}).json()["data"][0]


def _admin_id(papi):
    return papi.get("/admins").json()["admins"][0]["id"]


def test_contact_lifecycle(papi):
    created = papi.post("/contacts", json={"email": "new.person@example.com", "name": "New Person",
                                           "custom_attributes": {"seats": 3, "is_vip": True}})
    assert created.status_code == 200, created.text
    contact = created.json()
    assert contact["custom_attributes"] == {"seats": 3, "is_vip": True}
    updated = papi.put(f"/contacts/{contact['id']}", json={"name": "Renamed", "external_id": "ext-new-1"})
    assert updated.json()["name"] == "Renamed"
    assert papi.get("/contacts/find_by_external_id/ext-new-1").json()["id"] == contact["id"]
    assert papi.post(f"/contacts/{contact['id']}/archive").json() == {
        "type": "contact", "id": contact["id"], "external_id": "ext-new-1", "archived": True}
    assert papi.post(f"/contacts/{contact['id']}/unarchive").json()["archived"] is False
    deleted = papi.delete(f"/contacts/{contact['id']}").json()
    assert deleted["deleted"] is True
    assert papi.get(f"/contacts/{contact['id']}").status_code == 404


def test_merge_lead_into_user(papi):
    lead = papi.post("/contacts", json={"role": "lead", "email": "lead.merge@example.com"}).json()
    user = papi.post("/contacts", json={"role": "user", "external_id": "merge-target"}).json()
    tag_id = papi.get("/tags").json()["data"][0]["id"]
    papi.post(f"/contacts/{lead['id']}/tags", json={"id": tag_id})
    merged = papi.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert merged.status_code == 200
    assert merged.json()["id"] == user["id"] and merged.json()["tags"]["data"][0]["id"] == tag_id
    assert papi.get(f"/contacts/{lead['id']}").status_code == 404
    refused = papi.post("/contacts/merge", json={"from": user["id"], "into": user["id"]})
    assert refused.status_code == 400


def test_contact_relations(papi):
    contact = _contact(papi)
    company = papi.get("/companies").json()["data"][0]
    attached = papi.post(f"/contacts/{contact['id']}/companies", json={"id": company["id"]})
    assert attached.status_code == 200 and attached.json()["id"] == company["id"]
    listed = papi.get(f"/contacts/{contact['id']}/companies").json()["companies"]
    assert company["id"] in [c["id"] for c in listed]
    assert papi.delete(f"/contacts/{contact['id']}/companies/{company['id']}").status_code == 200
    assert company["id"] not in [c["id"] for c in papi.get(f"/contacts/{contact['id']}/companies").json()["companies"]]

    tag = papi.post("/tags", json={"name": "written-by-test"}).json()
    assert papi.post(f"/contacts/{contact['id']}/tags", json={"id": tag["id"]}).json()["name"] == "written-by-test"
    assert tag["id"] in [t["id"] for t in papi.get(f"/contacts/{contact['id']}/tags").json()["data"]]
    assert papi.delete(f"/contacts/{contact['id']}/tags/{tag['id']}").json()["id"] == tag["id"]

    sub = papi.get("/subscription_types").json()["data"][0]
    assert papi.post(f"/contacts/{contact['id']}/subscriptions",
                     json={"id": sub["id"], "consent_type": "opt_in"}).json()["id"] == sub["id"]
    assert sub["id"] in [s["id"] for s in papi.get(f"/contacts/{contact['id']}/subscriptions").json()["data"]]
    assert papi.delete(f"/contacts/{contact['id']}/subscriptions/{sub['id']}").status_code == 200

    note = papi.post(f"/contacts/{contact['id']}/notes", json={"body": "Called them", "admin_id": _admin_id(papi)})
    assert note.status_code == 200
    assert papi.get(f"/notes/{note.json()['id']}").json()["body"] == "<p>Called them</p>"


def test_companies_and_tags(papi):
    created = papi.post("/companies", json={"company_id": "acme-1", "name": "Acme", "plan": "Pro",
                                            "custom_attributes": {"employee_band": 3}})
    assert created.status_code == 200
    company = created.json()
    again = papi.post("/companies", json={"company_id": "acme-1", "name": "Acme Inc"}).json()
    assert again["id"] == company["id"] and again["name"] == "Acme Inc"  # create-or-update by company_id
    assert papi.put(f"/companies/{company['id']}", json={"industry": "Rockets"}).json()["industry"] == "Rockets"
    tagged = papi.post("/tags", json={"name": "rocketry", "companies": [{"company_id": "acme-1"}]}).json()
    assert [t["id"] for t in papi.get(f"/companies/{company['id']}").json()["tags"]["tags"]] == [tagged["id"]]
    papi.post("/tags", json={"name": "rocketry", "companies": [{"id": company["id"], "untag": True}]})
    assert papi.get(f"/companies/{company['id']}").json()["tags"]["tags"] == []
    renamed = papi.post("/tags", json={"name": "rocket-science", "id": tagged["id"]}).json()
    assert renamed == {"type": "tag", "id": tagged["id"], "name": "rocket-science"}
    contact = _contact(papi)
    papi.post("/tags", json={"name": "bulk", "users": [{"id": contact["id"]}]})
    assert "bulk" in [t["name"] for t in papi.get(f"/contacts/{contact['id']}/tags").json()["data"]]
    assert papi.delete(f"/tags/{tagged['id']}").status_code == 200
    assert papi.delete(f"/companies/{company['id']}").json() == {"id": company["id"], "object": "company",
                                                                "deleted": True}


def test_conversation_actions(papi):
    contact = _contact(papi)
    admin_id = _admin_id(papi)
    team_id = papi.get("/teams").json()["teams"][0]["id"]
    message = papi.post("/conversations", json={"from": {"type": "user", "id": contact["id"]}, "body": "Help!"})
    assert message.status_code == 200
    conv_id = message.json()["conversation_id"]
    replied = papi.post(f"/conversations/{conv_id}/reply", json={
        "message_type": "comment", "type": "admin", "admin_id": admin_id, "body": "On it"})
    assert replied.json()["conversation_parts"]["conversation_parts"][-1]["author"]["type"] == "admin"
    papi.post(f"/conversations/{conv_id}/reply", json={
        "message_type": "note", "type": "admin", "admin_id": admin_id, "body": "internal"})
    papi.post(f"/conversations/{conv_id}/reply", json={
        "message_type": "comment", "type": "user", "intercom_user_id": contact["id"], "body": "Thanks"})
    assigned = papi.post(f"/conversations/{conv_id}/parts", json={
        "message_type": "assignment", "type": "admin", "admin_id": admin_id, "assignee_id": admin_id}).json()
    assert assigned["admin_assignee_id"] == int(admin_id)
    team = papi.post(f"/conversations/{conv_id}/parts", json={
        "message_type": "assignment", "type": "team", "admin_id": admin_id, "assignee_id": team_id}).json()
    assert team["team_assignee_id"] == int(team_id)
    snoozed = papi.post(f"/conversations/{conv_id}/parts", json={
        "message_type": "snoozed", "admin_id": admin_id, "snoozed_until": 4102444800}).json()
    assert snoozed["state"] == "snoozed"
    assert papi.post(f"/conversations/{conv_id}/parts", json={
        "message_type": "open", "admin_id": admin_id}).json()["state"] == "open"
    closed = papi.post(f"/conversations/{conv_id}/parts", json={
        "message_type": "close", "type": "admin", "admin_id": admin_id, "body": "Done"}).json()
    assert closed["state"] == "closed" and closed["open"] is False
    updated = papi.put(f"/conversations/{conv_id}", json={"read": True, "title": "Renamed",
                                                          "custom_attributes": {"issue_kind": "bug"}}).json()
    assert updated["title"] == "Renamed" and updated["custom_attributes"]["issue_kind"] == "bug"
    tag_id = papi.get("/tags").json()["data"][0]["id"]
    assert papi.post(f"/conversations/{conv_id}/tags", json={"id": tag_id, "admin_id": admin_id}).json()["id"] == tag_id
    # Removing a tag from a conversation is a DELETE with a JSON body carrying admin_id.
    no_body = papi.delete(f"/conversations/{conv_id}/tags/{tag_id}")
    assert no_body.status_code == 400
    removed = papi.request("DELETE", f"/conversations/{conv_id}/tags/{tag_id}", json={"admin_id": admin_id})
    assert removed.status_code == 200 and removed.json()["id"] == tag_id
    ticket_type = next(t for t in papi.get("/ticket_types").json()["data"] if t["category"] == "Customer")
    ticket = papi.post(f"/conversations/{conv_id}/convert", json={"ticket_type_id": ticket_type["id"]})
    assert ticket.status_code == 200 and ticket.json()["linked_objects"]["data"][0]["id"] == conv_id
    assert papi.delete(f"/conversations/{conv_id}").json()["deleted"] is True


def test_ticket_actions(papi):
    contact = _contact(papi)
    admin_id = _admin_id(papi)
    ticket_type = papi.get("/ticket_types").json()["data"][0]
    created = papi.post("/tickets", json={"ticket_type_id": ticket_type["id"], "contacts": [{"id": contact["id"]}],
                                          "ticket_attributes": {"_default_title_": "Broken", "affected_users": 4}})
    assert created.status_code == 200, created.text
    ticket = created.json()
    assert ticket["ticket_attributes"]["affected_users"] == 4
    resolved = next(s for s in papi.get("/ticket_states").json()["data"] if s["category"] == "resolved")
    updated = papi.put(f"/tickets/{ticket['id']}", json={"ticket_state_id": resolved["id"],
                                                         "ticket_attributes": {"reproducible": True}}).json()
    assert updated["ticket_state"]["category"] == "resolved" and updated["open"] is False
    reply = papi.post(f"/tickets/{ticket['id']}/reply", json={"message_type": "note", "type": "admin",
                                                              "admin_id": admin_id, "body": "Fixed"})
    assert reply.status_code == 200 and reply.json()["type"] == "ticket_part"
    tag_id = papi.get("/tags").json()["data"][0]["id"]
    assert papi.post(f"/tickets/{ticket['id']}/tags", json={"id": tag_id, "admin_id": admin_id}).status_code == 200
    assert papi.request("DELETE", f"/tickets/{ticket['id']}/tags/{tag_id}",
                        json={"admin_id": admin_id}).status_code == 200
    assert papi.delete(f"/tickets/{ticket['id']}").json()["deleted"] is True
    bad = papi.post("/tickets", json={"ticket_type_id": ticket_type["id"], "contacts": [{"id": contact["id"]}],
                                      "ticket_attributes": {"no_such_attribute": 1, "_default_title_": "x"}})
    assert bad.status_code == 400


def test_ticket_types_and_data_attributes(papi):
    created = papi.post("/ticket_types", json={"name": "Outage", "category": "Tracker", "description": "Down"})
    assert created.status_code == 200
    type_id = created.json()["id"]
    assert papi.put(f"/ticket_types/{type_id}", json={"description": "Service down"}).json()["description"] == \
        "Service down"
    attr = papi.post(f"/ticket_types/{type_id}/attributes", json={
        "name": "region", "description": "Where", "data_type": "list", "list_items": "EU,US"})
    assert attr.status_code == 200, attr.text
    changed = papi.put(f"/ticket_types/{type_id}/attributes/{attr.json()['id']}", json={"description": "Region"})
    assert changed.json()["description"] == "Region"
    no_items = papi.post(f"/ticket_types/{type_id}/attributes", json={
        "name": "size", "description": "How big", "data_type": "list"})
    assert (no_items.status_code, no_items.json()["errors"][0]["message"]) == (400, "list_items is required")
    relisted = papi.put(f"/ticket_types/{type_id}/attributes/{attr.json()['id']}", json={"list_items": "EU,US,APAC"})
    assert [o["label"] for o in relisted.json()["input_options"]["list_options"]] == ["EU", "US", "APAC"]
    assert "region" in [a["name"] for a in papi.get(f"/ticket_types/{type_id}").json()
                        ["ticket_type_attributes"]["ticket_type_attributes"]]

    data_attr = papi.post("/data_attributes", json={"name": "nps", "model": "contact", "data_type": "integer"})
    assert data_attr.status_code == 200
    assert papi.put(f"/data_attributes/{data_attr.json()['id']}", json={"description": "Score"}).json()[
        "description"] == "Score"
    # Custom attributes follow the data attributes that exist: nps is writable now.
    contact = _contact(papi)
    assert papi.put(f"/contacts/{contact['id']}", json={"custom_attributes": {"nps": 9}}).json()[
        "custom_attributes"]["nps"] == 9
    duplicate = papi.post("/data_attributes", json={"name": "nps", "model": "contact", "data_type": "integer"})
    assert duplicate.status_code == 400


def test_events_messages_articles_collections(papi):
    contact = _contact(papi)
    event = papi.post("/events", json={"event_name": "ordered-item", "created_at": 1_900_000_000 - 10,
                                       "id": contact["id"], "metadata": {"order": "1"}})
    assert event.status_code == 202 and event.content == b""
    too_many = papi.post("/events", json={"event_name": "x", "created_at": 1, "id": contact["id"],
                                          "metadata": {f"k{i}": str(i) for i in range(11)}})
    assert too_many.status_code == 400
    admin_id = _admin_id(papi)
    in_app = papi.post("/messages", json={"message_type": "in_app", "body": "Hi", "from": {"type": "admin", "id": int(admin_id)},
                                          "to": {"type": "user", "id": contact["id"]}})
    assert in_app.status_code == 200 and in_app.json()["message_type"] == "inapp"
    email = papi.post("/messages", json={"message_type": "email", "subject": "Hello", "body": "Hi", "template": "plain",
                                         "from": {"type": "admin", "id": int(admin_id)},
                                         "to": {"type": "user", "id": contact["id"]}})
    assert email.json()["message_type"] == "email"
    collection = papi.post("/help_center/collections", json={"name": "New things"})
    assert collection.status_code == 200
    coll_id = collection.json()["id"]
    assert papi.put(f"/help_center/collections/{coll_id}", json={"description": "d"}).json()["description"] == "d"
    article = papi.post("/articles", json={"title": "How to", "author_id": int(admin_id), "state": "published",
                                           "parent_id": int(coll_id), "parent_type": "collection"})
    assert article.status_code == 200
    art_id = article.json()["id"]
    assert papi.put(f"/articles/{art_id}", json={"title": "How to, v2"}).json()["title"] == "How to, v2"
    assert papi.delete(f"/articles/{art_id}").json() == {"id": art_id, "object": "article", "deleted": True}
    assert papi.delete(f"/help_center/collections/{coll_id}").json()["deleted"] is True
