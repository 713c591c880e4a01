"""The PL/Python edge: what every generated SQL function calls, and the only module that uses `plpy`.

It turns SQL values into Python ones, reads the server and the caller's user mapping from the
catalog as the calling role (the functions are SECURITY INVOKER), runs the action and raises
errors through plpy with message, detail and hint. Every argument is checked before the catalog
is read or Intercom is called. `check_options` is the body of the event trigger that validates
options when they are written (option_checks.py), `check_new_partitions` that of its check of
foreign tables made partitions.
"""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from intercom_fdw import pg_interrupts, pg_statement
from intercom_fdw.actions import connection as conn
from intercom_fdw.actions.option_checks import check_catalog_object, check_partitions
from intercom_fdw.actions.definitions import ACTIONS_BY_NAME
from intercom_fdw.actions.executor import execute
from intercom_fdw.actions import statement_calls
from intercom_fdw.actions.statement_calls import call_label
from intercom_fdw.actions.vocabulary import Param
from intercom_fdw.errors import (
    CANCELED_MESSAGE, CanceledError, ConfigurationError, IntercomError, as_reported, may_have_reached_intercom,
    reported_detail, reported_text, sqlstate_of,
)
from intercom_fdw.options import FdwOptions

_SERVERS = f"""
SELECT s.srvname AS name, s.srvoptions AS options,
       pg_catalog.pg_has_role(s.srvowner, 'USAGE')
         OR pg_catalog.has_server_privilege(s.oid, 'USAGE') AS may_use
FROM pg_catalog.pg_foreign_server s
JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE w.fdwname = '{conn.FOREIGN_DATA_WRAPPER}'
ORDER BY s.srvname
"""

# Only the caller's own row (umuser 0 is PUBLIC). pg_user_mappings shows umoptions to no one else.
_OWN_MAPPING = """
SELECT current_user AS role, m.umid IS NOT NULL AS has_mapping, m.umoptions AS options
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_user_mappings m
  ON m.srvname = $1 AND m.umuser <> 0 AND m.usename = current_user
"""



def run(plpy, name: str, args: Sequence[Any]) -> str:
    """Body of every action function: `args` are its SQL arguments, the server name last.

    Its error, when one stops the statement, also says what the statement's earlier calls did in
    Intercom (statement_calls.py). An interrupt that came between two calls, or while Intercom
    answered this one, is reported here as a cancel, with that list, rather than left to PostgreSQL's
    next check of interrupts, whose report could not name them."""
    action = ACTIONS_BY_NAME[name]
    number = _CALLS.begin(pg_statement.statement_started())
    label = None
    if pg_interrupts.interrupted():  # came after the call before: nothing of this one is sent
        failure = CanceledError(CANCELED_MESSAGE, detail=_NOTHING_SENT)
    else:
        try:
            *values, server = args
            arguments = action.bind([_from_sql(plpy, p, v) for p, v in zip(action.params, values)])
            label = call_label(action, arguments)
            connection = _connection(plpy, server)
            answer = execute(action, arguments, connection, pg_interrupts.interrupted)
        except Exception as error:  # ours, or a bug of ours: reported alike, never with a secret
            failure = _interrupted_query(error) or as_reported(error)
        else:
            _CALLS.add_reached(label)
            if not pg_interrupts.interrupted():
                return json.dumps(answer)
            failure = CanceledError(CANCELED_MESSAGE, detail="the statement was interrupted as Intercom's answer "
                                                             "to this call came back: this call reached Intercom")
            label = None  # counted among those that reached Intercom
    ending = pg_interrupts.ending() if isinstance(failure, CanceledError) else None
    if ending:  # the backend ends right after (terminated, or its client gone)
        failure.message = ending
    # scrubbed and shortened again: the calls' labels hold the ids they were called for
    message, detail, hint = map(reported_text, _CALLS.reported(number, failure.message, reported_detail(failure),
                                                              failure.hint))
    if label is not None and (may_have_reached_intercom(failure) or getattr(failure, "in_flight", False)):
        _CALLS.add_unsure(label)  # for a later call's error, should a handler catch this one (PL/pgSQL EXCEPTION)
    # Raised outside the except block, so that no chained exception reaches PL/Python's report.
    raise reported(plpy, f"intercom_fdw.{name}(): ", message, sqlstate_of(failure), detail, hint)


_CALLS = statement_calls.CALLS
_NOTHING_SENT = "the statement was interrupted before the request was sent: nothing reached Intercom"


def _interrupted_query(error: Exception) -> Optional[CanceledError]:
    """A cancel or statement_timeout that PostgreSQL reported to one of the edge's own queries (the
    server and user mapping, a timestamptz argument), which all run before the request: as a cancel,
    not as "internal error: QueryCanceled" with a HINT to report a bug (a cancel of a statement calling
    the function per row met them about one time in three)."""
    if not str(getattr(error, "sqlstate", "") or "").startswith("57"):  # PostgreSQL's operator intervention
        return None
    reason = (str(error).strip().splitlines() or [CANCELED_MESSAGE])[0]
    return CanceledError(reason, detail=_NOTHING_SENT)


def check_options(plpy, kind: str, name: str, options, column_options: Optional[str],
                  related_options: Optional[str] = None) -> None:
    """Body of the function the extension's event trigger calls (sqlgen.py) for each Intercom server,
    foreign table or user mapping the command wrote: options as PostgreSQL's 'key=value' array, the
    columns' options and those of the related objects (a table's server, a server's tables) as JSON
    objects of such arrays. A bad option aborts the command."""
    columns = json.loads(column_options) if column_options else {}
    related = json.loads(related_options) if related_options else {}
    try:
        check_catalog_object(kind, name, conn.parse_options(options),
                             {column: conn.parse_options(these) for column, these in columns.items()},
                             {other: conn.parse_options(these) for other, these in related.items()})
    except IntercomError as error:
        failure = error
    else:
        return
    _raise(plpy, "intercom_fdw: ", failure)


def check_new_partitions(plpy, partitions: Sequence[str], parents: Sequence[str]) -> None:
    """Body of the function the event trigger calls when the command made Intercom foreign tables
    partitions (partitions[i] of parents[i]): refused unless the runtime routes rows into them.

    The runtime is asked through fdw.py, the one module that imports multicorn. The trigger has had
    the runtime import it first (it calls the wrapper's validator): ALTER TABLE ... ATTACH PARTITION
    calls no FDW function, and were this the session's first import of multicorn.utils, its
    multicorn._utils (which the runtime provides once it has started Python: multicorn2 links it
    against multicorn.so, the bundled runtime registers it) would fail to import, and multicorn.utils
    then makes log_to_postgres a no-op for the rest of the session: the FDW's NOTICEs would be lost."""
    from intercom_fdw.fdw import ROUTES_TO_FOREIGN_PARTITIONS

    try:
        check_partitions(list(zip(partitions, parents)), ROUTES_TO_FOREIGN_PARTITIONS)
    except IntercomError as error:
        failure = error
    else:
        return
    _raise(plpy, "intercom_fdw: ", failure)


def _raise(plpy, prefix: str, failure: IntercomError):
    raise reported(plpy, prefix, failure.message, sqlstate_of(failure), reported_detail(failure), failure.hint)


def reported(plpy, prefix: str, message: str, sqlstate: str, detail: Optional[str] = None,
             hint: Optional[str] = None) -> Exception:
    """The exception PL/Python reports as ERROR `<prefix><message>` with this SQLSTATE, DETAIL and HINT.

    PL/Python writes an exception's class before its message, module included ("plpy.Error: ..."),
    except for a class of module __main__: this one is a plpy.Error (whose sqlstate, detail and hint
    PL/Python reads) named by the prefix ("intercom_fdw.archive_contact()"), so the ERROR reads as
    intercom_fdw's own. A detail or hint that is None is left out (PL/Python would print "None")."""
    name = prefix.rstrip().rstrip(":")
    error = type(name, (plpy.Error,), {"__module__": "__main__"})(message)
    error.sqlstate = sqlstate
    for field, value in (("detail", detail), ("hint", hint)):
        if value:
            setattr(error, field, value)
    return error


def _from_sql(plpy, param: Param, value: Any) -> Any:
    """PL/Python hands jsonb and timestamptz over as text; the actions want JSON and UNIX seconds."""
    if value is None:
        return None
    if param.sql_type == "jsonb":
        return json.loads(value)
    if param.sql_type == "timestamptz":
        # Read back by PostgreSQL itself, so DateStyle and TimeZone are honoured.
        row = plpy.execute(
            "SELECT isfinite(t) AS finite, floor(extract(epoch FROM t)) AS seconds "
            f"FROM (SELECT {plpy.quote_literal(value)}::timestamptz AS t) AS arg"
        )[0]
        if not row["finite"]:
            raise ConfigurationError(
                f"argument {param.name} must be a finite time, not {value}",
                hint="pass a date and time such as now() + interval '1 day'",
            )
        return int(row["seconds"])
    return value


def _connection(plpy, server: Optional[str]) -> FdwOptions:
    servers = {row["name"]: row for row in plpy.execute(_SERVERS)}
    chosen = conn.choose_server(
        [(name, conn.parse_options(row["options"])) for name, row in servers.items()], server
    )
    mapping = plpy.execute(plpy.prepare(_OWN_MAPPING, ["name"]), [chosen])[0]
    return conn.server_connection(
        chosen,
        conn.parse_options(servers[chosen]["options"]),
        role=mapping["role"],
        may_use=servers[chosen]["may_use"],
        mapping_options=conn.parse_options(mapping["options"]) if mapping["has_mapping"] else None,
    )
