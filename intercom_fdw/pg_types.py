"""What the FDW knows of PostgreSQL's type names, in one place (pure).

Type names arrive as PostgreSQL prints them (`character varying(255)`, `timestamp with time zone`)
or as a user wrote them in DDL (`varchar(255)`, `timestamptz`, `int8`); every function here takes
either spelling. Planning (quals), custom fields (IMPORT and declared columns) and writes (varchar
lengths) ask here instead of comparing names themselves.
"""
from __future__ import annotations

import re
from typing import Optional

# The family of each type name a column may be declared with; anything else is text-like.
_FAMILIES = {
    "text": "text", "character varying": "text", "varchar": "text", "character": "text", "char": "text",
    "bpchar": "text",
    "integer": "integer", "int": "integer", "int4": "integer", "bigint": "integer", "int8": "integer",
    "smallint": "integer", "int2": "integer",
    "numeric": "number", "double precision": "number", "float8": "number", "real": "number", "float4": "number",
    "boolean": "boolean", "bool": "boolean",
    "date": "date",
    "timestamp with time zone": "timestamptz", "timestamptz": "timestamptz",
    "timestamp without time zone": "timestamp", "timestamp": "timestamp",
    "json": "json", "jsonb": "json",
}
_VARCHAR = re.compile(r"\s*(?:character varying|varchar)\s*\((\d+)\)\s*", re.IGNORECASE)


_MODIFIER = re.compile(r"\s*\([\d\s,]*\)")


def base_type(pg_type: str) -> str:
    """The type's name without its modifier, lower case: 'character varying(255)' -> 'character varying',
    'timestamp(3) with time zone' -> 'timestamp with time zone' (PostgreSQL prints the precision of a
    time type inside its name)."""
    return " ".join(_MODIFIER.sub("", pg_type or "").split()).lower()


def family(pg_type: str) -> str:
    """text, integer, number, boolean, date, timestamp, timestamptz or json ('other' for arrays and
    types the FDW does not map)."""
    base = base_type(pg_type)
    if base.endswith("[]"):
        return "other"
    return _FAMILIES.get(base, "other")


def is_text(pg_type: str) -> bool:
    return family(pg_type) == "text"


def is_zoned_timestamp(pg_type: str) -> bool:
    return family(pg_type) == "timestamptz"


def is_moment(pg_type: str) -> bool:
    """date, timestamp or timestamptz: values planning compares as UNIX seconds."""
    return family(pg_type) in ("date", "timestamp", "timestamptz")


def varchar_limit(pg_type: str) -> Optional[int]:
    """n of varchar(n) / character varying(n), else None."""
    match = _VARCHAR.fullmatch(pg_type or "")
    return int(match.group(1)) if match else None
