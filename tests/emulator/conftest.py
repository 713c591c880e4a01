"""Fixtures of the emulator's own tests: HTTP clients whose every response is checked against the
OpenAPI file (and whose well-formed requests are too), on the session emulator or a private one."""
from __future__ import annotations

import httpx
import pytest

from tests.emulator.openapi_check import check_request, check_response
from tests.emulator_fixtures import running_emulator

CHECKED = {"responses": 0, "requests": 0}


def validating_client(base_url: str, token: str, check_requests: bool = True) -> httpx.Client:
    """A client for the emulator: Intercom's headers, and every answer held to the OpenAPI file."""

    def on_request(request: httpx.Request) -> None:
        if check_requests:
            # Every request, not a sample: a sample picked by position made the outcome depend on
            # which tests ran before. Tests that break the file on purpose use `raw_api`.
            check_request(request)
            CHECKED["requests"] += 1

    def on_response(response: httpx.Response) -> None:
        response.read()
        if not response.request.url.path.startswith("/__emulator/"):
            check_response(response)
            CHECKED["responses"] += 1

    headers = {"Intercom-Version": "2.14", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=base_url, headers=headers, timeout=30,
                        event_hooks={"request": [on_request], "response": [on_response]})


@pytest.fixture(scope="session")
def api(emulator):
    """Read-only tests: the shared session workspace."""
    with validating_client(emulator.url, emulator.token) as client:
        yield client


@pytest.fixture(scope="session")
def raw_api(emulator):
    """Tests that send bodies breaking the file on purpose: responses still checked, requests not."""
    with validating_client(emulator.url, emulator.token, check_requests=False) as client:
        yield client


@pytest.fixture
def private_emulator():
    """Tests that write, turn knobs or reset: a workspace of their own (seeds in a fraction of a second)."""
    with running_emulator(token="private-token") as server:
        yield server


@pytest.fixture
def papi(private_emulator):
    with validating_client(private_emulator.url, private_emulator.token) as client:
        yield client


@pytest.fixture
def admin_client(private_emulator):
    with httpx.Client(base_url=private_emulator.url, timeout=30) as client:
        yield client
