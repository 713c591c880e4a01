"""Bodies of the wrong shape get Intercom's 4xx error.list, never a 500 (the emulator must not crash)."""
import httpx

WRONG_VALUES = [None, [], {}, 1, "x", True, [{}], {"a": []}]


def _templates(ws):
    contact, admin = next(iter(ws.contacts.by_id)), next(iter(ws.admins.by_id))
    conversation, ticket_type = next(iter(ws.conversations.by_id)), next(iter(ws.ticket_types.by_id))
    return [
        ("POST", "/contacts", {"email": "a@b.c", "role": "user", "owner_id": int(admin), "custom_attributes": {"seats": 1}}),
        ("POST", "/companies", {"company_id": "c1", "name": "n", "monthly_spend": 1, "custom_attributes": {}}),
        ("POST", "/tags", {"name": "t", "users": [{"id": contact}]}),
        ("POST", f"/conversations/{conversation}/parts", {"message_type": "assignment", "type": "admin",
                                                          "admin_id": admin, "assignee_id": admin}),
        ("POST", "/tickets", {"ticket_type_id": ticket_type, "contacts": [{"id": contact}],
                              "ticket_attributes": {"_default_title_": "x"}}),
        ("POST", "/events", {"event_name": "e", "created_at": 1, "id": contact, "metadata": {"a": "b"}}),
        ("POST", "/contacts/search", {"query": {"field": "email", "operator": "=", "value": "x"},
                                      "pagination": {"per_page": 5}, "sort": {"field": "created_at"}}),
        ("POST", "/messages", {"message_type": "in_app", "body": "b", "from": {"type": "admin", "id": int(admin)},
                               "to": {"type": "user", "id": contact}}),
    ]


def test_wrong_shapes_never_crash(private_emulator):
    ws = private_emulator.state.workspaces[0]
    headers = {"Authorization": f"Bearer {private_emulator.token}"}
    with httpx.Client(base_url=private_emulator.url, headers=headers) as client:
        for method, path, template in _templates(ws):
            assert client.request(method, path, json=template).status_code < 400, (method, path)
            for field in template:
                for wrong in WRONG_VALUES:
                    response = client.request(method, path, json={**template, field: wrong})
                    assert response.status_code < 500, (method, path, field, wrong, response.text)
                    if response.status_code >= 400:
                        assert response.json()["type"] == "error.list"
            for body in ([], "text", 3):
                response = client.request(method, path, json=body)
                assert 400 <= response.status_code < 500 and response.json()["type"] == "error.list"
