"""The write protocol of the Multicorn glue, driven the way multicorn2 drives it (no PostgreSQL, no HTTP):
multicorn2 reads `rowid_column` when PostgreSQL plans an UPDATE or DELETE (and then sizes the table)
and again when any write starts, INSERT included."""
from collections import OrderedDict

import pytest
from multicorn import ColumnDefinition
from multicorn.utils import MulticornException

from intercom_fdw.fdw import IntercomFdw
from intercom_fdw.objects import SPECS


def foreign_table(name):
    columns = OrderedDict((c.name, ColumnDefinition(c.name, type_name=c.pg_type)) for c in SPECS[name].columns)
    # nothing listens there: any API call would fail with a transport error, not the errors tested
    return IntercomFdw({"object": name, "access_token": "glue-test-token", "api_url": "http://127.0.0.1:9"}, columns)


def test_planning_an_update_of_a_read_only_table_is_refused_before_any_call():
    table = foreign_table("admins")
    assert table.rowid_column == "id"
    with pytest.raises(MulticornException, match="UPDATE and DELETE on admins are not supported by the Intercom API"):
        table.get_rel_size([], {"id"})


def test_an_insert_start_asks_for_the_rowid_without_being_refused():
    table = foreign_table("notes")  # INSERT only
    assert table.rowid_column == "id"  # multicorn2's BeginForeignModify, for an INSERT
    with pytest.raises(MulticornException, match="row 1: body must be set"):
        table.bulk_insert([{"contact_id": "c1", "body": None}])
    table.end_modify()
    table.get_rel_size([], {"id"})  # a later SELECT plans normally


def test_writes_of_a_table_that_allows_them_plan_normally():
    table = foreign_table("contacts")
    assert table.rowid_column == "id"
    rows, _ = table.get_rel_size([], set(SPECS["contacts"].column_names))
    assert rows > 0


def test_a_planned_delete_of_an_update_only_table_is_told_by_its_columns():
    table = foreign_table("conversations")
    assert table.rowid_column == "id"
    with pytest.raises(MulticornException, match="DELETE on conversations is not supported by the Intercom API"):
        table.get_rel_size([], {"id"})
    assert table.rowid_column == "id"
    table.get_rel_size([], set(SPECS["conversations"].column_names))  # an UPDATE reads every column


def test_an_unexpected_python_error_is_an_internal_error_scrubbed_and_without_traceback():
    class Hostile:
        field_name = "id"
        operator = "="

        @property
        def value(self):
            raise RuntimeError("boom with Bearer glue-test-token")

    table = foreign_table("contacts")
    with pytest.raises(MulticornException) as caught:
        table.get_rel_size([Hostile()], {"id"})
    error = caught.value
    assert error.message == "internal error: RuntimeError: boom with Bearer [secret]"
    assert "bug of intercom_fdw" in error.hint
    assert error.detail.startswith("raised in value (test_writes_glue.py:") and "Traceback" not in error.detail
