"""Server, table and user mapping options: parsed and validated once, at the edge.

multicorn2 hands the FDW one dict holding the foreign table's, the server's and the user
mapping's options, filled in that order: for a name set on both the server and a table, the
server's value is the one the FDW sees. A table option therefore takes effect only where its server
does not set the same option; the extension's option check (actions/option_checks.py) rejects a
table and a server that set one to different values (`option_conflicts`), so the merged value is
never silently other than what the table says. `FdwOptions.parse` checks every name and value and
raises ConfigurationError naming the option, the valid choices and a HINT. The access token is never
echoed: it is registered as a secret before anything could print it, and its value is excluded from repr.
"""
from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Mapping, Optional

from intercom_fdw.client.regions import api_base_url
from intercom_fdw.errors import ConfigurationError, register_secret
from intercom_fdw.planning.scan import DEFAULT_READ_CONCURRENCY

SERVER_OPTIONS = {
    "region": "us, eu or au (default us)",
    "api_url": "base URL overriding region (an emulator or a proxy)",
    "api_version": "Intercom-Version header (default 2.14)",
    "pushdown": "true/false: translate WHERE, ORDER BY and LIMIT into API requests (default true)",
    "suppress_extended_requests": "true/false: never make per-row requests for extra fields",
    "concurrency": "rows of a bulk write sent at once (1-32, default 8)",
    "read_concurrency": "reads in flight: a partitioned scan's windows, lookups of several ids, extended fields, "
                        "child tables read per parent row (1-64, default 32: enough to keep Intercom's default rate "
                        "limit busy at up to about 190 ms a call; the rate budget still bounds the calls)",
    "scan_mode": "sequential (default: the exact, current list) or partitioned (full scans and unsorted searches "
                 "of contacts, conversations and tickets as concurrent created_at windows of the search, which "
                 "lags the list by minutes)",
    "rate_limit_share": "share of the token's rate limit this server's backends may use together (0.05-1, "
                        "default 1; less leaves headroom for other tools using the same token)",
    "connect_timeout": "seconds (default 10)",
    "read_timeout": "seconds (default 60)",
    "max_retries": "retries of idempotent calls (0-10, default 5)",
    "modify_batch_size": "rows per bulk INSERT batch, written concurrently (1-1000; default 50 on the bundled "
                         "runtime, 1 on multicorn2, where a batched INSERT ... RETURNING returns no rows)",
}
TABLE_OPTIONS = {
    "object": "the Intercom object this table reads (contacts, companies, ...)",
    "ticket_type_id": "ticket-type tables: the ticket type whose tickets they hold",
    "suppress_extended_requests": "true/false, where the server does not set it (the server's value wins)",
    "on_conflict": "INSERT of an object that exists (contacts: 409): skip (default: leave it, report it), "
                   "update it, or error",
    "modify_batch_size": "rows per bulk INSERT batch, where the server does not set it (the server's "
                         "value wins)",
    "row_estimate": "rows the planner should expect from a full scan",
    "server_name": "set by IMPORT FOREIGN SCHEMA: the name of the server the table was imported from, "
                   "which hints name (multicorn does not tell the FDW its server)",
    "scan_mode": "sequential or partitioned, where the server does not set it (the server's value wins)",
    "read_concurrency": "reads in flight, where the server does not set it (the server's value wins)",
}
USER_MAPPING_OPTIONS = {"access_token": "the Intercom access token of this role"}
# What an INSERT does with a row whose object exists (writing/statement.py): leave it as it is and report it,
# update it with the row's values, or fail the statement.
ON_CONFLICT = ("skip", "update", "error")
DEFAULT_ON_CONFLICT = "skip"
# How full scans read (planning/scan.py): the list in order, or concurrent windows of the search.
SCAN_MODES = ("sequential", "partitioned")
# Decide where requests, and so every role's token, go: the merged options hold exactly one.
ENDPOINT_OPTIONS = ("region", "api_url")
# Added by the runtime itself, never by users.
_RUNTIME_OPTIONS = frozenset({"wrapper"})

COLUMN_OPTIONS = {
    "custom_attribute": "contacts, companies, conversations: the custom data attribute's name",
    "ticket_attribute": "ticket tables: the ticket type attribute's name",
    "data_type": "the attribute's Intercom data type (string, integer, float, date, ...)",
    "attribute_id": "the attribute's Intercom id (ticket tables search ticket_attribute.<id>)",
}
ALL_OPTIONS = {**SERVER_OPTIONS, **TABLE_OPTIONS, **USER_MAPPING_OPTIONS}
# Options a server and its tables may both set; in the merged dict the server's value wins.
SERVER_AND_TABLE_OPTIONS = tuple(name for name in SERVER_OPTIONS if name in TABLE_OPTIONS)
_BY_CATALOG = {"server": SERVER_OPTIONS, "table": TABLE_OPTIONS, "user_mapping": USER_MAPPING_OPTIONS,
               "column": COLUMN_OPTIONS}


def validate_options(catalog: str, options: Mapping[str, str]) -> None:
    """Check the options of one catalog object (server, table, user_mapping, column) on their own.

    For a validator run at CREATE/ALTER time, before the options meet those of the other objects.
    """
    valid = _BY_CATALOG[catalog]
    options = {k: v for k, v in (options or {}).items() if k not in _RUNTIME_OPTIONS}
    register_secret(options.get("access_token"))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigurationError(
            f"unknown {catalog.replace('_', ' ')} option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
            hint=f"valid {catalog.replace('_', ' ')} options: " + "; ".join(f"{k} ({v})" for k, v in valid.items()),
        )
    if catalog != "column":
        FdwOptions.parse(options, require_token=False, require_endpoint=catalog == "server")


def option_conflicts(server_options: Mapping[str, str], table_options: Mapping[str, str]) -> list:
    """[(name, server_value, table_value)] for each option both set to different meanings ('on' and
    'true' mean the same), where the table's value would silently lose to the server's."""
    return [(name, server_options[name], table_options[name]) for name in SERVER_AND_TABLE_OPTIONS
            if name in server_options and name in table_options
            and _meaning(name, server_options[name]) != _meaning(name, table_options[name])]


def _meaning(name, value):
    try:
        return getattr(FdwOptions.parse({name: value}, require_token=False, require_endpoint=False), name)
    except ConfigurationError:
        return str(value).strip()  # a bad value is reported by the check of its own object


def _endpoint(options: Mapping[str, str], required: bool) -> str:
    """The base URL from exactly one of region and api_url (see the module's docstring)."""
    given = [name for name in ENDPOINT_OPTIONS if name in options]
    for name in given:  # each value on its own first: a bad region is reported as such
        api_base_url(options[name] if name == "region" else None, options[name] if name == "api_url" else None)
    if len(given) == 2:
        raise ConfigurationError(
            "both region and api_url are set",
            hint="a server sets exactly one of region and api_url, and a foreign table neither: the table's "
                 "options are merged with its server's, so a table's region or api_url would decide where "
                 "every role's access token is sent. Drop the one the foreign table adds (ALTER FOREIGN TABLE "
                 "... OPTIONS (DROP api_url)), or the server's extra one (ALTER SERVER ... OPTIONS (DROP region))")
    if not given and required:
        raise ConfigurationError(
            "the server sets neither region nor api_url",
            hint="set where the server's requests go, e.g. ALTER SERVER <server> OPTIONS (ADD region 'us') "
                 "(or eu, au; or api_url '...'); without it a foreign table's api_url would decide where "
                 "every role's access token is sent")
    return api_base_url(options.get("region"), options.get("api_url"))


def import_options(server_options: Mapping[str, str], statement_options: Mapping[str, str]) -> Mapping[str, str]:
    """The options IMPORT FOREIGN SCHEMA reads Intercom with: the server's and the role's user
    mapping's (multicorn hands them over together). The statement's own OPTIONS (...) are refused:
    none is used, and merged over the server's an api_url, region or access_token would decide where
    the mapping's token goes (a PUBLIC mapping's token, which its users cannot read, to any URL)."""
    given = sorted(statement_options or {})
    if given:
        raise ConfigurationError(
            f"IMPORT FOREIGN SCHEMA option {given[0]} is not allowed: the import takes no options",
            hint="where requests go and with which token are the server's and the user mapping's: drop "
                 "OPTIONS (...) from the statement (ALTER SERVER sets region or api_url; table options are "
                 "set on the imported tables with ALTER FOREIGN TABLE ... OPTIONS)")
    return dict(server_options or {})


def _server_name(options: Mapping[str, str]) -> str:
    """The server as hints name it: the name IMPORT FOREIGN SCHEMA recorded in the table's options
    (quoted as an identifier), or, for a table written by hand, a placeholder and where to look."""
    name = (options.get("server_name") or "").strip()
    if not name:
        return "<the table's server, as psql's \\det shows it>"
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def _boolean(name, value) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "on", "yes", "1", "t"):
        return True
    if text in ("false", "off", "no", "0", "f"):
        return False
    raise ConfigurationError(f"invalid value {value!r} for option {name}", hint=f"{name} takes 'true' or 'false'")


def _number(name, value, low, high, kind=float):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise ConfigurationError(f"invalid value {value!r} for option {name}",
                                 hint=f"{name} takes a number from {low} to {high}")
    return number


@dataclass(frozen=True)
class FdwOptions:
    base_url: str
    token: str = field(repr=False, default="")
    api_version: str = "2.14"
    pushdown: bool = True
    suppress_extended_requests: bool = False
    concurrency: int = 8
    read_concurrency: int = DEFAULT_READ_CONCURRENCY
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    rate_limit_share: float = 1.0
    object: Optional[str] = None
    ticket_type_id: Optional[str] = None
    on_conflict: str = DEFAULT_ON_CONFLICT
    row_estimate: Optional[int] = None
    modify_batch_size: Optional[int] = None  # None: not set, the runtime's default (fdw.py)
    scan_mode: str = "sequential"

    @classmethod
    def parse(cls, options: Mapping[str, str], require_token: bool = True,
              require_endpoint: bool = True) -> "FdwOptions":
        """The options one scan, import or SQL function works with (a table's, its server's and the
        role's user mapping's, merged), or with `require_*` False those of one catalog object."""
        options = {k: v for k, v in (options or {}).items() if k not in _RUNTIME_OPTIONS}
        token = options.get("access_token")
        register_secret(token)
        unknown = sorted(set(options) - set(ALL_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
                hint="valid options: server " + ", ".join(SERVER_OPTIONS) + "; table " + ", ".join(TABLE_OPTIONS)
                + "; user mapping " + ", ".join(USER_MAPPING_OPTIONS),
            )
        if require_token and not token:
            raise ConfigurationError(
                "no Intercom access token for this role",
                # server_name is a table option, which whoever created the table wrote: the hint says
                # to check it, so that no table can steer a token to a server of its creator's choice.
                hint=f"CREATE USER MAPPING FOR CURRENT_USER SERVER {_server_name(options)} "
                     "OPTIONS (access_token '...'); check first that this is the table's server (psql: \\det)",
            )
        on_conflict = options.get("on_conflict", DEFAULT_ON_CONFLICT).strip().lower()
        if on_conflict not in ON_CONFLICT:
            raise ConfigurationError(f"invalid value {on_conflict!r} for option on_conflict",
                                     hint="on_conflict takes " + ", ".join(f"'{v}'" for v in ON_CONFLICT)
                                          + f" (default '{DEFAULT_ON_CONFLICT}')")
        scan_mode = options.get("scan_mode", "sequential").strip().lower()
        if scan_mode not in SCAN_MODES:
            raise ConfigurationError(f"invalid value {scan_mode!r} for option scan_mode",
                                     hint="scan_mode takes 'sequential' (the default: exact, current lists) or "
                                          "'partitioned' (concurrent windows of the search, which lags by minutes)")
        api_version = options.get("api_version", "2.14").strip()
        if not api_version:
            raise ConfigurationError("empty api_version", hint="use api_version '2.14' or drop the option")
        values = dict(
            token=token or "",
            api_version=api_version,
            pushdown=_boolean("pushdown", options.get("pushdown", "true")),
            suppress_extended_requests=_boolean("suppress_extended_requests",
                                                options.get("suppress_extended_requests", "false")),
            concurrency=_number("concurrency", options.get("concurrency", 8), 1, 32, int),
            read_concurrency=_number("read_concurrency", options.get("read_concurrency", DEFAULT_READ_CONCURRENCY),
                                     1, 64, int),
            connect_timeout=_number("connect_timeout", options.get("connect_timeout", 10), 0.1, 600),
            read_timeout=_number("read_timeout", options.get("read_timeout", 60), 0.1, 3600),
            max_retries=_number("max_retries", options.get("max_retries", 5), 0, 10, int),
            rate_limit_share=_number("rate_limit_share", options.get("rate_limit_share", 1), 0.05, 1),
            object=(options.get("object") or "").strip() or None,
            ticket_type_id=(options.get("ticket_type_id") or "").strip() or None,
            on_conflict=on_conflict,
            scan_mode=scan_mode,
            row_estimate=_number("row_estimate", options["row_estimate"], 1, 10 ** 9, int)
            if "row_estimate" in options else None,
            modify_batch_size=_number("modify_batch_size", options["modify_batch_size"], 1, 1000, int)
            if "modify_batch_size" in options else None,
        )
        return cls(base_url=_endpoint(options, require_endpoint), **values)

    def client_options(self) -> dict:
        return {"connect_timeout": self.connect_timeout, "read_timeout": self.read_timeout,
                "max_retries": self.max_retries, "concurrency": self.concurrency,
                "read_concurrency": self.read_concurrency,
                "rate_limit_share": self.rate_limit_share}

    def table_options(self) -> dict:
        return {"ticket_type_id": self.ticket_type_id} if self.ticket_type_id else {}
