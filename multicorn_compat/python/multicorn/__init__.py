"""The `multicorn` Python API (multicorn2 3.2), written for multicorn_compat.

A foreign data wrapper is a subclass of `ForeignDataWrapper` named in
`CREATE SERVER ... OPTIONS (wrapper 'package.module.Class')`. The C extension creates
one instance per foreign table and backend, and calls the methods below. Names,
signatures and defaults follow multicorn2 so that the same FDW code runs under both.
"""
import importlib
import pkgutil
from collections import OrderedDict, namedtuple

# A folder named `multicorn/` (without __init__.py) elsewhere on sys.path adds its modules
# to this package: multicorn2 ships FDWs as `multicorn.<name>` (its test suite's
# `multicorn.testfdw`), and this lets them be dropped in beside ours without copying them
# into our package.
__path__ = pkgutil.extend_path(__path__, __name__)

__version__ = "3.2.0"
# This runtime writes INSERT ... RETURNING row by row whatever modify_batch_size says (PostgreSQL's
# batch path drops RETURNING, and multicorn2 3.2 batches anyway): an FDW may default to batches.
BATCHES_WITHOUT_RETURNING = True
# explain() receives every parameter's qual as UNBOUND, whatever its type (multicorn2 3.2 passes the
# Datum 0 read as the type: '?' for text, 2000-01-01 for dates): an FDW may trust the value it gets.
PARAMETERS_AS_UNBOUND = True
# A dict or list in a row for a jsonb column is that JSON value, built directly as jsonb (what
# jsonb_in gives for its json.dumps() text; multicorn2 3.2 refuses dicts and str()s lists): an FDW
# may hand its objects over instead of serialising them for the input function to parse again.
JSONB_FROM_PYTHON = True
# An int in a row for a timestamptz column is UNIX seconds, the instant to_timestamp(int) gives (multicorn2
# 3.2 hands its digits to timestamptz_in, which refuses them): an FDW may hand Intercom's timestamps over
# as they come instead of making a datetime of each for the runtime to take apart again.
TIMESTAMPTZ_FROM_UNIX_SECONDS = True
# A parameterized scan (the inner side of a nested loop, by a key of get_path_keys()) applies every
# join condition PostgreSQL moves into it, not only the key's (multicorn2 3.2 builds that scan's
# ParamPathInfo from the key's clauses alone, so a join's other conditions are applied nowhere).
PARAMETERIZED_SCANS_KEEP_JOIN_CONDITIONS = True
# COPY FROM into a foreign table, and rows PostgreSQL routes into a foreign partition of a partitioned
# table, start their writes through BeginForeignInsert, which this runtime implements (multicorn2 3.2
# has none, and such a write crashes the backend there): an FDW may allow its tables as partitions.
BEGIN_FOREIGN_INSERT = True

# Markers returned by Qual.list_any_or_all.
ANY = object()
ALL = object()


class _Unbound(str):
    """The value of a qual that is known only when the scan runs (a join or subquery
    parameter, `now()`), as explain() sees it. It is the str '?' (so it prints as
    multicorn2's placeholder does for text), and the one instance is recognisable by
    identity: `qual.value is UNBOUND`. Copying or pickling gives the same instance."""

    __slots__ = ()

    def __new__(cls):
        return str.__new__(cls, "?")

    def __repr__(self):
        return "UNBOUND"

    def __reduce__(self):
        return "UNBOUND"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


UNBOUND = _Unbound()

SortKey = namedtuple("SortKey", ["attname", "attnum", "is_reversed", "nulls_first", "collate"])
SortKey.__doc__ = """One ORDER BY item: column name and number (1-based), DESC?, NULLS FIRST?,
collation name (None for the database default)."""


class Qual(object):
    """A restriction `field_name operator value` that PostgreSQL will re-check anyway.

    For `col = ANY(array)` / `col IN (...)` / `col <> ALL(array)` the operator is a
    tuple `(operator, True)` for ANY and `(operator, False)` for ALL, and value is a list.

    `null_test` is True for the qual of `col IS [NOT] NULL` (`col = None`, `col <> None`) and of
    `col IS [NOT] UNKNOWN`, False for every other, so that `col = None` from `col IS NULL` can be
    told from a comparison whose value is NULL (`col = $1` executed with NULL, a join's NULL outer
    value), which no row satisfies. multicorn2 3.2's Qual has no such attribute and hands both
    over alike: `getattr(qual, "null_test", None)` is None there.
    """

    null_test = False

    def __init__(self, field_name, operator, value):
        self.field_name = field_name
        self.operator = operator
        self.value = value

    @property
    def is_list_operator(self):
        return isinstance(self.operator, tuple)

    @property
    def list_any_or_all(self):
        if not self.is_list_operator:
            return None
        return ANY if self.operator[1] else ALL

    def __repr__(self):
        if self.is_list_operator:
            kind = "ANY" if self.list_any_or_all is ANY else "ALL"
            return "%s %s %s(%s)" % (self.field_name, self.operator[0], kind, self.value)
        return "%s %s %s" % (self.field_name, self.operator, self.value)

    def __eq__(self, other):
        if not isinstance(other, Qual):
            return False
        return (self.field_name, self.operator, self.value, self.null_test) == (
            other.field_name, other.operator, other.value, other.null_test)

    def __hash__(self):
        return hash((self.field_name, self.operator, _hashable(self.value), self.null_test))


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


class ForeignDataWrapper(object):
    """Base class of every foreign data wrapper; override what the remote side supports."""

    _startup_cost = 20

    def __init__(self, fdw_options, fdw_columns):
        """fdw_options: dict of table, server and user mapping options (without
        `wrapper`); fdw_columns: OrderedDict column name -> ColumnDefinition."""

    def get_rel_size(self, quals, columns):
        """Planner estimate: (expected rows, average row width in bytes)."""
        return (100000000, len(columns) * 100)

    def can_sort(self, sortkeys):
        """Return the leading SortKeys the FDW will honour in execute()."""
        return []

    def can_limit(self, limit, offset):
        """Return True if execute() will apply LIMIT/OFFSET itself (multicorn2 3.2)."""
        return False

    def get_path_keys(self):
        """List of (key_columns, expected_rows): lookups that are cheap, such as
        [(('id',), 1)]. Each one lets the planner run a parameterized nested loop."""
        return []

    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        """Lines shown under the Foreign Scan node by EXPLAIN."""
        return []

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        """Return an iterable of dicts (column -> value) or sequences (every column,
        in table order). Called once per scan and per re-scan; prefer a generator.
        The default, like multicorn2's, returns nothing: no rows."""

    @property
    def rowid_column(self):
        """Name of the column that identifies a row for UPDATE and DELETE."""
        raise NotImplementedError("This FDW does not support the writable API")

    @property
    def modify_batch_size(self):
        return 1

    def insert(self, values):
        raise NotImplementedError("This FDW does not support the writable API")

    def bulk_insert(self, all_values):
        raise NotImplementedError("This FDW does not support the bulk insert writable API")

    def update(self, oldvalues, newvalues):
        raise NotImplementedError("This FDW does not support the writable API")

    def delete(self, oldvalues):
        raise NotImplementedError("This FDW does not support the writable API")

    def pre_commit(self):
        pass

    def rollback(self):
        pass

    def commit(self):
        pass

    def end_scan(self):
        pass

    def end_modify(self):
        pass

    def begin(self, serializable):
        pass

    def sub_begin(self, level):
        pass

    def sub_rollback(self, level):
        pass

    def sub_commit(self, level):
        pass

    @classmethod
    def import_schema(cls, schema, srv_options, options, restriction_type, restricts):
        """Return TableDefinitions for IMPORT FOREIGN SCHEMA. restriction_type is
        'limit', 'except' or None; restricts lists the table names of that clause."""
        raise NotImplementedError("This FDW does not support IMPORT FOREIGN SCHEMA")


class TransactionAwareForeignDataWrapper(ForeignDataWrapper):
    """Collects writes in `current_transaction_state` until commit; rollback drops them."""

    def __init__(self, fdw_options, fdw_columns):
        super().__init__(fdw_options, fdw_columns)
        self._init_transaction_state()

    def _init_transaction_state(self):
        self.current_transaction_state = []

    def insert(self, values):
        self.current_transaction_state.append(("insert", values))

    def update(self, oldvalues, newvalues):
        self.current_transaction_state.append(("update", (oldvalues, newvalues)))

    def delete(self, oldvalues):
        self.current_transaction_state.append(("delete", oldvalues))

    def rollback(self):
        self._init_transaction_state()


def get_class(module_path):
    """Import 'package.module.Class' and return the class (used by the C extension)."""
    module_name, _, class_name = module_path.rpartition(".")
    if not module_name:
        raise ImportError("wrapper %r is not of the form 'package.module.Class'" % module_path)
    return getattr(importlib.import_module(module_name), class_name)


def quote_identifier(value):
    return '"' + value.replace('"', '""') + '"'


def quote_option(value):
    return "'" + value.replace("'", "''") + "'"


def dict_to_optionstring(options):
    return ",\n".join("%s %s" % (key, quote_option(value)) for key, value in sorted(options.items()))


class ColumnDefinition(object):
    """A foreign table column as the C extension describes it to __init__."""

    def __init__(self, column_name, type_oid=0, typmod=0, type_name="", base_type_name="", options=None):
        self.column_name = column_name
        self.type_oid = type_oid
        self.typmod = typmod
        self.type_name = type_name
        self.base_type_name = base_type_name
        self.options = options or {}

    def __repr__(self):
        return "%s(%s, %i, %s%s)" % (
            type(self).__name__, self.column_name, self.type_oid, self.type_name,
            " options %s" % self.options if self.options else "")

    def to_statement(self):
        stmt = "%s %s" % (quote_identifier(self.column_name), self.type_name)
        if self.options:
            stmt += " OPTIONS ( %s )" % dict_to_optionstring(self.options)
        return stmt


class TableDefinition(object):
    """A foreign table to create, as returned by import_schema()."""

    def __init__(self, table_name, schema=None, columns=None, options=None):
        self.table_name = table_name
        self.columns = columns or []
        self.options = options or {}

    def to_statement(self, schema_name, server_name):
        stmt = "CREATE FOREIGN TABLE %s.%s (\n%s\n) SERVER %s" % (
            quote_identifier(schema_name), quote_identifier(self.table_name),
            ",\n".join(column.to_statement() for column in self.columns),
            quote_identifier(server_name))
        if self.options:
            stmt += " OPTIONS (\n%s\n)" % dict_to_optionstring(self.options)
        return stmt


__all__ = ["ANY", "ALL", "UNBOUND", "SortKey", "Qual", "ForeignDataWrapper",
           "TransactionAwareForeignDataWrapper", "ColumnDefinition", "TableDefinition",
           "OrderedDict", "get_class"]
