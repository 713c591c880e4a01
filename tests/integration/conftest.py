"""Integration fixtures: the session-wide seeded emulator (modules may define their own)."""
from tests.emulator_fixtures import emulator  # noqa: F401  (a pytest fixture)
from tests.integration.read_fixtures import api, read_db  # noqa: F401  (pytest fixtures)
