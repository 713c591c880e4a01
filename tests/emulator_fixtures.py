"""The `emulator` fixture: one small seeded Intercom workspace for the whole test session.

300 contacts, 40 companies (some without contacts), 120 conversations with parts, 60 tickets over
3 ticket types, 20 articles in collections and help centers, custom data attributes of every type
on contacts, companies and conversations. Yields the running emulator (`.url`, `.token`, `.stop()`).
Tests that change knobs or data should restore them (PATCH /__emulator/config, POST /__emulator/reset),
or start a workspace of their own with `running_emulator(...)`.

The shared workspace's rate limit is far above Intercom's: a whole suite sends thousands of calls a
minute through one token, and test oracles that read the emulator directly do not throttle. Tests
of rate limiting set their own limit (PATCH /__emulator/config).
"""
import contextlib

import pytest
import requests

from intercom_fdw.emulator import EmulatorConfig, start_in_thread

EMULATOR_CONFIG = dict(seed=42, token="test-token", contacts=300, companies=40, conversations=120, tickets=60,
                       articles=20, knobs={"rate_limit_per_10s": 1_000_000})


@contextlib.contextmanager
def running_emulator(**overrides):
    """A seeded emulator like the session one (with `overrides`), stopped on exit."""
    server = start_in_thread(EmulatorConfig(**{**EMULATOR_CONFIG, **overrides}), port=0)
    try:
        yield server
    finally:
        server.stop()


def set_knobs(url: str, **values) -> None:
    """Changes a running emulator's knobs (latency, faults, rate limit...) over its HTTP API."""
    requests.patch(url + "/__emulator/config", json=values, timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def emulator():
    with running_emulator() as server:
        yield server
