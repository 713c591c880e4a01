"""The one engine behind every action: check, plan, call Intercom through the shared client."""
from __future__ import annotations

from typing import Any, Mapping

from intercom_fdw.actions.connection import ServerConnection
from intercom_fdw.actions.vocabulary import Action


def execute(action: Action, arguments: Mapping[str, Any], connection: ServerConnection) -> dict:
    """Send the action's request (arguments from `Action.bind`) and return Intercom's answer."""
    # Imported here so that checking arguments never needs the HTTP stack.
    from intercom_fdw.client import client_for

    call = action.plan(arguments)
    client = client_for(connection.base_url, connection.token, connection.api_version)
    response = client.call(call.method, call.path, json=call.body, idempotent=call.idempotent)
    return response or dict(action.empty_response)
