"""Options checked when they are written: what the extension's event trigger validates, and how.

multicorn2's validator checks only the `wrapper` option, so a misspelt option or a bad region
would otherwise surface at the first query, far from the statement that caused it. The extension
installs an event trigger (sqlgen.py) that runs after every command below and checks each server,
foreign table (with its columns) and user mapping of an Intercom server with the FDW's own
validation (options.py); an error aborts the statement. Pure: the catalog rows come from
plpython.py.

It also keeps a table from contradicting its server: multicorn2 merges a table's options with its
server's, the server's value winning, so a table setting suppress_extended_requests or
modify_batch_size to a value its server sets otherwise would be silently overruled. A table is
checked against its server's options, a server against those of each of its tables.

And it keeps a foreign table from becoming a partition where the runtime cannot write through one
(check_partitions): multicorn2 3.2 has no BeginForeignInsert, so an INSERT, UPDATE or COPY that
PostgreSQL routes through a partitioned table into a foreign partition crashes the backend (signal
11, which restarts every session of the cluster) before the FDW is called. The DDL that makes the
partition is the last point where SQL can still say no.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Tuple

from intercom_fdw.errors import ConfigurationError, UnsupportedOperationError
from intercom_fdw.objects import spec_for
from intercom_fdw.options import option_conflicts, validate_options

# Commands that write options of servers, foreign tables (and their columns) and user mappings.
# ALTER TABLE also reaches foreign tables (ALTER TABLE t OPTIONS (...) works on them).
COMMAND_TAGS = (
    "CREATE SERVER", "ALTER SERVER",
    "CREATE FOREIGN TABLE", "ALTER FOREIGN TABLE", "ALTER TABLE", "IMPORT FOREIGN SCHEMA",
    "CREATE USER MAPPING", "ALTER USER MAPPING",
)
# Commands that can make a foreign table a partition: CREATE FOREIGN TABLE ... PARTITION OF, and
# ALTER TABLE parent ATTACH PARTITION (of the foreign table, or of a partitioned table holding one).
# ALTER TABLE ... INHERIT makes an inheritance child, which PostgreSQL never routes rows to.
PARTITION_COMMAND_TAGS = ("CREATE FOREIGN TABLE", "ALTER TABLE")


def check_catalog_object(kind: str, name: str, options: Mapping[str, str],
                         column_options: Optional[Mapping[str, Mapping[str, str]]] = None,
                         related_options: Optional[Mapping[str, Mapping[str, str]]] = None) -> None:
    """Raise ConfigurationError naming `name` (e.g. 'foreign table public.contacts') when the options of
    this server, table ('table', with its columns' options) or user mapping ('user_mapping') are bad.

    `related_options`: for a table, its server's options ({'server intercom': {...}}); for a server, the
    options of each of its foreign tables ({'foreign table public.contacts': {...}, ...})."""
    try:
        validate_options(kind, options)
        if kind == "table":
            _check_table(options, column_options or {})
            _check_server_name(options, related_options or {})
        if kind == "user_mapping" and not (options.get("access_token") or "").strip():
            raise ConfigurationError("the access_token option is missing or empty",
                                     hint="set the role's Intercom access token with OPTIONS (access_token '...'), "
                                          "or ALTER USER MAPPING ... OPTIONS (ADD access_token '...')")
        if kind in ("server", "table"):
            _check_against_related(kind, options, related_options or {})
    except ConfigurationError as error:
        raise ConfigurationError(f"{name}: {error.message}", hint=error.hint, detail=error.detail) from None


def _check_server_name(options, related_options):
    """A table's server_name (which hints name) must be its server's: else a table could steer the
    no-mapping HINT, and so a role's token, to a server of its creator's choice."""
    if "server_name" not in options:
        return
    servers = [other[len("server "):] for other in related_options if other.startswith("server ")]
    named = options["server_name"].strip()
    if servers and not any(named in (server, server.strip('"').replace('""', '"')) for server in servers):
        raise ConfigurationError(f"option server_name {named!r} is not the table's server ({servers[0]})",
                                 hint="drop the option (ALTER FOREIGN TABLE ... OPTIONS (DROP server_name)): "
                                      "IMPORT FOREIGN SCHEMA writes it")


def _check_table(options, column_options):
    if not (options.get("object") or "").strip():
        raise ConfigurationError("no object option",
                                 hint="add OPTIONS (object 'contacts') (or another Intercom object), "
                                      "or create the tables with IMPORT FOREIGN SCHEMA")
    spec_for(options["object"].strip())
    for column, these in column_options.items():
        try:
            validate_options("column", these)
        except ConfigurationError as error:
            raise ConfigurationError(f"column {column}: {error.message}", hint=error.hint) from None


def _check_against_related(kind, options, related_options):
    """A server and its tables may not set one option to different values (see the module's docstring)."""
    conflicts = {}  # option -> [(the other object, its value)]
    for other, other_options in sorted(related_options.items()):
        server, table = (options, other_options) if kind == "server" else (other_options, options)
        for option, server_value, table_value in option_conflicts(server, table):
            conflicts.setdefault(option, []).append((other, table_value if kind == "server" else server_value))
    if not conflicts:
        return
    option, others = min(conflicts.items())
    message = (f"option {option} {options[option]!r} differs from the value set on "
               + ", ".join(f"{other} ({value!r})" for other, value in others))
    if kind == "table":
        raise ConfigurationError(
            message, detail=f"the value of {others[0][0]} would apply: a server's options win over its tables'",
            hint=f"set {option} on only one of the two: drop it from this table (OPTIONS (DROP {option})) or "
                 f"from the {others[0][0]} (ALTER SERVER ... OPTIONS (DROP {option})), or give both the same value")
    tables = ", ".join(other.replace("foreign table ", "", 1) for other, _ in others)
    raise ConfigurationError(
        message, detail="the server's value would apply to those tables: a server's options win over its tables'",
        hint=f"set {option} on only the server or only the tables: drop it from the server, or from {tables} "
             f"(ALTER FOREIGN TABLE ... OPTIONS (DROP {option})), or give them the same value")


def check_partitions(partitions: Sequence[Tuple[str, str]], runtime_routes_to_foreign_partitions: bool) -> None:
    """Refuse the Intercom foreign tables the command made partitions, as (foreign table, partitioned
    table it is now a partition of, at any level), unless the runtime routes rows into them."""
    if runtime_routes_to_foreign_partitions or not partitions:
        return
    table, parent = partitions[0]
    others = sorted({other for other, _ in partitions[1:] if other != table})
    raise UnsupportedOperationError(
        f"{table} cannot be a partition of {parent} on multicorn2 3.2"
        + (f" (nor {', '.join(others)})" if others else ""),
        detail="multicorn2 3.2 has no BeginForeignInsert: an INSERT, UPDATE or COPY that PostgreSQL routes "
               f"through {parent} into {table} would crash the server's backend (signal 11, which restarts "
               "every session of the cluster) before intercom_fdw is called",
        hint=f"query and write {table} directly, and read it together with local tables through a view "
             f"(CREATE VIEW ... AS SELECT ... FROM <local table> UNION ALL SELECT ... FROM {table}); "
             "the bundled runtime (multicorn_compat) supports foreign partitions")
