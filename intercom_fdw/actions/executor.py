"""The one engine behind every action: plan the request, call Intercom through the shared client."""
from __future__ import annotations

from typing import Any, Mapping

from intercom_fdw.actions.vocabulary import Action
from intercom_fdw.client import client_for
from intercom_fdw.errors import IntercomError, ServerError, TransportError
from intercom_fdw.options import FdwOptions

# Said when a request that must not be repeated failed in a way that does not tell whether
# Intercom carried it out (a cut connection, a timeout, a 5xx): the client sent it only once.
MAY_HAVE_HAPPENED = (
    "Intercom may have carried out this action before the failure; it was not sent again because "
    "a second send could repeat it: check the object before calling the function again"
)


def execute(action: Action, arguments: Mapping[str, Any], options: FdwOptions) -> dict:
    """Send the action's request (arguments from `Action.bind`) and return Intercom's answer."""
    call = action.plan(arguments)
    client = client_for(options.base_url, options.token, options.api_version, **options.client_options())
    try:
        response = client.send(call)
    except (TransportError, ServerError) as error:
        if not call.idempotent:
            error.detail = "; ".join(filter(None, [error.detail, MAY_HAVE_HAPPENED]))
        raise
    except IntercomError as error:
        raise action.explain(error, arguments) from None
    return response or dict(action.empty_response)
