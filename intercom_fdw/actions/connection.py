"""Which Intercom server an action uses and with which token: pure decisions over catalog rows.

The rows come from PostgreSQL (see `plpython.py`), read as the calling role: the server's options
from pg_foreign_server, the token from the caller's own row of pg_user_mappings, a view that shows
options only to the role they belong to. No other role's mapping is ever asked for.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence, Tuple

from intercom_fdw.errors import AuthenticationError, ConfigurationError
from intercom_fdw.options import FdwOptions

FOREIGN_DATA_WRAPPER = "multicorn"
WRAPPER_CLASS = "intercom_fdw.IntercomFdw"
TOKEN_OPTION = "access_token"

_CREATE_SERVER = (
    f"CREATE SERVER intercom FOREIGN DATA WRAPPER {FOREIGN_DATA_WRAPPER} "
    f"OPTIONS (wrapper '{WRAPPER_CLASS}', region 'us')"
)


def parse_options(options: Optional[Iterable[str]]) -> dict:
    """PostgreSQL's option arrays ('key=value' strings) as a dict."""
    return dict(option.split("=", 1) for option in options or ())


def choose_server(servers: Sequence[Tuple[str, Mapping[str, str]]], requested: Optional[str]) -> str:
    """The server to use, among the multicorn servers `(name, options)` visible in the catalog."""
    intercom = [name for name, options in servers if options.get("wrapper") == WRAPPER_CLASS]
    if requested is not None:
        if requested in intercom:
            return requested
        if any(name == requested for name, _ in servers):
            raise ConfigurationError(
                f'server "{requested}" is not an Intercom server',
                hint=f"pass an Intercom server (OPTIONS wrapper '{WRAPPER_CLASS}'); "
                     f"Intercom servers here: {', '.join(intercom) or 'none'}",
            )
        raise ConfigurationError(
            f'Intercom server "{requested}" does not exist',
            hint=f"Intercom servers here: {', '.join(intercom)}" if intercom else f"create one: {_CREATE_SERVER}",
        )
    if len(intercom) == 1:
        return intercom[0]
    if not intercom:
        raise ConfigurationError(
            "there is no Intercom server in this database",
            hint=f"create one: {_CREATE_SERVER}",
        )
    raise ConfigurationError(
        f"there are several Intercom servers ({', '.join(intercom)}): say which one to use",
        hint=f"pass the server as the last argument, for example server => '{intercom[0]}'",
    )


def server_connection(
    server: str,
    server_options: Mapping[str, str],
    role: str,
    may_use: bool,
    mapping_options: Optional[Mapping[str, str]],
) -> FdwOptions:
    """The server's options with the calling role's token, parsed as the foreign tables parse them.

    `may_use` says whether the role may use the server (USAGE, or membership in its owner), which
    PostgreSQL requires before it shows a role its own mapping's options. `mapping_options` is None
    when the role has no user mapping for the server, and then this fails: the functions never fall
    back to a PUBLIC or another role's mapping.
    """
    if not may_use:
        raise ConfigurationError(
            f'permission denied for Intercom server "{server}"',
            hint=f'GRANT USAGE ON FOREIGN SERVER "{server}" TO "{role}";',
        )
    if mapping_options is None:
        raise AuthenticationError(
            f'role "{role}" has no user mapping for Intercom server "{server}"',
            hint=f"CREATE USER MAPPING FOR \"{role}\" SERVER \"{server}\" OPTIONS ({TOKEN_OPTION} '...');",
            detail="the Intercom functions use the calling role's own user mapping and no other",
        )
    token = (mapping_options.get(TOKEN_OPTION) or "").strip()
    if not token:
        raise AuthenticationError(
            f'the user mapping of role "{role}" for Intercom server "{server}" has no {TOKEN_OPTION}',
            hint=f"ALTER USER MAPPING FOR \"{role}\" SERVER \"{server}\" OPTIONS (ADD {TOKEN_OPTION} '...');",
        )
    return FdwOptions.parse({**server_options, **mapping_options})
