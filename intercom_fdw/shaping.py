"""Row shaping: one Intercom object (JSON) -> one row of typed column values for PostgreSQL.

Values leave in forms the runtime converts without guessing: str for text, int, float, bool,
aware UTC datetimes for timestamptz, dates for date, and JSON text for json/jsonb (multicorn2
does not serialise dicts). multicorn2 gives PostgreSQL a datetime or date as its isoformat()
text, which timestamptz_in and date_in parse; multicorn_compat computes the same value directly
(its README). Anything of the wrong shape becomes NULL rather than an error: one odd field must
not fail a whole scan, and `attrs` still holds the raw value.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence

from intercom_fdw.spec import Column

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

try:  # orjson is several times faster on the `attrs` column, which every SELECT * serialises
    import orjson

    def _dumps(value):
        return orjson.dumps(value).decode()
except ImportError:  # pragma: no cover - the standard library does the same, slower
    def _dumps(value):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

_FILE_FIELDS = ("name", "url", "content_type", "file_size", "width", "height")

def _file_list(value):
    """File upload attributes: a jsonb array of {name, url, content_type, file_size, width, height}."""
    files = value if isinstance(value, list) else [value]
    shaped = [{k: f.get(k) for k in _FILE_FIELDS} for f in files if isinstance(f, dict)]
    return _json(shaped)

CONVERT: Dict[str, Callable[[Any], Any]] = {
    "text": _text, "integer": _integer_of(32), "bigint": _integer_of(64), "float": _float, "boolean": _boolean,
    "unix_timestamp": _moment, "unix_date": _date, "json": _json, "file_list": _file_list,
}

def _getter(path: Sequence[str]) -> Callable[[Mapping], Any]:
    """A fast accessor for a source path of two keys or more (one key is read inline)."""
    if len(path) == 2:
        first, second = path

        def two(item):
            inner = item.get(first)
            return inner.get(second) if isinstance(inner, dict) else None

        return two
    return lambda item: dig(item, path)

def _step(column: Column):
    """(name, key, get, convert, keep_str) of one column: a one-key source is read inline as
    item.get(key) (get None), a longer one by get(item) (key None), no source reads nothing;
    keep_str: a str for a text column is kept as it is."""
    source = column.source or ()
    convert = CONVERT[column.convert]
    return (column.name, source[0] if len(source) == 1 else None,
            _getter(source) if len(source) > 1 else None, convert, convert is _text)

class RowShaper:
    """Shapes objects into rows for a fixed list of columns (built once per scan, used per row)."""

    def __init__(self, columns: Iterable[Column]):
        self.columns = tuple(columns)
        self._attrs = [c.name for c in self.columns if c.name == "attrs"]
        self._steps = tuple(_step(c) for c in self.columns if c.name != "attrs")

    def __call__(self, item: Mapping, inject: Mapping[str, Any] = None) -> Dict[str, Any]:
        row = {}
        get_key = item.get
        for name, key, get, convert, keep_str in self._steps:
            if key is not None:
                value = get_key(key)
            else:
                value = get(item) if get is not None else None
            if value is None:
                value = inject.get(name) if inject else None
                if value is None:
                    row[name] = None
                    continue
            row[name] = value if keep_str and type(value) is str else convert(value)
        for name in self._attrs:
            row[name] = _json(item)
        return row
