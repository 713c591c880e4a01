"""A small FDW that drives the runtime tests: it reports every call it receives as a
NOTICE ("testfdw {json}") so that tests see exactly what Python was given, and it
produces rows chosen by table options:

- rows:         a Python expression for the iterable execute() returns (evaluated with
                datetime, decimal, json, uuid and itertools available), default: 3 dict rows
                built from the column names;
- endless:      'true' for an endless generator (cancel tests);
- fail_in:      name of a method that raises ApiError (with hint and detail);
- can_sort, can_limit: 'true' to accept sort / LIMIT pushdown (can_sort 'reversed': answer
                with the request reversed in place);
- path_keys:    a Python expression for get_path_keys();
- rel_size:     a Python expression for get_rel_size() (default (estimated_rows, 100));
- rowid:        the rowid_column; batch_size: modify_batch_size;
- returning:    a Python expression applied to insert/update values, as `values`;
- bulk_returning: a Python expression bulk_insert() returns, with the rows as `rows`;
- fail_with:    a Python expression for the exception fail_in raises instead of ApiError.

LeakMarker (in the expressions' namespace) counts its live instances: live_markers()
tells whether the runtime let go of the Python objects it was given.
"""
import datetime
import decimal
import gc
import itertools
import json
import time
import uuid

from multicorn import ColumnDefinition, ForeignDataWrapper, TableDefinition
from multicorn.utils import ERROR, WARNING, check_interrupts, log_to_postgres



class LeakMarker:
    """A value no conversion accepts (str() and float() raise) that counts its live instances."""
    live = 0

    def __init__(self):
        LeakMarker.live += 1

    def __del__(self):
        LeakMarker.live -= 1

    def __str__(self):
        raise ValueError("LeakMarker cannot be converted")


def live_markers():
    gc.collect()  # exceptions and tracebacks form cycles: count only what is really held
    return LeakMarker.live


NAMESPACE = {"datetime": datetime, "decimal": decimal, "json": json, "uuid": uuid,
             "itertools": itertools, "LeakMarker": LeakMarker, "live_markers": live_markers}


class ApiError(Exception):
    """Shaped like what log_to_postgres(..., ERROR) raises (intercom_fdw reports its
    IntercomError that way): message, hint, detail, and the flag by which multicorn2 and
    this runtime report those three instead of "Error in python: <class>"."""

    _is_multicorn_exception = True

    def __init__(self, message, hint=None, detail=None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail


def describe(value):
    """A JSON-friendly description of a value and its Python type."""
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    return {"type": type(value).__name__, "repr": repr(value)}


def report(method, **fields):
    log_to_postgres("testfdw " + json.dumps({"method": method, **fields}, default=repr))


def describe_quals(quals):
    return sorted(([q.field_name, list(q.operator) if q.is_list_operator else q.operator,
                    describe(q.value)] for q in quals), key=repr)


class RecordingFdw(ForeignDataWrapper):
    _startup_cost = 10

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.options = options
        self.columns = columns
        self._fail("__init__")
        report("__init__", options=options,
               columns=[[c.column_name, c.type_oid, c.typmod, c.type_name, c.base_type_name, c.options]
                        for c in columns.values()])

    def _fail(self, method):
        if self.options.get("fail_in") == method:
            if "fail_with" in self.options:
                raise self._eval("fail_with", ApiError=ApiError)
            raise ApiError("%s failed on purpose" % method, hint="fix the test", detail="detail of %s" % method)

    def _eval(self, option, default=None, **names):
        if option not in self.options:
            return default
        return eval(self.options[option], dict(NAMESPACE, **names))

    def get_rel_size(self, quals, columns):
        self._fail("get_rel_size")
        report("get_rel_size", quals=describe_quals(quals), columns=sorted(columns))
        return self._eval("rel_size", None) or (int(self.options.get("estimated_rows", 1000)), 100)

    def get_path_keys(self):
        self._fail("get_path_keys")
        return self._eval("path_keys", [])

    def can_sort(self, sortkeys):
        self._fail("can_sort")
        report("can_sort", sortkeys=[list(k) for k in sortkeys])
        if self.options.get("can_sort") == "reversed":
            sortkeys.reverse()  # puts its preferred order in place, then answers with it
            return sortkeys
        return sortkeys if self.options.get("can_sort") == "true" else []

    def can_limit(self, limit, offset):
        self._fail("can_limit")
        report("can_limit", limit=limit, offset=offset)
        return self.options.get("can_limit") == "true"

    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        self._fail("explain")
        return ["quals: %s" % describe_quals(quals), "verbose: %s" % verbose,
                "sortkeys: %s" % [k.attname for k in sortkeys or []], "limit: %s %s" % (limit, offset)]

    def execute(self, quals, columns, sortkeys=None, **limits):
        self._fail("execute")
        report("execute", quals=describe_quals(quals), columns=sorted(columns),
               null_tests=sorted(q.field_name for q in quals if getattr(q, "null_test", False)),
               columns_type=type(columns).__name__,
               sortkeys=[list(k) for k in sortkeys] if sortkeys is not None else None, **limits)
        if self.options.get("endless") == "true":
            return self._endless()
        if "rows" not in self.options:
            return [{name: "%s %d" % (name, i) for name in self.columns} for i in range(3)]
        rows = self._eval("rows", quals=quals)
        if self.options.get("fail_in") == "iterate":
            return self._failing(rows)
        return rows

    def _endless(self):
        for i in itertools.count():
            yield {name: str(i) for name in self.columns}

    def _failing(self, rows):
        for row in rows:
            yield row
        raise ApiError("iteration failed on purpose", hint="fix the generator")

    def end_scan(self):
        self._fail("end_scan")
        report("end_scan")

    @property
    def rowid_column(self):
        self._fail("rowid_column")
        report("rowid_column")
        return self.options.get("rowid", list(self.columns)[0])

    @property
    def modify_batch_size(self):
        return int(self.options.get("batch_size", 1))

    def _returned(self, values):
        return self._eval("returning", None, values=values)

    def insert(self, values):
        self._fail("insert")
        report("insert", values={k: describe(v) for k, v in sorted(values.items())})
        return self._returned(values)

    def bulk_insert(self, all_values):
        self._fail("bulk_insert")
        report("bulk_insert", rows=[{k: describe(v) for k, v in sorted(r.items())} for r in all_values])
        return self._eval("bulk_returning", None, rows=all_values)

    def update(self, oldvalues, newvalues):
        self._fail("update")
        report("update", rowid=describe(oldvalues), values={k: describe(v) for k, v in sorted(newvalues.items())})
        return self._returned(newvalues)

    def delete(self, oldvalues):
        self._fail("delete")
        report("delete", rowid=describe(oldvalues))

    def end_modify(self):
        self._fail("end_modify")
        report("end_modify")

    def begin(self, serializable):
        self._fail("begin")
        report("begin", serializable=serializable)

    def pre_commit(self):
        self._fail("pre_commit")
        report("pre_commit")

    def commit(self):
        self._fail("commit")
        report("commit")

    def rollback(self):
        self._fail("rollback")
        report("rollback")

    def sub_begin(self, level):
        self._fail("sub_begin")
        report("sub_begin", level=level)

    def sub_commit(self, level):
        self._fail("sub_commit")
        report("sub_commit", level=level)

    def sub_rollback(self, level):
        self._fail("sub_rollback")
        report("sub_rollback", level=level)

    @classmethod
    def import_schema(cls, schema, srv_options, options, restriction_type, restricts):
        report("import_schema", schema=schema, srv_options=srv_options, options=options,
               restriction_type=restriction_type, restricts=restricts)
        if options.get("fail") == "true":
            raise ApiError("import failed on purpose")
        tables = ["contacts", "companies", "tickets"]
        if restriction_type == "limit":
            tables = [t for t in tables if t in restricts]
        elif restriction_type == "except":
            tables = [t for t in tables if t not in restricts]
        return [TableDefinition(t, columns=[ColumnDefinition("id", type_name="text"),
                                            ColumnDefinition("created_at", type_name="timestamptz",
                                                             options={"path": "created_at"})],
                                options={"object": t})
                for t in tables]


class CancelWaitingFdw(RecordingFdw):
    """commit() and rollback() run a long clean-up that calls check_interrupts(), as they
    should; PostgreSQL holds interrupts off there, so a cancel arriving meanwhile stays
    pending while KeyboardInterrupt comes back from Python."""

    def _clean_up_slowly(self):
        for _ in range(1000):
            check_interrupts()
            time.sleep(0.01)

    def commit(self):
        self._clean_up_slowly()

    def rollback(self):
        self._clean_up_slowly()


class LoggingFdw(RecordingFdw):
    """Emits log_to_postgres at every level when executed (level mapping tests)."""

    def execute(self, quals, columns, sortkeys=None, **limits):
        level = self.options.get("level", "WARNING")
        levels = {"DEBUG": 10, "INFO": 20, "WARNING": WARNING, "ERROR": ERROR, "CRITICAL": 50}
        log_to_postgres("logged at %s" % level, levels[level], hint="a hint", detail="a detail")
        return [{name: "x" for name in self.columns}]


class OldSignatureFdw(ForeignDataWrapper):
    """execute() without limit/offset parameters, as FDWs written for multicorn2 < 3.2."""

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.columns = columns

    def execute(self, quals, columns, sortkeys=None):
        return [{name: "a" for name in self.columns}]


class GeneratorFdw(ForeignDataWrapper):
    """`rows` rows of five columns from a generator: the benchmark's data source."""

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.rows = int(options.get("rows", "1000000"))

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        return five_column_rows(self.rows)


def five_column_rows(count):
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    step = datetime.timedelta(seconds=1)
    for i in range(count):
        yield (i, "name %d" % i, i * 0.5, i % 2 == 0, base + i * step)
