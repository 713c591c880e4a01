"""The vocabulary in which every Intercom object is described (one `ObjectSpec` per table).

A spec is data: which endpoints serve the object and how they page, which columns it has and where
each column's value sits in the JSON, which SQL filters the API can apply (and how), which parent
drives a child table, which costly fields need an extra request, and what the API guarantees about
order. The planner (planning/) and the engine (engine.py) read these descriptions; they contain no
per-object code. Adding an object means writing a spec in objects/ and listing it in the registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional, Tuple

# Converters named by the columns (implemented once in shaping.py).
CONVERTERS = frozenset(
    {"text", "integer", "bigint", "float", "boolean", "unix_timestamp", "unix_date", "json", "file_list"}
)

# Paging styles understood by the HTTP client (see client-interface.md).
PAGING_STYLES = frozenset({"none", "unpaged", "cursor", "page", "next_url", "scroll", "search"})


def path_of(source) -> Tuple[str, ...]:
    """'location.city' -> ('location', 'city'); tuples pass through (custom attribute names may hold dots)."""
    if source is None:
        return ()
    if isinstance(source, tuple):
        return source
    return tuple(source.split("."))


@dataclass(frozen=True)
class Column:
    """One SQL column: its PostgreSQL type, where its value is in the object, how it is converted.

    `source` is a path into the object's JSON (None: the value is supplied by the engine, such as a
    parent key injected into child rows, or `attrs`, the whole object). `options` are the column
    options written by IMPORT FOREIGN SCHEMA (custom fields record their attribute name there).
    `read_only` matters for writes (issue 6).
    """

    name: str
    pg_type: str
    source: object = None
    convert: str = "text"
    options: Mapping[str, str] = field(default_factory=dict)
    read_only: bool = False

    def __post_init__(self):
        if self.convert not in CONVERTERS:
            raise ValueError(f"column {self.name}: unknown converter {self.convert!r}")
        object.__setattr__(self, "source", path_of(self.source))


def text(name, source=None, pg_type="text", **kw) -> Column:
    return Column(name, pg_type, source if source is not None else name, "text", **kw)


def integer(name, source=None, **kw) -> Column:
    return Column(name, "integer", source if source is not None else name, "integer", **kw)


def bigint(name, source=None, **kw) -> Column:
    return Column(name, "bigint", source if source is not None else name, "bigint", **kw)


def double(name, source=None, **kw) -> Column:
    return Column(name, "double precision", source if source is not None else name, "float", **kw)


def boolean(name, source=None, **kw) -> Column:
    return Column(name, "boolean", source if source is not None else name, "boolean", **kw)


def timestamp(name, source=None, **kw) -> Column:
    """Intercom's UNIX seconds as timestamptz."""
    return Column(name, "timestamptz", source if source is not None else name, "unix_timestamp", **kw)


def jsonb(name, source=None, **kw) -> Column:
    return Column(name, "jsonb", source if source is not None else name, "json", **kw)


def parent_key(name) -> Column:
    """A child table's parent key: not in the child's JSON, filled in from the parent value that was read."""
    return Column(name, "text", None, "text")


ATTRS = Column("attrs", "jsonb", None, "json", read_only=True)


@dataclass(frozen=True)
class Endpoint:
    """A request template. `path` may hold {placeholders} filled from id or parent key values.

    `items_key` is where the rows are in each page; a dotted key (e.g.
    'conversation_parts.conversation_parts') means rows nested inside a single object response.
    `per_page_cap` is the largest page the endpoint accepts; `params` are fixed query parameters.
    """

    method: str
    path: str
    paging: str = "none"
    items_key: Optional[str] = "data"
    per_page_cap: Optional[int] = None
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.paging not in PAGING_STYLES:
            raise ValueError(f"endpoint {self.path}: unknown paging style {self.paging!r}")


# Operators of Intercom's search, by field kind. Each entry maps an SQL operator to the search
# operator used for it; `None` entries are documented as unsupported. Date fields compare by
# calendar day in the workspace's time zone and accept only =, < and > (api notes, search docs):
# the planner widens their bounds. "integer_loose" is the conversations/tickets integer whose
# > and < are documented as "(or equal)": the planner turns >= v into > v-1 so that either reading
# over-fetches instead of under-fetching.
SEARCH_OPERATORS = {
    "string": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN", "prefix": "^", "suffix": "$",
               "contains": "~", "not contains": "!~"},
    "id": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN"},
    "tag": {"=": "=", "<>": "!="},
    "integer": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN", "<": "<", ">": ">", "<=": "<=", ">=": ">="},
    "integer_loose": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN", "<": "<", ">": ">"},
    "boolean": {"=": "="},
    "date": {"=": "=", "<": "<", ">": ">"},
}


@dataclass(frozen=True)
class SearchField:
    """A column the search API can filter: the Intercom field name and its kind (keys of SEARCH_OPERATORS).

    `values` translates column values into the terms the search expects where they differ (a
    ticket's category 'Customer' is searched as 'request'); other values are not pushed.
    """

    column: str
    field: str
    kind: str
    values: Optional[Mapping[str, str]] = None

    def __post_init__(self):
        if self.kind not in SEARCH_OPERATORS:
            raise ValueError(f"search field {self.field}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class ListFilter:
    """A column whose `=` value becomes a query parameter of the list endpoint (companies' company_id=...).

    `endpoint` overrides the list endpoint when the parameter lives on another one. `exact` says the
    API applies exactly SQL's `=` (only then may LIMIT be pushed together with it).
    """

    column: str
    param: str
    endpoint: Optional[Endpoint] = None
    exact: bool = False


@dataclass(frozen=True)
class RequiredFilter:
    """A scan needs one of these columns bound by `=` (events need a contact); each maps to a parameter."""

    params: Mapping[str, str]  # column -> query parameter
    hint: str


@dataclass(frozen=True)
class Window:
    """A time window the list endpoint requires (activity logs' created_at_after/_before), from column bounds."""

    column: str
    after_param: str
    before_param: str
    default_days: int


@dataclass(frozen=True)
class ParentKey:
    """A child table read once per parent value: `column` = value fills {`path_param`} or query `query_param`.

    Without a qual on `column`, values come from `values` (a fixed list, e.g. data attribute models)
    or from a full scan of the `parent` table's `parent_column`; when the parent's list already
    embeds the children (`embedded`, a path in each parent object), they are read from there.
    """

    column: str
    parent: Optional[str] = None
    parent_column: str = "id"
    path_param: Optional[str] = None
    query_param: Optional[str] = None
    values: Tuple[str, ...] = ()
    embedded: Optional[str] = None


@dataclass(frozen=True)
class Ordering:
    """The API guarantees rows in this order (on the endpoint given, or the list endpoint)."""

    column: str
    descending: bool
    endpoint: Optional[Endpoint] = None


@dataclass(frozen=True)
class ExtendedFields:
    """Columns that the list leaves out and one more request per row provides (articles' statistics).

    The request's path placeholder {id} is filled from the row's `key` field; the response is
    merged over the listed object before shaping.
    """

    columns: Tuple[str, ...]
    endpoint: Endpoint
    key: str = "id"


@dataclass(frozen=True)
class WriteRules:
    """Room for issue 6: which DML the API allows and the endpoints it uses (unused by reads)."""

    insert: Optional[Endpoint] = None
    update: Optional[Endpoint] = None
    delete: Optional[Endpoint] = None
    required_columns: Tuple[Tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class CustomFields:
    """Where custom attribute values live in the object, and which mapping flavour types them."""

    container: str  # 'custom_attributes' or 'ticket_attributes'
    flavour: str  # 'contact', 'company', 'conversation', 'ticket' (custom_fields.py)
    option: str  # column option recording the attribute's name


@dataclass(frozen=True)
class ObjectSpec:
    """Everything the planner and the engine need to read one Intercom object as an SQL table."""

    table: str
    columns: Tuple[Column, ...]
    list: Optional[Endpoint] = None
    get: Optional[Endpoint] = None  # by id: path holds {id}
    search: Optional[Endpoint] = None
    search_fields: Tuple[SearchField, ...] = ()
    # The search field and value that match every object: tickets have no list endpoint.
    match_all: Optional[Mapping] = None
    list_filters: Tuple[ListFilter, ...] = ()
    required: Optional[RequiredFilter] = None
    window: Optional[Window] = None
    parent: Optional[ParentKey] = None
    orderings: Tuple[Ordering, ...] = ()
    extended: Optional[ExtendedFields] = None
    custom_fields: Optional[CustomFields] = None
    # Table options that fix a column's value (ticket-type tables: ticket_type_id): pushed into
    # every search (the column must be a search field) and checked on every row.
    table_filters: Mapping[str, str] = field(default_factory=dict)  # option -> column
    row_estimate: int = 1000
    writes: WriteRules = field(default_factory=WriteRules)
    notes: Tuple[str, ...] = ()

    def __post_init__(self):
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.table}: duplicate column names")
        if "attrs" not in names:
            object.__setattr__(self, "columns", tuple(self.columns) + (ATTRS,))

    def column(self, name: str) -> Optional[Column]:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def search_field(self, column: str) -> Optional[SearchField]:
        for search_field in self.search_fields:
            if search_field.column == column:
                return search_field
        return None

    def with_columns(self, columns) -> "ObjectSpec":
        """The same object with another column set (custom fields of one foreign table)."""
        return replace(self, columns=tuple(columns))
