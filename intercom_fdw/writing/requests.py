"""From SQL rows to Intercom write requests: pure functions, no I/O.

`TableWrites` reads an object's `WriteRules` (spec.py) and turns the values multicorn hands to
insert/update/delete into `WriteRequest`s, checking every rule first: the operation is allowed,
the required columns are set, only writable columns change, values fit the types and the
varchar lengths of the custom field mapping. Each failure names the table, the row and the
column, with a HINT. Nothing here knows a particular object: the rules are data in objects/.

Values arrive in multicorn2's forms (runtime README): timestamptz and floats as text, booleans
as 't'/'f', dates as datetime.date, json as text. Old values (the scanned row an UPDATE changes)
are the shaped rows of shaping.py. `json_value` accepts both, so comparing old and new is
comparing what would be sent.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from intercom_fdw import pg_types
from intercom_fdw.api_request import ApiRequest, UnaddressableId, bind_path, path_placeholders
from intercom_fdw.custom_fields import column_type
from intercom_fdw.errors import InvalidValueError, UnsupportedOperationError
from intercom_fdw.spec import Column, ObjectSpec, WriteField, WriteOperation

ROWID_COLUMN = "id"
VERBS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}

# The JSON form of each read converter; file lists are never writable.
_KIND_OF_CONVERTER = {"text": "text", "integer": "integer", "bigint": "integer", "float": "float",
                      "boolean": "boolean", "unix_timestamp": "unix", "unix_date": "unix", "json": "json"}


@dataclass(frozen=True)
class WriteRequest(ApiRequest):
    """The one API call (paging "none") for one row, and how its answer becomes the row: `result_id`
    names the answer's field holding the object to read back (conversations answer a message);
    `inject` fills the row's columns the response lacks (parent keys)."""

    result_id: Optional[str] = None
    inject: Mapping[str, Any] = field(default_factory=dict)


# ---- values ----------------------------------------------------------------------------------

class _BadValue(ValueError):
    pass


def _text(value):
    return value if isinstance(value, str) else str(value)


def _integer(value):
    if isinstance(value, bool):
        raise _BadValue("a number is expected")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _BadValue("a whole number is expected")


def _float(value):
    if isinstance(value, bool):
        raise _BadValue("a number is expected")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _BadValue("a number is expected") from None
    if not math.isfinite(number):
        # PostgreSQL's double precision holds them; JSON, and so Intercom, does not
        raise _BadValue("a finite number is expected: Intercom's JSON has no NaN or Infinity")
    return number


_TRUE, _FALSE = frozenset({"t", "true", "on", "yes", "1"}), frozenset({"f", "false", "off", "no", "0"})


def _boolean(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _BadValue("true or false is expected")


def _unix(value):
    """UNIX seconds from a timestamptz (text in DateStyle ISO, or shaped ISO 8601), a date or a number."""
    if isinstance(value, bool):
        raise _BadValue("a timestamp is expected")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text.lower() in ("infinity", "-infinity") or text.endswith(" BC") or re.match(r"\d{5,}-", text):
            # valid in PostgreSQL, but no time Intercom holds (and none a column could read back)
            raise _BadValue(f"Intercom holds times of the years 1 to 9999 (UNIX seconds), not {text}: "
                            "write a finite time of those years, or NULL")
        # PostgreSQL writes '+00' and '+05:30'; fromisoformat wants '+00:00' before 3.11 only, but
        # whole-hour offsets like '+05' are accepted as well in 3.11.
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _BadValue("an ISO 8601 timestamp is expected (SET DateStyle = ISO)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp())


def _json(value):
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        raise _BadValue("JSON is expected") from None


_CONVERT = {"text": _text, "integer": _integer, "float": _float, "boolean": _boolean, "unix": _unix, "json": _json}


def json_value(kind: str, value):
    """The JSON value sent for an SQL value of this kind (None stays None)."""
    return None if value is None else _CONVERT[kind](value)


def kind_of(column: Column, write_field: Optional[WriteField] = None) -> Optional[str]:
    if write_field is not None and write_field.kind:
        return write_field.kind
    return _KIND_OF_CONVERTER.get(column.convert)


def _set_path(body: dict, path: Tuple[str, ...], value) -> None:
    for key in path[:-1]:
        body = body.setdefault(key, {})
    body[path[-1]] = value


class TableWrites:
    """The write rules of one foreign table (its spec, with its custom field columns, and options).

    `table_options` are the table's own options that fix a column (ticket-type tables'
    ticket_type_id, from spec.table_filters): the column is filled from the option on INSERT and
    a different value is an error.
    """

    def __init__(self, spec: ObjectSpec, table_options: Mapping[str, str] = None):
        self.spec = spec
        self.rules = spec.writes
        self.fixed = {column: (table_options or {})[option] for option, column in spec.table_filters.items()
                      if (table_options or {}).get(option)}
        self.columns = {c.name: c for c in spec.columns}
        # how errors name the table: a ticket-type table is `tickets (ticket_type_id 5500)`
        self.label = spec.table + "".join(f" ({name} {value})" for name, value in self.fixed.items())
        self._writable = {}

    # -- what is allowed ---------------------------------------------------------------------------
    def allowed(self) -> str:
        operations = [VERBS[op] for op in self.rules.operations]
        return ", ".join(operations) if operations else "nothing (the table is read-only)"

    def operation(self, name: str) -> WriteOperation:
        op = getattr(self.rules, name)
        if op is None:
            raise UnsupportedOperationError(
                f"{VERBS[name]} on {self.label} is not supported by the Intercom API",
                hint=f"{self.spec.table} allows {self.allowed()}",
            )
        return op

    def writable(self, op: WriteOperation) -> Dict[str, Tuple[Tuple[str, ...], Optional[str]]]:
        """column -> (body path, JSON kind) of every column this operation can set."""
        if id(op) not in self._writable:
            self._writable[id(op)] = self._writable_columns(op)
        return self._writable[id(op)]

    def _writable_columns(self, op: WriteOperation):
        result = {}
        for write_field in op.fields:
            column = self.columns.get(write_field.column)
            if column is not None:
                result[column.name] = (write_field.target or column.source, kind_of(column, write_field))
        if op.custom_fields and self.spec.custom_fields:
            option = self.spec.custom_fields.option
            for column in self.spec.columns:
                if column.options.get(option) and not column.read_only:
                    result[column.name] = (column.source, kind_of(column))
        return result

    # -- requests ----------------------------------------------------------------------------------
    def insert_request(self, values: Mapping[str, Any], row: int) -> WriteRequest:
        op = self.operation("insert")
        values = self._with_fixed_values(values, row)
        self._check_required(op, values, row, "insert")
        writable = self.writable(op)
        addressing = set(path_placeholders(op.path)) | set(self.fixed)
        for name, value in values.items():
            if value is not None and name not in writable and name not in addressing:
                raise self._not_writable(name, row, "insert", writable)
        sent = {n: v for n, v in values.items() if v is not None and n in writable}
        return self._request(op, values, sent, writable, row, "insert", rowid=values.get(ROWID_COLUMN))

    def update_request(self, rowid, new: Mapping[str, Any], old: Mapping[str, Any], row: int,
                       scanned: bool = True) -> Optional[WriteRequest]:
        """The request for the columns whose value changed, or None when nothing changed.

        `scanned`: `old` is the row the UPDATE read, so a changed column that cannot be written
        is the user's SET. Otherwise `old` was read later by id, and read-only columns may have
        moved on in between (updated_at): only writable columns are compared.
        """
        op = self.operation("update")
        writable = self.writable(op)
        changed = {}
        for name, value in new.items():
            column = self.columns.get(name)
            if column is None or (name not in writable and not scanned):
                continue
            try:
                if name in old and self._same(column, old.get(name), value):
                    continue
            except _BadValue as problem:
                if name not in writable:  # (a writable column's value is checked when it is converted)
                    raise InvalidValueError(f"{self._where(row, 'update')}: cannot read the value of column "
                                            f"{name}", hint=str(problem)) from None
            if name not in old and (value is None or name not in writable):
                continue  # the old value is unknown: only a writable column is worth sending
            if name not in writable:
                raise self._not_writable(name, row, "update", writable)
            changed[name] = value
        if not changed:
            return None
        merged = {**old, **new}
        self._check_required(op, merged, row, "update", only=set(changed))
        return self._request(op, merged, changed, writable, row, "update", rowid=rowid)

    def upsert_request(self, existing_id: str, values: Mapping[str, Any], row: int) -> WriteRequest:
        """on_conflict 'update': the update operation with every set, updatable value of the row."""
        op = self.operation("update")
        writable = self.writable(op)
        sent = {n: v for n, v in self._with_fixed_values(values, row).items() if v is not None and n in writable}
        return self._request(op, values, sent, writable, row, "update", rowid=existing_id)

    def delete_request(self, rowid, old: Mapping[str, Any], row: int) -> WriteRequest:
        op = self.operation("delete")
        # 404: already gone (or a resent DELETE after a dropped answer): the row is deleted either way.
        return replace(self._request(op, old, {}, {}, row, "delete", rowid=rowid), allow_404=True)

    def path_keys(self, op_name: str) -> Tuple[str, ...]:
        """Columns besides the rowid that the operation's path needs (a child table's parent key)."""
        op = getattr(self.rules, op_name)
        if op is None:
            return ()
        return tuple(name for name in path_placeholders(op.path) if name != ROWID_COLUMN)

    # -- helpers -----------------------------------------------------------------------------------
    def _request(self, op, values, sent, writable, row, verb, rowid) -> WriteRequest:
        path_values = {}
        for name in path_placeholders(op.path):
            value = rowid if name == ROWID_COLUMN else values.get(name)
            if value is None:
                raise InvalidValueError(
                    f"{self._where(row, verb)}: column {name} is needed to address the object",
                    hint=f"set {name} (the path is {op.path})")
            path_values[name] = value
        try:
            path = bind_path(op.path, path_values)
        except UnaddressableId as error:
            raise InvalidValueError(f"{self._where(row, verb)}: column {error.message}", hint=error.hint) from None
        body = None
        if op.method != "DELETE" or sent or op.keys:
            body = {}
            for key in op.keys:
                column = self.columns[key.column]
                value = rowid if key.column == ROWID_COLUMN else values.get(key.column)
                _set_path(body, key.target or column.source, json_value(kind_of(column, key), value))
            for name, value in sent.items():
                target, kind = writable[name]
                _set_path(body, target, self._converted(name, kind, value, row, verb))
        inject = {c.name: values.get(c.name) for c in self.spec.columns
                  if not c.source and c.name != "attrs" and values.get(c.name) is not None}
        return WriteRequest(op.method, path, body=body, repeatable=op.idempotent, creates=verb == "insert",
                            result_id=op.result_id, inject=inject)

    def _converted(self, name, kind, value, row, verb):
        column = self.columns[name]
        try:
            converted = json_value(kind, value)
        except _BadValue as problem:
            raise InvalidValueError(f"{self._where(row, verb)}: invalid value {value!r} for column {name}",
                                    hint=str(problem)) from None
        limit = self._length_limit(column)
        if limit is not None and isinstance(converted, str) and len(converted) > limit:
            raise InvalidValueError(
                f"{self._where(row, verb)}: the value of column {name} has {len(converted)} characters; "
                f"Intercom's {column.options.get(self.spec.custom_fields.option)!r} takes at most {limit}",
                hint=f"shorten it to {limit} characters (left({name}, {limit}))")
        return converted

    def _length_limit(self, column: Column) -> Optional[int]:
        """varchar(n) of the custom field mapping, whatever the column was declared as."""
        custom = self.spec.custom_fields
        attribute = column.options.get(custom.option) if custom else None
        if not attribute:
            return None
        typed = column_type(column.options.get("data_type") or "string", attribute, custom)
        return pg_types.varchar_limit(typed[0]) if typed else None

    def _same(self, column: Column, old, new) -> bool:
        if old is None or new is None:
            return old is None and new is None
        kind = kind_of(column) or "json"
        return json_value(kind, old) == json_value(kind, new)

    def _with_fixed_values(self, values, row):
        if not self.fixed:
            return values
        values = dict(values)
        for name, fixed in self.fixed.items():
            if values.get(name) is not None and str(values[name]) != str(fixed):
                raise InvalidValueError(
                    f"{self._where(row, 'insert')}: {name} is {values[name]!r}, but this table holds "
                    f"the tickets of ticket type {fixed}",
                    hint=f"leave {name} out (it is filled from the table option ticket_type_id)")
            values[name] = fixed
        return values

    def _check_required(self, op, values, row, verb, only=None):
        for rule in op.required:
            if only is not None and not only & set(rule.columns):
                continue
            present = [c for c in rule.columns if values.get(c) not in (None, "")]
            if not present:
                what = " or ".join(rule.columns)
                raise InvalidValueError(f"{self._where(row, verb)}: {what} must be set", hint=rule.hint)
            if rule.values and str(values[present[0]]) not in rule.values:
                raise InvalidValueError(
                    f"{self._where(row, verb)}: {present[0]} is {values[present[0]]!r}, "
                    f"not one of {', '.join(rule.values)}", hint=rule.hint)

    def _not_writable(self, name, row, verb, writable):
        column = self.columns.get(name)
        why = "is read-only in Intercom" if column is not None and column.read_only else \
            f"cannot be set by Intercom's API on {verb.upper()}"
        return InvalidValueError(
            f"{self._where(row, verb)}: column {name} {why}",
            hint=(f"leave {name} out; writable columns: {', '.join(sorted(writable))}" if writable
                  else f"leave {name} out"))

    def _where(self, row, verb) -> str:
        return f"{VERBS[verb]} on {self.label}, row {row}"

    # -- conflicts ---------------------------------------------------------------------------------
    def existing_id(self, error) -> Optional[str]:
        """The existing object's id when `error` is this object's create conflict, else None."""
        conflict = self.rules.conflict
        if conflict is None or getattr(error, "status", None) != conflict.status:
            return None
        match = re.search(conflict.id_pattern, getattr(error, "message", "") or "")
        return match.group(1) if match else None
