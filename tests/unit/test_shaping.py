"""JSON objects -> typed column values."""
import json

from intercom_fdw.shaping import CONVERT, RowShaper, dig
from intercom_fdw.spec import Column, bigint, boolean, integer, jsonb, parent_key, text, timestamp, ATTRS


def shape(columns, item, inject=None):
    return RowShaper(columns)(item, inject)


def test_nested_paths_and_types():
    item = {"id": 5, "location": {"city": "Paris"}, "created_at": 1704067200, "open": True, "n": "7",
            "tags": {"tags": [{"id": "1"}]}}
    row = shape([text("id"), text("location_city", "location.city"), timestamp("created_at"), boolean("open"),
                 integer("n"), jsonb("tags", "tags.tags"), ATTRS], item)
    assert row["id"] == "5" and row["location_city"] == "Paris"
    assert row["created_at"].isoformat() == "2024-01-01T00:00:00+00:00"
    assert row["open"] is True and row["n"] == 7
    assert json.loads(row["tags"]) == [{"id": "1"}]
    assert json.loads(row["attrs"]) == item


def test_missing_and_mistyped_values_are_null():
    row = shape([text("location_city", "location.city"), integer("n"), timestamp("t"), boolean("b")],
                {"location": None, "n": "x", "t": "soon", "b": "maybe"})
    assert row == {"location_city": None, "n": None, "t": None, "b": None}


def test_numbers_an_integer_column_cannot_hold_are_null():
    # PostgreSQL would fail the whole scan on one out-of-range value; `attrs` keeps the raw number.
    item = {"n": 2 ** 31, "m": -(2 ** 31), "big": 2 ** 63, "nan": float("nan"), "inf": float("inf"), "f": 3.0}
    row = shape([integer("n"), integer("m"), bigint("n2", "n"), bigint("big"), integer("nan"), bigint("inf"),
                 integer("f")], item)
    assert row == {"n": None, "m": -(2 ** 31), "n2": 2 ** 31, "big": None, "nan": None, "inf": None, "f": 3}


def test_injected_parent_key_and_fallback():
    row = shape([parent_key("contact_id"), text("id")], {"id": "t1"}, {"contact_id": "c1"})
    assert row == {"contact_id": "c1", "id": "t1"}
    row = shape([text("email")], {"email": "own@x"}, {"email": "asked@x"})
    assert row["email"] == "own@x"
    # only the columns named injected take a value from `inject` (engine.injected_columns)
    shaper = RowShaper([parent_key("contact_id"), text("email")], injected={"contact_id"})
    assert shaper({}, {"contact_id": "c1", "email": "asked@x"}) == {"contact_id": "c1", "email": None}


def test_custom_attribute_names_with_dots():
    column = Column("plan", "text", ("custom_attributes", "plan.name"), "text")
    assert shape([column], {"custom_attributes": {"plan.name": "pro"}})["plan"] == "pro"
    assert dig({"a": {"b": 1}}, ("a", "b")) == 1 and dig({"a": 1}, ("a", "b")) is None


def test_dates_files_and_text_of_objects():
    columns = [Column("d", "date", "d", "unix_date"), Column("f", "jsonb", "f", "file_list"), text("o")]
    row = shape(columns, {"d": 1704153600, "f": [{"name": "a.png", "url": "u", "content_type": "image/png",
                                                   "file_size": 3, "width": 1, "height": 2, "extra": 0}],
                          "o": {"k": 1}})
    assert row["d"].isoformat() == "2024-01-02"
    assert json.loads(row["f"]) == [{"name": "a.png", "url": "u", "content_type": "image/png", "file_size": 3,
                                     "width": 1, "height": 2}]
    assert json.loads(row["o"]) == {"k": 1}


def test_the_generated_shaper_reads_like_dig_whatever_the_names():
    # The shaper is generated source: names and keys with quotes, backslashes and newlines stay data.
    odd = "we'ird\"\\\n }"
    columns = [text(odd, (odd, "k")), text("sibling", (odd, "other")), integer("deep", ("a", "b", "c")),
               bigint("big"), boolean("flag"), Column("n", "double precision", "n", "float"), ATTRS]
    item = {odd: {"k": "v", "other": 3}, "a": {"b": {"c": "12"}}, "big": 2 ** 40, "flag": "TRUE", "n": 2}
    row = shape(columns, item)
    assert row == {odd: "v", "sibling": "3", "deep": 12, "big": 2 ** 40, "flag": True, "n": 2.0,
                   "attrs": row["attrs"]}
    assert list(row) == [odd, "sibling", "deep", "big", "flag", "n", "attrs"]
    assert json.loads(row["attrs"]) == item
    # the container is not a dict (or missing): every column under it is NULL, or injected
    assert shape(columns[:2], {odd: "text"}) == {odd: None, "sibling": None}
    assert shape(columns[:2], {}, {"sibling": "given"}) == {odd: None, "sibling": "given"}


def test_jsonb_objects_leave_as_they_are_for_a_runtime_that_builds_jsonb():
    files = Column("files", "jsonb", "files", "file_list")
    columns = [jsonb("tags", "tags.tags"), jsonb("scalar"), files, text("plain"), ATTRS]
    item = {"tags": {"tags": [{"id": "1"}]}, "scalar": "x", "files": {"name": "a", "extra": 1}, "plain": {"k": 1}}
    row = shape(columns, item)
    assert row["tags"] == '[{"id":"1"}]' and row["attrs"] == json.dumps(item, separators=(",", ":"))
    objects = RowShaper(columns, jsonb_objects={"tags", "scalar", "files", "plain", "attrs"})(item)
    assert objects["tags"] == [{"id": "1"}] and objects["attrs"] is item
    assert objects["files"] == [{"name": "a", "url": None, "content_type": None, "file_size": None,
                                 "width": None, "height": None}]
    # scalars stay JSON text (a str would be read as JSON text), and other kinds are untouched
    assert objects["scalar"] == '"x"' and objects["plain"] == '{"k":1}'


def test_json_text_of_integers_beyond_64_bits_and_of_non_finite_floats():
    # orjson refuses integers beyond 64 bits (the client's fallback parser keeps them exact)
    item = {"n": 2 ** 70, "f": [float("nan"), float("inf"), 1.5], "s": "é"}
    assert shape([ATTRS, text("n")], item) == {"attrs": '{"n":1180591620717411303424,"f":[null,null,1.5],"s":"é"}',
                                               "n": "1180591620717411303424"}


def test_timestamps_inline_and_through_the_converter_agree():
    # the generated shaper converts ints of 1970-9999 inline, everything else through the converter
    for value in (0, 1, 1704067200, 253402300799, 253402300800, -1, -86400 * 365 * 100, 2 ** 70, 1.5,
                  "1704067200", True):
        assert shape([timestamp("t")], {"t": value}) == {"t": CONVERT["unix_timestamp"](value)}, value


def test_unix_seconds_leave_as_ints_for_a_runtime_that_takes_them():
    # the ints a datetime would be made of leave as they are; anything else is converted as before
    for value in (0, 1, 1704067200, 253402300799, 253402300800, -1, 2 ** 70, 1.5, "1704067200", True, None):
        row = RowShaper([timestamp("t")], unix_seconds={"t"})({"t": value})
        converted = CONVERT["unix_timestamp"](value) if value is not None else None
        if type(value) is int and 0 <= value <= 253402300799:
            assert row == {"t": value} and converted.timestamp() == value, value
        else:
            assert row == {"t": converted}, value
    # an injected value is converted as a read one is
    assert RowShaper([timestamp("t")], unix_seconds={"t"})({}, {"t": 5}) == {"t": 5}


def test_rows_in_a_column_order_are_tuples_of_the_same_values():
    columns = [text("id"), text("location_city", "location.city"), timestamp("created_at"), ATTRS, integer("n")]
    item = {"id": "5", "location": {"city": "Paris"}, "created_at": 1704067200, "n": 7}
    by_name = RowShaper(columns, jsonb_objects={"attrs"})(item, {"n": 1})
    order = ["n", "attrs", "not_shaped", "id", "created_at", "location_city"]
    row = RowShaper(columns, jsonb_objects={"attrs"}, order=order)(item, {"n": 1})
    assert row == tuple(by_name.get(name) for name in order)
    assert row[1] is item and row[2] is None
    assert RowShaper(columns, order=["id"])({"id": None}, {"id": "7"}) == ("7",)
    assert RowShaper(columns, order=[])(item) == ()
