"""Writes, laid out as reads are: `requests.py` is pure (SQL rows to WriteRequests, every rule checked
first, as `planning/` is for scans) and `statement.py` runs them through the HTTP client (one
StatementWriter per INSERT/UPDATE/DELETE, as `engine.py` runs scan plans)."""
