"""Date and time bounds at and past the ends of what Intercom's UNIX-seconds fields hold: infinity,
years past 9999, BC, and the first and last second of years 1..9999. Every query returns the rows of
its twin on the server with pushdown 'false' (and of the emulator read over plain HTTP), on both
runtimes: never an internal error, never an HTTP 500 from a widened date bound."""
import psycopg
import pytest

from intercom_fdw.tools import throwaway_pg
from tests.integration.read_fixtures import import_tables
from tests.integration.test_read_pushdown import same_as_unpushed

pytestmark = pytest.mark.timeout(300)

# (condition, holds for every row with a date): the brief's reports first, then the other extremes.
EXTREMES = [
    ("{c} < 'infinity'", True),
    ("{c} > '-infinity'", True),
    ("{c} < '10000-01-01 00:00:00'::timestamp", True),
    ("{c} < '294276-01-01+00'", True),
    ("{c} < '9999-12-31 23:59:59+00'", True),
    ("{c} > '0001-01-01 00:00:00+00'", True),
    ("{c} <= '9999-12-31 23:59:59+00'", True),
    ("{c} >= '0001-01-01 00:00:00+00'", True),
    ("{c} < 'infinity'::timestamp", True),
    ("{c} > '-infinity'::timestamp", True),
    ("{c} < 'infinity'::date", True),
    ("{c} > '-infinity'::date", True),
    ("{c} > '0044-03-15 BC'::date", True),
    ("{c} > '4713-01-01 00:00:00 BC'::timestamp", True),
    ("{c} > '4714-11-24 00:00:00+00 BC'", True),
    ("{c} < '294276-12-31 23:59:59+00'", True),
    ("{c} < '5874897-12-31'::date", True),  # past the last timestamp: see PAST_TIMESTAMPS
    ("{c} < '9999-12-31 23:59:59'::timestamp", True),
    ("{c} > '0001-01-01 00:00:00'::timestamp", True),
    ("{c} < '9999-12-31'::date", True),
    ("{c} > '0001-01-01'::date", True),
    ("{c} > 'infinity'", False),
    ("{c} < '-infinity'", False),
    ("{c} > '10000-01-01 00:00:00'::timestamp", False),
    ("{c} > '9999-12-31 23:59:59+00'", False),
    ("{c} < '0001-01-01 00:00:00+00'", False),
    ("{c} = 'infinity'", False),
    ("{c} = '9999-12-31 23:59:59+00'", False),
    ("{c} = '0001-01-01 00:00:00+00'", False),
    ("{c} = '0001-01-01'::date", False),
    ("{c} IN ('infinity', '9999-12-31 23:59:59+00')", False),
    ("{c} BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59+00'", True),
    ("{c} BETWEEN '-infinity' AND 'infinity'", True),
    ("{c} < (SELECT 'infinity'::timestamp)", True),
    ("{c} > (SELECT '0001-01-01 00:00:00'::timestamp)", True),
]

# multicorn2 3.2 turns a date qual value into a timestamp before it converts it to Python, which fails
# in PostgreSQL for a date past the last timestamp (294276 AD): its ERROR comes before the FDW is called,
# with pushdown or without (multicorn_compat/README.md).
PAST_TIMESTAMPS = ("{c} < '5874897-12-31'::date",)

TABLES = [("contacts", "created_at", "/contacts", "data"),
          ("contacts", "updated_at", "/contacts", "data"),
          ("conversations", "created_at", "/conversations", "conversations")]


@pytest.fixture(scope="module")
def part(read_db, emulator):
    """Schema `part`: the same tables read as partitioned scans (windows of created_at)."""
    import_tables(read_db.conn, "part", emulator.url, emulator.token, ("contacts", "conversations"),
                  scan_mode="partitioned")
    return "part"


@pytest.fixture(scope="module")
def dated(api):
    """Per (table, column): how many rows the emulator holds with a value in that column."""
    return {(table, column): sum(1 for item in api.all(path, items_key=key) if item.get(column) is not None)
            for table, column, path, key in TABLES}


@pytest.mark.parametrize("table,column", [(t, c) for t, c, _, _ in TABLES])
@pytest.mark.parametrize("condition,holds", EXTREMES)
def test_bounds_at_and_past_the_ends_return_the_rows_of_the_twin(read_db, part, dated, table, column, condition,
                                                                 holds):
    where = condition.format(c=column)
    if condition in PAST_TIMESTAMPS and throwaway_pg.runtime() == "multicorn2":
        for schema in ("intercom", "intercom_plain", part):
            with pytest.raises(psycopg.errors.DatetimeFieldOverflow, match="date out of range for timestamp"):
                read_db.rows(f"SELECT id FROM {schema}.{table} WHERE {where}")
        return
    rows = same_as_unpushed(read_db, f"SELECT id FROM {{schema}}.{table} WHERE {where}")
    assert len(rows) == (dated[table, column] if holds else 0), where
    assert sorted(read_db.rows(f"SELECT id FROM {part}.{table} WHERE {where}")) == sorted(rows), where
    read_db.explain(f"SELECT id FROM intercom.{table} WHERE {where}", verbose=True)  # no error either


def test_the_brief_queries_count_every_contact(read_db, dated):
    for where in ("created_at < 'infinity'", "created_at < '10000-01-01 00:00:00'::timestamp",
                  "created_at < '294276-01-01+00'", "created_at > '-infinity'",
                  "created_at < '9999-12-31 23:59:59+00'", "created_at > '0001-01-01 00:00:00+00'"):
        for schema in ("intercom", "intercom_plain"):
            assert read_db.rows(f"SELECT count(*) FROM {schema}.contacts WHERE {where}") == \
                [(dated["contacts", "created_at"],)], (schema, where)


def test_explain_shows_a_widened_bound_only_when_it_is_sent(read_db):
    # Contact dates compare by day: a bound is widened by two days, unless that leaves years 1..9999.
    near_end = read_db.explain("SELECT id FROM intercom.contacts WHERE created_at < '9999-12-31 23:59:59+00'",
                               verbose=True)
    assert '"field": "created_at"' not in near_end, near_end
    rows, routes = read_db.calls("SELECT id FROM intercom.contacts WHERE created_at < '9999-12-31 23:59:59+00'")
    assert "POST /contacts/search" not in routes, routes
    inside = read_db.explain("SELECT id FROM intercom.contacts WHERE created_at < '9000-01-01 00:00:00+00'",
                             verbose=True)
    assert '"field": "created_at", "operator": "<", "value": 221845564800' in inside, inside
    rows, routes = read_db.calls("SELECT id FROM intercom.contacts WHERE created_at < '9000-01-01 00:00:00+00'")
    assert routes.get("POST /contacts/search"), routes
