"""Errors as Intercom sends them: an error.list with a request id, code and message, and the right status."""
import pytest


def _error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error.list" and body["request_id"] and body["errors"][0]["message"]
    if code:
        assert body["errors"][0]["code"] == code
    return body["errors"][0]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}])
def test_401_for_a_missing_or_wrong_token(emulator, headers):
    from tests.emulator.conftest import validating_client

    with validating_client(emulator.url, "", check_requests=False) as client:
        response = client.get("/contacts", headers=headers)
    error = _error(response, 401, "unauthorized")
    assert error["message"] == "Access Token Invalid"
    assert "wrong-token" not in response.text
    assert response.headers["X-RateLimit-Limit"]


@pytest.mark.parametrize("path,code", [
    ("/contacts/000000000000000000000000", "not_found"),
    ("/companies/000000000000000000000000", "company_not_found"),
    ("/conversations/1", "not_found"),
    ("/tickets/1", "ticket_not_found"),
    ("/admins/1", "admin_not_found"),
    ("/articles/1", "not_found"),
    ("/notes/1", "not_found"),
    ("/contacts/find_by_external_id/nobody", "not_found"),
    ("/no/such/endpoint", "not_found"),
])
def test_404_for_unknown_ids(raw_api, path, code):
    _error(raw_api.get(path), 404, code)


def test_400_for_bodies_that_break_the_spec(raw_api):
    bad_json = raw_api.post("/contacts/search", content=b"{not json", headers={"content-type": "application/json"})
    _error(bad_json, 400, "bad_request")
    _error(raw_api.post("/contacts", json={"name": "nobody"}), 400)  # needs email, external_id or role
    _error(raw_api.post("/contacts", json={"email": 12}), 400, "parameter_invalid")
    _error(raw_api.post("/contacts/search", json=[1, 2]), 400)
    _error(raw_api.post("/messages", json={"message_type": "sms", "body": "x"}), 400, "parameter_invalid")


@pytest.mark.parametrize("name", ["", "   "])
def test_400_for_a_data_attribute_without_a_name(papi, name):
    # The file's "Invalid name" example: Intercom validates the name, and an empty one names no attribute.
    before = len(papi.get("/data_attributes").json()["data"])
    error = _error(papi.post("/data_attributes", json={"name": name, "model": "contact", "data_type": "string"}),
                   400, "parameter_invalid")
    assert "name" in error["message"]
    assert len(papi.get("/data_attributes").json()["data"]) == before


def test_422_for_rules_intercom_enforces(papi):
    standard = next(a for a in papi.get("/data_attributes").json()["data"] if not a["custom"])
    _error(papi.put(f"/data_attributes/{standard['id']}", json={"description": "mine now"}), 422, "data_invalid")


def test_409_for_duplicate_contacts_names_the_existing_one(papi):
    contact = papi.get("/contacts", params={"per_page": 1}).json()["data"][0]
    error = _error(papi.post("/contacts", json={"email": contact["email"].upper()}), 409, "conflict")
    assert contact["id"] in error["message"]
    error = _error(papi.post("/contacts", json={"external_id": contact["external_id"]}), 409, "conflict")
    assert contact["id"] in error["message"]
    other = papi.get("/contacts", params={"per_page": 2}).json()["data"][1]
    _error(papi.put(f"/contacts/{other['id']}", json={"email": contact["email"]}), 409, "conflict")


def test_429_when_rate_limited(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"rate_limit_per_10s": 3})
    answers = [papi.get("/me") for _ in range(8)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, "over the limit the API answers 429"
    _error(limited[0], 429, "rate_limit_exceeded")
    assert limited[0].headers["X-RateLimit-Remaining"] == "0"
    assert int(limited[0].headers["X-RateLimit-Reset"]) >= int(answers[0].headers["X-RateLimit-Reset"])


def test_400_for_an_unknown_intercom_version(raw_api):
    _error(raw_api.get("/me", headers={"Intercom-Version": "9.99"}), 400, "intercom_version_invalid")
    assert raw_api.get("/me", headers={"Intercom-Version": "2.11"}).status_code == 200
