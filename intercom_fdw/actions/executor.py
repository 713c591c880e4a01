"""The one engine behind every action: plan the request, call Intercom through the shared client."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from intercom_fdw.actions.vocabulary import Action
from intercom_fdw.client import client_for
from intercom_fdw.errors import (
    CANCELED_MESSAGE, CanceledError, IntercomError, Interrupted, ServerError, TransportError,
)
from intercom_fdw.options import FdwOptions

# Said when a request that must not be repeated failed in a way that does not tell whether
# Intercom carried it out (a cut connection, a timeout, a 5xx): the client sent it only once.
MAY_HAVE_HAPPENED = (
    "Intercom may have carried out this action before the failure; it was not sent again because "
    "a second send could repeat it: check the object before calling the function again"
)


def execute(action: Action, arguments: Mapping[str, Any], options: FdwOptions,
            interrupted: Optional[Callable[[], bool]] = None) -> dict:
    """Send the action's request (arguments from `Action.bind`) and return Intercom's answer.

    `interrupted` (pg_interrupts.interrupted in a backend): every wait of the call, for an answer,
    a retry or the rate limit, ends when it says the statement was canceled or timed out."""
    call = action.plan(arguments)
    client = client_for(options.base_url, options.token, options.api_version, interrupted=interrupted,
                        **options.client_options())
    try:
        response = client.send(call)
    except Interrupted as stop:
        canceled = CanceledError(
            CANCELED_MESSAGE,
            detail=("intercom_fdw stopped waiting for Intercom's answer: the request had been sent, so "
                    "Intercom may have carried out this action" if stop.in_flight else
                    "intercom_fdw stopped waiting before the request was sent: nothing reached Intercom"),
            hint="check the object before calling the function again" if stop.in_flight else None)
        canceled.in_flight = stop.in_flight
        raise canceled from None
    except (TransportError, ServerError) as error:
        if not call.idempotent:
            error.detail = "; ".join(filter(None, [error.detail, MAY_HAVE_HAPPENED]))
        raise
    except IntercomError as error:
        raise action.explain(error, arguments) from None
    return response or dict(action.empty_response)
