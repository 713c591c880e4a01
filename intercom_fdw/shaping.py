"""Row shaping: one Intercom object (JSON) -> one row of typed column values for PostgreSQL.

Values leave in forms the runtime converts without guessing: str for text, int, float, bool,
aware UTC datetimes for timestamptz, dates for date, and JSON text for json/jsonb (multicorn2
does not serialise dicts). multicorn2 gives PostgreSQL a datetime or date as its isoformat()
text, which timestamptz_in and date_in parse; multicorn_compat computes the same value directly
(its README). A runtime that builds jsonb from Python objects itself (multicorn_compat's
JSONB_FROM_PYTHON, told by fdw.py) gets the objects and arrays of the columns named in
`jsonb_objects` as they are, `attrs` included: the same jsonb, without writing JSON text for the
column's input function to parse again; one that takes an int for timestamptz as UNIX seconds
(TIMESTAMPTZ_FROM_UNIX_SECONDS) gets the columns named in `unix_seconds` as Intercom's ints. Anything of the wrong shape becomes NULL rather than an
error: one odd field must not fail a whole scan, and `attrs` still holds the raw value.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Set, Tuple, Union

from intercom_fdw.spec import Column

# A row: its values by column name, or (RowShaper's `order`) in the order of the table's columns.
Row = Union[Dict[str, Any], Tuple[Any, ...]]

def dig(item: Any, path: Sequence[str]) -> Any:
    """The value at `path` in nested dicts, or None if any step is missing."""
    for key in path:
        if not isinstance(item, dict):
            return None
        item = item.get(key)
        if item is None:
            return None
    return item

def _text(value):
    if isinstance(value, (dict, list)):
        return _dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

def _integer(value):
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # NaN and infinities are not
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _integer_of(bits: int):
    """An integer converter for a column of `bits` bits: a number beyond its range becomes NULL (the
    column could not hold it, and PostgreSQL's error would fail the whole scan)."""
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def convert(value):
        number = value if type(value) is int else _integer(value)  # ints, the usual case, inline
        return number if number is not None and low <= number <= high else None

    return convert

def _float(value):
    if type(value) is float:
        return value
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

def _boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int):
        return bool(value)
    return None

def _unix_seconds(value) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            try:  # some custom attribute values arrive as ISO text
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.timezone.utc)
            return parsed.timestamp()
    return None

_UTC = dt.timezone.utc
# The instants a date or time column can hold: UNIX seconds of years 1 to 9999 (UTC), what Python's
# datetime holds (any other value Intercom returns becomes NULL). PostgreSQL's own range is wider
# (4714 BC to 294276 AD, and infinity): planning pushes no bound outside this one.
FIRST_INSTANT = -62135596800  # 0001-01-01 00:00:00 UTC
LAST_INSTANT = 253402300799  # 9999-12-31 23:59:59 UTC


def _moment(value) -> Optional[dt.datetime]:
    """The UTC datetime of UNIX seconds (int, float or numeric text) or of ISO 8601 text."""
    seconds = value if type(value) is int else _unix_seconds(value)  # ints exactly, as they are
    if seconds is None:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, _UTC)
    except (OverflowError, OSError, ValueError):
        return None  # beyond the years 1-9999 that datetime (and its ISO text) can hold

def _date(value):
    moment = _moment(value)
    return None if moment is None else moment.date()

def _json(value):
    return _dumps(value)


def _json_object(value):
    """For a runtime that builds jsonb from Python objects: objects and arrays as they are."""
    return value if type(value) is dict or type(value) is list else _dumps(value)


def _finite(value):
    """The value with NaN and infinities as None: JSON has no such numbers (orjson writes null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _standard_dumps(value):
    return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False)


try:  # orjson is several times faster on the `attrs` column, which every SELECT * serialises
    import orjson

    def _dumps(value):
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # an integer beyond 64 bits (the client's fallback parser keeps them exact)
            return _standard_dumps(value)
except ImportError:  # pragma: no cover - the standard library does the same, slower
    _dumps = _standard_dumps

_FILE_FIELDS = ("name", "url", "content_type", "file_size", "width", "height")

def _files(value):
    """File upload attributes: a jsonb array of {name, url, content_type, file_size, width, height}."""
    files = value if isinstance(value, list) else [value]
    return [{k: f.get(k) for k in _FILE_FIELDS} for f in files if isinstance(f, dict)]


def _file_list(value):
    return _json(_files(value))

CONVERT: Dict[str, Callable[[Any], Any]] = {
    "text": _text, "integer": _integer_of(32), "bigint": _integer_of(64), "float": _float, "boolean": _boolean,
    "unix_timestamp": _moment, "unix_date": _date, "json": _json, "file_list": _file_list,
}
# The same for the columns of `jsonb_objects` (a runtime that builds jsonb from Python objects).
_AS_OBJECTS = {"json": _json_object, "file_list": _files}

# Where each converter's usual input passes through unchanged (`v` is a value, never None): the
# generated shaper tests this inline and calls the converter only otherwise. Each must mean that
# the converter would return `v` itself.
_AS_IS = {
    "text": "type(v) is str",
    "float": "type(v) is float",
    "boolean": "type(v) is bool",
    "integer": "type(v) is int and -2147483648 <= v <= 2147483647",
    "bigint": "type(v) is int and -9223372036854775808 <= v <= 9223372036854775807",
}
# Converters with an inline form for their usual input (UNIX seconds as an int, years 1970-9999:
# what _moment computes, without its call); anything else goes through the converter.
_INLINE = {
    "unix_timestamp": (f"type(v) is int and 0 <= v <= {LAST_INSTANT}", "fromtimestamp(v, UTC)"),
}
# The same for the columns of `unix_seconds` (a runtime that takes an int for timestamptz as UNIX
# seconds): the int itself, the instant the datetime above would be.
_AS_SECONDS = {"unix_timestamp": (_INLINE["unix_timestamp"][0], "v")}


def _shaper_source(columns: Sequence[Column], constants: Dict[str, Any], jsonb_objects: Set[str],
                   order: Optional[Sequence[str]] = None, unix_seconds: Set[str] = frozenset(),
                   injected: Optional[Set[str]] = None) -> str:
    """One straight-line function for the columns: read, inject (the columns of `injected`, None:
    all) and convert each value in turn
    (`attrs`, the whole object, last), returning a dict of them or, given `order`, a tuple. A path
    of one key is item.get(key), of two keys a get in the inner dict (read once for all the columns
    under it), a longer one dig(). Names and keys enter the source only as Python literals (repr of
    a str)."""
    lines, values, wholes, inner = ["def shape(item, inject=None):", "    get = item.get"], {}, {}, {}
    for n, column in enumerate(columns):
        path = column.source or ()
        if column.name == "attrs":
            whole = "attrs_of(item)"
            if column.name in jsonb_objects:
                whole = f"item if type(item) is dict else {whole}"
            wholes[column.name] = whole
            continue
        if not path:
            lines.append("    v = None")
        elif len(path) == 1:
            lines.append(f"    v = get({path[0]!r})")
        elif len(path) == 2:
            if path[0] not in inner:  # not a dict (or missing): no key of it is there
                inner[path[0]] = name = f"inner{len(inner)}"
                lines += [f"    {name} = get({path[0]!r})",
                          f"    {name} = {name} if isinstance({name}, dict) else EMPTY"]
            lines.append(f"    v = {inner[path[0]]}.get({path[1]!r})")
        else:
            constants[f"path{n}"] = tuple(path)
            lines.append(f"    v = dig(item, path{n})")
        objects = column.name in jsonb_objects and column.convert in _AS_OBJECTS
        constants[f"convert{n}"] = _AS_OBJECTS[column.convert] if objects else CONVERT[column.convert]
        inlines = _AS_SECONDS if column.name in unix_seconds else _INLINE
        test, inline = inlines.get(column.convert) or (_AS_IS.get(column.convert), "v")
        if injected is None or column.name in injected:
            lines += ["    if v is None:", f"        v = inject.get({column.name!r}) if inject else None"]
        lines += [f"    r{n} = None if v is None else "
                  + (f"{inline} if {test} else convert{n}(v)" if test else f"convert{n}(v)")]
        values[column.name] = f"r{n}"
    results = {**values, **wholes}
    if order is None:
        lines.append("    return {" + ", ".join(f"{name!r}: {value}" for name, value in results.items()) + "}")
    else:
        lines.append("    return (" + "".join(f"{results.get(name, 'None')}, " for name in order) + ")")
    return "\n".join(lines) + "\n"


class RowShaper:
    """Shapes objects into rows for a fixed list of columns (built once per scan, used per row).

    The row path runs it for every row and column, so it is generated: one function whose source
    reads and converts each column in turn (no loop over column descriptions, the usual types
    passed through inline). Only Python literals of the column names and keys go into the source.
    """

    def __init__(self, columns: Iterable[Column], jsonb_objects: Iterable[str] = (),
                 order: Optional[Sequence[str]] = None, unix_seconds: Iterable[str] = (),
                 injected: Optional[Iterable[str]] = None):
        """`jsonb_objects`: the columns (jsonb ones) whose JSON objects and arrays leave as dicts
        and lists, for a runtime that builds jsonb from them (multicorn.JSONB_FROM_PYTHON).
        `unix_seconds`: the columns (timestamptz ones) whose UNIX seconds leave as the int they
        are, for a runtime that takes them so (multicorn.TIMESTAMPTZ_FROM_UNIX_SECONDS); other
        values of theirs (ISO text, floats) still become datetimes.
        `order`: rows are tuples of these columns' values in this order (None for a name not among
        `columns`), instead of dicts by column name.
        `injected`: the only columns whose missing values `inject` may give (None: any column); the
        others read one branch less per NULL value (a contact has about 20)."""
        self.columns = tuple(columns)
        if any(type(c.name) is not str or not all(type(k) is str for k in c.source or ()) for c in self.columns):
            raise TypeError("column names and source keys must be str")
        namespace = {"dig": dig, "attrs_of": _json, "EMPTY": {}, "fromtimestamp": dt.datetime.fromtimestamp,
                     "UTC": _UTC}
        source = _shaper_source(self.columns, namespace, set(jsonb_objects), order, set(unix_seconds),
                                None if injected is None else set(injected))
        exec(compile(source, f"<RowShaper of {len(self.columns)} columns>", "exec"), namespace)
        # shape(item, inject=None) -> row: what the row path calls (one call less than the object)
        self.shape: Callable[[Mapping, Optional[Mapping[str, Any]]], Row] = namespace["shape"]

    def __call__(self, item: Mapping, inject: Mapping[str, Any] = None) -> Row:
        return self.shape(item, inject)
