"""Integration fixtures: the session-wide seeded emulator (modules may define their own)."""
from tests.integration.read_fixtures import api, read_db  # noqa: F401  (pytest fixtures)
