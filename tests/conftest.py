"""Fixtures shared by every test layer.

- `pg`: one throwaway PostgreSQL 15 cluster for the whole session.
- `db`: a fresh database per test module, with the multicorn extension created.
- `emulator`: one small seeded Intercom workspace (tests/emulator_fixtures.py).
"""
import os
import re
import sys

import pytest

from intercom_fdw.throwaway_pg import PgCluster, backend_pythonpath

# Tests that import `multicorn` in this process get the package the backend runs (the one of
# this checkout when throwaway_pg puts multicorn_compat/python on the backend's PYTHONPATH),
# not whichever one the virtual environment has installed: an editable install may point at
# another checkout.
for _path in reversed([p for p in backend_pythonpath().split(os.pathsep) if p.endswith("multicorn_compat/python")]):
    if _path not in sys.path:
        sys.path.insert(0, _path)

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
