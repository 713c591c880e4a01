"""Writes (insert/update/delete with RETURNING, batched inserts), transaction callbacks
and IMPORT FOREIGN SCHEMA."""
import psycopg
import pytest

ROWS = "[{'id': 'a', 'name': 'Ann', 'n': 1}, {'id': 'b', 'name': 'Bob', 'n': 2}]"


@pytest.fixture
def people(fdw):
    fdw.table("people", "id text, name text, n int", rowid="id", rows=ROWS,
              returning="dict(values, name=(values.get('name') or '').upper())")
    fdw.reset()
    return fdw


def test_insert_passes_all_columns_and_returning_uses_the_result(people):
    assert people.sql("INSERT INTO people (id, name) VALUES ('c', 'Cy') RETURNING id, name, n") == [("c", "CY", None)]
    [call] = people.calls("insert")
    assert call["values"] == {"id": {"type": "str", "repr": "'c'"}, "name": {"type": "str", "repr": "'Cy'"},
                              "n": {"type": "NoneType", "repr": "None"}}
    assert people.calls("end_modify")


def test_insert_returning_none_keeps_the_inserted_values(fdw):
    fdw.table("plain", "id text, n int", rows="[]")
    assert fdw.sql("INSERT INTO plain VALUES ('x', 5) RETURNING *") == [("x", 5)]


def test_update_gets_rowid_and_complete_new_row(people):
    assert people.sql("UPDATE people SET n = n + 10 WHERE id = 'b' RETURNING id, name, n") == [("b", "BOB", 12)]
    [call] = people.calls("update")
    assert call["rowid"] == {"type": "str", "repr": "'b'"}
    assert call["values"] == {"id": {"type": "str", "repr": "'b'"}, "name": {"type": "str", "repr": "'Bob'"},
                              "n": {"type": "int", "repr": "12"}}


def test_delete_gets_rowid_and_returning_shows_the_deleted_row(people):
    assert people.sql("DELETE FROM people WHERE n = 1 RETURNING name") == [("Ann",)]
    [call] = people.calls("delete")
    assert call["rowid"] == {"type": "str", "repr": "'a'"}


def test_an_insert_reads_rowid_column_before_its_scan_runs(people):
    # as multicorn2 does: an FDW can tell that the statement writes the table it reads
    people.sql("INSERT INTO people (id, name) SELECT id || '2', name FROM people")
    methods = [c["method"] for c in people.calls() if c["method"] in ("rowid_column", "execute", "insert")]
    assert methods[:2] == ["rowid_column", "execute"], methods


def test_batched_insert_uses_bulk_insert(fdw):
    fdw.table("batched", "id int, name text", batch_size=3, rows="[]")
    fdw.reset()
    fdw.sql("INSERT INTO batched SELECT i, 'n' || i FROM generate_series(1, 7) i")
    batches = fdw.calls("bulk_insert")
    assert [len(b["rows"]) for b in batches] == [3, 3, 1]
    assert batches[0]["rows"][0] == {"id": {"type": "int", "repr": "1"}, "name": {"type": "str", "repr": "'n1'"}}
    assert not fdw.calls("insert")
    # RETURNING needs the rows back one at a time
    fdw.reset()
    assert fdw.sql("INSERT INTO batched VALUES (8, 'x') RETURNING id") == [(8,)]
    assert fdw.calls("insert") and not fdw.calls("bulk_insert")


def test_batched_insert_runs_after_row_triggers_on_every_row(fdw):
    """As under multicorn2, row triggers do not stop batching. PostgreSQL runs the AFTER ROW
    triggers for every row of a batch once bulk_insert() has returned, on the rows it
    returned; before a BEFORE ROW trigger it sends the pending batch (ExecPendingInserts),
    so that trigger sees the rows before it, and batches hold one row each."""
    fdw.table("trig", "id int, name text", batch_size=3, rows="[]",
              bulk_returning="[dict(r, name=r['name'].upper()) for r in rows]")
    fdw.sql("DROP TABLE IF EXISTS trig_seen")
    fdw.sql("CREATE TABLE trig_seen (id int, name text)")
    fdw.sql("""CREATE OR REPLACE FUNCTION trig_after() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN INSERT INTO trig_seen VALUES (NEW.id, NEW.name); RETURN NULL; END $$""")
    fdw.sql("CREATE TRIGGER a AFTER INSERT ON trig FOR EACH ROW EXECUTE FUNCTION trig_after()")
    fdw.reset()
    fdw.sql("INSERT INTO trig SELECT i, 'n' || i FROM generate_series(1, 7) i")
    assert [len(b["rows"]) for b in fdw.calls("bulk_insert")] == [3, 3, 1]
    assert not fdw.calls("insert")
    assert fdw.sql("SELECT id, name FROM trig_seen ORDER BY id") == [(i, f"N{i}") for i in range(1, 8)]

    fdw.sql("""CREATE OR REPLACE FUNCTION trig_before() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN NEW.name := NEW.name || '!'; RETURN NEW; END $$""")
    fdw.sql("CREATE TRIGGER b BEFORE INSERT ON trig FOR EACH ROW EXECUTE FUNCTION trig_before()")
    fdw.sql("TRUNCATE trig_seen")
    fdw.reset()
    fdw.sql("INSERT INTO trig SELECT i, 'n' || i FROM generate_series(1, 3) i")
    batches = fdw.calls("bulk_insert")
    assert [len(b["rows"]) for b in batches] == [1, 1, 1]
    assert batches[0]["rows"][0]["name"] == {"type": "str", "repr": "'n1!'"}
    assert fdw.sql("SELECT id, name FROM trig_seen ORDER BY id") == [(i, f"N{i}!") for i in range(1, 4)]


def test_batched_insert_checks_view_options_and_never_meets_transition_tables(fdw):
    """WITH CHECK OPTION is checked on every row of a batch. Transition tables cannot be
    filled from a foreign table at all: PostgreSQL refuses them on the table, and fails
    the statement when a partitioned table's trigger would collect its rows."""
    fdw.table("checked", "id int, name text", batch_size=3, rows="[]")
    fdw.sql("CREATE OR REPLACE VIEW checked_positive AS SELECT * FROM checked WHERE id > 0 WITH CHECK OPTION")
    fdw.reset()
    with pytest.raises(psycopg.Error, match="violates check option"):
        fdw.sql("INSERT INTO checked_positive VALUES (1, 'a'), (-2, 'b')")
    assert [len(b["rows"]) for b in fdw.calls("bulk_insert")] == [2]

    fdw.sql("""CREATE OR REPLACE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RETURN NULL; END $$""")
    with pytest.raises(psycopg.Error, match="transition tables"):
        fdw.sql("CREATE TRIGGER t AFTER INSERT ON checked REFERENCING NEW TABLE AS n "
                "FOR EACH STATEMENT EXECUTE FUNCTION nothing()")
    fdw.sql("DROP TABLE IF EXISTS parted CASCADE")
    fdw.sql("CREATE TABLE parted (id int, name text) PARTITION BY RANGE (id)")
    fdw.sql("CREATE FOREIGN TABLE parted_ft PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (MAXVALUE) "
            "SERVER rt OPTIONS (batch_size '3', rows '[]')")
    fdw.sql("CREATE TRIGGER t AFTER INSERT ON parted REFERENCING NEW TABLE AS n "
            "FOR EACH STATEMENT EXECUTE FUNCTION nothing()")
    fdw.reset()
    with pytest.raises(psycopg.Error, match="cannot collect transition tuples from child foreign tables"):
        fdw.sql("INSERT INTO parted SELECT i, 'n' FROM generate_series(1, 5) i")
    # PostgreSQL refuses at the first row's AFTER ROW processing: one batch was sent (row by
    # row, one row would have been), and the statement fails.
    assert [len(b["rows"]) for b in fdw.calls("bulk_insert")] == [3]


def test_rowid_column_must_be_a_column(fdw):
    fdw.table("badrowid", "id text", rowid="nope", rows="[{'id': 'a'}]")
    with pytest.raises(psycopg.Error, match="The rowid attribute does not exist"):  # multicorn2's text
        fdw.sql("DELETE FROM badrowid")


def test_read_only_fdw_refuses_writes_clearly(fdw):
    fdw.server("ro", wrapper="OldSignatureFdw")
    fdw.table("ro_t", "a text", server="ro")
    with pytest.raises(psycopg.Error, match="does not support the writable API"):
        fdw.sql("UPDATE ro_t SET a = 'x'")
    with pytest.raises(psycopg.Error, match="does not support the writable API"):
        fdw.sql("INSERT INTO ro_t VALUES ('x')")


def methods(fdw, names=("begin", "pre_commit", "commit", "rollback", "sub_begin", "sub_commit", "sub_rollback")):
    return [(c["method"], c.get("level")) for c in fdw.calls() if c["method"] in names]


def test_transaction_callbacks_on_commit_and_rollback(people):
    with people.conn.transaction():
        people.sql("INSERT INTO people VALUES ('x', 'X', 1)")
    assert methods(people) == [("begin", None), ("pre_commit", None), ("commit", None)]
    people.reset()
    with pytest.raises(psycopg.errors.DivisionByZero):
        with people.conn.transaction():
            people.sql("INSERT INTO people VALUES ('y', 'Y', 1)")
            people.sql("SELECT 1/0")
    assert methods(people) == [("begin", None), ("rollback", None)]


def test_savepoints_call_sub_transaction_callbacks(people):
    people.conn.autocommit = False
    try:
        people.sql("SELECT * FROM people")
        people.sql("SAVEPOINT s1")
        people.sql("INSERT INTO people VALUES ('x', 'X', 1)")
        people.sql("RELEASE SAVEPOINT s1")
        people.sql("SAVEPOINT s2")
        people.sql("INSERT INTO people VALUES ('y', 'Y', 1)")
        people.sql("ROLLBACK TO SAVEPOINT s2")
        people.conn.commit()
    finally:
        people.conn.autocommit = True
    assert methods(people) == [("begin", None), ("sub_begin", 2), ("sub_commit", 2), ("sub_begin", 2),
                               ("sub_rollback", 2), ("pre_commit", None), ("commit", None)]


def test_pre_commit_failure_aborts_the_transaction(fdw):
    fdw.table("fragile", "id text", fail_in="pre_commit", rows="[]")
    with pytest.raises(psycopg.Error, match="pre_commit failed on purpose"):
        fdw.sql("INSERT INTO fragile VALUES ('a')")
    assert ("rollback", None) in methods(fdw)


def test_commit_and_rollback_failures_are_warnings(fdw):
    fdw.table("noisy_commit", "id text", fail_in="commit", rows="[]")
    fdw.sql("INSERT INTO noisy_commit VALUES ('a')")
    assert any(sev == "WARNING" and "commit failed on purpose" in text for sev, text, _, _ in fdw.notices)


@pytest.mark.parametrize("clause, expected", [
    ("", ["companies", "contacts", "tickets"]),
    ("LIMIT TO (contacts, tickets)", ["contacts", "tickets"]),
    ("EXCEPT (contacts)", ["companies", "tickets"]),
])
def test_import_foreign_schema(fdw, clause, expected):
    fdw.sql("DROP SCHEMA IF EXISTS imported CASCADE; CREATE SCHEMA imported")
    fdw.server("importer", token="secret-ish")
    fdw.reset()
    fdw.sql(f"IMPORT FOREIGN SCHEMA remote {clause} FROM SERVER importer INTO imported OPTIONS (region 'eu')")
    tables = [r[0] for r in fdw.sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'imported' ORDER BY 1")]
    assert tables == expected
    [call] = fdw.calls("import_schema")
    assert call["schema"] == "remote" and call["srv_options"] == {"token": "secret-ish"}
    assert call["options"] == {"region": "eu"}
    assert call["restriction_type"] == {"": None, "LIMIT": "limit", "EXCEPT": "except"}[clause.split(" ")[0]]
    options = fdw.sql("SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imported.tickets'::regclass")
    if "tickets" in expected:
        assert options == [(["object=tickets"],)]
        assert fdw.sql("SELECT attfdwoptions FROM pg_attribute WHERE attrelid = 'imported.tickets'::regclass "
                       "AND attname = 'created_at'") == [(["path=created_at"],)]


def test_import_schema_errors_are_reported(fdw):
    fdw.sql("DROP SCHEMA IF EXISTS imported2 CASCADE; CREATE SCHEMA imported2")
    with pytest.raises(psycopg.Error, match="import failed on purpose"):
        fdw.sql("IMPORT FOREIGN SCHEMA remote FROM SERVER rt INTO imported2 OPTIONS (fail 'true')")


def test_copy_from_inserts_through_python(fdw):
    fdw.table("copied", "id int, name text", rows="[]")
    fdw.reset()
    with fdw.conn.cursor().copy("COPY copied FROM STDIN") as copy:
        copy.write_row((1, "one"))
        copy.write_row((2, "two"))
    assert [c["values"]["name"]["repr"] for c in fdw.calls("insert")] == ["'one'", "'two'"]
    assert fdw.calls("end_modify")


def test_rows_routed_to_a_foreign_partition(fdw):
    fdw.sql("DROP TABLE IF EXISTS routed; CREATE TABLE routed (id int, name text) PARTITION BY RANGE (id)")
    fdw.sql("CREATE TABLE routed_local PARTITION OF routed FOR VALUES FROM (0) TO (10)")
    fdw.sql("CREATE FOREIGN TABLE routed_remote PARTITION OF routed FOR VALUES FROM (10) TO (100) "
            "SERVER rt OPTIONS (rows '[]')")
    fdw.reset()
    fdw.sql("INSERT INTO routed VALUES (1, 'local'), (50, 'remote')")
    [call] = fdw.calls("insert")
    assert call["values"] == {"id": {"type": "int", "repr": "50"}, "name": {"type": "str", "repr": "'remote'"}}
