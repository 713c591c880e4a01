"""Options checked when they are written: what the extension's event trigger validates, and how.

multicorn2's validator checks only the `wrapper` option, so a misspelt option or a bad region
would otherwise surface at the first query, far from the statement that caused it. The extension
installs an event trigger (sqlgen.py) that runs after every command below and checks each server,
foreign table (with its columns) and user mapping of an Intercom server with the FDW's own
validation (options.py); an error aborts the statement. Pure: the catalog rows come from
plpython.py.
"""
from __future__ import annotations

from typing import Mapping, Optional

from intercom_fdw.client.regions import api_base_url
from intercom_fdw.errors import ConfigurationError
from intercom_fdw.objects import spec_for
from intercom_fdw.options import validate_options

# Commands that write options of servers, foreign tables (and their columns) and user mappings.
# ALTER TABLE also reaches foreign tables (ALTER TABLE t OPTIONS (...) works on them).
COMMAND_TAGS = (
    "CREATE SERVER", "ALTER SERVER",
    "CREATE FOREIGN TABLE", "ALTER FOREIGN TABLE", "ALTER TABLE", "IMPORT FOREIGN SCHEMA",
    "CREATE USER MAPPING", "ALTER USER MAPPING",
)


def check_catalog_object(kind: str, name: str, options: Mapping[str, str],
                         column_options: Optional[Mapping[str, Mapping[str, str]]] = None) -> None:
    """Raise ConfigurationError naming `name` (e.g. 'foreign table public.contacts') when the options of
    this server, table ('table', with its columns' options) or user mapping ('user_mapping') are bad."""
    try:
        validate_options(kind, options)
        if options.get("region") is not None:
            api_base_url(options["region"], None)  # api_url wins at run time; a bad region is still a mistake
        if kind == "table":
            _check_table(options, column_options or {})
        if kind == "user_mapping" and not (options.get("access_token") or "").strip():
            raise ConfigurationError("the access_token option is missing or empty",
                                     hint="set the role's Intercom access token with OPTIONS (access_token '...'), "
                                          "or ALTER USER MAPPING ... OPTIONS (ADD access_token '...')")
    except ConfigurationError as error:
        raise ConfigurationError(f"{name}: {error.message}", hint=error.hint, detail=error.detail) from None


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
