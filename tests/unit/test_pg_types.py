"""PostgreSQL type names, in both spellings (format_type's and DDL's)."""
import pytest

from intercom_fdw import pg_types


@pytest.mark.parametrize("name, family", [
    ("text", "text"), ("character varying(255)", "text"), ("VARCHAR(10)", "text"), ("character(3)", "text"),
    ("integer", "integer"), ("int8", "integer"), ("bigint", "integer"), ("smallint", "integer"),
    ("numeric(10,2)", "number"), ("double precision", "number"), ("float4", "number"),
    ("boolean", "boolean"), ("bool", "boolean"), ("date", "date"),
    ("timestamp with time zone", "timestamptz"), ("timestamptz", "timestamptz"),
    ("timestamp without time zone", "timestamp"), ("timestamp(3) without time zone", "timestamp"),
    ("timestamp(3) with time zone", "timestamptz"), ("timestamptz(0)", "timestamptz"), ("numeric(10, 2)", "number"),
    ("character varying(10)[]", "other"),
    ("jsonb", "json"), ("json", "json"), ("text[]", "other"), ("uuid", "other"), ("", "other"),
])
def test_family(name, family):
    assert pg_types.family(name) == family


def test_predicates_and_varchar_limit():
    assert pg_types.is_text("varchar(4)") and not pg_types.is_text("text[]")
    assert pg_types.is_zoned_timestamp("timestamptz") and not pg_types.is_zoned_timestamp("timestamp")
    assert all(pg_types.is_moment(t) for t in ("date", "timestamp", "timestamp with time zone"))
    assert not pg_types.is_moment("integer")
    assert pg_types.varchar_limit("character varying(255)") == 255 == pg_types.varchar_limit(" VARCHAR (255) ")
    assert pg_types.varchar_limit("text") is None and pg_types.varchar_limit("varchar") is None
