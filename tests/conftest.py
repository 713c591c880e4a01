"""Fixtures shared by every test layer.

- `pg`: one throwaway PostgreSQL 15 cluster for the whole session.
- `db`: a fresh database per test module, with the multicorn extension created.
- `emulator`: one small seeded Intercom workspace (tests/emulator_fixtures.py).
"""
import re

import pytest

from intercom_fdw.throwaway_pg import PgCluster

pytest_plugins = ["tests.emulator_fixtures"]


@pytest.fixture(scope="session")
def pg():
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def db(pg, request):
    name = re.sub(r"[^a-z0-9_]", "_", request.module.__name__.lower())[-60:]
    return pg.create_database(name)
