"""Realism knobs, counters and the request log, through /__emulator/ (and at start)."""
import time

import httpx
import pytest

from intercom_fdw.emulator import EmulatorConfig, start_in_thread


def test_config_reads_and_patches_knobs(admin_client):
    knobs = admin_client.get("/__emulator/config").json()
    assert set(knobs) == {"latency_ms", "latency_jitter_ms", "rate_limit_per_10s", "fault_rate", "drop_rate",
                          "drop_route", "slow_body_ms", "custom_attribute_delay_s", "search_index_delay_s", "timezone",
                          "clock_offset_s"}
    assert admin_client.patch("/__emulator/config", json={"latency_ms": 5}).json()["latency_ms"] == 5
    for bad in ({"no_such_knob": 1}, {"fault_rate": 2}, {"latency_ms": -1}, {"timezone": "Mars/Olympus"},
                {"latency_ms": "fast"}, {"drop_route": "/companies/scroll"}, {"drop_route": 1}):
        response = admin_client.patch("/__emulator/config", json=bad)
        assert response.status_code == 400 and response.json()["error"]


def test_knobs_can_be_set_at_start():
    config = EmulatorConfig(contacts=10, knobs={"latency_ms": 120, "timezone": "Europe/Paris"})
    with start_in_thread(config) as server:
        assert httpx.get(f"{server.url}/__emulator/config").json()["timezone"] == "Europe/Paris"
        started = time.perf_counter()
        httpx.get(f"{server.url}/me", headers={"Authorization": f"Bearer {server.token}"})
        assert time.perf_counter() - started >= 0.12


def test_latency_and_jitter(private_emulator, admin_client):
    def timings(count):
        found = []
        # a plain client: the validating one spends its own (varying) time checking each answer
        with httpx.Client(base_url=private_emulator.url, timeout=30,
                          headers={"Authorization": f"Bearer {private_emulator.token}"}) as client:
            client.get("/me")  # connection set up outside the measurement
            for _ in range(count):
                started = time.perf_counter()
                assert client.get("/me").status_code == 200
                found.append(time.perf_counter() - started)
        return found

    admin_client.patch("/__emulator/config", json={"latency_ms": 100, "latency_jitter_ms": 80})
    jittered = timings(12)
    # each delay is drawn from 100 +- 80 ms: never below 20 ms, and twelve of them spread widely
    assert min(jittered) >= 0.019 and max(jittered) < 1.0
    assert max(jittered) - min(jittered) > 0.06, sorted(jittered)
    admin_client.patch("/__emulator/config", json={"latency_jitter_ms": 0})
    steady = timings(4)
    assert min(steady) >= 0.099


def test_rate_limit_headers_on_every_response(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"rate_limit_per_10s": 100})
    first, second = papi.get("/me"), papi.get("/teams")
    assert first.headers["X-RateLimit-Limit"] == "100"
    remaining = int(first.headers["X-RateLimit-Remaining"]), int(second.headers["X-RateLimit-Remaining"])
    assert remaining[1] == remaining[0] - 1 or remaining[1] == 99  # the 10 s slice may have turned over
    assert int(first.headers["X-RateLimit-Reset"]) > time.time() - 1
    assert "X-RateLimit-Limit" in admin_client.get("/__emulator/counters").headers


def test_rate_limit_is_per_token():
    config = EmulatorConfig(contacts=10, token="one", extra_workspace_tokens=["two"], extra_workspace_contacts=10,
                            knobs={"rate_limit_per_10s": 2})
    with start_in_thread(config) as server:
        statuses = [httpx.get(f"{server.url}/me", headers={"Authorization": "Bearer one"}).status_code
                    for _ in range(5)]
        assert 429 in statuses
        assert httpx.get(f"{server.url}/me", headers={"Authorization": "Bearer two"}).status_code == 200


def test_fault_rate_answers_5xx(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"fault_rate": 1.0})
    statuses = {papi.get("/me").status_code for _ in range(12)}
    assert statuses <= {500, 502, 503} and len(statuses) >= 2
    admin_client.patch("/__emulator/config", json={"fault_rate": 0.0})
    assert papi.get("/me").status_code == 200


def test_drop_rate_cuts_connections(private_emulator, admin_client):
    admin_client.patch("/__emulator/config", json={"drop_rate": 1.0})
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{private_emulator.url}/contacts", headers={"Authorization": f"Bearer {private_emulator.token}"})
    admin_client.patch("/__emulator/config", json={"drop_rate": 0.0})
    assert httpx.get(f"{private_emulator.url}/me",
                     headers={"Authorization": f"Bearer {private_emulator.token}"}).status_code == 200


def test_drop_route_loses_only_that_routes_answers_after_carrying_them_out(private_emulator, admin_client):
    headers = {"Authorization": f"Bearer {private_emulator.token}"}
    admin_client.patch("/__emulator/config", json={"drop_rate": 1.0, "drop_route": "GET /companies/scroll"})
    try:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{private_emulator.url}/companies/scroll", headers=headers)
        assert httpx.get(f"{private_emulator.url}/me", headers=headers).status_code == 200
        # the scroll was opened all the same: a second one is refused while it is open
        again = httpx.get(f"{private_emulator.url}/companies/scroll", headers=headers)
        assert again.status_code == 400 and again.json()["errors"][0]["code"] == "scroll_exists"
    finally:
        admin_client.patch("/__emulator/config", json={"drop_rate": 0.0, "drop_route": ""})


def test_slow_body(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"slow_body_ms": 300})
    started = time.perf_counter()
    response = papi.get("/contacts", params={"per_page": 20})
    assert response.status_code == 200 and len(response.json()["data"]) == 20
    assert time.perf_counter() - started >= 0.28


def test_counters_by_method_and_path_template(papi, admin_client):
    admin_client.post("/__emulator/counters/reset")
    contact = papi.get("/contacts", params={"per_page": 2}).json()["data"][0]
    papi.get("/contacts", params={"per_page": 2})
    papi.get(f"/contacts/{contact['id']}")
    papi.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "lead"}})
    admin_client.get("/__emulator/config")  # admin routes are not counted
    counters = admin_client.get("/__emulator/counters").json()
    assert counters == {"total": 4, "by_route": {"GET /contacts": 2, "GET /contacts/{id}": 1,
                                                 "POST /contacts/search": 1}}
    assert admin_client.post("/__emulator/counters/reset").json()["total"] == 0
    assert admin_client.get("/__emulator/counters").json() == {"total": 0, "by_route": {}}


def test_request_log_shows_what_was_sent(papi, admin_client):
    papi.get("/contacts", params={"per_page": 3})
    papi.post("/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "lead"}})
    logged = admin_client.get("/__emulator/requests", params={"limit": 2}).json()["requests"]
    assert [r["method"] for r in logged] == ["GET", "POST"]
    assert logged[0]["path"] == "/contacts" and logged[0]["query"] == {"per_page": "3"}
    assert logged[1]["body"] == {"query": {"field": "role", "operator": "=", "value": "lead"}}
    assert logged[1]["route"] == "POST /contacts/search"


def test_reset_reseeds_from_the_config(papi, admin_client):
    created = papi.post("/contacts", json={"email": "temporary@example.com"}).json()
    assert papi.get(f"/contacts/{created['id']}").status_code == 200
    assert admin_client.post("/__emulator/reset").json()["reset"] is True
    assert papi.get(f"/contacts/{created['id']}").status_code == 404
    assert papi.get("/contacts").json()["total_count"] == 300


def test_reset_restarts_fault_draws_from_the_seed(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"fault_rate": 0.5})
    before = [papi.get("/admins").status_code for _ in range(16)]
    admin_client.post("/__emulator/reset")
    after = [papi.get("/admins").status_code for _ in range(16)]
    admin_client.patch("/__emulator/config", json={"fault_rate": 0.0})
    assert 200 in before and set(before) - {200}, before  # both outcomes drawn
    assert after == before


def test_reset_gives_every_token_a_fresh_rate_limit_slice():
    from intercom_fdw.emulator.state import EmulatorState

    state = EmulatorState(EmulatorConfig(seed=1, token="t", contacts=5), clock=lambda: 1000.0)
    assert [state.rate_limiter.take("t", 1000.0, 2).allowed for _ in range(3)] == [True, True, False]
    state.reset()
    assert state.rate_limiter.take("t", 1000.0, 2).allowed


def _search_by_email(papi, email: str) -> list:
    query = {"field": "email", "operator": "=", "value": email}
    return papi.post("/contacts/search", json={"query": query}).json()["data"]


def test_search_index_delay_hides_new_contacts_from_search_only(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"search_index_delay_s": 60})
    seeded = papi.get("/contacts", params={"per_page": 1}).json()["data"][0]
    created = papi.post("/contacts", json={"email": "fresh.index@example.com"}).json()
    assert _search_by_email(papi, "fresh.index@example.com") == []
    id_query = {"field": "id", "operator": "IN", "value": [seeded["id"], created["id"]]}
    assert [c["id"] for c in papi.post("/contacts/search", json={"query": id_query}).json()["data"]] == [seeded["id"]]
    assert papi.get(f"/contacts/{created['id']}").json()["email"] == "fresh.index@example.com"
    listed = papi.get("/contacts", params={"per_page": 150}).json()
    while listed["pages"].get("next"):
        listed = papi.get("/contacts", params={"per_page": 150,
                                               "starting_after": listed["pages"]["next"]["starting_after"]}).json()
    assert listed["data"][-1]["id"] == created["id"]  # the list follows creation order: the new one is last
    admin_client.patch("/__emulator/config", json={"search_index_delay_s": 0})
    assert [c["id"] for c in _search_by_email(papi, "fresh.index@example.com")] == [created["id"]]


def test_search_index_delay_passes(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"search_index_delay_s": 1})
    created = papi.post("/contacts", json={"email": "soon.indexed@example.com"}).json()
    assert _search_by_email(papi, "soon.indexed@example.com") == []
    time.sleep(1.1)
    # The same query again, with no write in between: a cached result must not outlive the delay.
    assert [c["id"] for c in _search_by_email(papi, "soon.indexed@example.com")] == [created["id"]]


def test_merged_contacts_never_appear_in_search(papi, admin_client):
    lead = papi.post("/contacts", json={"role": "lead", "email": "merged.away@example.com"}).json()
    assert [c["id"] for c in _search_by_email(papi, "merged.away@example.com")] == [lead["id"]]  # default 0
    user = papi.post("/contacts", json={"role": "user", "external_id": "merge-survivor"}).json()
    assert papi.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]}).status_code == 200
    assert _search_by_email(papi, "merged.away@example.com") == []
    query = {"field": "id", "operator": "=", "value": lead["id"]}
    assert papi.post("/contacts/search", json={"query": query}).json()["total_count"] == 0
    # Merged while still within the index delay: not found once the delay is over either.
    admin_client.patch("/__emulator/config", json={"search_index_delay_s": 60})
    late = papi.post("/contacts", json={"role": "lead", "email": "late.lead@example.com"}).json()
    assert papi.post("/contacts/merge", json={"from": late["id"], "into": user["id"]}).status_code == 200
    admin_client.patch("/__emulator/config", json={"search_index_delay_s": 0})
    assert _search_by_email(papi, "late.lead@example.com") == []


def test_search_index_delay_from_the_command_line():
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "intercom_fdw.tools.cli", "emulator", "--port", str(port),
                                "--contacts", "10", "--search-index-delay-s", "7.5"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                knobs = httpx.get(f"http://127.0.0.1:{port}/__emulator/config").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "the emulator did not start"
                time.sleep(0.2)
        assert knobs["search_index_delay_s"] == 7.5
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_clock_offset_stamps_what_the_workspace_creates_and_may_be_negative(papi, admin_client):
    admin_client.patch("/__emulator/config", json={"clock_offset_s": -7200})
    try:
        created = papi.post("/contacts", json={"email": "behind.clock@example.com"}).json()
        assert abs(created["created_at"] - (time.time() - 7200)) < 5 and created["updated_at"] == created["created_at"]
    finally:
        admin_client.patch("/__emulator/config", json={"clock_offset_s": 0})
