"""Messages from Python (exceptions, log_to_postgres) in a LATIN1 database: converted when
possible, else with \\uXXXX escapes, never an ERROR of their own; in commit() and
rollback() (outside a transaction, where PostgreSQL refuses the conversion) an ERROR
would abort the abort, or PANIC after the commit."""
import psycopg
import pytest


def test_exception_message_without_latin1_equivalent_is_escaped(latin1_fdw):
    latin1_fdw.table("failing", "a text", fail_in="execute",
                     fail_with="ApiError('caf\\u00e9 costs 3 \\u20ac', hint='pay in \\u20ac')")
    with pytest.raises(psycopg.Error) as caught:
        latin1_fdw.sql("SELECT * FROM failing")
    assert caught.value.diag.message_primary == "caf\\u00E9 costs 3 \\u20AC"  # all or nothing
    assert caught.value.diag.message_hint == "pay in \\u20AC"


@pytest.mark.parametrize("method, query", [
    ("commit", "SELECT * FROM t"),                       # after the commit: would PANIC
    ("rollback", "SELECT a::int FROM t"),                # while aborting: 'a 0' is no int
])
def test_transaction_callback_failure_with_non_ascii_message_is_a_warning(latin1_fdw, method, query):
    latin1_fdw.table("t", "a text", fail_in=method, fail_with="ApiError('caf\\u00e9 \\u20ac')")
    try:
        latin1_fdw.sql(query)
    except psycopg.errors.InvalidTextRepresentation:
        pass
    warnings = [text for severity, text, _h, _d in latin1_fdw.notices if severity == "WARNING"]
    assert warnings == ["caf\\u00E9 \\u20AC"]
    assert latin1_fdw.sql("SELECT count(*) FROM t") == [(3,)]
