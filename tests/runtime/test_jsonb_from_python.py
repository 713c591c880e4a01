"""A dict or list for a jsonb column is built as jsonb directly (src/jsonb.c): the same value as
jsonb_in gives for its JSON text (orjson's, which writes NaN and infinities as null), side by side
on random nested values (unicode, big integers, floats, empty and deep containers), and the same
failures where that text fails (U+0000)."""
import json
import math
import random

import orjson
import psycopg
import pytest

import multicorn


def reference_text(value) -> str:
    """The JSON text an FDW would hand over for `value`: orjson's, or for integers beyond its 64 bits
    the standard library's with non-finite floats as null (orjson's choice)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        def finite(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: finite(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [finite(x) for x in v]
            return v
        return json.dumps(finite(value), ensure_ascii=False, separators=(",", ":"))


TEXTS = ["", "a", "ab", "ba", "B", "é", "É", "ß", "😀", "a\u0301", "\u2028\u2029", "\x01\x1f\x7f", '"', "\\", "/",
         "\t\n\r", "\ufeff", "日本語", "key", "kez", "k", "longer key", "null", "true", "1", "-0", " "]
INTEGERS = [0, 1, -1, 7, 2 ** 31 - 1, -2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1,
            2 ** 64 - 1, 2 ** 64, -2 ** 64, 10 ** 30, -(10 ** 40) + 1]
FLOATS = [0.0, -0.0, 0.1, 1.5, 1500.0, 1e16, 1e15, 1.5e300, 1e-7, 1e-5, 0.0001, 5e-324, 1.7976931348623157e308,
          2.0 ** 53 + 2, 1 / 3, 123456789.125, -2.5e-10, float("nan"), float("inf"), float("-inf")]


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.choice(["str", "int", "float", "bool", "null", "dict", "list"] if depth < 5 else ["str", "int"])
    if kind == "str":
        return "".join(rng.choice(TEXTS) for _ in range(rng.randint(0, 3)))
    if kind == "int":
        return rng.choice(INTEGERS + [rng.randint(-10 ** 6, 10 ** 6), rng.getrandbits(70) - 2 ** 69])
    if kind == "float":
        return rng.choice(FLOATS + [rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "dict":
        return {"".join(rng.choice(TEXTS) for _ in range(rng.randint(0, 2))): random_value(rng, depth + 1)
                for _ in range(rng.randint(0, 12))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]


def compare(fdw, python_values, texts):
    """[(built::text, text::text, equal, size of each)] of jsonb built from each Python value
    (given as Python source) and jsonb_in of each text."""
    rows = ", ".join(f"{{'i': {i}, 'built': {value}, 'text': {text!r}}}"
                     for i, (value, text) in enumerate(zip(python_values, texts)))
    fdw.table("jb", "i int4, built jsonb, text jsonb", rows=f"[{rows}]")
    return fdw.sql("SELECT built::text, text::text, built = text, pg_column_size(built), pg_column_size(text) "
                   "FROM jb ORDER BY i")


def test_the_runtime_says_it_takes_dicts_and_lists_for_jsonb():
    assert multicorn.JSONB_FROM_PYTHON is True


def test_random_values_give_what_jsonb_in_gives_for_their_json_text(fdw):
    rng = random.Random(20261201)
    values = [random_value(rng) for _ in range(400)]
    values = [v if isinstance(v, (dict, list)) else [v] for v in values]
    values += [{}, [], [{}], {"": []}, {key: key for key in TEXTS}, [[[[[[[[1]]]]]]]],
               {"a": 1, "b": {"a": 2, "aa": [3, {"aaa": None}]}}, INTEGERS, FLOATS,
               {str(i): i for i in range(300)}]
    # the FDW reads each value from its json.dumps text (floats and big integers round-trip exactly)
    results = compare(fdw, [f"json.loads({json.dumps(v)!r})" for v in values], [reference_text(v) for v in values])
    for value, (built, text, equal, built_size, text_size) in zip(values, results):
        assert (built, equal, built_size) == (text, True, text_size), value


def test_objects_of_one_size_in_any_key_order_sort_as_jsonb_in_sorts_them(fdw):
    """The runtime starts each object's key sort from the order of the last object of its size: objects
    of that size with the same keys in the same order, shuffled, other keys, and keys that differ in one
    byte, one after another in a scan, each give what jsonb_in gives."""
    rng = random.Random(20261202)
    keys = [f"k{i}" if i % 3 else f"{'x' * (i % 7)}key{i}" for i in range(40)]
    values = []
    for n in range(240):
        chosen = keys if n % 4 == 0 else rng.sample(keys + ["ké", "kê", "k", ""], len(keys))
        if n % 4 == 1:
            rng.shuffle(chosen)
        values.append({key: {"b": n, "a": [n], key: None} if n % 5 == 0 else n for key in chosen})
    results = compare(fdw, [f"json.loads({json.dumps(v)!r})" for v in values], [reference_text(v) for v in values])
    for value, (built, text, equal, built_size, text_size) in zip(values, results):
        assert (built, equal, built_size) == (text, True, text_size), value


def test_tuples_are_arrays_and_subclasses_their_base(fdw):
    # (a tuple itself is no JSON value for the runtime: multicorn2's str() of it, as before)
    values = ["[(1, [2, (3,)], ())]", "[type('S', (str,), {})('s'), type('I', (int,), {'__repr__': lambda s: 'x'})(5)]",
              "__import__('collections').OrderedDict([('b', 1), ('a', 2)])", "[True, False, None, 1, 1.0]"]
    texts = ["[[1,[2,[3]],[]]]", '["s",5]', '{"b":1,"a":2}', "[true,false,null,1,1.0]"]
    for built, text, equal, built_size, text_size in compare(fdw, values, texts):
        assert (built, equal, built_size) == (text, True, text_size)


def error_of(fdw, value, column_type="jsonb"):
    fdw.table("bad", f"x {column_type}", rows=f"[{{'x': {value}}}]")
    with pytest.raises(psycopg.Error) as info:
        fdw.sql("SELECT x FROM bad")
    return info.value.diag


def test_u0000_fails_as_jsonb_in_fails_on_its_escape(fdw):
    built = error_of(fdw, "{'a': ['x\\x00y']}")
    text = error_of(fdw, repr(orjson.dumps({"a": ["x\x00y"]}).decode()))
    assert built.message_primary == text.message_primary == (
        'invalid value for column "x" of foreign table "bad": unsupported Unicode escape sequence')
    assert built.sqlstate == text.sqlstate == "22P05"
    assert "\\u0000 cannot be converted to text." in built.message_detail
    assert error_of(fdw, "{'a\\x00': 1}").message_primary.endswith("unsupported Unicode escape sequence")


def test_values_without_a_json_form_fail_naming_the_type(fdw):
    diag = error_of(fdw, "{'when': datetime.date(2024, 1, 2)}")
    assert diag.message_primary == ('invalid value for column "x" of foreign table "bad": a Python datetime.date inside '
                                    'a value for jsonb has no JSON form')
    assert "dict, list" in diag.message_hint
    assert "a str" in error_of(fdw, "{1: 'one'}").message_primary
    # a lone surrogate has no UTF-8 (orjson refuses it too)
    assert "UnicodeEncodeError" in error_of(fdw, "['\\ud800']").message_primary
    # a dict holding itself: an ERROR at the stack limit, not a crash
    assert "stack depth" in error_of(fdw, "(lambda d: (d.__setitem__('d', d), d)[1])({})").message_primary
    # json (not jsonb) columns take text only, as under multicorn2
    assert "invalid input syntax for type json" in error_of(fdw, "{'a': 1}", "json").message_primary


def test_a_latin1_database_gets_its_own_encoding(latin1_fdw):
    [(built, text, equal, built_size, text_size)] = compare(latin1_fdw, ["{'é': ['naïve', 'ß']}"],
                                                            ['{"é":["naïve","ß"]}'])
    assert (built, equal, built_size) == ('{"é": ["naïve", "ß"]}', True, text_size)
    diag = error_of(latin1_fdw, "['\\u20ac']")  # the euro sign, which LATIN1 lacks
    assert 'has no equivalent in encoding "LATIN1"' in diag.message_primary
