"""Custom data attributes and ticket type attributes as typed columns (the mapping below).

| Intercom type            | contacts, companies | conversations       | ticket-type tables           |
|--------------------------|---------------------|---------------------|------------------------------|
| Text                     | varchar(255)        | varchar(1000)*      | varchar(1000)*               |
| Number                   | integer             | integer             | integer                      |
| Decimal Number           | double precision    | double precision    | double precision             |
| Date                     | date                | timestamptz         | timestamptz (read-only)      |
| DateTime                 | timestamptz         | timestamptz         | timestamptz (read-only)      |
| True or false / Boolean  | boolean             | boolean             | boolean                      |
| List                     | text (read-only)    | text (read-only)    | text (read-only)             |
| File upload              | jsonb (read-only)   | jsonb (read-only)   | jsonb (read-only)            |

* varchar(4000) when the name contains memo, note, description, comment, notes or address, or
  ends with url, reason or keywords; text when it contains content or html.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable, List, Optional, Set, Tuple

from anyascii import anyascii

from intercom_fdw import pg_types
from intercom_fdw.errors import ConfigurationError
from intercom_fdw.spec import Column, CustomFields, ObjectSpec, SearchField

# Intercom's data_type values (data attributes and ticket type attributes) -> the kinds.
_KINDS = {
    "string": "text", "text": "text",
    "integer": "number", "number": "number",
    "float": "decimal", "decimal": "decimal",
    "date": "date", "datetime": "datetime",
    "boolean": "boolean",
    "list": "list", "options": "list",
    "files": "files", "file": "files",
}

_LONG_TEXT_WORDS = ("memo", "note", "description", "comment", "notes", "address")
_LONG_TEXT_ENDINGS = ("url", "reason", "keywords")
_UNBOUNDED_TEXT_WORDS = ("content", "html")


def text_type(name: str, custom: CustomFields) -> str:
    if custom.text_type:
        return custom.text_type
    lowered = name.lower()
    if any(word in lowered for word in _UNBOUNDED_TEXT_WORDS):
        return "text"
    if any(word in lowered for word in _LONG_TEXT_WORDS) or lowered.endswith(_LONG_TEXT_ENDINGS):
        return "varchar(4000)"
    return "varchar(1000)"


def column_type(data_type: str, attribute_name: str, custom: CustomFields):
    """(pg_type, converter, read_only) for an Intercom data type, or None for a type we do not know."""
    kind = _KINDS.get((data_type or "").lower())
    if kind is None:
        return None
    moment = ("timestamptz", "unix_timestamp", custom.dates_read_only)
    return {
        "text": (text_type(attribute_name, custom), "text", False),
        "number": ("integer", "integer", False),
        "decimal": ("double precision", "float", False),
        "date": ("date", "unix_date", custom.dates_read_only) if custom.dates_are_days else moment,
        "datetime": moment,
        "boolean": ("boolean", "boolean", False),
        "list": ("text", "text", True),
        "files": ("jsonb", "file_list", True),
    }[kind]


def custom_column(attribute_name: str, data_type: str, custom: CustomFields, taken: Set[str],
                  attribute_id=None) -> Optional[Column]:
    """The typed column for one custom attribute, or None for a data type we do not know.

    Its column options record the attribute's name and data type, so a scan needs no API call
    to know where the value is and how to convert it, and its id when known (ticket search
    names a ticket attribute by id: `ticket_attribute.<id>`).
    """
    typed = column_type(data_type, attribute_name, custom)
    if typed is None:
        return None
    pg_type, convert, read_only = typed
    options = {custom.option: attribute_name, "data_type": data_type.lower()}
    if attribute_id is not None:
        options["attribute_id"] = str(attribute_id)
    return Column(column_name(attribute_name, taken), pg_type, (custom.container, attribute_name), convert,
                  options=options, read_only=read_only)


def custom_columns(attributes: Iterable[dict], custom: CustomFields,
                   taken: Iterable[str]) -> Tuple[List[Column], List[str]]:
    """Columns for the attributes (dicts with name and data_type); and why each attribute that is not
    a column was left out (for IMPORT FOREIGN SCHEMA to say): one reason per attribute that cannot be
    one, and one for all the archived ones (a workspace may hold many; archiving is a choice made in
    Intercom, not a problem)."""
    taken = set(taken)
    columns, skipped, archived = [], [], []
    for attribute in attributes:
        name = attribute.get("name") or ""
        if attribute.get("archived"):
            archived.append(name)
            continue
        if not name:
            # Its column option would be custom_attribute '', which names no field: every scan of the
            # table would fail (column_from_options). Intercom refuses such a name; a workspace may hold one.
            skipped.append(f"custom attribute '' (id {attribute.get('id')}) not imported: its name is empty")
            continue
        data_type = attribute.get("data_type") or ""
        column = custom_column(name, data_type, custom, taken, attribute.get("id"))
        if column is None:
            skipped.append(f"custom attribute '{name}' (id {attribute.get('id')}) not imported: its data type "
                           f"'{data_type}' is not one intercom_fdw knows (its value is in attrs)")
            continue
        taken.add(column.name)
        columns.append(column)
    if archived:
        skipped.append(f"{len(archived)} archived custom attribute{'s' if len(archived) > 1 else ''} not imported: "
                       + ", ".join(f"'{name}'" for name in archived))
    return columns, skipped


def column_name(attribute_name: str, taken: Set[str] = frozenset()) -> str:
    """snake_case, at most 63 bytes (PostgreSQL's NAMEDATALEN), never clashing with `taken`."""
    base = snake_case(attribute_name) or "attribute"
    if base[0].isdigit():
        base = "_" + base
    base = base[:63]
    name, n = base, 2
    while name in taken:
        suffix = f"_{n}"
        name, n = base[: 63 - len(suffix)] + suffix, n + 1
    return name


def snake_case(text: str) -> str:
    # Transliterated first ('Ünïcødé Ättr' -> 'Unicode Attr'), so that non-ASCII names keep their letters.
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", anyascii(text or ""))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def ticket_type_table_name(ticket_type_name: str, taken: Set[str] = frozenset()) -> str:
    """`<ticket_type_name>_tickets`, snake_case, unique among the tables being created."""
    return column_name(snake_case(ticket_type_name)[:55] + "_tickets", taken)


def column_from_options(name: str, pg_type: str, options: dict, custom: CustomFields) -> Optional[Column]:
    """A custom field column of a foreign table, rebuilt from its column options at scan time.

    Hand-written tables may omit data_type: the column's PostgreSQL type then decides.
    """
    attribute = options.get(custom.option)
    if not attribute:
        return None
    typed = column_type(options.get("data_type") or _DATA_TYPE_OF_PG.get(pg_types.base_type(pg_type),
                                                                        "string"), attribute, custom)
    convert, read_only = (typed[1], typed[2]) if typed else ("text", False)
    return Column(name, pg_type, (custom.container, attribute), convert, options=dict(options), read_only=read_only)


_DATA_TYPE_OF_PG = {
    "integer": "integer", "bigint": "integer", "smallint": "integer", "double precision": "float",
    "real": "float", "numeric": "float", "boolean": "boolean", "date": "date",
    "timestamp with time zone": "datetime", "timestamptz": "datetime", "jsonb": "files", "json": "files",
}


def compatible_type(declared: str, expected: str) -> bool:
    """Whether a column declared `declared` can hold values shaped for `expected`.

    Text holds anything; numbers widen (integer values fit numeric and double precision).
    """
    declared_family, expected_family = _family(declared), _family(expected)
    if declared_family == "text" or declared_family == expected_family:
        return True
    return declared_family == "number" and expected_family == "integer"


def _family(pg_type: str) -> str:
    # a timestamp without zone, an array or a type we do not map holds the field's text form
    kind = pg_types.family(pg_type)
    return "text" if kind in ("timestamp", "other") else kind


def table_columns(spec: ObjectSpec, declared) -> List[Column]:
    """The columns of one foreign table, from its declared (name, type, column options).

    Known fields come from the spec, custom fields from their column options; anything else, or
    a type that cannot hold the field, is a ConfigurationError naming the column.
    """
    columns = []
    for name, type_name, options in declared:
        column = spec.column(name)
        custom = spec.custom_fields
        if column is None and custom:
            column = column_from_options(name, type_name, options, custom)
        if column is None:
            raise ConfigurationError(
                f"column {name} is not a field of Intercom {spec.table}",
                hint=f"columns of {spec.table}: " + ", ".join(spec.column_names)
                + (f"; custom fields need the column option {custom.option} '<attribute name>'" if custom else ""),
            )
        if not compatible_type(type_name, column.pg_type):
            raise ConfigurationError(f"column {name} of an Intercom {spec.table} table is declared {type_name}",
                                     hint=f"declare it {column.pg_type} (or text)")
        columns.append(column)
    return columns


def table_spec(spec: ObjectSpec, declared) -> ObjectSpec:
    """The spec of one foreign table: its declared columns, and search fields for its custom
    field columns next to the spec's own (so the planner pushes `plan_tier = 'pro'` like `email = ...`)."""
    columns = table_columns(spec, declared)
    return replace(spec, columns=tuple(columns), search_fields=spec.search_fields + custom_search_fields(spec, columns))


def custom_search_fields(spec: ObjectSpec, columns: Iterable[Column]) -> Tuple[SearchField, ...]:
    """Search fields for the custom field columns the object's search can filter.

    Only columns whose options record the attribute's data type (IMPORT FOREIGN SCHEMA writes it):
    a search value of the wrong type is an API error, and the PostgreSQL type alone does not say
    whether a text column holds a string attribute. The kind follows the column's converter (a
    contact's Date attribute is a `date` column searched by day, a conversation's a timestamptz),
    and the object's operators (spec.custom_fields.search_kinds).
    """
    custom = spec.custom_fields
    if not custom or not custom.search_field or not spec.search:
        return ()
    fields = []
    for column in columns:
        kind = custom.search_kinds.get(column.convert)
        if spec.search_field(column.name) or kind is None or not column.options.get("data_type"):
            continue
        try:
            name = custom.search_field.format(**column.options)
        except KeyError:  # a hand-written table without the option the field name needs
            continue
        fields.append(SearchField(column.name, name, kind))
    return tuple(fields)
