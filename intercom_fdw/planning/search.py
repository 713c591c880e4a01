"""Translate conditions into an Intercom search query, within the API's limits and never under-fetching.

Intercom's search is coarser than SQL in places (day-granular dates, missing operators, at most
15 filters a group and two levels of nesting). Each rule below widens the request where it must;
PostgreSQL re-checks every qual, so a wider request is correct and a narrower one never happens.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

from intercom_fdw.planning.quals import Condition, Parameter, has_parameter
from intercom_fdw.shaping import FIRST_INSTANT, LAST_INSTANT
from intercom_fdw.spec import SEARCH_OPERATORS, SearchField

MAX_FILTERS_PER_GROUP = 15
DAY = 86400
# How far a date bound is moved outward before Intercom rounds it to a day of the workspace's time
# zone: more than the longest local day (25 hours where daylight saving time ends), so that the
# moved bound always lies in the day before (or after) the bound's own day, whatever the zone.
DATE_MARGIN = 2 * DAY
# The date values a search can take: the API reads one as a calendar day of the workspace's time zone
# (up to 14 hours from UTC) and compares with that day's start or the next day's, which must be dates
# of years 1 to 9999 too (FIRST_INSTANT..LAST_INSTANT). A filter whose value would lie outside (a bound
# within two days of either end, once widened by DATE_MARGIN) is not sent: the scan reads more rows and
# PostgreSQL applies the bound.
SEARCH_DATES = (FIRST_INSTANT + DATE_MARGIN, LAST_INSTANT - DATE_MARGIN)

# Lower rank = more selective: pushed first when there are more than 15 candidates.
_RANK = {"=": 0, "in": 1, "prefix": 2, "suffix": 2, "contains": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
         "<>": 6, "not in": 6, "not contains": 6}


def like_operator(pattern: str, negated: bool) -> Optional[Tuple[str, str]]:
    """('prefix'|'suffix'|'contains'|'='|..., literal) for a LIKE pattern Intercom can express, else None.

    Only patterns whose inner text has no wildcard or escape qualify: 'x%' starts with, '%x' ends
    with, '%x%' contains, 'x' equals. NOT LIKE is expressible only as "doesn't contain".
    """
    starts, ends = pattern.startswith("%"), pattern.endswith("%") and len(pattern) > 1
    inner = pattern[1 if starts else 0: len(pattern) - (1 if ends else 0)]
    if not inner or any(ch in inner for ch in "%_\\"):
        return None
    if negated:
        return ("not contains", inner) if starts and ends else (("<>", inner) if not starts and not ends else None)
    if starts and ends:
        return "contains", inner
    if starts:
        return "suffix", inner
    if ends:
        return "prefix", inner
    return "=", inner


def search_filters(condition: Condition, field: SearchField) -> List[dict]:
    """The search filters (ANDed) that return at least every row satisfying `condition`; [] if none do."""
    operators = SEARCH_OPERATORS[field.kind]
    op, value = condition.op, condition.value
    if op in ("like", "not like"):
        translated = like_operator(value, op == "not like")
        if translated is None:
            return []
        op, value = translated
    if op in ("is null", "is not null"):
        return []
    if field.kind in _NUMERIC and op in ("<", "<=", ">", ">=") and not _numeric(value, field.kind):
        # A text column holding integers (owner_id, admin_assignee_id) compares as text in SQL
        # ('10' < '9'): a numeric range on Intercom's side could drop rows SQL wants.
        return []
    if field.values is not None:
        value = _translated(value, field.values)
    value = _search_value(value, field.kind)
    if value is None:
        return []
    if field.kind == "date":
        return _date_filters(field.field, op, value)
    if field.kind == "day":
        return _day_filters(field.field, op, value)
    if field.kind in _DECIMAL_AS_INTEGER:
        return _decimal_filters(replace(field, kind=_DECIMAL_AS_INTEGER[field.kind]), op, value)
    if field.kind == "integer_loose" and op in (">=", "<="):
        # "> v - 1" is ">= v" if Intercom's > is strict and wider if it is inclusive.
        if has_parameter(value):
            op = ">" if op == ">=" else "<"  # (EXPLAIN: by one less or more than the value that comes)
        else:
            op, value = (">", value - 1) if op == ">=" else ("<", value + 1)
    if field.kind == "words" and not _single_words(value):
        # Intercom searches source.body word by word: "need support" matches no word, though SQL's
        # LIKE '%need support%' matches the body. A literal of word characters only lies within one
        # word of any body that contains (starts, ends with, equals) it, so only such are pushed.
        return []
    if field.kind in ("string", "id", "tag", "words") and _case_depends_on_context(value):
        # Intercom matches text case-insensitively, by rules it does not document. A match SQL finds
        # is found by any folding applied character by character, but not by one whose result
        # depends on the neighbours (Greek final sigma) or on combining marks (Lithuanian dots,
        # Turkish dotted/dotless i): such a literal is left to PostgreSQL.
        return []
    if op in _NEGATED and field.kind in ("string", "id", "tag") and _has_case(value):
        # Intercom matches text case-insensitively: "!= 'Ann'" also drops 'ann', which SQL's
        # case-sensitive <> keeps. Only caseless values (digits, symbols) are safe to negate.
        return []
    if field.kind == "boolean" and op == "<>":
        op, value = "=", not value
    if op == "in" and "in" not in operators and "=" in operators and len(value) <= MAX_FILTERS_PER_GROUP:
        return [{"operator": "OR", "value": [_leaf(field.field, "=", v) for v in value]}]
    if op not in operators:
        return []
    return [_leaf(field.field, operators[op], list(value) if op in ("in", "not in") else value)]


_NEGATED = ("<>", "not in", "not contains")
# Numeric kinds and the Python types a range value must have (bool is an int: excluded by typing).
_NUMERIC = {"integer": int, "integer_loose": int, "float": (int, float), "float_loose": (int, float)}
# The type families (pg_types.family) of the columns whose parameter brings such a value.
_NUMERIC_FAMILIES = ("integer", "number")


def _numeric(value, kind: str) -> bool:
    if isinstance(value, Parameter):
        return value.family in _NUMERIC_FAMILIES
    return isinstance(value, _NUMERIC[kind])


# Which parameters (by their column's type family) bring a value that a field of each kind takes:
# a date column's parameter a date, an integer column's a number, and so on. A text column holding
# integers (owner_id) brings text, which an integer field takes in the integers' own spelling.
_PARAMETER_FAMILIES = {
    "integer": ("integer", "number", "text"), "integer_loose": ("integer", "number", "text"),
    "float": _NUMERIC_FAMILIES, "float_loose": _NUMERIC_FAMILIES, "boolean": ("boolean",),
    "date": ("date", "timestamp", "timestamptz"), "day": ("date", "timestamp", "timestamptz"),
}


_CONTEXT_CASED = frozenset("\u03a3\u03c3\u03c2\u0130\u0131")  # Σ σ ς İ ı


def _case_depends_on_context(value) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return any(isinstance(v, str) and any(ch in _CONTEXT_CASED or unicodedata.combining(ch) for ch in v)
               for v in values)


def _single_words(value) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(isinstance(v, str) and _WORD.fullmatch(v) for v in values)


_WORD = re.compile(r"\w+")


def _has_case(value) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return any(isinstance(v, str) and v.lower() != v.upper() for v in values)


def _date_filters(name: str, op: str, value: int) -> List[dict]:
    # Dates compare by calendar day in the workspace's (unknown) time zone and accept only =, <, >;
    # "> d" starts at the next day and "< d" stops at the start of d's day (OpenAPI search docs).
    # DATE_MARGIN on each side covers any time zone (a day's margin would not cover a 25-hour day).
    if has_parameter(value):
        # EXPLAIN of a parameter (a generic plan's $1, a join's value): the filter execution sends,
        # its value moved by DATE_MARGIN then (and not sent for a value too near years 1 or 9999).
        return {"=": [_leaf(name, "=", value)], ">": [_leaf(name, ">", value)], ">=": [_leaf(name, ">", value)],
                "<": [_leaf(name, "<", value)], "<=": [_leaf(name, "<", value)],
                "in": [{"operator": "OR", "value": [_leaf(name, "=", v) for v in value]}]}.get(op, [])
    if op == "=":
        filters = [_leaf(name, "=", value)]
    elif op in (">", ">="):
        filters = [_leaf(name, ">", value - DATE_MARGIN)]
    elif op in ("<", "<="):
        filters = [_leaf(name, "<", value + DATE_MARGIN)]
    elif op == "in" and len(value) <= MAX_FILTERS_PER_GROUP:
        filters = [{"operator": "OR", "value": [_leaf(name, "=", v) for v in value]}]
    else:
        return []
    return filters if all(_searchable_date(f) for f in filters) else []


def _searchable_date(search_filter: dict) -> bool:
    if "field" not in search_filter:
        return all(_searchable_date(f) for f in search_filter["value"])
    return SEARCH_DATES[0] <= search_filter["value"] <= SEARCH_DATES[1]


def _decimal_filters(field: SearchField, op: str, value) -> List[dict]:
    # Search values are never decimals (OpenAPI single_filter_search_request: string, integer,
    # boolean, or a list of strings and integers): a fractional bound becomes the integer just
    # outside it (x >= 2.5 is searched as x > 2), which holds every row SQL wants.
    if has_parameter(value):  # EXPLAIN of a parameter: whether its value is whole decides it at execution
        return search_filters(Condition(field.column, op, value), field)
    values = value if isinstance(value, tuple) else (value,)
    if all(float(v).is_integer() for v in values):
        whole = tuple(int(v) for v in values) if isinstance(value, tuple) else int(value)
        return search_filters(Condition(field.column, op, whole), field)
    lower = search_filters(Condition(field.column, ">", math.floor(value)), field) if op in (">", ">=", "=") else []
    upper = search_filters(Condition(field.column, "<", math.ceil(value)), field) if op in ("<", "<=", "=") else []
    return lower + upper


_DECIMAL_AS_INTEGER = {"float": "integer", "float_loose": "integer_loose"}


def _day_filters(name: str, op: str, value) -> List[dict]:
    # A `date` column holds the UTC day of the attribute's UNIX seconds: `d = D` is the instant
    # range [D, D + 1 day), `d <= D` is `t < D + 1 day`, `d > D` is `t >= D + 1 day`. Each bound
    # is then widened as for timestamps (the workspace's day boundaries are unknown).
    if has_parameter(value):  # EXPLAIN of a parameter: the bounds execution sends, around its day
        value = value[0] if isinstance(value, tuple) else value
        bounds = {"=": (">=", "<"), "in": (">=", "<"), "<": ("<",), "<=": ("<",), ">": (">=",), ">=": (">=",)}
        return [f for bound in bounds.get(op, ()) for f in _date_filters(name, bound, value)]
    if op == "in":
        op, value = "between", (min(value), max(value))
    elif op == "=":
        op, value = "between", (value, value)
    if op == "between":
        low, high = value
        return _date_filters(name, ">=", low) + _date_filters(name, "<", high + DAY)
    if op not in ("<", "<=", ">", ">="):
        return []  # <> and NOT IN: a day is no search filter
    bound = {"<": ("<", value), "<=": ("<", value + DAY), ">": (">=", value + DAY), ">=": (">=", value)}[op]
    return _date_filters(name, *bound)


def _translated(value, terms):
    """The search's terms for the column's values, or None if one has no term (nothing pushed).

    A join parameter (EXPLAIN of a parameterized scan) stays a placeholder: its value is unknown.
    """
    if isinstance(value, Parameter):
        return value
    if isinstance(value, tuple):
        translated = tuple(terms.get(v) for v in value)
        return None if None in translated else translated
    return terms.get(value) if isinstance(value, str) else None


def _search_value(value, kind: str):
    """The value in the JSON type the field's kind expects, or None if it has none (not pushed)."""
    if isinstance(value, Parameter):
        families = _PARAMETER_FAMILIES.get(kind)
        return value if families is None or value.family in families else None
    if isinstance(value, tuple):
        converted = tuple(_search_value(v, kind) for v in value)
        return None if any(v is None for v in converted) else converted
    if kind in ("integer", "integer_loose"):
        if isinstance(value, str) and not _CANONICAL_INTEGER.fullmatch(value):
            # A text column holding integers (owner_id) compares as text in SQL: '0990503', ' 990503',
            # '+990503' and '9905_03' are other strings than '990503', though int() reads them all
            # as 990503; pushed as != 990503 they would drop rows SQL keeps.
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            return None
        # Intercom's integers are 64-bit: a bigger one is no search value (a 400), and no row holds it.
        return number if -2 ** 63 <= number < 2 ** 63 else None
    if kind in ("float", "float_loose"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in ("date", "day"):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else None


# The text Intercom's integers have in a text column: what str(int) gives.
_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]*")


def _leaf(field: str, operator: str, value) -> dict:
    return {"field": field, "operator": operator, "value": value}


def build_query(candidates: Sequence[Tuple[Condition, List[dict]]], fixed: Sequence[dict] = ()):
    """(query, pushed conditions): the most selective filters that fit Intercom's limits.

    A group holds either only filters or only groups (the OpenAPI schema of
    multiple_filter_search_request), at most 15 of them, nested at most two levels. So plain
    filters go into one AND group of up to 15, and OR groups (an IN spelled out) sit beside it
    under the top-level AND. `fixed` filters (a ticket-type table's ticket_type_id) go first.
    """
    leaves, groups, pushed = list(fixed), [], []
    for condition, condition_filters in sorted(candidates, key=lambda item: _RANK.get(item[0].op, 5)):
        new_leaves = [f for f in condition_filters if "field" in f]
        new_groups = [f for f in condition_filters if "field" not in f]
        if len(leaves) + len(new_leaves) > MAX_FILTERS_PER_GROUP:
            continue
        if len(groups) + len(new_groups) + (1 if leaves or new_leaves else 0) > MAX_FILTERS_PER_GROUP:
            continue
        leaves += new_leaves
        groups += new_groups
        pushed.append(condition)
    if not groups:
        if not leaves:
            return None, []
        query = leaves[0] if len(leaves) == 1 else {"operator": "AND", "value": leaves}
    elif not leaves and len(groups) == 1:
        query = groups[0]
    else:
        query = {"operator": "AND", "value": ([{"operator": "AND", "value": leaves}] if leaves else []) + groups}
    return query, pushed
