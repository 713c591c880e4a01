"""Values out of Python into every column type, and into Python for writes, in the
forms multicorn2 uses; values that do not fit fail naming table, column and value."""
import datetime
import decimal
import json
import uuid

import psycopg
import pytest

from tests.runtime.conftest import value_of

UTC = datetime.timezone.utc


def one(fdw, column_type, python_value, cast=None):
    fdw.table("v", f"x {column_type}", rows=f"[{{'x': {python_value}}}]")
    [(value,)] = fdw.sql(f"SELECT x{'::' + cast if cast else ''} FROM v")
    return value


@pytest.mark.parametrize("column_type, python_value, expected", [
    ("text", "'héllo'", "héllo"),
    ("text", "42", "42"),
    ("text", "True", "True"),
    ("text", "datetime.date(2024, 5, 6)", "2024-05-06"),
    ("varchar(5)", "'short'", "short"),
    ("char(3)", "'ab'", "ab "),
    ("int2", "7", 7),
    ("int4", "-7", -7),
    ("int8", "2**40", 2**40),
    ("int4", "'12'", 12),
    ("float4", "1.5", 1.5),
    ("float8", "0.1", 0.1),
    ("float8", "3", 3.0),
    ("numeric", "decimal.Decimal('12.345')", decimal.Decimal("12.345")),
    ("numeric", "1.25", decimal.Decimal("1.25")),
    ("bool", "True", True),
    ("bool", "False", False),
    ("bool", "'t'", True),
    ("date", "datetime.date(2024, 2, 29)", datetime.date(2024, 2, 29)),
    ("date", "'2024-02-29'", datetime.date(2024, 2, 29)),
    ("timestamp", "datetime.datetime(2024, 1, 2, 3, 4, 5, 600000)", datetime.datetime(2024, 1, 2, 3, 4, 5, 600000)),
    ("timestamptz", "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))",
     datetime.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
    ("timestamptz", "datetime.datetime(2024, 1, 2, 3, 4, 5)", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("timestamptz", "'2024-01-02T03:04:05Z'", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("timestamptz", "'2024-01-02T03:04:05+01:00'", datetime.datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)),
    ("json", "json.dumps({'a': [1, 2]})", {"a": [1, 2]}),
    ("jsonb", "'{\"a\": null}'", {"a": None}),
    ("jsonb", "[1, 2]", [1, 2]),   # built from the list (test_jsonb_from_python.py)
    ("json", "'[1, 2]'", [1, 2]),
    ("text[]", "['a', 'b,c', 'd\"e', None]", ["a", "b,c", 'd"e', None]),
    ("int4[]", "[1, 2, 3]", [1, 2, 3]),
    ("int4[]", "(4, 5)", [4, 5]),
    ("uuid", "uuid.UUID(int=1)", uuid.UUID(int=1)),
    ("uuid", "'00000000-0000-0000-0000-000000000002'", uuid.UUID(int=2)),
    ("bytea", "b'\\x00\\x01'", b"\x00\x01"),
    ("int4", "None", None),
])
def test_values_out_of_python(fdw, column_type, python_value, expected):
    assert one(fdw, column_type, python_value) == expected


def test_other_types_use_their_input_function(fdw):
    assert one(fdw, "inet", "'10.0.0.1'", cast="text") == "10.0.0.1/32"
    assert one(fdw, "interval", "datetime.timedelta(hours=1)", cast="text") == "01:00:00"


@pytest.mark.parametrize("column_type, python_value, fragment", [
    ("int4", "'abc'", 'invalid input syntax for type integer: "abc"'),
    ("int4", "2**40", "out of range"),
    ("int4", "1.5", 'invalid input syntax for type integer: "1.5"'),
    ("int4", "True", 'invalid input syntax for type integer: "True"'),
    ("varchar(3)", "'too long'", "value too long for type character varying(3)"),
    ("date", "'not a date'", "invalid input syntax for type date"),
    ("timestamptz", "'2024-13-45'", "out of range"),
    ("uuid", "'nope'", "invalid input syntax for type uuid"),
    ("int4[]", "['x']", "invalid input syntax for type integer"),
])
def test_values_that_do_not_fit_name_table_column_and_value(fdw, column_type, python_value, fragment):
    with pytest.raises(psycopg.Error) as info:
        one(fdw, column_type, python_value)
    message = info.value.diag.message_primary
    assert message.startswith('invalid value for column "x" of foreign table "v": '), message
    assert fragment in message
    assert info.value.diag.message_detail.startswith("Python returned ")


def test_dict_for_json_column_is_not_serialized_like_multicorn2(fdw):
    # (for jsonb it is the JSON object: test_jsonb_from_python.py)
    with pytest.raises(psycopg.Error) as info:
        one(fdw, "json", "{'a': 1}")
    assert "invalid input syntax for type json" in info.value.diag.message_primary
    assert "json.dumps" in info.value.diag.message_hint


def test_nul_character_and_bad_rows_are_errors(fdw):
    with pytest.raises(psycopg.Error, match="NUL"):
        one(fdw, "text", "'a\\x00b'")
    fdw.table("short", "a text, b text", rows="[('only one',)]")
    with pytest.raises(psycopg.Error, match='a row of foreign table "short" has 1 values'):
        fdw.sql("SELECT * FROM short")
    fdw.table("scalar", "a text", rows="[42]")
    with pytest.raises(psycopg.Error, match='a row of foreign table "scalar" is a Python int'):
        fdw.sql("SELECT * FROM scalar")
    fdw.table("noiter", "a text", rows="42")
    with pytest.raises(psycopg.Error, match="must return an iterable"):
        fdw.sql("SELECT * FROM noiter")


def test_values_into_python_follow_multicorn2(fdw):
    fdw.table("w", "t text, vc varchar(4), c char(4), i2 int2, i4 int4, i8 int8, f8 float8, n numeric, "
              "b bool, d date, ts timestamp, tz timestamptz, j jsonb, u uuid, arr int4[], tarr text[], by bytea",
              rows="[]")
    fdw.sql("""INSERT INTO w VALUES ('t', 'vc', 'c', 2, 4, 8, 1.5, 2.25, true, '2024-01-02',
               '2024-01-02 03:04:05.678', '2024-01-02 03:04:05+00', '{"k": 1}',
               '00000000-0000-0000-0000-000000000001', '{1,2}', '{a,NULL}', '\\x0102')""")
    [call] = fdw.calls("insert")
    got = {k: (v["type"], v["repr"]) if isinstance(v, dict) else [(x["type"], x["repr"]) for x in v]
           for k, v in call["values"].items()}
    assert got == {
        "t": ("str", "'t'"), "vc": ("str", "'vc'"), "c": ("str", "'c'"),
        "i2": ("str", "'2'"), "i4": ("int", "4"), "i8": ("str", "'8'"), "f8": ("str", "'1.5'"),
        "n": ("float", "2.25"), "b": ("str", "'t'"), "d": ("date", "datetime.date(2024, 1, 2)"),
        "ts": ("datetime", "datetime.datetime(2024, 1, 2, 3, 4, 5)"),
        "tz": ("str", "'2024-01-02 03:04:05+00'"), "j": ("str", "'{\"k\": 1}'"),
        "u": ("str", "'00000000-0000-0000-0000-000000000001'"),
        "arr": [("int", "1"), ("int", "2")], "tarr": [("str", "'a'"), ("NoneType", "None")],
        "by": ("bytes", "b'\\x01\\x02'"),
    }


def test_generated_rows_round_trip_json(fdw):
    fdw.table("js", "doc jsonb", rows="[{'doc': json.dumps({'nested': {'list': [1, 'two']}})}]")
    assert fdw.sql("SELECT doc->'nested'->'list'->>1 FROM js") == [("two",)]
    assert json.loads(json.dumps(fdw.sql("SELECT doc FROM js")[0][0])) == {"nested": {"list": [1, "two"]}}


def test_self_referencing_values_are_errors_not_crashes(fdw, pg):
    fdw.table("loop", "a text", rows="[(lambda d: (d.__setitem__('k', d), {'a': d})[1])({})]")
    with pytest.raises(psycopg.Error, match="stack depth limit exceeded"):
        fdw.sql("SELECT * FROM loop")
    fdw.table("loop2", "a int4[]", rows="[(lambda l: (l.append(l), {'a': l})[1])([])]")
    with pytest.raises(psycopg.Error, match='invalid value for column "a" of foreign table "loop2"'):
        fdw.sql("SELECT * FROM loop2")
    assert pg.is_alive()


def test_unprintable_python_values_are_errors(fdw):
    fdw.table("unprintable", "a text",
              rows="[{'a': type('Bad', (), {'__str__': lambda self: 1/0})()}]")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql("SELECT * FROM unprintable")
    assert info.value.diag.message_primary == "Error in python: ZeroDivisionError"
    assert info.value.diag.message_detail == "division by zero"
    # converting what the FDW returned: CONTEXT says which value (multicorn2 says nothing)
    assert 'column "a" of foreign table "unprintable"' in info.value.diag.context


def test_other_types_into_python_are_their_text_output(fdw):
    """float4, json (not jsonb), inet and interval: the values of insert/update and of quals arrive as
    PostgreSQL's text output, as under multicorn2 (README "Value forms")."""
    fdw.table("other", "id int4, f4 float4, j json, ip inet, iv interval", rows="[{'id': 1}]", rowid="id")
    fdw.sql("""INSERT INTO other VALUES (1, 1.25, '{"k": [1, 2]}', '10.1.2.3/16', '1 day 02:03:04')""")
    [call] = fdw.calls("insert")
    expected = {"id": ("int", "1"), "f4": ("str", "'1.25'"), "j": ("str", "'{\"k\": [1, 2]}'"),
                "ip": ("str", "'10.1.2.3/16'"), "iv": ("str", "'1 day 02:03:04'")}
    assert {k: value_of(v) for k, v in call["values"].items()} == expected
    fdw.reset()
    fdw.sql("""UPDATE other SET f4 = -0.5, j = '[null, "x"]', ip = '::1', iv = '-90 minutes'""")
    [call] = fdw.calls("update")
    assert {k: value_of(v) for k, v in call["values"].items()} == {
        "id": ("int", "1"), "f4": ("str", "'-0.5'"), "j": ("str", "'[null, \"x\"]'"), "ip": ("str", "'::1'"),
        "iv": ("str", "'-01:30:00'")}
    fdw.reset()
    fdw.sql("SELECT id FROM other WHERE f4 = 1.25::float4 AND ip = '10.1.2.3/16' AND iv > '1 hour'")
    [call] = fdw.calls("execute")
    assert [(field, op, value_of(v)) for field, op, v in call["quals"]] == [
        ("f4", "=", ("str", "'1.25'")), ("ip", "=", ("str", "'10.1.2.3/16'")), ("iv", ">", ("str", "'01:00:00'"))]


@pytest.mark.parametrize("items", ["[1]", "[(1,)]", "[('k', 'v', 'extra')]"])
def test_mapping_whose_items_are_not_pairs_is_an_error_not_a_crash(fdw, pg, items):
    # a dict subclass is written as k=>v pairs from its items(), which may return anything
    fdw.table("badpairs", "a text", rows=f"[{{'a': type('D', (dict,), {{'items': lambda self: {items}}})(x=1)}}]")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql("SELECT * FROM badpairs")
    assert "items() of a Python D must give (key, value) pairs" in info.value.diag.message_primary
    assert 'column "a" of foreign table "badpairs"' in info.value.diag.message_primary
    assert pg.is_alive()


@pytest.mark.parametrize("column_type, python_value", [
    ("text", "b'\\xff\\xfe'"), ("text", "b'a\\x00b'"), ("varchar(10)", "b'\\xc3'"), ("text[]", "[b'\\xff']"),
])
def test_bytes_that_are_not_server_text_are_errors(fdw, column_type, python_value):
    # stored as they are, they would make text values that are not valid UTF-8 (or hold NUL)
    with pytest.raises(psycopg.Error) as info:
        one(fdw, column_type, python_value)
    assert info.value.diag.message_primary == \
        'Python bytes for column "x" of foreign table "v" are not valid UTF8 text'
    assert one(fdw, "text", "b'caf\\xc3\\xa9'") == "café"
    assert one(fdw, "bytea", "b'\\xff\\x00'") == b"\xff\x00"


@pytest.mark.parametrize("columns, rows", [
    # a list row, or a list for an array column, emptied by its first value's __str__
    ("a text, b text, c text", "(lambda r: (r.extend([SHRINK(r), 'y', 'z']), [r])[1])([])"),
    ("a text[]", "(lambda l: (l.extend([SHRINK(l), 'y', 'z']), [{'a': l}])[1])([])"),
    # a dict row whose value's __str__ takes it out of the row (the row held the only reference)
    ("a text", "(lambda d: (d.update(a=SHRINK(d)), [d])[1])({})"),
])
def test_rows_changed_by_their_values_str_are_converted_safely(fdw, pg, columns, rows):
    shrink = "type('Shrink', (), {'__init__': lambda self, c: setattr(self, 'c', c), " \
             "'__str__': lambda self: (self.c.clear(), 'x')[1]})"
    fdw.table("shrinking", columns, rows=rows.replace("SHRINK", shrink))
    [row] = fdw.sql("SELECT * FROM shrinking")
    assert row[0] in ("x", ["x", "y", "z"])
    assert pg.is_alive(), pg.log_tail()
