"""Python references the runtime holds while an ERROR is raised mid-conversion are released
(py_hold): each test fails 20 times on a LeakMarker and then counts the markers still alive
in the backend."""
import psycopg
import pytest

from tests.runtime.conftest import FdwSession

FAILURES = 20


def assert_markers_released(fdw, query, message):
    fdw.table("live_markers", "n int", rows="[{'n': live_markers()}]")
    for _ in range(FAILURES):
        with pytest.raises(psycopg.Error, match=message):
            fdw.sql(query)
    assert fdw.sql("SELECT n FROM live_markers") == [(0,)]


@pytest.mark.parametrize("path_keys, message", [
    ("[(('id',), LeakMarker())]", "is not a number"),                # rows are not a number
    ("[((LeakMarker(),), 10)]", "LeakMarker cannot be converted"),   # a column name has no str()
])
def test_failing_get_path_keys_answer_leaves_no_python_objects(fdw, path_keys, message):
    fdw.table("keyed", "id int", path_keys=path_keys)
    assert_markers_released(fdw, "SELECT * FROM keyed", message)


@pytest.mark.parametrize("columns, value", [
    ("a text[]", "[LeakMarker()]"),                 # array: the items' tuple
    ("a text[][]", "[['x', LeakMarker()]]"),          # nested array
    ("a text", "{'k': LeakMarker()}"),              # mapping: the items list
])
def test_failing_nested_value_leaves_no_python_objects(fdw, columns, value):
    fdw.table("nested", columns, rows="[{'a': %s}]" % value)
    assert_markers_released(fdw, "SELECT * FROM nested", "LeakMarker cannot be converted")


def test_failing_bulk_insert_returned_row_leaves_no_python_objects(fdw):
    fdw.table("bulk", "id int", batch_size=10, rows="[]",
              bulk_returning="[[LeakMarker()] for r in rows]")
    assert_markers_released(fdw, "INSERT INTO bulk VALUES (1), (2)", "LeakMarker cannot be converted")


def test_error_text_without_server_encoding_equivalent_leaves_no_python_objects(pg):
    # In a LATIN1 database a Python message with a euro sign cannot be converted: that ERROR
    # is raised only once the exception (holding a marker) has been released.  (The client
    # speaks UTF8 so that the test FDW's rollback() can still log while the transaction aborts.)
    name = "test_leaks_latin1"
    with pg.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'LATIN1' "
                     "LC_COLLATE 'C' LC_CTYPE 'C'")
    with pg.connect(name) as conn:
        conn.execute("CREATE EXTENSION multicorn")
        conn.execute("SET client_encoding TO 'UTF8'")
        fdw = FdwSession(conn)
        fdw.server("rt")
        fdw.table("failing", "a text", fail_in="execute",
                  fail_with="ApiError('price in \\u20ac', detail=LeakMarker())")
        assert_markers_released(fdw, "SELECT * FROM failing", "has no equivalent in encoding")
