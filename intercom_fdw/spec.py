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

from intercom_fdw.api_request import PAGING_STYLES  # the styles the HTTP client's pagers implement

# Converters named by the columns (implemented once in shaping.py).
CONVERTERS = frozenset(
    {"text", "integer", "bigint", "float", "boolean", "unix_timestamp", "unix_date", "json", "file_list"}
)


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
    `read_only` matters for writes (writing/requests.py).
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
    # A page-numbered list that returns at most this many items, whatever its total_count says
    # (Intercom's companies lists stop at 10,000): a read that meets the end there fails (paging.py).
    reach: Optional[int] = None

    def __post_init__(self):
        if self.paging not in PAGING_STYLES:
            raise ValueError(f"endpoint {self.path}: unknown paging style {self.paging!r}")


# Operators of Intercom's search, by field kind. Each entry maps an SQL operator to the search
# operator used for it; `None` entries are documented as unsupported. Date fields compare by
# calendar day in the workspace's time zone and accept only =, < and > (api notes, search docs):
# the planner widens their bounds. "integer_loose" is the conversations/tickets integer whose
# > and < are documented as "(or equal)": the planner turns >= v into > v-1 so that either reading
# over-fetches instead of under-fetching. "float" and "float_loose" are decimal fields: a search
# value is a string, an integer or a boolean, never a decimal (OpenAPI single_filter_search_request),
# so the planner searches decimals with the integer just outside each bound and their integer
# kinds' operators. "day" is a date field searched for a PostgreSQL `date` column (contacts'
# Date custom attributes): the planner turns the day into a UNIX-seconds range, widened like "date".
SEARCH_OPERATORS = {
    "string": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN", "prefix": "^", "suffix": "$",
               "contains": "~", "not contains": "!~"},
    "id": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN"},
    "tag": {"=": "=", "<>": "!="},
    "integer": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN", "<": "<", ">": ">", "<=": "<=", ">=": ">="},
    "integer_loose": {"=": "=", "<>": "!=", "in": "IN", "not in": "NIN", "<": "<", ">": ">"},
    "boolean": {"=": "="},
    # text searched word by word (conversations' source.body: "against every element of the value
    # separately", OpenAPI search docs): a single-word literal only, see planning/search.py
    "words": {"=": "=", "prefix": "^", "suffix": "$", "contains": "~"},
    # a list field matched by membership (conversations' tag_ids, contact_ids): = is "contains"
    "member": {"=": "=", "in": "IN"},
    "date": {"=": "=", "<": "<", ">": ">"},
    "day": {"=": "=", "<": "<", ">": ">"},
}
SEARCH_OPERATORS["float"] = SEARCH_OPERATORS["integer"]
SEARCH_OPERATORS["float_loose"] = SEARCH_OPERATORS["integer_loose"]


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
class ListOmission:
    """Objects that every list of the API leaves out (companies without contacts), and the columns
    whose lookup still finds them. EXPLAIN says `note` for a plan that reads a list (a full scan, a
    LIMIT, an order, a filtered list), not for one that reads by a `found_by` column's `=`/`IN`."""

    note: str
    found_by: Tuple[str, ...] = ("id",)


@dataclass(frozen=True)
class MemberFilter:
    """A filter column for a list parameter or search field that matches objects by membership
    (GET /companies?tag_id=..., a conversation search on contact_ids), where the object has no
    single value to compare: a company carries several tags.

    Its value is the id that the query's `=` or IN asks for when the object's embedded list at
    `members` holds it (by `key`), and NULL otherwise (and without such a condition). PostgreSQL
    re-checks every qual, so `tag_id = 'x'` keeps exactly the objects carrying x whether the API
    filtered them or a full scan read everything. A text[] column of all ids would not do: `'x' =
    ANY(tag_ids)` is not a qual an FDW is given. Only top-level `=`/IN reach the FDW: under an OR
    the column is NULL. Declare the column with `filter_column` and, for the pushdown, a
    ListFilter or SearchField on it; the embedded list must be complete (no `has_more`).
    """

    column: str
    members: str  # dotted path to the list of embedded objects ('tags.tags')
    key: str = "id"


def filter_column(name) -> Column:
    """The column of a MemberFilter: text, filled in by the engine from the query's value."""
    return Column(name, "text", None, "text", read_only=True)


@dataclass(frozen=True)
class RequiredFilter:
    """A scan needs one of these columns bound by `=` (events need a contact); each maps to a parameter.

    With `search`, the parameters are fields of the spec's search endpoint instead of query parameters
    of its list: each value is one search `{field, "=", value}` (the contacts of a tag), and the column
    takes the value asked for (declare it with `parent_key`, since the objects do not hold it).
    """

    params: Mapping[str, str]  # column -> query parameter (or search field)
    hint: str
    search: bool = False


@dataclass(frozen=True)
class Window:
    """A time window the list endpoint requires (activity logs' created_at_after/_before), from column bounds."""

    column: str
    after_param: str
    before_param: str


@dataclass(frozen=True)
class ParentKey:
    """A child table read once per parent value: `column` = value fills {`path_param`} or query `query_param`.

    Without a qual on `column`, values come from `values` (a fixed list, e.g. data attribute models)
    or from a full scan of the `parent` table's `parent_column`; when the parent's list already
    embeds the children (`embedded`, a path in each parent object), they are read from there.
    `parent_spec` is the parent table's spec, filled in by the registry (objects/__init__.py) from
    `parent`, so that planning is handed it and never looks specs up.
    """

    column: str
    parent: Optional[str] = None
    parent_column: str = "id"
    path_param: Optional[str] = None
    query_param: Optional[str] = None
    values: Tuple[str, ...] = ()
    embedded: Optional[str] = None
    # Said by EXPLAIN when the table is read once per row of the parent table (no parent key value):
    # where a cheaper table answers the same question.
    scan_note: Optional[str] = None
    parent_spec: Optional["ObjectSpec"] = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Ordering:
    """The API guarantees rows in this order: on `endpoint` (or the list endpoint), or, when
    `search_sort` names a search field, from a search whose body asks for
    `"sort": {"field": search_sort, "order": "ascending"|"descending"}`.

    PostgreSQL trusts a claimed order completely, NULL placement included, and Intercom does not
    document where missing values sort: declare search orderings only on columns Intercom always
    fills (created_at, updated_at).
    """

    column: str
    descending: bool
    endpoint: Optional[Endpoint] = None
    search_sort: Optional[str] = None
    # What the claim rests on that Intercom does not document: EXPLAIN shows it when the order is used.
    caveat: Optional[str] = None

    @property
    def sort_body(self) -> Mapping[str, str]:
        return {"field": self.search_sort, "order": "descending" if self.descending else "ascending"}


def search_orderings(*columns: str) -> Tuple[Ordering, ...]:
    """Both directions of the search's sort on each column (its search field has the column's name)."""
    return tuple(Ordering(column, descending, search_sort=column) for column in columns for descending in (False, True))


@dataclass(frozen=True)
class LimitedList:
    """The list endpoint for scans that read at most `max_rows` rows (a LIMIT handed over), instead of
    the object's `list`: a scroll opened for a few rows and abandoned blocks the workspace's next
    scroll for a minute, while a page-numbered list of the same objects reads only what is needed."""

    endpoint: Endpoint
    max_rows: int


@dataclass(frozen=True)
class ExtendedFields:
    """Columns that the list leaves out and one more request per row provides (articles' statistics).

    The request's path placeholder {id} is filled from the row's `key` field; the response is
    merged over the listed object before shaping.
    """

    columns: Tuple[str, ...]
    endpoint: Endpoint
    key: str = "id"


# How an SQL value becomes a JSON value in a request body (implemented once in writing/requests.py).
# None: derived from the column's converter (text -> string, integer -> number, unix_timestamp ->
# UNIX seconds, json -> the parsed JSON, ...); "integer" overrides it for ids Intercom wants as numbers.
WRITE_KINDS = frozenset({"text", "integer", "float", "boolean", "unix", "json"})


@dataclass(frozen=True)
class WriteField:
    """A column the API can set: where its value goes in the request body.

    `target` is a dotted path into the body (default: the column's own source path, so
    `ticket_attributes._default_title_` is written where it is read); `kind` overrides the JSON form.
    """

    column: str
    target: object = None
    kind: Optional[str] = None

    def __post_init__(self):
        if self.kind is not None and self.kind not in WRITE_KINDS:
            raise ValueError(f"write field {self.column}: unknown kind {self.kind!r}")
        if self.target is not None:
            object.__setattr__(self, "target", path_of(self.target))


@dataclass(frozen=True)
class Requirement:
    """A rule checked on every written row before any call: one of `columns` must be set
    (and, with `values`, hold one of them)."""

    columns: Tuple[str, ...]
    hint: str
    values: Tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteOperation:
    """One DML operation as an API call.

    `path` placeholders are filled from the row ({id} is the rowid; child tables also use their
    parent key, e.g. {contact_id}). `fields` are the columns the call can set; custom field
    columns are writable too when `custom_fields` (read-only kinds excepted). `keys` are always
    sent (a tag rename names the tag). `idempotent` tells the client a resend cannot create a
    second object (create-or-update endpoints). `result_id`: the response is not the object but
    names it under this key; the row returned is then read by the spec's get endpoint.
    """

    method: str
    path: str
    fields: Tuple[WriteField, ...] = ()
    custom_fields: bool = False
    keys: Tuple[WriteField, ...] = ()
    required: Tuple[Requirement, ...] = ()
    idempotent: Optional[bool] = None
    result_id: Optional[str] = None


@dataclass(frozen=True)
class Conflict:
    """Intercom refuses a create because the object exists (contacts: 409 naming the existing id).

    Such creates are safe to resend after an ambiguous failure: a resend cannot create a second
    object, it answers with the conflict. The table option on_conflict says what a conflict does:
    'skip' (default) leaves the existing object, 'update' runs the update operation on its id,
    'error' fails the statement (writing/statement.py).
    """

    status: int
    id_pattern: str  # a regular expression whose first group is the existing id in Intercom's message


@dataclass(frozen=True)
class WriteRules:
    """Which DML the API allows for an object, each operation as data."""

    insert: Optional[WriteOperation] = None
    update: Optional[WriteOperation] = None
    delete: Optional[WriteOperation] = None
    conflict: Optional[Conflict] = None

    @property
    def operations(self) -> Tuple[str, ...]:
        return tuple(op for op in ("insert", "update", "delete") if getattr(self, op) is not None)


@dataclass(frozen=True)
class CustomFields:
    """Where custom attribute values live in the object, where their definitions come from, and
    the facts of the object that type them (custom_fields.py's table of types).

    `search_field` names a custom column's field in the object's search, as a template over the
    column's options ('custom_attributes.{custom_attribute}'); `search_kinds` maps a column's
    converter to its search kind (keys of SEARCH_OPERATORS). custom_fields.table_spec turns the
    columns of one foreign table into SearchFields with these, so the planner treats them like
    the spec's own. None: the object has no search (companies).
    """

    container: str  # 'custom_attributes' or 'ticket_attributes'
    option: str  # column option recording the attribute's name
    # The table whose rows define the attributes (IMPORT FOREIGN SCHEMA reads it): with `model`, the
    # data attributes of that model (GET /data_attributes?model=...); with `per_row` instead, a table
    # (ticket_types) each row of which is a type embedding its attributes at that path, and gets one
    # foreign table of its own. `definitions_spec` is that table's spec, filled in by the registry.
    definitions: Optional[str] = None
    model: Optional[str] = None
    per_row: Tuple[str, ...] = ()
    definitions_spec: Optional["ObjectSpec"] = field(default=None, repr=False, compare=False)
    # The type of every Text attribute: contacts' and companies' keep at most 255 characters. None:
    # chosen from the attribute's name (custom_fields.text_type).
    text_type: Optional[str] = None
    dates_are_days: bool = False  # a Date attribute holds a calendar day (a `date` column)
    dates_read_only: bool = False  # the API does not write Date and DateTime attributes
    search_field: Optional[str] = None
    search_kinds: Mapping[str, str] = field(default_factory=dict)


# Every object was created after the epoch: a search filter that matches them all (date fields
# compare by day, so this misses only objects of 1970-01-01).
CREATED_AFTER_EPOCH = {"field": "created_at", "operator": ">", "value": 0}


@dataclass(frozen=True)
class Partitioning:
    """A search that can be split into disjoint windows of an immutable time field, read concurrently.

    `column` is the table's column and `field` the search's field (UNIX seconds). `calendar_days`:
    the search compares the field by calendar day in the workspace's (unknown) time zone (contacts),
    so a window's search bounds are widened by a margin and its rows re-checked against the exact
    bounds; otherwise the search compares to the second, with `>`/`<` strict or inclusive
    (conversations, tickets: "greater (or equal)"), and the bounds are widened by one second.
    """

    column: str = "created_at"
    field: str = "created_at"
    calendar_days: bool = False


@dataclass(frozen=True)
class ObjectSpec:
    """Everything the planner and the engine need to read one Intercom object as an SQL table."""

    table: str
    columns: Tuple[Column, ...]
    list: Optional[Endpoint] = None
    get: Optional[Endpoint] = None  # by id: path holds {id}
    search: Optional[Endpoint] = None
    search_fields: Tuple[SearchField, ...] = ()
    # A search filter that matches every object: tickets have no list endpoint, and an unfiltered
    # scan in a search ordering (ORDER BY created_at DESC LIMIT 10) needs a query too.
    match_all: Optional[Mapping] = None
    list_filters: Tuple[ListFilter, ...] = ()
    member_filters: Tuple[MemberFilter, ...] = ()
    required: Optional[RequiredFilter] = None
    window: Optional[Window] = None
    # The search can be read as disjoint windows of this field (scan_mode 'partitioned').
    partitioning: Optional[Partitioning] = None
    parent: Optional[ParentKey] = None
    orderings: Tuple[Ordering, ...] = ()
    limited_list: Optional[LimitedList] = None
    extended: Optional[ExtendedFields] = None
    custom_fields: Optional[CustomFields] = None
    # Table options that fix a column's value (ticket-type tables: ticket_type_id): pushed into
    # every search (the column must be a search field) and checked on every row.
    table_filters: Mapping[str, str] = field(default_factory=dict)  # option -> column
    row_estimate: int = 1000
    writes: WriteRules = field(default_factory=WriteRules)
    # Objects the API's lists leave out: EXPLAIN says so for a plan that reads a list.
    list_omits: Optional[ListOmission] = None
    # EXPLAIN notes of a plan that sends a search only (the search index lags the list); a
    # partitioned search says the lag in its own note, and not twice.
    search_notes: Tuple[str, ...] = ()

    def __post_init__(self):
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.table}: duplicate column names")
        if "attrs" not in names:
            object.__setattr__(self, "columns", tuple(self.columns) + (ATTRS,))
        if any(o.search_sort for o in self.orderings) and not (self.search and self.match_all is not None):
            # without a match-everything query, an unfiltered scan could not keep the claimed order
            raise ValueError(f"{self.table}: search orderings need a search endpoint and match_all")

    def column(self, name: str) -> Optional[Column]:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def never_null(self) -> frozenset:
        """Columns that no row of the table holds NULL: the id of an object that is read by id, a
        child table's parent key and the column of a search filter the table requires (both filled
        in from the value that was read). `col IS NULL` on one of them matches no row."""
        columns = {"id"} if self.get else set()
        if self.parent:
            columns.add(self.parent.column)
        if self.required and self.required.search:
            columns.update(self.required.params)
        return frozenset(columns)

    def search_field(self, column: str) -> Optional[SearchField]:
        for search_field in self.search_fields:
            if search_field.column == column:
                return search_field
        return None

    def with_columns(self, columns) -> "ObjectSpec":
        """The same object with another column set (custom fields of one foreign table)."""
        return replace(self, columns=tuple(columns))
