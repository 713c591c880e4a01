"""The replication's pure parts: the strategy table and the SQL text it plans (no database)."""
from datetime import timedelta

import pytest

from intercom_fdw.objects import SPECS
from intercom_fdw.replication import planning as sql
from intercom_fdw.replication.runner import RunCanceled, canceled_means, check_arguments, choose_objects, canceled_as
from intercom_fdw.replication.strategies import STRATEGIES, STRATEGIES_BY_OBJECT
from intercom_fdw.errors import ConfigurationError

SEED_OBJECTS = {"articles", "activity_logs", "companies", "collections", "company_segments", "company_contacts",
                "contacts", "contact_segments", "contact_companies", "conversations", "events", "help_centers",
                "notes", "segments", "tickets", "ticket_types"}


def test_the_sixteen_objects_and_conversation_parts_each_have_a_strategy_and_a_spec():
    assert {s.object for s in STRATEGIES} == SEED_OBJECTS | {"conversation_parts"}
    for strategy in STRATEGIES:
        spec = SPECS[strategy.object]
        assert set(strategy.key) <= set(spec.column_names), strategy.object
        if strategy.cursor:
            assert strategy.cursor in spec.column_names


def test_parents_and_copied_objects_come_before_their_children():
    order = [s.object for s in STRATEGIES]
    for strategy in STRATEGIES:
        for other in (strategy.parent, strategy.copies):
            if other:
                assert order.index(other) < order.index(strategy.object), strategy.object
        if strategy.parent:
            assert strategy.key[0] == strategy.parent_key  # the composite key starts with the parent's
            assert len(strategy.key) > 1


def test_search_overlaps_cover_the_search_lag():
    # (contact search's day granularity is the FDW's to widen: a pushed bound never fetches fewer rows)
    for strategy in STRATEGIES:
        if strategy.change == "search":
            assert strategy.overlap >= strategy.lag > timedelta(0), strategy.object


def test_choose_objects_keeps_run_order_and_rejects_unknown_names():
    assert [s.object for s in choose_objects(["notes", "contacts"])] == ["contacts", "notes"]
    assert len(choose_objects(None)) == len(STRATEGIES)
    with pytest.raises(ConfigurationError, match="unknown object"):
        choose_objects(["leads"])
    with pytest.raises(ConfigurationError, match="mode must be"):
        check_arguments("daily", "mark", "x")


def test_literals_and_identifiers_are_quoted():
    assert sql.literal("it's") == "'it''s'"
    assert sql.literal("a\\b") == "E'a\\\\b'"
    assert sql.ident('we"ird') == '"we""ird"'
    assert sql.text_array([]) == "'{}'::text[]"


def test_a_time_window_is_half_open_with_constant_bounds_and_an_optional_change_bound():
    text = sql.time_window("r.contacts", ["id", "updated_at"], "created_at", "2026-11-01 00:00:00+00", None,
                           since=("updated_at", "2026-11-20 00:00:00+00"))
    assert text == ('SELECT "id", "updated_at" FROM r.contacts WHERE "created_at" >= '
                    "'2026-11-01 00:00:00+00'::timestamptz AND \"updated_at\" >= '2026-11-20 00:00:00+00'::timestamptz")
    assert sql.time_window("r.c", ["id"], "created_at", None, "2026-11-02") == (
        "SELECT \"id\" FROM r.c WHERE \"created_at\" < '2026-11-02'::timestamptz")
    assert sql.time_window("r.c", ["id"], "created_at", None, None) == 'SELECT "id" FROM r.c'


def test_a_reader_table_copies_columns_with_their_options_and_quotes_every_value():
    text = sql.create_foreign_table('"s"."t"', [("id", "text", {}), ("plan", "text", {"custom_attribute": "it's"})],
                                    "intercom", {"object": "contacts", "scan_mode": "partitioned"})
    assert text == ('CREATE FOREIGN TABLE "s"."t" (\n    "id" text,\n    "plan" text OPTIONS ("custom_attribute" '
                    "'it''s')\n) SERVER \"intercom\" OPTIONS (\"object\" 'contacts', \"scan_mode\" 'partitioned')")


def test_the_upsert_updates_only_changed_rows_and_marks_a_parents_missing_children():
    table = sql.Table("replica", "notes", (("contact_id", "text"), ("id", "text"), ("body", "text")),
                      ("contact_id", "id"))
    statement = sql.upsert(table, sql.Source("SELECT 1", scope_column="contact_id", scope_values=("c1",)))
    assert "ON CONFLICT (\"contact_id\", \"id\") DO UPDATE" in statement
    assert "WHERE (t.\"body\", t._deleted_at) IS DISTINCT FROM (EXCLUDED.\"body\", NULL::timestamptz)" in statement
    assert "SET _deleted_at = now() WHERE t._deleted_at IS NULL AND t.\"contact_id\" = ANY(ARRAY['c1']::text[])" \
        in statement
    assert "DELETE FROM" in sql.upsert(table, sql.Source("SELECT 1", scope_column="contact_id"), gone_action="delete")
    create = sql.create_table(table)
    assert 'PRIMARY KEY ("contact_id", "id")' in create and "_deleted_at timestamptz" in create


def test_the_readme_table_of_objects_lists_every_strategy():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Replicate", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`"): line for line in section.splitlines()
            if line.startswith("| `")}
    assert set(rows) == {s.object for s in STRATEGIES}
    for strategy in STRATEGIES:  # the deletes column ends with the reconcile kind
        assert rows[strategy.object].split(" | ")[5].endswith(f"(`{strategy.reconcile}`)"), strategy.object


def test_the_descending_read_has_no_bound_for_the_api_to_widen_and_names_its_columns():
    query = sql.newest_first_rows('"intercom"."contacts"', ("id", "updated_at"), "updated_at")
    assert "WHERE" not in query  # a date bound would be widened by two days in contact search
    assert 'FROM (SELECT "id", "updated_at" FROM "intercom"."contacts" ORDER BY "updated_at" DESC OFFSET 0) AS f' \
        in query
    table = sql.Table("replica", "contacts", (("id", "text"), ("name", "text")), ("id",))
    rows = sql.from_json(table, '[{"id": "1", "name": "O\'Hara"}]')
    assert rows == ('SELECT "id", "name" FROM jsonb_populate_recordset(NULL::"replica"."contacts", '
                    "'[{\"id\": \"1\", \"name\": \"O''Hara\"}]'::jsonb)")


class _SpiError(Exception):
    """As plpy raises PostgreSQL's errors: an exception with the SQLSTATE."""

    def __init__(self, message, sqlstate):
        super().__init__(message)
        self.sqlstate = sqlstate


def test_a_cancel_while_a_run_prepares_is_the_procedures_cancel_and_other_errors_pass():
    with pytest.raises(RunCanceled) as canceled:
        with canceled_as("nothing was done", "the next run does it"):
            raise _SpiError("canceling statement due to statement timeout", "57014")
    assert (canceled.value.reason, canceled.value.sqlstate, canceled.value.detail, canceled.value.hint) == (
        "canceling statement due to statement timeout", "57014", "nothing was done", "the next run does it")
    assert canceled.value.__suppress_context__  # no chained traceback in the report
    inner = RunCanceled("canceling statement due to user request", "57014", "an inner run's", "its hint")
    with pytest.raises(RunCanceled) as passed:
        with canceled_as("nothing was done", "the next run does it"):
            raise inner  # an inner run's (sync's first replication of a table): as it is
    assert passed.value is inner
    with pytest.raises(ConfigurationError):
        with canceled_as("nothing was done", "the next run does it"):
            raise ConfigurationError("refused")
    assert canceled_means(_SpiError("duplicate key", "23505"), "d", "h") is None
