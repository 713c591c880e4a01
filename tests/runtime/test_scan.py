"""Scans: rows from execute() in its accepted shapes, options and column definitions,
lazy iteration, re-scans."""
import time


def test_dict_and_sequence_rows_fill_columns_in_table_order(fdw):
    fdw.table("mixed", "a text, b int, c text",
              rows="[{'a': 'x', 'b': 1}, ('y', 2, 'z'), {'c': 'only c'}]")
    assert fdw.sql("SELECT a, b, c FROM mixed") == [("x", 1, None), ("y", 2, "z"), (None, None, "only c")]


def test_none_item_ends_the_scan_like_multicorn2(fdw):
    fdw.table("stops", "a text", rows="[{'a': '1'}, None, {'a': '3'}]")
    assert fdw.sql("SELECT a FROM stops") == [("1",)]


def test_execute_returning_none_gives_no_rows(fdw):
    fdw.table("nothing", "a text", rows="None")
    assert fdw.sql("SELECT * FROM nothing") == []


def test_execute_gets_the_needed_columns_as_a_set(fdw):
    fdw.table("cols", "a text, b text, c text")
    fdw.sql("SELECT a FROM cols WHERE c = 'x'")
    [call] = fdw.calls("execute")
    assert call["columns"] == ["a", "c"] and call["columns_type"] == "set"
    assert call["sortkeys"] is None


def test_options_merge_table_then_server_then_user_mapping(fdw):
    fdw.server("merged", shared="server", server_only="s")
    fdw.sql("CREATE USER MAPPING FOR CURRENT_USER SERVER merged OPTIONS (shared 'mapping', token 't')")
    fdw.table("opts", "a text", server="merged", shared="table", table_only="t")
    fdw.reset()
    fdw.sql("SELECT * FROM opts")
    [init] = fdw.calls("__init__")
    # multicorn2 fills one dict in this order, so the user mapping wins, then the server.
    assert init["options"] == {"shared": "mapping", "server_only": "s", "table_only": "t", "token": "t"}
    assert "wrapper" not in init["options"]


def test_column_definitions_carry_types_typmods_and_options(fdw):
    fdw.table("defs", "id varchar(12) OPTIONS (path 'data.id'), n numeric(10,2), tags text[]", rows="[]")
    fdw.sql("SELECT * FROM defs")
    [init] = fdw.calls("__init__")
    assert init["columns"] == [
        ["id", 1043, 16, "character varying(12)", "character varying", {"path": "data.id"}],
        ["n", 1700, 655366, "numeric(10,2)", "numeric", {}],
        ["tags", 1009, -1, "text[]", "text[]", {}],
    ]


def test_instance_is_reused_until_the_table_changes(fdw):
    fdw.table("cached", "a text")
    fdw.sql("SELECT * FROM cached")
    fdw.sql("SELECT * FROM cached")
    assert len(fdw.calls("__init__")) == 1
    fdw.sql("ALTER FOREIGN TABLE cached OPTIONS (ADD extra 'yes')")
    fdw.sql("SELECT * FROM cached")
    inits = fdw.calls("__init__")
    assert len(inits) == 2 and inits[1]["options"]["extra"] == "yes"


def test_endless_generator_is_consumed_lazily(fdw):
    fdw.table("endless", "a text", endless="true")
    started = time.monotonic()
    assert fdw.sql("SELECT a FROM endless LIMIT 3") == [("0",), ("1",), ("2",)]
    assert time.monotonic() - started < 5


def test_rescan_calls_execute_again(fdw):
    fdw.table("inner_t", "a text", rows="[{'a': 'x'}, {'a': 'y'}]")
    # LATERAL makes the foreign scan the inner side of a nested loop: one re-scan per row
    rows = fdw.sql("SELECT o.n, i.a FROM generate_series(1, 3) o(n), "
                   "LATERAL (SELECT a FROM inner_t WHERE a <> o.n::text OFFSET 0) i ORDER BY 1, 2")
    assert len(rows) == 6
    executes = fdw.calls("execute")
    assert [c["quals"] for c in executes] == [[["a", "<>", {"type": "str", "repr": repr(str(n))}]]
                                              for n in (1, 2, 3)]


def test_end_scan_is_called(fdw):
    fdw.table("ended", "a text")
    fdw.sql("SELECT * FROM ended")
    assert [c["method"] for c in fdw.calls() if c["method"] in ("execute", "end_scan")] == ["execute", "end_scan"]


def test_old_execute_signature_still_works(fdw):
    fdw.server("old", wrapper="OldSignatureFdw")
    fdw.table("old_t", "a text", server="old")
    assert fdw.sql("SELECT a FROM old_t LIMIT 1") == [("a",)]


def test_cursor_reads_part_of_an_endless_scan_then_closes_or_aborts(fdw, pg):
    fdw.table("endless_cursor", "a text", endless="true")
    fdw.conn.autocommit = False
    try:
        fdw.sql("DECLARE c CURSOR FOR SELECT a FROM endless_cursor")
        assert fdw.sql("FETCH 3 FROM c") == [("0",), ("1",), ("2",)]
        assert fdw.sql("FETCH 2 FROM c") == [("3",), ("4",)]
        fdw.sql("CLOSE c")
        fdw.conn.commit()
        assert fdw.calls("end_scan")
        fdw.sql("DECLARE d CURSOR FOR SELECT a FROM endless_cursor")
        assert fdw.sql("FETCH 1 FROM d") == [("0",)]
        fdw.conn.rollback()     # the open scan is dropped with the transaction
    finally:
        fdw.conn.autocommit = True
    assert fdw.sql("SELECT count(*) FROM (SELECT a FROM endless_cursor LIMIT 7) s") == [(7,)]
    assert pg.is_alive()


def test_explain_analyze_runs_the_scan(fdw):
    fdw.table("analyzed", "a text", rows="[{'a': 'x'}, {'a': 'y'}]")
    plan = "\n".join(r[0] for r in fdw.sql("EXPLAIN ANALYZE SELECT * FROM analyzed"))
    assert "actual time" in plan and "rows=2 loops=1" in plan and "Multicorn: quals: []" in plan
