"""What execute() receives: quals in every form multicorn2 produces, parameterized
paths for joins, sort and LIMIT/OFFSET pushdown, and EXPLAIN lines."""
import json

import psycopg
import pytest

from tests.runtime.conftest import value_of

COLUMNS = "name text, n int, big int8, flag bool, at timestamptz, day date, amount numeric"


@pytest.fixture
def quals_of(fdw):
    fdw.table("q", COLUMNS, rows="[]")

    def run(where, params=None):
        fdw.reset()
        fdw.sql(f"SELECT * FROM q WHERE {where}", params)
        [call] = fdw.calls("execute")
        return [(field, op, value_of(v) if isinstance(v, dict) else [value_of(x) for x in v])
                for field, op, v in call["quals"]]
    return run


@pytest.mark.parametrize("op", ["=", "<>", "<", "<=", ">", ">="])
def test_comparison_operators_with_constants(quals_of, op):
    assert quals_of(f"n {op} 5") == [("n", op, ("int", "5"))]


@pytest.mark.parametrize("op", ["~~", "~~*", "!~~", "!~~*"])
def test_like_operators(quals_of, op):
    sql_op = {"~~": "LIKE", "~~*": "ILIKE", "!~~": "NOT LIKE", "!~~*": "NOT ILIKE"}[op]
    assert quals_of(f"name {sql_op} 'ab%'") == [("name", op, ("str", "'ab%'"))]


def test_commuted_constant_comparison(quals_of):
    assert quals_of("5 < n") == [("n", ">", ("int", "5"))]


def test_value_forms_follow_multicorn2(quals_of):
    # int8, bool and timestamptz values arrive as PostgreSQL text output; numeric as
    # float; date as datetime.date (multicorn2 datumToPython).
    assert quals_of("big = 7") == [("big", "=", ("int", "7"))]  # int4 constant: int
    assert quals_of("big = 7::int8") == [("big", "=", ("str", "'7'"))]
    assert quals_of("at >= '2024-01-01 00:00:00+00'") == [("at", ">=", ("str", "'2024-01-01 00:00:00+00'"))]
    assert quals_of("day = '2024-02-03'") == [("day", "=", ("date", "datetime.date(2024, 2, 3)"))]
    assert quals_of("amount = 1.5") == [("amount", "=", ("float", "1.5"))]


def test_booleans_bare_and_negated(quals_of):
    assert quals_of("flag") == [("flag", "=", ("str", "'t'"))]
    assert quals_of("NOT flag") == [("flag", "<>", ("str", "'t'"))]
    assert quals_of("flag = false") == [("flag", "<>", ("str", "'t'"))]


def test_boolean_tests_as_multicorn2(quals_of):
    assert quals_of("flag IS TRUE") == [("flag", "IS", ("str", "'t'"))]
    assert quals_of("flag IS FALSE") == [("flag", "IS", ("str", "'f'"))]
    assert quals_of("flag IS NOT TRUE") == [("flag", "IS NOT", ("str", "'t'"))]
    assert quals_of("flag IS NOT FALSE") == [("flag", "IS NOT", ("str", "'f'"))]
    assert quals_of("flag IS UNKNOWN") == [("flag", "IS", ("NoneType", "None"))]
    assert quals_of("flag IS NOT UNKNOWN") == [("flag", "IS NOT", ("NoneType", "None"))]


def test_null_tests(quals_of):
    assert quals_of("name IS NULL") == [("name", "=", ("NoneType", "None"))]
    assert quals_of("name IS NOT NULL") == [("name", "<>", ("NoneType", "None"))]


def test_null_tests_are_marked_and_null_comparison_values_are_not(fdw):
    # Qual.null_test (this runtime only; multicorn2 3.2 has no such attribute and hands both over as
    # `name = None`) tells `name IS NULL` from `name = $1` executed with NULL, which no row satisfies.
    fdw.table("marked", "name text, n int, flag bool", rows="[]")
    NULL = {"type": "NoneType", "repr": "None"}

    def execute(where, params=None):
        fdw.reset()
        fdw.sql(f"SELECT * FROM marked WHERE {where}", params)
        [call] = fdw.calls("execute")
        return call["quals"], call["null_tests"]

    assert execute("name IS NULL") == ([["name", "=", NULL]], ["name"])
    assert execute("name IS NOT NULL AND n = 1") == ([["n", "=", {"type": "int", "repr": "1"}], ["name", "<>", NULL]],
                                                     ["name"])
    assert execute("flag IS NOT UNKNOWN") == ([["flag", "IS NOT", NULL]], ["flag"])
    assert execute("flag IS TRUE") == ([["flag", "IS", {"type": "str", "repr": "'t'"}]], [])
    assert execute("n = ANY(ARRAY[NULL]::int[])") == ([["n", ["=", True], [NULL]]], [])
    # values known only at execution: a stable expression, a generic plan's parameter
    assert execute("name = nullif(current_setting('application_name'), current_setting('application_name'))") == (
        [["name", "=", NULL]], [])
    fdw.sql("PREPARE marked_p(text) AS SELECT * FROM marked WHERE name = $1")
    try:
        fdw.sql("SET plan_cache_mode = force_generic_plan")
        fdw.reset()
        fdw.sql("EXECUTE marked_p(NULL)")
        [call] = fdw.calls("execute")
        assert (call["quals"], call["null_tests"]) == ([["name", "=", NULL]], [])
    finally:
        fdw.sql("RESET plan_cache_mode")
        fdw.sql("DEALLOCATE marked_p")


def test_null_test_quals_differ_from_null_comparison_quals_in_python():
    from multicorn import Qual
    marked = Qual("name", "=", None)
    marked.null_test = True
    assert Qual("name", "=", None).null_test is False and Qual("name", "=", None) != marked
    assert len({Qual("name", "=", None), marked}) == 2 and repr(marked) == "name = None"


def test_list_quals(quals_of):
    assert quals_of("n IN (1, 2)") == [("n", ["=", True], [("int", "1"), ("int", "2")])]
    assert quals_of("name <> ALL(ARRAY['a', 'b'])") == [("name", ["<>", False], [("str", "'a'"), ("str", "'b'")])]
    # int8 elements are text, as under multicorn2
    assert quals_of("big = ANY(ARRAY[1, 2]::int8[])") == [("big", ["=", True], [("str", "'1'"), ("str", "'2'")])]


def test_list_operator_helpers_on_the_python_side(fdw):
    fdw.table("lists", "n int", rows="[{'n': int(q.is_list_operator) + (10 if q.list_any_or_all is __import__('multicorn').ANY else 0)} for q in quals]")
    assert fdw.sql("SELECT n FROM lists WHERE n IN (1, 11)") == [(11,)]


def test_stable_expressions_and_parameters_are_evaluated_at_execution(fdw, quals_of):
    [(field, op, (typ, text))] = quals_of("at < now()")
    assert (field, op, typ) == ("at", "<", "str") and text.endswith("+00'")
    assert quals_of("n = %s::int", (42,)) == [("n", "=", ("int", "42"))]
    fdw.sql("PREPARE p(int) AS SELECT * FROM q WHERE n = $1")
    try:
        for value in (1, 2, 3, 4, 5, 6):  # the sixth execution may use a generic plan
            fdw.reset()
            fdw.sql("EXECUTE p(%s)" % value)
            assert fdw.calls("execute")[0]["quals"] == [["n", "=", {"type": "int", "repr": str(value)}]]
    finally:
        fdw.sql("DEALLOCATE p")


def test_unsupported_clauses_are_not_passed_but_still_applied(fdw):
    fdw.table("rechecked", "name text, n int", rows="[{'name': 'a', 'n': 1}, {'name': 'b', 'n': 2}]")
    assert fdw.sql("SELECT name FROM rechecked WHERE n + 1 = 3 AND lower(name) = 'b' AND n = (random() * 0)::int + 2") == [("b",)]
    [call] = fdw.calls("execute")
    assert call["quals"] == []


def test_rows_are_rechecked_by_postgresql(fdw):
    fdw.table("loose", "n int", rows="[{'n': 1}, {'n': 2}, {'n': 3}]")
    assert fdw.sql("SELECT n FROM loose WHERE n > 1 ORDER BY n") == [(2,), (3,)]


def test_parameterized_join_runs_one_execute_per_outer_row(fdw):
    fdw.sql("DROP TABLE IF EXISTS parents; CREATE TABLE parents (id int); INSERT INTO parents VALUES (1), (2), (3)")
    fdw.sql("ANALYZE parents")
    fdw.table("children", "id text, parent_id int", estimated_rows=1000000, path_keys="[(('parent_id',), 1)]",
              rows="[{'id': 'c%d' % q.value, 'parent_id': q.value} for q in quals if q.field_name == 'parent_id']")
    query = "SELECT p.id, c.id FROM parents p JOIN children c ON c.parent_id = p.id ORDER BY 1"
    plan = "\n".join(r[0] for r in fdw.sql("EXPLAIN " + query))
    assert "Nested Loop" in plan, plan
    fdw.reset()
    assert fdw.sql(query) == [(1, "c1"), (2, "c2"), (3, "c3")]
    assert [c["quals"] for c in fdw.calls("execute")] == [
        [["parent_id", "=", {"type": "int", "repr": str(i)}]] for i in (1, 2, 3)]


def test_sort_pushdown_when_can_sort_accepts(fdw):
    fdw.table("sorted_t", "name text, n int", can_sort="true", rows="[{'name': 'b', 'n': 1}, {'name': 'a', 'n': 2}]")
    plan = "\n".join(r[0] for r in fdw.sql("EXPLAIN SELECT * FROM sorted_t ORDER BY name DESC NULLS LAST, n"))
    assert "Sort" not in plan, plan
    fdw.reset()
    # the FDW promised the order: PostgreSQL trusts it
    assert fdw.sql("SELECT name FROM sorted_t ORDER BY name DESC NULLS LAST, n") == [("b",), ("a",)]
    [call] = fdw.calls("execute")
    assert call["sortkeys"] == [["name", 1, True, False, None], ["n", 2, False, False, None]]


def test_no_sort_pushdown_when_refused(fdw):
    fdw.table("unsorted", "name text", rows="[{'name': 'b'}, {'name': 'a'}]")
    assert fdw.sql("SELECT name FROM unsorted ORDER BY name COLLATE \"C\"") == [("a",), ("b",)]
    [ask] = fdw.calls("can_sort")
    assert ask["sortkeys"] == [["name", 1, False, False, "C"]]
    assert fdw.calls("execute")[0]["sortkeys"] is None


def test_limit_offset_pushdown(fdw):
    fdw.table("limited", "n int", can_limit="true", can_sort="true",
              rows="[{'n': i} for i in range(10)]")
    plan = "\n".join(r[0] for r in fdw.sql("EXPLAIN SELECT n FROM limited ORDER BY n LIMIT 2 OFFSET 3"))
    assert "Limit" not in plan and plan.startswith("Foreign Scan on limited"), plan
    fdw.reset()
    # the FDW did not apply it here, so all rows come back: proof that PostgreSQL trusted it
    assert len(fdw.sql("SELECT n FROM limited ORDER BY n LIMIT 2 OFFSET 3")) == 10
    assert fdw.calls("can_limit")[0]["limit"] == 2 and fdw.calls("can_limit")[0]["offset"] == 3
    [call] = fdw.calls("execute")
    assert call["limit"] == 2 and call["offset"] == 3 and call["sortkeys"] == [["n", 1, False, False, None]]
    fdw.reset()
    fdw.sql("SELECT n FROM limited LIMIT 4")
    [call] = fdw.calls("execute")
    assert call["limit"] == 4 and call["offset"] is None


@pytest.mark.parametrize("query", [
    "SELECT n FROM nolimit LIMIT 2",                      # can_limit says no
    "SELECT n FROM limited2 WHERE n > 1 LIMIT 2",         # WHERE present
    "SELECT count(*) FROM limited2 LIMIT 2",              # aggregate
    "SELECT n FROM limited2 ORDER BY n + 1 LIMIT 2",      # sort not pushable
])
def test_limit_not_pushed(fdw, query):
    fdw.table("nolimit", "n int", can_limit="false", rows="[{'n': i} for i in range(10)]")
    fdw.table("limited2", "n int", can_limit="true", can_sort="true", rows="[{'n': i} for i in range(10)]")
    rows = fdw.sql(query)
    assert len(rows) <= 2
    assert all("limit" not in c for c in fdw.calls("execute"))


def test_explain_shows_python_lines(fdw):
    fdw.table("explained", "n int", can_sort="true", rows="[]")
    lines = [r[0] for r in fdw.sql("EXPLAIN VERBOSE SELECT n FROM explained WHERE n > 3 ORDER BY n")]
    assert "  Multicorn: quals: [['n', '>', {'type': 'int', 'repr': '3'}]]" in lines
    assert "  Multicorn: verbose: True" in lines
    assert "  Multicorn: sortkeys: ['n']" in lines
    assert not fdw.calls("execute")


@pytest.mark.parametrize("fmt", ["JSON", "YAML", "XML"])
def test_explain_in_a_machine_format_keeps_every_python_line(fdw, fmt):
    # One "Multicorn" property per line made a JSON object with the key N times (and YAML with a
    # key repeated): a JSON parser (psycopg's, a BI tool's plan viewer) kept only the last line.
    fdw.table("explained_formats", "n int", rows="[]")
    [[text]] = fdw.sql(f"EXPLAIN (FORMAT {fmt}) SELECT n FROM explained_formats WHERE n > 3")
    text = text if isinstance(text, str) else json.dumps(text)
    if fmt == "JSON":
        plan = json.loads(text)[0]["Plan"]
        assert plan["Multicorn"] == ["quals: [['n', '>', {'type': 'int', 'repr': '3'}]]", "verbose: False",
                                     "sortkeys: []", "limit: None None"], text
    assert text.count("Multicorn") == (2 if fmt == "XML" else 1), text
    assert "verbose: False" in text and "limit: None None" in text, text
    text_lines = [r[0] for r in fdw.sql("EXPLAIN SELECT n FROM explained_formats WHERE n > 3")]
    assert "  Multicorn: verbose: False" in text_lines and "  Multicorn: sortkeys: []" in text_lines


def test_only_an_equality_join_clause_parameterizes_a_path_key(fdw):
    # `f.owner_id < o.id` gave the path key owner_id a parameterized path, priced as one row per
    # outer row, whose every execution had no value to look up: a full read per outer row.
    fdw.sql("DROP TABLE IF EXISTS owners3; CREATE TABLE owners3 (id int); INSERT INTO owners3 VALUES (1), (2), (3)")
    fdw.sql("ANALYZE owners3")
    fdw.table("owned3", "id text, owner_id int", estimated_rows=1000000, path_keys="[(('owner_id',), 1)]",
              rows="[{'id': 'a', 'owner_id': 1}, {'id': 'b', 'owner_id': 2}]")
    for clause, parameterized in (("f.owner_id < o.id", False), ("f.owner_id = o.id", True),
                                  ("f.owner_id = ANY(ARRAY[o.id, 2])", False)):
        fdw.reset()
        rows = fdw.sql(f"SELECT o.id, f.id FROM owners3 o JOIN owned3 f ON {clause} ORDER BY 1, 2")
        assert len(fdw.calls("execute")) == (3 if parameterized else 1), (clause, fdw.calls("execute"))
        plain = fdw.sql(f"SELECT o.id, f.id FROM owners3 o JOIN (SELECT * FROM owned3 OFFSET 0) f ON {clause} "
                        "ORDER BY 1, 2")
        assert rows == plain, clause


def test_path_key_given_as_a_string_warns_and_adds_no_path(fdw):
    fdw.sql("DROP TABLE IF EXISTS parents2; CREATE TABLE parents2 (id int); INSERT INTO parents2 VALUES (1)")
    fdw.table("children2", "id text, parent_id int", estimated_rows=1000000, path_keys="[('parent_id', 1)]",
              rows="[]")
    plan = "\n".join(r[0] for r in fdw.sql(
        "EXPLAIN SELECT * FROM parents2 p JOIN children2 c ON c.parent_id = p.id"))
    assert "Nested Loop" not in plan and "Hash Cond" in plan, plan
    assert any(sev == "WARNING" and "gave a string, not a tuple" in text for sev, text, _, _ in fdw.notices)


def test_can_sort_changing_its_argument_in_place_pushes_nothing(fdw):
    # can_sort() answered [n, name] for ORDER BY name, n by reversing the list it was given:
    # compared with that same list, both keys looked accepted and PostgreSQL skipped its Sort
    fdw.table("resorted", "name text, n int", can_sort="reversed",
              rows="[{'name': 'b', 'n': 1}, {'name': 'a', 'n': 2}]")
    assert fdw.sql("SELECT name FROM resorted ORDER BY name, n") == [("a",), ("b",)]
    assert fdw.calls("execute")[0]["sortkeys"] is None


@pytest.mark.parametrize("query, message", [
    ("SELECT n FROM neg_limit LIMIT -1", "LIMIT must not be negative"),
    ("SELECT n FROM neg_limit ORDER BY n LIMIT 1 OFFSET -1", "OFFSET must not be negative"),
])
def test_negative_limit_or_offset_is_not_pushed(fdw, query, message):
    # pushed, the Limit node that reports it was gone: all rows came back without an error
    fdw.table("neg_limit", "n int", can_limit="true", can_sort="true", rows="[{'n': i} for i in range(10)]")
    with pytest.raises(psycopg.Error, match=message):
        fdw.sql(query)
    assert not fdw.calls("can_limit")


def test_explain_gets_quals_known_only_at_execution_as_unbound(fdw):
    """explain() gets a qual for every parameter (a join value, $1 of a generic plan,
    now()) with the value multicorn.UNBOUND, a str equal to '?'; get_rel_size() gets
    the constant quals only; execute() gets the values."""
    fdw.sql("DROP TABLE IF EXISTS owners; CREATE TABLE owners (id int); INSERT INTO owners VALUES (1), (2)")
    fdw.sql("ANALYZE owners")
    fdw.table("owned", "id text, owner_id int, at timestamptz", estimated_rows=1000000,
              path_keys="[(('owner_id',), 1)]", rows="[]")
    fdw.reset()
    lines = [r[0] for r in fdw.sql(
        "EXPLAIN SELECT * FROM owners o JOIN owned f ON f.owner_id = o.id WHERE f.id = 'x' AND f.at < now()")]
    unbound = {"type": "_Unbound", "repr": "UNBOUND"}
    assert any(line.strip() == "Multicorn: quals: %s" % sorted(
        [["at", "<", unbound], ["id", "=", {"type": "str", "repr": "'x'"}], ["owner_id", "=", unbound]], key=repr)
        for line in lines), lines
    assert {repr(c["quals"]) for c in fdw.calls("get_rel_size")} == {
        repr([["id", "=", {"type": "str", "repr": "'x'"}]])}
    fdw.table("unbound_check", "n int", rows="[{'n': int(all(q.value is __import__('multicorn').UNBOUND for q in quals))}]")
    fdw.sql("SET plan_cache_mode = force_generic_plan")
    try:
        fdw.sql("PREPARE g(int) AS SELECT * FROM unbound_check WHERE n = $1")
        lines = [r[0] for r in fdw.sql("EXPLAIN EXECUTE g(1)")]
        assert "  Multicorn: quals: [['n', '=', {'type': '_Unbound', 'repr': 'UNBOUND'}]]" in lines, lines
        fdw.reset()
        fdw.sql("EXECUTE g(1)")
        assert fdw.calls("execute")[0]["quals"] == [["n", "=", {"type": "int", "repr": "1"}]]
    finally:
        fdw.sql("DEALLOCATE g")
        fdw.sql("RESET plan_cache_mode")
