"""The one engine behind every action: check, plan, call Intercom through the shared client."""
from __future__ import annotations

from typing import Any, Mapping

from intercom_fdw.actions.vocabulary import Action
from intercom_fdw.client import client_for
from intercom_fdw.options import FdwOptions


def execute(action: Action, arguments: Mapping[str, Any], options: FdwOptions) -> dict:
    """Send the action's request (arguments from `Action.bind`) and return Intercom's answer."""
    call = action.plan(arguments)
    client = client_for(options.base_url, options.token, options.api_version, **options.client_options())
    response = client.call(call.method, call.path, json=call.body, idempotent=call.idempotent)
    return response or dict(action.empty_response)
