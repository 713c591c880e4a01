"""Test harness: a throwaway PostgreSQL 15 cluster (and, later, the emulator) for SQL-level tests."""
