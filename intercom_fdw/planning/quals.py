"""The neutral form of an SQL restriction, and the one place where Multicorn's value forms are normalised.

multicorn2 hands quals over as (column, operator, value) with operator names from pg_operator
('~~' is LIKE), list operators as (operator, is_any) tuples, and values often as PostgreSQL's text
output ('2024-01-01 00:00:00+00', 't'). `condition_from_qual` turns one of those into a typed
`Condition` whose value suits the column's type, or None when it cannot be represented (the qual
then stays a PostgreSQL filter only, which is always correct).

A comparison with NULL (`col = $1` executed with NULL, a join's NULL outer value, `= ANY` of NULLs
only, `<> ALL` of a list holding a NULL) is never true: it becomes the Condition `never`, for which
planning reads nothing. Both runtimes hand `col IS NULL` over as `col = None` (and IS NOT NULL as
`col <> None`); the bundled runtime marks a null test's qual (`Qual.null_test`), multicorn2 3.2
does not, so there `col = None` and `col <> None` stay null tests (the wider reading).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from intercom_fdw import pg_types
from intercom_fdw.shaping import FIRST_INSTANT, LAST_INSTANT

OPERATORS = frozenset(
    {"=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "is null", "is not null", "never"}
)

_SCALAR_OPERATORS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
                     "~~": "like", "!~~": "not like"}
_LIST_OPERATORS = {("=", True): "in", ("<>", False): "not in", ("!=", False): "not in"}
# Operators (pg_operator names) that are NULL, so never true, when a side is NULL: PostgreSQL's
# comparison and pattern operators are strict (pg_operator.oprcode's proisstrict).
_STRICT_OPERATORS = frozenset({"=", "<>", "!=", "<", "<=", ">", ">=", "~~", "!~~", "~~*", "!~~*"})
_SQL_NAMES = {"!=": "<>", "~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}


class Parameter(str):
    """A value known only at execution (a join's outer value, a subquery's result, `$1` of a generic
    plan) while EXPLAIN runs: shown as `$param`. `family` is the column's type family
    (pg_types.family, None when not known): whether the value that comes will be a date, a number or
    text decides which search filters it makes, so EXPLAIN shows the filter execution sends."""

    def __new__(cls, family: Optional[str] = None):
        parameter = super().__new__(cls, "$param")
        parameter.family = family
        return parameter


def has_parameter(value) -> bool:
    """A parameter's value, or a list of values holding one: unknown while EXPLAIN runs."""
    return isinstance(value, Parameter) or (isinstance(value, tuple) and any(isinstance(v, Parameter) for v in value))


def narrowest(bounds, pick):
    """`pick` (max for lower bounds, min for upper ones) of the bounds that are not None; a
    parameter's, whose value is unknown while EXPLAIN runs, over known ones; None without any."""
    bounds = [b for b in bounds if b is not None]
    unknown = [b for b in bounds if isinstance(b, Parameter)]
    return unknown[0] if unknown else (pick(bounds) if bounds else None)


def is_unknown_at_planning(value, pg_type: str) -> bool:
    """Whether explain() got this value for a parameter, whose value is known only at execution.

    multicorn2 3.2 passes a parameter's qual to explain() with the Datum 0 read as the parameter's
    type: '?' for text types, 2000-01-01 (PostgreSQL's epoch) for dates and timestamps, the text of
    that instant for timestamptz. The bundled runtime passes multicorn.UNBOUND (fdw.py checks that).
    So EXPLAIN of a literal '?' (or 2000-01-01) shows it as a parameter; execution gets real values."""
    if isinstance(value, str) and pg_types.is_text(pg_type):
        return value == "?"
    if pg_types.is_moment(pg_type):
        try:
            return epoch_seconds(value) == _POSTGRES_EPOCH
        except (TypeError, ValueError, OverflowError):
            return False
    return False


_POSTGRES_EPOCH = 946684800  # 2000-01-01 00:00:00 UTC


@dataclass(frozen=True)
class Condition:
    """`column op value` with a typed value (epoch seconds for timestamps, a tuple for IN lists).
    `never` is a comparison with NULL, which no row satisfies; its value is the comparison as SQL
    shows it after the column ('< NULL', '= ANY (only NULLs)')."""

    column: str
    op: str
    value: Any = None

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}")

    def __str__(self):
        if self.op in ("is null", "is not null"):
            return f"{self.column} {self.op}"
        if self.op == "never":
            return f"{self.column} {self.value}"
        if self.op in ("in", "not in"):
            return f"{self.column} {self.op} ({', '.join(_literal(v) for v in self.value)})"
        return f"{self.column} {self.op} {_literal(self.value)}"


def _literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value).lower() if isinstance(value, bool) else str(value)


def condition_from_qual(column: str, operator, value, pg_type: str,
                        null_test: Optional[bool] = None) -> Optional[Condition]:
    """A Condition for a Multicorn qual on a column of `pg_type`, or None if it cannot be represented.

    null_test: what the runtime says of the qual (Qual.null_test): True for `col IS [NOT] NULL`,
    False for any other (so `col = None` compares with a NULL value), None when it does not say
    (multicorn2 3.2): then `col = None` and `col <> None` are taken as the null tests they may be
    (a comparison with NULL holds fewer rows: none), and only the comparisons a null test never
    arrives as (<, LIKE, ANY, ALL, ...) are known to compare with NULL."""
    if isinstance(operator, (tuple, list)):
        never = _compared_with_null_in_list(column, operator[0], bool(operator[1]), value)
        if never is not None:
            return never
        op = _LIST_OPERATORS.get((operator[0], bool(operator[1])))
        if op is None or value is None:
            return None
        if isinstance(value, Parameter):  # `= ANY($1)` while EXPLAIN runs: the array is unknown
            return Condition(column, op, (typed_value(value, pg_type),))
        if not isinstance(value, (list, tuple)):
            # No list for a list operator: multicorn2 3.2 converts an array built at execution
            # (`id IN (t.a, t.b)` in a correlated subquery or LATERAL, `IN ($1, $2)` in a generic plan)
            # with its element type, and hands over the array's bytes read as one text ('\x01'):
            # pushed, it matched nothing. PostgreSQL applies the condition instead.
            return None
        # A NULL in the list equals nothing: `IN (x, NULL)` holds the rows of `IN (x)` (it was sent
        # as 'None'); NULLs only, or `NOT IN` with a NULL, are `never` (above). `IN` of an empty
        # array is `in ()`: no row (planning reads nothing); `NOT IN` of one holds every row.
        values = tuple(typed_value(v, pg_type) for v in value if v is not None)
        if any(v is None for v in values) or (op == "not in" and not values):
            return None
        return Condition(column, op, values)
    if value is None and operator in _STRICT_OPERATORS and not null_test \
            and not (null_test is None and operator in ("=", "<>")):
        return Condition(column, "never", f"{_SQL_NAMES.get(operator, operator)} NULL")
    op = _SCALAR_OPERATORS.get(operator)
    if op is None:
        return None
    if value is None:
        if null_test is False:
            return None
        return {"=": Condition(column, "is null"), "<>": Condition(column, "is not null")}.get(op)
    if op in ("like", "not like"):
        return Condition(column, op, value) if isinstance(value, str) and pg_types.is_text(pg_type) else None
    typed = typed_value(value, pg_type)
    if typed is None:
        return None
    if isinstance(typed, bool) and op == "<>":
        # multicorn2 passes `flag = false` as `flag <> 't'`: say what it means.
        return Condition(column, "=", not typed)
    return Condition(column, op, typed)


def _compared_with_null_in_list(column: str, operator: str, is_any: bool, value) -> Optional[Condition]:
    """`never` for `col op ANY/ALL (array)` that no row satisfies because of its NULLs: ANY of a NULL
    array or of NULLs only, ALL of a NULL array or of a list holding a NULL (false or NULL for every
    row); None otherwise (an empty array: ANY holds no row, ALL every row)."""
    if operator not in _STRICT_OPERATORS:
        return None
    if value is None:
        held = "NULL"
    elif not isinstance(value, (list, tuple)) or not value:
        return None  # (a parameter while EXPLAIN runs, or multicorn2's mangled array: not known)
    elif is_any and all(v is None for v in value):
        held = "only NULLs"
    elif not is_any and any(v is None for v in value):
        held = "with a NULL"
    else:
        return None
    return Condition(column, "never", f"{_SQL_NAMES.get(operator, operator)} {'ANY' if is_any else 'ALL'} ({held})")


# PostgreSQL compares a timestamptz column with a timestamp or date constant in the session's
# TimeZone, which the FDW is not told: such a bound may lie this far either side of its UTC reading
# (PostgreSQL's zones stay within +-15:59 of UTC).
MAX_UTC_OFFSET = 16 * 3600


def conditions_from_qual(column: str, operator, value, pg_type: str,
                         null_test: Optional[bool] = None) -> Tuple[Condition, ...]:
    """The Conditions planning may push for a Multicorn qual (none when it cannot be represented).

    A timestamptz column compared with a zone-less value (a timestamp or date constant) gets the
    bounds of every zone the session may be in: `= t` becomes `>= t - 16 h AND <= t + 16 h`, so the
    pushed request holds every row PostgreSQL keeps (it re-checks the exact qual); `<>` is not pushed."""
    condition = condition_from_qual(column, operator, value, pg_type, null_test)
    if condition is not None and condition.op == "never":
        return (condition,)
    if condition is None or (pg_types.family(pg_type) in ("timestamp", "timestamptz") and _date_read_as_time(value)):
        return ()
    conditions = _any_zone(condition) if pg_types.is_zoned_timestamp(pg_type) and _zone_less(value) else (condition,)
    if pg_types.is_moment(pg_type):
        # A bound past the instants a column holds is true or false for every row: not pushed.
        conditions = tuple(c for c in conditions if _holdable(c.value))
    return conditions


def _date_read_as_time(value) -> bool:
    """Whether a timestamp value is what multicorn2 3.2 hands over for an expression of type date
    compared with a timestamp column (`created_at < now()::date`, Metabase's `CAST(now() AS date)`).

    For an expression it evaluates at execution (anything but a constant, a parameter or an
    operator) multicorn2 reads the value's type from the wrong field and falls back to the column's
    type, so a date's day count since 2000-01-01 is read as microseconds: an instant within a second
    of 2000-01-01 00:00:00 UTC, never a bound a query writes. Pushed, `created_at < now()::date`
    read no row; PostgreSQL applies the condition instead."""
    try:
        seconds = _exact_seconds(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return seconds is not None and 0 < abs(seconds - _POSTGRES_EPOCH) < 1


def _exact_seconds(value) -> Optional[float]:
    """UNIX seconds, fraction included, of a timestamp given as text (PostgreSQL output) or datetime;
    None for infinity, a BC date or another type."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("infinity", "-infinity") or text.endswith(" BC"):
            return None
        value = dt.datetime.fromisoformat(text)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
    return None


def _holdable(value) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(not isinstance(v, int) or FIRST_INSTANT <= v <= LAST_INSTANT for v in values)  # (a Parameter, NULL)


def _zone_less(value) -> bool:
    values = value if isinstance(value, (list, tuple)) else (value,)
    for v in values:
        if isinstance(v, dt.datetime):
            if v.tzinfo is None:
                return True
        elif isinstance(v, dt.date):
            return True
        elif isinstance(v, str):
            try:
                if dt.datetime.fromisoformat(v.strip()).tzinfo is None:
                    return True
            except ValueError:
                pass
    return False


def _any_zone(condition: Condition) -> Tuple[Condition, ...]:
    column, op, value = condition.column, condition.op, condition.value
    low, high = (min(value), max(value)) if op == "in" else (value, value)
    lower, upper = Condition(column, ">=", low - MAX_UTC_OFFSET), Condition(column, "<=", high + MAX_UTC_OFFSET)
    return {"=": (lower, upper), "in": (lower, upper), "<": (upper,), "<=": (upper,),
            ">": (lower,), ">=": (lower,)}.get(op, ())


def typed_value(value, pg_type: str):
    """Value in the form planning compares: int, float, bool, str, or epoch seconds for date/time types."""
    if isinstance(value, Parameter):
        return Parameter(pg_types.family(pg_type))
    kind = pg_types.family(pg_type)
    try:
        if pg_types.is_moment(pg_type):
            return epoch_seconds(value)
        if kind == "integer":
            if isinstance(value, bool):
                return None
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return boolean_value(value)
        if kind == "json":
            return None
        return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError, OverflowError):
        return None


def boolean_value(value) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("t", "true", "yes", "on", "1"):
        return True
    if text in ("f", "false", "no", "off", "0"):
        return False
    return None


def epoch_seconds(value) -> Optional[int]:
    """UNIX seconds of a timestamp given as text (PostgreSQL output), datetime or date; None for infinity."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp())
    seconds = _exact_seconds(value)
    return None if seconds is None else math.floor(seconds)
