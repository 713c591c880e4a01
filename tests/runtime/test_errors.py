"""Bad input never crashes the backend: clear errors for bad wrappers, Python
exceptions in every callback, log_to_postgres levels, query cancel during a Python
scan, and coexistence with plpython3u."""
import threading
import time

import psycopg
import pytest

from tests.runtime.conftest import FDW


@pytest.mark.parametrize("wrapper, fragment", [
    ("no_such_module.Fdw", "No module named 'no_such_module'"),
    ("tests.runtime.testfdw.NoSuchClass", "has no attribute 'NoSuchClass'"),
    ("NoDots", "is not of the form 'package.module.Class'"),
    ("tests.runtime.broken_import.Fdw", "No module named 'tests.runtime.broken_import'"),
])
def test_unknown_wrapper_is_refused_at_create_server(fdw, wrapper, fragment):
    with pytest.raises(psycopg.Error) as info:
        fdw.sql(f"CREATE SERVER bad FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper '{wrapper}')")
    assert info.value.diag.message_primary.startswith(f'multicorn wrapper class "{wrapper}" could not be loaded')
    assert fragment in info.value.diag.message_primary
    assert "PYTHONPATH" in info.value.diag.message_hint


def test_wrapper_option_rules(fdw):
    # multicorn2's messages
    with pytest.raises(psycopg.Error, match="The wrapper parameter is mandatory, specify a valid class name"):
        fdw.sql("CREATE SERVER nowrapper FOREIGN DATA WRAPPER multicorn")
    with pytest.raises(psycopg.Error, match="Cannot set the wrapper class on the table") as info:
        fdw.sql(f"CREATE FOREIGN TABLE wt (a text) SERVER rt OPTIONS (wrapper '{FDW}.RecordingFdw')")
    assert info.value.diag.message_hint == "Set it on the server"


FAILURES = [
    ("__init__", "SELECT * FROM {t}"),
    ("get_rel_size", "SELECT * FROM {t}"),
    ("get_path_keys", "SELECT * FROM {t}"),
    ("can_sort", "SELECT * FROM {t} ORDER BY a"),
    ("can_limit", "SELECT * FROM {t} LIMIT 1"),
    ("begin", "SELECT * FROM {t}"),
    ("execute", "SELECT * FROM {t}"),
    ("end_scan", "SELECT * FROM {t}"),
    ("explain", "EXPLAIN SELECT * FROM {t}"),
    ("insert", "INSERT INTO {t} VALUES ('x')"),
    ("bulk_insert", "INSERT INTO {t} VALUES ('x'), ('y')"),
    ("end_modify", "INSERT INTO {t} VALUES ('x')"),
    ("rowid_column", "DELETE FROM {t}"),
    ("update", "UPDATE {t} SET a = 'z'"),
    ("delete", "DELETE FROM {t}"),
    ("pre_commit", "INSERT INTO {t} VALUES ('x')"),
]


@pytest.mark.parametrize("method, query", FAILURES)
def test_exception_in_each_callback_becomes_an_error(fdw, pg, method, query):
    table = "fail_" + method.strip("_")
    fdw.table(table, "a text", fail_in=method, batch_size=2 if method == "bulk_insert" else 1,
              rows="[{'a': 'x'}]")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql(query.format(t=table))
    diag = info.value.diag
    assert diag.message_primary == f"{method} failed on purpose"
    assert diag.message_hint == "fix the test"
    assert diag.message_detail == f"detail of {method}"
    assert diag.context is None  # as multicorn2; the server log says where
    assert f"detail of {method}\n" in pg.log_tail(400)  # then where it happened
    assert fdw.sql("SELECT 1") == [(1,)]
    assert pg.is_alive()


def test_exception_while_iterating(fdw):
    fdw.table("fail_iter", "a text", fail_in="iterate", rows="[{'a': 'x'}] * 3")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql("SELECT * FROM fail_iter")
    assert info.value.diag.message_primary == "iteration failed on purpose"
    assert info.value.diag.context is None
    assert fdw.sql("SELECT 1") == [(1,)]


def test_plain_python_exception_is_reported_as_multicorn2_does(fdw, pg):
    """"Error in python: <class>" with str(exc) as DETAIL; where it happened and the
    traceback go to the server log only."""
    fdw.table("keyerr", "a text", rows="[{}['missing']]")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql("SELECT * FROM keyerr")
    assert info.value.diag.message_primary == "Error in python: KeyError"
    assert info.value.diag.message_detail == "'missing'"
    assert info.value.diag.context is None
    log = pg.log_tail(400)
    assert 'Python method execute() of foreign table "keyerr"' in log
    assert "Traceback (most recent call last)" in log and "KeyError: 'missing'" in log


def test_bad_planner_answers_are_errors(fdw):
    fdw.server("badsize", wrapper="RecordingFdw")
    fdw.table("badpath", "a text", path_keys="'nonsense'", rows="[]")
    with pytest.raises(psycopg.Error, match="get_path_keys"):
        fdw.sql("SELECT * FROM badpath")
    fdw.table("badpath2", "a text", path_keys="[(('a',), 'many')]", rows="[]")
    with pytest.raises(psycopg.Error, match="get_path_keys"):
        fdw.sql("SELECT * FROM badpath2")


@pytest.mark.parametrize("level, severity", [("INFO", "NOTICE"), ("WARNING", "WARNING")])
def test_log_to_postgres_levels(fdw, level, severity):
    fdw.server("logging", wrapper="LoggingFdw", level=level)
    fdw.table("logged", "a text", server="logging")
    fdw.reset()
    fdw.sql("SELECT * FROM logged")
    assert (severity, f"logged at {level}", "a hint", "a detail") in fdw.notices


def test_log_to_postgres_debug_goes_to_debug1(fdw):
    fdw.server("logging_debug", wrapper="LoggingFdw", level="DEBUG")
    fdw.table("logged_debug", "a text", server="logging_debug")
    fdw.sql("SET client_min_messages = debug1")
    try:
        fdw.reset()
        fdw.sql("SELECT * FROM logged_debug")
    finally:
        fdw.sql("RESET client_min_messages")
    assert ("DEBUG", "logged at DEBUG", "a hint", "a detail") in fdw.notices


@pytest.mark.parametrize("level", ["ERROR", "CRITICAL"])
def test_log_to_postgres_error_levels_raise(fdw, pg, level):
    fdw.server("logging_err", wrapper="LoggingFdw", level=level)
    fdw.table("logged_err", "a text", server="logging_err")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql("SELECT * FROM logged_err")
    assert info.value.diag.message_primary == f"logged at {level}"
    assert info.value.diag.message_hint == "a hint" and info.value.diag.message_detail == "a detail"
    assert fdw.sql("SELECT 1") == [(1,)]


def test_statement_timeout_cancels_an_endless_scan(fdw):
    fdw.table("forever", "a text", endless="true")
    fdw.sql("SET statement_timeout = '300ms'")
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            fdw.sql("SELECT count(*) FROM forever")
        assert time.monotonic() - started < 10
    finally:
        fdw.sql("RESET statement_timeout")
    assert fdw.sql("SELECT count(*) FROM (SELECT * FROM forever LIMIT 10) s") == [(10,)]


def test_pg_cancel_backend_cancels_an_endless_scan(fdw, pg, db):
    fdw.table("forever2", "a text", endless="true")
    pid = fdw.sql("SELECT pg_backend_pid()")[0][0]

    def cancel_soon():
        time.sleep(0.5)
        with pg.connect(db) as other:
            other.execute("SELECT pg_cancel_backend(%s)", (pid,))
    threading.Thread(target=cancel_soon).start()
    with pytest.raises(psycopg.errors.QueryCanceled):
        fdw.sql("SELECT count(*) FROM forever2")
    assert fdw.sql("SELECT 1") == [(1,)]


def test_check_interrupts_stops_python_that_never_yields(fdw):
    # a generator that loops forever without producing a row, calling check_interrupts()
    fdw.table("busy", "a text",
              rows="(x for x in itertools.count() if __import__('multicorn.utils', fromlist=['u']).check_interrupts())")
    fdw.sql("SET statement_timeout = '300ms'")
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            fdw.sql("SELECT * FROM busy")
    finally:
        fdw.sql("RESET statement_timeout")
    assert fdw.sql("SELECT 1") == [(1,)]


PLPY = """CREATE OR REPLACE FUNCTION py_rows(n int) RETURNS SETOF text LANGUAGE plpython3u AS $$
import multicorn
return ["%s:%d" % (multicorn.__name__, i) for i in range(n)]
$$"""


@pytest.mark.parametrize("first", ["plpython", "multicorn"])
def test_coexists_with_plpython_in_one_backend(fdw, pg, db, first):
    fdw.sql("CREATE EXTENSION IF NOT EXISTS plpython3u")
    fdw.sql(PLPY)
    fdw.table("shared_t", "a text", rows="[{'a': 'fdw'}]")
    with pg.connect(db) as conn:   # a fresh backend: nothing loaded yet
        steps = [lambda: conn.execute("SELECT py_rows(2)").fetchall(),
                 lambda: conn.execute("SELECT a FROM shared_t").fetchall()]
        if first == "multicorn":
            steps.reverse()
        results = [step() for step in steps]
    assert sorted(results) == sorted([[("multicorn:0",), ("multicorn:1",)], [("fdw",)]])


def caught(fdw, query):
    with pytest.raises(psycopg.Error) as info:
        fdw.sql(query)
    return info.value.diag


def test_sub_transaction_callback_failures(fdw, pg):
    """sub_begin and sub_commit failures are errors carrying the exception's message, HINT and
    DETAIL; a sub_rollback failure is a WARNING (the rollback itself must go on). The backend lives."""
    fdw.table("fail_sub_begin", "a text", fail_in="sub_begin", rows="[{'a': 'x'}]")
    fdw.sql("BEGIN")
    fdw.sql("SELECT * FROM fail_sub_begin")  # begin() at the top level: no sub_begin yet
    fdw.sql("SAVEPOINT s")
    diag = caught(fdw, "SELECT * FROM fail_sub_begin")
    assert (diag.message_primary, diag.message_hint, diag.message_detail) == (
        "sub_begin failed on purpose", "fix the test", "detail of sub_begin")
    fdw.sql("ROLLBACK")

    fdw.table("fail_sub_commit", "a text", fail_in="sub_commit", rows="[{'a': 'x'}]")
    fdw.sql("BEGIN")
    fdw.sql("SAVEPOINT s")
    fdw.sql("SELECT * FROM fail_sub_commit")
    diag = caught(fdw, "RELEASE SAVEPOINT s")
    assert (diag.message_primary, diag.message_hint, diag.message_detail) == (
        "sub_commit failed on purpose", "fix the test", "detail of sub_commit")
    fdw.sql("ROLLBACK")

    fdw.table("fail_sub_rollback", "a text", fail_in="sub_rollback", rows="[{'a': 'x'}]")
    fdw.reset()
    fdw.sql("BEGIN")
    fdw.sql("SAVEPOINT s")
    fdw.sql("SELECT * FROM fail_sub_rollback")
    fdw.sql("ROLLBACK TO SAVEPOINT s")
    assert any(severity == "WARNING" and "sub_rollback failed on purpose" in text
               for severity, text, _, _ in fdw.notices), fdw.notices
    assert fdw.sql("SELECT count(*) FROM fail_sub_rollback") == [(1,)]  # the transaction goes on
    fdw.sql("COMMIT")
    assert fdw.sql("SELECT 1") == [(1,)]
    assert pg.is_alive()


@pytest.mark.parametrize("end", ["COMMIT", "ROLLBACK"])
def test_cancel_during_commit_or_rollback_callback_is_a_warning(fdw, pg, db, end):
    """PostgreSQL holds interrupts off while commit()/rollback() run: the KeyboardInterrupt that
    check_interrupts() raises there becomes a WARNING and the transaction ends normally."""
    fdw.server("slow_end", wrapper="CancelWaitingFdw")
    fdw.table("slow_end_t", "a text", server="slow_end", rows="[{'a': 'x'}]")
    pid = fdw.sql("SELECT pg_backend_pid()")[0][0]
    fdw.sql("BEGIN")
    fdw.sql("SELECT * FROM slow_end_t")

    def cancel_soon():
        time.sleep(0.5)
        with pg.connect(db) as other:
            other.execute("SELECT pg_cancel_backend(%s)", (pid,))
    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    fdw.reset()
    fdw.sql(end)
    canceller.join()
    assert any(severity == "WARNING" for severity, *_ in fdw.notices), fdw.notices
    assert pg.is_alive(), pg.log_tail()
    assert fdw.sql("SELECT 1") == [(1,)]


def test_failing_parameter_leaves_no_python_quals_behind(fdw):
    # 1 / $1 is evaluated (and fails) while the quals for execute() are being built
    fdw.table("leaky", "a text, b int", rows="[{'a': 'x', 'b': 1}]")
    fdw.table("live_quals", "n int",
              rows="[{'n': sum(type(o).__name__ == 'Qual' for o in __import__('gc').get_objects())}]")
    fdw.sql("SET plan_cache_mode = force_generic_plan")
    fdw.sql("PREPARE leaky_q(int) AS SELECT * FROM leaky WHERE a = 'x' AND b = 1 / $1")
    try:
        for _ in range(20):
            with pytest.raises(psycopg.errors.DivisionByZero):
                fdw.sql("EXECUTE leaky_q(0)")
    finally:
        fdw.sql("DEALLOCATE leaky_q")
        fdw.sql("RESET plan_cache_mode")
    assert fdw.sql("SELECT n FROM live_quals") == [(0,)]
