"""Python references the runtime holds while an ERROR is raised mid-conversion are released
(py_hold): each test fails 20 times on a LeakMarker and then counts the markers still alive
in the backend."""
import psycopg
import pytest


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


def test_error_text_in_a_latin1_database_leaves_no_python_objects(latin1_fdw):
    # the texts of the exception (holding a marker) are converted once it is released
    latin1_fdw.table("failing", "a text", fail_in="execute",
                     fail_with="ApiError('price in \\u20ac', detail=LeakMarker())")
    assert_markers_released(latin1_fdw, "SELECT * FROM failing", r"price in \\u20AC")
