"""The `emulator` fixture: one small seeded Intercom workspace for the whole test session.

300 contacts, 40 companies (some without contacts), 120 conversations with parts, 60 tickets over
3 ticket types, 20 articles in collections and help centers, custom data attributes of every type
on contacts, companies and conversations. Yields the running emulator (`.url`, `.token`, `.stop()`).
Tests that change knobs or data should restore them (PATCH /__emulator/config, POST /__emulator/reset).
"""
import pytest

from intercom_fdw.emulator import EmulatorConfig, start_in_thread

EMULATOR_CONFIG = dict(seed=42, token="test-token", contacts=300, companies=40, conversations=120, tickets=60,
                       articles=20)


@pytest.fixture(scope="session")
def emulator():
    server = start_in_thread(EmulatorConfig(**EMULATOR_CONFIG), port=0)
    try:
        yield server
    finally:
        server.stop()
