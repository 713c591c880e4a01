"""The search grammar of `POST /contacts|conversations|tickets/search`: validation and evaluation.

Pure: no HTTP, no store. A `SearchSchema` names the searchable fields of one object, their types and
how to read them; `compile_query` validates a query against it (Intercom's limits and operator tables,
Intercom's error bodies) and returns a predicate; `sort_key` orders the matches.

Operator tables (from the endpoint descriptions in the OpenAPI file):
- contacts: dates take only `=`, `<`, `>` and compare by calendar day in the workspace time zone
  (`>` starts the next day); `!=`, `IN`, `NIN` work on every type except dates; `>`, `<`, `>=`, `<=`
  on integers; `~`, `!~`, `^`, `$` on strings; `tag_id` takes only `=` and `!=`.
- conversations and tickets: `=`, `!=`, `IN`, `NIN` on every type; `>` and `<` on integers and dates,
  compared to the second and inclusive ("Greater (or equal) than"); tickets also take `>=`/`<=` on
  `created_at`.
- at most two levels of nested groups and at most 15 filters in one AND/OR group.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Optional
from zoneinfo import ZoneInfo

from intercom_fdw.emulator.apierror import ApiError

STRING, INTEGER, FLOAT, BOOLEAN, DATE, MEMBERSHIP, WORDS = (
    "string", "integer", "float", "boolean", "date", "membership", "words")
MAX_NESTING = 2
MAX_FILTERS_PER_GROUP = 15

ALL_OPERATORS = frozenset(["=", "!=", "IN", "NIN", "<", ">", "<=", ">=", "~", "!~", "^", "$"])
_EQUALITY = frozenset(["=", "!=", "IN", "NIN"])
_STRING_ONLY = frozenset(["~", "!~", "^", "$"])


@dataclass(frozen=True)
class OperatorTable:
    """Which operators each field type accepts, and how dates compare, for one searchable object."""

    by_type: Dict[str, FrozenSet[str]]
    dates_by_day: bool  # contacts: calendar day in the workspace time zone
    bounds_inclusive: bool  # conversations/tickets document `>` as "greater (or equal)"


CONTACT_OPERATORS = OperatorTable(
    by_type={
        STRING: _EQUALITY | _STRING_ONLY, WORDS: _EQUALITY | _STRING_ONLY,
        INTEGER: _EQUALITY | {"<", ">", "<=", ">="}, FLOAT: _EQUALITY | {"<", ">", "<=", ">="},
        BOOLEAN: _EQUALITY, DATE: frozenset(["=", "<", ">"]), MEMBERSHIP: frozenset(["=", "!="]),
    },
    dates_by_day=True, bounds_inclusive=False,
)
CONVERSATION_OPERATORS = OperatorTable(
    by_type={
        STRING: _EQUALITY | _STRING_ONLY, WORDS: _EQUALITY | _STRING_ONLY,
        INTEGER: _EQUALITY | {"<", ">"}, FLOAT: _EQUALITY | {"<", ">"},
        BOOLEAN: _EQUALITY, DATE: _EQUALITY | {"<", ">"}, MEMBERSHIP: _EQUALITY,
    },
    dates_by_day=False, bounds_inclusive=True,
)


@dataclass(frozen=True)
class Field:
    type: str
    read: Callable[[dict, Any], Any]  # (object, context) -> value; a list for membership fields
    extra_operators: FrozenSet[str] = frozenset()
    value_map: Optional[Dict[str, str]] = None  # accepted search terms -> stored values (ticket category)


@dataclass
class SearchSchema:
    name: str  # "contact", "conversation", "ticket": used in error messages
    fields: Dict[str, Field]
    operators: OperatorTable
    # Fields whose names have a prefix and a free part ("custom_attributes.plan"): prefix -> resolver
    # (name part, context) -> Field or None.
    dynamic: Dict[str, Callable[[str, Any], Optional[Field]]] = field(default_factory=dict)
    default_per_page: int = 50

    def field(self, name: str, context: Any) -> Field:
        found = self.fields.get(name)
        if found is None and "." in name:
            prefix, rest = name.split(".", 1)
            resolver = self.dynamic.get(prefix)
            found = resolver(rest, context) if resolver else None
        if found is None:
            raise _error(f"'{name}' is not a searchable {self.name} field")
        return found


def _error(message: str) -> ApiError:
    return ApiError(400, "invalid_field" if "searchable" in message else "parameter_invalid", message)


Predicate = Callable[[dict], bool]


def compile_query(query: Any, schema: SearchSchema, context: Any, tz_name: str) -> Predicate:
    """Validate `query` and return a predicate over stored objects; ApiError(400) when invalid."""
    if not isinstance(query, dict):
        raise ApiError(400, "parameter_invalid", "query must be an object")
    tz = ZoneInfo(tz_name)
    return _compile(query, schema, context, tz, depth=0)


def _compile(node: dict, schema: SearchSchema, context: Any, tz, depth: int) -> Predicate:
    operator = node.get("operator")
    if isinstance(operator, str) and operator in ("AND", "OR"):
        children = node.get("value")
        if not isinstance(children, list) or not children:
            raise _error(f"{operator} needs a non-empty list of filters as its value")
        if depth >= MAX_NESTING:
            raise ApiError(400, "parameter_invalid",
                           f"Nested filters exceed the maximum of {MAX_NESTING} levels")
        if len(children) > MAX_FILTERS_PER_GROUP:
            raise ApiError(400, "parameter_invalid", f"{operator} group has {len(children)} filters: "
                           f"at most {MAX_FILTERS_PER_GROUP} filters are allowed in each AND or OR group")
        preds = []
        for child in children:
            if not isinstance(child, dict):
                raise _error("each filter must be an object")
            preds.append(_compile(child, schema, context, tz, depth + 1))
        if operator == "AND":
            return lambda obj: all(p(obj) for p in preds)
        return lambda obj: any(p(obj) for p in preds)
    if "field" not in node:
        raise _error("a filter needs 'field', 'operator' and 'value' (or 'operator' AND/OR with a list)")
    return _compile_filter(node, schema, context, tz)


def _compile_filter(node: dict, schema: SearchSchema, context: Any, tz) -> Predicate:
    name, operator, value = node.get("field"), node.get("operator"), node.get("value")
    if not isinstance(name, str):
        raise _error("field must be a string")
    if not isinstance(operator, str) or operator not in ALL_OPERATORS:
        raise ApiError(400, "parameter_invalid", f"operator '{operator}' is not a valid operator")
    fld = schema.field(name, context)
    allowed = schema.operators.by_type[fld.type] | fld.extra_operators
    if operator not in allowed:
        raise ApiError(400, "parameter_invalid", f"operator '{operator}' is not supported for field '{name}' "
                       f"(type {fld.type}); accepted: {', '.join(sorted(allowed))}")
    if operator in ("IN", "NIN"):
        if not isinstance(value, list):
            raise ApiError(400, "parameter_invalid", f"operator '{operator}' on '{name}' needs an array value")
        wanted = [_coerce(v, fld, name) for v in value]
        test = _equals_any(fld, wanted)
        read = fld.read
        if operator == "IN":
            return lambda obj: test(read(obj, context))
        return lambda obj: not test(read(obj, context))
    if isinstance(value, list):
        raise ApiError(400, "parameter_invalid", f"operator '{operator}' on '{name}' needs a single value")
    target = _coerce(value, fld, name)
    read = fld.read
    if fld.type == DATE and schema.operators.dates_by_day and target is not None:
        return _day_predicate(read, context, operator, target, tz, name)
    test = _comparison(fld, operator, target, schema.operators.bounds_inclusive)
    return lambda obj: test(read(obj, context))


def _coerce(value: Any, fld: Field, name: str) -> Any:
    """The search value as the field's type; Intercom refuses values of the wrong type."""
    if value is None:
        return None
    kind = fld.type
    if kind in (INTEGER, DATE):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise _type_error(name, value, "an integer")
        try:
            return int(value)
        except ValueError:
            raise _type_error(name, value, "an integer") from None
    if kind == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _type_error(name, value, "a number")
        try:
            return float(value)
        except ValueError:
            raise _type_error(name, value, "a number") from None
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise _type_error(name, value, "a boolean")
    if isinstance(value, (dict, list)) or isinstance(value, bool):
        raise _type_error(name, value, "a string")
    text = str(value)
    if fld.value_map is not None:
        if text not in fld.value_map:
            raise ApiError(400, "parameter_invalid", f"'{text}' is not a valid value for '{name}'; "
                           f"use one of {', '.join(sorted(fld.value_map))}")
        text = fld.value_map[text]
    return text


def _type_error(name: str, value: Any, expected: str) -> ApiError:
    return ApiError(400, "parameter_invalid", f"value {value!r} for field '{name}' must be {expected}")


def _norm(value: Any) -> Any:
    # Case-insensitive matching by full case folding, character by character: str.lower() is
    # context-sensitive ('ΑΣ'.lower() is 'ας', which does not contain 'σ').
    return value.casefold() if isinstance(value, str) else value


def _equals_any(fld: Field, wanted: list) -> Callable[[Any], bool]:
    if fld.type in (MEMBERSHIP, WORDS):
        wanted_set = {_norm(w) for w in wanted}
        return lambda got: any(_norm(g) in wanted_set for g in (got or ()))
    if fld.type == STRING:
        wanted_set = {_norm(w) for w in wanted}
        return lambda got: _norm(got) in wanted_set
    wanted_set = set(wanted)
    return lambda got: got in wanted_set


def _comparison(fld: Field, operator: str, target: Any, inclusive: bool) -> Callable[[Any], bool]:
    if operator in ("=", "!="):
        equal = _equals_any(fld, [target])
        return equal if operator == "=" else (lambda got: not equal(got))
    if operator in _STRING_ONLY:
        needle = _norm(target) or ""
        if fld.type == WORDS:
            matches = {"~": lambda g: any(needle in _norm(w) for w in g), "^": lambda g: any(_norm(w).startswith(needle) for w in g),
                       "$": lambda g: any(_norm(w).endswith(needle) for w in g)}
            if operator == "!~":
                return lambda got: not matches["~"](got or ())
            return lambda got: matches[operator](got or ())
        if operator == "~":
            return lambda got: got is not None and needle in _norm(got)
        if operator == "!~":
            return lambda got: got is None or needle not in _norm(got)
        if operator == "^":
            return lambda got: got is not None and _norm(got).startswith(needle)
        return lambda got: got is not None and _norm(got).endswith(needle)
    if target is None:
        return lambda got: False
    if operator == ">=" or (operator == ">" and inclusive):
        return lambda got: got is not None and got >= target
    if operator == "<=" or (operator == "<" and inclusive):
        return lambda got: got is not None and got <= target
    if operator == ">":
        return lambda got: got is not None and got > target
    return lambda got: got is not None and got < target


def day_bounds(timestamp: int, tz) -> tuple:
    """UNIX seconds of the start of the calendar day holding `timestamp` and of the next day, in `tz`."""
    local = _dt.datetime.fromtimestamp(timestamp, tz)
    start = _dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    following = start.date() + _dt.timedelta(days=1)
    end = _dt.datetime(following.year, following.month, following.day, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def _day_predicate(read, context, operator: str, target: int, tz, name: str) -> Predicate:
    try:
        start, end = day_bounds(target, tz)
    except (OverflowError, OSError, ValueError):
        # A value whose calendar day (or the day after it) in the workspace's time zone lies outside
        # years 1 to 9999 is no date to compare by day: refused as a value of the wrong type.
        raise _type_error(name, target, "UNIX seconds of a day in the years 1 to 9999") from None
    if operator == "=":
        return lambda obj: (lambda v: v is not None and start <= v < end)(read(obj, context))
    if operator == "<":
        return lambda obj: (lambda v: v is not None and v < start)(read(obj, context))
    return lambda obj: (lambda v: v is not None and v >= end)(read(obj, context))


# Widening of a range bound before it narrows candidates: more than any calendar day in any time zone
# (contact dates compare by day), so that the narrowing never drops an object the predicate accepts.
RANGE_MARGIN_S = 3 * 86400


def range_bounds(query: Any, schema: SearchSchema) -> Optional[tuple]:
    """(field name, low, high): every object a valid `query` matches has, in that static DATE or
    INTEGER field, a numeric value within [low, high] (or a value that is not a number), or None
    when the query bounds no such field. Only a top-level AND (or a lone filter) bounds: an OR
    could match outside. The bounds are widened (RANGE_MARGIN_S), so they only select candidates:
    the compiled predicate still decides (backend/searching.py)."""
    filters = [query] if isinstance(query, dict) and "field" in query else (
        query.get("value") if isinstance(query, dict) and query.get("operator") == "AND" else None)
    if not isinstance(filters, list):
        return None
    bounds: Dict[str, list] = {}
    for node in filters:
        if not isinstance(node, dict):
            continue
        name, operator, value = node.get("field"), node.get("operator"), node.get("value")
        fld = schema.fields.get(name) if isinstance(name, str) else None
        if fld is None or fld.type not in (DATE, INTEGER) or operator not in ("=", "<", ">", "<=", ">="):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            continue
        try:
            number = int(value)
        except ValueError:
            continue
        low, high = bounds.setdefault(name, [None, None])
        if operator in ("=", ">", ">="):
            low = number if low is None else max(low, number)
        if operator in ("=", "<", "<="):
            high = number if high is None else min(high, number)
        bounds[name] = [low, high]
    if not bounds:
        return None
    name = "created_at" if "created_at" in bounds else sorted(bounds)[0]
    low, high = bounds[name]
    return (name, None if low is None else low - RANGE_MARGIN_S, None if high is None else high + RANGE_MARGIN_S)


def sort_key(sort: Any, schema: SearchSchema, context: Any) -> Optional[Callable[[dict], Any]]:
    """Key function for `{"field", "order"}` (full-precision values; missing values sort last)."""
    if sort is None:
        return None
    if not isinstance(sort, dict) or not isinstance(sort.get("field"), str):
        raise ApiError(400, "parameter_invalid", "sort must be an object with 'field' and 'order'")
    if sort.get("order", "ascending") not in ("ascending", "descending"):
        raise ApiError(400, "parameter_invalid", "sort order must be 'ascending' or 'descending'")
    read = schema.field(sort["field"], context).read

    def key(obj: dict):
        value = read(obj, context)
        return (value is None, _norm(value) if not isinstance(value, list) else len(value))

    return key


def path_reader(path: str) -> Callable[[dict, Any], Any]:
    """A reader for a dotted path in the stored object ("location.country")."""
    keys = path.split(".")
    if len(keys) == 1:
        key = keys[0]
        return lambda obj, _ctx: obj.get(key)

    def read(obj, _ctx):
        for key in keys:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
        return obj

    return read
