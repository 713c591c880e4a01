"""IMPORT FOREIGN SCHEMA: the table definitions for a workspace, custom fields included.

One call per data attribute model (contact, company, conversation) and one for the ticket types
(which embed their attributes), each made only when a table that needs it is imported. Custom
field columns record their attribute's name and type as column options, so scans need no call.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from intercom_fdw import engine
from intercom_fdw.custom_fields import custom_columns, ticket_type_table_name
from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions, plan_scan
from intercom_fdw.shaping import dig
from intercom_fdw.spec import Column, CustomFields, ObjectSpec



@dataclass(frozen=True)
class TableDefinition:
    name: str
    columns: Sequence[Column]
    options: Dict[str, str] = field(default_factory=dict)
    skipped: Tuple[str, ...] = ()  # custom attributes left out, and why (the import tells each in a NOTICE)


def table_definitions(client, restriction_type: Optional[str] = None, restricts: Iterable[str] = (),
                      now: int = 0) -> List[TableDefinition]:
    restricts = set(restricts or ())

    def wanted(name: str) -> bool:
        if restriction_type == "limit":
            return name in restricts
        if restriction_type == "except":
            return name not in restricts
        return True

    options = ScanOptions(now=now, suppress_extended_requests=True)
    tables = []
    for spec in sorted(SPECS.values(), key=lambda s: s.table):
        if not wanted(spec.table):
            continue
        columns, skipped = list(spec.columns), []
        if spec.custom_fields and spec.custom_fields.model:
            attributes = _custom_data_attributes(client, spec.custom_fields, options)
            custom, skipped = custom_columns(attributes, spec.custom_fields, spec.column_names)
            columns += custom
        tables.append(TableDefinition(spec.table, columns, {"object": spec.table}, tuple(skipped)))
    if restriction_type != "limit" or restricts - set(SPECS):
        taken = set(SPECS)
        for spec in SPECS.values():
            if spec.custom_fields and spec.custom_fields.per_row:
                tables += [table for table in _per_type_tables(client, spec, options, taken) if wanted(table.name)]
    return tables


def unmatched_names(tables: Sequence[TableDefinition], restriction_type: Optional[str],
                    restricts: Iterable[str]) -> List[str]:
    """What to say of each `LIMIT TO` name that no table of the workspace has, with the likeliest table
    meant: PostgreSQL ignores such names, so `LIMIT TO (contact)` imported nothing without a word."""
    if restriction_type != "limit":
        return []
    found = {table.name for table in tables}
    known = sorted(found | {spec.table for spec in SPECS.values()})
    said = []
    for name in sorted(set(restricts or ()) - found):
        likely = difflib.get_close_matches(name.lower(), known, n=1)
        said.append(f"LIMIT TO names {name!r}, which is no table of this workspace: nothing imported for it"
                    + (f" (did you mean {likely[0]!r}?)" if likely else ""))
    return said


def _custom_data_attributes(client, custom: CustomFields, options: ScanOptions) -> List[dict]:
    spec = custom.definitions_spec
    plan = plan_scan(spec, [Condition("model", "=", custom.model)], spec.column_names, options=options)
    return [item for item, _ in engine.objects(plan, client) if item.get("custom")]


def _per_type_tables(client, spec: ObjectSpec, options: ScanOptions, taken: set) -> List[TableDefinition]:
    """One table per (ticket) type, of `spec`'s columns and the type's own attributes."""
    custom = spec.custom_fields
    types_spec = custom.definitions_spec
    plan = plan_scan(types_spec, (), types_spec.column_names, options=options)
    tables = []
    for ticket_type, _ in engine.objects(plan, client):
        if ticket_type.get("archived") or ticket_type.get("id") is None:
            continue
        attributes = [a for a in dig(ticket_type, custom.per_row) or () if isinstance(a, dict) and not a.get("default")]
        columns, skipped = custom_columns(attributes, custom, spec.column_names)
        name = ticket_type_table_name(ticket_type.get("name") or str(ticket_type["id"]), taken)
        taken.add(name)
        tables.append(TableDefinition(name, list(spec.columns) + columns,
                                      {"object": spec.table, "ticket_type_id": str(ticket_type["id"])}, tuple(skipped)))
    return tables
